//! # neurode
//!
//! Differential-equation solvers whose every solve is differentiable, and
//! (in later releases) neural networks made to live inside a right-hand side.
//!
//! A right-hand side is written once, generic over [`Scalar`], so the same
//! code runs in `f64`, `f32` and on dual numbers; derivatives of a whole solve
//! come from running the solver on duals.
//!
//! ```
//! use neurode::prelude::*;
//!
//! ode_system! {
//!     /// The Lotka–Volterra predator–prey model.
//!     pub struct LotkaVolterra;
//!     fn rhs<T>(t; x, y; a, b, c, d) -> (dx, dy) {
//!         dx = a * x - b * x * y;
//!         dy = -c * y + d * x * y;
//!     }
//! }
//!
//! let prob = OdeProblem::new(LotkaVolterra, vec![1.0, 1.0], (0.0, 10.0), vec![1.5, 1.0, 3.0, 1.0])?;
//! let sol = prob.solve(Tsit5, &SolveOptions::default().saveat_step(0.1).tolerances(1e-6, 1e-6))?;
//! assert!(sol.retcode.is_success());
//! assert_eq!(sol.len(), 101);
//! # Ok::<(), neurode::Error>(())
//! ```
//!
//! Pieces: [`problem`] (what to solve), [`methods`] (how to step),
//! [`solve`] (the shared integrator loop, options, solutions), [`scalar`]
//! (the number type), and, with the `plot` feature, `plot` (PNG figures).

pub mod dde;
pub mod dim;
pub mod error;
mod fastmath;
pub mod jumps;
pub mod linalg;
pub mod methods;
pub mod multi_dual;
pub mod nn;
pub mod optim;
pub mod params_io;
pub mod path_lanes;
#[cfg(feature = "plot")]
pub mod plot;
pub mod prelude;
pub mod problem;
pub mod scalar;
pub mod sde;
pub mod sensitivity;
pub mod solve;
pub mod symplectic;
pub mod train;

pub use error::Error;
pub use methods::{
    AutoSwitch, AutoTsit5, Bdf, Bs3, Dop853, Dp5, Euler, Heun, ImplicitEuler, KenCarp4, Midpoint,
    OdeMethod, Rk4, Rodas4, Rodas5P, Rosenbrock23, Trapezoid, Trbdf2, Tsit5, Vern7,
};
/// The dual numbers neurode differentiates with (re-exported so problems can
/// be built on them without a separate dependency).
pub use num_dual;
pub use problem::{
    Crossing, EventAction, Events, Hybrid, JacobianSparsity, MassMatrix, OdeFunction, OdeProblem,
};
pub use scalar::Scalar;
pub use sensitivity::{Adjoint, Discrete, ForwardMode, Gradient, Loss, SumOfSquares};
pub use solve::{
    Domain, EventKind, EventRecord, ReturnCode, SaveAt, Solution, SolveOptions, Stats, Tolerance,
};
