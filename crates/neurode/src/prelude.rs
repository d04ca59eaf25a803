//! Everything a typical program needs: `use neurode::prelude::*;`.

pub use crate::error::Error;
pub use crate::methods::explicit::ErkMethod;
pub use crate::methods::{Bs3, Dop853, Dp5, Euler, Heun, Midpoint, OdeMethod, Rk4, Tsit5, Vern7};
pub use crate::ode_system;
pub use crate::problem::{OdeFunction, OdeProblem};
pub use crate::scalar::Scalar;
pub use crate::solve::{ReturnCode, SaveAt, Solution, SolveOptions, Tolerance};
