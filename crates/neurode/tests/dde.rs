//! Delay equations: `u'(t) = −u(t − 1)` against its piecewise-polynomial
//! solution, two lags solved by two methods, and forward-mode gradients of
//! the seed's delayed Lotka–Volterra against finite differences.

use neurode::dde::{DdeFunction, DdeProblem, DdeSensitivity, History, MethodOfSteps};
use neurode::prelude::*;

#[derive(Clone)]
struct Lagged;
impl DdeFunction for Lagged {
    fn rhs<T: Scalar>(&self, du: &mut [T], _u: &[T], h: &dyn History<T>, _p: &[T], t: T) {
        let mut past = [T::zero()];
        h.at(t - T::one(), &mut past);
        du[0] = -past[0];
    }
    fn history<T: Scalar>(&self, out: &mut [T], _p: &[T], _t: T) {
        out[0] = T::one();
    }
}

/// `u(t) = Σ_k (−1)^k (t − k + 1)^k / k!` over the `k` with `t ≥ k − 1`.
fn exact(t: f64) -> f64 {
    let mut sum = 0.0;
    let mut fact = 1.0;
    for k in 0..=((t.floor() as usize) + 1) {
        if k > 0 {
            fact *= k as f64;
        }
        let s = t - k as f64 + 1.0;
        if s >= 0.0 {
            sum += (-1.0_f64).powi(k as i32) * s.powi(k as i32) / fact;
        }
    }
    sum
}

#[test]
fn a_constant_lag_matches_the_piecewise_polynomial_solution() {
    let prob = DdeProblem::new(Lagged, vec![1.0], (0.0, 5.0), vec![], vec![1.0]).unwrap();
    let opts = SolveOptions::default()
        .tolerances(1e-10, 1e-10)
        .saveat_step(0.05);
    fn check<M: ErkMethod + OdeMethod>(m: M, prob: &DdeProblem<Lagged>, opts: &SolveOptions) {
        let sol = prob.solve(MethodOfSteps(m), opts).unwrap();
        assert_eq!(sol.retcode, ReturnCode::Success);
        assert_eq!(sol.len(), 101);
        let mut worst: f64 = 0.0;
        for (t, u) in sol.iter() {
            worst = worst.max((u[0] - exact(t)).abs());
        }
        // Across the breakpoints too.
        for t in [1.0, 2.0, 3.0] {
            let i = sol.t.iter().position(|&s| (s - t).abs() < 1e-12).unwrap();
            assert!(
                (sol.u(i)[0] - exact(t)).abs() < 1e-8,
                "{}: t = {t}",
                sol.method
            );
        }
        eprintln!(
            "{}: max error {worst:e} over [0, 5], {} f-evals",
            sol.method, sol.stats.f_evals
        );
        assert!(worst < 1e-8, "{}: {worst:e}", sol.method);
    }
    check(Tsit5, &prob, &opts);
    check(Vern7, &prob, &opts);
    check(Dp5, &prob, &opts);
}

#[derive(Clone)]
struct TwoLags;
impl DdeFunction for TwoLags {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], h: &dyn History<T>, p: &[T], t: T) {
        let (mut a, mut b) = ([T::zero()], [T::zero()]);
        h.at(t - T::cst(1.0), &mut a);
        h.at(t - T::cst(0.3), &mut b);
        du[0] = -p[0] * a[0] + p[1] * b[0] - u[0].scaled(0.1);
    }
    fn history<T: Scalar>(&self, out: &mut [T], _p: &[T], t: T) {
        out[0] = T::one() + t.scaled(0.5);
    }
}

#[test]
fn two_lags_agree_across_methods() {
    let prob = DdeProblem::new(
        TwoLags,
        vec![1.0],
        (0.0, 4.0),
        vec![1.0, 0.4],
        vec![1.0, 0.3],
    )
    .unwrap();
    let opts = SolveOptions::default()
        .tolerances(1e-11, 1e-11)
        .saveat_step(0.25);
    let a = prob.solve(MethodOfSteps(Tsit5), &opts).unwrap();
    let b = prob.solve(MethodOfSteps(Vern7), &opts).unwrap();
    for ((_, x), (_, y)) in a.iter().zip(b.iter()) {
        assert!((x[0] - y[0]).abs() < 1e-8, "{} vs {}", x[0], y[0]);
    }
}

