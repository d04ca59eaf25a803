//! Gradients of a loss of a solve with respect to the parameters (and the
//! initial state), by the method the user names in one word:
//!
//! - [`ForwardMode`]: dual numbers through the solver (any method, stiff
//!   included); cheapest for a handful of parameters.
//! - [`Discrete`]: backpropagation through the solver's own steps, the exact
//!   gradient of the computed solution, with checkpointing (explicit
//!   Runge–Kutta methods).
//! - [`Adjoint::backsolve`], [`Adjoint::interpolating`],
//!   [`Adjoint::quadrature`]: continuous adjoints solved backwards by any
//!   method of the suite.
//!
//! ```
//! use neurode::prelude::*;
//!
//! ode_system! {
//!     struct LotkaVolterra;
//!     fn rhs<T>(t; x, y; a, b, c, d) -> (dx, dy) {
//!         dx = a * x - b * x * y;
//!         dy = -c * y + d * x * y;
//!     }
//! }
//! let prob = OdeProblem::new(LotkaVolterra, vec![1.0, 1.0], (0.0, 10.0), vec![2.2, 1.0, 2.0, 0.4])?;
//! let opts = SolveOptions::default().tolerances(1e-8, 1e-8).saveat_step(0.1);
//! let loss = SumOfSquares::towards_constant(0, 1.0);
//! let (l1, g1) = prob.loss_and_gradient(Tsit5, &opts, &loss, ForwardMode)?;
//! let (l2, g2) = prob.loss_and_gradient(Tsit5, &opts, &loss, Discrete::default())?;
//! let (_, g3) = prob.loss_and_gradient(Tsit5, &opts, &loss, Adjoint::interpolating())?;
//! assert_eq!(l1, l2);
//! for j in 0..4 {
//!     assert!((g1[j] - g2[j]).abs() < 1e-6 * g1[j].abs().max(1.0));
//!     assert!((g1[j] - g3[j]).abs() < 1e-4 * g1[j].abs().max(1.0));
//! }
//! # Ok::<(), neurode::Error>(())
//! ```

mod adjoint;
mod discrete;
mod forward;
mod hybrid;
pub(crate) mod lanes;
mod loss;
mod step_duals;
mod vjp;

pub use adjoint::{Adjoint, AdjointKind};
pub use discrete::{Checkpointing, Discrete, RECORD_ALL_BYTES};
pub use forward::ForwardMode;
pub use loss::{LinearLoss, Loss, SumOfSquares};
pub use vjp::{VjpWork, vjp};
pub(crate) use vjp::{adjoint_products, fits_one_pass, lane_jacobian};

use num_dual::Dual64;

use crate::error::Error;
use crate::methods::OdeMethod;
use crate::problem::{OdeFunction, OdeProblem, Role};
use crate::solve::{Solution, SolveOptions, Stats};

/// A loss, its gradient, and what computing them cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient {
    /// The loss of the forward solve.
    pub loss: f64,
    /// `dL/dp`, including the paths through `u0(p)` and `tspan(p)`.
    pub dp: Vec<f64>,
    /// `dL/du0`: the sensitivity to the initial state (empty when it was not
    /// asked for).
    pub du0: Vec<f64>,
    /// Work counts.
    pub stats: GradientStats,
}

/// What a gradient cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GradientStats {
    /// The forward solve (all of them, for forward mode).
    pub forward: Stats,
    /// The backward pass: adjoint solves, or the steps replayed and
    /// differentiated by the discrete adjoint.
    pub backward: Stats,
    /// Vector–Jacobian products of `f`.
    pub vjps: usize,
    /// Checkpoints held at the peak (discrete adjoint, checkpointed
    /// interpolating adjoint).
    pub checkpoints: usize,
}

/// A way of computing the gradient of a loss of a solve. Implemented by
/// [`ForwardMode`], [`Discrete`] and [`Adjoint`]; pass one to
/// [`OdeProblem::loss_and_gradient`].
pub trait Sensitivity {
    /// `dL/dp` (and `dL/du0` when `want_u0`) of `loss` of the solve of
    /// `prob` by `method` with `opts`.
    fn gradient<F, M, L>(
        &self,
        prob: &OdeProblem<F>,
        method: &M,
        opts: &SolveOptions,
        loss: &L,
        want_u0: bool,
    ) -> Result<Gradient, Error>
    where
        F: OdeFunction + Clone,
        M: OdeMethod + Clone,
        L: Loss;
}

impl<S: Sensitivity> Sensitivity for &S {
    fn gradient<F, M, L>(
        &self,
        prob: &OdeProblem<F>,
        method: &M,
        opts: &SolveOptions,
        loss: &L,
        want_u0: bool,
    ) -> Result<Gradient, Error>
    where
        F: OdeFunction + Clone,
        M: OdeMethod + Clone,
        L: Loss,
    {
        (**self).gradient(prob, method, opts, loss, want_u0)
    }
}

