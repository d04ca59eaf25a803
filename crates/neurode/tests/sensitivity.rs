//! Gradients of losses of solves: every sensitivity method against central
//! finite differences and against each other.

mod common;

use common::*;
use neurode::prelude::*;
use neurode::sensitivity::AdjointKind;

/// Central differences of `loss(p)`, step `h·max(|p_j|, floor)`.
fn finite_difference_gradient(
    p: &[f64],
    h: f64,
    floor: f64,
    loss: impl Fn(&[f64]) -> f64,
) -> Vec<f64> {
    (0..p.len())
        .map(|j| {
            let step = h * p[j].abs().max(floor);
            let mut a = p.to_vec();
            let mut b = p.to_vec();
            a[j] += step;
            b[j] -= step;
            (loss(&a) - loss(&b)) / (2.0 * step)
        })
        .collect()
}

fn lotka_volterra() -> OdeProblem<LotkaVolterra> {
    OdeProblem::new(
        LotkaVolterra,
        vec![1.0, 1.0],
        (0.0, 10.0),
        vec![2.2, 1.0, 2.0, 0.4],
    )
    .unwrap()
}

/// The seed's loss: Σ over t = 0:0.1:10 of (x(t) - 1)².
fn rabbits_at_one() -> SumOfSquares {
    SumOfSquares::towards_constant(0, 1.0)
}

fn lv_loss(p: &[f64], opts: &SolveOptions) -> f64 {
    let prob = lotka_volterra().with_p(p.to_vec()).unwrap();
    let sol = prob.solve(Tsit5, opts).unwrap();
    rabbits_at_one().value(&sol.t, sol.u_flat(), 2)
}

#[test]
fn lotka_volterra_every_method_matches_finite_differences() {
    let prob = lotka_volterra();
    let tight = SolveOptions::default()
        .tolerances(1e-10, 1e-10)
        .saveat_step(0.1);
    let fd = finite_difference_gradient(prob.p(), 1e-5, 1.0, |p| lv_loss(p, &tight));
    eprintln!("finite differences: {fd:?}");
    let loss = rabbits_at_one();
    let check = |name: &str, g: Vec<f64>, tol: f64| {
        let d = rel_diff(&g, &fd);
        eprintln!("{name}: {g:?} (relative difference {d:.2e})");
        assert!(d < tol, "{name}: {d}");
    };
    let forward = prob
        .loss_and_gradient(Tsit5, &tight, &loss, ForwardMode)
        .unwrap();
    check("forward mode", forward.1, 1e-5);
    let discrete = prob
        .loss_and_gradient(Tsit5, &tight, &loss, Discrete::default())
        .unwrap();
    check("discrete", discrete.1, 1e-5);
    for adjoint in [
        Adjoint::interpolating(),
        Adjoint::quadrature(),
        Adjoint::backsolve(),
        Adjoint::interpolating().checkpointed(),
    ] {
        let name = format!("{:?}", adjoint.kind());
        let g = prob
            .loss_and_gradient(Tsit5, &tight, &loss, adjoint)
            .unwrap();
        check(&name, g.1, 1e-5);
    }
    // At a moderate tolerance the continuous adjoints stay within 1e-3.
    let moderate = SolveOptions::default()
        .tolerances(1e-7, 1e-7)
        .saveat_step(0.1);
    for kind in [
        AdjointKind::Interpolating,
        AdjointKind::Quadrature,
        AdjointKind::Backsolve,
    ] {
        let adjoint = match kind {
            AdjointKind::Interpolating => Adjoint::interpolating(),
            AdjointKind::Quadrature => Adjoint::quadrature(),
            AdjointKind::Backsolve => Adjoint::backsolve(),
        };
        let g = prob
            .loss_and_gradient(Tsit5, &moderate, &loss, adjoint)
            .unwrap();
        check(&format!("{kind:?} at 1e-7"), g.1, 1e-3);
    }
}

ode_system! {
    /// Robertson's chemical kinetics.
    struct Rober;
    fn rhs<T>(t; y1, y2, y3; k1, k2, k3) -> (d1, d2, d3) {
        d1 = -k1 * y1 + k3 * y2 * y3;
        d2 = k1 * y1 - k2 * y2 * y2 - k3 * y2 * y3;
        d3 = k2 * y2 * y2;
    }
}

