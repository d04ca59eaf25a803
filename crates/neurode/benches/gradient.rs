//! Gradient benchmarks, the peers' workloads (`../shared/peers/run ml`):
//!
//! - W2: `dL/dp` of the Lotka–Volterra loss `Σ_{t=0:0.1:10} (x(t) - 1)²` at
//!   `p = (2.2, 1, 2, 0.4)`, Tsit5 at rtol = atol = 1e-6, by every
//!   sensitivity method: median time per gradient, its ratio to one plain
//!   solve, work, and the error against the peers' reference gradient.
//! - W3's gradient: the spiral neural ODE, `u' = W2 tanh(W1 u³ + b1) + b2`
//!   (2→50→2, 252 parameters, the peers' initial weights), 30 saved points
//!   on `[0, 1.5]`, Tsit5 at rtol = 1e-7, atol = 1e-9, in f64. The right-hand
//!   side supplies its vector–Jacobian products analytically.
//!
//! - Delay equations: the seed's delayed Lotka–Volterra (lag 0.1, 4
//!   parameters, Tsit5 at 1e-6, saved every 0.1 on `[0, 10]`) and a neural
//!   DDE `u' = NN([u(t); u(t − 0.2)])` (4→16→2, 114 parameters, `[0, 2]`),
//!   and a delay that moves with the state, `u(t − 1 − p1 u²)`, with the
//!   discontinuities it carries tracked (steps cut there; `[0, 4]`), by
//!   forward mode and the discrete adjoint.
//!
//! `cargo bench -p neurode --bench gradient [-- W2|W3|DDE]` prints tables; one JSON object
//! per measurement goes to stderr.

use std::hint::black_box;
use std::time::Instant;

use neurode::dde::{DdeFunction, DdeProblem, DdeSensitivity, History, MethodOfSteps};
use neurode::prelude::*;
use neurode::sensitivity::{Checkpointing, Sensitivity};

ode_system! {
    /// Lotka–Volterra predator–prey.
    struct LotkaVolterra;
    fn rhs<T>(t; x, y; a, b, c, d) -> (dx, dy) {
        dx = a * x - b * x * y;
        dy = -c * y + d * x * y;
    }
}

/// Median seconds per call of `f`, from `samples` batches sized to take
/// about `target` seconds each.
fn median_time(mut f: impl FnMut(), target: f64, samples: usize) -> f64 {
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-9);
    let batch = ((target / once) as usize).clamp(1, 100_000);
    let mut times: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_secs_f64() / batch as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[samples / 2]
}

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

/// The spiral model's right-hand side with its analytic VJPs. Parameters:
/// `W1` (50×2, row-major), `b1` (50), `W2` (2×50), `b2` (2).
#[derive(Clone, Copy, Debug)]
struct SpiralNet;
const H: usize = 50;

impl SpiralNet {
    fn split<T>(p: &[T]) -> (&[T], &[T], &[T], &[T]) {
        let (w1, rest) = p.split_at(2 * H);
        let (b1, rest) = rest.split_at(H);
        let (w2, b2) = rest.split_at(2 * H);
        (w1, b1, w2, b2)
    }
}

impl OdeFunction for SpiralNet {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        let (w1, b1, w2, b2) = Self::split(p);
        let (x, y) = (u[0] * u[0] * u[0], u[1] * u[1] * u[1]);
        let (mut d0, mut d1) = (b2[0], b2[1]);
        for j in 0..H {
            let h = (w1[2 * j] * x + w1[2 * j + 1] * y + b1[j]).tanh();
            d0 += w2[j] * h;
            d1 += w2[H + j] * h;
        }
        du[0] = d0;
        du[1] = d1;
    }
    fn num_params(&self) -> Option<usize> {
        Some(5 * H + 2)
    }
    fn vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        _t: T,
        vu: &mut [T],
        vp: &mut [T],
        vt: Option<&mut T>,
    ) -> bool {
        let (w1, b1, w2, _) = Self::split(p);
        let (x, y) = (u[0] * u[0] * u[0], u[1] * u[1] * u[1]);
        let (mut gx, mut gy) = (T::zero(), T::zero());
        for j in 0..H {
            let h = (w1[2 * j] * x + w1[2 * j + 1] * y + b1[j]).tanh();
            // Through W2 and b2.
            vp[3 * H + j] = v[0] * h;
            vp[4 * H + j] = v[1] * h;
            // Back through tanh and the first layer.
            let a = (w2[j] * v[0] + w2[H + j] * v[1]) * (T::one() - h * h);
            vp[2 * j] = a * x;
            vp[2 * j + 1] = a * y;
            vp[2 * H + j] = a;
            gx += w1[2 * j] * a;
            gy += w1[2 * j + 1] * a;
        }
        vp[5 * H] = v[0];
        vp[5 * H + 1] = v[1];
        vu[0] = gx * u[0] * u[0] * T::cst(3.0);
        vu[1] = gy * u[1] * u[1] * T::cst(3.0);
        if let Some(vt) = vt {
            *vt = T::zero();
        }
        true
    }
}