/// The seed's delayed Lotka–Volterra: the rabbits' growth reads x(t − 0.1).
#[derive(Clone)]
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

#[test]
fn forward_mode_through_the_method_of_steps_matches_finite_differences() {
    let p = vec![2.2, 1.0, 2.0, 0.4];
    // Fixed steps (a divisor of the lag): finite differences then see the
    // same discretisation, so they check the derivative of the computed
    // solution to their own truncation error.
    let opts = SolveOptions::default().fixed_dt(0.01).saveat_step(0.1);
    let loss = SumOfSquares::towards_constant(0, 1.0);
    let make = |p: Vec<f64>| {
        DdeProblem::new(DelayedLv, vec![1.0, 1.0], (0.0, 10.0), p, vec![0.1]).unwrap()
    };
    let (l, g) = make(p.clone())
        .loss_and_gradient(
            MethodOfSteps(Tsit5),
            &opts,
            &loss,
            DdeSensitivity::ForwardMode,
        )
        .unwrap();
    let value = |p: Vec<f64>| {
        let sol = make(p).solve(MethodOfSteps(Tsit5), &opts).unwrap();
        loss.value(&sol.t, sol.u_flat(), 2)
    };
    assert!((l - value(p.clone())).abs() < 1e-10 * l);
    for j in 0..4 {
        let h = 1e-6;
        let (mut up, mut down) = (p.clone(), p.clone());
        up[j] += h;
        down[j] -= h;
        let fd = (value(up) - value(down)) / (2.0 * h);
        assert!(
            (g[j] - fd).abs() < 1e-6 * fd.abs().max(1.0),
            "p[{j}]: {} vs {fd}",
            g[j]
        );
    }
    // At a tight adaptive tolerance, the same gradient to 1e-4.
    let tight = SolveOptions::default()
        .tolerances(1e-12, 1e-12)
        .saveat_step(0.1);
    let (_, g_tight) = make(p.clone())
        .loss_and_gradient(
            MethodOfSteps(Vern7),
            &tight,
            &loss,
            DdeSensitivity::ForwardMode,
        )
        .unwrap();
    for j in 0..4 {
        assert!(
            (g[j] - g_tight[j]).abs() < 1e-4 * g_tight[j].abs().max(1.0),
            "p[{j}]: {} vs {}",
            g[j],
            g_tight[j]
        );
    }
}

#[test]
fn bad_lags_and_spans_are_typed_errors() {
    assert!(DdeProblem::new(Lagged, vec![1.0], (0.0, 1.0), vec![], vec![]).is_err());
    assert!(DdeProblem::new(Lagged, vec![1.0], (0.0, 1.0), vec![], vec![-1.0]).is_err());
    assert!(DdeProblem::new(Lagged, vec![1.0], (0.0, 1.0), vec![], vec![f64::NAN]).is_err());
    assert!(DdeProblem::new(Lagged, vec![1.0], (1.0, 0.0), vec![], vec![1.0]).is_err());
    assert!(DdeProblem::new(Lagged, vec![f64::INFINITY], (0.0, 1.0), vec![], vec![1.0]).is_err());
}

