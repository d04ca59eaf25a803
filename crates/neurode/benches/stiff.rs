//! Stiff benchmarks, the same workloads as `../shared/peers/run sci`:
//!
//! - W4: ROBER on `[0, 1e11]` at (rtol, atol) = (1e-6, 1e-8) and (1e-8, 1e-10),
//!   every stiff method: median time, steps, f-evaluations, Jacobians, LU
//!   factorisations, and the peers' error measures (relative error of the
//!   final state and of y2 at t = 1e-5, 1, 1e5 against Radau at 1e-12).
//! - W4 work–precision: ROBER over tolerances 1e-4 … 1e-10.
//! - W4b: the 32×32 Brusselator (2048 states) on the sparse path at 1e-6:
//!   time, work and `max|y - ref| / max|ref|` at t = 11.5 against our own
//!   solve at 1e-10.
//!
//! `cargo bench -p neurode --bench stiff` prints tables; one JSON object per
//! measurement goes to stderr. A plain bench binary for the same reason as
//! `ode.rs`: work counts and errors matter as much as times.

use std::hint::black_box;
use std::time::Instant;

use neurode::prelude::*;

ode_system! {
    /// Robertson's chemical kinetics.
    struct Rober;
    fn rhs<T>(t; y1, y2, y3; k1, k2, k3) -> (d1, d2, d3) {
        d1 = -k1 * y1 + k3 * y2 * y3;
        d2 = k1 * y1 - k2 * y2 * y2 - k3 * y2 * y3;
        d3 = k2 * y2 * y2;
    }
}

/// The SciML 2-D Brusselator on a periodic `n × n` grid (see tests/common).
#[derive(Clone, Copy, Debug)]
struct Brusselator2D {
    n: usize,
}

impl Brusselator2D {
    fn xyd(&self, i: usize) -> f64 {
        i as f64 / (self.n - 1) as f64
    }
    fn u0(&self) -> Vec<f64> {
        let n = self.n;
        let mut u = vec![0.0; 2 * n * n];
        for j in 0..n {
            for i in 0..n {
                let (x, y) = (self.xyd(i), self.xyd(j));
                u[i + n * j] = 22.0 * (y * (1.0 - y)).powf(1.5);
                u[n * n + i + n * j] = 27.0 * (x * (1.0 - x)).powf(1.5);
            }
        }
        u
    }
}

impl OdeFunction for Brusselator2D {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        let n = self.n;
        let nn = n * n;
        let (a, b, alpha) = (p[0], p[1], p[2]);
        let dx = 1.0 / (n - 1) as f64;
        let alpha = alpha.scaled(1.0 / (dx * dx));
        let forcing_on = t.real() >= 1.1;
        for j in 0..n {
            for i in 0..n {
                let (ip, im, jp, jm) = ((i + 1) % n, (i + n - 1) % n, (j + 1) % n, (j + n - 1) % n);
                let k = i + n * j;
                let (x, y) = (self.xyd(i), self.xyd(j));
                let (uu, vv) = (u[k], u[nn + k]);
                let lap_u =
                    u[im + n * j] + u[ip + n * j] + u[i + n * jp] + u[i + n * jm] - uu.scaled(4.0);
                let lap_v = u[nn + im + n * j]
                    + u[nn + ip + n * j]
                    + u[nn + i + n * jp]
                    + u[nn + i + n * jm]
                    - vv.scaled(4.0);
                let forcing = if forcing_on && (x - 0.3).powi(2) + (y - 0.6).powi(2) <= 0.01 {
                    5.0
                } else {
                    0.0
                };
                let uuv = uu * uu * vv;
                du[k] = alpha * lap_u + b + uuv - (a + T::one()) * uu + T::cst(forcing);
                du[nn + k] = alpha * lap_v + a * uu - uuv;
            }
        }
    }
}

const ROBER_P: [f64; 3] = [0.04, 3e7, 1e4];
const ROBER_TEVAL: [f64; 4] = [1e-5, 1.0, 1e5, 1e11];

/// Median seconds of `f` over `reps` runs (after one warm-up), at least
/// `min_total` seconds of timing in all.
fn median_time(mut f: impl FnMut(), min_reps: usize, min_total: f64) -> f64 {
    f();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < min_reps || start.elapsed().as_secs_f64() < min_total {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
        if times.len() > 10_000 {
            break;
        }
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The ROBER reference at `ROBER_TEVAL` (Radau at 1e-12, `../shared/reference`).
fn rober_reference() -> Option<Vec<[f64; 3]>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/rober.json"
    );
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let ts = v["t"].as_array()?;
    let us = v["u"].as_array()?;
    ROBER_TEVAL
        .iter()
        .map(|&te| {
            let k = ts
                .iter()
                .position(|t| (t.as_f64().unwrap_or(f64::NAN) - te).abs() <= 1e-9 * te)?;
            let row = us[k].as_array()?;
            Some([row[0].as_f64()?, row[1].as_f64()?, row[2].as_f64()?])
        })
        .collect()
}