/// A loss that reads every ROBER component on its own scale.
struct RoberLoss;
impl Loss for RoberLoss {
    fn value<T: Scalar>(&self, _t: &[f64], u: &[T], n: usize) -> T {
        u.chunks(n).fold(T::zero(), |acc, y| {
            let y2 = y[1].scaled(1e4);
            acc + y[0] * y[0] + y2 * y2 + y[2] * y[2]
        })
    }
}

fn rober() -> OdeProblem<Rober> {
    OdeProblem::new(
        Rober,
        vec![1.0, 0.0, 0.0],
        (0.0, 100.0),
        vec![0.04, 3e7, 1e4],
    )
    .unwrap()
}

/// `p_j / L · dL/dp_j`: sensitivities relative to each parameter's size.
fn relative(g: &[f64], p: &[f64], l: f64) -> Vec<f64> {
    g.iter().zip(p).map(|(g, p)| g * p / l).collect()
}

#[test]
fn rober_relative_sensitivities_with_stiff_solvers() {
    let prob = rober();
    let saves = vec![1e-3, 0.1, 1.0, 10.0, 100.0];
    let tight = SolveOptions::default()
        .tolerances(1e-10, 1e-14)
        .saveat(saves.clone());
    let loss_at = |p: &[f64]| {
        let sol = prob
            .clone()
            .with_p(p.to_vec())
            .unwrap()
            .solve(Rodas5P, &tight)
            .unwrap();
        RoberLoss.value(&sol.t, sol.u_flat(), 3)
    };
    let l0 = loss_at(prob.p());
    let fd = relative(
        &finite_difference_gradient(prob.p(), 1e-4, 0.0, |p| {
            // Relative steps: perturb each rate constant by 1e-4 of itself.
            loss_at(p)
        }),
        prob.p(),
        l0,
    );
    eprintln!("finite differences (relative): {fd:?}");
    let check = |name: &str, (l, g): (f64, Vec<f64>), tol: f64| {
        let r = relative(&g, prob.p(), l);
        let d = rel_diff(&r, &fd);
        eprintln!("{name}: {r:?} (relative difference {d:.2e})");
        assert!(d < tol, "{name}: {d}");
    };
    check(
        "forward mode, Rodas5P",
        prob.loss_and_gradient(Rodas5P, &tight, &RoberLoss, ForwardMode)
            .unwrap(),
        1e-5,
    );
    check(
        "forward mode, BDF",
        prob.loss_and_gradient(Bdf::default(), &tight, &RoberLoss, ForwardMode)
            .unwrap(),
        1e-4,
    );
    let moderate = SolveOptions::default()
        .tolerances(1e-8, 1e-12)
        .saveat(saves);
    for (name, adjoint) in [
        ("interpolating", Adjoint::interpolating().solver(Rodas5P)),
        ("quadrature", Adjoint::quadrature().solver(Rodas5P)),
        (
            "interpolating, checkpointed",
            Adjoint::interpolating().solver(Rodas5P).checkpointed(),
        ),
    ] {
        check(
            name,
            prob.loss_and_gradient(Rodas5P, &moderate, &RoberLoss, adjoint)
                .unwrap(),
            1e-3,
        );
    }
    // The discrete adjoint of the stiff one-step methods: each step
    // differentiated in vector duals.
    check(
        "discrete, Rodas5P",
        prob.loss_and_gradient(Rodas5P, &tight, &RoberLoss, Discrete::default())
            .unwrap(),
        1e-5,
    );
    check(
        "discrete, Rosenbrock23",
        prob.loss_and_gradient(Rosenbrock23, &moderate, &RoberLoss, Discrete::default())
            .unwrap(),
        1e-3,
    );
    check(
        "discrete, KenCarp4",
        prob.loss_and_gradient(KenCarp4, &moderate, &RoberLoss, Discrete::default())
            .unwrap(),
        1e-3,
    );
    check(
        "discrete, BDF",
        prob.loss_and_gradient(Bdf::default(), &tight, &RoberLoss, Discrete::default())
            .unwrap(),
        1e-4,
    );
    check(
        "quadrature, BDF adjoint",
        prob.loss_and_gradient(
            Bdf::default(),
            &moderate,
            &RoberLoss,
            Adjoint::quadrature().solver(Bdf::default()),
        )
        .unwrap(),
        1e-3,
    );
}

