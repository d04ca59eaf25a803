//! The one integrator loop every ODE method runs in.
//!
//! The loop owns step-size control, landing on `tstops` and the end of the
//! span, saving, dense output, statistics and return codes; a method only
//! steps, estimates its error and interpolates. Everything is allocated
//! before the first step, so the loop itself does not touch the heap (save
//! for growing dense output and `EveryStep` saves, which grow geometrically).

use super::controller::{PiController, initial_step};
use super::dae_init::consistent_initial_state;
use super::options::{SaveAt, SolveOptions, Stepping};
use super::solution::{Dense, EventKind, EventRecord, ReturnCode, Solution};
use crate::dim::{Dim, Dyn, Fixed};
use crate::error::Error;
use crate::methods::{ErrorScale, OdeMethod, Rhs, Setup};
use crate::problem::{EventAction, OdeFunction, OdeProblem};
use crate::scalar::{Scalar, quotient};

/// How much longer than the controller's choice a step may be stretched to
/// land on a stop, rather than leave a sliver of a step after it.
const ADAPTIVE_STRETCH: f64 = 1.01;
/// Fixed steps absorb only rounding when landing on a stop.
const FIXED_STRETCH: f64 = 1.0 + 1e-10;

/// Where the loop stands between two steps: everything it needs to carry on
/// exactly as it would have, so a solve can be replayed from here (the
/// discrete adjoint recomputes stretches of a solve from such checkpoints
/// instead of storing every step).
#[derive(Clone, Debug)]
pub(crate) struct Checkpoint<T> {
    /// The time reached.
    pub t: T,
    /// The state there.
    pub u: Vec<T>,
    /// The size the controller chose for the next step.
    pub dt_abs: f64,
    /// The PI controller's memory of the last accepted error.
    pub controller: PiController,
    /// Whether the step before was rejected (caps the next growth).
    pub last_rejected: bool,
    /// Steps attempted so far (counts towards `maxiters`).
    pub iters: usize,
    /// Accepted steps so far.
    pub accepted: usize,
    /// Index of the next save time.
    pub next_save: usize,
    /// Index of the next stop.
    pub next_stop: usize,
    /// The event conditions' values the next step starts from (a condition
    /// that just fired is held at zero so its root is not found again).
    pub g_prev: Vec<T>,
}

/// One accepted step, as an observer sees it.
pub(crate) struct AcceptedStep<'a, T> {
    /// Where the step started.
    pub t: T,
    /// Its signed size (the new point is `t + dt`, or exactly the stop it landed on).
    pub dt: T,
    /// The new time.
    pub t_new: T,
    /// Points saved so far, this step's included.
    pub saved: usize,
    /// The state at `t`.
    pub u: &'a [T],
    /// Appends the step's stage derivatives, and their tapes if kept, when
    /// the method has them ([`OdeMethod::write_stages`]).
    pub stages: &'a dyn Fn(&mut Vec<T>, &mut Vec<f64>) -> bool,
    /// Appends the history the next step reads, when the method keeps one
    /// ([`OdeMethod::write_history`]).
    pub history: &'a dyn Fn(&mut Vec<T>) -> bool,
}

/// Watches the loop after each accepted step; may pause it. The default
/// observer does nothing and compiles away.
pub(crate) trait StepObserver<T> {
    /// Called after every accepted step, once the loop has chosen the next
    /// step size; `checkpoint` captures the loop's state at the new point.
    /// Returning false pauses the solve there.
    fn accepted(
        &mut self,
        step: &AcceptedStep<'_, T>,
        checkpoint: &dyn Fn() -> Checkpoint<T>,
    ) -> bool;

    /// Called when a step lands on one of the `tstops` (not the end of the
    /// span), before the step's bookkeeping ends; may change the state
    /// there, returning true if it did (the method then restarts from the
    /// changed state, as after a callback).
    #[inline(always)]
    fn at_stop(&mut self, t: T, u: &mut [T]) -> bool {
        let _ = (t, u);
        false
    }

    /// Whether the method should keep each stage's record of `f`
    /// ([`OdeMethod::keep_tapes`]) for [`AcceptedStep::stages`].
    fn wants_tapes(&self) -> bool {
        false
    }
}

