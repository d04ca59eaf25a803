//! The SDE problem: drift, diffusion, the shape of the noise, and inputs
//! checked on construction.

use crate::error::{Error, check_initial_value};
use crate::scalar::Scalar;

/// How the Wiener processes enter the diffusion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Noise {
    /// One Wiener process per state: `du_i = f_i dt + g_i dW_i`
    /// (`diffusion` writes `n` numbers).
    Diagonal,
    /// One Wiener process for all states: `du_i = f_i dt + g_i dW`
    /// (`diffusion` writes `n` numbers).
    Scalar,
    /// `m` Wiener processes mixed by an `n × m` matrix (row-major):
    /// `du_i = f_i dt + Σ_j g_ij dW_j`.
    General(usize),
}

impl Noise {
    /// The number of Wiener processes for `n` states.
    pub fn processes(self, n: usize) -> usize {
        match self {
            Noise::Diagonal => n,
            Noise::Scalar => 1,
            Noise::General(m) => m,
        }
    }

    /// The number of entries `diffusion` writes for `n` states.
    pub fn diffusion_len(self, n: usize) -> usize {
        match self {
            Noise::Diagonal | Noise::Scalar => n,
            Noise::General(m) => n * m,
        }
    }
}

/// Drift and diffusion of `du = f(u, p, t) dt + g(u, p, t) dW`, generic over
/// the scalar type.
///
/// ```
/// use neurode::prelude::*;
/// use neurode::sde::{EulerMaruyama, Noise, SdeFunction, SdeProblem};
///
/// /// Geometric Brownian motion `du = μ u dt + σ u dW`.
/// #[derive(Clone)]
/// struct Gbm;
/// impl SdeFunction for Gbm {
///     fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
///         du[0] = p[0] * u[0];
///     }
///     fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], p: &[T], _t: T) {
///         g[0] = p[1] * u[0];
///     }
/// }
/// let prob = SdeProblem::new(Gbm, vec![1.0], (0.0, 1.0), vec![0.5, 0.2]).unwrap();
/// let opts = SolveOptions::default().fixed_dt(1e-3).saveat_step(0.5);
/// let a = prob.solve(EulerMaruyama, &opts, 7).unwrap();
/// let b = prob.solve(EulerMaruyama, &opts, 7).unwrap();
/// assert_eq!(a.u_end(), b.u_end()); // a seed gives the same path, bit for bit
/// assert_eq!(a.t, vec![0.0, 0.5, 1.0]);
/// ```
pub trait SdeFunction {
    /// `f(u, p, t)` into `du`.
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T);
    /// `g(u, p, t)` into `g`: `n` numbers for diagonal or scalar noise,
    /// `n × m` (row-major) for general noise.
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], p: &[T], t: T);
    /// The shape of the noise (diagonal unless overridden).
    fn noise(&self) -> Noise {
        Noise::Diagonal
    }
    /// `vᵀ ∂f/∂u` into `vu` and `vᵀ ∂f/∂p` into `vp`, returning true; or
    /// false (the default) to have them by forward-mode AD. Used by the
    /// discrete adjoint.
    fn drift_vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        t: T,
        vu: &mut [T],
        vp: &mut [T],
    ) -> bool {
        let _ = (v, u, p, t, vu, vp);
        false
    }
    /// The same for the diffusion, `v` weighing each entry of `g` (`n` of
    /// them for diagonal or scalar noise, `n·m` for general).
    fn diffusion_vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        t: T,
        vu: &mut [T],
        vp: &mut [T],
    ) -> bool {
        let _ = (v, u, p, t, vu, vp);
        false
    }
    /// The number of states, when fixed (checked on construction).
    fn num_states(&self) -> Option<usize> {
        None
    }
    /// The number of parameters, when fixed (checked on construction).
    fn num_params(&self) -> Option<usize> {
        None
    }
}

/// A borrowed drift and diffusion are the same drift and diffusion (an
/// ensemble solves its paths in another number type without copying them).
impl<F: SdeFunction> SdeFunction for &F {
    #[inline(always)]
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        (**self).drift(du, u, p, t)
    }
    #[inline(always)]
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], p: &[T], t: T) {
        (**self).diffusion(g, u, p, t)
    }
    fn noise(&self) -> Noise {
        (**self).noise()
    }
    fn drift_vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        t: T,
        vu: &mut [T],
        vp: &mut [T],
    ) -> bool {
        (**self).drift_vjp(v, u, p, t, vu, vp)
    }
    fn diffusion_vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        t: T,
        vu: &mut [T],
        vp: &mut [T],
    ) -> bool {
        (**self).diffusion_vjp(v, u, p, t, vu, vp)
    }
    fn num_states(&self) -> Option<usize> {
        (**self).num_states()
    }
    fn num_params(&self) -> Option<usize> {
        (**self).num_params()
    }
}

/// An SDE initial-value problem.
#[derive(Clone, Debug)]
pub struct SdeProblem<F, T = f64> {
    pub(crate) f: F,
    pub(crate) u0: Vec<T>,
    pub(crate) tspan: (T, T),
    pub(crate) p: Vec<T>,
}

impl<F: SdeFunction, T: Scalar> SdeProblem<F, T> {
    /// Builds a problem, checking lengths and that every input is finite and
    /// the span non-empty.
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
        };
        prob.validate()?;
        Ok(prob)
    }

    /// Checks the inputs (also run at the start of every solve).
    pub fn validate(&self) -> Result<(), Error> {
        if let Noise::General(0) = self.f.noise() {
            return Err(Error::Unsupported(
                "general noise with no Wiener processes".into(),
            ));
        }
        let sizes = (self.f.num_states(), self.f.num_params());
        check_initial_value(&self.u0, &self.p, self.tspan, sizes)
    }

    /// The drift and diffusion.
    pub fn f(&self) -> &F {
        &self.f
    }
    /// The initial state.
    pub fn u0(&self) -> &[T] {
        &self.u0
    }
    /// The time span.
    pub fn tspan(&self) -> (T, T) {
        self.tspan
    }
    /// The parameters.
    pub fn p(&self) -> &[T] {
        &self.p
    }
    /// The number of states.
    pub fn len(&self) -> usize {
        self.u0.len()
    }
    /// Always false: a problem has at least one state.
    pub fn is_empty(&self) -> bool {
        self.u0.is_empty()
    }
    /// The same problem with other parameters.
    pub fn with_p(mut self, p: impl Into<Vec<T>>) -> Result<Self, Error> {
        self.p = p.into();
        self.validate()?;
        Ok(self)
    }
}
