//! Delay differential equations `u'(t) = f(u(t), h, p, t)`, where `h` reads
//! the solution at earlier times (and the history before `t0`), solved by
//! the method of steps: the span is cut at the propagated discontinuities
//! `t0 + k·τ` of the constant lags, and each piece is an ODE solve whose
//! delayed terms read the pieces before it through their dense output.
//! Every explicit Runge–Kutta method of the suite can be used; each piece
//! starts afresh at its breakpoint, so the low-order derivative jumps the
//! history causes there never fall inside a step.
//!
//! Delays may depend on the state (`h.at(t − τ(u, t))`) as long as they are
//! never shorter than the smallest declared lag: pieces are at most that
//! long, so every query lands in a solved piece. Declared through
//! [`DdeFunction::dependent_lags`], the discontinuities they carry forward
//! are tracked: where `t − τ(u(t), t)` meets an earlier one (an event on
//! the dense output), the step is cut and the method restarts, as
//! DelayDiffEq.jl does; undeclared, they cost order there, not
//! convergence. A query past the solved pieces reads NaN and the solve
//! stops as `Unstable`.
//!
//! Gradients ([`DdeProblem::loss_and_gradient`]) come by forward mode
//! through the whole method of steps or by the discrete adjoint
//! ([`DdeSensitivity`]).

mod discrete;

use std::any::Any;

use crate::multi_dual::MultiDual;

use crate::error::{Error, check_initial_value};
use crate::methods::OdeMethod;
use crate::methods::explicit::ErkMethod;
use crate::problem::{Crossing, Events, OdeFunction, OdeProblem};
use crate::scalar::{Scalar, quotient};
use crate::sensitivity::Loss;
use crate::solve::{EventKind, ReturnCode, SaveAt, Solution, SolveOptions, Stepping, save_grid};

/// The solution at earlier times, as a delayed right-hand side reads it.
pub trait History<T> {
    /// `u(t)` into `out`: the history function before `t0`, the solution
    /// computed so far after it.
    fn at(&self, t: T, out: &mut [T]);
}

/// A delay equation, written once for every scalar type.
///
/// ```
/// use neurode::prelude::*;
/// use neurode::dde::{DdeFunction, DdeProblem, History, MethodOfSteps};
///
/// /// `u'(t) = −u(t − 1)`, `u = 1` before 0.
/// #[derive(Clone)]
/// struct Lagged;
/// impl DdeFunction for Lagged {
///     fn rhs<T: Scalar>(&self, du: &mut [T], _u: &[T], h: &dyn History<T>, _p: &[T], t: T) {
///         let mut past = [T::zero()];
///         h.at(t - T::one(), &mut past);
///         du[0] = -past[0];
///     }
///     fn history<T: Scalar>(&self, out: &mut [T], _p: &[T], _t: T) {
///         out[0] = T::one();
///     }
/// }
/// let prob = DdeProblem::new(Lagged, vec![1.0], (0.0, 2.0), vec![], vec![1.0]).unwrap();
/// let sol = prob
///     .solve(MethodOfSteps(Tsit5), &SolveOptions::default().tolerances(1e-10, 1e-10).saveat(vec![2.0]))
///     .unwrap();
/// // On [1, 2]: u = 1 − t + (t − 1)²/2.
/// assert!((sol.u_end()[0] - (-0.5)).abs() < 1e-9);
/// ```
pub trait DdeFunction {
    /// `u'(t)` into `du`, reading delayed states through `h`.
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], h: &dyn History<T>, p: &[T], t: T);
    /// The history `u(t)` for `t ≤ t0`.
    fn history<T: Scalar>(&self, out: &mut [T], p: &[T], t: T);
    /// The number of states, when fixed.
    fn num_states(&self) -> Option<usize> {
        None
    }
    /// How many state-dependent lags `τᵢ(u, p, t)` the right-hand side
    /// reads with, declared (with [`dependent_lags`](Self::dependent_lags))
    /// so that the discontinuities they carry forward are tracked: each
    /// time `t − τᵢ(u(t), t)` meets an earlier discontinuity, the step is
    /// cut there and the method restarts. 0, the default, leaves them
    /// untracked (which costs order near them, not convergence).
    fn dependent_lag_count(&self) -> usize {
        0
    }
    /// `vᵀ ∂f/∂p` into `vp` (overwritten) at `(u, p, t)`, the delayed values
    /// read through `h` held fixed, returning true; or false (the default)
    /// to leave `p` to forward-mode AD. Only for right-hand sides whose
    /// delay times do not depend on `p`. A network supplies its backward
    /// pass here, and the discrete adjoint's cost then no longer grows with
    /// the number of parameters.
    #[allow(clippy::too_many_arguments)]
    fn vjp_p(
        &self,
        v: &[f64],
        u: &[f64],
        h: &dyn History<f64>,
        p: &[f64],
        t: f64,
        vp: &mut [f64],
    ) -> bool {
        let _ = (v, u, h, p, t, vp);
        false
    }
    /// The state-dependent lags at `(u, t)` into `out`
    /// ([`dependent_lag_count`](Self::dependent_lag_count) numbers), each
    /// no shorter than the smallest constant lag.
    fn dependent_lags<T: Scalar>(&self, out: &mut [T], u: &[T], p: &[T], t: T) {
        let _ = (out, u, p, t);
    }
}

