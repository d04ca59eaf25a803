//! SDE solvers: strong and weak orders measured on geometric Brownian
//! motion against its exact solution, reproducibility, noise shapes,
//! ensembles against analytic moments, and derivatives with the noise fixed.

use neurode::nn::{
    Activation::Identity, Activation::Softplus, Activation::Tanh, Chain, Layer, NeuralSdeFunction,
    NnRng,
};
use neurode::num_dual::Dual64;
use neurode::prelude::*;
use neurode::sde::{
    BrownianGrid, EnsembleOptions, EulerHeun, EulerMaruyama, Milstein, Noise, NoiseSource,
    SdeFunction, SdeMethod, SdeProblem, Sosra, Sosri, Sra1, Sriw1,
};
use rand::SeedableRng;

/// `du = μ u dt + σ u dW`.
#[derive(Clone)]
struct Gbm;
impl SdeFunction for Gbm {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        du[0] = p[0] * u[0];
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], p: &[T], _t: T) {
        g[0] = p[1] * u[0];
    }
}

const MU: f64 = 1.0;
const SIGMA: f64 = 0.5;

/// Least-squares slope of log(error) against log(h).
fn slope(hs: &[f64], errs: &[f64]) -> f64 {
    let xs: Vec<f64> = hs.iter().map(|h| h.ln()).collect();
    let ys: Vec<f64> = errs.iter().map(|e| e.ln()).collect();
    let (mx, my) = (
        xs.iter().sum::<f64>() / xs.len() as f64,
        ys.iter().sum::<f64>() / ys.len() as f64,
    );
    let num: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    num / den
}

/// Mean |u_h(1) − exact| over `paths` Brownian paths, for each step size;
/// `stratonovich` picks which exact solution.
fn strong_errors<M: SdeMethod>(method: M, stratonovich: bool) -> (Vec<f64>, Vec<f64>) {
    let prob = SdeProblem::new(Gbm, vec![1.0], (0.0, 1.0), vec![MU, SIGMA]).unwrap();
    let fine = 1.0 / 2048.0;
    let hs: Vec<f64> = (3..=7).map(|k| 1.0 / f64::from(1 << k)).collect();
    let mut errs = vec![0.0; hs.len()];
    let paths = 400;
    for path in 0..paths {
        let grid = BrownianGrid::new(1, 0.0, fine, 2048, 1000 + path);
        let mut w = [0.0];
        grid.w_at(1.0, &mut w);
        let drift = if stratonovich {
            MU
        } else {
            MU - 0.5 * SIGMA * SIGMA
        };
        let exact = (drift + SIGMA * w[0]).exp();
        for (e, &h) in errs.iter_mut().zip(&hs) {
            let opts = SolveOptions::default().fixed_dt(h).saveat(vec![1.0]);
            let sol = prob
                .solve_with_noise(method, &opts, &mut grid.clone())
                .unwrap();
            *e += (sol.u_end()[0] - exact).abs() / paths as f64;
        }
    }
    (hs, errs)
}

#[test]
fn strong_orders_match_theory_on_geometric_brownian_motion() {
    let (hs, em) = strong_errors(EulerMaruyama, false);
    let (_, mil) = strong_errors(Milstein, false);
    let (_, heun) = strong_errors(EulerHeun, true);
    let (_, sri) = strong_errors(Sriw1, false);
    let p_sri = slope(&hs, &sri);
    eprintln!("strong order: SRIW1 {p_sri:.3} {sri:?}");
    assert!((p_sri - 1.5).abs() < 0.2, "SRIW1 {p_sri} {sri:?}");
    assert!(sri[4] < mil[4] / 4.0);
    let (_, sos) = strong_errors(Sosri, false);
    let p_sos = slope(&hs, &sos);
    eprintln!("strong order: SOSRI {p_sos:.3} {sos:?}");
    assert!((p_sos - 1.5).abs() < 0.2, "SOSRI {p_sos} {sos:?}");
    assert!(sos[4] < mil[4] / 4.0);
    let (p_em, p_mil, p_heun) = (slope(&hs, &em), slope(&hs, &mil), slope(&hs, &heun));
    eprintln!(
        "strong orders: EM {p_em:.3}, Milstein {p_mil:.3}, EulerHeun (Stratonovich) {p_heun:.3}"
    );
    assert!((p_em - 0.5).abs() < 0.2, "EM {p_em} {em:?}");
    assert!((p_mil - 1.0).abs() < 0.2, "Milstein {p_mil} {mil:?}");
    // Scalar (commutative) noise: Heun reaches order 1 for Stratonovich.
    assert!((p_heun - 1.0).abs() < 0.2, "EulerHeun {p_heun} {heun:?}");
    assert!(mil[4] < em[4]);
}

#[test]
fn euler_maruyama_has_weak_order_one() {
    // E u(1) = e^μ exactly, so E[u_h(1)] − e^μ = E[u_h(1) − u(1)] with the
    // exact solution on the same path as a control variate: the Monte-Carlo
    // error (~1e-3) stays well below the weak errors (0.13 .. 0.017).
    let prob = SdeProblem::new(Gbm, vec![1.0], (0.0, 1.0), vec![MU, SIGMA]).unwrap();
    let hs = [0.1, 0.05, 0.025, 0.0125];
    let paths = 4000;
    let mut bias = [0.0; 4];
    for path in 0..paths {
        let grid = BrownianGrid::new(1, 0.0, 0.0125, 80, 50_000 + path);
        let mut w = [0.0];
        grid.w_at(1.0, &mut w);
        let exact = (MU - 0.5 * SIGMA * SIGMA + SIGMA * w[0]).exp();
        for (b, &h) in bias.iter_mut().zip(&hs) {
            let opts = SolveOptions::default().fixed_dt(h).saveat(vec![1.0]);
            let sol = prob
                .solve_with_noise(EulerMaruyama, &opts, &mut grid.clone())
                .unwrap();
            *b += (sol.u_end()[0] - exact) / paths as f64;
        }
    }
    let errs: Vec<f64> = bias.iter().map(|b| b.abs()).collect();
    // EM's mean for GBM is exactly (1 + μh)^(1/h).
    for (&e, &h) in errs.iter().zip(&hs) {
        let theory = MU.exp() - (1.0 + MU * h).powf(1.0 / h);
        assert!(
            (e - theory).abs() < 0.2 * theory,
            "h = {h}: {e} vs {theory}"
        );
    }
    let p = slope(&hs, &errs);
    eprintln!("EM weak order {p:.3}: {errs:?}");
    assert!((p - 1.0).abs() < 0.2, "{p} {errs:?}");
}

