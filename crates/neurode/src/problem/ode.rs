//! Ordinary differential equations `u' = f(u, p, t)`.

use super::mass::{JacobianSparsity, MassMatrix};
use crate::error::{Error, check_finite, check_len};
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
}

impl<F: OdeFunction + ?Sized> OdeFunction for &F {
    #[inline(always)]
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        (**self).rhs(du, u, p, t)
    }
    fn num_states(&self) -> Option<usize> {
        (**self).num_states()
    }
    fn num_params(&self) -> Option<usize> {
        (**self).num_params()
    }
    fn state_names(&self) -> &[&str] {
        (**self).state_names()
    }
    fn jacobian<T: Scalar>(&self, jac: &mut DenseMatrix<T>, u: &[T], p: &[T], t: T) -> bool {
        (**self).jacobian(jac, u, p, t)
    }
    fn is_split(&self) -> bool {
        (**self).is_split()
    }
    fn rhs_stiff<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        (**self).rhs_stiff(du, u, p, t)
    }
    fn rhs_nonstiff<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        (**self).rhs_nonstiff(du, u, p, t)
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
        prob.validate()?;
        Ok(prob)
    }

    /// Checks the problem's inputs (also run at the start of every solve).
    pub fn validate(&self) -> Result<(), Error> {
        if self.u0.is_empty() {
            return Err(Error::EmptyState);
        }
        if let Some(n) = self.f.num_states() {
            check_len("u0", &self.u0, n)?;
        }
        if let Some(np) = self.f.num_params() {
            check_len("p", &self.p, np)?;
        }
        check_finite("u0", &self.u0)?;
        check_finite("p", &self.p)?;
        check_finite("tspan", &[self.tspan.0, self.tspan.1])?;
        if self.tspan.0.real() == self.tspan.1.real() {
            return Err(Error::EmptySpan(self.tspan.0.real()));
        }
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
    /// The same problem with other parameters.
    pub fn with_p(mut self, p: impl Into<Vec<T>>) -> Result<Self, Error> {
        self.p = p.into();
        self.validate()?;
        Ok(self)
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
    /// (for example into dual numbers with chosen derivative seeds).
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