#[test]
fn a_neural_delay_equation_differentiates_through_its_network_and_lag() {
    use neurode::nn::{Activation::*, Chain, Layer, NeuralDde, NnRng};
    use rand::SeedableRng;
    let net = Chain::new(4).dense(8, Tanh).dense(2, Identity);
    let f = NeuralDde::new(net.clone(), 0.2, vec![1.0, 0.5]).unwrap();
    assert!(NeuralDde::new(net.clone(), 0.2, vec![1.0]).is_err());
    let p = net.init_params(&mut NnRng::seed_from_u64(3));
    let opts = SolveOptions::default().fixed_dt(0.01).saveat_step(0.1);
    let loss = SumOfSquares::towards_constant(0, 0.5);
    let make =
        |p: Vec<f64>| DdeProblem::new(f.clone(), vec![1.0, 0.5], (0.0, 1.0), p, vec![0.2]).unwrap();
    let (_, g) = make(p.clone())
        .loss_and_gradient(
            MethodOfSteps(Tsit5),
            &opts,
            &loss,
            DdeSensitivity::ForwardMode,
        )
        .unwrap();
    let value = |p: Vec<f64>| {
        let sol = make(p).solve(MethodOfSteps(Tsit5), &opts).unwrap();
        loss.value(&sol.t, sol.u_flat(), 2)
    };
    for k in (0..p.len()).step_by(5) {
        let h = 1e-6;
        let (mut a, mut b) = (p.clone(), p.clone());
        a[k] += h;
        b[k] -= h;
        let fd = (value(a) - value(b)) / (2.0 * h);
        assert!(
            (g[k] - fd).abs() < 1e-6 * fd.abs().max(1.0),
            "p[{k}]: {} vs {fd}",
            g[k]
        );
    }
}

/// `u'(t) = −u(t − 1 − u(t)²/2)`: a state-dependent delay never shorter
/// than 1.
#[derive(Clone)]
struct StateLag(f64);
impl DdeFunction for StateLag {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], h: &dyn History<T>, _p: &[T], t: T) {
        let mut past = [T::zero()];
        h.at(t - T::cst(self.0) - (u[0] * u[0]).scaled(0.5), &mut past);
        du[0] = -past[0];
    }
    fn history<T: Scalar>(&self, out: &mut [T], _p: &[T], _t: T) {
        out[0] = T::one();
    }
}

#[test]
fn state_dependent_delays_converge_and_too_short_ones_stop_the_solve() {
    let prob = DdeProblem::new(StateLag(1.0), vec![1.0], (0.0, 6.0), vec![], vec![1.0]).unwrap();
    let at = |m: &dyn Fn(&SolveOptions) -> Solution, tol: f64| {
        m(&SolveOptions::default()
            .tolerances(tol, tol)
            .saveat_step(0.5))
    };
    let vern = at(&|o| prob.solve(MethodOfSteps(Vern7), o).unwrap(), 1e-11);
    let tsit = at(&|o| prob.solve(MethodOfSteps(Tsit5), o).unwrap(), 1e-9);
    assert_eq!(vern.retcode, ReturnCode::Success);
    for ((_, a), (_, b)) in vern.iter().zip(tsit.iter()) {
        assert!((a[0] - b[0]).abs() < 1e-6, "{} vs {}", a[0], b[0]);
    }
    // Declaring a minimum lag the delay undercuts is caught, not guessed.
    let wrong = DdeProblem::new(StateLag(0.05), vec![1.0], (0.0, 2.0), vec![], vec![0.5]).unwrap();
    let sol = wrong
        .solve(MethodOfSteps(Tsit5), &SolveOptions::default())
        .unwrap();
    assert!(!sol.is_success(), "{:?}", sol.retcode);
}

/// Two lags, a delay that moves with the state, and a history that depends
/// on the parameters: `u' = −p0 u(t − 1 − p1 u(t)²) + p2 u(t − 0.7)`, with
/// `u(t) = p3 + 0.2 cos t` before 0 (the state-dependent lag is never
/// shorter than the declared 1, as the method of steps needs).
#[derive(Clone)]
struct Moving;
impl DdeFunction for Moving {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], h: &dyn History<T>, p: &[T], t: T) {
        let (mut a, mut b) = ([T::zero()], [T::zero()]);
        h.at(t - T::one() - p[1] * u[0] * u[0], &mut a);
        h.at(t - T::cst(0.7), &mut b);
        du[0] = -p[0] * a[0] + p[2] * b[0];
    }
    fn history<T: Scalar>(&self, out: &mut [T], p: &[T], t: T) {
        out[0] = p[3] + t.cos().scaled(0.2);
    }
}