#[test]
fn an_ensemble_reproduces_the_analytic_moments() {
    let prob = SdeProblem::new(Gbm, vec![1.0], (0.0, 1.0), vec![MU, SIGMA]).unwrap();
    let opts = SolveOptions::default().fixed_dt(1e-3).saveat_step(0.5);
    let ens = prob
        .ensemble(
            Milstein,
            &opts,
            EnsembleOptions {
                trajectories: 4000,
                seed: 11,
            },
        )
        .unwrap();
    assert_eq!(ens.t, vec![0.0, 0.5, 1.0]);
    assert_eq!((ens.paths(), ens.failed), (4000, 0));
    let (mean, std) = (ens.mean()[2][0], ens.std()[2][0]);
    let exact_mean = MU.exp();
    let exact_var = (2.0 * MU).exp() * ((SIGMA * SIGMA).exp() - 1.0);
    let se = exact_var.sqrt() / (4000.0_f64).sqrt();
    assert!(
        (mean - exact_mean).abs() < 4.0 * se,
        "{mean} vs {exact_mean} ± {se}"
    );
    assert!(
        (std * std / exact_var - 1.0).abs() < 0.1,
        "{} vs {exact_var}",
        std * std
    );
    // The median of a lognormal: e^{(μ − σ²/2)}.
    let median = ens.quantile(0.5)[2][0];
    assert!(
        (median / (MU - 0.5 * SIGMA * SIGMA).exp() - 1.0).abs() < 0.05,
        "{median}"
    );
    assert!(ens.quantile(0.05)[2][0] < median && median < ens.quantile(0.95)[2][0]);
}

#[test]
fn a_seed_fixes_the_path_bit_for_bit() {
    let prob = SdeProblem::new(Gbm, vec![1.0], (0.0, 2.0), vec![MU, SIGMA]).unwrap();
    let opts = SolveOptions::default().fixed_dt(0.01).saveat_step(0.1);
    let a = prob.solve(EulerMaruyama, &opts, 42).unwrap();
    let b = prob.solve(EulerMaruyama, &opts, 42).unwrap();
    let c = prob.solve(EulerMaruyama, &opts, 43).unwrap();
    assert_eq!(a.u_flat(), b.u_flat());
    assert_ne!(a.u_flat(), c.u_flat());
    assert_eq!(a.t.len(), 21);
    assert_eq!(a.stats.accepted, 200);
}

/// Two states driven by one Wiener process, written two ways.
#[derive(Clone)]
struct Pair(Noise);
impl SdeFunction for Pair {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], _p: &[T], _t: T) {
        du[0] = -u[1];
        du[1] = u[0];
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], _p: &[T], _t: T) {
        g[0] = u[0].scaled(0.3);
        g[1] = T::cst(0.2);
    }
    fn noise(&self) -> Noise {
        self.0
    }
}

#[test]
fn scalar_noise_equals_general_noise_with_one_column() {
    let opts = SolveOptions::default().fixed_dt(0.01).saveat_step(0.5);
    let solve = |noise| {
        SdeProblem::new(Pair(noise), vec![1.0, 0.0], (0.0, 2.0), vec![])
            .unwrap()
            .solve(EulerHeun, &opts, 3)
            .unwrap()
    };
    let (a, b) = (solve(Noise::Scalar), solve(Noise::General(1)));
    assert_eq!(a.u_flat(), b.u_flat());
    // Diagonal noise draws two processes: a different path.
    assert_ne!(a.u_flat(), solve(Noise::Diagonal).u_flat());
}

#[test]
fn bad_inputs_are_typed_errors() {
    let prob = SdeProblem::new(Gbm, vec![1.0], (0.0, 1.0), vec![MU, SIGMA]).unwrap();
    let adaptive = SolveOptions::default();
    assert!(matches!(
        prob.solve(EulerMaruyama, &adaptive, 1),
        Err(Error::NeedsFixedStep { .. })
    ));
    let general =
        SdeProblem::new(Pair(Noise::General(2)), vec![1.0, 0.0], (0.0, 1.0), vec![]).unwrap();
    let fixed = SolveOptions::default().fixed_dt(0.1);
    assert!(matches!(
        general.solve(Milstein, &fixed, 1),
        Err(Error::Unsupported(_))
    ));
    assert!(SdeProblem::new(Gbm, vec![f64::NAN], (0.0, 1.0), vec![MU, SIGMA]).is_err());
    assert!(SdeProblem::new(Gbm, vec![1.0], (1.0, 1.0), vec![MU, SIGMA]).is_err());
    let wrong = BrownianGrid::new(3, 0.0, 0.1, 10, 1);
    assert!(matches!(
        prob.solve_with_noise(EulerMaruyama, &fixed, &mut wrong.clone()),
        Err(Error::WrongLength { .. })
    ));
}

/// The seed's stochastic Lotka–Volterra: the LV drift, noise 0.1·u.
#[derive(Clone)]
struct NoisyLv;
impl SdeFunction for NoisyLv {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1];
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1];
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], _p: &[T], _t: T) {
        g[0] = u[0].scaled(0.1);
        g[1] = u[1].scaled(0.1);
    }
}

