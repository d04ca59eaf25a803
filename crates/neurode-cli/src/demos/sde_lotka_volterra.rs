//! The seed's stochastic Lotka–Volterra: the LV drift with multiplicative
//! noise 0.1·u, trained with ADAM so that the mean rabbit population stays
//! near 1. The gradient is forward mode through the SDE solver with the
//! noise paths held fixed (the seed's `diffeq_fd` on the SDE), averaged over
//! a batch of paths; the discrete adjoint gives the same gradient path by
//! path ([`loss_and_gradient_discrete`]).

use std::path::Path;

use neurode::multi_dual::MultiDual;
use neurode::plot::{Chart, Mark, Series};
use neurode::prelude::*;
use neurode::sde::{EulerMaruyama, SdeFunction, SdeProblem, SdeSensitivity};

#[cfg(test)]
use super::fit::P0;
use super::fit::{FitOutcome, FitProblem, run_and_report};

/// `dx = (a x − b x y) dt + 0.1 x dW₁`, `dy = (−c y + d x y) dt + 0.1 y dW₂`.
#[derive(Clone, Copy, Debug)]
pub struct NoisyLotkaVolterra;

impl SdeFunction for NoisyLotkaVolterra {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1];
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1];
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], _p: &[T], _t: T) {
        g[0] = u[0].scaled(0.1);
        g[1] = u[1].scaled(0.1);
    }
    fn num_states(&self) -> Option<usize> {
        Some(2)
    }
    fn num_params(&self) -> Option<usize> {
        Some(4)
    }
}

/// Paths per gradient (their seeds are fixed: a sample-average loss).
pub const PATHS: u64 = 16;
const DT: f64 = 0.01;

fn options() -> SolveOptions {
    SolveOptions::default().fixed_dt(DT).saveat_step(0.1)
}

/// The batch's mean rabbits and wolves on the save grid.
struct MeanPaths<T> {
    t: Vec<f64>,
    x: Vec<T>,
    y: Vec<T>,
}

/// The mean over the batch of paths of `x(t)` and `y(t)` on the save grid,
/// in any scalar type.
fn mean_paths<T: Scalar>(p: &[T]) -> Result<MeanPaths<T>, Error> {
    let one = T::one();
    let prob = SdeProblem::new(
        NoisyLotkaVolterra,
        vec![one, one],
        (T::zero(), T::cst(10.0)),
        p.to_vec(),
    )?;
    let mut t = Vec::new();
    let (mut mx, mut my) = (Vec::new(), Vec::new());
    for seed in 0..PATHS {
        let sol = prob.solve(EulerMaruyama, &options(), seed)?;
        if !sol.is_success() {
            return Err(Error::Unsupported(format!(
                "a path ended with {:?}",
                sol.retcode
            )));
        }
        if t.is_empty() {
            t = sol.t.iter().map(|x| x.real()).collect();
            mx = vec![T::zero(); t.len()];
            my = vec![T::zero(); t.len()];
        }
        for (k, (a, b)) in mx.iter_mut().zip(my.iter_mut()).enumerate() {
            *a += sol.u(k)[0].scaled(1.0 / PATHS as f64);
            *b += sol.u(k)[1].scaled(1.0 / PATHS as f64);
        }
    }
    Ok(MeanPaths { t, x: mx, y: my })
}

/// `Σ_t (E x(t) − 1)²` over the batch, and its gradient by forward mode.
pub fn loss_and_gradient(p: &[f64]) -> Result<(f64, Vec<f64>), Error> {
    let pd: Vec<MultiDual<4>> = (0..4).map(|i| MultiDual::seeded(p[i], i)).collect();
    let one = MultiDual::constant(1.0);
    let mx = mean_paths(&pd)?.x;
    let l = mx
        .iter()
        .map(|&x| (x - one) * (x - one))
        .fold(MultiDual::<4>::constant(0.0), |a, b| a + b);
    Ok((l.re, l.eps.to_vec()))
}

/// `Σ_t w_t x(t)`: one path's share of the batch loss's first-order change,
/// the loss each path's discrete adjoint is taken of.
struct Weighted(Vec<f64>);

impl Loss for Weighted {
    fn value<T: Scalar>(&self, _t: &[f64], u: &[T], n: usize) -> T {
        self.0
            .iter()
            .enumerate()
            .fold(T::zero(), |acc, (k, &w)| acc + u[k * n].scaled(w))
    }
    fn value_and_gradient(&self, t: &[f64], u: &[f64], n: usize, grad: &mut [f64]) -> f64 {
        grad.fill(0.0);
        for (k, &w) in self.0.iter().enumerate() {
            grad[k * n] = w;
        }
        self.value(t, u, n)
    }
    fn check(&self, saves: usize, n: usize) -> Result<(), Error> {
        if saves == self.0.len() && n > 0 {
            Ok(())
        } else {
            Err(Error::Unsupported(format!(
                "{} weights for {saves} saved points",
                self.0.len()
            )))
        }
    }
}

