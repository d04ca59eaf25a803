//! Events and callbacks: a bouncing ball against its analytic bounce times,
//! termination exactly at a root, directions, several conditions, preset
//! times, a discrete callback, and gradients through event times.

mod common;

use common::rel_diff;
use neurode::prelude::*;
use neurode::sensitivity::Sensitivity;

ode_system! {
    /// Free fall: height `x`, velocity `v`; `e` is used by the events.
    struct Fall;
    fn rhs<T>(t; x, v; g, e) -> (dx, dv) {
        dx = v;
        dv = -g;
    }
}

/// The floor at x = 0: the velocity flips and keeps a fraction `p[1]`.
#[derive(Clone)]
struct Floor;
impl Events for Floor {
    fn count(&self) -> usize {
        1
    }
    fn conditions<T: Scalar>(&self, out: &mut [T], u: &[T], _p: &[T], _t: T) {
        out[0] = u[0];
    }
    fn crossing(&self, _i: usize) -> Crossing {
        Crossing::Down
    }
    fn affect<T: Scalar>(&self, _i: usize, u: &mut [T], p: &[T], _t: T) -> EventAction {
        u[1] = -u[1] * p[1];
        EventAction::Continue
    }
}

const G: f64 = 9.81;
const E: f64 = 0.9;
const H: f64 = 10.0;

fn ball(t1: f64) -> OdeProblem<neurode::Hybrid<Fall, Floor>> {
    OdeProblem::new(Fall, vec![H, 0.0], (0.0, t1), vec![G, E])
        .unwrap()
        .with_events(Floor)
}

/// The analytic bounce times of a ball dropped from `H`.
fn bounce_times(k: usize) -> Vec<f64> {
    let t_first = (2.0 * H / G).sqrt();
    let v_first = G * t_first;
    let mut ts = vec![t_first];
    for j in 1..k {
        let last = ts[j - 1];
        ts.push(last + 2.0 * E.powi(j as i32) * v_first / G);
    }
    ts
}

#[test]
fn a_bouncing_ball_hits_the_floor_at_the_analytic_times() {
    let expected = bounce_times(6);
    let tight = SolveOptions::default()
        .tolerances(1e-10, 1e-10)
        .save_everystep();
    fn check<M: OdeMethod>(method: M, opts: &SolveOptions, expected: &[f64]) {
        let sol = ball(expected[5] + 0.1).solve(method, opts).unwrap();
        assert_eq!(sol.retcode, ReturnCode::Success);
        let hits: Vec<f64> = sol.events.iter().map(|e| e.t).collect();
        assert_eq!(hits.len(), 6, "{}: {hits:?}", sol.method);
        for (k, (&a, &b)) in hits.iter().zip(expected).enumerate() {
            assert!(
                (a - b).abs() < 1e-8,
                "{} bounce {k}: {a} vs {b}",
                sol.method
            );
        }
        // Energy after bounce k is e^(2k) of the initial energy, exactly:
        // read the state just after each event (saved around events).
        for (k, ev) in sol.events.iter().enumerate() {
            assert_eq!(ev.kind, EventKind::Condition(0));
            let i = sol.t.iter().rposition(|&t| t == ev.t).unwrap();
            let u = sol.u(i);
            let energy = 0.5 * u[1] * u[1] + G * u[0];
            let ratio = energy / (G * H);
            let want = E.powi(2 * (k as i32 + 1));
            assert!(
                (ratio - want).abs() < 1e-8,
                "{} bounce {k}: {ratio} vs {want}",
                sol.method
            );
        }
        // The ball never goes below the floor at the saved points.
        assert!(sol.t.iter().enumerate().all(|(i, _)| sol.u(i)[0] > -1e-9));
    }
    check(Tsit5, &tight, &expected);
    check(Vern7, &tight, &expected);
    check(Dp5, &tight, &expected);
    check(Rodas5P, &tight, &expected);
}