struct Row {
    name: String,
    seconds: f64,
    grad: Gradient,
}

fn measure<F, M, L, S>(
    name: &str,
    prob: &OdeProblem<F>,
    method: M,
    opts: &SolveOptions,
    loss: &L,
    sens: S,
    target: f64,
) -> Row
where
    F: OdeFunction + Clone,
    M: OdeMethod + Clone,
    L: Loss,
    S: Sensitivity + Clone,
{
    let grad = prob
        .gradient(method.clone(), opts, loss, sens.clone())
        .expect("gradient");
    let seconds = median_time(
        || {
            black_box(
                prob.loss_and_gradient(method.clone(), opts, loss, sens.clone())
                    .expect("gradient"),
            );
        },
        target,
        7,
    );
    Row {
        name: name.into(),
        seconds,
        grad,
    }
}

fn max_rel_err(g: &[f64], reference: &[f64]) -> f64 {
    g.iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs() / b.abs())
        .fold(0.0, f64::max)
}

fn report(workload: &str, rows: &[Row], solve_s: f64, reference: &[f64]) {
    println!(
        "{:<32} {:>11} {:>8} {:>9} {:>9} {:>7} {:>6} {:>10}",
        "method", "median µs", "÷solve", "fwd nfe", "bwd nfe", "vjps", "ckpts", "max relerr"
    );
    for r in rows {
        let s = &r.grad.stats;
        let err = max_rel_err(&r.grad.dp, reference);
        println!(
            "{:<32} {:>11.1} {:>8.1} {:>9} {:>9} {:>7} {:>6} {:>10.2e}",
            r.name,
            r.seconds * 1e6,
            r.seconds / solve_s,
            s.forward.f_evals,
            s.backward.f_evals,
            s.vjps,
            s.checkpoints,
            err
        );
        eprintln!(
            "{}",
            serde_json::json!({
                "workload": workload, "library": "neurode", "method": r.name,
                "median_s": r.seconds, "ratio_to_solve": r.seconds / solve_s,
                "nfe_forward": s.forward.f_evals, "nfe_backward": s.backward.f_evals,
                "vjps": s.vjps, "checkpoints": s.checkpoints, "loss": r.grad.loss,
                "grad": r.grad.dp, "grad_max_rel_err": err,
            })
        );
    }
}

