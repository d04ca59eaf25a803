//! The seed's delayed Lotka–Volterra: the rabbits' growth reads their
//! population 0.1 earlier (history 1 before t = 0). The four parameters are
//! trained with ADAM(0.1) so that the rabbits stay at 1, with gradients by
//! forward mode through the method of steps.

use std::path::Path;
use std::time::Instant;

use neurode::dde::{DdeFunction, DdeProblem, History, MethodOfSteps};
use neurode::optim::Adam;
use neurode::plot::{Chart, Mark, Series, plot_loss, save_gif};
use neurode::prelude::*;
use neurode::train::{Control, TrainOptions, train};

use super::lotka_volterra_fit::P0;

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

fn frame(p: &[f64], title: String) -> Result<Chart, Error> {
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

/// What the training reached.
pub struct DdeFit {
    /// The loss at each iteration, and after the last.
    pub losses: Vec<f64>,
    /// The fitted parameters.
    pub params: Vec<f64>,
    /// `max_t |x(t) − 1|` on the save grid at the fitted parameters.
    pub worst_deviation: f64,
    /// Frames for the animation.
    pub frames: Vec<Chart>,
    /// Wall time of the training.
    pub seconds: f64,
}

/// Trains from the seed's p = (2.2, 1, 2, 0.4).
pub fn fit(
    iterations: usize,
    frame_every: Option<usize>,
    progress: bool,
) -> Result<DdeFit, Box<dyn std::error::Error>> {
    let loss = SumOfSquares::towards_constant(0, 1.0);
    let mut params = P0.to_vec();
    let mut frames = Vec::new();
    if frame_every.is_some() {
        frames.push(frame(&params, "iteration 0".into())?);
    }
    let start = Instant::now();
    let report = train(
        &mut |p: &[f64], g: &mut [f64], _: usize| {
            let (l, dp) = problem(p)?.loss_and_gradient(MethodOfSteps(Tsit5), &options(), &loss)?;
            g.copy_from_slice(&dp);
            Ok(l)
        },
        &mut params,
        &mut Adam::new(0.1),
        &TrainOptions::new(iterations).progress(progress),
        |s| {
            if let Some(every) = frame_every
                && (s.iteration + 1) % every == 0
                && let Ok(f) = frame(
                    s.params,
                    format!("iteration {}, loss {:.3}", s.iteration + 1, s.loss),
                )
            {
                frames.push(f);
            }
            Control::Continue
        },
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let sol = problem(&params)?.solve(MethodOfSteps(Tsit5), &options())?;
    let mut losses = report.losses;
    losses.push(loss.value(&sol.t, sol.u_flat(), 2));
    let worst_deviation = sol
        .component(0)
        .iter()
        .map(|x| (x - 1.0).abs())
        .fold(0.0, f64::max);
    Ok(DdeFit {
        losses,
        params,
        worst_deviation,
        frames,
        seconds,
    })
}

/// Trains for 100 iterations; writes `dde_lotka_volterra.gif` and the loss
/// curve.
pub fn run(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "Delayed Lotka–Volterra (lag 0.1, history 1, method of steps with Tsit5): keep the rabbits \
         at 1 from p = (2.2, 1, 2, 0.4), ADAM(0.1), forward mode through the delays"
    );
    let o = fit(100, Some(5), true)?;
    let (first, last) = (o.losses[0], *o.losses.last().unwrap_or(&f64::NAN));
    println!(
        "loss {first:.3} → {last:.4} ({:.2}% of the start) in 100 iterations ({:.0} ms); \
         p = ({:.4}, {:.4}, {:.4}, {:.4}); max |x(t) − 1| = {:.4}",
        100.0 * last / first,
        o.seconds * 1e3,
        o.params[0],
        o.params[1],
        o.params[2],
        o.params[3],
        o.worst_deviation
    );
    save_gif(out.join("dde_lotka_volterra.gif"), &o.frames, 150)?;
    plot_loss(
        out.join("dde_lotka_volterra_loss.png"),
        "Delayed Lotka–Volterra loss",
        &o.losses,
    )?;
    println!("wrote {}", out.join("dde_lotka_volterra.gif").display());
    println!(
        "wrote {}",
        out.join("dde_lotka_volterra_loss.png").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