/// Stops the solve when the ball falls through `x = level`.
#[derive(Clone)]
struct StopAt(f64);
impl Events for StopAt {
    fn count(&self) -> usize {
        1
    }
    fn conditions<T: Scalar>(&self, out: &mut [T], u: &[T], _p: &[T], _t: T) {
        out[0] = u[0] - T::cst(self.0);
    }
    fn affect<T: Scalar>(&self, _i: usize, _u: &mut [T], _p: &[T], _t: T) -> EventAction {
        EventAction::Terminate
    }
}

#[test]
fn a_terminating_event_stops_exactly_at_the_root() {
    let prob = OdeProblem::new(Fall, vec![H, 0.0], (0.0, 5.0), vec![G, E])
        .unwrap()
        .with_events(StopAt(4.0));
    let sol = prob
        .solve(
            Tsit5,
            &SolveOptions::default().saveat(vec![0.5, 1.0, 2.0, 3.0]),
        )
        .unwrap();
    let t_root = (2.0 * (H - 4.0) / G).sqrt();
    assert_eq!(sol.retcode, ReturnCode::Terminated);
    assert!(sol.retcode.is_success());
    assert!((sol.events[0].t - t_root).abs() < 1e-12);
    assert!((sol.u_end()[0] - 4.0).abs() < 1e-12);
    // Saves after the end are not made; those before are.
    assert_eq!(sol.t, vec![0.5, 1.0]);
}

/// Two conditions: the ball passing x = 5 on the way down, and the floor.
#[derive(Clone)]
struct Marks;
impl Events for Marks {
    fn count(&self) -> usize {
        2
    }
    fn conditions<T: Scalar>(&self, out: &mut [T], u: &[T], _p: &[T], _t: T) {
        out[0] = u[0] - T::cst(5.0);
        out[1] = u[0];
    }
    fn crossing(&self, i: usize) -> Crossing {
        if i == 0 { Crossing::Up } else { Crossing::Down }
    }
    fn affect<T: Scalar>(&self, i: usize, u: &mut [T], p: &[T], _t: T) -> EventAction {
        if i == 1 {
            u[1] = -u[1] * p[1];
        }
        EventAction::Continue
    }
}

#[test]
fn each_condition_fires_only_in_its_direction_and_in_time_order() {
    // Until before the second bounce (at 3.998).
    let prob = OdeProblem::new(Fall, vec![H, 0.0], (0.0, 3.9), vec![G, E])
        .unwrap()
        .with_events(Marks);
    let sol = prob
        .solve(Tsit5, &SolveOptions::default().tolerances(1e-10, 1e-10))
        .unwrap();
    let kinds: Vec<EventKind> = sol.events.iter().map(|e| e.kind).collect();
    // Down through 5 is ignored; the floor, then up through 5 after the bounce.
    assert_eq!(
        kinds,
        vec![EventKind::Condition(1), EventKind::Condition(0)]
    );
    let t_floor = (2.0 * H / G).sqrt();
    let v_up = E * G * t_floor;
    // x = v_up τ − g τ²/2 = 5 on the way up.
    let tau = (v_up - (v_up * v_up - 2.0 * G * 5.0).sqrt()) / G;
    assert!((sol.events[1].t - (t_floor + tau)).abs() < 1e-8);
    assert!(sol.events.windows(2).all(|w| w[0].t < w[1].t));
}

ode_system! {
    /// First-order elimination of a drug.
    struct Elimination;
    fn rhs<T>(t; c; k) -> (dc) {
        dc = -k * c;
    }
}

/// A unit dose at t = 1 and t = 2.5.
#[derive(Clone)]
struct Doses;
impl Events for Doses {
    fn preset_times(&self) -> Vec<f64> {
        vec![2.5, 1.0]
    }
    fn at_preset_time<T: Scalar>(&self, u: &mut [T], _p: &[T], _t: T) -> EventAction {
        u[0] += T::one();
        EventAction::Continue
    }
}

