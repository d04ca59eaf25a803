//! Diagonally implicit Runge–Kutta tableaus (ESDIRK: an explicit first
//! stage, then stages sharing one diagonal `γ`), optionally paired with an
//! explicit tableau for IMEX use.

use crate::methods::explicit::DensePoly;

/// An ESDIRK method as data.
#[derive(Clone, Copy, Debug)]
pub struct SdirkTableau {
    /// Display name.
    pub name: &'static str,
    /// Order of the propagated solution.
    pub order: u32,
    /// Order of the embedded solution.
    pub error_order: u32,
    /// Diagonal entry shared by the implicit stages.
    pub gamma: f64,
    /// Abscissae (`c[0] = 0`: the first stage is `f(t, u)`).
    pub c: &'static [f64],
    /// Row `i` holds `a_{i,0..i}` of the implicit tableau (the diagonal is `gamma`).
    pub a: &'static [&'static [f64]],
    /// Row `i` holds `a_{i,0..i}` of the explicit tableau for IMEX use (empty: none).
    pub a_explicit: &'static [&'static [f64]],
    /// Weights.
    pub b: &'static [f64],
    /// `bhat - b` (either sign).
    pub btilde: &'static [f64],
    /// True when the last stage is the new solution (`a_s = b`).
    pub stiffly_accurate: bool,
    /// Filter the error estimate through `W⁻¹` (needed when the embedded
    /// method is not A-stable, else it overestimates stiff components; with
    /// a stable embedding the unfiltered estimate is the more reliable one).
    pub filter_error: bool,
    /// Dense output `u(t + θh) = u + Σ b_i(θ) z_i` (`z_i = h f_i`).
    pub b_theta: &'static [DensePoly],
    /// Order of the dense output.
    pub dense_order: u32,
}

impl SdirkTableau {
    /// Number of stages.
    pub const fn stages(&self) -> usize {
        self.c.len()
    }
}
