//! Shared machinery of implicit methods: the iteration matrix `W = M - γhJ`
//! and Newton's method for implicit stages.

pub mod newton;
pub mod woperator;

pub use newton::{Newton, NewtonOutcome, NewtonSettings};
pub use woperator::{Part, WOperator};

use crate::solve::Tolerance;

/// Error weights `atol_i + rtol_i |u_i|` for Newton's norm.
pub(crate) fn weights_into(
    out: &mut [f64],
    rtol: &Tolerance,
    atol: &Tolerance,
    u: impl Iterator<Item = f64>,
) {
    for (i, (w, x)) in out.iter_mut().zip(u).enumerate() {
        *w = atol.at(i) + rtol.at(i) * x.abs();
    }
}
