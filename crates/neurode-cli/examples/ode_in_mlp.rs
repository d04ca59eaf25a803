//! The `ode_in_mlp` demo as an example: `cargo run --release -p neurode-cli --example ode_in_mlp`
//! (the same as `neurode demo ode-in-mlp`), writing its figures into `out/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new("out");
    std::fs::create_dir_all(out)?;
    neurode_cli::demos::ode_in_mlp::run(out)
}
