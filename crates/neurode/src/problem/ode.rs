//! Ordinary differential equations `u' = f(u, p, t)`.

use super::events::{Crossing, EventAction};
use super::mass::{JacobianSparsity, MassMatrix};
use crate::error::{Error, check_initial_value, check_len};
use crate::linalg::DenseMatrix;
use crate::methods::OdeMethod;
use crate::scalar::Scalar;
use crate::solve::{Solution, SolveOptions, integrate};

/// A right-hand side `f(u, p, t)`, written once for every [`Scalar`].
///
/// Because `rhs` is generic, the same code runs in `f64`, in `f32` and on dual
/// numbers, which is how derivatives of a solve are computed. The
/// [`ode_system!`](crate::ode_system) macro writes the impl for you.
///
/// ```
/// use neurode::prelude::*;
///
/// struct Decay;
/// impl OdeFunction for Decay {
///     fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
///         du[0] = -p[0] * u[0];
///     }
/// }
/// let prob = OdeProblem::new(Decay, vec![1.0], (0.0, 1.0), vec![2.0]).unwrap();
/// let sol = prob.solve(Tsit5, &SolveOptions::default().tolerances(1e-10, 1e-10)).unwrap();
/// assert!((sol.u_end()[0] - (-2.0_f64).exp()).abs() < 1e-8);
/// ```
pub trait OdeFunction {
    /// Writes `f(u, p, t)` into `du`. `du` has the length of `u`; its old
    /// contents are undefined and must all be overwritten.
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T);

    /// The number of states, when the function knows it (checked against `u0`).
    fn num_states(&self) -> Option<usize> {
        None
    }

    /// The number of parameters, when the function knows it (checked against `p`).
    fn num_params(&self) -> Option<usize> {
        None
    }

    /// Names of the states, for tables and plot legends (empty if unnamed).
    fn state_names(&self) -> &[&str] {
        &[]
    }

    /// True when `f = f_stiff + f_nonstiff` is given in two parts
    /// ([`rhs_stiff`](Self::rhs_stiff), [`rhs_nonstiff`](Self::rhs_nonstiff)),
    /// so IMEX methods treat only the stiff part implicitly. `rhs` must still
    /// return the sum.
    fn is_split(&self) -> bool {
        false
    }

    /// The stiff part of a split function (the whole of an unsplit one).
    fn rhs_stiff<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        self.rhs(du, u, p, t)
    }

    /// The nonstiff part of a split function (zero for an unsplit one).
    fn rhs_nonstiff<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        let _ = (u, p, t);
        du.fill(T::zero());
    }

    /// Writes the analytic Jacobian `∂f/∂u` into `jac` and returns true, or
    /// returns false (the default) to have it computed by forward-mode AD.
    fn jacobian<T: Scalar>(&self, jac: &mut DenseMatrix<T>, u: &[T], p: &[T], t: T) -> bool {
        let _ = (jac, u, p, t);
        false
    }

    /// Vector–Jacobian products for reverse-mode gradients: writes
    /// `vᵀ ∂f/∂u` into `vu`, `vᵀ ∂f/∂p` into `vp` and, when asked,
    /// `vᵀ ∂f/∂t` into `vt`, and returns true; or returns false (the default)
    /// to have them computed by forward-mode AD on `rhs`, which costs one
    /// dual evaluation per state and per parameter. Neural right-hand sides
    /// supply these analytically.
    #[allow(clippy::too_many_arguments)]
    fn vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        t: T,
        vu: &mut [T],
        vp: &mut [T],
        vt: Option<&mut T>,
    ) -> bool {
        let _ = (v, u, p, t, vu, vp, vt);
        false
    }

    /// How many numbers [`rhs_taped`](Self::rhs_taped) records about one
    /// evaluation (a network's activations) so that
    /// [`vjp_taped`](Self::vjp_taped) need not evaluate again; 0 (the
    /// default) records nothing. The discrete adjoint keeps these records
    /// for the solver's own stages.
    fn tape_len(&self) -> usize {
        0
    }

    /// [`rhs`](Self::rhs) in `f64` that also writes its record into `tape`
    /// ([`tape_len`](Self::tape_len) numbers).
    fn rhs_taped(&self, du: &mut [f64], u: &[f64], p: &[f64], t: f64, tape: &mut [f64]) {
        let _ = tape;
        self.rhs(du, u, p, t);
    }

    /// [`vjp`](Self::vjp) at a point whose evaluation
    /// [`rhs_taped`](Self::rhs_taped) recorded in `tape`.
    #[allow(clippy::too_many_arguments)]
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
        let _ = tape;
        self.vjp(v, u, p, t, vu, vp, vt)
    }

    /// The initial state as a function of the parameters (the seed's
    /// `u0_f(p, t0)`): writes it into `u0` and returns true, or returns false
    /// (the default) to keep the problem's own `u0`. Applied whenever a
    /// problem is built or given new parameters, so gradients flow through it.
    fn initial_state<T: Scalar>(&self, p: &[T], t0: T, u0: &mut [T]) -> bool {
        let _ = (p, t0, u0);
        false
    }

    /// The time span as a function of the parameters (the seed's
    /// `tspan_f(p)`), or `None` (the default) to keep the problem's own.
    fn time_span<T: Scalar>(&self, p: &[T]) -> Option<(T, T)> {
        let _ = p;
        None
    }

    /// True when the function carries callbacks. The callback methods below
    /// come from [`Events`](crate::Events) through
    /// [`OdeProblem::with_events`]; there is no need to implement them here.
    fn has_callbacks(&self) -> bool {
        false
    }
    /// [`Events::count`](crate::Events::count).
    fn event_count(&self) -> usize {
        0
    }
    /// [`Events::conditions`](crate::Events::conditions).
    fn event_conditions<T: Scalar>(&self, out: &mut [T], u: &[T], p: &[T], t: T) {
        let _ = (out, u, p, t);
    }
    /// [`Events::crossing`](crate::Events::crossing).
    fn event_crossing(&self, i: usize) -> Crossing {
        let _ = i;
        Crossing::Both
    }
    /// [`Events::marks_mesh_only`](crate::Events::marks_mesh_only).
    fn event_marks_mesh_only(&self) -> bool {
        false
    }
    /// [`Events::affect`](crate::Events::affect).
    fn event_affect<T: Scalar>(&self, i: usize, u: &mut [T], p: &[T], t: T) -> EventAction {
        let _ = (i, u, p, t);
        EventAction::Continue
    }
    /// [`Events::after_step`](crate::Events::after_step).
    fn after_step<T: Scalar>(&self, u: &mut [T], p: &[T], t: T) -> Option<EventAction> {
        let _ = (u, p, t);
        None
    }
    /// [`Events::preset_times`](crate::Events::preset_times).
    fn preset_times(&self) -> Vec<f64> {
        Vec::new()
    }
    /// [`Events::at_preset_time`](crate::Events::at_preset_time).
    fn at_preset_time<T: Scalar>(&self, u: &mut [T], p: &[T], t: T) -> EventAction {
        let _ = (u, p, t);
        EventAction::Continue
    }
}

