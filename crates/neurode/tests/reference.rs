//! Reference problems against published tight-tolerance solutions
//! (`../shared/reference/`, SciPy DOP853 at 1e-13).

mod common;

use common::*;
use neurode::prelude::*;

fn max_error_against(reference: &Reference, sol: &Solution) -> f64 {
    assert_eq!(sol.t.len(), reference.t.len());
    sol.iter()
        .zip(reference.t.iter().zip(&reference.u))
        .map(|((t, u), (rt, ru))| {
            assert!((t - rt).abs() < 1e-12, "saved time {t} vs reference {rt}");
            max_abs_diff(u, ru)
        })
        .fold(0.0, f64::max)
}

#[test]
fn lotka_volterra_matches_reference() {
    let r = reference("lotka_volterra");
    let prob = OdeProblem::new(LotkaVolterra, r.u0.clone(), r.tspan, r.p.clone()).unwrap();
    for (tol, bound) in [(1e-10, 1e-8), (1e-6, 1e-4)] {
        let opts = SolveOptions::default()
            .tolerances(tol, tol)
            .saveat(r.t.clone());
        let sol = prob.solve(Tsit5, &opts).unwrap();
        assert!(sol.is_success());
        let err = max_error_against(&r, &sol);
        eprintln!(
            "Lotka-Volterra, Tsit5 at {tol:e}: max error {err:.3e}, {:?}",
            sol.stats
        );
        assert!(
            err < bound,
            "tolerance {tol}: error {err} not below {bound}"
        );
    }
}

#[test]
fn lotka_volterra_saveat_step_gives_the_reference_grid() {
    let r = reference("lotka_volterra");
    let prob = OdeProblem::new(LotkaVolterra, r.u0.clone(), r.tspan, r.p.clone()).unwrap();
    let sol = prob
        .solve(
            Tsit5,
            &SolveOptions::default()
                .tolerances(1e-10, 1e-10)
                .saveat_step(0.1),
        )
        .unwrap();
    assert_eq!(sol.t, r.t, "saveat_step(0.1) gives exactly i/10");
    assert!(max_error_against(&r, &sol) < 1e-8);
}

#[test]
fn every_adaptive_method_matches_lotka_volterra_reference() {
    let r = reference("lotka_volterra");
    let prob = OdeProblem::new(LotkaVolterra, r.u0.clone(), r.tspan, r.p.clone()).unwrap();
    fn check<M: OdeMethod + Copy>(
        prob: &OdeProblem<LotkaVolterra>,
        r: &Reference,
        m: M,
        tol: f64,
        bound: f64,
    ) {
        let sol = prob
            .solve(
                m,
                &SolveOptions::default()
                    .tolerances(tol, tol)
                    .saveat(r.t.clone()),
            )
            .unwrap();
        let err = max_error_against(r, &sol);
        eprintln!(
            "{}: tol {tol:e} max error {err:.3e} {:?}",
            m.info().name,
            sol.stats
        );
        assert!(err < bound, "{}: error {err}", m.info().name);
    }
    check(&prob, &r, Bs3, 1e-8, 1e-5);
    check(&prob, &r, Dp5, 1e-10, 1e-8);
    check(&prob, &r, Vern7, 1e-12, 1e-10);
    check(&prob, &r, Dop853, 1e-12, 1e-10);
    check(&prob, &r, Midpoint, 1e-6, 1e-3);
}

#[test]
fn spiral_matches_reference() {
    let r = reference("spiral");
    let prob = OdeProblem::new(Spiral, r.u0.clone(), r.tspan, vec![]).unwrap();
    for (tol, bound) in [(1e-10, 1e-8), (1e-6, 1e-4)] {
        let sol = prob
            .solve(
                Tsit5,
                &SolveOptions::default()
                    .tolerances(tol, tol)
                    .saveat(r.t.clone()),
            )
            .unwrap();
        let err = max_error_against(&r, &sol);
        eprintln!("spiral, Tsit5 at {tol:e}: max error {err:.3e}");
        assert!(err < bound, "tolerance {tol}: error {err}");
    }
}

#[test]
fn dense_output_matches_reference_between_steps() {
    let r = reference("lotka_volterra");
    let prob = OdeProblem::new(LotkaVolterra, r.u0.clone(), r.tspan, r.p.clone()).unwrap();
    // Steps are long (about 0.1–0.3 at 1e-10 with Vern7); reference points fall inside them.
    for sol in [
        prob.solve(Tsit5, &SolveOptions::default().tolerances(1e-10, 1e-10))
            .unwrap(),
        prob.solve(Vern7, &SolveOptions::default().tolerances(1e-10, 1e-10))
            .unwrap(),
        prob.solve(Dop853, &SolveOptions::default().tolerances(1e-10, 1e-10))
            .unwrap(),
    ] {
        let err =
            r.t.iter()
                .zip(&r.u)
                .map(|(&t, u)| max_abs_diff(&sol.u_at(t).unwrap(), u))
                .fold(0.0, f64::max);
        eprintln!(
            "{} dense output: max error {err:.3e} over {} steps",
            sol.method, sol.stats.accepted
        );
        assert!(err < 1e-8, "{}: {err}", sol.method);
    }
}
