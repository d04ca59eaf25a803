//! Neural networks made to live inside a right-hand side: layers on flat
//! parameter slices with analytic forward and backward passes, generic over
//! the scalar, and ODE solves as layers.

mod activation;
mod chain;
mod dense;
mod init;
mod layer;
mod neural_dde;
mod neural_ode;
mod neural_rhs;
mod neural_sde;
pub(crate) mod scratch;
mod stack;

pub use activation::Activation;
pub use chain::{Chain, Link};
pub use dense::{Dense, Map};
pub use init::{Init, NnRng};
pub use layer::Layer;
pub use neural_dde::NeuralDde;
pub use neural_ode::{NeuralOde, OdeLayer};
pub use neural_rhs::NeuralRhs;
pub use neural_sde::{NeuralSde, NeuralSdeFunction};
pub use stack::Stack;

#[cfg(test)]
mod tests;