/// The methods of [`OdeFunction`] that describe the right-hand side itself
/// (not its callbacks), forwarded to `$inner` (an expression in `$s`, the
/// receiver): for wrappers that are the function they hold.
macro_rules! forward_rhs_methods {
    (|$s:ident| $inner:expr) => {
        #[inline(always)]
        fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
            let $s = self;
            $inner.rhs(du, u, p, t)
        }
        fn num_states(&self) -> Option<usize> {
            let $s = self;
            $inner.num_states()
        }
        fn num_params(&self) -> Option<usize> {
            let $s = self;
            $inner.num_params()
        }
        fn state_names(&self) -> &[&str] {
            let $s = self;
            $inner.state_names()
        }
        fn jacobian<T: Scalar>(
            &self,
            jac: &mut crate::linalg::DenseMatrix<T>,
            u: &[T],
            p: &[T],
            t: T,
        ) -> bool {
            let $s = self;
            $inner.jacobian(jac, u, p, t)
        }
        fn is_split(&self) -> bool {
            let $s = self;
            $inner.is_split()
        }
        fn rhs_stiff<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
            let $s = self;
            $inner.rhs_stiff(du, u, p, t)
        }
        fn rhs_nonstiff<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
            let $s = self;
            $inner.rhs_nonstiff(du, u, p, t)
        }
        #[allow(clippy::too_many_arguments)]
        fn vjp<T: Scalar>(
            &self,
            v: &[T],
            u: &[T],
            p: &[T],
            t: T,
            vu: &mut [T],
            vp: &mut [T],
            vt: Option<&mut T>,
        ) -> bool {
            let $s = self;
            $inner.vjp(v, u, p, t, vu, vp, vt)
        }
        fn tape_len(&self) -> usize {
            let $s = self;
            $inner.tape_len()
        }
        fn rhs_taped(&self, du: &mut [f64], u: &[f64], p: &[f64], t: f64, tape: &mut [f64]) {
            let $s = self;
            $inner.rhs_taped(du, u, p, t, tape)
        }
        #[allow(clippy::too_many_arguments)]
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
            let $s = self;
            $inner.vjp_taped(v, u, p, t, tape, vu, vp, vt)
        }
        fn initial_state<T: Scalar>(&self, p: &[T], t0: T, u0: &mut [T]) -> bool {
            let $s = self;
            $inner.initial_state(p, t0, u0)
        }
        fn time_span<T: Scalar>(&self, p: &[T]) -> Option<(T, T)> {
            let $s = self;
            $inner.time_span(p)
        }
    };
}
pub(crate) use forward_rhs_methods;