/// The observer of a plain solve.
pub(crate) struct NoObserver;

impl<T> StepObserver<T> for NoObserver {
    #[inline(always)]
    fn accepted(&mut self, _: &AcceptedStep<'_, T>, _: &dyn Fn() -> Checkpoint<T>) -> bool {
        true
    }
}

/// Solves `u' = f(u, p, t)` from `u0` over `tspan` (inputs already validated
/// by the problem). Systems of up to four states run with their working
/// vectors in [`Fixed`] arrays (kept in registers), larger ones on the heap.
pub(crate) fn integrate<F, T, M>(
    prob: &OdeProblem<F, T>,
    method: &M,
    opts: &SolveOptions,
) -> Result<Solution<T>, Error>
where
    F: OdeFunction,
    T: Scalar,
    M: OdeMethod,
{
    integrate_observed(prob, method, opts, &mut NoObserver, None).map(|(sol, _)| sol)
}

/// [`integrate`] watched by `observer`, optionally resuming from a
/// checkpoint of an earlier run of the same solve (nothing is saved at the
/// resumed point itself). Also returns whether the observer paused it.
pub(crate) fn integrate_observed<F, T, M, O>(
    prob: &OdeProblem<F, T>,
    method: &M,
    opts: &SolveOptions,
    observer: &mut O,
    resume: Option<&Checkpoint<T>>,
) -> Result<(Solution<T>, bool), Error>
where
    F: OdeFunction,
    T: Scalar,
    M: OdeMethod,
    O: StepObserver<T>,
{
    match prob.len() {
        1 => integrate_in(Fixed::<1>, prob, method, opts, observer, resume),
        2 => integrate_in(Fixed::<2>, prob, method, opts, observer, resume),
        3 => integrate_in(Fixed::<3>, prob, method, opts, observer, resume),
        4 => integrate_in(Fixed::<4>, prob, method, opts, observer, resume),
        n => integrate_in(Dyn(n), prob, method, opts, observer, resume),
    }
}

