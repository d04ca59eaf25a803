//! The Neural ODE paper's spiral, as in the seed: learn `u' = NN(u)` from 30
//! points of `u' = Aᵀ u³` with the model `x.^3 → Dense(2, 50, tanh) →
//! Dense(50, 2)`, Tsit5 at rtol = 1e-7, atol = 1e-9, ADAM(0.05), gradients by
//! the discrete adjoint, and an animation of the fit converging.

use std::path::Path;
use std::time::{Duration, Instant};

use neurode::nn::{Activation::*, Chain, Layer, NeuralOde, NnRng};
use neurode::optim::Adam;
use neurode::plot::{Chart, Mark, Series, plot_loss, save_gif};
use neurode::prelude::*;
use neurode::train::{Control, TrainOptions, train};
use rand::SeedableRng;

/// The true dynamics: `u' = Aᵀ u³`, `A = [-0.1 2; -2 -0.1]`.
#[derive(Clone, Copy, Debug)]
pub struct TrueSpiral;
impl OdeFunction for TrueSpiral {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], _p: &[T], _t: T) {
        let (x3, y3) = (u[0].powi(3), u[1].powi(3));
        du[0] = x3.scaled(-0.1) + y3.scaled(-2.0);
        du[1] = x3.scaled(2.0) + y3.scaled(-0.1);
    }
}

/// The span and the 30 save times of the seed.
pub const TSPAN: (f64, f64) = (0.0, 1.5);
/// The initial state of the data.
pub const U0: [f64; 2] = [2.0, 0.0];

/// The 30 save times, `linspace(0, 1.5, 30)`.
pub fn save_times() -> Vec<f64> {
    (0..30).map(|i| 1.5 * i as f64 / 29.0).collect()
}

/// The true spiral from `u0` at the save times (DOP853 at 1e-12).
pub fn truth(u0: [f64; 2]) -> Result<Solution, Error> {
    OdeProblem::new(TrueSpiral, u0.to_vec(), TSPAN, vec![])?.solve(
        Dop853,
        &SolveOptions::default()
            .tolerances(1e-12, 1e-12)
            .saveat(save_times()),
    )
}

/// The seed's model.
pub fn model() -> Chain {
    Chain::new(2).map(Cube).dense(50, Tanh).dense(2, Identity)
}

/// What a training run reached.
pub struct SpiralOutcome {
    /// Loss at the initial parameters.
    pub initial_loss: f64,
    /// Loss at the trained parameters.
    pub final_loss: f64,
    /// Median wall time per iteration (loss, gradient and update).
    pub per_iteration: Duration,
    /// Wall time of the whole training, figures excluded.
    pub total: Duration,
    /// The trained parameters.
    pub params: Vec<f64>,
    /// The loss after every step.
    pub losses: Vec<f64>,
    /// Animation frames (every `frame_every` iterations), if asked for.
    pub frames: Vec<Chart>,
}

type Node = NeuralOde<Chain, Tsit5, Discrete>;

fn node() -> Result<Node, Error> {
    NeuralOde::new(
        model(),
        TSPAN,
        Tsit5,
        SolveOptions::default()
            .tolerances(1e-7, 1e-9)
            .saveat(save_times()),
        Discrete::default(),
    )
}

/// Data (points) and prediction (lines) of both components.
fn frame(node: &Node, p: &[f64], data: &Solution, title: String) -> Chart {
    let mut chart = Chart::new(title, "t", "u(t)").with_bounds((0.0, 1.5), (-2.5, 2.5));
    let fine = SolveOptions::default()
        .tolerances(1e-7, 1e-9)
        .saveat((0..=150).map(|i| i as f64 / 100.0).collect::<Vec<_>>());
    let pred = node.solve(p, &U0, Some(&fine));
    for (j, name) in ["x", "y"].iter().enumerate() {
        chart.series.push(Series {
            label: format!("{name} data"),
            x: data.t.clone(),
            y: data.component(j),
            mark: Mark::Points,
            color: j,
        });
        if let Ok(pred) = &pred {
            chart.series.push(Series {
                label: format!("{name} prediction"),
                x: pred.t.clone(),
                y: pred.component(j),
                mark: Mark::Line,
                color: j,
            });
        }
    }
    chart
}

/// Trains the spiral model for `iterations` ADAM steps from seeded weights,
/// with discrete-adjoint gradients.
pub fn train_spiral(
    iterations: usize,
    seed: u64,
    frame_every: Option<usize>,
    progress: bool,
) -> Result<SpiralOutcome, Box<dyn std::error::Error>> {
    train_spiral_with(iterations, seed, frame_every, progress, Discrete::default())
}