/// [`Moving`] with its state-dependent lag declared, so the discontinuities
/// it carries forward are tracked (steps cut there).
#[derive(Clone)]
struct TrackedMoving;
impl DdeFunction for TrackedMoving {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], h: &dyn History<T>, p: &[T], t: T) {
        Moving.rhs(du, u, h, p, t);
    }
    fn history<T: Scalar>(&self, out: &mut [T], p: &[T], t: T) {
        Moving.history(out, p, t);
    }
    fn dependent_lag_count(&self) -> usize {
        1
    }
    fn dependent_lags<T: Scalar>(&self, out: &mut [T], u: &[T], p: &[T], _t: T) {
        out[0] = T::one() + p[1] * u[0] * u[0];
    }
}

/// `u' = −p0 u(t − 1) + p1 u(t − 0.7) + p2 u`, history `p3 + 0.2 cos t`,
/// with its own parameter products (so the discrete adjoint leaves `p` to
/// them and pulls the history's dependence on `p` back separately).
#[derive(Clone)]
struct OwnProducts;
impl DdeFunction for OwnProducts {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], h: &dyn History<T>, p: &[T], t: T) {
        let (mut a, mut b) = ([T::zero()], [T::zero()]);
        h.at(t - T::one(), &mut a);
        h.at(t - T::cst(0.7), &mut b);
        du[0] = -p[0] * a[0] + p[1] * b[0] + p[2] * u[0];
    }
    fn history<T: Scalar>(&self, out: &mut [T], p: &[T], t: T) {
        out[0] = p[3] + t.cos().scaled(0.2);
    }
    fn vjp_p(
        &self,
        v: &[f64],
        u: &[f64],
        h: &dyn History<f64>,
        _p: &[f64],
        t: f64,
        vp: &mut [f64],
    ) -> bool {
        let (mut a, mut b) = ([0.0], [0.0]);
        h.at(t - 1.0, &mut a);
        h.at(t - 0.7, &mut b);
        vp.copy_from_slice(&[-v[0] * a[0], v[0] * b[0], v[0] * u[0], 0.0]);
        true
    }
}

/// Central differences of `value` at `p`.
fn central_differences(p: &[f64], h: f64, value: impl Fn(Vec<f64>) -> f64) -> Vec<f64> {
    (0..p.len())
        .map(|j| {
            let (mut up, mut down) = (p.to_vec(), p.to_vec());
            up[j] += h;
            down[j] -= h;
            (value(up) - value(down)) / (2.0 * h)
        })
        .collect()
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0_f64, |m, x| m.max(x.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs() / scale))
}