impl<F: OdeFunction + Clone> OdeProblem<F, f64> {
    /// The loss of the solve and its gradient with respect to `p`, computed
    /// the way `sensitivity` says (one word to switch).
    ///
    /// The gradient includes the paths through `u0(p)` and `tspan(p)` when
    /// the function defines them. Save times inside the span are fixed
    /// numbers; saves at `t0` and `t1` move with the span.
    pub fn loss_and_gradient<M, L, S>(
        &self,
        method: M,
        opts: &SolveOptions,
        loss: &L,
        sensitivity: S,
    ) -> Result<(f64, Vec<f64>), Error>
    where
        M: OdeMethod + Clone,
        L: Loss,
        S: Sensitivity,
    {
        let g = sensitivity.gradient(self, &method, opts, loss, false)?;
        Ok((g.loss, g.dp))
    }

    /// [`loss_and_gradient`](Self::loss_and_gradient) with `dL/du0` and the
    /// work counts as well.
    pub fn gradient<M, L, S>(
        &self,
        method: M,
        opts: &SolveOptions,
        loss: &L,
        sensitivity: S,
    ) -> Result<Gradient, Error>
    where
        M: OdeMethod + Clone,
        L: Loss,
        S: Sensitivity,
    {
        sensitivity.gradient(self, &method, opts, loss, true)
    }
}

/// The forward solve every reverse method starts from, with the loss and
/// its gradient with respect to the saved states.
pub(crate) struct ForwardPass {
    pub sol: Solution<f64>,
    pub loss: f64,
    /// `dL/du` at each saved point, the layout of `sol.u_flat()`.
    pub dl_du: Vec<f64>,
}

/// Solves and evaluates the loss; a solve that stops early is an error.
pub(crate) fn forward_pass<F, M, L>(
    prob: &OdeProblem<F>,
    method: &M,
    opts: &SolveOptions,
    loss: &L,
) -> Result<ForwardPass, Error>
where
    F: OdeFunction,
    M: OdeMethod + Clone,
    L: Loss,
{
    let sol = prob.solve(method.clone(), opts)?;
    check_success(&sol, "forward")?;
    let n = prob.len();
    loss.check(sol.len(), n)?;
    let mut dl_du = vec![0.0; sol.u_flat().len()];
    let loss = loss.value_and_gradient(&sol.t, sol.u_flat(), n, &mut dl_du);
    Ok(ForwardPass { sol, loss, dl_du })
}

/// `Err(SolveFailed)` unless the solve reached the end of its span.
pub(crate) fn check_success<T: crate::Scalar>(
    sol: &Solution<T>,
    stage: &'static str,
) -> Result<(), Error> {
    if sol.is_success() {
        Ok(())
    } else {
        Err(Error::SolveFailed {
            stage,
            method: sol.method,
            retcode: sol.retcode,
            t: sol.span().1.real(),
        })
    }
}

/// How `u0` and `tspan` move with `p`, for functions that define them as
/// functions of the parameters: `∂u0/∂p` (row-major, `n × np`), `∂t0/∂p`
/// and `∂t1/∂p`.
pub(crate) struct ParamMapJacobian {
    du0_dp: Vec<f64>,
    dt0_dp: Vec<f64>,
    dt1_dp: Vec<f64>,
}

impl ParamMapJacobian {
    /// One dual pass per parameter; `None` when nothing depends on `p`.
    pub(crate) fn of<F: OdeFunction + Clone>(prob: &OdeProblem<F>) -> Option<Self> {
        if !prob.has_param_maps() {
            return None;
        }
        let (n, np) = (prob.len(), prob.p().len());
        let mut jac = Self {
            du0_dp: vec![0.0; n * np],
            dt0_dp: vec![0.0; np],
            dt1_dp: vec![0.0; np],
        };
        for j in 0..np {
            let seeded = prob.map_scalar(|role, i, x| match role {
                Role::P if i == j => Dual64::new(x, 1.0),
                _ => Dual64::from_re(x),
            });
            for (i, u) in seeded.u0().iter().enumerate() {
                jac.du0_dp[i * np + j] = u.eps;
            }
            jac.dt0_dp[j] = seeded.tspan().0.eps;
            jac.dt1_dp[j] = seeded.tspan().1.eps;
        }
        Some(jac)
    }

    /// Adds the paths through `u0(p)`, `t0(p)` and `t1(p)` to `dp`, given
    /// `dL/du0`, `dL/dt0` and `dL/dt1`.
    pub(crate) fn add_to(&self, dp: &mut [f64], du0: &[f64], dt0: f64, dt1: f64) {
        let np = dp.len();
        for (j, g) in dp.iter_mut().enumerate() {
            let through_u0: f64 = du0
                .iter()
                .enumerate()
                .map(|(i, a)| a * self.du0_dp[i * np + j])
                .sum();
            *g += through_u0 + dt0 * self.dt0_dp[j] + dt1 * self.dt1_dp[j];
        }
    }
}