/// A non-autonomous system whose initial state and span are functions of
/// the parameters: `u0 = (p1, p1²)`, `tspan = (0.1 p3, p2)`.
#[derive(Clone, Copy, Debug)]
struct Moving;
impl OdeFunction for Moving {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        du[0] = -p[0] * u[0] + u[1];
        du[1] = -u[0] + t.cos() * p[0];
    }
    fn initial_state<T: Scalar>(&self, p: &[T], _t0: T, u0: &mut [T]) -> bool {
        u0[0] = p[1];
        u0[1] = p[1] * p[1];
        true
    }
    fn time_span<T: Scalar>(&self, p: &[T]) -> Option<(T, T)> {
        Some((p[3].scaled(0.1), p[2]))
    }
}

#[test]
fn gradients_flow_through_u0_and_tspan_of_p() {
    let p0 = vec![0.7, 1.3, 2.0, 1.0];
    let prob = OdeProblem::new(Moving, vec![0.0, 0.0], (0.0, 1.0), p0.clone()).unwrap();
    assert_eq!(prob.u0(), &[1.3, 1.3 * 1.3]);
    assert_eq!(prob.tspan(), (0.1, 2.0));
    // Saved at two fixed interior times and at the (moving) end.
    let opts = SolveOptions::default()
        .tolerances(1e-11, 1e-11)
        .saveat(vec![0.5, 1.5, 2.0]);
    let loss = SumOfSquares::towards_constant(0, 0.5);
    let fd = finite_difference_gradient(&p0, 1e-5, 1.0, |p| {
        let prob = prob.clone().with_p(p.to_vec()).unwrap();
        let mut o = opts.clone();
        o.saveat = SaveAt::Times(vec![0.5, 1.5, prob.tspan().1]);
        let sol = prob.solve(Tsit5, &o).unwrap();
        loss.value(&sol.t, sol.u_flat(), 2)
    });
    eprintln!("finite differences: {fd:?}");
    let check = |name: &str, g: Vec<f64>, tol: f64| {
        let d = rel_diff(&g, &fd);
        eprintln!("{name}: {g:?} (relative difference {d:.2e})");
        assert!(d < tol, "{name}: {d}");
    };
    check(
        "forward mode",
        prob.loss_and_gradient(Tsit5, &opts, &loss, ForwardMode)
            .unwrap()
            .1,
        1e-5,
    );
    check(
        "discrete",
        prob.loss_and_gradient(Tsit5, &opts, &loss, Discrete::default())
            .unwrap()
            .1,
        1e-5,
    );
    check(
        "interpolating",
        prob.loss_and_gradient(Tsit5, &opts, &loss, Adjoint::interpolating())
            .unwrap()
            .1,
        1e-5,
    );
    check(
        "quadrature",
        prob.loss_and_gradient(Tsit5, &opts, &loss, Adjoint::quadrature())
            .unwrap()
            .1,
        1e-5,
    );
    check(
        "backsolve",
        prob.loss_and_gradient(Tsit5, &opts, &loss, Adjoint::backsolve())
            .unwrap()
            .1,
        1e-5,
    );
}

/// A small neural right-hand side, `u' = W2 tanh(W1 u + b1) + b2` (2→16→2),
/// its 82 weights the parameters.
#[derive(Clone, Copy, Debug)]
struct TinyNet;
const HIDDEN: usize = 16;
impl OdeFunction for TinyNet {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        let (w1, rest) = p.split_at(2 * HIDDEN);
        let (b1, rest) = rest.split_at(HIDDEN);
        let (w2, b2) = rest.split_at(2 * HIDDEN);
        du[0] = b2[0];
        du[1] = b2[1];
        for h in 0..HIDDEN {
            let a = (w1[2 * h] * u[0] + w1[2 * h + 1] * u[1] + b1[h]).tanh();
            du[0] += w2[h] * a;
            du[1] += w2[HIDDEN + h] * a;
        }
    }
    fn num_params(&self) -> Option<usize> {
        Some(4 * HIDDEN + HIDDEN + 2)
    }
}