/// [`integrate_observed`] with the working vectors stored as `dim` says.
fn integrate_in<D, F, T, M, O>(
    dim: D,
    prob: &OdeProblem<F, T>,
    method: &M,
    opts: &SolveOptions,
    observer: &mut O,
    resume: Option<&Checkpoint<T>>,
) -> Result<(Solution<T>, bool), Error>
where
    D: Dim,
    F: OdeFunction,
    T: Scalar,
    M: OdeMethod,
    O: StepObserver<T>,
{
    let (f, p, tspan) = (prob.f(), prob.p(), prob.tspan());
    let n = prob.len();
    let info = method.info();
    if !prob.mass_matrix().is_identity() && !info.mass_matrix {
        return Err(Error::MassMatrixUnsupported { method: info.name });
    }
    // A DAE starts from algebraic variables consistent with the rest.
    let consistent;
    let u0 = if prob.mass_matrix().algebraic().is_empty() {
        prob.u0()
    } else {
        consistent = consistent_initial_state(f, prob.u0(), p, tspan.0, prob.mass_matrix())?;
        &consistent[..]
    };
    let (t0, t1) = tspan;
    let (t0r, t1r) = (t0.real(), t1.real());
    opts.validate(n, t0r, t1r)?;
    let dir = if t1r > t0r { 1.0 } else { -1.0 };
    let span = (t1r - t0r).abs();
    let adaptive = matches!(opts.stepping, Stepping::Adaptive { .. });
    if adaptive && !info.is_adaptive() {
        return Err(Error::NeedsFixedStep { method: info.name });
    }

    // --- set-up: every allocation of the solve happens here ---
    let scale = ErrorScale {
        rtol: &opts.rtol,
        atol: &opts.atol,
    };
    let mut rhs = Rhs::new(f, p);
    let setup = Setup {
        f,
        u0,
        p,
        t0: tspan.0,
        mass: prob.mass_matrix(),
        sparsity: prob.jacobian_sparsity(),
        opts,
    };
    let mut cache = method.new_cache::<F, T, D>(dim, &setup);
    if observer.wants_tapes() {
        method.keep_tapes(&mut cache, prob.f().tape_len());
    }
    let mut u = dim.copy_of(resume.map_or(u0, |cp| &cp.u[..]));
    let mut u_new = dim.zeros::<T>();
    let mut scratch = dim.zeros::<T>();
    let save_times = save_grid(&opts.saveat, t0r, t1r, dir);
    let mut next_save = 0;
    // Preset-time callbacks are stops the solver must land on.
    let presets = stop_grid(&f.preset_times(), t0r, t1r, dir);
    let tstops = if presets.is_empty() {
        stop_grid(&opts.tstops, t0r, t1r, dir)
    } else {
        stop_grid(&[&opts.tstops[..], &presets[..]].concat(), t0r, t1r, dir)
    };
    // Continuous events: the conditions at the start and end of a step.
    let n_events = f.event_count();
    let mut g_prev = vec![T::zero(); n_events];
    let mut g_new = vec![T::zero(); n_events];
    let mut g_probe = vec![T::zero(); n_events];
    let mut g_samples = vec![T::zero(); n_events * EVENT_SAMPLES];
    let mut next_stop = 0;
    let mut sol = Solution::new(n, info.name, t0);
    match &opts.saveat {
        SaveAt::EveryStep => sol.reserve(64),
        _ => sol.reserve(save_times.len()),
    }
    if opts.keeps_dense() {
        sol.dense = Some(Dense {
            starts: Vec::with_capacity(64),
            sizes: Vec::with_capacity(64),
            data: Vec::with_capacity(64 * method.dense_width(n)),
            width: method.dense_width(n),
            eval: M::dense_fn(),
        });
    }

    // --- the start point (or the resumed one) ---
    let t_start = resume.map_or(t0, |cp| cp.t);
    if let Some(cp) = resume {
        next_save = cp.next_save;
        next_stop = cp.next_stop;
        sol.stats.accepted = cp.accepted;
    } else {
        if matches!(opts.saveat, SaveAt::EveryStep) {
            sol.push(t0, u.as_ref());
        }
        while next_save < save_times.len() && save_times[next_save] == t0r {
            sol.push(t0, u.as_ref());
            next_save += 1;
        }
    }
    method.start(&mut cache, &mut rhs, t_start, u.as_ref());
    if n_events > 0 {
        match resume {
            Some(cp) if cp.g_prev.len() == n_events => g_prev.copy_from_slice(&cp.g_prev),
            _ => f.event_conditions(&mut g_prev, u.as_ref(), p, t_start),
        }
    }
    let finish =
        |mut sol: Solution<T>, retcode, t: T, u: &[T], rhs: &Rhs<F, T>, cache: &M::Cache<T, D>| {
            method.report(cache, &mut sol.stats);
            sol.retcode = retcode;
            sol.reached = (t0, t);
            sol.end = u.to_vec();
            sol.stats.f_evals = rhs.evals();
            sol.stats.jacobians = rhs.jacobians;
            sol.stats.factorizations = rhs.factorizations;
            sol.stats.solves = rhs.solves;
            sol
        };
    if !method.derivative(&cache).iter().all(|x| x.is_finite()) {
        let sol = finish(sol, ReturnCode::Unstable, t_start, u.as_ref(), &rhs, &cache);
        return Ok((sol, false));
    }

    let dtmax = opts.dtmax.unwrap_or(span).min(span);
    let mut dt_abs = match opts.stepping {
        _ if resume.is_some() => resume.map_or(0.0, |cp| cp.dt_abs),
        Stepping::Fixed(dt) => dt,
        Stepping::Adaptive { dt0: Some(dt0) } => dt0.min(dtmax),
        Stepping::Adaptive { dt0: None } => {
            // Hairer's initial step, in real parts, without allocating.
            let f0 = method.derivative(&cache);
            let u0 = u.as_ref();
            let weight = |i: usize| opts.atol.at(i) + opts.rtol.at(i) * u0[i].real().abs();
            let rms = |v: &mut dyn Iterator<Item = f64>| {
                (v.map(|x| x * x).sum::<f64>() / n as f64).sqrt()
            };
            let d0 = rms(&mut (0..n).map(|i| u0[i].real() / weight(i)));
            let d1 = rms(&mut (0..n).map(|i| f0[i].real() / weight(i)));
            initial_step(info.order, d0, d1, dtmax, |h0| {
                // f at an explicit Euler step of size h0.
                for (i, s) in scratch.as_mut().iter_mut().enumerate() {
                    *s = T::cst(u0[i].real() + dir * h0 * f0[i].real());
                }
                rhs.eval(u_new.as_mut(), scratch.as_ref(), t0 + T::cst(dir * h0));
                let f1 = u_new.as_ref();
                rms(&mut (0..n).map(|i| (f1[i].real() - f0[i].real()) / weight(i))) / h0
            })
        }
    };
    let stretch = if adaptive {
        ADAPTIVE_STRETCH
    } else {
        FIXED_STRETCH
    };
    let mut controller = resume.map_or_else(
        || PiController::new(&opts.controller, info.order),
        |cp| cp.controller.clone(),
    );
    let qsteady = opts
        .controller
        .qsteady
        .or(info.reuses_factorizations.then_some((1.0, 1.2)));
    let mut t = t_start;
    let mut iters = resume.map_or(0, |cp| cp.iters);
    let mut last_rejected = resume.is_some_and(|cp| cp.last_rejected);
    let mut paused = false;

    // --- the step loop ---
    let retcode = loop {
        let (stop, stop_is_end) = match tstops.get(next_stop) {
            Some(&s) => (T::cst(s), false),
            None => (t1, true),
        };
        if iters >= opts.maxiters {
            break ReturnCode::MaxIters;
        }
        if dt_abs <= opts.dtmin.max(4.0 * f64::EPSILON * t.real().abs()) {
            break ReturnCode::DtLessThanMin;
        }
        let dist = (stop.real() - t.real()) * dir;
        let lands = dt_abs * stretch >= dist;
        let dt = if lands {
            stop - t
        } else {
            // A sign flip, not a multiply: this sits on the path from one
            // step's error to the next step's stages.
            T::cst(dt_abs.copysign(dir))
        };
        let err_sq = method.step(
            &mut cache,
            &mut rhs,
            t,
            dt,
            u.as_ref(),
            u_new.as_mut(),
            adaptive.then_some(&scale),
        );
        iters += 1;
        // A fixed step has no estimate (0) unless the step failed (∞ or NaN).
        if !adaptive && !err_sq.is_finite() {
            break ReturnCode::ConvergenceFailure;
        }
        // Accept when the error is within tolerance; NaN never is.
        let within_tolerance = err_sq <= 1.0;
        if adaptive && !within_tolerance {
            sol.stats.rejected += 1;
            let h = dt.real().abs();
            dt_abs = method
                .propose_step(&cache, h, false)
                .unwrap_or_else(|| h * controller.reject(err_sq));
            last_rejected = true;
            continue;
        }
        // A step out of the state's domain is retried at half the size.
        if adaptive && !opts.domain.contains(u_new.as_ref()) {
            sol.stats.rejected += 1;
            dt_abs = 0.5 * dt.real().abs();
            last_rejected = true;
            continue;
        }
        if !u_new.as_ref().iter().all(|x| x.is_finite()) {
            break ReturnCode::Unstable;
        }
        let mut lands = lands;
        let mut t_new = if lands { stop } else { t + dt };
        method.accept(&mut cache, &mut rhs, t_new, u_new.as_ref());
        sol.stats.accepted += 1;

        // The earliest crossing of an event condition within the step cuts
        // it short: the step ends at the event, on the dense output.
        let mut fired = None;
        let mut t_event = None;
        if n_events > 0 {
            // Every condition at a point θ of the step, on the interpolant.
            let mut conditions_at = |theta: T, out: &mut [T]| {
                method.interpolate(
                    &mut cache,
                    &mut rhs,
                    t,
                    dt,
                    u.as_ref(),
                    theta,
                    scratch.as_mut(),
                );
                f.event_conditions(out, scratch.as_ref(), p, t + dt * theta);
            };
            f.event_conditions(&mut g_new, u_new.as_ref(), p, t_new);
            // The conditions at interior points too (as DifferentialEquations.jl's
            // `interp_points`): a condition that crosses zero and back within
            // one step is caught.
            for j in 1..=EVENT_SAMPLES {
                let g_j = &mut g_samples[(j - 1) * n_events..j * n_events];
                conditions_at(T::cst(sample_theta(j)), g_j);
            }
            for i in 0..n_events {
                let mut g_at = |theta: f64| {
                    conditions_at(T::cst(theta), &mut g_probe);
                    g_probe[i].real()
                };
                // A condition sitting on zero (it just fired) takes its sign
                // from just inside the step, so the next crossing is caught
                // even when one step leaves zero and comes back through it.
                let (mut a, mut ga) = (0.0, g_prev[i].real());
                if ga == 0.0 {
                    a = LEAVE_ZERO;
                    ga = g_at(a);
                }
                // The first bracket along the step with a crossing.
                for j in 1..=EVENT_SAMPLES + 1 {
                    let (b, gb) = if j <= EVENT_SAMPLES {
                        (sample_theta(j), g_samples[(j - 1) * n_events + i].real())
                    } else {
                        (1.0, g_new[i].real())
                    };
                    if b <= a {
                        continue;
                    }
                    if f.event_crossing(i).crossed(ga, gb) {
                        let theta =
                            locate_crossing(&mut g_at, (a, ga), (b, gb), dt.real().abs(), t.real());
                        if theta < earliest_theta(fired) {
                            fired = Some((i, theta));
                        }
                        break;
                    }
                    (a, ga) = (b, gb);
                }
            }
            if let Some((i, theta)) = fired {
                let mut te = t + dt * T::cst(theta);
                if !T::PLAIN && !f.event_marks_mesh_only() {
                    // Derivatives of the event time by the implicit function
                    // theorem: one Newton step on g(u(t), t) = 0 in the
                    // scalar type moves only the derivative parts.
                    let mut g_at = |th: f64| {
                        conditions_at(T::cst(th), &mut g_probe);
                        g_probe[i]
                    };
                    let g = g_at(theta);
                    let (lo, hi) = ((theta - 1e-6).max(0.0), (theta + 1e-6).min(1.0));
                    let slope = (g_at(hi).real() - g_at(lo).real()) / (hi - lo) / dt.real();
                    if slope != 0.0 && slope.is_finite() {
                        te -= (g - T::cst(g.real())).scaled(1.0 / slope);
                    }
                }
                t_event = Some(te);
            }
        }
        if let Some(te) = t_event {
            let th = quotient(te - t, dt);
            method.interpolate(&mut cache, &mut rhs, t, dt, u.as_ref(), th, u_new.as_mut());
            if te.real() != stop.real() {
                lands = false;
            }
            t_new = te;
        }

        // Save what lies in (t, t_new].
        if matches!(opts.saveat, SaveAt::EveryStep) {
            sol.push(t_new, u_new.as_ref());
        }
        while next_save < save_times.len() && (save_times[next_save] - t_new.real()) * dir <= 0.0 {
            let ts = save_times[next_save];
            if ts == t_new.real() {
                sol.push(t_new, u_new.as_ref());
            } else {
                let ts = T::cst(ts);
                method.interpolate(
                    &mut cache,
                    &mut rhs,
                    t,
                    dt,
                    u.as_ref(),
                    quotient(ts - t, dt),
                    scratch.as_mut(),
                );
                sol.push(ts, scratch.as_ref());
            }
            next_save += 1;
        }
        if let Some(dense) = sol.dense.as_mut() {
            method.write_dense(&mut cache, &mut rhs, t, dt, u.as_ref(), &mut dense.data);
            dense.starts.push(t);
            dense.sizes.push(dt);
        }
        std::mem::swap(&mut u, &mut u_new);
        let t_prev = t;
        t = t_new;
        let mut restart = lands && !stop_is_end && observer.at_stop(t, u.as_mut());
        // Callbacks: the event that cut the step, the discrete callback,
        // a preset time landed on. Each may change the state (the method
        // then restarts from it) or end the solve.
        let mut terminated = false;
        if f.has_callbacks() {
            let record = |kind, u: &[T], action, sol: &mut Solution<T>| {
                sol.events.push(EventRecord { t, kind });
                if matches!(opts.saveat, SaveAt::EveryStep) {
                    sol.push(t, u);
                }
                action == EventAction::Terminate
            };
            if let Some((i, _)) = fired {
                let action = f.event_affect(i, u.as_mut(), p, t);
                terminated |= record(EventKind::Condition(i), u.as_ref(), action, &mut sol);
                restart = true;
            }
            if lands && !stop_is_end && presets.contains(&t.real()) {
                let action = f.at_preset_time(u.as_mut(), p, t);
                terminated |= record(EventKind::PresetTime, u.as_ref(), action, &mut sol);
                restart = true;
            }
            if let Some(action) = f.after_step(u.as_mut(), p, t) {
                terminated |= record(EventKind::AfterStep, u.as_ref(), action, &mut sol);
                restart = true;
            }
            if n_events > 0 {
                if restart {
                    f.event_conditions(&mut g_prev, u.as_ref(), p, t);
                } else {
                    g_prev.copy_from_slice(&g_new);
                }
                // A condition that just fired starts again from "no sign",
                // so the root it sits on is not found a second time.
                if let Some((i, _)) = fired {
                    g_prev[i] = T::zero();
                }
            }
        }
        if restart {
            method.start(&mut cache, &mut rhs, t, u.as_ref());
        }
        method.finish_step(&mut cache, &mut rhs, t, u.as_ref());

        if let (true, Some(h)) = (adaptive, method.propose_step(&cache, dt.real().abs(), true)) {
            dt_abs = h.min(dtmax);
        } else if adaptive {
            let mut factor = controller.accept(err_sq);
            if last_rejected {
                factor = factor.min(1.0);
            }
            if let Some((lo, hi)) = qsteady
                && factor >= lo
                && factor <= hi
            {
                factor = 1.0;
            }
            last_rejected = false;
            dt_abs = dt.real().abs() * factor;
            // A branch rather than `min`: it rarely binds, and when
            // predicted it keeps the clamp off the dependency chain.
            if dt_abs > dtmax {
                std::hint::cold_path();
                dt_abs = dtmax;
            }
        }
        let done = lands && stop_is_end;
        if lands && !stop_is_end {
            next_stop += 1;
        }
        let step = AcceptedStep {
            t: t_prev,
            // The step as taken (an event cuts it short).
            dt: if t_event.is_some() { t - t_prev } else { dt },
            t_new: t,
            saved: sol.len(),
            u: u_new.as_ref(),
            stages: &|out, tapes| method.write_stages(&cache, out, tapes),
            history: &|out| method.write_history(&cache, out),
        };
        let go_on = observer.accepted(&step, &|| Checkpoint {
            t,
            u: u.as_ref().to_vec(),
            dt_abs,
            controller: controller.clone(),
            last_rejected,
            iters,
            accepted: sol.stats.accepted,
            next_save,
            next_stop,
            g_prev: g_prev.to_vec(),
        });
        if terminated {
            break ReturnCode::Terminated;
        }
        if done {
            break ReturnCode::Success;
        }
        if !go_on {
            paused = true;
            break ReturnCode::Success;
        }
    };
    let sol = finish(sol, retcode, t, u.as_ref(), &rhs, &cache);
    Ok((sol, paused))
}

