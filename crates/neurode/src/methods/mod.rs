//! Integration methods. A method supplies a step, its error estimate and its
//! interpolant; the integrator loop ([`crate::solve`]) owns everything else.

pub mod auto;
pub mod bdf;
pub mod explicit;
pub mod implicit;
pub mod rosenbrock;
pub mod sdirk;

use crate::dim::Dim;
use crate::problem::{JacobianSparsity, MassMatrix, OdeFunction};
use crate::scalar::Scalar;
use crate::solve::{SolveOptions, Stats, Tolerance};

pub use auto::{AutoSwitch, AutoTsit5};
pub use bdf::Bdf;
pub use explicit::{Bs3, Dop853, Dp5, Euler, ExplicitTableau, Heun, Midpoint, Rk4, Tsit5, Vern7};
pub use rosenbrock::{Rodas4, Rodas5P, Rosenbrock23};
pub use sdirk::{ImplicitEuler, KenCarp4, Trapezoid, Trbdf2};

/// What the loop needs to know about a method.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MethodInfo {
    /// Display name, such as `"Tsit5"`.
    pub name: &'static str,
    /// Order of the solution it propagates.
    pub order: u32,
    /// Order of the embedded error estimate, if it has one (it can then
    /// choose its own steps).
    pub error_order: Option<u32>,
    /// Order of its dense-output interpolant.
    pub dense_order: u32,
    /// Whether it solves `M u' = f` with a mass matrix (and so DAEs).
    pub mass_matrix: bool,
    /// Whether it reuses factorisations across steps (the loop then keeps
    /// the step size through small changes so that they stay valid).
    pub reuses_factorizations: bool,
    /// For explicit methods that detect stiffness: where the stability
    /// region meets the negative real axis (0 otherwise).
    pub stability_size: f64,
}

impl MethodInfo {
    /// True when the method estimates its error and so can adapt its steps.
    pub fn is_adaptive(&self) -> bool {
        self.error_order.is_some()
    }
}

/// The user's right-hand side with its parameters bound, counting the work
/// a solve does with it.
pub struct Rhs<'a, F, T> {
    f: &'a F,
    p: &'a [T],
    evals: usize,
    /// Jacobians evaluated.
    pub jacobians: usize,
    /// LU factorisations.
    pub factorizations: usize,
    /// Linear solves with a factorisation.
    pub solves: usize,
}

impl<'a, F: OdeFunction, T: Scalar> Rhs<'a, F, T> {
    /// Binds `f` to the parameters `p`.
    pub fn new(f: &'a F, p: &'a [T]) -> Self {
        Self {
            f,
            p,
            evals: 0,
            jacobians: 0,
            factorizations: 0,
            solves: 0,
        }
    }

    /// The function.
    pub fn function(&self) -> &'a F {
        self.f
    }

    /// The parameters.
    pub fn params(&self) -> &'a [T] {
        self.p
    }
    /// Writes `f(u, p, t)` into `du`.
    #[inline(always)]
    pub fn eval(&mut self, du: &mut [T], u: &[T], t: T) {
        self.evals += 1;
        self.f.rhs(du, u, self.p, t);
    }
    /// [`eval`](Self::eval) that also records the evaluation into `tape`
    /// ([`OdeFunction::rhs_taped`]) when `tape` is not empty and `T` is `f64`.
    #[inline(always)]
    pub fn eval_taped(&mut self, du: &mut [T], u: &[T], t: T, tape: &mut [f64]) {
        if !tape.is_empty()
            && let (Some(u), Some(p)) = (T::as_f64_slice(u), T::as_f64_slice(self.p))
            && let Some(du) = T::as_f64_slice_mut(du)
        {
            self.evals += 1;
            self.f.rhs_taped(du, u, p, t.real(), tape);
            return;
        }
        self.eval(du, u, t);
    }

    /// Evaluations so far.
    pub fn evals(&self) -> usize {
        self.evals
    }

    /// Counts `k` evaluations made outside [`eval`](Self::eval) (finite differences).
    pub fn add_evals(&mut self, k: usize) {
        self.evals += k;
    }

    /// Writes the stiff part `f_stiff(u, p, t)` of a split function into `du`.
    #[inline(always)]
    pub fn eval_stiff(&mut self, du: &mut [T], u: &[T], t: T) {
        self.evals += 1;
        self.f.rhs_stiff(du, u, self.p, t);
    }

    /// Writes the nonstiff part `f_nonstiff(u, p, t)` of a split function into `du`.
    #[inline(always)]
    pub fn eval_nonstiff(&mut self, du: &mut [T], u: &[T], t: T) {
        self.evals += 1;
        self.f.rhs_nonstiff(du, u, self.p, t);
    }
}