#[test]
fn discrete_adjoint_through_the_method_of_steps_is_exact() {
    fn check<F: DdeFunction + Clone, M: ErkMethod + OdeMethod + Copy>(
        name: &str,
        make: impl Fn(Vec<f64>) -> DdeProblem<F>,
        p: &[f64],
        method: M,
        opts: &SolveOptions,
        (fd_step, fd_tol): (f64, f64),
    ) {
        let loss = SumOfSquares::towards_constant(0, 1.0);
        let n = make(p.to_vec())
            .solve(MethodOfSteps(method), opts)
            .unwrap()
            .num_states();
        let (l, g) = make(p.to_vec())
            .loss_and_gradient(MethodOfSteps(method), opts, &loss, DdeSensitivity::Discrete)
            .unwrap();
        let (lf, gf) = make(p.to_vec())
            .loss_and_gradient(
                MethodOfSteps(method),
                opts,
                &loss,
                DdeSensitivity::ForwardMode,
            )
            .unwrap();
        let fd = central_differences(p, fd_step, |q| {
            let sol = make(q).solve(MethodOfSteps(method), opts).unwrap();
            loss.value(&sol.t, sol.u_flat(), n)
        });
        let (e_fwd, e_fd) = (max_rel(&g, &gf), max_rel(&g, &fd));
        eprintln!(
            "{name}: discrete {g:?}\n  vs forward mode {e_fwd:.1e}, vs differences {e_fd:.1e}"
        );
        assert!(
            (l - lf).abs() <= 1e-12 * l.abs().max(1.0),
            "{name}: loss {l} vs {lf}"
        );
        assert!(e_fwd < 1e-9, "{name}: against forward mode {e_fwd}");
        assert!(e_fd < fd_tol, "{name}: against finite differences {e_fd}");
    }
    let lv = |p: Vec<f64>| {
        DdeProblem::new(DelayedLv, vec![1.0, 1.0], (0.0, 10.0), p, vec![0.1]).unwrap()
    };
    let p = [2.2, 1.0, 2.0, 0.4];
    let fixed = SolveOptions::default().fixed_dt(0.01).saveat_step(0.1);
    check(
        "delayed LV, Tsit5, fixed steps",
        lv,
        &p,
        Tsit5,
        &fixed,
        (1e-6, 1e-6),
    );
    let adaptive = SolveOptions::default()
        .tolerances(1e-8, 1e-8)
        .saveat_step(0.1);
    check(
        "delayed LV, Tsit5, adaptive",
        lv,
        &p,
        Tsit5,
        &adaptive,
        (1e-6, 1e-4),
    );
    check(
        "delayed LV, Vern7, adaptive",
        lv,
        &p,
        Vern7,
        &adaptive,
        (1e-6, 1e-4),
    );
    // Right-hand sides with their own parameter products.
    let own = |p: Vec<f64>| {
        DdeProblem::new(OwnProducts, vec![1.0], (0.0, 4.0), p, vec![1.0, 0.7]).unwrap()
    };
    let p = [0.9, 0.4, -0.3, 0.8];
    let fixed = SolveOptions::default().fixed_dt(0.05).saveat_step(0.25);
    check(
        "own parameter products, BS3, fixed steps",
        own,
        &p,
        Bs3,
        &fixed,
        (1e-6, 1e-6),
    );
    let adaptive = SolveOptions::default()
        .tolerances(1e-12, 1e-12)
        .saveat_step(0.25);
    check(
        "own parameter products, DP5, adaptive",
        own,
        &p,
        Dp5,
        &adaptive,
        (1e-4, 1e-3),
    );
    {
        use neurode::nn::{Activation::*, Chain, Layer, NeuralDde, NnRng};
        use rand::SeedableRng;
        let net = Chain::new(4).dense(8, Tanh).dense(2, Identity);
        let f = NeuralDde::new(net.clone(), 0.2, vec![1.0, 0.5]).unwrap();
        let p = net.init_params(&mut NnRng::seed_from_u64(3));
        let neural = |p: Vec<f64>| {
            DdeProblem::new(f.clone(), vec![1.0, 0.5], (0.0, 1.0), p, vec![0.2]).unwrap()
        };
        let fixed = SolveOptions::default().fixed_dt(0.01).saveat_step(0.1);
        check(
            "neural DDE, Tsit5, fixed steps",
            neural,
            &p,
            Tsit5,
            &fixed,
            (1e-6, 1e-6),
        );
    }
    let moving =
        |p: Vec<f64>| DdeProblem::new(Moving, vec![1.0], (0.0, 4.0), p, vec![1.0, 0.7]).unwrap();
    let p = [0.9, 0.3, 0.4, 0.8];
    let fixed = SolveOptions::default().fixed_dt(0.05).saveat_step(0.25);
    check(
        "state-dependent lag, BS3, fixed steps",
        moving,
        &p,
        Bs3,
        &fixed,
        (1e-6, 1e-6),
    );
    // Adaptive: differences of an adaptive solve also see the step sizes
    // move with p (held fixed by both gradients), so they agree only to
    // the tolerance's effect, here with larger differencing steps.
    let adaptive = SolveOptions::default()
        .tolerances(1e-12, 1e-12)
        .saveat_step(0.25);
    check(
        "state-dependent lag, DP5, adaptive",
        moving,
        &p,
        Dp5,
        &adaptive,
        (1e-4, 1e-3),
    );
    // Tracked: steps are cut where the lag reaches back to an earlier
    // discontinuity, at times held fixed by both gradients. Differences
    // see the cuts move, which changes the solution by the cut step's
    // error (a step that straddled the kink): against a tight adaptive
    // reference, fixed-step gradients with cuts held fixed or moving were
    // equally far off (1.7e-3 vs 3.5e-3 at dt = 0.01, 7.4e-4 vs 5.5e-4 at
    // 0.0025), so both differentiate the method to its own accuracy.
    let tracked = |p: Vec<f64>| {
        DdeProblem::new(TrackedMoving, vec![1.0], (0.0, 4.0), p, vec![1.0, 0.7]).unwrap()
    };
    let cuts = tracked(p.to_vec())
        .solve(MethodOfSteps(Tsit5), &adaptive)
        .unwrap()
        .events
        .len();
    assert!(cuts >= 2, "{cuts} tracked discontinuities");
    check(
        "tracked state-dependent lag, Tsit5, adaptive",
        tracked,
        &p,
        Tsit5,
        &adaptive,
        (1e-4, 1e-3),
    );
    let fine = SolveOptions::default().fixed_dt(0.01).saveat_step(0.25);
    check(
        "tracked state-dependent lag, Tsit5, fixed steps",
        tracked,
        &p,
        Tsit5,
        &fine,
        (1e-6, 1e-3),
    );
}

