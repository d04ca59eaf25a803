//! The seed's first training: fit the four Lotka–Volterra parameters so the
//! rabbits stay at one, `Σ_{t=0:0.1:10} (x(t) - 1)²`, from p = (2.2, 1, 2,
//! 0.4) with ADAM(0.1) for 100 iterations; an animation of the solution
//! flattening towards 1.

use std::path::Path;

use neurode::plot::{Chart, solution_series};
use neurode::prelude::*;

pub use super::fit::{FitOutcome, P0};
use super::fit::{FitProblem, run_and_report};
use super::lotka_volterra::LotkaVolterra;

fn problem(p: &[f64]) -> Result<OdeProblem<LotkaVolterra>, Error> {
    OdeProblem::new(LotkaVolterra, vec![1.0, 1.0], (0.0, 10.0), p.to_vec())
}

fn options() -> SolveOptions {
    SolveOptions::default()
        .tolerances(1e-6, 1e-6)
        .saveat_step(0.1)
}

/// The ODE fit, gradients by forward mode.
pub struct LotkaVolterraFit;

impl FitProblem for LotkaVolterraFit {
    fn loss_and_gradient(&self, p: &[f64]) -> Result<(f64, Vec<f64>), Error> {
        let loss = SumOfSquares::towards_constant(0, 1.0);
        problem(p)?.loss_and_gradient(Tsit5, &options(), &loss, ForwardMode)
    }

    fn frame(&self, p: &[f64], title: String) -> Result<Chart, Error> {
        let sol = problem(p)?.solve(
            Tsit5,
            &SolveOptions::default().tolerances(1e-6, 1e-6).dense(true),
        )?;
        let mut chart = Chart::new(title, "t", "population").with_bounds((0.0, 10.0), (0.0, 6.0));
        chart.series = solution_series(&sol, &["x (rabbits)", "y (wolves)"], 300);
        Ok(chart)
    }

    fn assess(&self, p: &[f64]) -> Result<(f64, f64), Error> {
        Ok(super::fit::rabbits_at_one(
            &problem(p)?.solve(Tsit5, &options())?,
        ))
    }
}

/// Runs the fit, with frames every `frame_every` iterations when asked.
pub fn fit(
    iterations: usize,
    frame_every: Option<usize>,
    progress: bool,
) -> Result<FitOutcome, Box<dyn std::error::Error>> {
    super::fit::fit(&LotkaVolterraFit, iterations, frame_every, progress)
}

/// Fits for 100 iterations and writes `lotka_volterra_fit.gif` and
/// `lotka_volterra_fit_loss.png`.
pub fn run(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "Lotka–Volterra fit: keep the rabbits at 1, loss Σ (x(t) - 1)² over t = 0:0.1:10, \
         from p = (2.2, 1, 2, 0.4), ADAM(0.1), forward-mode gradients"
    );
    run_and_report(
        &LotkaVolterraFit,
        out,
        "lotka_volterra_fit",
        "Lotka–Volterra fit loss",
        "max |x(t) - 1|",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hundred_iterations_keep_the_rabbits_near_one() {
        let o = fit(100, None, false).unwrap();
        let ratio = o.losses.last().unwrap() / o.losses[0];
        eprintln!(
            "Lotka–Volterra fit: {:.3} → {:.4} ({:.2}%), max |x - 1| = {:.4}",
            o.losses[0],
            o.losses.last().unwrap(),
            100.0 * ratio,
            o.worst_deviation
        );
        assert!(ratio < 0.05, "{ratio}");
        assert!(o.worst_deviation < 0.1, "{}", o.worst_deviation);
    }
}