#[test]
fn preset_time_callbacks_dose_exactly_on_time() {
    let k = 0.7;
    let prob = OdeProblem::new(Elimination, vec![0.0], (0.0, 4.0), vec![k])
        .unwrap()
        .with_events(Doses);
    let sol = prob
        .solve(
            Tsit5,
            &SolveOptions::default()
                .tolerances(1e-10, 1e-12)
                .saveat(vec![0.5, 2.0, 4.0]),
        )
        .unwrap();
    let times: Vec<f64> = sol.events.iter().map(|e| e.t).collect();
    assert_eq!(times, vec![1.0, 2.5]);
    let exact = |t: f64| {
        let d1 = if t >= 1.0 {
            (-k * (t - 1.0)).exp()
        } else {
            0.0
        };
        let d2 = if t >= 2.5 {
            (-k * (t - 2.5)).exp()
        } else {
            0.0
        };
        d1 + d2
    };
    for (i, &t) in sol.t.iter().enumerate() {
        assert!((sol.u(i)[0] - exact(t)).abs() < 1e-9, "t = {t}");
    }
}

/// A thermostat as a discrete callback: when the temperature falls below
/// 18 after a step, the heater puts it back to 21.
#[derive(Clone)]
struct Thermostat;
impl Events for Thermostat {
    fn after_step<T: Scalar>(&self, u: &mut [T], _p: &[T], _t: T) -> Option<EventAction> {
        if u[0].real() < 18.0 {
            u[0] = T::cst(21.0);
            Some(EventAction::Continue)
        } else {
            None
        }
    }
}

#[test]
fn a_discrete_callback_sees_every_step() {
    let prob = OdeProblem::new(Elimination, vec![21.0], (0.0, 3.0), vec![0.3])
        .unwrap()
        .with_events(Thermostat);
    let opts = SolveOptions::default().fixed_dt(0.01).save_everystep();
    let sol = prob.solve(Rk4, &opts).unwrap();
    let fired = sol
        .events
        .iter()
        .filter(|e| e.kind == EventKind::AfterStep)
        .count();
    // 21 e^{-0.3 t} reaches 18 after ln(21/18)/0.3 ≈ 0.514: about five times in 3.
    assert!((5..=6).contains(&fired), "{fired}");
    assert!(sol.t.iter().enumerate().all(|(i, _)| sol.u(i)[0] >= 17.9));
}

/// The squared height at t = 2.5, after one bounce, and its gradient in
/// (g, e) by `sensitivity`, checked against central differences of the
/// solve; returns the loss.
fn ball_gradient_matches_central_differences<S: Sensitivity>(sensitivity: S) -> f64 {
    let opts = SolveOptions::default()
        .tolerances(1e-11, 1e-11)
        .saveat(vec![2.5]);
    let loss = SumOfSquares::towards_constant(0, 0.0);
    let prob = ball(2.5);
    let (l, grad) = prob
        .loss_and_gradient(Tsit5, &opts, &loss, sensitivity)
        .unwrap();
    let at = |p: Vec<f64>| {
        let sol = prob.clone().with_p(p).unwrap().solve(Tsit5, &opts).unwrap();
        sol.u(0)[0].powi(2)
    };
    for (j, h) in [(0, 1e-5), (1, 1e-6)] {
        let mut up = vec![G, E];
        let mut down = vec![G, E];
        up[j] += h;
        down[j] -= h;
        let fd = (at(up) - at(down)) / (2.0 * h);
        assert!(
            (grad[j] - fd).abs() < 1e-5 * fd.abs(),
            "p[{j}]: {} vs {fd}",
            grad[j]
        );
    }
    l
}

#[test]
fn forward_mode_differentiates_through_event_times() {
    let l = ball_gradient_matches_central_differences(ForwardMode);
    // Analytic: x(t) = v_b τ − g τ²/2, τ = t − t_b, t_b = √(2H/g), v_b = e g t_b.
    let x = |g: f64, e: f64| {
        let tb = (2.0 * H / g).sqrt();
        let tau = 2.5 - tb;
        e * g * tb * tau - 0.5 * g * tau * tau
    };
    assert!((l - x(G, E).powi(2)).abs() < 1e-8);
}

