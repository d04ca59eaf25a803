//! A neural SDE fitted to the statistics of data: paths of
//! `du = 1.5 (1 − u) dt + 0.4 dW` from u = 0 give the mean and spread over
//! time; a drift network and a diffusion network learn to reproduce both,
//! trained with ADAM on a fixed batch of Brownian paths, the gradient of
//! every path by the discrete adjoint through its Euler–Maruyama steps.

use std::path::Path;
use std::time::Instant;

use neurode::nn::{Activation::*, Chain, Layer, NeuralSdeFunction, NnRng};
use neurode::optim::Adam;
use neurode::plot::{Chart, Mark, Series, plot_loss};
use neurode::prelude::*;
use neurode::sde::{EnsembleOptions, EulerMaruyama, SdeFunction, SdeProblem, SdeSensitivity};
use neurode::sensitivity::LinearLoss;
use neurode::train::{Control, TrainOptions, train};
use rand::SeedableRng;

/// The process the data come from.
#[derive(Clone, Copy, Debug)]
pub struct Reverting;

impl SdeFunction for Reverting {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], _p: &[T], _t: T) {
        du[0] = (T::one() - u[0]).scaled(1.5);
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], _u: &[T], _p: &[T], _t: T) {
        g[0] = T::cst(0.4);
    }
}

/// Paths per gradient (their Brownian paths fixed).
pub const BATCH: u64 = 64;
const T_END: f64 = 2.0;

fn options() -> SolveOptions {
    SolveOptions::default().fixed_dt(0.02).saveat_step(0.1)
}

/// Mean and standard deviation at each save time of a set of paths
/// (`paths × saves`).
fn moments(paths: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let k = paths.len() as f64;
    let saves = paths[0].len();
    let mean: Vec<f64> = (0..saves)
        .map(|t| paths.iter().map(|p| p[t]).sum::<f64>() / k)
        .collect();
    let std = (0..saves)
        .map(|t| {
            let ss: f64 = paths.iter().map(|p| (p[t] - mean[t]).powi(2)).sum();
            (ss / (k - 1.0)).sqrt()
        })
        .collect();
    (mean, std)
}

/// Save times with the mean and spread of paths there.
type Statistics = (Vec<f64>, Vec<f64>, Vec<f64>);

/// The data: mean and spread of 4000 paths of the true process.
fn data() -> Result<Statistics, Error> {
    let prob = SdeProblem::new(Reverting, vec![0.0], (0.0, T_END), vec![])?;
    let ens = prob.ensemble(
        EulerMaruyama,
        &SolveOptions::default().fixed_dt(0.005).saveat_step(0.1),
        EnsembleOptions {
            trajectories: 4000,
            seed: 1_000_000,
        },
    )?;
    let mean = ens.mean().iter().map(|m| m[0]).collect();
    let std = ens.std().iter().map(|s| s[0]).collect();
    Ok((ens.t.clone(), mean, std))
}

/// The model and its parameters' layout.
fn model() -> Result<NeuralSdeFunction<Chain, Chain>, Error> {
    NeuralSdeFunction::new(
        Chain::new(1).dense(16, Tanh).dense(1, Identity),
        Chain::new(1).dense(8, Tanh).dense(1, Softplus),
    )
}

/// The batch's paths at `p` (one row per path).
fn paths(f: &NeuralSdeFunction<Chain, Chain>, p: &[f64]) -> Result<Vec<Vec<f64>>, Error> {
    let prob = SdeProblem::new(f.clone(), vec![0.0], (0.0, T_END), p.to_vec())?;
    (0..BATCH)
        .map(|k| Ok(prob.solve(EulerMaruyama, &options(), k)?.u_flat().to_vec()))
        .collect()
}

/// `Σ_t (mean − data mean)² + (std − data std)²` over the batch and its
/// gradient: the loss's sensitivity to each path's states, then each path's
/// discrete adjoint with those weights.
fn loss_and_gradient(
    f: &NeuralSdeFunction<Chain, Chain>,
    p: &[f64],
    target: &(Vec<f64>, Vec<f64>),
) -> Result<(f64, Vec<f64>), Error> {
    let ps = paths(f, p)?;
    let (mean, std) = moments(&ps);
    let k = BATCH as f64;
    let loss = mean
        .iter()
        .zip(&std)
        .zip(target.0.iter().zip(&target.1))
        .map(|((m, s), (mt, st))| (m - mt).powi(2) + (s - st).powi(2))
        .sum();
    let prob = SdeProblem::new(f.clone(), vec![0.0], (0.0, T_END), p.to_vec())?;
    let mut grad = vec![0.0; p.len()];
    for (seed, path) in ps.iter().enumerate() {
        let weights: Vec<f64> = (0..path.len())
            .map(|t| {
                let dm = 2.0 * (mean[t] - target.0[t]) / k;
                let ds = if std[t] > 0.0 {
                    2.0 * (std[t] - target.1[t]) * (path[t] - mean[t]) / ((k - 1.0) * std[t])
                } else {
                    0.0
                };
                dm + ds
            })
            .collect();
        let (_, g) = prob.loss_and_gradient(
            EulerMaruyama,
            &options(),
            &LinearLoss { weights },
            seed as u64,
            SdeSensitivity::Discrete,
        )?;
        for (a, b) in grad.iter_mut().zip(&g) {
            *a += b;
        }
    }
    Ok((loss, grad))
}