/// Where each state-dependent lag reaches back to an earlier
/// discontinuity `ξ`: conditions `t − τᵢ(u, t) − ξ`, rising through zero.
/// Crossing one cuts the step and restarts the method there (the state is
/// left as it is).
struct Propagation<'a, F> {
    f: &'a F,
    lags: usize,
    /// The discontinuities watched in this piece.
    xis: Vec<f64>,
}

impl<F: DdeFunction> Events for Propagation<'_, F> {
    fn count(&self) -> usize {
        self.lags * self.xis.len()
    }
    fn conditions<T: Scalar>(&self, out: &mut [T], u: &[T], p: &[T], t: T) {
        let mut tau = [T::zero(); MAX_DEPENDENT_LAGS];
        let tau = &mut tau[..self.lags];
        self.f.dependent_lags(tau, u, p, t);
        for (k, &xi) in self.xis.iter().enumerate() {
            for (i, &l) in tau.iter().enumerate() {
                out[k * self.lags + i] = t - l - T::cst(xi);
            }
        }
    }
    fn crossing(&self, _i: usize) -> Crossing {
        Crossing::Up
    }
    /// Where a step is cut is the solver's choice, not the model's: held
    /// fixed under differentiation, as step sizes are, so forward mode and
    /// the discrete adjoint differentiate the same mesh.
    fn marks_mesh_only(&self) -> bool {
        true
    }
}

/// The most state-dependent lags a problem may declare.
pub const MAX_DEPENDENT_LAGS: usize = 8;

/// A delay initial-value problem: right-hand side, `u(t0)`, span, parameters
/// and the constant lags (which place the breakpoints).
#[derive(Clone, Debug)]
pub struct DdeProblem<F, T = f64> {
    f: F,
    u0: Vec<T>,
    tspan: (T, T),
    p: Vec<T>,
    lags: Vec<f64>,
}

/// The method of steps around an explicit Runge–Kutta method.
#[derive(Clone, Copy, Debug, Default)]
pub struct MethodOfSteps<M>(pub M);

impl<F: DdeFunction, T: Scalar> DdeProblem<F, T> {
    /// Builds a problem; `lags` are the constant delays (positive, finite;
    /// at least one), for forward integration.
    pub fn new(
        f: F,
        u0: impl Into<Vec<T>>,
        tspan: (T, T),
        p: impl Into<Vec<T>>,
        lags: impl Into<Vec<f64>>,
    ) -> Result<Self, Error> {
        let prob = Self {
            f,
            u0: u0.into(),
            tspan,
            p: p.into(),
            lags: lags.into(),
        };
        check_initial_value(&prob.u0, &prob.p, prob.tspan, (prob.f.num_states(), None))?;
        if prob.tspan.1.real() <= prob.tspan.0.real() {
            return Err(Error::Unsupported(
                "a delay problem integrates forwards: tspan.1 must exceed tspan.0".into(),
            ));
        }
        if prob.f.dependent_lag_count() > MAX_DEPENDENT_LAGS {
            return Err(Error::Unsupported(format!(
                "at most {MAX_DEPENDENT_LAGS} state-dependent lags, got {}",
                prob.f.dependent_lag_count()
            )));
        }
        if prob.lags.is_empty() || prob.lags.iter().any(|l| !(l.is_finite() && *l > 0.0)) {
            return Err(Error::Unsupported(format!(
                "constant lags must be positive and finite, got {:?}",
                prob.lags
            )));
        }
        Ok(prob)
    }

    /// The parameters.
    pub fn p(&self) -> &[T] {
        &self.p
    }

