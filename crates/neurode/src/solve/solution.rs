//! The result of a solve: saved states, dense output, statistics, return code.

use crate::error::Error;
use crate::methods::DenseFn;
use crate::scalar::Scalar;

/// Why a solve ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReturnCode {
    /// Reached the end of the span.
    Success,
    /// Used up `maxiters` step attempts first.
    MaxIters,
    /// The step size fell below `dtmin` (or below what floating point resolves).
    DtLessThanMin,
    /// The state became NaN or infinite.
    Unstable,
    /// An implicit method's nonlinear solve failed at a fixed step size
    /// (adaptive solves retry with a smaller step instead).
    ConvergenceFailure,
    /// A callback stopped the solve (a successful end).
    Terminated,
}

impl ReturnCode {
    /// True for [`ReturnCode::Success`] and [`ReturnCode::Terminated`].
    pub fn is_success(self) -> bool {
        matches!(self, ReturnCode::Success | ReturnCode::Terminated)
    }
}

/// Which callback fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Continuous condition `i` crossed zero.
    Condition(usize),
    /// The discrete callback after a step.
    AfterStep,
    /// A preset-time callback.
    PresetTime,
    /// Jump `i` of a jump process.
    Jump(usize),
}

/// A callback that fired during a solve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EventRecord<T = f64> {
    /// When (for a continuous event, the located crossing time; under
    /// forward mode it carries the event time's derivatives).
    pub t: T,
    /// Which callback.
    pub kind: EventKind,
}

/// Counts of the work a solve did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Evaluations of the right-hand side.
    pub f_evals: usize,
    /// Accepted steps.
    pub accepted: usize,
    /// Rejected steps.
    pub rejected: usize,
    /// Jacobians evaluated (implicit methods).
    pub jacobians: usize,
    /// LU factorisations (implicit methods).
    pub factorizations: usize,
    /// Linear solves (implicit methods).
    pub solves: usize,
    /// Accepted steps taken by the stiff method of an automatic-switching solve.
    pub stiff_steps: usize,
    /// Switches between the methods of an automatic-switching solve.
    pub switches: usize,
}

impl Stats {
    /// All step attempts.
    pub fn steps(&self) -> usize {
        self.accepted + self.rejected
    }
}

/// Dense output: every accepted step's interpolation data.
#[derive(Clone)]
pub(crate) struct Dense<T> {
    /// Start time of each step, in integration order.
    pub starts: Vec<T>,
    /// Size of each step (signed).
    pub sizes: Vec<T>,
    /// Per-step data, `width` numbers each.
    pub data: Vec<T>,
    pub width: usize,
    pub eval: DenseFn<T>,
}

/// A solved trajectory.
///
/// States are stored contiguously; `sol.u(i)` is the state at `sol.t[i]`.
/// With dense output, [`u_at`](Self::u_at) evaluates the method's own
/// interpolant anywhere in the solved span.
#[derive(Clone)]
pub struct Solution<T = f64> {
    /// Saved times, in integration order.
    pub t: Vec<T>,
    /// Saved states, `n` numbers per saved time.
    u: Vec<T>,
    n: usize,
    /// Why the solve ended.
    pub retcode: ReturnCode,
    /// Work counts.
    pub stats: Stats,
    /// Name of the method that made it.
    pub method: &'static str,
    /// The callbacks that fired, in order.
    pub events: Vec<EventRecord<T>>,
    pub(crate) dense: Option<Dense<T>>,
    /// The span actually covered `(t0, t_reached)`.
    pub(crate) reached: (T, T),
    /// The state at `reached.1`.
    pub(crate) end: Vec<T>,
}

impl<T: Scalar> std::fmt::Debug for Solution<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Solution")
            .field("method", &self.method)
            .field("retcode", &self.retcode)
            .field("stats", &self.stats)
            .field("saved", &self.t.len())
            .field("states", &self.n)
            .field("dense", &self.dense.is_some())
            .finish()
    }
}

impl<T: Scalar> Solution<T> {
    pub(crate) fn new(n: usize, method: &'static str, t0: T) -> Self {
        Self {
            t: Vec::new(),
            u: Vec::new(),
            n,
            retcode: ReturnCode::Success,
            stats: Stats::default(),
            method,
            events: Vec::new(),
            dense: None,
            reached: (t0, t0),
            end: Vec::new(),
        }
    }

    pub(crate) fn reserve(&mut self, points: usize) {
        self.t.reserve(points);
        self.u.reserve(points * self.n);
    }

    pub(crate) fn push(&mut self, t: T, u: &[T]) {
        self.t.push(t);
        self.u.extend_from_slice(u);
    }

