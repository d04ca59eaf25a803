//! Training benchmarks, the peers' workloads (`../shared/peers/run ml`):
//!
//! - W3: the spiral neural ODE trained for 300 ADAM steps (the `spiral`
//!   demo), with the discrete adjoint and with the interpolating adjoint:
//!   median and mean time per iteration (loss + gradient + update), and the
//!   loss reached.
//! - W7: a batch of 256 states through a 2→64→64→2 tanh MLP over
//!   t ∈ [0, 1], Tsit5 at rtol = atol = 1e-5, loss = mean of y(1)²: time per
//!   loss + gradient by each reverse method (f64; the peers run f32), with
//!   our default PI step-size controller and with the peers' I controller.
//!
//! `cargo bench -p neurode-cli --bench train`; JSON lines go to stderr.

use std::hint::black_box;
use std::time::Instant;

use neurode::nn::{Activation::*, Chain, NeuralRhs};
use neurode::prelude::*;
use neurode::solve::ControllerOptions;
use neurode_cli::demos::spiral::train_spiral_with;

fn shared_data(name: &str) -> serde_json::Value {
    let dir = std::env::var("NEURODE_PEERS_DATA").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/peers/ml/data").into()
    });
    let text = std::fs::read_to_string(format!("{dir}/{name}"))
        .unwrap_or_else(|e| panic!("reading {dir}/{name}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .flat_map(|x| match x.as_array() {
            Some(row) => row.iter().map(|y| y.as_f64().expect("number")).collect(),
            None => vec![x.as_f64().expect("number")],
        })
        .collect()
}

fn w3() {
    println!("W3 spiral training, 300 ADAM(0.05) steps, Tsit5 rtol 1e-7 atol 1e-9, f64");
    println!(
        "{:<24} {:>12} {:>12} {:>12} {:>12}",
        "gradient", "median ms", "mean ms", "loss 0", "loss 300"
    );
    fn row<S: Sensitivity>(name: &str, s: S) {
        let o = train_spiral_with(300, 0, None, false, s).expect("training");
        let mean = o.total.as_secs_f64() / o.losses.len() as f64;
        println!(
            "{name:<24} {:>12.3} {:>12.3} {:>12.4e} {:>12.4e}",
            o.per_iteration.as_secs_f64() * 1e3,
            mean * 1e3,
            o.initial_loss,
            o.final_loss
        );
        eprintln!(
            "{}",
            serde_json::json!({"workload": "W3", "library": "neurode", "method": name,
                "dtype": "float64", "iters_completed": o.losses.len(),
                "median_iter_s": o.per_iteration.as_secs_f64(), "mean_iter_s": mean,
                "total_train_s": o.total.as_secs_f64(), "loss_at_0": o.initial_loss,
                "final_loss": o.final_loss})
        );
    }
    row("Discrete", Discrete::default());
    row("Adjoint::interpolating", Adjoint::interpolating());
}

/// `mean(y(1)²)` over the batch and both components.
struct MeanSquare;
impl Loss for MeanSquare {
    fn value<T: Scalar>(&self, _t: &[f64], u: &[T], _n: usize) -> T {
        let s = u.iter().fold(T::zero(), |a, &x| a + x * x);
        s.scaled(1.0 / u.len() as f64)
    }
    fn value_and_gradient(&self, _t: &[f64], u: &[f64], _n: usize, grad: &mut [f64]) -> f64 {
        let k = 1.0 / u.len() as f64;
        for (g, x) in grad.iter_mut().zip(u) {
            *g = 2.0 * k * x;
        }
        k * u.iter().map(|x| x * x).sum::<f64>()
    }
}

fn w7() {
    let init = shared_data("w7_init.json");
    let mut p = Vec::new();
    for layer in init["layers"].as_array().expect("layers") {
        p.extend(floats(&layer["W"]));
        p.extend(floats(&layer["b"]));
    }
    let y0 = floats(&init["y0"]);
    let batch = y0.len() / 2;
    let net = Chain::new(2)
        .dense(64, Tanh)
        .dense(64, Tanh)
        .dense(2, Identity);
    let prob64 = OdeProblem::new(
        NeuralRhs::batched(net.clone(), batch),
        y0.clone(),
        (0.0, 1.0),
        p.clone(),
    )
    .expect("problem");
    let prob32 = OdeProblem::new(NeuralRhs::batched(net, batch).in_f32(), y0, (0.0, 1.0), p)
        .expect("problem");
    let opts = SolveOptions::default()
        .tolerances(1e-5, 1e-5)
        .saveat(vec![1.0]);
    println!(
        "\nW7 batched neural ODE gradient: {batch} states × 2, MLP 2→64→64→2 tanh, Tsit5 rtol = atol = 1e-5\n\
         (solver and adjoint in f64; the network in f64, or in f32 as the peers run it)"
    );
    println!(
        "{:<26} {:>8} {:>12} {:>9} {:>9} {:>12}",
        "method", "network", "median ms", "fwd nfe", "bwd nfe", "loss"
    );
    fn row<S: Sensitivity + Clone>(
        name: &str,
        dtype: &str,
        prob: &OdeProblem<NeuralRhs<Chain>>,
        opts: &SolveOptions,
        s: S,
    ) {
        let g = prob
            .gradient(Tsit5, opts, &MeanSquare, s.clone())
            .expect("gradient");
        let mut times: Vec<f64> = (0..7)
            .map(|_| {
                let t = Instant::now();
                black_box(
                    prob.loss_and_gradient(Tsit5, opts, &MeanSquare, s.clone())
                        .expect("gradient"),
                );
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<26} {dtype:>8} {:>12.2} {:>9} {:>9} {:>12.6e}",
            times[3] * 1e3,
            g.stats.forward.f_evals,
            g.stats.backward.f_evals,
            g.loss
        );
        eprintln!(
            "{}",
            serde_json::json!({"workload": "W7", "library": "neurode", "method": name,
                "dtype": format!("solver float64, network {dtype}"), "median_s": times[3], "loss": g.loss,
                "nfe_forward": g.stats.forward.f_evals, "nfe_backward": g.stats.backward.f_evals})
        );
    }
    // The peers' step-size controller: diffrax's PIDController defaults and
    // torchdiffeq's are the I controller, factor 0.9 err^(-1/5) in [0.2, 10];
    // ours defaults to OrdinaryDiffEq's PI controller, which grows steps
    // more cautiously when the error estimate sits near an f32 noise floor.
    let i_opts = opts.clone().controller(ControllerOptions {
        beta1: Some(0.2),
        beta2: Some(0.0),
        ..ControllerOptions::default()
    });
    for (dtype, prob) in [("float64", &prob64), ("float32", &prob32)] {
        row(
            "Discrete, I controller",
            dtype,
            prob,
            &i_opts,
            Discrete::default(),
        );
        row("Discrete", dtype, prob, &opts, Discrete::default());
        row(
            "Adjoint::interpolating",
            dtype,
            prob,
            &opts,
            Adjoint::interpolating(),
        );
        row(
            "Adjoint::backsolve",
            dtype,
            prob,
            &opts,
            Adjoint::backsolve(),
        );
    }
}

/// `cargo bench -p neurode-cli --bench train -- W7` runs one workload.
fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.starts_with('W'))
        .collect();
    let wanted = |w: &str| only.is_empty() || only.iter().any(|o| o == w);
    if wanted("W3") {
        w3();
    }
    if wanted("W7") {
        w7();
    }
}