    /// The breakpoints in `(t0, t1)`: `t0 + Σ k_i τ_i` up to the order at
    /// which the solution is smooth enough for the method (`order + 1`
    /// lags deep), then the pieces are at most the smallest lag long.
    fn breakpoints(&self, order: usize) -> Vec<f64> {
        let (t0, t1) = (self.tspan.0.real(), self.tspan.1.real());
        let mut points = vec![t0];
        let mut frontier = vec![t0];
        for _ in 0..=order {
            let mut next = Vec::new();
            for &a in &frontier {
                for &l in &self.lags {
                    let b = a + l;
                    if b < t1
                        && !points
                            .iter()
                            .any(|&q| (q - b).abs() <= 1e-12 * b.abs().max(1.0))
                    {
                        next.push(b);
                        points.push(b);
                    }
                }
            }
            frontier = next;
        }
        // Beyond the tracked ones, pieces no longer than the smallest lag.
        let min_lag = self.lags.iter().copied().fold(f64::INFINITY, f64::min);
        points.sort_by(f64::total_cmp);
        let mut all = Vec::new();
        for w in points
            .windows(2)
            .map(|w| (w[0], w[1]))
            .chain(std::iter::once((*points.last().unwrap_or(&t0), t1)))
        {
            let (a, b) = w;
            all.push(a);
            let pieces = ((b - a) / min_lag).ceil().max(1.0) as usize;
            for k in 1..pieces {
                all.push(a + (b - a) * k as f64 / pieces as f64);
            }
        }
        all.push(t1);
        all.dedup();
        all
    }

    /// `t0` (where the first derivative jumps) and the times `t0 + Σ kᵢ τᵢ`
    /// the constant lags carry it to, each with the order of the
    /// derivative that jumps there, up to `max_order`.
    fn constant_discontinuities(&self, max_order: usize) -> Vec<(f64, usize)> {
        let (t0, t1) = (self.tspan.0.real(), self.tspan.1.real());
        let mut all = vec![(t0, 1)];
        let mut frontier = vec![t0];
        for order in 2..=max_order {
            let mut next = Vec::new();
            for &a in &frontier {
                for &l in &self.lags {
                    let b = a + l;
                    if b < t1
                        && !all
                            .iter()
                            .any(|&(q, _)| (q - b).abs() <= 1e-12 * b.abs().max(1.0))
                    {
                        next.push(b);
                        all.push((b, order));
                    }
                }
            }
            frontier = next;
        }
        all
    }

    /// Solves by the method of steps. Saves follow `opts.saveat` (steps or
    /// a grid; every piece's steps for `EveryStep`).
    pub fn solve<M>(
        &self,
        method: MethodOfSteps<M>,
        opts: &SolveOptions,
    ) -> Result<Solution<T>, Error>
    where
        M: ErkMethod + OdeMethod,
        F: Clone,
    {
        self.solve_pieces(method, opts).map(|(sol, _)| sol)
    }