#[test]
fn forward_mode_with_the_noise_fixed_matches_finite_differences() {
    let p = [1.5, 1.0, 3.0, 1.0];
    let opts = SolveOptions::default().fixed_dt(1e-3).saveat(vec![2.0]);
    let x_end = |p: &[f64]| {
        SdeProblem::new(NoisyLv, vec![1.0, 1.0], (0.0, 2.0), p.to_vec())
            .unwrap()
            .solve(Milstein, &opts, 8)
            .unwrap()
            .u_end()[0]
    };
    for j in 0..4 {
        let pd: Vec<Dual64> = (0..4)
            .map(|k| Dual64::new(p[k], if k == j { 1.0 } else { 0.0 }))
            .collect();
        let dual = SdeProblem::new(
            NoisyLv,
            vec![Dual64::from_re(1.0), Dual64::from_re(1.0)],
            (Dual64::from_re(0.0), Dual64::from_re(2.0)),
            pd,
        )
        .unwrap()
        .solve(Milstein, &opts, 8)
        .unwrap();
        let d = dual.u_end()[0].eps;
        assert_eq!(dual.u_end()[0].re, x_end(&p), "same path, same value");
        let h = 1e-6;
        let (mut up, mut down) = (p, p);
        up[j] += h;
        down[j] -= h;
        let fd = (x_end(&up) - x_end(&down)) / (2.0 * h);
        assert!(
            (d - fd).abs() < 1e-6 * fd.abs().max(1.0),
            "p[{j}]: {d} vs {fd}"
        );
    }
}

/// Ornstein–Uhlenbeck `du = −θ u dt + σ dW`: additive noise.
#[derive(Clone)]
struct Ou;
impl SdeFunction for Ou {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        du[0] = -p[0] * u[0];
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], _u: &[T], p: &[T], _t: T) {
        g[0] = p[1];
    }
}

#[test]
fn sra1_has_strong_order_at_least_one_and_a_half_on_additive_noise() {
    let (theta, sigma) = (1.5, 0.8);
    let prob = SdeProblem::new(Ou, vec![1.0], (0.0, 1.0), vec![theta, sigma]).unwrap();
    let fine = 1.0 / 4096.0;
    let hs: Vec<f64> = (3..=7).map(|k| 1.0 / f64::from(1 << k)).collect();
    let (mut sra, mut em) = (vec![0.0; hs.len()], vec![0.0; hs.len()]);
    let mut sosra = vec![0.0; hs.len()];
    let paths = 300;
    for path in 0..paths {
        let grid = BrownianGrid::new(1, 0.0, fine, 4096, 7000 + path);
        // u(1) = e^{−θ} + σ ∫ e^{−θ(1−s)} dW, the integral on the fine grid
        // with its first-order correction (∫ (s − t_k) dW = h ΔW − I₁₀).
        let mut g = grid.clone();
        let (mut dw, mut i10) = ([0.0], [0.0]);
        let mut stoch = 0.0;
        for k in 0..4096 {
            let tk = k as f64 * fine;
            g.increment_i10(tk, fine, &mut dw, &mut i10);
            stoch += (-theta * (1.0 - tk)).exp() * (dw[0] + theta * (fine * dw[0] - i10[0]));
        }
        let exact = (-theta).exp() + sigma * stoch;
        for (k, &h) in hs.iter().enumerate() {
            let opts = SolveOptions::default().fixed_dt(h).saveat(vec![1.0]);
            let a = prob
                .solve_with_noise(Sra1, &opts, &mut grid.clone())
                .unwrap();
            let b = prob
                .solve_with_noise(EulerMaruyama, &opts, &mut grid.clone())
                .unwrap();
            let c = prob
                .solve_with_noise(Sosra, &opts, &mut grid.clone())
                .unwrap();
            sra[k] += (a.u_end()[0] - exact).abs() / paths as f64;
            em[k] += (b.u_end()[0] - exact).abs() / paths as f64;
            sosra[k] += (c.u_end()[0] - exact).abs() / paths as f64;
        }
    }
    let (p_sra, p_em) = (slope(&hs, &sra), slope(&hs, &em));
    let p_sosra = slope(&hs, &sosra);
    eprintln!(
        "additive noise: SRA1 {p_sra:.3} {sra:?}, SOSRA {p_sosra:.3} {sosra:?}, EM {p_em:.3}"
    );
    // Order 1.5 at least; with a linear drift the terms that limit it to
    // 1.5 vanish and it measures 2.
    assert!(p_sra > 1.3, "SRA1 {p_sra} {sra:?}");
    assert!(p_sosra > 1.3, "SOSRA {p_sosra} {sosra:?}");
    // EM is order 1 on additive noise.
    assert!((p_em - 1.0).abs() < 0.2, "EM {p_em}");
}

#[test]
fn adaptive_order_one_and_a_half_methods_keep_the_law_of_the_solution_through_rejections() {
    adaptive_keeps_the_law(Sriw1);
    adaptive_keeps_the_law(Sosri);
}