#[test]
fn neural_right_hand_side_gradients_agree() {
    // Deterministic small weights from a simple sequence.
    let np = 5 * HIDDEN + 2;
    let p: Vec<f64> = (0..np)
        .map(|i| 0.5 * ((i as f64 * 0.7548776662466927).fract() - 0.5))
        .collect();
    let prob = OdeProblem::new(TinyNet, vec![2.0, 0.0], (0.0, 1.0), p.clone()).unwrap();
    let opts = SolveOptions::default()
        .tolerances(1e-10, 1e-10)
        .saveat_step(0.1);
    let data: Vec<f64> = (0..=10)
        .flat_map(|k| [1.0 - 0.1 * k as f64, 0.05 * k as f64])
        .collect();
    let loss = SumOfSquares::against_data(data);
    let fd = finite_difference_gradient(&p, 1e-6, 1.0, |p| {
        let sol = prob
            .clone()
            .with_p(p.to_vec())
            .unwrap()
            .solve(Tsit5, &opts)
            .unwrap();
        loss.value(&sol.t, sol.u_flat(), 2)
    });
    let forward = prob
        .loss_and_gradient(Tsit5, &opts, &loss, ForwardMode)
        .unwrap()
        .1;
    let discrete = prob
        .loss_and_gradient(Tsit5, &opts, &loss, Discrete::default())
        .unwrap()
        .1;
    let interp = prob
        .loss_and_gradient(Tsit5, &opts, &loss, Adjoint::interpolating())
        .unwrap()
        .1;
    let quad = prob
        .loss_and_gradient(Tsit5, &opts, &loss, Adjoint::quadrature())
        .unwrap()
        .1;
    let back = prob
        .loss_and_gradient(Tsit5, &opts, &loss, Adjoint::backsolve())
        .unwrap()
        .1;
    for (name, g) in [
        ("forward", &forward),
        ("discrete", &discrete),
        ("interpolating", &interp),
        ("quadrature", &quad),
        ("backsolve", &back),
    ] {
        let d = rel_diff(g, &fd);
        eprintln!("{name}: relative difference to finite differences {d:.2e}");
        assert!(d < 1e-5, "{name}: {d}");
    }
    assert!(rel_diff(&discrete, &forward) < 1e-9);
}

/// The discrete adjoint is the exact derivative of the computed solution:
/// with fixed steps it matches finite differences of that same fixed-step
/// solve far below the method's truncation error.
#[test]
fn discrete_is_exact_on_fixed_steps() {
    let prob = lotka_volterra();
    let loss = rabbits_at_one();
    for (name, dt) in [("RK4", 0.05), ("Tsit5", 0.1)] {
        let opts = SolveOptions::default().fixed_dt(dt).saveat_step(0.1);
        let value = |p: &[f64]| {
            let prob = prob.clone().with_p(p.to_vec()).unwrap();
            let sol = if name == "RK4" {
                prob.solve(Rk4, &opts).unwrap()
            } else {
                prob.solve(Tsit5, &opts).unwrap()
            };
            loss.value(&sol.t, sol.u_flat(), 2)
        };
        let fd = finite_difference_gradient(prob.p(), 1e-5, 1.0, value);
        let g = if name == "RK4" {
            prob.loss_and_gradient(Rk4, &opts, &loss, Discrete::checkpoint_every(7))
                .unwrap()
                .1
        } else {
            prob.loss_and_gradient(Tsit5, &opts, &loss, Discrete::checkpoint_every(7))
                .unwrap()
                .1
        };
        let d = rel_diff(&g, &fd);
        eprintln!("{name} fixed dt = {dt}: relative difference {d:.2e}");
        assert!(d < 1e-8, "{name}: {d}");
    }
}