    /// [`solve`](Self::solve), also returning the solved pieces with their
    /// dense output (which the delayed terms read).
    fn solve_pieces<M>(
        &self,
        method: MethodOfSteps<M>,
        opts: &SolveOptions,
    ) -> Result<(Solution<T>, Vec<Solution<T>>), Error>
    where
        M: ErkMethod + OdeMethod,
        F: Clone,
    {
        let inner = method.0;
        let n = self.u0.len();
        let (t0, t1) = (self.tspan.0.real(), self.tspan.1.real());
        opts.validate(n, t0, t1)?;
        let max_order = inner.info().order as usize;
        let breaks = self.breakpoints(max_order);
        let dependent = self.f.dependent_lag_count();
        // Discontinuities (time, order of the derivative that jumps): the
        // start, those the constant lags carry, then those found on the way.
        let mut discontinuities = if dependent > 0 {
            self.constant_discontinuities(max_order)
        } else {
            Vec::new()
        };
        let saves = save_grid(&opts.saveat, t0, t1, 1.0);
        let every = matches!(opts.saveat, SaveAt::EveryStep);
        let mut pieces: Pieces<T> = Pieces(Vec::new());
        let mut out = Solution::new(n, inner.info().name, self.tspan.0);
        let mut u = self.u0.clone();
        let mut dt0 = None;
        let mut retcode = ReturnCode::Success;
        for (k, w) in breaks.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            let ta = if k == 0 { self.tspan.0 } else { T::cst(a) };
            let tb = if b == t1 { self.tspan.1 } else { T::cst(b) };
            let rhs = PieceRhs {
                f: self.f.clone(),
                history: &pieces as &dyn Any,
                _t: std::marker::PhantomData::<T>,
            };
            let piece = OdeProblem::new(rhs, u.clone(), (ta, tb), self.p.clone())?;
            let mut o = opts.clone().dense(true);
            if !every {
                let inside: Vec<f64> = saves
                    .iter()
                    .copied()
                    .filter(|&s| (s > a || (k == 0 && s == a)) && s <= b)
                    .collect();
                o = o.saveat(inside);
            }
            // An adaptive piece starts from the step the last one ended with.
            if let (Some(dt), Stepping::Adaptive { .. }) = (dt0, &opts.stepping) {
                o = o.dt0(dt);
            }
            let sol = if dependent == 0 {
                piece.solve(inner, &o)?
            } else {
                // Watch every discontinuity a state-dependent lag could
                // reach back to from this piece and that the method feels.
                let watched: Vec<(f64, usize)> = discontinuities
                    .iter()
                    .copied()
                    .filter(|&(x, order)| x < b && order <= max_order)
                    .collect();
                let events = Propagation {
                    f: &self.f,
                    lags: dependent,
                    xis: watched.iter().map(|d| d.0).collect(),
                };
                let sol = piece.with_events(events).solve(inner, &o)?;
                for e in &sol.events {
                    if let EventKind::Condition(i) = e.kind {
                        let order = watched[i / dependent].1 + 1;
                        discontinuities.push((e.t.real(), order));
                        out.events.push(*e);
                    }
                }
                sol
            };
            out.stats.f_evals += sol.stats.f_evals;
            out.stats.accepted += sol.stats.accepted;
            out.stats.rejected += sol.stats.rejected;
            for (i, (t, x)) in sol.iter().enumerate() {
                // A piece's first point repeats the previous piece's last,
                // and a cut step's end is kept once.
                if every
                    && ((k > 0 && i == 0) || out.t.last().is_some_and(|&l| l.real() == t.real()))
                {
                    continue;
                }
                out.push(t, x);
            }
            if !sol.is_success() {
                retcode = sol.retcode;
                u = sol.u_end().to_vec();
                out.reached = (self.tspan.0, sol.span().1);
                break;
            }
            u = sol.u_end().to_vec();
            dt0 = sol.last_step().map(|h| h.min(b - a).max(f64::EPSILON));
            out.reached = (self.tspan.0, tb);
            pieces.0.push(sol);
        }
        out.retcode = retcode;
        out.end = u;
        Ok((out, pieces.0))
    }
}

/// How to differentiate a delay solve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DdeSensitivity {
    /// Dual numbers through the whole method of steps, four parameters per
    /// solve: cheap for few parameters.
    ForwardMode,
    /// Backwards over the steps taken: each step run again in vector duals
    /// seeded in its start state, the parameters and every delayed value it
    /// read, and the adjoint of those values passed back into the dense
    /// output of the steps they came from. The exact gradient of the
    /// computed solution, its mesh (step sizes, and the cuts at tracked
    /// discontinuities) held fixed, as forward mode holds it. With
    /// [`DdeFunction::vjp_p`] (networks have it), each evaluation's output
    /// is seeded instead of the parameters, and the cost no longer grows
    /// with their number.
    Discrete,
}

impl<F: DdeFunction + Clone> DdeProblem<F, f64> {
    /// `loss` of the solve and its gradient with respect to `p`, the delayed
    /// terms and breakpoints included, by `sensitivity`.
    pub fn loss_and_gradient<M, L>(
        &self,
        method: MethodOfSteps<M>,
        opts: &SolveOptions,
        loss: &L,
        sensitivity: DdeSensitivity,
    ) -> Result<(f64, Vec<f64>), Error>
    where
        M: ErkMethod + OdeMethod,
        L: Loss,
    {
        match sensitivity {
            DdeSensitivity::ForwardMode => self.forward_gradient(method, opts, loss),
            DdeSensitivity::Discrete => discrete::gradient(self, method, opts, loss),
        }
    }