/// [`loss_and_gradient`] by the discrete adjoint: the batch loss's gradient
/// is `Σ_t 2 (E x(t) − 1) ∂E x(t)/∂p`, so each path contributes the
/// gradient of `Σ_t w_t x(t)` with `w_t = 2 (E x(t) − 1) / paths`, pulled
/// back through its own Euler–Maruyama steps with its noise fixed.
pub fn loss_and_gradient_discrete(p: &[f64]) -> Result<(f64, Vec<f64>), Error> {
    let mx = mean_paths(p)?.x;
    let loss = mx.iter().map(|x| (x - 1.0) * (x - 1.0)).sum();
    let weights = Weighted(mx.iter().map(|x| 2.0 * (x - 1.0) / PATHS as f64).collect());
    let prob = SdeProblem::new(NoisyLotkaVolterra, vec![1.0, 1.0], (0.0, 10.0), p.to_vec())?;
    let mut grad = vec![0.0; p.len()];
    for seed in 0..PATHS {
        let (_, g) = prob.loss_and_gradient(
            EulerMaruyama,
            &options(),
            &weights,
            seed,
            SdeSensitivity::Discrete,
        )?;
        grad.iter_mut().zip(g).for_each(|(a, b)| *a += b);
    }
    Ok((loss, grad))
}

fn frame(p: &[f64], title: String) -> Result<Chart, Error> {
    let prob = SdeProblem::new(NoisyLotkaVolterra, vec![1.0, 1.0], (0.0, 10.0), p.to_vec())?;
    let mut chart = Chart::new(title, "t", "population").with_bounds((0.0, 10.0), (0.0, 6.0));
    for seed in 0..4 {
        let sol = prob.solve(EulerMaruyama, &options(), seed)?;
        chart.series.push(Series {
            label: if seed == 0 {
                "x, one path".into()
            } else {
                String::new()
            },
            x: sol.t.clone(),
            y: sol.component(0),
            mark: Mark::Points,
            color: 2,
        });
    }
    let MeanPaths { t, x: mx, y: my } = mean_paths(p)?;
    for (label, ys, color) in [("mean x (rabbits)", mx, 0), ("mean y (wolves)", my, 1)] {
        chart.series.push(Series {
            label: label.into(),
            x: t.clone(),
            y: ys,
            mark: Mark::Line,
            color,
        });
    }
    Ok(chart)
}

/// The stochastic fit, gradients by forward mode with the paths fixed.
pub struct SdeFit;

impl FitProblem for SdeFit {
    fn loss_and_gradient(&self, p: &[f64]) -> Result<(f64, Vec<f64>), Error> {
        loss_and_gradient(p)
    }
    fn frame(&self, p: &[f64], title: String) -> Result<Chart, Error> {
        frame(p, title)
    }
    fn assess(&self, p: &[f64]) -> Result<(f64, f64), Error> {
        let mx = mean_paths(p)?.x;
        let loss = mx.iter().map(|x| (x - 1.0) * (x - 1.0)).sum();
        let worst = mx.iter().map(|x| (x - 1.0).abs()).fold(0.0, f64::max);
        Ok((loss, worst))
    }
}

/// Trains from the seed's p = (2.2, 1, 2, 0.4) with ADAM(0.1).
pub fn fit(
    iterations: usize,
    frame_every: Option<usize>,
    progress: bool,
) -> Result<FitOutcome, Box<dyn std::error::Error>> {
    super::fit::fit(&SdeFit, iterations, frame_every, progress)
}

/// Trains for 100 iterations; writes `sde_lotka_volterra.gif` and the loss
/// curve.
pub fn run(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "Stochastic Lotka–Volterra (noise 0.1·u, Euler–Maruyama dt = {DT}, {PATHS} fixed paths): \
         keep the mean rabbit population at 1, ADAM(0.1), forward mode through the SDE solver"
    );
    run_and_report(
        &SdeFit,
        out,
        "sde_lotka_volterra",
        "Stochastic Lotka–Volterra loss",
        "max |E x(t) − 1|",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gradient_with_fixed_noise_matches_finite_differences() {
        let p = P0;
        let (_, g) = loss_and_gradient(&p).unwrap();
        for j in 0..4 {
            let h = 1e-6;
            let (mut up, mut down) = (p, p);
            up[j] += h;
            down[j] -= h;
            let fd = (loss_and_gradient(&up).unwrap().0 - loss_and_gradient(&down).unwrap().0)
                / (2.0 * h);
            assert!(
                (g[j] - fd).abs() < 1e-5 * fd.abs().max(1.0),
                "p[{j}]: {} vs {fd}",
                g[j]
            );
        }
    }

    #[test]
    fn the_discrete_adjoint_equals_forward_mode() {
        let (l_f, g_f) = loss_and_gradient(&P0).unwrap();
        let (l_d, g_d) = loss_and_gradient_discrete(&P0).unwrap();
        assert!((l_d - l_f).abs() < 1e-12 * l_f.abs());
        for j in 0..4 {
            assert!(
                (g_d[j] - g_f[j]).abs() < 1e-9 * g_f[j].abs().max(1.0),
                "p[{j}]: discrete {} vs forward {}",
                g_d[j],
                g_f[j]
            );
        }
    }

    #[test]
    fn training_brings_the_mean_rabbits_to_one() {
        let o = fit(100, None, false).unwrap();
        let ratio = o.losses.last().unwrap() / o.losses[0];
        eprintln!(
            "SDE LV: {:.3} → {:.4} ({:.2}%), max |E x − 1| = {:.4}",
            o.losses[0],
            o.losses.last().unwrap(),
            100.0 * ratio,
            o.worst_deviation
        );
        assert!(ratio < 0.05, "{ratio}");
    }
}