/// [`train_spiral`] with gradients by `sensitivity`.
pub fn train_spiral_with<S: Sensitivity>(
    iterations: usize,
    seed: u64,
    frame_every: Option<usize>,
    progress: bool,
    sensitivity: S,
) -> Result<SpiralOutcome, Box<dyn std::error::Error>> {
    let data = truth(U0)?;
    let node = node()?;
    let mut params = node.init_params(&mut NnRng::seed_from_u64(seed));
    let loss = SumOfSquares::against_data(data.u_flat().to_vec());
    let mut times = Vec::with_capacity(iterations);
    let mut last = Instant::now();
    let mut frames = Vec::new();
    if frame_every.is_some() {
        frames.push(frame(&node, &params, &data, "iteration 0".into()));
    }
    let opts = TrainOptions::new(iterations).progress(progress);
    let report = train(
        &mut |p: &[f64], g: &mut [f64], _: usize| {
            let prob = node.problem(p, &U0)?;
            let (l, dp) = prob.loss_and_gradient(
                Tsit5,
                &SolveOptions::default()
                    .tolerances(1e-7, 1e-9)
                    .saveat(save_times()),
                &loss,
                &sensitivity,
            )?;
            g.copy_from_slice(&dp);
            Ok(l)
        },
        &mut params,
        &mut Adam::new(0.05),
        &opts,
        |state| {
            let now = Instant::now();
            times.push(now - last);
            last = now;
            if let Some(every) = frame_every
                && (state.iteration + 1) % every == 0
            {
                frames.push(frame(
                    &node,
                    state.params,
                    &data,
                    format!("iteration {}, loss {:.3e}", state.iteration + 1, state.loss),
                ));
                last = Instant::now();
            }
            Control::Continue
        },
    )?;
    let final_loss = {
        let prob = node.problem(&params, &U0)?;
        let sol = prob.solve(
            Tsit5,
            &SolveOptions::default()
                .tolerances(1e-7, 1e-9)
                .saveat(save_times()),
        )?;
        loss.value(&sol.t, sol.u_flat(), 2)
    };
    let total = times.iter().sum();
    times.sort();
    Ok(SpiralOutcome {
        total,
        initial_loss: report.initial_loss(),
        final_loss,
        per_iteration: times.get(times.len() / 2).copied().unwrap_or_default(),
        params,
        losses: report.losses,
        frames,
    })
}

/// Trains for 300 iterations and writes `spiral.gif` (the fit converging),
/// `spiral_loss.png`, `spiral_fit.png` and `spiral_extrapolation.png` (the
/// trained model from a new initial state against the truth).
pub fn run(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "Spiral neural ODE: u' = NN(u), NN = x.^3 → Dense(2, 50, tanh) → Dense(50, 2), \
         252 parameters; Tsit5 rtol 1e-7 atol 1e-9; ADAM(0.05); discrete adjoint"
    );
    let outcome = train_spiral(300, 0, Some(10), true)?;
    println!(
        "loss {:.4e} → {:.4e} ({:.3}% of the initial) after 300 iterations; \
         {:.2} s of training, {:.0} µs per iteration (median; later iterations \
         cost more as the learned dynamics need more steps)",
        outcome.initial_loss,
        outcome.final_loss,
        100.0 * outcome.final_loss / outcome.initial_loss,
        outcome.total.as_secs_f64(),
        outcome.per_iteration.as_secs_f64() * 1e6
    );
    let gif = out.join("spiral.gif");
    save_gif(&gif, &outcome.frames, 150)?;
    plot_loss(
        out.join("spiral_loss.png"),
        "spiral training loss",
        &outcome.losses,
    )?;
    let node = node()?;
    let data = truth(U0)?;
    frame(&node, &outcome.params, &data, "trained model".into())
        .save_png(out.join("spiral_fit.png"))?;
    // A new initial state near the training trajectory, never seen in
    // training (the model learned one trajectory, so far from it the
    // dynamics are guesswork).
    let u_new = [2.0, 0.5];
    let truth_new = truth(u_new)?;
    let pred = node.solve(&outcome.params, &u_new, None)?;
    let err = truth_new
        .u_flat()
        .iter()
        .zip(pred.u_flat())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let scale = truth_new
        .u_flat()
        .iter()
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    println!(
        "from the unseen u0 = (2.0, 0.5): largest error {err:.3e} ({:.1}% of the largest state)",
        100.0 * err / scale
    );
    let mut chart = Chart::new("trained model from the unseen u0 = (2.0, 0.5)", "t", "u(t)");
    for (j, name) in ["x", "y"].iter().enumerate() {
        chart.series.push(Series {
            label: format!("{name} true"),
            x: truth_new.t.clone(),
            y: truth_new.component(j),
            mark: Mark::Points,
            color: j,
        });
        chart.series.push(Series {
            label: format!("{name} model"),
            x: pred.t.clone(),
            y: pred.component(j),
            mark: Mark::Line,
            color: j,
        });
    }
    chart.save_png(out.join("spiral_extrapolation.png"))?;
    for f in [
        "spiral.gif",
        "spiral_loss.png",
        "spiral_fit.png",
        "spiral_extrapolation.png",
    ] {
        println!("wrote {}", out.join(f).display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_match_the_shared_reference() {
        let path = std::env::var("NEURODE_REFERENCE_DIR").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/reference").into()
        });
        let text = std::fs::read_to_string(format!("{path}/spiral.json")).expect("spiral.json");
        let r: serde_json::Value = serde_json::from_str(&text).expect("json");
        let sol = truth(U0).unwrap();
        for (k, row) in r["u"].as_array().unwrap().iter().enumerate() {
            for j in 0..2 {
                let want = row[j].as_f64().unwrap();
                assert!((sol.u(k)[j] - want).abs() < 1e-9, "point {k}");
            }
        }
    }

    #[test]
    fn three_hundred_iterations_reach_one_percent_of_the_initial_loss() {
        let outcome = train_spiral(300, 0, None, false).unwrap();
        let ratio = outcome.final_loss / outcome.initial_loss;
        eprintln!(
            "spiral: loss {:.4e} → {:.4e} ({:.3}%)",
            outcome.initial_loss,
            outcome.final_loss,
            100.0 * ratio
        );
        assert!(ratio < 0.01, "{ratio}");
    }
}
