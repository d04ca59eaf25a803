//! Every invalid input is a typed error, never a panic.

mod common;

use common::*;
use neurode::prelude::*;

const P: [f64; 4] = [1.5, 1.0, 3.0, 1.0];

fn lv() -> OdeProblem<LotkaVolterra> {
    OdeProblem::new(LotkaVolterra, vec![1.0, 1.0], (0.0, 10.0), P.to_vec()).unwrap()
}

#[test]
fn wrong_lengths() {
    let e = OdeProblem::new(LotkaVolterra, vec![1.0], (0.0, 1.0), P.to_vec()).unwrap_err();
    assert_eq!(
        e,
        Error::WrongLength {
            what: "u0",
            got: 1,
            expected: 2
        }
    );
    let e = OdeProblem::new(LotkaVolterra, vec![1.0, 1.0], (0.0, 1.0), vec![1.0, 2.0]).unwrap_err();
    assert_eq!(
        e,
        Error::WrongLength {
            what: "p",
            got: 2,
            expected: 4
        }
    );
    let e = OdeProblem::new(Spiral, Vec::<f64>::new(), (0.0, 1.0), vec![]).unwrap_err();
    assert_eq!(e, Error::EmptyState);
    let e = lv().with_u0(vec![1.0, 2.0, 3.0]).unwrap_err();
    assert!(matches!(e, Error::WrongLength { what: "u0", .. }));
    let e = lv()
        .solve(Tsit5, &SolveOptions::default().rtol(vec![1e-6]))
        .unwrap_err();
    assert_eq!(
        e,
        Error::WrongLength {
            what: "rtol",
            got: 1,
            expected: 2
        }
    );
    let e = lv()
        .solve(Tsit5, &SolveOptions::default().atol(vec![1e-6; 3]))
        .unwrap_err();
    assert_eq!(
        e,
        Error::WrongLength {
            what: "atol",
            got: 3,
            expected: 2
        }
    );
}

#[test]
fn non_finite_inputs() {
    let e =
        OdeProblem::new(LotkaVolterra, vec![1.0, f64::NAN], (0.0, 1.0), P.to_vec()).unwrap_err();
    assert!(matches!(
        e,
        Error::NonFinite {
            what: "u0",
            index: 1,
            ..
        }
    ));
    let e = OdeProblem::new(
        LotkaVolterra,
        vec![1.0, 1.0],
        (0.0, 1.0),
        vec![1.0, f64::INFINITY, 1.0, 1.0],
    )
    .unwrap_err();
    assert!(matches!(
        e,
        Error::NonFinite {
            what: "p",
            index: 1,
            ..
        }
    ));
    let e =
        OdeProblem::new(LotkaVolterra, vec![1.0, 1.0], (0.0, f64::NAN), P.to_vec()).unwrap_err();
    assert!(matches!(
        e,
        Error::NonFinite {
            what: "tspan",
            index: 1,
            ..
        }
    ));
    let e = lv()
        .with_p(vec![f64::NEG_INFINITY, 1.0, 1.0, 1.0])
        .unwrap_err();
    assert!(matches!(
        e,
        Error::NonFinite {
            what: "p",
            index: 0,
            ..
        }
    ));
    let e = lv()
        .solve(Tsit5, &SolveOptions::default().saveat(vec![1.0, f64::NAN]))
        .unwrap_err();
    assert!(matches!(
        e,
        Error::NonFinite {
            what: "saveat",
            index: 1,
            ..
        }
    ));
}

#[test]
fn empty_span() {
    let e = OdeProblem::new(LotkaVolterra, vec![1.0, 1.0], (2.0, 2.0), P.to_vec()).unwrap_err();
    assert_eq!(e, Error::EmptySpan(2.0));
}

#[test]
fn bad_tolerances() {
    for opts in [
        SolveOptions::default().rtol(-1e-6),
        SolveOptions::default().atol(f64::NAN),
        SolveOptions::default().rtol(f64::INFINITY),
        SolveOptions::default().tolerances(0.0, 0.0),
        SolveOptions::default().tolerances(vec![1e-6, -1.0], vec![1e-6, 1e-6]),
    ] {
        let e = lv().solve(Tsit5, &opts).unwrap_err();
        assert!(matches!(e, Error::BadTolerance(_)), "{opts:?} gave {e:?}");
    }
}

#[test]
fn bad_step_sizes() {
    for opts in [
        SolveOptions::default().fixed_dt(0.0),
        SolveOptions::default().fixed_dt(-0.1),
        SolveOptions::default().dt0(f64::NAN),
        SolveOptions::default().dtmax(0.0),
        SolveOptions::default().dtmin(-1.0),
        SolveOptions::default().saveat_step(0.0),
        SolveOptions::default().saveat_step(f64::INFINITY),
    ] {
        let e = lv().solve(Tsit5, &opts).unwrap_err();
        assert!(matches!(e, Error::BadStepSize(_)), "{opts:?} gave {e:?}");
    }
    let e = lv()
        .solve(Tsit5, &SolveOptions::default().maxiters(0))
        .unwrap_err();
    assert_eq!(e, Error::ZeroMaxIters);
}

#[test]
fn times_outside_the_span() {
    let e = lv()
        .solve(Tsit5, &SolveOptions::default().saveat(vec![5.0, 11.0]))
        .unwrap_err();
    assert!(matches!(e, Error::OutsideSpan { what: "saveat", .. }));
    let e = lv()
        .solve(Tsit5, &SolveOptions::default().tstops(vec![-1.0]))
        .unwrap_err();
    assert!(matches!(e, Error::OutsideSpan { what: "tstops", .. }));
    let sol = lv().solve(Tsit5, &SolveOptions::default()).unwrap();
    assert!(matches!(
        sol.u_at(10.5),
        Err(Error::OutsideSpan { what: "u_at", .. })
    ));
    assert!(matches!(sol.u_at(f64::NAN), Err(Error::OutsideSpan { .. })));
}

#[test]
fn errors_explain_themselves() {
    let e = OdeProblem::new(LotkaVolterra, vec![1.0], (0.0, 1.0), P.to_vec()).unwrap_err();
    assert_eq!(e.to_string(), "u0 has length 1, expected 2");
    let e = lv().solve(Rk4, &SolveOptions::default()).unwrap_err();
    assert!(e.to_string().contains("fixed_dt"));
}