struct RoberResult {
    median_s: f64,
    stats: neurode::Stats,
    max_rel_final: f64,
    max_rel_y2: f64,
}

fn run_rober<M: OdeMethod + Copy>(
    m: M,
    rtol: f64,
    atol: f64,
    reference: &[[f64; 3]],
) -> Option<RoberResult> {
    run_rober_in(m, rtol, atol, Domain::Any, reference)
}

/// [`run_rober`] with the states kept in `domain`.
fn run_rober_in<M: OdeMethod + Copy>(
    m: M,
    rtol: f64,
    atol: f64,
    domain: Domain,
    reference: &[[f64; 3]],
) -> Option<RoberResult> {
    let prob = OdeProblem::new(Rober, vec![1.0, 0.0, 0.0], (0.0, 1e11), ROBER_P.to_vec()).ok()?;
    let opts = SolveOptions::default()
        .tolerances(rtol, atol)
        .saveat(ROBER_TEVAL.to_vec())
        .domain(domain);
    let sol = prob.solve(m, &opts).ok()?;
    if !sol.is_success() {
        return None;
    }
    let median_s = median_time(
        || {
            black_box(prob.solve(m, black_box(&opts)).unwrap());
        },
        5,
        0.3,
    );
    let rel = |a: f64, b: f64| {
        if b == 0.0 {
            a.abs()
        } else {
            ((a - b) / b).abs()
        }
    };
    let last = sol.u(3);
    let max_rel_final = (0..2)
        .map(|i| rel(last[i], reference[3][i]))
        .fold(0.0, f64::max);
    let max_rel_y2 = (0..3)
        .map(|k| rel(sol.u(k)[1], reference[k][1]))
        .fold(0.0, f64::max);
    Some(RoberResult {
        median_s,
        stats: sol.stats,
        max_rel_final,
        max_rel_y2,
    })
}

fn print_rober<M: OdeMethod + Copy>(
    m: M,
    tol_set: &str,
    rtol: f64,
    atol: f64,
    reference: &[[f64; 3]],
) {
    let name = m.info().name;
    match run_rober(m, rtol, atol, reference) {
        Some(r) => {
            let s = r.stats;
            println!(
                "{:<13} {:<6} {:>10.3} {:>6} {:>7} {:>5} {:>5} {:>10.2e} {:>10.2e}",
                name,
                tol_set,
                r.median_s * 1e3,
                s.steps(),
                s.f_evals,
                s.jacobians,
                s.factorizations,
                r.max_rel_final,
                r.max_rel_y2
            );
            eprintln!(
                "{{\"workload\": \"W4_rober\", \"library\": \"neurode\", \"solver\": \"{name}\", \"tol_set\": \"{tol_set}\", \"rtol\": {rtol:e}, \"atol\": {atol:e}, \"median_s\": {:e}, \"steps\": {}, \"nfev\": {}, \"njev\": {}, \"nlu\": {}, \"max_relerr_final\": {:e}, \"max_relerr_y2\": {:e}}}",
                r.median_s,
                s.steps(),
                s.f_evals,
                s.jacobians,
                s.factorizations,
                r.max_rel_final,
                r.max_rel_y2
            );
        }
        None => println!("{name:<13} {tol_set:<6} failed"),
    }
}

fn bench_rober(reference: &[[f64; 3]]) {
    println!(
        "W4 ROBER on [0, 1e11]; errors: relative, final state (y1, y2) and y2 at 1e-5, 1, 1e5"
    );
    println!(
        "{:<13} {:<6} {:>10} {:>6} {:>7} {:>5} {:>5} {:>10} {:>10}",
        "method", "tol", "median ms", "steps", "f-evals", "jacs", "LUs", "err final", "err y2"
    );
    for (tol_set, rtol, atol) in [("loose", 1e-6, 1e-8), ("tight", 1e-8, 1e-10)] {
        print_rober(Bdf::default(), tol_set, rtol, atol, reference);
        print_rober(Rodas5P, tol_set, rtol, atol, reference);
        print_rober(Rodas4, tol_set, rtol, atol, reference);
        print_rober(Rosenbrock23, tol_set, rtol, atol, reference);
        print_rober(KenCarp4, tol_set, rtol, atol, reference);
        print_rober(Trbdf2, tol_set, rtol, atol, reference);
    }
}

