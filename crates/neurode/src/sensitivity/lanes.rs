//! Eight-lane vector duals for the reverse methods that differentiate a
//! step by running it again: seeding a direction, and pulling an adjoint
//! back through the lanes.

use num_dual::DualSVec64;

/// Derivative directions per pass.
pub(crate) const LANES: usize = 8;
/// A number with [`LANES`] derivative directions.
pub(crate) type Lanes = DualSVec64<LANES>;

/// Seeds `x` in lane `d - first` when direction `d` falls in the pass
/// starting at direction `first`.
pub(crate) fn seed(x: f64, d: usize, first: usize) -> Lanes {
    if (first..first + LANES).contains(&d) {
        Lanes::from_re(x).derivative(d - first)
    } else {
        Lanes::from_re(x)
    }
}

/// Adds `Σ_i w_i ∂y_i/∂(lane k)` to `acc[k]` for each lane.
pub(crate) fn pull(w: &[f64], y: &[Lanes], acc: &mut [f64; LANES]) {
    for (wi, yi) in w.iter().zip(y) {
        if let Some(e) = &yi.eps.0 {
            for (a, x) in acc.iter_mut().zip(e.iter()) {
                *a += wi * x;
            }
        }
    }
}