fn adaptive_keeps_the_law<M: SdeMethod + Send + Sync>(method: M) {
    // GBM's log is Gaussian: mean μ − σ²/2, variance σ²; compare the adaptive
    // solves' ln u(1) with it (the bridge must keep rejected steps' noise).
    let prob = SdeProblem::new(Gbm, vec![1.0], (0.0, 1.0), vec![MU, SIGMA]).unwrap();
    let opts = SolveOptions::default()
        .tolerances(1e-3, 1e-3)
        .saveat(vec![1.0]);
    let paths = 4000;
    let ens = prob
        .ensemble(
            method,
            &opts,
            EnsembleOptions {
                trajectories: paths,
                seed: 21,
            },
        )
        .unwrap();
    assert_eq!(ens.failed, 0);
    let logs: Vec<f64> = ens.values(0, 0).iter().map(|x| x.ln()).collect();
    let m = logs.iter().sum::<f64>() / paths as f64;
    let v = logs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (paths - 1) as f64;
    let se = SIGMA / (paths as f64).sqrt();
    assert!(
        (m - (MU - 0.5 * SIGMA * SIGMA)).abs() < 4.0 * se,
        "{}: mean {m}",
        M::NAME
    );
    assert!(
        (v / (SIGMA * SIGMA) - 1.0).abs() < 0.1,
        "{}: variance {v}",
        M::NAME
    );
    // Steps were rejected (so the bridge was used), and a seed fixes a path.
    let a = prob.solve_adaptive(method, &opts, 3).unwrap();
    let b = prob.solve_adaptive(method, &opts, 3).unwrap();
    assert_eq!(a.u_flat(), b.u_flat());
    let rejected: usize = (0..200)
        .map(|s| {
            prob.solve_adaptive(method, &opts, s)
                .unwrap()
                .stats
                .rejected
        })
        .sum();
    assert!(rejected > 0);
    eprintln!(
        "adaptive {}: {} steps, {} rejected (seed 3); {rejected} rejections over 200 paths",
        M::NAME,
        a.stats.accepted,
        a.stats.rejected
    );
}

/// A neural SDE layer's backward pass against central differences of its
/// forward pass (parameters and input), the noise fixed.
fn check_neural_sde_layer<M: SdeMethod>(method: M) {
    use neurode::nn::{Activation::*, Chain, Layer, NeuralSde, NnRng};
    use rand::SeedableRng;
    let drift = Chain::new(2).dense(8, Tanh).dense(2, Identity);
    let diffusion = Chain::new(2).dense(4, Tanh).dense(2, Sigmoid);
    let opts = SolveOptions::default()
        .fixed_dt(0.01)
        .saveat(vec![0.5, 1.0]);
    let layer = NeuralSde::new(drift, diffusion, (0.0, 1.0), method, opts, 17).unwrap();
    assert_eq!((layer.in_dim(), layer.out_dim()), (2, 4));
    let p = layer.init_params(&mut NnRng::seed_from_u64(4));
    let x = [0.3, -0.7];
    let w = [1.0, -0.5, 0.25, 2.0];
    let weighted = |p: &[f64], x: &[f64]| -> f64 {
        layer.apply(p, x).iter().zip(&w).map(|(a, b)| a * b).sum()
    };
    // Same seed, same path: the forward pass is deterministic.
    assert_eq!(layer.apply(&p, &x), layer.apply(&p, &x));
    assert_ne!(
        layer.apply(&p, &x),
        layer.clone().with_seed(18).apply(&p, &x)
    );
    let (mut xbar, mut pbar) = (vec![0.0; 2], vec![0.0; p.len()]);
    layer.backward(&p, &x, &[], &w, &mut xbar, &mut pbar, &mut []);
    let h = 1e-6;
    for k in 0..p.len() {
        let (mut a, mut b) = (p.clone(), p.clone());
        a[k] += h;
        b[k] -= h;
        let fd = (weighted(&a, &x) - weighted(&b, &x)) / (2.0 * h);
        assert!(
            (pbar[k] - fd).abs() < 1e-6 * fd.abs().max(1.0),
            "{}: p[{k}]: {} vs {fd}",
            M::NAME,
            pbar[k]
        );
    }
    for k in 0..2 {
        let (mut a, mut b) = (x, x);
        a[k] += h;
        b[k] -= h;
        let fd = (weighted(&p, &a) - weighted(&p, &b)) / (2.0 * h);
        assert!(
            (xbar[k] - fd).abs() < 1e-6 * fd.abs().max(1.0),
            "{}: x[{k}]: {} vs {fd}",
            M::NAME,
            xbar[k]
        );
    }
}

#[test]
fn a_neural_sde_layer_backpropagates_like_finite_differences_with_its_noise_fixed() {
    // Forward mode (Milstein) and the discrete adjoint (Euler–Maruyama).
    check_neural_sde_layer(Milstein);
    check_neural_sde_layer(EulerMaruyama);
}

#[test]
fn a_virtual_brownian_tree_is_a_brownian_path_at_every_resolution() {
    use neurode::sde::BrownianTree;
    // Milstein's strong order on GBM, the path queried from a tree.
    let prob = SdeProblem::new(Gbm, vec![1.0], (0.0, 1.0), vec![MU, SIGMA]).unwrap();
    let hs: Vec<f64> = (3..=7).map(|k| 1.0 / f64::from(1 << k)).collect();
    let mut errs = vec![0.0; hs.len()];
    let paths = 300;
    for path in 0..paths {
        let mut tree = BrownianTree::new(1, 0.0, 1.0, 1e-6, 500 + path);
        let mut w = [0.0];
        tree.w_at(1.0, &mut w);
        let exact = (MU - 0.5 * SIGMA * SIGMA + SIGMA * w[0]).exp();
        for (e, &h) in errs.iter_mut().zip(&hs) {
            let opts = SolveOptions::default().fixed_dt(h).saveat(vec![1.0]);
            let sol = prob.solve_with_noise(Milstein, &opts, &mut tree).unwrap();
            *e += (sol.u_end()[0] - exact).abs() / paths as f64;
        }
    }
    let p = slope(&hs, &errs);
    assert!((p - 1.0).abs() < 0.2, "Milstein on a tree: {p} {errs:?}");
}