    /// Number of states.
    pub fn num_states(&self) -> usize {
        self.n
    }
    /// Number of saved points.
    pub fn len(&self) -> usize {
        self.t.len()
    }
    /// True when nothing was saved.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }
    /// The state at saved point `i`.
    pub fn u(&self, i: usize) -> &[T] {
        &self.u[i * self.n..(i + 1) * self.n]
    }
    /// The state at the end of the solved span, saved or not (short of `t1`
    /// if the solve stopped early).
    pub fn u_end(&self) -> &[T] {
        &self.end
    }
    /// All saved states, `n` numbers per point.
    pub fn u_flat(&self) -> &[T] {
        &self.u
    }
    /// `(t, u)` for every saved point.
    pub fn iter(&self) -> impl Iterator<Item = (T, &[T])> {
        self.t
            .iter()
            .copied()
            .zip(self.u.chunks_exact(self.n.max(1)))
    }
    /// Component `j` at every saved point.
    pub fn component(&self, j: usize) -> Vec<T> {
        self.u.iter().skip(j).step_by(self.n).copied().collect()
    }
    /// The size of the last step taken (from the dense output).
    pub(crate) fn last_step(&self) -> Option<f64> {
        self.dense
            .as_ref()
            .and_then(|d| d.sizes.last())
            .map(|h| h.real().abs())
    }

    /// The span the solve covered: `(t0, t_end)`, where `t_end` is short of
    /// the requested end if the solve stopped early.
    pub fn span(&self) -> (T, T) {
        self.reached
    }
    /// True when the solve reached the end of its span.
    pub fn is_success(&self) -> bool {
        self.retcode.is_success()
    }

    /// The state at any `t` in the solved span, from the method's own interpolant.
    ///
    /// ```
    /// use neurode::prelude::*;
    /// ode_system! {
    ///     struct Growth;
    ///     fn rhs<T>(t; u; r) -> (du) { du = r * u; }
    /// }
    /// let prob = OdeProblem::new(Growth, vec![1.0], (0.0, 1.0), vec![1.0]).unwrap();
    /// let sol = prob.solve(Tsit5, &SolveOptions::default().tolerances(1e-10, 1e-12)).unwrap();
    /// let u = sol.u_at(0.5).unwrap();
    /// assert!((u[0] - 0.5_f64.exp()).abs() < 1e-8);
    /// ```
    pub fn u_at(&self, t: f64) -> Result<Vec<T>, Error> {
        let mut out = vec![T::zero(); self.n];
        self.u_at_into(T::cst(t), &mut out)?;
        Ok(out)
    }

    /// [`u_at`](Self::u_at) for a time in the scalar type, into `out`.
    pub fn u_at_into(&self, t: T, out: &mut [T]) -> Result<(), Error> {
        let mut near = usize::MAX;
        self.u_at_into_near(t, out, &mut near)
    }

    /// [`u_at_into`](Self::u_at_into) that looks first in step `*near` and
    /// the one before it, and leaves in `*near` the step it used: a caller
    /// walking the span in order (an adjoint solved backwards) finds its
    /// step without a search, whose branches mispredicted half the time.
    pub(crate) fn u_at_into_near(
        &self,
        t: T,
        out: &mut [T],
        near: &mut usize,
    ) -> Result<(), Error> {
        let dense = self.dense.as_ref().ok_or(Error::NoDenseOutput)?;
        crate::error::check_len("out", out, self.n)?;
        let (a, b) = (self.reached.0.real(), self.reached.1.real());
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let tr = t.real();
        if !(tr >= lo && tr <= hi) {
            return Err(Error::OutsideSpan {
                what: "u_at",
                t: tr,
                lo,
                hi,
            });
        }
        if dense.starts.is_empty() {
            // Nothing was stepped: the span is the single point t0.
            out.copy_from_slice(self.u(0));
            return Ok(());
        }
        let forward = b >= a;
        // Whether a step starting at `s` starts at or before t (in the
        // direction of integration).
        let not_past = |s: &T| {
            if forward {
                s.real() <= tr
            } else {
                s.real() >= tr
            }
        };
        let starts = &dense.starts;
        // The last step that starts not past t: `near` or the one before
        // it when they are, else a search.
        let is_last =
            |i: usize| not_past(&starts[i]) && starts.get(i + 1).is_none_or(|s| !not_past(s));
        let idx = match *near {
            i if i < starts.len() && is_last(i) => i,
            i if i.wrapping_sub(1) < starts.len() && is_last(i - 1) => i - 1,
            _ => starts.partition_point(not_past).saturating_sub(1),
        };
        *near = idx;
        let (start, size) = (dense.starts[idx], dense.sizes[idx]);
        let theta = crate::scalar::quotient(t - start, size);
        let data = &dense.data[idx * dense.width..(idx + 1) * dense.width];
        (dense.eval)(theta, size, data, out);
        Ok(())
    }
}