/// Where a condition that has just fired is first looked at in the next
/// step (a fraction of the step).
const LEAVE_ZERO: f64 = 1e-9;

/// Interior points of a step at which event conditions are sampled.
const EVENT_SAMPLES: usize = 8;

/// The `j`-th interior sample point (a fraction of the step).
fn sample_theta(j: usize) -> f64 {
    j as f64 / (EVENT_SAMPLES + 1) as f64
}

/// The fraction of the step at which the event found so far fired.
fn earliest_theta(fired: Option<(usize, f64)>) -> f64 {
    fired.map_or(f64::INFINITY, |(_, theta)| theta)
}

/// Where in a step (as a fraction `θ ∈ (a, b]`) a condition going from
/// `ga` at `θ = a` to `gb` at `θ = b` crosses zero: the Illinois
/// variant of regula falsi on `g(θ)`, stopped when the bracket is a few
/// rounding errors of `t` wide. Returns the bracket's end past the crossing.
fn locate_crossing(
    g: &mut dyn FnMut(f64) -> f64,
    (mut a, mut ga): (f64, f64),
    (mut b, mut gb): (f64, f64),
    step: f64,
    t: f64,
) -> f64 {
    if gb == 0.0 {
        // Land exactly on a zero at the end, unless an earlier one exists:
        // the bracket still holds one sign change of `ga`.
        gb = -ga.signum() * f64::MIN_POSITIVE;
    }
    let tol = 4.0 * f64::EPSILON * (t.abs() + step) / step.max(f64::MIN_POSITIVE);
    let mut side = 0;
    for _ in 0..200 {
        if b - a <= tol {
            break;
        }
        let mut m = (a * gb - b * ga) / (gb - ga);
        if !(m > a && m < b) {
            m = 0.5 * (a + b);
        }
        let gm = g(m);
        if gm == 0.0 {
            return m;
        }
        if gm.signum() == ga.signum() {
            a = m;
            ga = gm;
            if side == -1 {
                gb *= 0.5;
            }
            side = -1;
        } else {
            b = m;
            gb = gm;
            if side == 1 {
                ga *= 0.5;
            }
            side = 1;
        }
    }
    b
}