/// Discrete and forward mode differentiate the same computed solution, so
/// they agree to rounding for every explicit method, including saved points
/// read from each method's interpolant (lazy extra stages included).
#[test]
fn discrete_equals_forward_mode_for_every_explicit_method() {
    fn check<M: OdeMethod + Copy>(m: M, opts: &SolveOptions) {
        let prob = lotka_volterra();
        let loss = rabbits_at_one();
        let a = prob.gradient(m, opts, &loss, ForwardMode).unwrap();
        let b = prob.gradient(m, opts, &loss, Discrete::default()).unwrap();
        let dp = rel_diff(&b.dp, &a.dp);
        let du0 = rel_diff(&b.du0, &a.du0);
        eprintln!("{}: dp {dp:.1e}, du0 {du0:.1e}", m.info().name);
        assert!(dp < 1e-9 && du0 < 1e-9, "{}", m.info().name);
    }
    let adaptive = SolveOptions::default()
        .tolerances(1e-7, 1e-7)
        .saveat_step(0.13);
    let fixed = SolveOptions::default().fixed_dt(0.02).saveat_step(0.13);
    check(Bs3, &adaptive);
    check(Dp5, &adaptive);
    check(Tsit5, &adaptive);
    check(Vern7, &adaptive);
    check(Dop853, &adaptive);
    check(Euler, &fixed);
    check(Midpoint, &fixed);
    check(Heun, &fixed);
    check(Rk4, &fixed);
    // Every step saved, and integration backwards in time.
    check(
        Tsit5,
        &SolveOptions::default()
            .tolerances(1e-7, 1e-7)
            .save_everystep(),
    );
    let back = lotka_volterra().with_tspan((10.0, 0.0)).unwrap();
    let opts = SolveOptions::default()
        .tolerances(1e-8, 1e-8)
        .saveat_step(0.1);
    let a = back
        .gradient(Tsit5, &opts, &rabbits_at_one(), ForwardMode)
        .unwrap();
    let b = back
        .gradient(Tsit5, &opts, &rabbits_at_one(), Discrete::default())
        .unwrap();
    let c = back
        .gradient(Tsit5, &opts, &rabbits_at_one(), Adjoint::interpolating())
        .unwrap();
    assert!(rel_diff(&b.dp, &a.dp) < 1e-9);
    assert!(rel_diff(&c.dp, &a.dp) < 1e-4, "{:?} {:?}", c.dp, a.dp);
}

/// A ring of `n` coupled states with `np` parameters:
/// `u_i' = -p_(i mod np) u_i + p_((i+1) mod np) sin(u_(i+1)) + t/10`, on
/// `[0, 1.5]` or, with `moving_end`, on `[0, 1 + p_0]`.
#[derive(Clone, Copy, Debug)]
struct Ring {
    moving_end: bool,
}
impl OdeFunction for Ring {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        let (n, np) = (u.len(), p.len());
        for i in 0..n {
            du[i] = -p[i % np] * u[i] + p[(i + 1) % np] * u[(i + 1) % n].sin() + t.scaled(0.1);
        }
    }
    fn time_span<T: Scalar>(&self, p: &[T]) -> Option<(T, T)> {
        self.moving_end.then(|| (T::zero(), T::one() + p[0]))
    }
}

/// The discrete adjoint compiles its backward pass for systems of 1–4
/// states and takes the products of small systems from Jacobians taken
/// ahead of them: every size, on either side of those limits, with and
/// without a span that moves with `p` (the products' time lane), agrees
/// with forward mode.
#[test]
fn discrete_agrees_with_forward_mode_at_every_size_and_product_path() {
    let opts = SolveOptions::default()
        .tolerances(1e-8, 1e-8)
        .saveat_step(0.17);
    for n in 1..=7 {
        // n + 2 directions fit one pass of eight lanes up to n = 6 (5 with
        // time); n + 9 never do.
        for (np, moving_end) in [(2, false), (2, true), (9, false)] {
            let u0: Vec<f64> = (0..n).map(|i| 0.3 + 0.2 * i as f64).collect();
            let p: Vec<f64> = (0..np).map(|j| 0.5 + 0.1 * j as f64).collect();
            let prob = OdeProblem::new(Ring { moving_end }, u0, (0.0, 1.5), p).unwrap();
            let loss = SumOfSquares::towards_constant(0, 0.2);
            let a = prob.gradient(Tsit5, &opts, &loss, ForwardMode).unwrap();
            let b = prob
                .gradient(Tsit5, &opts, &loss, Discrete::default())
                .unwrap();
            let (dp, du0) = (rel_diff(&b.dp, &a.dp), rel_diff(&b.du0, &a.du0));
            let case = format!("n = {n}, np = {np}, moving end: {moving_end}");
            assert!(dp < 1e-9 && du0 < 1e-9, "{case}: {dp:.1e} {du0:.1e}");
            assert!(b.stats.vjps > 0, "{case}");
        }
    }
}

