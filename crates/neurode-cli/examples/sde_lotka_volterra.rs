//! The `sde-lotka-volterra` demo as an example: `cargo run --release -p neurode-cli --example sde_lotka_volterra`
//! (the same as `neurode demo sde-lotka-volterra`), writing its figures into `out/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new("out");
    std::fs::create_dir_all(out)?;
    neurode_cli::demos::sde_lotka_volterra::run(out)
}
