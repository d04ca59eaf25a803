//! The `neural-sde` demo as an example: `cargo run --release -p neurode-cli --example neural_sde`
//! (the same as `neurode demo neural-sde`), writing its figures into `out/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new("out");
    std::fs::create_dir_all(out)?;
    neurode_cli::demos::neural_sde::run(out)
}