/// The discrete adjoint through callbacks against forward mode (itself
/// checked against finite differences above): the same derivative of the
/// same computed solution, with respect to `p` and `u0`.
fn discrete_matches_forward_mode<F, M>(
    prob: &OdeProblem<F>,
    method: M,
    opts: &SolveOptions,
    loss: &SumOfSquares,
) where
    F: OdeFunction + Clone,
    M: OdeMethod + Clone,
{
    let a = prob
        .gradient(method.clone(), opts, loss, ForwardMode)
        .unwrap();
    let b = prob
        .gradient(method.clone(), opts, loss, Discrete::default())
        .unwrap();
    let (dp, du0) = (rel_diff(&b.dp, &a.dp), rel_diff(&b.du0, &a.du0));
    eprintln!(
        "{}: loss {:.6e}, dp {:?} vs {:?} ({dp:.1e}), du0 {du0:.1e}",
        method.info().name,
        b.loss,
        b.dp,
        a.dp
    );
    assert!((a.loss - b.loss).abs() <= 1e-12 * a.loss.abs());
    assert!(
        dp < 1e-8 && du0 < 1e-8,
        "{}: dp {dp:e}, du0 {du0:e}",
        method.info().name
    );
}

#[test]
fn discrete_adjoint_differentiates_through_events() {
    // Saves before, between and after three bounces.
    let prob = ball(4.0);
    let loss = SumOfSquares::towards_constant(0, 1.0);
    let opts = SolveOptions::default()
        .tolerances(1e-9, 1e-9)
        .saveat_step(0.1);
    discrete_matches_forward_mode(&prob, Tsit5, &opts, &loss);
    discrete_matches_forward_mode(&prob, Vern7, &opts, &loss);
    discrete_matches_forward_mode(&prob, Rodas5P, &opts, &loss);
    discrete_matches_forward_mode(
        &prob,
        Rk4,
        &SolveOptions::default().fixed_dt(0.01).saveat_step(0.1),
        &loss,
    );
    // Every step saved, events recorded as saves too.
    discrete_matches_forward_mode(
        &prob,
        Tsit5,
        &SolveOptions::default()
            .tolerances(1e-8, 1e-8)
            .save_everystep(),
        &loss,
    );
    // And against central differences of the solve itself.
    ball_gradient_matches_central_differences(Discrete::default());
}

#[test]
fn discrete_adjoint_through_preset_times_discrete_callbacks_and_termination() {
    let doses = OdeProblem::new(Elimination, vec![0.2], (0.0, 4.0), vec![0.7])
        .unwrap()
        .with_events(Doses);
    let loss = SumOfSquares::towards_constant(0, 0.5);
    let opts = SolveOptions::default()
        .tolerances(1e-9, 1e-9)
        .saveat(vec![0.5, 1.0, 2.0, 2.5, 3.0, 4.0]);
    discrete_matches_forward_mode(&doses, Tsit5, &opts, &loss);
    discrete_matches_forward_mode(&doses, Rosenbrock23, &opts, &loss);

    let thermostat = OdeProblem::new(Elimination, vec![21.0], (0.0, 3.0), vec![0.3])
        .unwrap()
        .with_events(Thermostat);
    let opts = SolveOptions::default().fixed_dt(0.01).saveat_step(0.25);
    discrete_matches_forward_mode(
        &thermostat,
        Rk4,
        &opts,
        &SumOfSquares::towards_constant(0, 19.0),
    );

    // The solve ends at the root, whose time moves with p: the last saved
    // velocity is -sqrt(2 g (H - 4)).
    let stop = OdeProblem::new(Fall, vec![H, 0.0], (0.0, 10.0), vec![G, E])
        .unwrap()
        .with_events(StopAt(4.0));
    let opts = SolveOptions::default()
        .tolerances(1e-10, 1e-10)
        .save_everystep();
    let loss = SumOfSquares::towards_constant(1, 0.0);
    discrete_matches_forward_mode(&stop, Tsit5, &opts, &loss);
    let g = stop
        .gradient(Tsit5, &opts, &loss, Discrete::default())
        .unwrap();
    let sol = stop.solve(Tsit5, &opts).unwrap();
    let v_end = sol.u_end()[1];
    assert!((v_end + (2.0 * G * (H - 4.0)).sqrt()).abs() < 1e-9);
    // Analytic: a save at a fixed step time t has v² = g² t², d/dg = 2 g t²;
    // one at the root has v² = 2 g (H - 4), d/dg = 2 (H - 4).
    let t_root = sol.events[0].t;
    let analytic: f64 = sol
        .t
        .iter()
        .map(|&t| {
            if t == t_root {
                2.0 * (H - 4.0)
            } else {
                2.0 * G * t * t
            }
        })
        .sum();
    assert!(
        (g.dp[0] - analytic).abs() < 1e-7 * analytic,
        "{} vs {analytic}",
        g.dp[0]
    );
}

