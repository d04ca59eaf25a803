//! The seed's delayed Lotka–Volterra: the rabbits' growth reads their
//! population 0.1 earlier (history 1 before t = 0). The four parameters are
//! trained with ADAM(0.1) so that the rabbits stay at 1, with gradients by
//! forward mode through the method of steps.

use std::path::Path;

use neurode::dde::{DdeFunction, DdeProblem, DdeSensitivity, History, MethodOfSteps};
use neurode::plot::{Chart, Mark, Series};
use neurode::prelude::*;

use super::fit::{FitOutcome, FitProblem, run_and_report};

/// The seed's `x' = (α − β y) x(t − 0.1)`, `y' = (δ x − γ) y` with
/// `p = (α, β, δ, γ)`, history 1.
#[derive(Clone, Copy, Debug)]
pub struct DelayedLotkaVolterra;

impl DdeFunction for DelayedLotkaVolterra {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], h: &dyn History<T>, p: &[T], t: T) {
        let mut past = [T::zero(); 2];
        h.at(t - T::cst(0.1), &mut past);
        du[0] = (p[0] - p[1] * u[1]) * past[0];
        du[1] = (p[2] * u[0] - p[3]) * u[1];
    }
    fn history<T: Scalar>(&self, out: &mut [T], _p: &[T], _t: T) {
        out.fill(T::one());
    }
    fn num_states(&self) -> Option<usize> {
        Some(2)
    }
}

fn problem(p: &[f64]) -> Result<DdeProblem<DelayedLotkaVolterra>, Error> {
    DdeProblem::new(
        DelayedLotkaVolterra,
        vec![1.0, 1.0],
        (0.0, 10.0),
        p.to_vec(),
        vec![0.1],
    )
}

fn options() -> SolveOptions {
    SolveOptions::default()
        .tolerances(1e-6, 1e-6)
        .saveat_step(0.1)
}

/// The delayed fit, gradients by forward mode through the method of steps.
pub struct DdeFit;

impl FitProblem for DdeFit {
    fn loss_and_gradient(&self, p: &[f64]) -> Result<(f64, Vec<f64>), Error> {
        let loss = SumOfSquares::towards_constant(0, 1.0);
        problem(p)?.loss_and_gradient(
            MethodOfSteps(Tsit5),
            &options(),
            &loss,
            DdeSensitivity::ForwardMode,
        )
    }

    fn frame(&self, p: &[f64], title: String) -> Result<Chart, Error> {
        let sol = problem(p)?.solve(MethodOfSteps(Tsit5), &options().saveat_step(0.05))?;
        let mut chart = Chart::new(title, "t", "population").with_bounds((0.0, 10.0), (0.0, 6.0));
        for (j, label) in ["x (rabbits)", "y (wolves)"].into_iter().enumerate() {
            chart.series.push(Series {
                label: label.into(),
                x: sol.t.clone(),
                y: sol.component(j),
                mark: Mark::Line,
                color: j,
            });
        }
        Ok(chart)
    }

    fn assess(&self, p: &[f64]) -> Result<(f64, f64), Error> {
        Ok(super::fit::rabbits_at_one(
            &problem(p)?.solve(MethodOfSteps(Tsit5), &options())?,
        ))
    }
}

/// Trains from the seed's p = (2.2, 1, 2, 0.4).
pub fn fit(
    iterations: usize,
    frame_every: Option<usize>,
    progress: bool,
) -> Result<FitOutcome, Box<dyn std::error::Error>> {
    super::fit::fit(&DdeFit, iterations, frame_every, progress)
}

/// Trains for 100 iterations; writes `dde_lotka_volterra.gif` and the loss
/// curve.
pub fn run(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "Delayed Lotka–Volterra (lag 0.1, history 1, method of steps with Tsit5): keep the rabbits \
         at 1 from p = (2.2, 1, 2, 0.4), ADAM(0.1), forward mode through the delays"
    );
    run_and_report(
        &DdeFit,
        out,
        "dde_lotka_volterra",
        "Delayed Lotka–Volterra loss",
        "max |x(t) − 1|",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_mode_discrete_and_differences_agree_on_the_demo() {
        // The demo's problem and options at its starting p.
        let p = [2.2, 1.0, 2.0, 0.4];
        let loss = SumOfSquares::towards_constant(0, 1.0);
        let gradient = |s| {
            problem(&p)
                .unwrap()
                .loss_and_gradient(MethodOfSteps(Tsit5), &options(), &loss, s)
                .unwrap()
        };
        let (l_f, g_f) = gradient(DdeSensitivity::ForwardMode);
        let (l_d, g_d) = gradient(DdeSensitivity::Discrete);
        assert!((l_f - l_d).abs() < 1e-12 * l_f);
        let value = |q: &[f64]| {
            let sol = problem(q)
                .unwrap()
                .solve(MethodOfSteps(Tsit5), &options())
                .unwrap();
            loss.value(&sol.t, sol.u_flat(), 2)
        };
        for j in 0..4 {
            // Both are the derivative of the computed solution; differences
            // of an adaptive solve also see its steps move, so they agree to
            // the tolerance's effect.
            let h = 1e-4 * p[j];
            let (mut up, mut down) = (p, p);
            up[j] += h;
            down[j] -= h;
            let fd = (value(&up) - value(&down)) / (2.0 * h);
            eprintln!(
                "p[{j}]: forward {}, discrete {}, differences {fd}",
                g_f[j], g_d[j]
            );
            assert!((g_f[j] - g_d[j]).abs() < 1e-9 * g_f[j].abs().max(1.0));
            assert!((g_f[j] - fd).abs() < 1e-3 * g_f[j].abs().max(1.0));
        }
    }

    #[test]
    fn training_keeps_the_delayed_rabbits_near_one() {
        let o = fit(100, None, false).unwrap();
        let ratio = o.losses.last().unwrap() / o.losses[0];
        eprintln!(
            "DDE LV: {:.3} → {:.4} ({:.2}%), max |x − 1| = {:.4}",
            o.losses[0],
            o.losses.last().unwrap(),
            100.0 * ratio,
            o.worst_deviation
        );
        assert!(ratio < 0.05, "{ratio}");
    }
}
