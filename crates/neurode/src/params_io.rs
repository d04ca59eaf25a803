//! Saving and loading parameters in the safetensors format (readable from
//! Python's `safetensors`, PyTorch and JAX): one `F64` tensor named
//! `params`, shape `[n]`, with optional string metadata (such as the
//! model's layout).

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::error::Error;

fn io_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io(format!("{}: {e}", path.display()))
}

/// Writes `params` (and `metadata`) to `path`.
///
/// ```
/// use neurode::params_io::{load_params, save_params};
/// let path = std::env::temp_dir().join("neurode-doc-params.safetensors");
/// save_params(&path, &[1.0, -2.5, 3.25], &[("model", "demo")])?;
/// let (p, meta) = load_params(&path)?;
/// assert_eq!(p, vec![1.0, -2.5, 3.25]);
/// assert_eq!(meta.get("model").map(String::as_str), Some("demo"));
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), neurode::Error>(())
/// ```
pub fn save_params(
    path: impl AsRef<Path>,
    params: &[f64],
    metadata: &[(&str, &str)],
) -> Result<(), Error> {
    let path = path.as_ref();
    let bytes: Vec<u8> = params.iter().flat_map(|x| x.to_le_bytes()).collect();
    let view =
        TensorView::new(Dtype::F64, vec![params.len()], &bytes).map_err(|e| io_error(path, e))?;
    let meta: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    safetensors::serialize_to_file([("params", view)], Some(meta), path)
        .map_err(|e| io_error(path, e))
}

/// Reads parameters (and metadata) written by [`save_params`]; `F32`
/// tensors are widened.
pub fn load_params(path: impl AsRef<Path>) -> Result<(Vec<f64>, HashMap<String, String>), Error> {
    let path = path.as_ref();
    let buffer = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let (_, header) = SafeTensors::read_metadata(&buffer).map_err(|e| io_error(path, e))?;
    let file = SafeTensors::deserialize(&buffer).map_err(|e| io_error(path, e))?;
    let view = file.tensor("params").map_err(|e| io_error(path, e))?;
    let params = match view.dtype() {
        Dtype::F64 => view
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect(),
        Dtype::F32 => view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64)
            .collect(),
        other => {
            return Err(io_error(
                path,
                format!("params are {other:?}, not F64 or F32"),
            ));
        }
    };
    Ok((params, header.metadata().clone().unwrap_or_default()))
}
