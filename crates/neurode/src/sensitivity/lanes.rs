//! Eight-lane vector duals for the reverse methods that differentiate a
//! step by running it again: seeding a direction, and pulling an adjoint
//! back through the lanes.

use crate::multi_dual::MultiDual;

/// Derivative directions per pass.
pub(crate) const LANES: usize = 8;
/// A number with [`LANES`] derivative directions.
pub(crate) type Lanes = MultiDual<LANES>;

/// Seeds `x` in lane `d - first` when direction `d` falls in the pass
/// starting at direction `first`.
#[inline(always)]
pub(crate) fn seed(x: f64, d: usize, first: usize) -> Lanes {
    match d.checked_sub(first) {
        Some(lane) => Lanes::seeded(x, lane),
        None => Lanes::constant(x),
    }
}

/// Adds `Σ_i w_i ∂y_i/∂(lane k)` to `acc[k]` for each lane.
#[inline(always)]
pub(crate) fn pull(w: &[f64], y: &[Lanes], acc: &mut [f64; LANES]) {
    for (wi, yi) in w.iter().zip(y) {
        for (a, x) in acc.iter_mut().zip(&yi.eps) {
            *a += wi * x;
        }
    }
}
