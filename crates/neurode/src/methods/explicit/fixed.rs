//! The classic low-order methods, mostly for fixed steps and teaching. Each
//! uses cubic Hermite dense output, built from `f` at both ends of a step.

use super::ErkMethod;
use super::tableau::{DenseOutput, DensePoly, ErrorEstimator, ExplicitTableau, hermite, pad};

/// Forward Euler (order 1). Fixed steps only.
#[derive(Clone, Copy, Debug, Default)]
pub struct Euler;

const EULER_DENSE: [DensePoly; 2] = hermite([1.0, 0.0], 1);

impl ErkMethod for Euler {
    const TABLEAU: ExplicitTableau = ExplicitTableau {
        name: "Euler",
        order: 1,
        c: &[0.0],
        a: &[&[]],
        b: &[1.0],
        fsal: false,
        error: ErrorEstimator::None,
        dense: DenseOutput {
            order: 1,
            extra_c: &[1.0],
            extra_a: &[&[1.0]],
            b_theta: &EULER_DENSE,
            degree: 3,
        },
        stability_size: 0.0,
    };
}

/// The explicit midpoint rule (order 2), with an embedded Euler estimate so it
/// can also adapt its steps.
#[derive(Clone, Copy, Debug, Default)]
pub struct Midpoint;

const MIDPOINT_DENSE: [DensePoly; 3] = hermite([0.0, 1.0, 0.0], 2);

impl ErkMethod for Midpoint {
    const TABLEAU: ExplicitTableau = ExplicitTableau {
        name: "Midpoint",
        order: 2,
        c: &[0.0, 0.5],
        a: &[&[], &[0.5]],
        b: &[0.0, 1.0],
        fsal: false,
        error: ErrorEstimator::Embedded {
            order: 1,
            btilde: &[-1.0, 1.0],
        },
        dense: DenseOutput {
            order: 2,
            extra_c: &[1.0],
            extra_a: &[&[0.0, 1.0]],
            b_theta: &MIDPOINT_DENSE,
            degree: 3,
        },
        stability_size: 0.0,
    };
}

/// Heun's method, the explicit trapezoid (order 2), with an embedded Euler
/// estimate so it can also adapt its steps.
#[derive(Clone, Copy, Debug, Default)]
pub struct Heun;

const HEUN_DENSE: [DensePoly; 3] = hermite([0.5, 0.5, 0.0], 2);

impl ErkMethod for Heun {
    const TABLEAU: ExplicitTableau = ExplicitTableau {
        name: "Heun",
        order: 2,
        c: &[0.0, 1.0],
        a: &[&[], &[1.0]],
        b: &[0.5, 0.5],
        fsal: false,
        error: ErrorEstimator::Embedded {
            order: 1,
            btilde: &[-0.5, 0.5],
        },
        dense: DenseOutput {
            order: 2,
            extra_c: &[1.0],
            extra_a: &[&[0.5, 0.5]],
            b_theta: &HEUN_DENSE,
            degree: 3,
        },
        stability_size: 0.0,
    };
}

/// The classic fourth-order Runge–Kutta method. Fixed steps only.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rk4;

const RK4_B: [f64; 4] = [1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0];
const RK4_DENSE: [DensePoly; 5] = hermite(pad::<5>(&RK4_B), 4);

impl ErkMethod for Rk4 {
    const TABLEAU: ExplicitTableau = ExplicitTableau {
        name: "RK4",
        order: 4,
        c: &[0.0, 0.5, 0.5, 1.0],
        a: &[&[], &[0.5], &[0.0, 0.5], &[0.0, 0.0, 1.0]],
        b: &RK4_B,
        fsal: false,
        error: ErrorEstimator::None,
        dense: DenseOutput {
            order: 3,
            extra_c: &[1.0],
            extra_a: &[&RK4_B],
            b_theta: &RK4_DENSE,
            degree: 3,
        },
        stability_size: 0.0,
    };
}
