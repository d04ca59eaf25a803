//! Behaviour of the shared integrator loop: direction, saving, stops,
//! statistics, return codes with partial solutions, dense output.

mod common;

use common::*;
use neurode::prelude::*;

fn lv() -> OdeProblem<LotkaVolterra> {
    OdeProblem::new(
        LotkaVolterra,
        vec![1.0, 1.0],
        (0.0, 10.0),
        vec![1.5, 1.0, 3.0, 1.0],
    )
    .unwrap()
}

ode_system! {
    /// u' = u², which blows up at t = 1/u0.
    struct BlowUp;
    fn rhs<T>(t; u;) -> (du) {
        du = u * u;
    }
}

#[test]
fn backwards_integration_returns_to_the_start() {
    let opts = SolveOptions::default().tolerances(1e-10, 1e-10);
    let forward = lv().solve(Tsit5, &opts).unwrap();
    let back = lv()
        .with_u0(forward.u_end().to_vec())
        .unwrap()
        .with_tspan((10.0, 0.0))
        .unwrap();
    let sol = back.solve(Tsit5, &opts).unwrap();
    assert!(sol.is_success());
    assert_eq!(sol.t[0], 10.0);
    assert_eq!(*sol.t.last().unwrap(), 0.0);
    assert!(sol.t.windows(2).all(|w| w[1] < w[0]), "time decreases");
    let err = max_abs_diff(sol.u_end(), &[1.0, 1.0]);
    eprintln!("forward then backward over [0, 10]: |u(0) - u0| = {err:.3e}");
    assert!(err < 1e-7, "backwards solve lands {err} from u0");
}

#[test]
fn backwards_solve_matches_reference_at_saved_points() {
    let r = reference("lotka_volterra");
    let u10 = r.u.last().unwrap().clone();
    let back = OdeProblem::new(LotkaVolterra, u10, (10.0, 0.0), r.p.clone()).unwrap();
    let sol = back
        .solve(
            Dp5,
            &SolveOptions::default()
                .tolerances(1e-10, 1e-10)
                .saveat_step(0.1),
        )
        .unwrap();
    assert_eq!(sol.len(), 101);
    for ((t, u), (rt, ru)) in sol.iter().zip(r.t.iter().rev().zip(r.u.iter().rev())) {
        assert!((t - rt).abs() < 1e-12);
        assert!(max_abs_diff(u, ru) < 1e-7, "t={t}");
    }
    // Dense output backwards in time.
    let dense = back
        .solve(Dp5, &SolveOptions::default().tolerances(1e-10, 1e-10))
        .unwrap();
    assert!(max_abs_diff(&dense.u_at(5.0).unwrap(), &r.u[50]) < 1e-7);
}

#[test]
fn every_step_saving_starts_and_ends_on_the_span() {
    let sol = lv().solve(Tsit5, &SolveOptions::default()).unwrap();
    assert_eq!(sol.t[0], 0.0);
    assert_eq!(*sol.t.last().unwrap(), 10.0);
    assert_eq!(sol.len(), sol.stats.accepted + 1);
    assert!(sol.t.windows(2).all(|w| w[1] > w[0]));
    assert_eq!(sol.u(sol.len() - 1), sol.u_end());
}

#[test]
fn tstops_are_stepped_on_exactly() {
    let sol = lv()
        .solve(
            Tsit5,
            &SolveOptions::default().tstops(vec![7.77, 1.234, 5.0]),
        )
        .unwrap();
    for stop in [1.234, 5.0, 7.77] {
        assert!(sol.t.contains(&stop), "no step ends at {stop}");
    }
    // Fixed steps too.
    let sol = lv()
        .solve(
            Rk4,
            &SolveOptions::default().fixed_dt(0.1).tstops(vec![0.55]),
        )
        .unwrap();
    assert!(sol.t.contains(&0.55));
    assert!(sol.is_success());
}

#[test]
fn saveat_list_is_sorted_and_exact() {
    let ts = vec![10.0, 0.0, 2.5, 7.25];
    let sol = lv()
        .solve(Tsit5, &SolveOptions::default().saveat(ts))
        .unwrap();
    assert_eq!(sol.t, vec![0.0, 2.5, 7.25, 10.0]);
    assert_eq!(sol.u(0), &[1.0, 1.0]);
    assert!(
        matches!(sol.u_at(1.0), Err(Error::NoDenseOutput)),
        "saveat turns dense output off by default"
    );
    let dense = lv()
        .solve(
            Tsit5,
            &SolveOptions::default().saveat(vec![2.5]).dense(true),
        )
        .unwrap();
    assert_eq!(dense.len(), 1);
    assert!(max_abs_diff(&dense.u_at(2.5).unwrap(), dense.u(0)) < 1e-12);
}