#[test]
fn reverse_methods_refuse_what_they_cannot_differentiate() {
    let opts = SolveOptions::default().saveat(vec![2.5]);
    let loss = SumOfSquares::towards_constant(0, 0.0);
    let prob = ball(2.5);
    let err = prob
        .loss_and_gradient(Tsit5, &opts, &loss, Adjoint::interpolating())
        .unwrap_err();
    assert!(matches!(err, Error::CallbacksUnsupported { .. }), "{err}");
    // SDIRK carries its Jacobian across steps: a replay would not retrace it.
    let err = prob
        .loss_and_gradient(Trbdf2, &opts, &loss, Discrete::default())
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
}

ode_system! {
    /// Lotka–Volterra, for cuts that leave the state alone.
    struct Lv;
    fn rhs<T>(t; x, y; a, b, c, d) -> (dx, dy) {
        dx = a * x - b * x * y;
        dy = c * x * y - d * y;
    }
}

/// Cuts the step where `t = 3.3 + 0.1 x` (a time that moves with the
/// state, hence with `p`), changing nothing; `mesh` says whether the cut
/// only marks the mesh.
#[derive(Clone)]
struct Cut {
    mesh: bool,
}
impl Events for Cut {
    fn count(&self) -> usize {
        1
    }
    fn conditions<T: Scalar>(&self, out: &mut [T], u: &[T], _p: &[T], t: T) {
        out[0] = t - T::cst(3.3) - u[0].scaled(0.1);
    }
    fn marks_mesh_only(&self) -> bool {
        self.mesh
    }
}

#[test]
fn a_mesh_only_cut_holds_its_time_fixed_under_differentiation() {
    let loss = SumOfSquares::towards_constant(0, 1.0);
    let grad = |mesh: bool, opts: &SolveOptions| {
        let prob = OdeProblem::new(Lv, vec![1.0, 1.0], (0.0, 6.0), vec![1.5, 1.0, 1.0, 3.0])
            .unwrap()
            .with_events(Cut { mesh });
        let sol = prob.solve(Tsit5, opts).unwrap();
        assert_eq!(sol.events.len(), 1, "one cut");
        discrete_matches_forward_mode(&prob, Tsit5, opts, &loss);
        prob.gradient(Tsit5, opts, &loss, ForwardMode).unwrap().dp
    };
    // The cut changes no state, so where it falls moves the computed
    // solution only by the cut step's error: the two conventions differ
    // (the moving cut adds the event time's derivative times that error)
    // by the tolerance's effect (measured: 1.9e-6 at 1e-6, 4.2e-10 at
    // 1e-10). Each is exact for its own convention (Discrete = ForwardMode).
    for (tol, close) in [(1e-6, 1e-4), (1e-10, 1e-8)] {
        let opts = SolveOptions::default()
            .tolerances(tol, tol)
            .saveat_step(0.5);
        let (fixed, moving) = (grad(true, &opts), grad(false, &opts));
        let d = rel_diff(&fixed, &moving);
        eprintln!("tol {tol:e}: cut held fixed vs moving: {d:.1e}");
        assert!(d > 0.0 && d < close, "tol {tol:e}: {d:e}");
    }
}