impl<F: OdeFunction + ?Sized> OdeFunction for &F {
    forward_rhs_methods!(|s| (**s));
    fn has_callbacks(&self) -> bool {
        (**self).has_callbacks()
    }
    fn event_count(&self) -> usize {
        (**self).event_count()
    }
    fn event_conditions<T: Scalar>(&self, out: &mut [T], u: &[T], p: &[T], t: T) {
        (**self).event_conditions(out, u, p, t)
    }
    fn event_crossing(&self, i: usize) -> Crossing {
        (**self).event_crossing(i)
    }
    fn event_marks_mesh_only(&self) -> bool {
        (**self).event_marks_mesh_only()
    }
    fn event_affect<T: Scalar>(&self, i: usize, u: &mut [T], p: &[T], t: T) -> EventAction {
        (**self).event_affect(i, u, p, t)
    }
    fn after_step<T: Scalar>(&self, u: &mut [T], p: &[T], t: T) -> Option<EventAction> {
        (**self).after_step(u, p, t)
    }
    fn preset_times(&self) -> Vec<f64> {
        (**self).preset_times()
    }
    fn at_preset_time<T: Scalar>(&self, u: &mut [T], p: &[T], t: T) -> EventAction {
        (**self).at_preset_time(u, p, t)
    }
}

/// An initial-value problem: right-hand side, initial state, time span and
/// parameters, all in the scalar type `T` (plain `f64` unless derivatives are
/// being carried).
///
/// The span may run backwards (`t1 < t0`). Every input is validated when the
/// problem is built, so a solve never starts from NaN or mismatched lengths.
#[derive(Clone, Debug)]
pub struct OdeProblem<F, T = f64> {
    f: F,
    u0: Vec<T>,
    tspan: (T, T),
    p: Vec<T>,
    mass: MassMatrix,
    sparsity: JacobianSparsity,
}

impl<F: OdeFunction, T: Scalar> OdeProblem<F, T> {
    /// Builds a problem, checking lengths against the function (when it knows
    /// them) and that every number is finite and the span non-empty.
    pub fn new(
        f: F,
        u0: impl Into<Vec<T>>,
        tspan: (T, T),
        p: impl Into<Vec<T>>,
    ) -> Result<Self, Error> {
        let prob = Self {
            f,
            u0: u0.into(),
            tspan,
            p: p.into(),
            mass: MassMatrix::Identity,
            sparsity: JacobianSparsity::Dense,
        };
        if let Some(np) = prob.f.num_params() {
            check_len("p", &prob.p, np)?;
        }
        let prob = prob.with_param_maps();
        prob.validate()?;
        Ok(prob)
    }

    /// The same problem with its function replaced by `map(f)`.
    pub(crate) fn map_function<G: OdeFunction>(self, map: impl FnOnce(F) -> G) -> OdeProblem<G, T> {
        OdeProblem {
            f: map(self.f),
            u0: self.u0,
            tspan: self.tspan,
            p: self.p,
            mass: self.mass,
            sparsity: self.sparsity,
        }
    }

    /// Recomputes `tspan` and `u0` from `p` where the function defines them
    /// as functions of the parameters.
    fn with_param_maps(mut self) -> Self {
        if let Some(tspan) = self.f.time_span(&self.p) {
            self.tspan = tspan;
        }
        let mut u0 = std::mem::take(&mut self.u0);
        self.f.initial_state(&self.p, self.tspan.0, &mut u0);
        self.u0 = u0;
        self
    }

    /// True when the function defines `u0` or `tspan` as functions of `p`.
    pub fn has_param_maps(&self) -> bool {
        let mut scratch = self.u0.clone();
        self.f.time_span(&self.p).is_some()
            || self.f.initial_state(&self.p, self.tspan.0, &mut scratch)
    }