#[test]
fn saveat_step_that_does_not_divide_the_span_still_saves_the_end() {
    let sol = lv()
        .solve(Tsit5, &SolveOptions::default().saveat_step(3.0))
        .unwrap();
    assert_eq!(sol.t, vec![0.0, 3.0, 6.0, 9.0, 10.0]);
}

#[test]
fn fsal_methods_spend_one_evaluation_per_stage_after_the_first() {
    let sol = lv()
        .solve(Tsit5, &SolveOptions::default().saveat_step(1.0))
        .unwrap();
    // f(t0) and the initial-step probe, then 6 new stages per attempted step.
    assert_eq!(sol.stats.f_evals, 2 + 6 * sol.stats.steps());
    let sol = lv()
        .solve(Dp5, &SolveOptions::default().saveat_step(1.0).dt0(0.01))
        .unwrap();
    assert_eq!(sol.stats.f_evals, 1 + 6 * sol.stats.steps());
    // Non-FSAL: 9 new stages per attempt and f at the new point per accepted step.
    let sol = lv()
        .solve(Vern7, &SolveOptions::default().saveat(vec![10.0]).dt0(0.01))
        .unwrap();
    assert_eq!(
        sol.stats.f_evals,
        1 + 9 * sol.stats.steps() + sol.stats.accepted
    );
}

#[test]
fn dtmax_limits_steps() {
    let sol = lv()
        .solve(Tsit5, &SolveOptions::default().dtmax(0.05))
        .unwrap();
    assert!(sol.t.windows(2).all(|w| w[1] - w[0] <= 0.05 + 1e-12));
}

#[test]
fn max_iters_keeps_the_partial_solution() {
    let sol = lv()
        .solve(Tsit5, &SolveOptions::default().maxiters(10))
        .unwrap();
    assert_eq!(sol.retcode, ReturnCode::MaxIters);
    assert_eq!(sol.stats.steps(), 10);
    assert!(sol.len() > 1);
    let (t0, reached) = sol.span();
    assert_eq!(t0, 0.0);
    assert!(reached > 0.0 && reached < 10.0);
    assert_eq!(sol.u_end(), sol.u(sol.len() - 1));
    // Dense output covers exactly what was solved.
    assert!(sol.u_at(reached).is_ok());
    assert!(matches!(sol.u_at(9.9), Err(Error::OutsideSpan { .. })));
}

#[test]
fn blow_up_ends_with_dt_less_than_min() {
    let prob = OdeProblem::new(BlowUp, vec![1.0], (0.0, 2.0), vec![]).unwrap();
    let sol = prob.solve(Tsit5, &SolveOptions::default()).unwrap();
    assert_eq!(sol.retcode, ReturnCode::DtLessThanMin);
    let reached = sol.span().1;
    assert!(
        (reached - 1.0).abs() < 1e-2,
        "stopped at {reached}, blow-up at 1"
    );
    assert!(sol.u_end()[0].is_finite());
    // A user dtmin stops it earlier.
    let sol = prob
        .solve(Tsit5, &SolveOptions::default().dtmin(1e-3))
        .unwrap();
    assert_eq!(sol.retcode, ReturnCode::DtLessThanMin);
}

#[test]
fn non_finite_state_ends_unstable() {
    let prob = OdeProblem::new(BlowUp, vec![1.0], (0.0, 10.0), vec![]).unwrap();
    let sol = prob
        .solve(Euler, &SolveOptions::default().fixed_dt(0.1))
        .unwrap();
    assert_eq!(sol.retcode, ReturnCode::Unstable);
    assert!(sol.u_end()[0].is_finite(), "the last finite state is kept");
    assert!(sol.span().1 < 10.0);
}

#[test]
fn fixed_step_methods_need_a_step() {
    assert!(matches!(
        lv().solve(Rk4, &SolveOptions::default()),
        Err(Error::NeedsFixedStep { method: "RK4" })
    ));
    assert!(matches!(
        lv().solve(Euler, &SolveOptions::default()),
        Err(Error::NeedsFixedStep { .. })
    ));
    // Heun and Midpoint carry an embedded Euler estimate and may adapt.
    assert!(
        lv().solve(Heun, &SolveOptions::default())
            .unwrap()
            .is_success()
    );
}

