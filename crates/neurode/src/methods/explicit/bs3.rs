//! Bogacki–Shampine 3(2): cheap and robust at loose tolerances.

use super::ErkMethod;
use super::tableau::{DenseOutput, DensePoly, ErrorEstimator, ExplicitTableau, hermite};

/// Bogacki–Shampine 3(2) (`ode23`), FSAL, with cubic Hermite dense output.
///
/// Coefficients: P. Bogacki, L. F. Shampine, "A 3(2) pair of Runge–Kutta
/// formulas", Appl. Math. Lett. 2 (1989) 321–325.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bs3;

const B: [f64; 4] = [2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0, 0.0];
/// `b - bhat` with `bhat = [7/24, 1/4, 1/3, 1/8]`.
const BTILDE: [f64; 4] = [
    2.0 / 9.0 - 7.0 / 24.0,
    1.0 / 3.0 - 1.0 / 4.0,
    4.0 / 9.0 - 1.0 / 3.0,
    -1.0 / 8.0,
];
const DENSE: [DensePoly; 4] = hermite(B, 3);

impl ErkMethod for Bs3 {
    const TABLEAU: ExplicitTableau = ExplicitTableau {
        name: "BS3",
        order: 3,
        c: &[0.0, 0.5, 0.75, 1.0],
        a: &[
            &[],
            &[0.5],
            &[0.0, 0.75],
            &[2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0],
        ],
        b: &B,
        fsal: true,
        error: ErrorEstimator::Embedded {
            order: 2,
            btilde: &BTILDE,
        },
        dense: DenseOutput {
            order: 3,
            extra_c: &[],
            extra_a: &[],
            b_theta: &DENSE,
            degree: 3,
        },
        stability_size: 0.0,
    };
}
