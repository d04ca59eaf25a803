//! The generic-scalar design end to end: dual numbers through a whole Tsit5
//! solve give the sensitivities of the solution, matching finite differences.

mod common;

use common::*;
use neurode::prelude::*;
use num_dual::Dual64;

const P: [f64; 4] = [1.5, 1.0, 3.0, 1.0];

fn x_at_10(p: &[f64], u0: &[f64], rtol: f64) -> [f64; 2] {
    let prob = OdeProblem::new(LotkaVolterra, u0.to_vec(), (0.0, 10.0), p.to_vec()).unwrap();
    let sol = prob
        .solve(
            Tsit5,
            &SolveOptions::default()
                .tolerances(rtol, rtol)
                .saveat(vec![10.0]),
        )
        .unwrap();
    [sol.u_end()[0], sol.u_end()[1]]
}

/// ∂u(10)/∂(p_j or u0_j) from one dual solve seeded on that input.
fn dual_sensitivity(seed_p: Option<usize>, seed_u0: Option<usize>) -> [f64; 2] {
    let dual = |x: f64, seeded: bool| Dual64::new(x, if seeded { 1.0 } else { 0.0 });
    let p: Vec<Dual64> = P
        .iter()
        .enumerate()
        .map(|(i, &x)| dual(x, seed_p == Some(i)))
        .collect();
    let u0: Vec<Dual64> = [1.0, 1.0]
        .iter()
        .enumerate()
        .map(|(i, &x)| dual(x, seed_u0 == Some(i)))
        .collect();
    let prob = OdeProblem::new(
        LotkaVolterra,
        u0,
        (Dual64::from_re(0.0), Dual64::from_re(10.0)),
        p,
    )
    .unwrap();
    let sol = prob
        .solve(
            Tsit5,
            &SolveOptions::default()
                .tolerances(1e-10, 1e-10)
                .saveat(vec![10.0]),
        )
        .unwrap();
    assert!(sol.is_success());
    [sol.u_end()[0].eps, sol.u_end()[1].eps]
}

fn central_difference(f: impl Fn(f64) -> [f64; 2], x: f64) -> [f64; 2] {
    let h = 1e-5 * x.abs().max(1.0);
    let (a, b) = (f(x + h), f(x - h));
    [(a[0] - b[0]) / (2.0 * h), (a[1] - b[1]) / (2.0 * h)]
}

fn assert_close(what: &str, got: [f64; 2], want: [f64; 2]) {
    for i in 0..2 {
        let rel = (got[i] - want[i]).abs() / want[i].abs().max(1e-3);
        eprintln!(
            "{what} component {i}: dual {:.10e} fd {:.10e} rel {rel:.2e}",
            got[i], want[i]
        );
        assert!(
            rel < 1e-5,
            "{what}[{i}]: dual {} vs finite difference {}",
            got[i],
            want[i]
        );
    }
}

#[test]
fn dual_parameter_sensitivities_match_finite_differences() {
    for j in 0..4 {
        let fd = central_difference(
            |x| {
                let mut p = P;
                p[j] = x;
                x_at_10(&p, &[1.0, 1.0], 1e-12)
            },
            P[j],
        );
        assert_close(
            &format!("du(10)/dp{j}"),
            dual_sensitivity(Some(j), None),
            fd,
        );
    }
}

#[test]
fn dual_initial_condition_sensitivities_match_finite_differences() {
    for j in 0..2 {
        let fd = central_difference(
            |x| {
                let mut u0 = [1.0, 1.0];
                u0[j] = x;
                x_at_10(&P, &u0, 1e-12)
            },
            1.0,
        );
        assert_close(
            &format!("du(10)/du0_{j}"),
            dual_sensitivity(None, Some(j)),
            fd,
        );
    }
}

#[test]
fn derivative_through_the_end_time() {
    // d u(t1)/d t1 = f(u(t1)): the last step lands on a dual t1.
    let prob = OdeProblem::new(
        LotkaVolterra,
        vec![Dual64::from_re(1.0); 2],
        (Dual64::from_re(0.0), Dual64::new(10.0, 1.0)),
        P.map(Dual64::from_re).to_vec(),
    )
    .unwrap();
    let sol = prob
        .solve(Tsit5, &SolveOptions::default().tolerances(1e-10, 1e-10))
        .unwrap();
    let u: Vec<f64> = sol.u_end().iter().map(|d| d.re).collect();
    let mut f = [0.0; 2];
    LotkaVolterra.rhs(&mut f, &u, &P, 10.0);
    for i in 0..2 {
        assert!(
            (sol.u_end()[i].eps - f[i]).abs() < 1e-6 * f[i].abs().max(1.0),
            "{i}"
        );
    }
}