    /// Checks the problem's inputs (also run at the start of every solve).
    pub fn validate(&self) -> Result<(), Error> {
        let sizes = (self.f.num_states(), self.f.num_params());
        check_initial_value(&self.u0, &self.p, self.tspan, sizes)?;
        self.mass.validate(self.u0.len())?;
        if let JacobianSparsity::Pattern(pattern) = &self.sparsity
            && pattern.size() != self.u0.len()
        {
            return Err(Error::WrongLength {
                what: "Jacobian sparsity pattern",
                got: pattern.size(),
                expected: self.u0.len(),
            });
        }
        Ok(())
    }

    /// The right-hand side.
    pub fn f(&self) -> &F {
        &self.f
    }
    /// The initial state.
    pub fn u0(&self) -> &[T] {
        &self.u0
    }
    /// The time span `(t0, t1)`.
    pub fn tspan(&self) -> (T, T) {
        self.tspan
    }
    /// The parameters.
    pub fn p(&self) -> &[T] {
        &self.p
    }
    /// The mass matrix.
    pub fn mass_matrix(&self) -> &MassMatrix {
        &self.mass
    }
    /// Where the Jacobian's structure comes from.
    pub fn jacobian_sparsity(&self) -> &JacobianSparsity {
        &self.sparsity
    }
    /// The number of states.
    pub fn len(&self) -> usize {
        self.u0.len()
    }
    /// Always false: a problem has at least one state.
    pub fn is_empty(&self) -> bool {
        self.u0.is_empty()
    }

    /// The same problem from another initial state.
    pub fn with_u0(mut self, u0: impl Into<Vec<T>>) -> Result<Self, Error> {
        self.u0 = u0.into();
        self.validate()?;
        Ok(self)
    }
    /// The same problem over another span.
    pub fn with_tspan(mut self, tspan: (T, T)) -> Result<Self, Error> {
        self.tspan = tspan;
        self.validate()?;
        Ok(self)
    }
    /// The same problem with other parameters (and, where the function
    /// defines them so, the `u0` and `tspan` they imply).
    pub fn with_p(mut self, p: impl Into<Vec<T>>) -> Result<Self, Error> {
        self.p = p.into();
        if let Some(np) = self.f.num_params() {
            check_len("p", &self.p, np)?;
        }
        let prob = self.with_param_maps();
        prob.validate()?;
        Ok(prob)
    }
    /// The same problem as `M u' = f(u, p, t)`.
    pub fn with_mass_matrix(mut self, mass: MassMatrix) -> Result<Self, Error> {
        self.mass = mass;
        self.validate()?;
        Ok(self)
    }
    /// The same problem with a sparse Jacobian, given or detected: implicit
    /// methods then use a coloured AD Jacobian and a sparse LU.
    pub fn with_jacobian_sparsity(mut self, sparsity: JacobianSparsity) -> Result<Self, Error> {
        self.sparsity = sparsity;
        self.validate()?;
        Ok(self)
    }

    /// The same problem in another scalar type, each number mapped by `map`
    /// (for example into dual numbers with chosen derivative seeds). Where
    /// the function defines `u0` or `tspan` from `p`, they are recomputed
    /// from the mapped `p`, so derivatives seeded in `p` flow through them.
    pub fn map_scalar<S: Scalar>(
        &self,
        mut map: impl FnMut(Role, usize, T) -> S,
    ) -> OdeProblem<F, S>
    where
        F: Clone,
    {
        OdeProblem {
            f: self.f.clone(),
            u0: self
                .u0
                .iter()
                .enumerate()
                .map(|(i, &x)| map(Role::U0, i, x))
                .collect(),
            tspan: (
                map(Role::Tspan, 0, self.tspan.0),
                map(Role::Tspan, 1, self.tspan.1),
            ),
            p: self
                .p
                .iter()
                .enumerate()
                .map(|(i, &x)| map(Role::P, i, x))
                .collect(),
            mass: self.mass.clone(),
            sparsity: self.sparsity.clone(),
        }
        .with_param_maps()
    }

    /// Solves the problem with `method` (a unit value such as [`Tsit5`](crate::Tsit5)).
    ///
    /// Bad options give `Err`; a solve that stops early (too many steps, step
    /// size underflow, a non-finite state) gives `Ok` with the partial solution
    /// and a [`ReturnCode`](crate::ReturnCode) that says why.
    pub fn solve<M: OdeMethod>(
        &self,
        method: M,
        opts: &SolveOptions,
    ) -> Result<Solution<T>, Error> {
        self.validate()?;
        integrate(self, &method, opts)
    }
}

/// Which input a number belongs to, for [`OdeProblem::map_scalar`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// An entry of `u0`.
    U0,
    /// `t0` (index 0) or `t1` (index 1).
    Tspan,
    /// An entry of `p`.
    P,
}