/// The save times in integration order: `t0, t0 ± dt, …, t1` for a spacing
/// (exact multiples when `dt` divides the span, as Julia's ranges give), the
/// sorted list otherwise.
pub(crate) fn save_grid(saveat: &SaveAt, t0: f64, t1: f64, dir: f64) -> Vec<f64> {
    let span = (t1 - t0).abs();
    match saveat {
        SaveAt::EveryStep => Vec::new(),
        SaveAt::Every(dt) => {
            let m = (span / dt).round();
            if m >= 1.0 && (m * dt - span).abs() <= 1e-10 * span {
                let m = m as usize;
                (0..=m)
                    .map(|i| {
                        if i == m {
                            t1
                        } else {
                            t0 + dir * (i as f64 * span) / m as f64
                        }
                    })
                    .collect()
            } else {
                let mut ts: Vec<f64> = (0..)
                    .map(|i| i as f64 * dt)
                    .take_while(|&s| s < span * (1.0 - 1e-12))
                    .map(|s| t0 + dir * s)
                    .collect();
                ts.push(t1);
                ts
            }
        }
        SaveAt::Times(ts) => sorted_in_direction(ts, dir),
    }
}

/// `tstops` strictly inside the span, sorted in the direction of integration.
fn stop_grid(tstops: &[f64], t0: f64, t1: f64, dir: f64) -> Vec<f64> {
    let inside: Vec<f64> = tstops
        .iter()
        .copied()
        .filter(|&s| (s - t0) * dir > 0.0 && (t1 - s) * dir > 0.0)
        .collect();
    let mut v = sorted_in_direction(&inside, dir);
    v.dedup();
    v
}