fn work_precision(reference: &[[f64; 3]]) {
    println!(
        "\nW4 work–precision (rtol = tol, atol = tol/100): median ms / max relative error (final state and y2)"
    );
    print!("{:<10}", "tol");
    let methods = ["BDF", "BDF, y ≥ 0", "Rodas5P", "KenCarp4"];
    for m in methods {
        print!(" {m:>22}");
    }
    println!();
    for e in 4..=10 {
        let tol = 10f64.powi(-e);
        print!("{tol:<10.0e}");
        let results = [
            run_rober(Bdf::default(), tol, tol * 1e-2, reference),
            run_rober_in(
                Bdf::default(),
                tol,
                tol * 1e-2,
                Domain::NonNegative,
                reference,
            ),
            run_rober(Rodas5P, tol, tol * 1e-2, reference),
            run_rober(KenCarp4, tol, tol * 1e-2, reference),
        ];
        for (name, r) in methods.iter().zip(&results) {
            match r {
                Some(r) => {
                    let err = r.max_rel_final.max(r.max_rel_y2);
                    print!(" {:>10.3} / {:>9.2e}", r.median_s * 1e3, err);
                    eprintln!(
                        "{{\"workload\": \"W4_rober_wp\", \"library\": \"neurode\", \"solver\": \"{name}\", \"rtol\": {tol:e}, \"atol\": {:e}, \"median_s\": {:e}, \"steps\": {}, \"max_relerr\": {err:e}}}",
                        tol * 1e-2,
                        r.median_s,
                        r.stats.steps()
                    );
                }
                None => print!(" {:>22}", "failed"),
            }
        }
        println!();
    }
}

fn bench_brusselator() {
    let b = Brusselator2D { n: 32 };
    let p = vec![3.4, 1.0, 10.0];
    let prob = OdeProblem::new(b, b.u0(), (0.0, 11.5), p)
        .unwrap()
        .with_jacobian_sparsity(JacobianSparsity::Detect)
        .unwrap();
    let reference = prob
        .solve(
            Bdf::default(),
            &SolveOptions::default()
                .tolerances(1e-10, 1e-10)
                .saveat(vec![11.5]),
        )
        .unwrap();
    let scale = reference
        .u_end()
        .iter()
        .fold(0.0_f64, |m, x| m.max(x.abs()));
    println!(
        "\nW4b Brusselator 32×32 (2048 states), sparse Jacobian detected and coloured, sparse LU; rtol = atol = 1e-6"
    );
    println!(
        "{:<10} {:>10} {:>6} {:>7} {:>5} {:>5} {:>12}",
        "method", "median ms", "steps", "f-evals", "jacs", "LUs", "err t=11.5"
    );
    fn one<M: OdeMethod + Copy>(
        prob: &OdeProblem<Brusselator2D>,
        m: M,
        reference: &[f64],
        scale: f64,
    ) {
        let opts = SolveOptions::default()
            .tolerances(1e-6, 1e-6)
            .saveat(vec![11.5]);
        let sol = prob.solve(m, &opts).unwrap();
        let t = median_time(
            || {
                black_box(prob.solve(m, black_box(&opts)).unwrap());
            },
            3,
            1.0,
        );
        let err = sol
            .u_end()
            .iter()
            .zip(reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
            / scale;
        let s = sol.stats;
        println!(
            "{:<10} {:>10.1} {:>6} {:>7} {:>5} {:>5} {:>12.2e}",
            m.info().name,
            t * 1e3,
            s.steps(),
            s.f_evals,
            s.jacobians,
            s.factorizations,
            err
        );
        eprintln!(
            "{{\"workload\": \"W4b_bruss\", \"library\": \"neurode\", \"solver\": \"{}\", \"rtol\": 1e-6, \"median_s\": {t:e}, \"steps\": {}, \"nfev\": {}, \"njev\": {}, \"nlu\": {}, \"relerr_inf_final\": {err:e}}}",
            m.info().name,
            s.steps(),
            s.f_evals,
            s.jacobians,
            s.factorizations
        );
    }
    one(&prob, Bdf::default(), reference.u_end(), scale);
    one(&prob, KenCarp4, reference.u_end(), scale);
    one(&prob, Rodas5P, reference.u_end(), scale);
}

fn main() {
    let Some(reference) = rober_reference() else {
        eprintln!("stiff bench: ../shared/reference/rober.json not found");
        return;
    };
    bench_rober(&reference);
    work_precision(&reference);
    bench_brusselator();
}