/// What the training reached.
pub struct NeuralSdeFit {
    /// Loss per iteration, and after the last.
    pub losses: Vec<f64>,
    /// Largest errors of the model's mean and spread against the data's.
    pub worst: (f64, f64),
    /// Wall time of the training.
    pub seconds: f64,
    /// Save times, data mean and spread, model mean and spread.
    pub curves: [Vec<f64>; 5],
}

/// Trains for `iterations` ADAM(0.02) steps from a seeded initialisation.
pub fn fit(iterations: usize, progress: bool) -> Result<NeuralSdeFit, Box<dyn std::error::Error>> {
    let f = model()?;
    let (t, mean_d, std_d) = data()?;
    let target = (mean_d.clone(), std_d.clone());
    let mut rng = NnRng::seed_from_u64(3);
    let mut params = [
        Chain::new(1)
            .dense(16, Tanh)
            .dense(1, Identity)
            .init_params(&mut rng),
        Chain::new(1)
            .dense(8, Tanh)
            .dense(1, Softplus)
            .init_params(&mut rng),
    ]
    .concat();
    let start = Instant::now();
    let report = train(
        &mut |p: &[f64], g: &mut [f64], _: usize| {
            let (l, dp) = loss_and_gradient(&f, p, &target)?;
            g.copy_from_slice(&dp);
            Ok(l)
        },
        &mut params,
        &mut Adam::new(0.02),
        &TrainOptions::new(iterations).progress(progress),
        |_| Control::Continue,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let (final_loss, _) = loss_and_gradient(&f, &params, &target)?;
    let (mean_m, std_m) = moments(&paths(&f, &params)?);
    let worst = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    };
    let mut losses = report.losses;
    losses.push(final_loss);
    Ok(NeuralSdeFit {
        losses,
        worst: (worst(&mean_m, &mean_d), worst(&std_m, &std_d)),
        seconds,
        curves: [t, mean_d, std_d, mean_m, std_m],
    })
}

/// Trains for 300 iterations; writes `neural_sde_fit.png` and the loss curve.
pub fn run(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "Neural SDE: drift 1→16→1 (tanh) and diffusion 1→8→1 (softplus) fitted to the mean and \
         spread of du = 1.5 (1 − u) dt + 0.4 dW; {BATCH} fixed paths, Euler–Maruyama dt = 0.02, \
         discrete-adjoint gradients, ADAM(0.02)"
    );
    let o = fit(300, true)?;
    let (first, last) = (o.losses[0], *o.losses.last().unwrap_or(&f64::NAN));
    println!(
        "loss {first:.4} → {last:.5} ({:.2}% of the start) in 300 iterations ({:.2} s, {:.2} ms each); \
         largest error of the mean {:.4}, of the spread {:.4}",
        100.0 * last / first,
        o.seconds,
        o.seconds * 1e3 / 300.0,
        o.worst.0,
        o.worst.1
    );
    let [t, md, sd, mm, sm] = &o.curves;
    let mut chart = Chart::new("Neural SDE: data (points) vs model (lines)", "t", "u");
    // Mean and mean ± std, for the data (points) and the model (lines).
    for (name, mean, std, mark) in [
        ("data", md, sd, Mark::Points),
        ("model", mm, sm, Mark::Line),
    ] {
        let shifted = |sign: f64| mean.iter().zip(std).map(|(m, s)| m + sign * s).collect();
        for (label, y, color) in [
            (format!("{name} mean"), mean.clone(), 0),
            (format!("{name} mean ± std"), shifted(1.0), 1),
            (String::new(), shifted(-1.0), 1),
        ] {
            chart.series.push(Series {
                label,
                x: t.clone(),
                y,
                mark,
                color,
            });
        }
    }
    let fit_png = out.join("neural_sde_fit.png");
    chart.save_png(&fit_png)?;
    let loss_png = out.join("neural_sde_loss.png");
    plot_loss(&loss_png, "Neural SDE loss", &o.losses)?;
    println!("wrote {}", fit_png.display());
    println!("wrote {}", loss_png.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_gradient_matches_finite_differences() {
        let f = model().unwrap();
        let (_, m, s) = data().unwrap();
        let target = (m, s);
        let mut rng = NnRng::seed_from_u64(3);
        let p = [
            Chain::new(1)
                .dense(16, Tanh)
                .dense(1, Identity)
                .init_params(&mut rng),
            Chain::new(1)
                .dense(8, Tanh)
                .dense(1, Softplus)
                .init_params(&mut rng),
        ]
        .concat();
        let (_, g) = loss_and_gradient(&f, &p, &target).unwrap();
        for j in [0, 7, 20, 40, 50] {
            let h = 1e-6;
            let (mut a, mut b) = (p.clone(), p.clone());
            a[j] += h;
            b[j] -= h;
            let fd = (loss_and_gradient(&f, &a, &target).unwrap().0
                - loss_and_gradient(&f, &b, &target).unwrap().0)
                / (2.0 * h);
            assert!(
                (g[j] - fd).abs() < 1e-5 * fd.abs().max(1e-3),
                "p[{j}]: {} vs {fd}",
                g[j]
            );
        }
    }

    #[test]
    fn training_matches_the_data_mean_and_spread() {
        let o = fit(300, false).unwrap();
        let ratio = o.losses.last().unwrap() / o.losses[0];
        eprintln!(
            "neural SDE: {:.4} → {:.5} ({:.2}%), worst mean {:.4}, spread {:.4}",
            o.losses[0],
            o.losses.last().unwrap(),
            100.0 * ratio,
            o.worst.0,
            o.worst.1
        );
        assert!(ratio < 0.05, "{ratio}");
    }
}