fn sorted_in_direction(ts: &[f64], dir: f64) -> Vec<f64> {
    let mut v = ts.to_vec();
    v.sort_by(|a, b| (a * dir).total_cmp(&(b * dir)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_grid_matches_decimal_range() {
        let g = save_grid(&SaveAt::Every(0.1), 0.0, 10.0, 1.0);
        assert_eq!(g.len(), 101);
        for (i, &t) in g.iter().enumerate() {
            assert_eq!(t, i as f64 / 10.0);
        }
        let g = save_grid(&SaveAt::Every(0.3), 0.0, 1.0, 1.0);
        assert_eq!(g.len(), 5);
        assert_eq!(*g.last().unwrap(), 1.0);
        let g = save_grid(&SaveAt::Every(0.5), 2.0, 0.0, -1.0);
        assert_eq!(g, vec![2.0, 1.5, 1.0, 0.5, 0.0]);
    }

    #[test]
    fn stops_sorted_and_inside() {
        assert_eq!(
            stop_grid(&[3.0, 1.0, 0.0, 2.0, 2.0, 5.0], 0.0, 5.0, 1.0),
            vec![1.0, 2.0, 3.0]
        );
        assert_eq!(stop_grid(&[1.0, 3.0], 5.0, 0.0, -1.0), vec![3.0, 1.0]);
    }
}
