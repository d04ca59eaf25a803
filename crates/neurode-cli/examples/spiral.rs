//! The `spiral` demo as an example: `cargo run --release -p neurode-cli --example spiral`
//! (the same as `neurode demo spiral`), writing its figures into `out/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new("out");
    std::fs::create_dir_all(out)?;
    neurode_cli::demos::spiral::run(out)
}
