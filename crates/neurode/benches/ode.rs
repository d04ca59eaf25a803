//! Non-stiff ODE benchmarks: time per solve, work counts, allocations, and
//! the loop's overhead beside the user's function.
//!
//! `cargo bench -p neurode --bench ode` prints a table and one JSON object per
//! workload (for side-by-side reports with `../shared/peers`). Workloads match
//! the peers' W1: Lotka–Volterra, `p = (1.5, 1, 3, 1)`, `u0 = (1, 1)`,
//! `t ∈ [0, 10]`, saved at `t = i/10`.
//!
//! A plain bench binary rather than criterion/divan: the figures that matter
//! here (f-evaluations, allocations, ratio to the bare right-hand side) are
//! not timings, and each line must be comparable with the peers' JSON.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::time::Instant;

use neurode::prelude::*;

struct Counting;
thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

ode_system! {
    /// Lotka–Volterra predator–prey.
    struct LotkaVolterra;
    fn rhs<T>(t; x, y; a, b, c, d) -> (dx, dy) {
        dx = a * x - b * x * y;
        dy = -c * y + d * x * y;
    }
}

const P: [f64; 4] = [1.5, 1.0, 3.0, 1.0];

/// Ten harmonic oscillators (20 states): a system big enough that its
/// working vectors live on the heap rather than in registers.
#[derive(Clone, Copy, Debug)]
struct Oscillators;
impl OdeFunction for Oscillators {
    #[inline(always)]
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        for i in 0..10 {
            let w = p[0] * T::cst(1.0 + 0.1 * i as f64);
            du[2 * i] = u[2 * i + 1];
            du[2 * i + 1] = -w * w * u[2 * i];
        }
    }
}

/// Median seconds per call of `f`, from samples of `batch` calls each.
fn median_time(mut f: impl FnMut(), batch: usize, samples: usize) -> f64 {
    for _ in 0..batch {
        f(); // warm-up
    }
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

/// Median seconds of one bare `rhs` call on f64 at `u`, as a solver would make it.
fn bare_rhs_time<F: OdeFunction>(f: &F, u: &[f64], p: &[f64]) -> f64 {
    let mut du = vec![0.0; u.len()];
    let mut u = u.to_vec();
    let calls = 200_000;
    median_time(
        || {
            for i in 0..calls {
                u[0] = 1.0 + (i & 7) as f64 * 1e-3;
                f.rhs(
                    black_box(&mut du),
                    black_box(&u),
                    black_box(p),
                    black_box(0.5),
                );
            }
        },
        1,
        21,
    ) / calls as f64
}

/// Median seconds of one `rhs` call when each call's input is the previous
/// call's output: the latency a solver's dependent stages actually see.
fn chained_rhs_time<F: OdeFunction>(f: &F, u: &[f64], p: &[f64]) -> f64 {
    let mut du = vec![0.0; u.len()];
    let mut u = u.to_vec();
    let calls = 200_000;
    median_time(
        || {
            for _ in 0..calls {
                f.rhs(&mut du, &u, black_box(p), 0.5);
                // A contraction towards u0 keeps the chain finite.
                for (x, d) in u.iter_mut().zip(&du) {
                    *x = 1.0 + 1e-3 * d;
                }
            }
        },
        1,
        21,
    ) / calls as f64
}

fn reference_error(sol: &Solution) -> Option<f64> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/lotka_volterra.json"
    );
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let reference = v["u"].as_array()?;
    let mut err: f64 = 0.0;
    for (i, row) in reference.iter().enumerate() {
        for (j, x) in row.as_array()?.iter().enumerate() {
            err = err.max((sol.u(i)[j] - x.as_f64()?).abs());
        }
    }
    Some(err)
}

