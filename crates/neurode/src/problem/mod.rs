//! Problem definitions.

mod macros;
mod ode;

pub use ode::{OdeFunction, OdeProblem, Role};
