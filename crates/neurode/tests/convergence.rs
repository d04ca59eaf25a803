//! Measured orders of convergence, asserted within ±0.25: every method's
//! global order in fixed-step mode, and every interpolant's order.
//!
//! Each measurement uses a window of step sizes inside the method's
//! asymptotic regime and above the round-off floor (high-order methods with
//! small error constants show higher apparent orders at large steps); the
//! windows were found by scanning and the observed slopes are printed.
//! The order conditions themselves are verified exactly, tree by tree, in the
//! tableau unit tests.

mod common;

use common::*;
use neurode::prelude::*;

/// A test problem with its exact solution.
struct Exact<F> {
    f: F,
    exact: fn(f64) -> Vec<f64>,
}

fn kepler() -> Exact<Kepler> {
    Exact {
        f: Kepler,
        exact: |t| kepler_exact(t).to_vec(),
    }
}
fn limit_cycle() -> Exact<LimitCycle> {
    Exact {
        f: LimitCycle,
        exact: |t| limit_cycle_exact(t).to_vec(),
    }
}
fn manufactured() -> Exact<Manufactured> {
    Exact {
        f: Manufactured,
        exact: |t| manufactured_exact(t).to_vec(),
    }
}

/// Fixed-step solves over `[0, t_end]` with each number of steps; asserts the
/// slope of log(error at t_end) against log(dt).
fn assert_global_order<F: OdeFunction + Copy, M: OdeMethod + Copy>(
    p: Exact<F>,
    method: M,
    t_end: f64,
    steps: &[usize],
) {
    let name = method.info().name;
    let prob = OdeProblem::new(p.f, (p.exact)(0.0), (0.0, t_end), vec![]).unwrap();
    let mut hs = Vec::new();
    let mut errs = Vec::new();
    for &n in steps {
        let dt = t_end / n as f64;
        let sol = prob
            .solve(method, &SolveOptions::default().fixed_dt(dt))
            .unwrap();
        assert!(sol.is_success());
        assert_eq!(
            sol.stats.accepted, n,
            "{name}: fixed steps land exactly on t_end"
        );
        hs.push(dt);
        errs.push(max_abs_diff(sol.u_end(), &(p.exact)(t_end)));
    }
    let order = observed_order(&hs, &errs);
    let expected = method.info().order as f64;
    eprintln!("{name}: errors {errs:?} observed order {order:.3}");
    assert!(
        (order - expected).abs() <= 0.25,
        "{name}: observed order {order}, expected {expected}"
    );
}

#[test]
fn euler_is_first_order() {
    assert_global_order(limit_cycle(), Euler, 2.0, &[400, 800, 1600, 3200]);
}
#[test]
fn midpoint_is_second_order() {
    assert_global_order(limit_cycle(), Midpoint, 2.0, &[100, 200, 400, 800]);
}
#[test]
fn heun_is_second_order() {
    assert_global_order(limit_cycle(), Heun, 2.0, &[100, 200, 400, 800]);
}
#[test]
fn bs3_is_third_order() {
    assert_global_order(limit_cycle(), Bs3, 2.0, &[40, 80, 160, 320]);
}
#[test]
fn rk4_is_fourth_order() {
    assert_global_order(limit_cycle(), Rk4, 2.0, &[20, 40, 80, 160]);
}
#[test]
fn dp5_is_fifth_order() {
    assert_global_order(kepler(), Dp5, 3.0, &[128, 181, 256, 362, 512]);
}
#[test]
fn tsit5_is_fifth_order() {
    assert_global_order(kepler(), Tsit5, 3.0, &[128, 181, 256, 362, 512]);
}
#[test]
fn vern7_is_seventh_order() {
    assert_global_order(limit_cycle(), Vern7, 6.0, &[45, 64, 90, 128]);
}
#[test]
fn dop853_is_eighth_order() {
    assert_global_order(limit_cycle(), Dop853, 6.0, &[23, 32, 45, 64]);
}

/// One step of size `h` from the exact state at `t0 = 0.3`: inside the step
/// the interpolant's error shrinks like `h^(q+1)` for an interpolant of order `q`.
fn assert_dense_order<F: OdeFunction + Copy, M: OdeMethod + Copy>(
    p: &Exact<F>,
    method: M,
    hs: &[f64],
) {
    let name = method.info().name;
    let t0 = 0.3;
    let errs: Vec<f64> = hs
        .iter()
        .map(|&h| {
            let prob = OdeProblem::new(p.f, (p.exact)(t0), (t0, t0 + h), vec![]).unwrap();
            let sol = prob
                .solve(method, &SolveOptions::default().fixed_dt(h).dense(true))
                .unwrap();
            [0.2, 0.5, 0.8]
                .iter()
                .map(|&theta| {
                    let t = t0 + theta * h;
                    max_abs_diff(&sol.u_at(t).unwrap(), &(p.exact)(t))
                })
                .fold(0.0, f64::max)
        })
        .collect();
    let order = observed_order(hs, &errs) - 1.0;
    let expected = method.info().dense_order as f64;
    eprintln!("{name} interpolant: errors {errs:?} observed order {order:.3}");
    assert!(
        (order - expected).abs() <= 0.25,
        "{name}: interpolant order {order}, expected {expected}"
    );
}

#[test]
fn interpolant_orders() {
    let m = manufactured();
    let hs = [0.05, 0.0354, 0.025, 0.0177];
    assert_dense_order(&m, Euler, &hs);
    assert_dense_order(&m, Midpoint, &hs);
    assert_dense_order(&m, Heun, &hs);
    assert_dense_order(&m, Rk4, &hs);
    assert_dense_order(&m, Bs3, &hs);
    assert_dense_order(&m, Dp5, &hs);
    assert_dense_order(&m, Tsit5, &hs);
    assert_dense_order(&m, Dop853, &[0.1, 0.0707, 0.05, 0.0354]);
    assert_dense_order(&limit_cycle(), Vern7, &[0.141, 0.1, 0.0707, 0.05]);
}