#[test]
fn the_discrete_adjoint_equals_forward_mode_and_finite_differences() {
    use neurode::sde::SdeSensitivity;
    let p = vec![1.5, 1.0, 3.0, 1.0];
    let prob = SdeProblem::new(NoisyLv, vec![1.0, 1.0], (0.0, 2.0), p.clone()).unwrap();
    let opts = SolveOptions::default().fixed_dt(1e-3).saveat_step(0.5);
    let loss = SumOfSquares::towards_constant(0, 1.0);
    let (l_d, g_d) = prob
        .loss_and_gradient(EulerMaruyama, &opts, &loss, 4, SdeSensitivity::Discrete)
        .unwrap();
    let (l_f, g_f) = prob
        .loss_and_gradient(EulerMaruyama, &opts, &loss, 4, SdeSensitivity::ForwardMode)
        .unwrap();
    assert!((l_d - l_f).abs() < 1e-12 * l_f.abs().max(1.0));
    let value = |p: Vec<f64>| {
        let sol = prob
            .clone()
            .with_p(p)
            .unwrap()
            .solve(EulerMaruyama, &opts, 4)
            .unwrap();
        loss.value(&sol.t, sol.u_flat(), 2)
    };
    for j in 0..4 {
        assert!(
            (g_d[j] - g_f[j]).abs() < 1e-9 * g_f[j].abs().max(1.0),
            "p[{j}]: {} vs {}",
            g_d[j],
            g_f[j]
        );
        let h = 1e-6;
        let (mut a, mut b) = (p.clone(), p.clone());
        a[j] += h;
        b[j] -= h;
        let fd = (value(a) - value(b)) / (2.0 * h);
        assert!(
            (g_d[j] - fd).abs() < 1e-6 * fd.abs().max(1.0),
            "p[{j}]: {} vs {fd}",
            g_d[j]
        );
    }
}

/// Lotka–Volterra driven by three Wiener processes mixed by a matrix that
/// depends on the state and the parameters (general noise).
#[derive(Clone)]
struct MixedLv;
impl SdeFunction for MixedLv {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        NoisyLv.drift(du, u, p, t);
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], p: &[T], _t: T) {
        g[0] = u[0].scaled(0.1);
        g[1] = p[1].scaled(0.05);
        g[2] = u[1] * u[0].scaled(0.02);
        g[3] = p[0].scaled(0.03) * u[1];
        g[4] = T::cst(0.01);
        g[5] = u[1].scaled(0.1);
    }
    fn noise(&self) -> Noise {
        Noise::General(3)
    }
}

#[test]
fn the_discrete_adjoint_of_every_method_equals_forward_mode() {
    use neurode::sde::SdeSensitivity::{Discrete, ForwardMode};
    fn check<F: SdeFunction + Clone, M: SdeMethod>(prob: &SdeProblem<F>, method: M, dt: f64) {
        let opts = SolveOptions::default().fixed_dt(dt).saveat_step(0.25);
        let loss = SumOfSquares::towards_constant(0, 1.0);
        let (l_d, g_d) = prob
            .loss_and_gradient(method, &opts, &loss, 5, Discrete)
            .unwrap();
        let (l_f, g_f) = prob
            .loss_and_gradient(method, &opts, &loss, 5, ForwardMode)
            .unwrap();
        eprintln!("{}: {g_d:?} vs {g_f:?}", M::NAME);
        assert!(
            (l_d - l_f).abs() < 1e-12 * l_f.abs().max(1.0),
            "{}",
            M::NAME
        );
        for (j, (a, b)) in g_d.iter().zip(&g_f).enumerate() {
            assert!(
                (a - b).abs() < 1e-9 * b.abs().max(1.0),
                "{} p[{j}]: {a} vs {b}",
                M::NAME
            );
        }
    }
    let p = vec![1.5, 1.0, 3.0, 1.0];
    let lv = SdeProblem::new(NoisyLv, vec![1.0, 1.0], (0.0, 1.0), p.clone()).unwrap();
    check(&lv, Milstein, 1e-3);
    check(&lv, EulerHeun, 1e-3);
    check(&lv, Sriw1, 1e-2);
    check(&lv, Sosri, 1e-2);
    let ou = SdeProblem::new(Ou, vec![1.0], (0.0, 1.0), vec![1.5, 0.8]).unwrap();
    check(&ou, Sra1, 1e-2);
    check(&ou, Sosra, 1e-2);
    let mixed = SdeProblem::new(MixedLv, vec![1.0, 1.0], (0.0, 1.0), p).unwrap();
    check(&mixed, EulerMaruyama, 1e-3);
    check(&mixed, EulerHeun, 1e-3);
}

#[test]
fn a_neural_sde_uses_its_analytic_vjps_in_the_discrete_adjoint() {
    use neurode::nn::{Activation::*, Chain, Layer, NeuralSdeFunction, NnRng};
    use neurode::sde::SdeSensitivity;
    use rand::SeedableRng;
    let drift = Chain::new(2).dense(16, Tanh).dense(2, Identity);
    let diffusion = Chain::new(2).dense(8, Tanh).dense(2, Sigmoid);
    let mut rng = NnRng::seed_from_u64(6);
    let p = [drift.init_params(&mut rng), diffusion.init_params(&mut rng)].concat();
    let f = NeuralSdeFunction::new(drift, diffusion).unwrap();
    let prob = SdeProblem::new(f, vec![0.5, -0.2], (0.0, 1.0), p).unwrap();
    let opts = SolveOptions::default().fixed_dt(0.01).saveat_step(0.25);
    let loss = SumOfSquares::towards_constant(1, 0.3);
    let (_, g_d) = prob
        .loss_and_gradient(EulerMaruyama, &opts, &loss, 9, SdeSensitivity::Discrete)
        .unwrap();
    let (_, g_f) = prob
        .loss_and_gradient(EulerMaruyama, &opts, &loss, 9, SdeSensitivity::ForwardMode)
        .unwrap();
    let scale = g_f.iter().fold(0.0_f64, |m, g| m.max(g.abs()));
    for (a, b) in g_d.iter().zip(&g_f) {
        assert!((a - b).abs() < 1e-10 * scale, "{a} vs {b}");
    }
}