    /// Forward mode: the problem solved in dual numbers.
    fn forward_gradient<M, L>(
        &self,
        method: MethodOfSteps<M>,
        opts: &SolveOptions,
        loss: &L,
    ) -> Result<(f64, Vec<f64>), Error>
    where
        M: ErkMethod + OdeMethod,
        L: Loss,
    {
        let np = self.p.len();
        let n = self.u0.len();
        let mut grad = vec![0.0; np];
        let mut value = None;
        for start in (0..np.max(1)).step_by(4) {
            let lift = |x: f64| MultiDual::<4>::constant(x);
            let p: Vec<MultiDual<4>> = self
                .p
                .iter()
                .enumerate()
                .map(|(i, &x)| match i.checked_sub(start) {
                    Some(lane) => MultiDual::seeded(x, lane),
                    None => lift(x),
                })
                .collect();
            let dual = DdeProblem {
                f: self.f.clone(),
                u0: self.u0.iter().map(|&x| lift(x)).collect(),
                tspan: (lift(self.tspan.0), lift(self.tspan.1)),
                p,
                lags: self.lags.clone(),
            };
            let sol = dual.solve(method, opts)?;
            if !sol.is_success() {
                return Err(Error::SolveFailed {
                    stage: "forward",
                    method: sol.method,
                    retcode: sol.retcode,
                    t: sol.span().1.re,
                });
            }
            loss.check(sol.len(), n)?;
            let t: Vec<f64> = sol.t.iter().map(|t| t.re).collect();
            let l = loss.value(&t, sol.u_flat(), n);
            value = Some(l.re);
            for (g, &e) in grad.iter_mut().skip(start).zip(&l.eps) {
                *g = e;
            }
        }
        Ok((value.unwrap_or(f64::NAN), grad))
    }
}

/// The solved pieces, in order, each with its dense output.
struct Pieces<T>(Vec<Solution<T>>);

/// The history as a piece's right-hand side reads it: before `t0` the
/// user's history function, then the pieces solved so far.
struct HistoryView<'a, F, T> {
    f: &'a F,
    p: &'a [T],
    pieces: &'a Pieces<T>,
}

/// Where the solution at a delayed time is read from.
pub(super) enum Source {
    /// Before the first piece: the history function.
    History,
    /// Past the solved pieces (a lag shorter than the smallest declared
    /// one): unknown, read as NaN, so the solve stops as `Unstable` rather
    /// than read a guess.
    Unsolved,
    /// Step `step` of piece `piece`'s dense output, at `t` (a time rounded
    /// past the piece's end is clamped to it).
    Step { piece: usize, step: usize, t: f64 },
}

/// Where `t` is read from among `pieces` (in time order): the last piece
/// starting before `t`, then its last step starting at or before it.
/// Every reader of the history (the solve in any scalar type, the
/// discrete adjoint's replay) goes through here, so all read the same.
pub(super) fn source<T: Scalar>(pieces: &[Solution<T>], t: f64) -> Source {
    if pieces.first().is_none_or(|s| t <= s.span().0.real()) {
        return Source::History;
    }
    // Most reads reach back into the latest piece (pieces are at most the
    // smallest lag long): try it before searching.
    let last = pieces.len() - 1;
    let piece = if pieces[last].span().0.real() < t {
        last
    } else {
        pieces
            .partition_point(|s| s.span().0.real() < t)
            .saturating_sub(1)
    };
    let end = pieces[piece].span().1.real();
    let Some(dense) = pieces[piece].dense.as_ref() else {
        return Source::Unsolved;
    };
    if t > end + 1e-12 * end.abs().max(1.0) || dense.starts.is_empty() {
        return Source::Unsolved;
    }
    let t = t.min(end);
    let step = dense
        .starts
        .partition_point(|s| s.real() <= t)
        .saturating_sub(1);
    Source::Step { piece, step, t }
}

impl<F: DdeFunction, T: Scalar> History<T> for HistoryView<'_, F, T> {
    fn at(&self, t: T, out: &mut [T]) {
        match source(&self.pieces.0, t.real()) {
            Source::History => self.f.history(out, self.p, t),
            Source::Unsolved => out.fill(T::cst(f64::NAN)),
            Source::Step { piece, step, t: at } => {
                let dense = self.pieces.0[piece]
                    .dense
                    .as_ref()
                    .expect("checked by source");
                let t = if at < t.real() { T::cst(at) } else { t };
                let (start, size) = (dense.starts[step], dense.sizes[step]);
                let data = &dense.data[step * dense.width..(step + 1) * dense.width];
                (dense.eval)(quotient(t - start, size), size, data, out);
            }
        }
    }
}

/// One piece as an ODE: the delay equation with its history bound.
struct PieceRhs<'a, F, T> {
    f: F,
    history: &'a dyn Any,
    _t: std::marker::PhantomData<T>,
}

impl<F: DdeFunction, T0: Scalar> OdeFunction for PieceRhs<'_, F, T0> {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        // Explicit methods call this in the problem's own scalar type, the
        // type the pieces are stored in.
        match self.history.downcast_ref::<Pieces<T>>() {
            Some(pieces) => {
                let h = HistoryView {
                    f: &self.f,
                    p,
                    pieces,
                };
                self.f.rhs(du, u, &h, p, t);
            }
            None => du.fill(T::cst(f64::NAN)),
        }
    }
    fn num_states(&self) -> Option<usize> {
        self.f.num_states()
    }
}