#[test]
fn gradient_errors_are_typed() {
    let prob = lotka_volterra();
    let opts = SolveOptions::default().saveat_step(0.1);
    let loss = rabbits_at_one();
    assert!(matches!(
        prob.loss_and_gradient(AutoTsit5(Rodas5P), &opts, &loss, Discrete::default()),
        Err(Error::Unsupported(_))
    ));
    assert!(matches!(
        prob.loss_and_gradient(
            Tsit5,
            &opts.clone().maxiters(10),
            &loss,
            Adjoint::interpolating()
        ),
        Err(Error::SolveFailed {
            retcode: ReturnCode::MaxIters,
            ..
        })
    ));
    assert!(matches!(
        prob.loss_and_gradient(
            Tsit5,
            &opts,
            &SumOfSquares::against_data(vec![0.0; 3]),
            ForwardMode
        ),
        Err(Error::WrongLength { .. })
    ));
    assert!(matches!(
        prob.loss_and_gradient(
            Tsit5,
            &opts,
            &SumOfSquares::towards_constant(5, 0.0),
            Discrete::default()
        ),
        Err(Error::WrongLength { .. })
    ));
}

ode_system! {
    /// The Lorenz system.
    struct Lorenz;
    fn rhs<T>(t; x, y, z; sigma, rho, beta) -> (dx, dy, dz) {
        dx = sigma * (y - x);
        dy = x * (rho - z) - y;
        dz = x * y - beta * z;
    }
}

/// The seed's warning: on Lorenz over t ∈ [0, 3] the backsolve adjoint's
/// backward state drifts off the trajectory and its gradient is wrong by
/// orders of magnitude, while the interpolating and discrete adjoints
/// match finite differences (see `examples/lorenz_backsolve.rs`).
#[test]
fn lorenz_backsolve_fails_where_interpolating_and_discrete_do_not() {
    let p = vec![10.0, 28.0, 8.0 / 3.0];
    let prob = OdeProblem::new(Lorenz, vec![1.0, 0.0, 0.0], (0.0, 3.0), p.clone()).unwrap();
    let loss = SumOfSquares::towards_constant(0, 0.0);
    let fd_opts = SolveOptions::default()
        .tolerances(1e-13, 1e-13)
        .saveat_step(0.1);
    let fd = finite_difference_gradient(&p, 1e-7, 0.0, |q| {
        let sol = prob
            .clone()
            .with_p(q.to_vec())
            .unwrap()
            .solve(Vern7, &fd_opts)
            .unwrap();
        loss.value(&sol.t, sol.u_flat(), 3)
    });
    let opts = SolveOptions::default()
        .tolerances(1e-10, 1e-10)
        .saveat_step(0.1);
    let discrete = prob
        .loss_and_gradient(Vern7, &opts, &loss, Discrete::default())
        .unwrap()
        .1;
    let interp = prob
        .loss_and_gradient(Vern7, &opts, &loss, Adjoint::interpolating())
        .unwrap()
        .1;
    let back = prob
        .loss_and_gradient(Vern7, &opts, &loss, Adjoint::backsolve())
        .unwrap()
        .1;
    let (d, i, b) = (
        rel_diff(&discrete, &fd),
        rel_diff(&interp, &fd),
        rel_diff(&back, &fd),
    );
    eprintln!("Lorenz T = 3: discrete {d:.1e}, interpolating {i:.1e}, backsolve {b:.1e}");
    assert!(d < 1e-6 && i < 1e-6);
    assert!(b > 1.0, "backsolve unexpectedly accurate: {b}");
}