/// Two Ornstein–Uhlenbeck states driven by three Wiener processes through a
/// constant 2×3 matrix: additive, non-diagonal noise.
#[derive(Clone)]
struct MixedOu;
const MIXING: [[f64; 3]; 2] = [[0.6, -0.3, 0.2], [0.1, 0.5, -0.4]];
impl SdeFunction for MixedOu {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        du[0] = -p[0] * u[0];
        du[1] = -p[1] * u[1];
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], _u: &[T], _p: &[T], _t: T) {
        for (i, row) in MIXING.iter().enumerate() {
            for (j, &x) in row.iter().enumerate() {
                g[i * 3 + j] = T::cst(x);
            }
        }
    }
    fn noise(&self) -> Noise {
        Noise::General(3)
    }
}

#[test]
fn sosra_has_strong_order_one_and_a_half_on_non_diagonal_additive_noise() {
    let theta = [1.5, 0.7];
    let prob = SdeProblem::new(MixedOu, vec![1.0, -0.5], (0.0, 1.0), theta.to_vec()).unwrap();
    assert!(!Sra1::supports(Noise::General(3)) && Sosra::supports(Noise::General(3)));
    let fine = 1.0 / 4096.0;
    let hs: Vec<f64> = (3..=7).map(|k| 1.0 / f64::from(1 << k)).collect();
    let (mut sosra, mut em) = (vec![0.0; hs.len()], vec![0.0; hs.len()]);
    let paths = 200;
    for path in 0..paths {
        let grid = BrownianGrid::new(3, 0.0, fine, 4096, 9100 + path);
        // u_i(1) = e^{−θᵢ} u0ᵢ + Σⱼ Gᵢⱼ ∫ e^{−θᵢ(1−s)} dWⱼ, the integrals on
        // the fine grid with their first-order correction, as for one state.
        let mut g = grid.clone();
        let (mut dw, mut i10) = ([0.0; 3], [0.0; 3]);
        let mut exact = [(-theta[0]).exp(), -0.5 * (-theta[1]).exp()];
        for k in 0..4096 {
            let tk = k as f64 * fine;
            g.increment_i10(tk, fine, &mut dw, &mut i10);
            for (i, x) in exact.iter_mut().enumerate() {
                let decay = (-theta[i] * (1.0 - tk)).exp();
                for j in 0..3 {
                    *x += MIXING[i][j] * decay * (dw[j] + theta[i] * (fine * dw[j] - i10[j]));
                }
            }
        }
        for (k, &h) in hs.iter().enumerate() {
            let opts = SolveOptions::default().fixed_dt(h).saveat(vec![1.0]);
            let a = prob
                .solve_with_noise(Sosra, &opts, &mut grid.clone())
                .unwrap();
            let b = prob
                .solve_with_noise(EulerMaruyama, &opts, &mut grid.clone())
                .unwrap();
            let err = |u: &[f64]| (u[0] - exact[0]).abs().max((u[1] - exact[1]).abs());
            sosra[k] += err(a.u_end()) / paths as f64;
            em[k] += err(b.u_end()) / paths as f64;
        }
    }
    let (p_sosra, p_em) = (slope(&hs, &sosra), slope(&hs, &em));
    eprintln!("non-diagonal additive noise: SOSRA {p_sosra:.3} {sosra:?}, EM {p_em:.3}");
    assert!(p_sosra > 1.3, "SOSRA {p_sosra} {sosra:?}");
    assert!(sosra[4] < em[4] / 10.0);
}

/// Lotka–Volterra whose noise strength is a parameter: `g = p₄ u + 0.05`,
/// diagonal, or `g = p₄ u` driven by one Wiener process (scalar noise).
#[derive(Clone)]
struct LvNoiseOfP {
    scalar: bool,
    /// Whether the diffusion gives its VJP (else the adjoint uses AD).
    analytic: bool,
}
impl SdeFunction for LvNoiseOfP {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1];
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1];
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], p: &[T], _t: T) {
        let shift = T::cst(if self.scalar { 0.0 } else { 0.05 });
        g[0] = p[4] * u[0] + shift;
        g[1] = p[4] * u[1] + shift;
    }
    fn noise(&self) -> Noise {
        if self.scalar {
            Noise::Scalar
        } else {
            Noise::Diagonal
        }
    }
    fn diffusion_vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        _t: T,
        vu: &mut [T],
        vp: &mut [T],
    ) -> bool {
        if !self.analytic {
            return false;
        }
        vu[0] = v[0] * p[4];
        vu[1] = v[1] * p[4];
        vp[..4].fill(T::zero());
        vp[4] = v[0] * u[0] + v[1] * u[1];
        true
    }
}

