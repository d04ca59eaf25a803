//! The seed's warning about backsolve adjoints, on the Lorenz system
//! (σ = 10, ρ = 28, β = 8/3, u0 = (1, 0, 0)).
//!
//! 1. Solve to t = 100 and back again: the backward solve does not return
//!    to u0, because errors grow like e^(0.9 t) in both directions.
//! 2. The gradient of a loss over a horizon `T`: the backsolve adjoint
//!    re-solves the state backwards with the adjoint and inherits that
//!    drift, while the interpolating adjoint (forward state from dense
//!    output) and the discrete adjoint agree with finite differences.
//!
//! `cargo run --release -p neurode --example lorenz_backsolve`

use neurode::prelude::*;

ode_system! {
    /// The Lorenz system.
    struct Lorenz;
    fn rhs<T>(t; x, y, z; sigma, rho, beta) -> (dx, dy, dz) {
        dx = sigma * (y - x);
        dy = x * (rho - z) - y;
        dz = x * y - beta * z;
    }
}

const P: [f64; 3] = [10.0, 28.0, 8.0 / 3.0];

/// `Σ_k x(t_k)²` over the saved points.
struct SquaredX;
impl Loss for SquaredX {
    fn value<T: Scalar>(&self, _t: &[f64], u: &[T], n: usize) -> T {
        u.chunks(n).fold(T::zero(), |acc, s| acc + s[0] * s[0])
    }
}

fn there_and_back(tol: f64) -> Result<f64, Error> {
    let opts = SolveOptions::default()
        .tolerances(tol, tol)
        .saveat(vec![100.0])
        .maxiters(10_000_000);
    let forward = OdeProblem::new(Lorenz, vec![1.0, 0.0, 0.0], (0.0, 100.0), P.to_vec())?;
    let u100 = forward.solve(Tsit5, &opts)?.u_end().to_vec();
    let backward = forward.with_u0(u100)?.with_tspan((100.0, 0.0))?;
    let back = backward.solve(
        Tsit5,
        &SolveOptions {
            saveat: SaveAt::Times(vec![0.0]),
            ..opts
        },
    )?;
    let u = back.u_end();
    Ok(((u[0] - 1.0).powi(2) + u[1].powi(2) + u[2].powi(2)).sqrt())
}

fn loss_at(p: &[f64], horizon: f64, opts: &SolveOptions) -> Result<f64, Error> {
    let prob = OdeProblem::new(Lorenz, vec![1.0, 0.0, 0.0], (0.0, horizon), p.to_vec())?;
    let sol = prob.solve(Vern7, opts)?;
    Ok(SquaredX.value(&sol.t, sol.u_flat(), 3))
}

fn relative_error(g: &[f64], reference: &[f64]) -> f64 {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let diff: Vec<f64> = g.iter().zip(reference).map(|(a, b)| a - b).collect();
    norm(&diff) / norm(reference)
}

fn main() -> Result<(), Error> {
    println!("Lorenz solved to t = 100 and back with Tsit5: distance from u0");
    for tol in [1e-6, 1e-8, 1e-10, 1e-12] {
        println!(
            "  rtol = atol = {tol:.0e}: |u_back(0) - u0| = {:.3e}",
            there_and_back(tol)?
        );
    }

    println!("\nGradient of Σ x(t)² over t = 0:0.1:T with respect to (σ, ρ, β), Vern7 at 1e-10");
    println!("relative error against central finite differences (Vern7 at 1e-13)");
    println!(
        "{:>5} {:>14} {:>14} {:>14} {:>14}",
        "T", "|dL/dp|", "Discrete", "interpolating", "backsolve"
    );
    for horizon in [1.0, 2.0, 3.0, 4.0, 5.0, 10.0] {
        let opts = SolveOptions::default()
            .tolerances(1e-10, 1e-10)
            .saveat_step(0.1)
            .maxiters(1_000_000);
        let fd_opts = SolveOptions::default()
            .tolerances(1e-13, 1e-13)
            .saveat_step(0.1)
            .maxiters(10_000_000);
        let fd: Vec<f64> = (0..3)
            .map(|j| {
                let h = 1e-7 * P[j];
                let (mut a, mut b) = (P.to_vec(), P.to_vec());
                a[j] += h;
                b[j] -= h;
                Ok((loss_at(&a, horizon, &fd_opts)? - loss_at(&b, horizon, &fd_opts)?) / (2.0 * h))
            })
            .collect::<Result<_, Error>>()?;
        let prob = OdeProblem::new(Lorenz, vec![1.0, 0.0, 0.0], (0.0, horizon), P.to_vec())?;
        let err = |g: Result<(f64, Vec<f64>), Error>| match g {
            Ok((_, g)) => format!("{:.2e}", relative_error(&g, &fd)),
            Err(e) => format!("failed: {e}"),
        };
        let discrete = err(prob.loss_and_gradient(Vern7, &opts, &SquaredX, Discrete::default()));
        let interp = err(prob.loss_and_gradient(Vern7, &opts, &SquaredX, Adjoint::interpolating()));
        let back = err(prob.loss_and_gradient(Vern7, &opts, &SquaredX, Adjoint::backsolve()));
        let norm = fd.iter().map(|x| x * x).sum::<f64>().sqrt();
        println!("{horizon:>5} {norm:>14.3e} {discrete:>14} {interp:>14} {back:>14}");
    }
    Ok(())
}
