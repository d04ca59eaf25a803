//! Dormand–Prince 5(4), the method of `ode45` and `dopri5`.

use super::ErkMethod;
use super::tableau::{DenseOutput, DensePoly, ErrorEstimator, ExplicitTableau, nested_to_poly};

/// Dormand–Prince 5(4), FSAL, with Hairer's 4th-order dense output.
///
/// Coefficients: J. R. Dormand, P. J. Prince, "A family of embedded
/// Runge–Kutta formulae", J. Comp. Appl. Math. 6 (1980) 19–26; dense output
/// `d_i` from Hairer's DOPRI5 (Hairer, Nørsett, Wanner, *Solving ODEs I*, II.6).
#[derive(Clone, Copy, Debug, Default)]
pub struct Dp5;

const B: [f64; 7] = [
    35.0 / 384.0,
    0.0,
    500.0 / 1113.0,
    125.0 / 192.0,
    -2187.0 / 6784.0,
    11.0 / 84.0,
    0.0,
];
const BHAT: [f64; 7] = [
    5179.0 / 57600.0,
    0.0,
    7571.0 / 16695.0,
    393.0 / 640.0,
    -92097.0 / 339200.0,
    187.0 / 2100.0,
    1.0 / 40.0,
];
const D: [f64; 7] = [
    -12715105075.0 / 11282082432.0,
    0.0,
    87487479700.0 / 32700410799.0,
    -10690763975.0 / 1880347072.0,
    701980252875.0 / 199316789632.0,
    -1453857185.0 / 822651844.0,
    69997945.0 / 29380423.0,
];

const fn btilde() -> [f64; 7] {
    let mut out = [0.0; 7];
    let mut i = 0;
    while i < 7 {
        out[i] = B[i] - BHAT[i];
        i += 1;
    }
    out
}
const BTILDE: [f64; 7] = btilde();

/// Hairer's `u + θ(Δ + (1-θ)(dt k1 - Δ + θ(2Δ - dt(k1 + k7) + (1-θ) dt Σ d_i k_i)))`
/// with `Δ = dt Σ b_i k_i`.
const fn dense() -> [DensePoly; 7] {
    let mut m = [[0.0; 7]; 4];
    let mut i = 0;
    while i < 7 {
        m[0][i] = B[i];
        m[1][i] = -B[i];
        m[2][i] = 2.0 * B[i];
        m[3][i] = D[i];
        i += 1;
    }
    m[1][0] += 1.0;
    m[2][0] -= 1.0;
    m[2][6] -= 1.0;
    nested_to_poly(m)
}
const DENSE: [DensePoly; 7] = dense();

impl ErkMethod for Dp5 {
    const TABLEAU: ExplicitTableau = ExplicitTableau {
        name: "DP5",
        order: 5,
        c: &[0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0],
        a: &[
            &[],
            &[1.0 / 5.0],
            &[3.0 / 40.0, 9.0 / 40.0],
            &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
            &[
                19372.0 / 6561.0,
                -25360.0 / 2187.0,
                64448.0 / 6561.0,
                -212.0 / 729.0,
            ],
            &[
                9017.0 / 3168.0,
                -355.0 / 33.0,
                46732.0 / 5247.0,
                49.0 / 176.0,
                -5103.0 / 18656.0,
            ],
            &[
                35.0 / 384.0,
                0.0,
                500.0 / 1113.0,
                125.0 / 192.0,
                -2187.0 / 6784.0,
                11.0 / 84.0,
            ],
        ],
        b: &B,
        fsal: true,
        error: ErrorEstimator::Embedded {
            order: 4,
            btilde: &BTILDE,
        },
        dense: DenseOutput {
            order: 4,
            extra_c: &[],
            extra_a: &[],
            b_theta: &DENSE,
            degree: 4,
        },
        stability_size: 3.3065,
    };
}
