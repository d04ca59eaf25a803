//! The `lotka-volterra` demo as an example: `cargo run --release -p neurode-cli --example lotka_volterra_demo`
//! (the same as `neurode demo lotka-volterra`), writing its figure into `out/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new("out");
    std::fs::create_dir_all(out)?;
    neurode_cli::demos::lotka_volterra::run(out)
}
