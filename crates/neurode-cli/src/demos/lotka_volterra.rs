//! Lotka–Volterra: the seed's first figure.

use std::path::Path;
use std::time::Instant;

use neurode::plot::plot_solution;
use neurode::prelude::*;

ode_system! {
    /// Rabbits `x` and wolves `y`: `x' = a x - b x y`, `y' = -c y + d x y`.
    pub struct LotkaVolterra;
    fn rhs<T>(t; x, y; a, b, c, d) -> (dx, dy) {
        dx = a * x - b * x * y;
        dy = -c * y + d * x * y;
    }
}

/// Solves with Tsit5, prints the solution at whole times and the work done,
/// and writes `lotka_volterra.png`.
pub fn run(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let prob = OdeProblem::new(
        LotkaVolterra,
        vec![1.0, 1.0],
        (0.0, 10.0),
        vec![1.5, 1.0, 3.0, 1.0],
    )?;
    let opts = SolveOptions::default().tolerances(1e-8, 1e-8);
    let start = Instant::now();
    let sol = prob.solve(Tsit5, &opts)?;
    let elapsed = start.elapsed();
    if !sol.is_success() {
        return Err(format!("solve ended with {:?}", sol.retcode).into());
    }

    println!(
        "Lotka–Volterra, p = (a, b, c, d) = (1.5, 1, 3, 1), u0 = (1, 1), Tsit5 at rtol = atol = 1e-8"
    );
    println!("{:>5} {:>12} {:>12}", "t", "x (rabbits)", "y (wolves)");
    for i in 0..=10 {
        let t = i as f64;
        let u = sol.u_at(t)?;
        println!("{t:>5.1} {:>12.8} {:>12.8}", u[0], u[1]);
    }
    println!(
        "{} accepted steps, {} rejected, {} f-evaluations, solved in {:.1} µs (one cold run)",
        sol.stats.accepted,
        sol.stats.rejected,
        sol.stats.f_evals,
        elapsed.as_secs_f64() * 1e6
    );

    let path = out.join("lotka_volterra.png");
    plot_solution(
        &sol,
        &path,
        "Lotka–Volterra (Tsit5)",
        LotkaVolterra.state_names(),
    )?;
    println!("wrote {}", path.display());
    Ok(())
}