/// The tolerances an error estimate is measured against.
#[derive(Clone, Copy, Debug)]
pub struct ErrorScale<'a> {
    /// Relative tolerance.
    pub rtol: &'a Tolerance,
    /// Absolute tolerance.
    pub atol: &'a Tolerance,
}

impl ErrorScale<'_> {
    /// `atol_i + rtol_i * max(|u_i|, |u_new_i|)`, the weight of component `i`.
    #[inline(always)]
    pub fn weight(&self, i: usize, u: f64, u_new: f64) -> f64 {
        self.atol.at(i) + self.rtol.at(i) * u.abs().max(u_new.abs())
    }

    /// `Σ_i (err_i / weight_i)²`: the squared scaled error.
    #[inline]
    pub fn sum_sq<T: Scalar>(&self, err: &[f64], u: &[T], u_new: &[T]) -> f64 {
        let mut sum = 0.0;
        for (i, ((e, a), b)) in err.iter().zip(u).zip(u_new).enumerate() {
            let r = e / self.weight(i, a.real(), b.real());
            sum += r * r;
        }
        sum
    }
}

/// What a method may need to know about the problem when it sets up:
/// implicit methods read the mass matrix, the Jacobian's structure and how
/// to compute it.
pub struct Setup<'a, F, T> {
    /// The right-hand side.
    pub f: &'a F,
    /// The initial state.
    pub u0: &'a [T],
    /// The parameters.
    pub p: &'a [T],
    /// The initial time.
    pub t0: T,
    /// The mass matrix.
    pub mass: &'a MassMatrix,
    /// Where the Jacobian's structure comes from.
    pub sparsity: &'a JacobianSparsity,
    /// The solve's options (tolerances, Jacobian method).
    pub opts: &'a SolveOptions,
}

/// Evaluates a stored step of dense output: `(theta, dt, data, out)`, where
/// `data` is what [`OdeMethod::write_dense`] appended for that step.
pub type DenseFn<T> = fn(T, T, &[T], &mut [T]);

/// A one-step integration method, driven by the shared integrator loop.
///
/// The loop calls [`start`](Self::start) once, then repeatedly
/// [`step`](Self::step); after each accepted step it calls
/// [`accept`](Self::accept) and may then ask for interpolated values inside
/// that step. Methods never allocate after [`new_cache`](Self::new_cache).
pub trait OdeMethod {
    /// Working memory for one solve, its vectors stored as `D` says.
    type Cache<T: Scalar, D: Dim>;

    /// Name and orders.
    fn info(&self) -> MethodInfo;