fn w2() {
    let data = shared_data("w2_reference.json");
    let reference = floats(&data["grad_fd"]);
    let prob = OdeProblem::new(
        LotkaVolterra,
        vec![1.0, 1.0],
        (0.0, 10.0),
        vec![2.2, 1.0, 2.0, 0.4],
    )
    .expect("problem");
    let opts = SolveOptions::default()
        .tolerances(1e-6, 1e-6)
        .saveat_step(0.1);
    let loss = SumOfSquares::towards_constant(0, 1.0);
    let solve_s = median_time(
        || {
            black_box(prob.solve(Tsit5, &opts).expect("solve"));
        },
        0.02,
        9,
    );
    println!(
        "W2 Lotka–Volterra gradient, Tsit5 rtol = atol = 1e-6; one plain solve {:.2} µs; \
         error against the peers' reference (central FD on DOP853 1e-13)",
        solve_s * 1e6
    );
    let t = 0.05;
    let rows = vec![
        measure("ForwardMode", &prob, Tsit5, &opts, &loss, ForwardMode, t),
        measure(
            "Discrete (default: all kept)",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Discrete::default(),
            t,
        ),
        measure(
            "Discrete (√N checkpoints)",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Discrete {
                checkpointing: Checkpointing::Sqrt,
            },
            t,
        ),
        measure(
            "Discrete (ckpt every step)",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Discrete::checkpoint_every(1),
            t,
        ),
        measure(
            "Adjoint::interpolating",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Adjoint::interpolating(),
            t,
        ),
        measure(
            "Adjoint::interpolating ckpt",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Adjoint::interpolating().checkpointed(),
            t,
        ),
        measure(
            "Adjoint::quadrature",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Adjoint::quadrature(),
            t,
        ),
        measure(
            "Adjoint::backsolve",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Adjoint::backsolve(),
            t,
        ),
    ];
    report("W2", &rows, solve_s, &reference);
}

fn spiral() {
    let init = shared_data("spiral_init.json");
    let spiral = shared_data("spiral_data.json");
    let mut p = Vec::new();
    for layer in init["layers"].as_array().expect("layers") {
        p.extend(floats(&layer["W"]));
        p.extend(floats(&layer["b"]));
    }
    let ts = floats(&spiral["ts"]);
    let data = floats(&spiral["u_float64"]);
    let u0 = floats(&spiral["u0"]);
    let prob = OdeProblem::new(SpiralNet, u0, (0.0, 1.5), p).expect("problem");
    let opts = SolveOptions::default().tolerances(1e-7, 1e-9).saveat(ts);
    let loss = SumOfSquares::against_data(data);
    let solve_s = median_time(
        || {
            black_box(prob.solve(Tsit5, &opts).expect("solve"));
        },
        0.02,
        9,
    );
    println!(
        "\nW3 gradient: spiral neural ODE 2→50→2 (252 parameters), 30 saved points, Tsit5 \
         rtol 1e-7 atol 1e-9, f64; one plain solve {:.2} µs; error against ForwardMode",
        solve_s * 1e6
    );
    let t = 0.05;
    let forward = measure("ForwardMode", &prob, Tsit5, &opts, &loss, ForwardMode, 0.2);
    let reference = forward.grad.dp.clone();
    let rows = vec![
        forward,
        measure(
            "Discrete (default: all kept)",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Discrete::default(),
            t,
        ),
        measure(
            "Discrete (√N checkpoints)",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Discrete {
                checkpointing: Checkpointing::Sqrt,
            },
            t,
        ),
        measure(
            "Adjoint::interpolating",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Adjoint::interpolating(),
            t,
        ),
        measure(
            "Adjoint::quadrature",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Adjoint::quadrature(),
            t,
        ),
        measure(
            "Adjoint::backsolve",
            &prob,
            Tsit5,
            &opts,
            &loss,
            Adjoint::backsolve(),
            t,
        ),
    ];
    report("W3-gradient", &rows, solve_s, &reference);
}

/// The seed's delayed Lotka–Volterra: the rabbits' growth reads x(t − 0.1).
#[derive(Clone, Copy, Debug)]
struct DelayedLv;
impl DdeFunction for DelayedLv {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], h: &dyn History<T>, p: &[T], t: T) {
        let mut past = [T::zero(); 2];
        h.at(t - T::cst(0.1), &mut past);
        du[0] = (p[0] - p[1] * u[1]) * past[0];
        du[1] = (p[2] * u[0] - p[3]) * u[1];
    }
    fn history<T: Scalar>(&self, out: &mut [T], _p: &[T], _t: T) {
        out.fill(T::one());
    }
}