/// For Rosenbrock and SDIRK methods the discrete adjoint differentiates the
/// recorded steps themselves: on fixed steps it matches finite differences
/// of the same fixed-step solve, and on adaptive steps forward mode.
#[test]
fn discrete_through_implicit_methods() {
    fn check<F: OdeFunction + Clone, L: Loss, M: OdeMethod + Copy>(
        m: M,
        prob: &OdeProblem<F>,
        loss: &L,
        opts: &SolveOptions,
        tol: f64,
    ) {
        let n = prob.len();
        let value = |p: &[f64]| {
            let sol = prob
                .clone()
                .with_p(p.to_vec())
                .unwrap()
                .solve(m, opts)
                .unwrap();
            assert!(sol.is_success());
            loss.value(&sol.t, sol.u_flat(), n)
        };
        let fd = finite_difference_gradient(prob.p(), 1e-6, 0.0, value);
        let g = prob.gradient(m, opts, loss, Discrete::default()).unwrap();
        let fwd = prob.gradient(m, opts, loss, ForwardMode).unwrap();
        let (d, e) = (rel_diff(&g.dp, &fd), rel_diff(&g.dp, &fwd.dp));
        let u0 = rel_diff(&g.du0, &fwd.du0);
        eprintln!(
            "{}: vs FD {d:.1e}, vs forward mode {e:.1e} (du0 {u0:.1e})",
            m.info().name
        );
        assert!(d < tol && e < tol && u0 < tol, "{}", m.info().name);
    }
    // Rosenbrock methods on ROBER's transient with fixed steps (tight
    // tolerances: with fixed steps they only set Newton's weights).
    let rober =
        OdeProblem::new(Rober, vec![1.0, 0.0, 0.0], (0.0, 1.0), vec![0.04, 3e7, 1e4]).unwrap();
    let fixed = SolveOptions::default()
        .fixed_dt(0.001)
        .tolerances(1e-10, 1e-12)
        .saveat_step(0.05);
    check(Rosenbrock23, &rober, &RoberLoss, &fixed, 1e-7);
    check(Rodas4, &rober, &RoberLoss, &fixed, 1e-7);
    check(Rodas5P, &rober, &RoberLoss, &fixed, 1e-7);
    // SDIRK methods on Lotka–Volterra with fixed steps: Newton stops on the
    // real part, so the derivative is that of the computed solution to
    // Newton's accuracy (the replay factorises at each step's start, the
    // forward solve reused older factorisations).
    let lv = lotka_volterra();
    let fixed = SolveOptions::default()
        .fixed_dt(0.01)
        .tolerances(1e-12, 1e-12)
        .saveat_step(0.1);
    check(ImplicitEuler, &lv, &rabbits_at_one(), &fixed, 1e-6);
    check(Trapezoid, &lv, &rabbits_at_one(), &fixed, 1e-6);
    check(Trbdf2, &lv, &rabbits_at_one(), &fixed, 1e-5);
    check(KenCarp4, &lv, &rabbits_at_one(), &fixed, 1e-5);
    // Adaptive stiff solves against forward mode and finite differences.
    let adaptive = SolveOptions::default()
        .tolerances(1e-8, 1e-12)
        .saveat_step(0.05);
    check(Rodas5P, &rober, &RoberLoss, &adaptive, 1e-5);
    check(KenCarp4, &rober, &RoberLoss, &adaptive, 1e-5);
    // BDF: each step replayed from its recorded history, through order
    // and step-size changes.
    check(Bdf::default(), &lv, &rabbits_at_one(), &fixed, 1e-5);
    check(Bdf::default(), &rober, &RoberLoss, &adaptive, 1e-5);
    let lv_adaptive = SolveOptions::default()
        .tolerances(1e-10, 1e-10)
        .saveat_step(0.1);
    check(Bdf::default(), &lv, &rabbits_at_one(), &lv_adaptive, 1e-5);
}

