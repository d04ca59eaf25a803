//! An ODE inside a network, as the seed's MLP with a solve in the middle:
//! classify points of two concentric rings with
//! `Dense(2 → 3, tanh) → NeuralOde(3 → 3, t ∈ [0, 1]) → Dense(3 → 1)`,
//! trained with ADAM on the logistic loss in minibatches. (Lifting to three
//! dimensions matters: a 2-D flow cannot pull one ring out of the other.)

use std::path::Path;
use std::time::Instant;

use neurode::nn::{Activation::*, Chain, Dense, Layer, NeuralOde, NnRng, Stack};
use neurode::optim::Adam;
use neurode::plot::{Chart, Mark, Series};
use neurode::prelude::*;
use neurode::train::{Control, MiniBatches, TrainOptions, train};
use rand::{RngExt, SeedableRng};

type Model = Stack<Stack<Dense, NeuralOde<Chain, Tsit5, Adjoint>>, Dense>;

fn model() -> Result<Model, Error> {
    let node = NeuralOde::new(
        Chain::new(3).dense(16, Tanh).dense(3, Identity),
        (0.0, 1.0),
        Tsit5,
        SolveOptions::default().tolerances(1e-5, 1e-5),
        Adjoint::interpolating(),
    )?;
    Ok(Stack(
        Stack(Dense::new(2, 3, Tanh), node),
        Dense::new(3, 1, Identity),
    ))
}

/// Points on two rings (radius ≈ 0.5, label +1; radius ≈ 1.5, label -1).
fn rings(n: usize, seed: u64) -> Vec<([f64; 2], f64)> {
    let mut rng = NnRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let inner = i % 2 == 0;
            let r = if inner { 0.5 } else { 1.5 } + rng.random_range(-0.2..0.2);
            let a: f64 = rng.random_range(0.0..std::f64::consts::TAU);
            ([r * a.cos(), r * a.sin()], if inner { 1.0 } else { -1.0 })
        })
        .collect()
}

/// `ln(1 + e^{-y z})` and its derivative in `z`.
fn logistic(z: f64, y: f64) -> (f64, f64) {
    let m = -y * z;
    let loss = if m > 30.0 { m } else { m.exp().ln_1p() };
    (loss, -y / (1.0 + (-m).exp()))
}

/// What training reached.
pub struct MlpOutcome {
    /// Mean loss at the first and last iteration.
    pub losses: (f64, f64),
    /// Accuracy on held-out points.
    pub test_accuracy: f64,
    /// Wall time of the training.
    pub seconds: f64,
    /// Predicted class of each test point (for the picture).
    pub test: Vec<([f64; 2], f64)>,
}

/// Trains for `iterations` minibatches of 32 from 256 training points.
pub fn train_classifier(
    iterations: usize,
    progress: bool,
) -> Result<MlpOutcome, Box<dyn std::error::Error>> {
    let net = model()?;
    let data = rings(256, 1);
    let mut batches = MiniBatches::new(data.len(), 32, 2);
    let mut params = net.init_params(&mut NnRng::seed_from_u64(3));
    let mut tape = vec![0.0; net.tape_len()];
    let mut scratch = vec![0.0; net.scratch_len()];
    let start = Instant::now();
    let report = train(
        &mut |p: &[f64], g: &mut [f64], it: usize| {
            g.fill(0.0);
            let batch = batches.batch(it).to_vec();
            let mut total = 0.0;
            let mut z = [0.0];
            let mut xbar = [0.0; 2];
            for &i in &batch {
                let (x, y) = data[i];
                net.forward(p, &x, &mut z, &mut tape);
                let (l, dl) = logistic(z[0], y);
                total += l;
                net.backward(
                    p,
                    &x,
                    &tape,
                    &[dl / batch.len() as f64],
                    &mut xbar,
                    g,
                    &mut scratch,
                );
            }
            Ok(total / batch.len() as f64)
        },
        &mut params,
        &mut Adam::new(0.02),
        &TrainOptions::new(iterations).progress(progress),
        |_| Control::Continue,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let test: Vec<([f64; 2], f64)> = rings(400, 9)
        .into_iter()
        .map(|(x, _)| (x, net.apply(&params, &x)[0].signum()))
        .collect();
    let truth = rings(400, 9);
    let correct = test.iter().zip(&truth).filter(|(a, b)| a.1 == b.1).count();
    Ok(MlpOutcome {
        losses: (report.initial_loss(), report.final_loss()),
        test_accuracy: correct as f64 / test.len() as f64,
        seconds,
        test,
    })
}

/// Trains for 300 iterations and writes `ode_in_mlp.png` (held-out points
/// coloured by predicted class).
pub fn run(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "ODE in an MLP: Dense(2→3, tanh) → NeuralOde(3→16→3, t ∈ [0, 1], Tsit5, interpolating \
         adjoint) → Dense(3→1); two rings; ADAM(0.02), minibatches of 32"
    );
    let o = train_classifier(300, true)?;
    println!(
        "mean logistic loss {:.4} → {:.4}; held-out accuracy {:.1}% (400 points); {:.1} s",
        o.losses.0,
        o.losses.1,
        100.0 * o.test_accuracy,
        o.seconds
    );
    let mut chart = Chart::new("held-out points by predicted class", "x", "y");
    for (class, color, label) in [(1.0, 0, "inner"), (-1.0, 1, "outer")] {
        let pts: Vec<&([f64; 2], f64)> = o.test.iter().filter(|p| p.1 == class).collect();
        chart.series.push(Series {
            label: format!("predicted {label}"),
            x: pts.iter().map(|p| p.0[0]).collect(),
            y: pts.iter().map(|p| p.0[1]).collect(),
            mark: Mark::Points,
            color,
        });
    }
    let path = out.join("ode_in_mlp.png");
    chart.save_png(&path)?;
    println!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_classifier_separates_the_rings() {
        let o = super::train_classifier(150, false).unwrap();
        eprintln!(
            "ode-in-mlp: loss {:.4} → {:.4}, accuracy {:.1}%",
            o.losses.0,
            o.losses.1,
            100.0 * o.test_accuracy
        );
        assert!(o.test_accuracy > 0.95);
    }
}