#[test]
fn the_stochastic_adjoint_converges_to_the_gradient_along_its_tree() {
    use neurode::sde::BrownianTree;
    use neurode::sde::SdeSensitivity::BacksolveAdjoint;
    fn check<F: SdeFunction + Clone, M: SdeMethod + Copy>(
        name: &str,
        f: F,
        p: &[f64],
        m: usize,
        method: M,
    ) -> Vec<f64> {
        let loss = SumOfSquares::towards_constant(0, 1.0);
        let (mut errs, mut last) = (Vec::new(), Vec::new());
        for dt in [1e-2, 2.5e-3, 6.25e-4] {
            let opts = SolveOptions::default().fixed_dt(dt).saveat_step(0.25);
            let make = |p: &[f64]| {
                SdeProblem::new(f.clone(), vec![1.0, 1.0], (0.0, 1.0), p.to_vec()).unwrap()
            };
            let (l, g) = make(p)
                .loss_and_gradient(method, &opts, &loss, 11, BacksolveAdjoint)
                .unwrap();
            // The loss along the same tree (resolved to a hundredth of a step).
            let value = |q: &[f64]| {
                let mut tree = BrownianTree::new(m, 0.0, 1.0, 1e-2 * dt, 11);
                let sol = make(q).solve_with_noise(method, &opts, &mut tree).unwrap();
                loss.value(&sol.t, sol.u_flat(), 2)
            };
            assert!((l - value(p)).abs() < 1e-12 * l.max(1.0));
            let fd: Vec<f64> = (0..p.len())
                .map(|j| {
                    let (mut up, mut down) = (p.to_vec(), p.to_vec());
                    up[j] += 1e-6;
                    down[j] -= 1e-6;
                    (value(&up) - value(&down)) / 2e-6
                })
                .collect();
            let scale = fd.iter().fold(0.0_f64, |s, x| s.max(x.abs()));
            let err = g
                .iter()
                .zip(&fd)
                .fold(0.0_f64, |s, (a, b)| s.max((a - b).abs() / scale));
            eprintln!(
                "{name}, dt {dt:e}: stochastic adjoint {g:?}\n  differences {fd:?} (error {err:.2e})"
            );
            errs.push(err);
            last = g;
        }
        // Converging with the step (16× smaller over the three; one path,
        // so not every refinement need gain).
        assert!(errs[2] < errs[0] / 4.0, "{name}: {errs:?}");
        assert!(errs[2] < 2e-4, "{name}: {errs:?}");
        last
    }
    let p = [1.5, 1.0, 3.0, 1.0, 0.2];
    for scalar in [false, true] {
        let m = if scalar { 1 } else { 2 };
        let ad = check(
            &format!("scalar {scalar}, AD"),
            LvNoiseOfP {
                scalar,
                analytic: false,
            },
            &p,
            m,
            Sriw1,
        );
        // The diffusion's own VJP (run in duals for the Itô correction's
        // second derivatives) gives the same gradient.
        let own = check(
            &format!("scalar {scalar}, own VJP"),
            LvNoiseOfP {
                scalar,
                analytic: true,
            },
            &p,
            m,
            Sriw1,
        );
        for (a, b) in ad.iter().zip(&own) {
            assert!(
                (a - b).abs() < 1e-10 * b.abs().max(1.0),
                "{ad:?} vs {own:?}"
            );
        }
    }
}

/// Lotka–Volterra driven by two Wiener processes through a full noise
/// matrix, `g = [[p₄ x, 0.1 x], [0.05 y, p₄ y]]` (each row proportional to
/// its state, so the noise commutes).
#[derive(Clone)]
struct LvGeneralNoise;
impl SdeFunction for LvGeneralNoise {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        LvNoiseOfP {
            scalar: false,
            analytic: false,
        }
        .drift(du, u, p, t);
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], p: &[T], _t: T) {
        g[0] = p[4] * u[0];
        g[1] = u[0].scaled(0.1);
        g[2] = u[1].scaled(0.05);
        g[3] = p[4] * u[1];
    }
    fn noise(&self) -> Noise {
        Noise::General(2)
    }
}

#[test]
fn the_stochastic_adjoint_of_general_noise_converges_too() {
    use neurode::sde::BrownianTree;
    use neurode::sde::SdeSensitivity::BacksolveAdjoint;
    let loss = SumOfSquares::towards_constant(0, 1.0);
    let p = [1.5, 1.0, 3.0, 1.0, 0.2];
    let make = |p: &[f64]| {
        SdeProblem::new(LvGeneralNoise, vec![1.0, 1.0], (0.0, 1.0), p.to_vec()).unwrap()
    };
    // The gradient along the tree, by differences of a fine Euler–Maruyama
    // solve (the same path: a tree answers the same at any resolution).
    let value = |q: &[f64], dt: f64| {
        let opts = SolveOptions::default().fixed_dt(dt).saveat_step(0.25);
        let mut tree = BrownianTree::new(2, 0.0, 1.0, 1e-2 * dt, 11);
        let sol = make(q)
            .solve_with_noise(EulerMaruyama, &opts, &mut tree)
            .unwrap();
        loss.value(&sol.t, sol.u_flat(), 2)
    };
    let fine = 2.5e-5;
    let reference: Vec<f64> = (0..p.len())
        .map(|j| {
            let (mut up, mut down) = (p.to_vec(), p.to_vec());
            up[j] += 1e-5;
            down[j] -= 1e-5;
            (value(&up, fine) - value(&down, fine)) / 2e-5
        })
        .collect();
    let scale = reference.iter().fold(0.0_f64, |s, x| s.max(x.abs()));
    let mut errs = Vec::new();
    for dt in [1e-2, 2.5e-3, 6.25e-4, 1.5625e-4] {
        let opts = SolveOptions::default().fixed_dt(dt).saveat_step(0.25);
        let (l, g) = make(&p)
            .loss_and_gradient(EulerMaruyama, &opts, &loss, 11, BacksolveAdjoint)
            .unwrap();
        assert!((l - value(&p, dt)).abs() < 1e-12 * l.max(1.0));
        let err = g
            .iter()
            .zip(&reference)
            .fold(0.0_f64, |s, (a, b)| s.max((a - b).abs() / scale));
        eprintln!("general noise, dt {dt:e}: stochastic adjoint {g:?} (error {err:.2e})");
        errs.push(err);
    }
    eprintln!("reference {reference:?}");
    // Measured: 2.1e-2, 1.2e-2, 1.2e-3, 4.5e-4 (the reference's own error
    // is near the last); the Itô correction alone is about 2.5% here.
    assert!(errs[3] < errs[0] / 10.0, "{errs:?}");
    assert!(errs[3] < 2e-3, "{errs:?}");
}

