//! Problem definitions.

mod events;
mod macros;
mod mass;
mod ode;

pub(crate) use events::reject_callbacks;
pub use events::{Crossing, EventAction, Events, Hybrid};
pub use mass::{JacobianSparsity, MassMatrix};
pub use ode::{OdeFunction, OdeProblem, Role};
