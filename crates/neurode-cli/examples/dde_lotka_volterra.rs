//! The `dde-lotka-volterra` demo as an example: `cargo run --release -p neurode-cli --example dde_lotka_volterra`
//! (the same as `neurode demo dde-lotka-volterra`), writing its figures into `out/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new("out");
    std::fs::create_dir_all(out)?;
    neurode_cli::demos::dde_lotka_volterra::run(out)
}
