//! W5: the seed's stochastic Lotka–Volterra (LV drift with p = (1.5, 1, 3, 1),
//! diagonal noise 0.1·u, u0 = (1, 1), t ∈ [0, 10], saved every 0.1), at a
//! fixed dt = 1e-3 (10,000 steps per path): median time per path and per
//! ensemble of 1000 paths (all cores with the default `parallel` feature,
//! and on one thread), with mean and spread of x(10).
//!
//! `cargo bench -p neurode --bench sde`; JSON lines go to stderr.

use std::hint::black_box;
use std::time::Instant;

use neurode::prelude::*;
use neurode::sde::{
    EnsembleOptions, EulerHeun, EulerMaruyama, Milstein, SdeFunction, SdeMethod, SdeProblem, Sosri,
    Sriw1,
};
use neurode::solve::Stepping;

#[derive(Clone)]
struct NoisyLv;
impl SdeFunction for NoisyLv {
    #[inline]
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1];
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1];
    }
    #[inline]
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], _p: &[T], _t: T) {
        g[0] = u[0].scaled(0.1);
        g[1] = u[1].scaled(0.1);
    }
    fn num_states(&self) -> Option<usize> {
        Some(2)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn row<M: SdeMethod + Send + Sync>(
    label: &str,
    method: M,
    prob: &SdeProblem<NoisyLv>,
    opts: &SolveOptions,
) {
    let adaptive = matches!(opts.stepping, Stepping::Adaptive { .. });
    let path = median(
        (0..21)
            .map(|i| {
                let t = Instant::now();
                if adaptive {
                    black_box(prob.solve_adaptive(method, opts, i).expect("solve"));
                } else {
                    black_box(prob.solve(method, opts, i).expect("solve"));
                }
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let ens = |seed| {
        prob.ensemble(
            method,
            opts,
            EnsembleOptions {
                trajectories: 1000,
                seed,
            },
        )
    };
    let batch = median(
        (0..5)
            .map(|i| {
                let t = Instant::now();
                black_box(ens(1000 * i).expect("ensemble"));
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let batch1 = median(
        (0..3)
            .map(|i| {
                let t = Instant::now();
                pool.install(|| black_box(ens(7000 + i).expect("ensemble")));
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let e = ens(12345).expect("ensemble");
    let last = e.t.len() - 1;
    let (mean, std) = (e.mean()[last][0], e.std()[last][0]);
    println!(
        "{:<22} {:>12.3} {:>14.1} {:>14.1} {:>10.4} {:>10.4} {:>8}",
        label,
        path * 1e3,
        batch * 1e3,
        batch1 * 1e3,
        mean,
        std,
        e.failed
    );
    eprintln!(
        "{}",
        serde_json::json!({"workload": "W5", "library": "neurode", "method": label,
            "dtype": "float64", "path_median_s": path, "batch1000_median_s": batch,
            "batch1000_one_thread_median_s": batch1, "threads": rayon::current_num_threads(),
            "x10_mean": mean, "x10_std": std, "x10_mean_stderr": std / (e.paths() as f64).sqrt(),
            "n_paths_finite": e.paths()})
    );
}

/// A neural SDE's gradient (drift 2→32→32→2 tanh, diffusion 2→16→2
/// sigmoid), Euler–Maruyama at dt = 0.01 over [0, 1], by each method.
fn neural_gradient() {
    use neurode::nn::{Activation::*, Chain, Layer, NeuralSdeFunction, NnRng};
    use neurode::sde::SdeSensitivity;
    use rand::SeedableRng;
    let drift = Chain::new(2)
        .dense(32, Tanh)
        .dense(32, Tanh)
        .dense(2, Identity);
    let diffusion = Chain::new(2).dense(16, Tanh).dense(2, Sigmoid);
    let mut rng = NnRng::seed_from_u64(1);
    let p = [drift.init_params(&mut rng), diffusion.init_params(&mut rng)].concat();
    let np = p.len();
    let prob = SdeProblem::new(
        NeuralSdeFunction::new(drift, diffusion).expect("nets"),
        vec![0.5, -0.2],
        (0.0, 1.0),
        p,
    )
    .expect("problem");
    let opts = SolveOptions::default().fixed_dt(0.01).saveat_step(0.1);
    let loss = SumOfSquares::towards_constant(0, 0.3);
    println!("\nNeural SDE gradient ({np} parameters), Euler–Maruyama dt = 0.01 over [0, 1]");
    println!("{:<22} {:>12}", "method", "median ms");
    for (name, s) in [
        ("ForwardMode", SdeSensitivity::ForwardMode),
        ("Discrete", SdeSensitivity::Discrete),
        ("BacksolveAdjoint", SdeSensitivity::BacksolveAdjoint),
    ] {
        let ms = median(
            (0..9)
                .map(|i| {
                    let t = Instant::now();
                    black_box(
                        prob.loss_and_gradient(EulerMaruyama, &opts, &loss, i, s)
                            .expect("gradient"),
                    );
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect(),
        );
        println!("{name:<22} {ms:>12.3}");
    }
}

fn main() {
    let prob = SdeProblem::new(
        NoisyLv,
        vec![1.0, 1.0],
        (0.0, 10.0),
        vec![1.5, 1.0, 3.0, 1.0],
    )
    .expect("problem");
    let opts = SolveOptions::default().fixed_dt(1e-3).saveat_step(0.1);
    println!("W5 stochastic Lotka–Volterra, noise 0.1·u, dt = 1e-3 (10,000 steps), 101 saves, f64");
    println!(
        "{:<22} {:>12} {:>14} {:>14} {:>10} {:>10} {:>8}",
        "method", "path ms", "1000 paths ms", "1 thread ms", "mean x10", "std x10", "failed"
    );
    row("EM dt=1e-3", EulerMaruyama, &prob, &opts);
    row("Milstein dt=1e-3", Milstein, &prob, &opts);
    row("EulerHeun dt=1e-3", EulerHeun, &prob, &opts);
    row("SRIW1 dt=1e-3", Sriw1, &prob, &opts);
    for tol in [1e-2, 1e-3] {
        let adaptive = SolveOptions::default()
            .tolerances(tol, tol)
            .saveat_step(0.1);
        row(&format!("SRIW1 adaptive {tol:e}"), Sriw1, &prob, &adaptive);
        row(&format!("SOSRI adaptive {tol:e}"), Sosri, &prob, &adaptive);
    }
    neural_gradient();
}
