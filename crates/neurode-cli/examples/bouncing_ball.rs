//! The `bouncing-ball` demo as an example: `cargo run --release -p neurode-cli --example bouncing_ball`
//! (the same as `neurode demo bouncing-ball`), writing its figure into `out/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::Path::new("out");
    std::fs::create_dir_all(out)?;
    neurode_cli::demos::bouncing_ball::run(out)
}