/// `du = u² dt + σ dW`: blows up in finite time on some paths only.
#[derive(Clone)]
struct Explosive;
impl SdeFunction for Explosive {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], _p: &[T], _t: T) {
        du[0] = u[0] * u[0];
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], _u: &[T], p: &[T], _t: T) {
        g[0] = p[0];
    }
}

/// Path `i` of a fixed-step ensemble against the solve of seed `seed + i`
/// on its own, bit for bit; returns (successes, failures).
fn ensemble_against_solo<F: SdeFunction + Sync, M: SdeMethod + Send + Sync>(
    prob: &SdeProblem<F>,
    method: M,
    opts: &SolveOptions,
    paths: usize,
) -> (usize, usize) {
    let eopts = EnsembleOptions {
        trajectories: paths,
        seed: 5,
    };
    let ens = prob.ensemble(method, opts, eopts).unwrap();
    let alone: Vec<_> = (0..paths as u64)
        .map(|i| prob.solve(method, opts, 5 + i).unwrap())
        .collect();
    let good: Vec<_> = alone.iter().filter(|s| s.is_success()).collect();
    assert_eq!((ens.paths(), ens.failed), (good.len(), paths - good.len()));
    assert_eq!(ens.t, good[0].t);
    for (path, sol) in good.iter().enumerate() {
        for k in 0..ens.t.len() {
            for j in 0..sol.num_states() {
                assert_eq!(
                    ens.values(k, j)[path],
                    sol.u(k)[j],
                    "{} path {path}",
                    M::NAME
                );
            }
        }
    }
    (ens.paths(), ens.failed)
}

/// `du = NN(u) dt + 0.1 u dW`.
struct NetDrift(Chain);
impl SdeFunction for NetDrift {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        let mut tape = vec![T::zero(); self.0.tape_len()];
        self.0.forward(p, u, du, &mut tape);
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], _p: &[T], _t: T) {
        g.iter_mut().zip(u).for_each(|(g, &x)| *g = x.scaled(0.1));
    }
}

/// Damped where `u > 1`: paths take different branches.
#[derive(Clone)]
struct Branching;
impl SdeFunction for Branching {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], _p: &[T], _t: T) {
        du[0] = if u[0] > T::one() { -u[0] } else { u[0].sin() };
        du[1] = u[0] - u[1];
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], p: &[T], _t: T) {
        g[0] = p[0] * u[1].cos();
        g[1] = p[0] * u[1];
    }
}

#[test]
fn a_fixed_step_ensemble_is_each_path_solved_alone() {
    // 37 paths: two full lockstep blocks and a short one.
    let opts = SolveOptions::default().fixed_dt(0.01).saveat_step(0.5);
    let smooth = SdeProblem::new(Gbm, vec![1.0], (0.0, 2.0), vec![MU, SIGMA]).unwrap();
    assert_eq!(
        ensemble_against_solo(&smooth, EulerMaruyama, &opts, 37),
        (37, 0)
    );
    assert_eq!(ensemble_against_solo(&smooth, Milstein, &opts, 37), (37, 0));
    assert_eq!(ensemble_against_solo(&smooth, Sriw1, &opts, 37), (37, 0));
    // A network drift: its activations round as in a plain solve.
    let mut rng = NnRng::seed_from_u64(3);
    let net = Chain::new(2).dense(32, Tanh).dense(2, Identity);
    let p: Vec<f64> = net.init_params(&mut rng).iter().map(|w| 3.0 * w).collect();
    let neural = SdeProblem::new(NetDrift(net), vec![2.0, -1.5], (0.0, 2.0), p).unwrap();
    assert_eq!(
        ensemble_against_solo(&neural, EulerMaruyama, &opts, 32),
        (32, 0)
    );
    // A neural SDE (drift and diffusion networks) shares one function
    // across the ensemble's threads.
    let f = NeuralSdeFunction::new(
        Chain::new(2).dense(16, Tanh).dense(2, Identity),
        Chain::new(2).dense(8, Tanh).dense(2, Softplus),
    )
    .unwrap();
    let mut p = vec![0.0; f.num_params()];
    let nd = Chain::new(2).dense(16, Tanh).dense(2, Identity);
    let ng = Chain::new(2).dense(8, Tanh).dense(2, Softplus);
    nd.init(&mut rng, &mut p[..nd.num_params()]);
    ng.init(&mut rng, &mut p[nd.num_params()..]);
    let neural_sde = SdeProblem::new(f, vec![0.5, -0.5], (0.0, 2.0), p).unwrap();
    assert_eq!(
        ensemble_against_solo(&neural_sde, EulerMaruyama, &opts, 21),
        (21, 0)
    );
    // Lanes that branch apart are solved one path at a time.
    let branching = SdeProblem::new(Branching, vec![0.5, 0.0], (0.0, 3.0), vec![0.8]).unwrap();
    assert_eq!(
        ensemble_against_solo(&branching, EulerHeun, &opts, 37),
        (37, 0)
    );
    // Some paths explode: they are left out, the others kept.
    let prob = SdeProblem::new(Explosive, vec![0.3], (0.0, 3.0), vec![1.0]).unwrap();
    let (good, failed) = ensemble_against_solo(&prob, EulerMaruyama, &opts, 19);
    assert!(good > 0 && failed > 0, "{good} {failed}");
    for i in 0..19 {
        let sol = prob.solve(EulerMaruyama, &opts, 5 + i).unwrap();
        if !sol.is_success() {
            assert_eq!(sol.retcode, ReturnCode::Unstable);
            assert!(sol.u_end().iter().all(|x| x.is_finite()));
        }
    }
    // No path at all still checks the options.
    let none = EnsembleOptions {
        trajectories: 0,
        seed: 5,
    };
    assert!(prob.ensemble(EulerMaruyama, &opts, none).unwrap().paths() == 0);
    let bad = SolveOptions::default().fixed_dt(-0.01);
    assert!(prob.ensemble(EulerMaruyama, &bad, none).is_err());
}
