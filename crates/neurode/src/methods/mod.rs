//! Integration methods. A method supplies a step, its error estimate and its
//! interpolant; the integrator loop ([`crate::solve`]) owns everything else.

pub mod explicit;

use crate::dim::Dim;
use crate::problem::OdeFunction;
use crate::scalar::Scalar;
use crate::solve::Tolerance;

pub use explicit::{Bs3, Dop853, Dp5, Euler, ExplicitTableau, Heun, Midpoint, Rk4, Tsit5, Vern7};

/// What the loop needs to know about a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

impl MethodInfo {
    /// True when the method estimates its error and so can adapt its steps.
    pub fn is_adaptive(&self) -> bool {
        self.error_order.is_some()
    }
}

/// Counts evaluations of the user's right-hand side with its parameters bound.
pub struct Rhs<'a, F, T> {
    f: &'a F,
    p: &'a [T],
    evals: usize,
}

impl<'a, F: OdeFunction, T: Scalar> Rhs<'a, F, T> {
    /// Binds `f` to the parameters `p`.
    pub fn new(f: &'a F, p: &'a [T]) -> Self {
        Self { f, p, evals: 0 }
    }
    /// Writes `f(u, p, t)` into `du`.
    #[inline(always)]
    pub fn eval(&mut self, du: &mut [T], u: &[T], t: T) {
        self.evals += 1;
        self.f.rhs(du, u, self.p, t);
    }
    /// Evaluations so far.
    pub fn evals(&self) -> usize {
        self.evals
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
    fn new_cache<T: Scalar, D: Dim>(&self, dim: D) -> Self::Cache<T, D>;

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

    /// The function that evaluates stored dense output.
    fn dense_fn<T: Scalar>(&self) -> DenseFn<T>;
}