/// Lotka–Volterra whose evaluations record `(x, y, t)` and whose VJP reads
/// that record back, counting what it was given: checks that the discrete
/// adjoint hands every stage's VJP the record of that very stage.
#[derive(Clone, Debug, Default)]
struct TapedLotkaVolterra {
    taped: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    untaped: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    mismatched: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl TapedLotkaVolterra {
    fn lv_vjp(v: &[f64], u: &[f64], p: &[f64], vu: &mut [f64], vp: &mut [f64]) {
        let (x, y) = (u[0], u[1]);
        let (a, b, c, d) = (p[0], p[1], p[2], p[3]);
        vu[0] = v[0] * (a - b * y) + v[1] * d * y;
        vu[1] = -v[0] * b * x + v[1] * (d * x - c);
        vp[0] = v[0] * x;
        vp[1] = -v[0] * x * y;
        vp[2] = -v[1] * y;
        vp[3] = v[1] * x * y;
    }
}

impl OdeFunction for TapedLotkaVolterra {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1];
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1];
    }
    fn tape_len(&self) -> usize {
        3
    }
    fn rhs_taped(&self, du: &mut [f64], u: &[f64], p: &[f64], t: f64, tape: &mut [f64]) {
        self.rhs(du, u, p, t);
        tape.copy_from_slice(&[u[0], u[1], t]);
    }
    fn vjp<T: Scalar>(
        &self,
        _v: &[T],
        _u: &[T],
        _p: &[T],
        _t: T,
        _vu: &mut [T],
        _vp: &mut [T],
        _vt: Option<&mut T>,
    ) -> bool {
        self.untaped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        false
    }
    fn vjp_taped(
        &self,
        v: &[f64],
        u: &[f64],
        p: &[f64],
        t: f64,
        tape: &[f64],
        vu: &mut [f64],
        vp: &mut [f64],
        vt: Option<&mut f64>,
    ) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.taped.fetch_add(1, Relaxed);
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + b.abs());
        if !(same(tape[0], u[0]) && same(tape[1], u[1]) && same(tape[2], t)) {
            self.mismatched.fetch_add(1, Relaxed);
        }
        // Linearise at the recorded point.
        Self::lv_vjp(v, &tape[..2], p, vu, vp);
        if let Some(vt) = vt {
            *vt = 0.0;
        }
        true
    }
}

#[test]
fn discrete_adjoint_reads_each_stage_from_its_own_record() {
    use neurode::sensitivity::Checkpointing;
    use std::sync::atomic::Ordering::Relaxed;
    fn check<M: OdeMethod + Copy>(m: M, opts: &SolveOptions, checkpointing: Checkpointing) {
        let f = TapedLotkaVolterra::default();
        let p = vec![2.2, 1.0, 2.0, 0.4];
        let taped = OdeProblem::new(f.clone(), vec![1.0, 1.0], (0.0, 10.0), p).unwrap();
        let loss = rabbits_at_one();
        let want = lotka_volterra()
            .gradient(m, opts, &loss, ForwardMode)
            .unwrap();
        let got = taped
            .gradient(m, opts, &loss, Discrete { checkpointing })
            .unwrap();
        let name = m.info().name;
        let (t, u, x) = (
            f.taped.load(Relaxed),
            f.untaped.load(Relaxed),
            f.mismatched.load(Relaxed),
        );
        eprintln!("{name} {checkpointing:?}: {t} taped VJPs, {u} untaped, {x} mismatched");
        assert!(rel_diff(&got.dp, &want.dp) < 1e-9, "{name}");
        assert!(rel_diff(&got.du0, &want.du0) < 1e-9, "{name}");
        assert!(t > 0 && x == 0, "{name}");
        // Only the interpolant's extra stages (saves inside steps) go untaped.
        assert!(u < t, "{name}");
    }
    let adaptive = SolveOptions::default()
        .tolerances(1e-7, 1e-7)
        .saveat_step(0.13);
    let at_steps = SolveOptions::default()
        .tolerances(1e-7, 1e-7)
        .save_everystep();
    for checkpointing in [Checkpointing::Auto, Checkpointing::Sqrt] {
        check(Tsit5, &adaptive, checkpointing); // FSAL
        check(Tsit5, &at_steps, checkpointing);
        check(Vern7, &adaptive, checkpointing); // not FSAL
        check(Dp5, &at_steps, checkpointing);
        check(Rk4, &SolveOptions::default().fixed_dt(0.05), checkpointing);
    }
}
