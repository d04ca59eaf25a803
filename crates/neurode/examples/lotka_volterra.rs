//! Solve Lotka–Volterra, read the dense output, and plot the solution.
//!
//! `cargo run --release -p neurode --features plot --example lotka_volterra`

use neurode::plot::plot_solution;
use neurode::prelude::*;

ode_system! {
    /// Rabbits `x` and wolves `y`.
    struct LotkaVolterra;
    fn rhs<T>(t; x, y; a, b, c, d) -> (dx, dy) {
        dx = a * x - b * x * y;
        dy = -c * y + d * x * y;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prob = OdeProblem::new(
        LotkaVolterra,
        vec![1.0, 1.0],
        (0.0, 10.0),
        vec![1.5, 1.0, 3.0, 1.0],
    )?;
    let sol = prob.solve(Tsit5, &SolveOptions::default().tolerances(1e-8, 1e-8))?;
    println!("{:?}", sol.retcode);
    println!("u(3.3) = {:?}", sol.u_at(3.3)?);
    println!(
        "{} steps, {} f-evaluations",
        sol.stats.accepted, sol.stats.f_evals
    );
    std::fs::create_dir_all("out")?;
    plot_solution(
        &sol,
        "out/lotka_volterra_example.png",
        "Lotka–Volterra",
        &["x", "y"],
    )?;
    println!("wrote out/lotka_volterra_example.png");
    Ok(())
}