    /// Allocates the working memory (the only allocation a method makes).
    fn new_cache<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        dim: D,
        setup: &Setup<'_, F, T>,
    ) -> Self::Cache<T, D>;

    /// Prepares to step from `(t, u)`; evaluates `f(t, u)`.
    fn start<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        cache: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        u: &[T],
    );

    /// `f` at the current point (valid after `start` and after `accept`).
    fn derivative<'c, T: Scalar, D: Dim>(&self, cache: &'c Self::Cache<T, D>) -> &'c [T];

    /// Attempts a step of size `dt` from `(t, u)`, writing the result to
    /// `u_new`. With `scale`, returns the *square* of the scaled error
    /// estimate (accept when ≤ 1; squared so no square root sits on the path
    /// to the next step size); without, returns 0 and skips the estimate.
    #[allow(clippy::too_many_arguments)]
    fn step<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        cache: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        dt: T,
        u: &[T],
        u_new: &mut [T],
        scale: Option<&ErrorScale>,
    ) -> f64;

    /// Records that the last step was accepted: the new point is `(t_new, u_new)`.
    fn accept<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        cache: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t_new: T,
        u_new: &[T],
    );

    /// The size for the next step (after an accepted or a rejected one), for
    /// methods that choose it themselves (variable-order BDF); `None` (the
    /// default) leaves it to the loop's PI controller.
    fn propose_step<T: Scalar, D: Dim>(
        &self,
        cache: &Self::Cache<T, D>,
        dt: f64,
        accepted: bool,
    ) -> Option<f64> {
        let _ = (cache, dt, accepted);
        None
    }

    /// The interpolant of the accepted step from `(t, u)` of size `dt` at
    /// `t + theta * dt`, written to `out`.
    #[allow(clippy::too_many_arguments)]
    fn interpolate<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        cache: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        dt: T,
        u: &[T],
        theta: T,
        out: &mut [T],
    );

    /// How many numbers one step of dense output stores (besides its start
    /// time, size and state).
    fn dense_width(&self, n: usize) -> usize;

    /// Appends the accepted step's dense-output data to `out`.
    #[allow(clippy::too_many_arguments)]
    fn write_dense<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        cache: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        dt: T,
        u: &[T],
        out: &mut Vec<T>,
    );

    /// Called once per accepted step after everything about it is saved,
    /// at the new point (automatic switching changes method here).
    fn finish_step<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        cache: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        u: &[T],
    ) {
        let _ = (cache, rhs, t, u);
    }

    /// An estimate of the magnitude of the dominant eigenvalue of `∂f/∂u`
    /// near the last accepted step, if the method has one (explicit methods
    /// from their stages, implicit ones from their Jacobian); automatic
    /// stiffness switching compares `dt` times it with a stability size.
    fn stiffness_estimate<T: Scalar, D: Dim>(&self, cache: &Self::Cache<T, D>) -> Option<f64> {
        let _ = cache;
        None
    }

    /// Asks the cache to keep [`stiffness_estimate`](Self::stiffness_estimate)
    /// up to date (a cost most solves need not pay; stiffness switching
    /// turns it on).
    fn track_stiffness<T: Scalar, D: Dim>(&self, cache: &mut Self::Cache<T, D>) {
        let _ = cache;
    }

    /// Adds what the method counted itself (steps per method of an
    /// automatic-switching solve) to the solution's statistics.
    fn report<T: Scalar, D: Dim>(&self, cache: &Self::Cache<T, D>, stats: &mut Stats) {
        let _ = (cache, stats);
    }

    /// The function that evaluates stored dense output.
    fn dense_fn<T: Scalar>() -> DenseFn<T>;

    /// True when a step depends only on its start point (not on a history
    /// of earlier steps, as BDF's does), so the discrete adjoint can
    /// differentiate each step on its own.
    fn is_one_step(&self) -> bool {
        true
    }

    /// The Butcher tableau of an explicit Runge–Kutta method (the discrete
    /// adjoint differentiates through it); `None` for other methods.
    fn explicit_tableau(&self) -> Option<&'static ExplicitTableau> {
        None
    }

    /// Appends the derivatives at the stages of the step just accepted
    /// (`k_1 … k_s` of an explicit Runge–Kutta method, `n` numbers each) and
    /// returns true, so the discrete adjoint need not evaluate them again;
    /// with [`keep_tapes`](Self::keep_tapes) on, their records go to `tapes`.
    /// Methods without such stages return false.
    fn write_stages<T: Scalar, D: Dim>(
        &self,
        cache: &Self::Cache<T, D>,
        out: &mut Vec<T>,
        tapes: &mut Vec<f64>,
    ) -> bool {
        let _ = (cache, out, tapes);
        false
    }

    /// Asks the method to keep, for each stage, the record
    /// [`OdeFunction::rhs_taped`] makes (`len` numbers), handed out by
    /// [`write_stages`](Self::write_stages). Methods without such stages ignore it.
    fn keep_tapes<T: Scalar, D: Dim>(&self, cache: &mut Self::Cache<T, D>, len: usize) {
        let _ = (cache, len);
    }

    /// For a method whose steps read a history of earlier ones (BDF's
    /// backward differences): appends, after an accepted step, everything
    /// the next step reads besides the parameters, and returns true. With
    /// [`read_history`](Self::read_history) this lets the discrete adjoint
    /// run any one step again on its own. One-step methods return false.
    fn write_history<T: Scalar, D: Dim>(
        &self,
        cache: &Self::Cache<T, D>,
        out: &mut Vec<T>,
    ) -> bool {
        let _ = (cache, out);
        false
    }

    /// Puts back a history written by [`write_history`](Self::write_history)
    /// (after [`start`](Self::start)), so the next step continues from it.
    fn read_history<T: Scalar, D: Dim>(&self, cache: &mut Self::Cache<T, D>, history: &[T]) {
        let _ = (cache, history);
    }
}
