//! The `lotka_volterra_fit` demo as an example: `cargo run --release -p neurode-cli --example lotka_volterra_fit`
//! (the same as `neurode demo lotka-volterra-fit`), writing its figures into `out/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new("out");
    std::fs::create_dir_all(out)?;
    neurode_cli::demos::lotka_volterra_fit::run(out)
}