#[test]
fn per_component_tolerances_are_used() {
    let loose = lv()
        .solve(
            Tsit5,
            &SolveOptions::default().tolerances(vec![1e-3, 1e-3], vec![1e-6, 1e-6]),
        )
        .unwrap();
    let tight_y = lv()
        .solve(
            Tsit5,
            &SolveOptions::default().tolerances(vec![1e-3, 1e-9], vec![1e-6, 1e-12]),
        )
        .unwrap();
    assert!(tight_y.stats.accepted > 2 * loose.stats.accepted);
}

#[test]
fn dense_output_is_continuous_and_hits_saved_states() {
    let sol = lv()
        .solve(Vern7, &SolveOptions::default().tolerances(1e-8, 1e-8))
        .unwrap();
    for (t, u) in sol.iter() {
        assert!(max_abs_diff(&sol.u_at(t).unwrap(), u) < 1e-12, "t={t}");
    }
}

#[test]
fn f32_solve_agrees_with_f64() {
    let p32 = OdeProblem::new(
        LotkaVolterra,
        vec![1.0f32, 1.0],
        (0.0, 10.0),
        vec![1.5f32, 1.0, 3.0, 1.0],
    )
    .unwrap();
    let s32 = p32
        .solve(
            Tsit5,
            &SolveOptions::default()
                .tolerances(1e-5, 1e-5)
                .saveat_step(1.0),
        )
        .unwrap();
    let s64 = lv()
        .solve(
            Tsit5,
            &SolveOptions::default()
                .tolerances(1e-10, 1e-10)
                .saveat_step(1.0),
        )
        .unwrap();
    for (a, b) in s32.u_flat().iter().zip(s64.u_flat()) {
        assert!((*a as f64 - b).abs() < 1e-3, "{a} vs {b}");
    }
}

#[test]
fn a_problem_may_have_no_parameters_and_a_closure_free_struct() {
    let prob = OdeProblem::new(Spiral, vec![2.0, 0.0], (0.0, 1.5), vec![]).unwrap();
    assert!(
        prob.solve(Bs3, &SolveOptions::default())
            .unwrap()
            .is_success()
    );
}

/// Three identical copies of Lotka–Volterra side by side: six states, so the
/// solve runs with heap storage instead of the inline arrays small systems get.
#[derive(Clone, Copy, Debug)]
struct ThreeCopies;
impl OdeFunction for ThreeCopies {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        for c in 0..3 {
            LotkaVolterra.rhs(&mut du[2 * c..2 * c + 2], &u[2 * c..2 * c + 2], p, t);
        }
    }
}

#[test]
fn heap_and_inline_storage_give_the_same_solutions() {
    let six = OdeProblem::new(
        ThreeCopies,
        vec![1.0; 6],
        (0.0, 10.0),
        vec![1.5, 1.0, 3.0, 1.0],
    )
    .unwrap();
    // Fixed steps: the same arithmetic in both storages, bit for bit.
    let opts = SolveOptions::default().fixed_dt(0.01).dense(true);
    let small = lv().solve(Vern7, &opts).unwrap();
    let big = six.solve(Vern7, &opts).unwrap();
    assert_eq!(small.t, big.t);
    for (a, b) in small.iter().zip(big.iter()) {
        for c in 0..3 {
            assert_eq!(a.1, &b.1[2 * c..2 * c + 2], "t = {}", a.0);
        }
    }
    assert_eq!(small.u_at(3.333).unwrap(), big.u_at(3.333).unwrap()[..2]);
    // Adaptive steps: the error norm averages over 6 instead of 2 equal pairs,
    // which rounds differently, so steps differ in the last bits.
    for m in [0, 1] {
        let opts = SolveOptions::default()
            .tolerances(1e-8, 1e-8)
            .saveat_step(0.5);
        let (small, big) = if m == 0 {
            (
                lv().solve(Tsit5, &opts).unwrap(),
                six.solve(Tsit5, &opts).unwrap(),
            )
        } else {
            (
                lv().solve(Dop853, &opts).unwrap(),
                six.solve(Dop853, &opts).unwrap(),
            )
        };
        assert_eq!(small.t, big.t);
        assert!(small.stats.accepted.abs_diff(big.stats.accepted) <= 1);
        for (a, b) in small.iter().zip(big.iter()) {
            for c in 0..3 {
                assert!(
                    max_abs_diff(a.1, &b.1[2 * c..2 * c + 2]) < 1e-7,
                    "t = {}",
                    a.0
                );
            }
        }
    }
}