/// `u' = −u(t − τ(u))/2` with `τ = 1 + u(t)²`, history 1: until the lag
/// first reaches back past 0, `u = 1 − t/2`, so the kink at 0 reappears
/// where `t − 1 − (1 − t/2)² = 0`, at `t* = 4 − 2√2`.
#[derive(Clone)]
struct DependentLag {
    track: bool,
}
impl DdeFunction for DependentLag {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], h: &dyn History<T>, _p: &[T], t: T) {
        let mut past = [T::zero()];
        h.at(t - T::one() - u[0] * u[0], &mut past);
        du[0] = -past[0].scaled(0.5);
    }
    fn history<T: Scalar>(&self, out: &mut [T], _p: &[T], _t: T) {
        out[0] = T::one();
    }
    fn dependent_lag_count(&self) -> usize {
        usize::from(self.track)
    }
    fn dependent_lags<T: Scalar>(&self, out: &mut [T], u: &[T], _p: &[T], _t: T) {
        out[0] = T::one() + u[0] * u[0];
    }
}

#[test]
fn state_dependent_discontinuities_are_found_and_stepped_onto() {
    let make = |track| {
        DdeProblem::new(
            DependentLag { track },
            vec![1.0],
            (0.0, 6.0),
            vec![],
            vec![1.0],
        )
        .unwrap()
    };
    let saves = vec![2.0, 4.0, 6.0];
    let solve = |track, tol: f64| {
        make(track)
            .solve(
                MethodOfSteps(Tsit5),
                &SolveOptions::default()
                    .tolerances(tol, tol)
                    .saveat(saves.clone()),
            )
            .unwrap()
    };
    let reference = solve(true, 1e-13);
    let t_star = 4.0 - 8.0_f64.sqrt();
    let first = reference.events.first().expect("a tracked discontinuity").t;
    assert!(
        (first - t_star).abs() < 1e-9,
        "found at {first}, expected {t_star}"
    );
    // It reappears further on (where t − τ(u(t)) = t*), found as well.
    assert!(reference.events.len() >= 2, "{:?}", reference.events);
    let err = |s: &neurode::Solution| {
        s.u_flat()
            .iter()
            .zip(reference.u_flat())
            .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()))
    };
    for tol in [1e-6, 1e-8] {
        let (tracked, untracked) = (solve(true, tol), solve(false, tol));
        let (e1, e0) = (err(&tracked), err(&untracked));
        eprintln!(
            "tol {tol:e}: tracked error {e1:.2e} ({} steps), untracked {e0:.2e} ({} steps)",
            tracked.stats.accepted, untracked.stats.accepted
        );
        // Tracking restores the method's accuracy near the kinks: several
        // times smaller errors for a few more steps.
        assert!(
            e1 < e0 / 3.0 && e1 < 30.0 * tol,
            "tracked {e1}, untracked {e0} at {tol}"
        );
    }
}
