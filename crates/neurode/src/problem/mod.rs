//! Problem definitions.

mod macros;
mod mass;
mod ode;

pub use mass::{JacobianSparsity, MassMatrix};
pub use ode::{OdeFunction, OdeProblem, Role};