fn bench<F: OdeFunction, M: OdeMethod + Copy>(
    workload: &str,
    prob: &OdeProblem<F>,
    method: M,
    tol: f64,
    rhs_time: (f64, f64),
) {
    let opts = SolveOptions::default()
        .tolerances(tol, tol)
        .saveat_step(0.1);
    let before = ALLOCATIONS.with(Cell::get);
    let sol = prob.solve(method, &opts).unwrap();
    let allocations = ALLOCATIONS.with(Cell::get) - before;
    assert!(sol.is_success());
    let t = median_time(
        || {
            black_box(prob.solve(method, black_box(&opts)).unwrap());
        },
        200,
        31,
    );
    let nfe = sol.stats.f_evals;
    let overhead = t / (nfe as f64 * rhs_time.0);
    let overhead_chained = t / (nfe as f64 * rhs_time.1);
    let err = if workload == "W1" {
        reference_error(&sol).unwrap_or(f64::NAN)
    } else {
        f64::NAN
    };
    println!(
        "{:<4} {:<7} {:>7.0e} {:>10.2} {:>7} {:>6} {:>5} {:>7} {:>9.1} {:>9.1} {:>10.2e}",
        workload,
        method.info().name,
        tol,
        t * 1e6,
        nfe,
        sol.stats.accepted,
        sol.stats.rejected,
        allocations,
        overhead,
        overhead_chained,
        err
    );
    eprintln!(
        "{{\"workload\": \"{workload}\", \"library\": \"neurode\", \"method\": \"{}\", \"rtol\": {tol:e}, \"median_s\": {t:e}, \"nfe\": {nfe}, \"accepted_steps\": {}, \"rejected_steps\": {}, \"allocations_per_solve\": {allocations}, \"solve_over_bare_rhs\": {overhead:.3}, \"solve_over_chained_rhs\": {overhead_chained:.3}, \"max_abs_err\": {err:e}}}",
        method.info().name,
        sol.stats.accepted,
        sol.stats.rejected
    );
}

fn main() {
    let lv = OdeProblem::new(LotkaVolterra, vec![1.0, 1.0], (0.0, 10.0), P.to_vec()).unwrap();
    let lv_rhs = bare_rhs_time(&LotkaVolterra, &[1.0, 1.0], &P);
    let lv_chained = chained_rhs_time(&LotkaVolterra, &[1.0, 1.0], &P);
    println!("W1: Lotka–Volterra, t ∈ [0, 10], saved at t = i/10 (101 points); one core");
    println!("OSC: 10 harmonic oscillators (20 states, heap storage), same span and saving");
    println!(
        "bare rhs call: Lotka–Volterra {:.2} ns independent, {:.2} ns chained (input = previous output)",
        lv_rhs * 1e9,
        lv_chained * 1e9
    );
    println!(
        "÷nfe·f: solve time ÷ (f-evals × independent call); ÷nfe·fc: the same with the chained call"
    );
    println!(
        "{:<4} {:<7} {:>7} {:>10} {:>7} {:>6} {:>5} {:>7} {:>9} {:>9} {:>10}",
        "",
        "method",
        "tol",
        "median µs",
        "f-evals",
        "steps",
        "rej",
        "allocs",
        "÷nfe·f",
        "÷nfe·fc",
        "max err"
    );
    bench("W1", &lv, Tsit5, 1e-6, (lv_rhs, lv_chained));
    bench("W1", &lv, Dp5, 1e-6, (lv_rhs, lv_chained));
    bench("W1", &lv, Bs3, 1e-6, (lv_rhs, lv_chained));
    bench("W1", &lv, Vern7, 1e-10, (lv_rhs, lv_chained));
    bench("W1", &lv, Dop853, 1e-10, (lv_rhs, lv_chained));
    bench("W1", &lv, Tsit5, 1e-10, (lv_rhs, lv_chained));
    let osc = OdeProblem::new(Oscillators, vec![1.0; 20], (0.0, 10.0), vec![1.0]).unwrap();
    let osc_rhs = (
        bare_rhs_time(&Oscillators, &[1.0; 20], &[1.0]),
        chained_rhs_time(&Oscillators, &[1.0; 20], &[1.0]),
    );
    println!(
        "bare rhs call: oscillators {:.2} ns independent, {:.2} ns chained",
        osc_rhs.0 * 1e9,
        osc_rhs.1 * 1e9
    );
    bench("OSC", &osc, Tsit5, 1e-6, osc_rhs);
    bench("OSC", &osc, Vern7, 1e-10, osc_rhs);
}