/// A delay that moves with the state, its discontinuities tracked:
/// `u' = −p0 u(t − 1 − p1 u²) + p2 u(t − 0.7)`, history `p3 + 0.2 cos t`.
#[derive(Clone, Copy, Debug)]
struct TrackedLag;
impl DdeFunction for TrackedLag {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], h: &dyn History<T>, p: &[T], t: T) {
        let (mut a, mut b) = ([T::zero()], [T::zero()]);
        h.at(t - T::one() - p[1] * u[0] * u[0], &mut a);
        h.at(t - T::cst(0.7), &mut b);
        du[0] = -p[0] * a[0] + p[2] * b[0];
    }
    fn history<T: Scalar>(&self, out: &mut [T], p: &[T], t: T) {
        out[0] = p[3] + t.cos().scaled(0.2);
    }
    fn dependent_lag_count(&self) -> usize {
        1
    }
    fn dependent_lags<T: Scalar>(&self, out: &mut [T], u: &[T], p: &[T], _t: T) {
        out[0] = T::one() + p[1] * u[0] * u[0];
    }
}

/// Time per gradient of a delay problem by each sensitivity method.
fn dde_rows<F: DdeFunction + Clone>(name: &str, prob: &DdeProblem<F>, opts: &SolveOptions) {
    let loss = SumOfSquares::towards_constant(0, 1.0);
    let method = MethodOfSteps(Tsit5);
    let solve_s = median_time(
        || {
            black_box(prob.solve(method, opts).unwrap());
        },
        0.2,
        11,
    );
    let sol = prob.solve(method, opts).unwrap();
    println!(
        "{name}: {} parameters, {} steps, {} f-evals; plain solve {:.1} µs",
        prob.p().len(),
        sol.stats.accepted,
        sol.stats.f_evals,
        solve_s * 1e6
    );
    let (_, reference) = prob
        .loss_and_gradient(method, opts, &loss, DdeSensitivity::ForwardMode)
        .unwrap();
    for (label, sens) in [
        ("ForwardMode", DdeSensitivity::ForwardMode),
        ("Discrete", DdeSensitivity::Discrete),
    ] {
        let (_, g) = prob.loss_and_gradient(method, opts, &loss, sens).unwrap();
        let t = median_time(
            || {
                black_box(prob.loss_and_gradient(method, opts, &loss, sens).unwrap());
            },
            0.3,
            11,
        );
        println!(
            "  {label:<12} {:>10.1} µs  {:>6.1}× solve  max rel diff to forward mode {:.1e}",
            t * 1e6,
            t / solve_s,
            max_rel_err(&g, &reference)
        );
        eprintln!(
            "{{\"workload\": \"{name}\", \"library\": \"neurode\", \"method\": \"{label}\", \"median_s\": {t:e}, \"solve_s\": {solve_s:e}}}"
        );
    }
}

fn dde() {
    use neurode::nn::{Activation::*, Chain, Layer, NeuralDde, NnRng};
    use rand::SeedableRng;
    println!("\nDelay equations (method of steps, Tsit5 at rtol = atol = 1e-6)");
    let opts = SolveOptions::default()
        .tolerances(1e-6, 1e-6)
        .saveat_step(0.1);
    let lv = DdeProblem::new(
        DelayedLv,
        vec![1.0, 1.0],
        (0.0, 10.0),
        vec![2.2, 1.0, 2.0, 0.4],
        vec![0.1],
    )
    .unwrap();
    dde_rows("DDE delayed LV", &lv, &opts);
    let net = Chain::new(4).dense(16, Tanh).dense(2, Identity);
    let p = net.init_params(&mut NnRng::seed_from_u64(3));
    let f = NeuralDde::new(net, 0.2, vec![1.0, 0.5]).unwrap();
    let neural = DdeProblem::new(f, vec![1.0, 0.5], (0.0, 2.0), p, vec![0.2]).unwrap();
    dde_rows("DDE neural 4-16-2", &neural, &opts);
    let tracked = DdeProblem::new(
        TrackedLag,
        vec![1.0],
        (0.0, 4.0),
        vec![0.9, 0.3, 0.4, 0.8],
        vec![1.0, 0.7],
    )
    .unwrap();
    dde_rows("DDE tracked state-dependent lag", &tracked, &opts);
}

/// `cargo bench -p neurode --bench gradient [-- W2|W3|DDE]` runs one group.
fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| only.is_empty() || only.iter().any(|o| o.eq_ignore_ascii_case(name));
    if wants("W2") {
        w2();
    }
    if wants("W3") {
        spiral();
    }
    if wants("DDE") {
        dde();
    }
}
