//! The ESDIRK methods: tableaus and their sources.

use super::SdirkMethod;
use super::tableau::SdirkTableau;
use crate::methods::explicit::{DensePoly, hermite, pad_rows};

/// Backward Euler (order 1, L-stable), as an ESDIRK whose explicit first
/// stage gives an embedded explicit-Euler error estimate. For tests and
/// very rough solves.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImplicitEuler;

const IE_DENSE: [DensePoly; 2] = hermite([0.0, 1.0], 1);

impl SdirkMethod for ImplicitEuler {
    const TABLEAU: SdirkTableau = SdirkTableau {
        name: "ImplicitEuler",
        order: 1,
        error_order: 1,
        gamma: 1.0,
        c: &[0.0, 1.0],
        a: &[&[], &[0.0]],
        a_explicit: &[],
        b: &[0.0, 1.0],
        // Half the difference to explicit Euler: the local error of backward Euler.
        btilde: &[-0.5, 0.5],
        stiffly_accurate: true,
        filter_error: true,
        b_theta: &IE_DENSE,
        dense_order: 1,
    };
}

/// The trapezoidal rule (Crank–Nicolson; order 2, A-stable but not
/// L-stable), with a backward-Euler error estimate. For tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct Trapezoid;

const TRAP_DENSE: [DensePoly; 2] = hermite([0.5, 0.5], 1);

impl SdirkMethod for Trapezoid {
    const TABLEAU: SdirkTableau = SdirkTableau {
        name: "Trapezoid",
        order: 2,
        error_order: 1,
        gamma: 0.5,
        c: &[0.0, 1.0],
        a: &[&[], &[0.5]],
        a_explicit: &[],
        b: &[0.5, 0.5],
        btilde: &[0.5, -0.5],
        stiffly_accurate: true,
        filter_error: false,
        b_theta: &TRAP_DENSE,
        dense_order: 2,
    };
}

/// TR-BDF2 (Bank et al. 1985; Hosea & Shampine 1996): a trapezoidal stage
/// then a BDF2 stage, order 2, L-stable, with a third-order embedded
/// estimate; cubic Hermite dense output. Good at loose tolerances.
#[derive(Clone, Copy, Debug, Default)]
pub struct Trbdf2;

mod trbdf2 {
    // c2 = 2 - √2, d = 1 - √2/2 = c2/2, ω = √2/4 (correctly rounded).
    pub(super) const C2: f64 = 0.585786437626905;
    pub(super) const D: f64 = 0.2928932188134525;
    pub(super) const W: f64 = 0.3535533905932738;
    /// bhat - b = [(1-√2)/3, 1/3, (√2-2)/3].
    pub(super) const BTILDE: [f64; 3] = [-0.13807118745769836, 1.0 / 3.0, -0.19526214587563498];
    /// Cubic Hermite between f(u_n) = z_0/h and f(u_n+1) = z_2/h as weight polynomials.
    pub(super) const DENSE: [[f64; 3]; 3] = [
        [1.0, -0.9393398282201787, 0.2928932188134525],
        [0.0, 1.0606601717798212, -std::f64::consts::FRAC_1_SQRT_2],
        [0.0, -0.12132034355964258, 0.41421356237309503],
    ];
}

const TRBDF2_DENSE: [DensePoly; 3] =
    pad_rows([&trbdf2::DENSE[0], &trbdf2::DENSE[1], &trbdf2::DENSE[2]]);

impl SdirkMethod for Trbdf2 {
    const TABLEAU: SdirkTableau = SdirkTableau {
        name: "TRBDF2",
        order: 2,
        error_order: 3,
        gamma: trbdf2::D,
        c: &[0.0, trbdf2::C2, 1.0],
        a: &[&[], &[trbdf2::D], &[trbdf2::W, trbdf2::W]],
        a_explicit: &[],
        b: &[trbdf2::W, trbdf2::W, trbdf2::D],
        btilde: &trbdf2::BTILDE,
        stiffly_accurate: true,
        filter_error: true,
        b_theta: &TRBDF2_DENSE,
        dense_order: 2,
    };
}

/// KenCarp4: Kennedy & Carpenter's ARK4(3)6L\[2\]SA (2003), an L-stable,
/// stiffly accurate 6-stage ESDIRK of order 4 with an embedded order-3
/// estimate and third-order dense output. For a split problem
/// `f = f_stiff + f_nonstiff` ([`OdeFunction::is_split`](crate::OdeFunction::is_split)) it is the IMEX
/// pair: the nonstiff part is treated explicitly. Coefficients as in
/// OrdinaryDiffEq.jl (identical to PETSc's ARKIMEX4).
#[derive(Clone, Copy, Debug, Default)]
pub struct KenCarp4;

mod kencarp4 {
    pub(super) const C: [f64; 6] = [0.0, 1.0 / 2.0, 83.0 / 250.0, 31.0 / 50.0, 17.0 / 20.0, 1.0];
    pub(super) const A: [&[f64]; 6] = [
        &[],
        &[1.0 / 4.0],
        &[8611.0 / 62500.0, -1743.0 / 31250.0],
        &[
            5012029.0 / 34652500.0,
            -654441.0 / 2922500.0,
            174375.0 / 388108.0,
        ],
        &[
            15267082809.0 / 155376265600.0,
            -71443401.0 / 120774400.0,
            730878875.0 / 902184768.0,
            2285395.0 / 8070912.0,
        ],
        &[
            82889.0 / 524892.0,
            0.0,
            15625.0 / 83664.0,
            69875.0 / 102672.0,
            -2260.0 / 8211.0,
        ],
    ];
    pub(super) const A_EXPLICIT: [&[f64]; 6] = [
        &[],
        &[1.0 / 2.0],
        &[13861.0 / 62500.0, 6889.0 / 62500.0],
        &[
            -116923316275.0 / 2393684061468.0,
            -2731218467317.0 / 15368042101831.0,
            9408046702089.0 / 11113171139209.0,
        ],
        &[
            -451086348788.0 / 2902428689909.0,
            -2682348792572.0 / 7519795681897.0,
            12662868775082.0 / 11960479115383.0,
            3355817975965.0 / 11060851509271.0,
        ],
        &[
            647845179188.0 / 3216320057751.0,
            73281519250.0 / 8382639484533.0,
            552539513391.0 / 3454668386233.0,
            3354512671639.0 / 8306763924573.0,
            4040.0 / 17871.0,
        ],
    ];
    pub(super) const B: [f64; 6] = [
        82889.0 / 524892.0,
        0.0,
        15625.0 / 83664.0,
        69875.0 / 102672.0,
        -2260.0 / 8211.0,
        1.0 / 4.0,
    ];
    /// bhat - b.
    pub(super) const BTILDE: [f64; 6] = [
        -31666707.0 / 9881966720.0,
        0.0,
        256875.0 / 105007616.0,
        2768025.0 / 128864768.0,
        -169839.0 / 3864644.0,
        5247.0 / 225920.0,
    ];
    /// Kennedy–Carpenter's dense output b*_ij: b_i(θ) = Σ_j b*_ij θ^j.
    pub(super) const DENSE: [[f64; 3]; 6] = [
        [
            6943876665148.0 / 7220017795957.0,
            -54480133.0 / 30881146.0,
            6818779379841.0 / 7100303317025.0,
        ],
        [0.0, 0.0, 0.0],
        [
            7640104374378.0 / 9702883013639.0,
            -11436875.0 / 14766696.0,
            2173542590792.0 / 12501825683035.0,
        ],
        [
            -20649996744609.0 / 7521556579894.0,
            174696575.0 / 18121608.0,
            -31592104683404.0 / 5083833661969.0,
        ],
        [
            8854892464581.0 / 2390941311638.0,
            -12120380.0 / 966161.0,
            61146701046299.0 / 7138195549469.0,
        ],
        [
            -11397109935349.0 / 6675773540249.0,
            3843.0 / 706.0,
            -17219254887155.0 / 4939391667607.0,
        ],
    ];
}

const KENCARP4_DENSE: [DensePoly; 6] = pad_rows([
    &kencarp4::DENSE[0],
    &kencarp4::DENSE[1],
    &kencarp4::DENSE[2],
    &kencarp4::DENSE[3],
    &kencarp4::DENSE[4],
    &kencarp4::DENSE[5],
]);

impl SdirkMethod for KenCarp4 {
    const TABLEAU: SdirkTableau = SdirkTableau {
        name: "KenCarp4",
        order: 4,
        error_order: 3,
        gamma: 0.25,
        c: &kencarp4::C,
        a: &kencarp4::A,
        a_explicit: &kencarp4::A_EXPLICIT,
        b: &kencarp4::B,
        btilde: &kencarp4::BTILDE,
        stiffly_accurate: true,
        filter_error: false,
        b_theta: &KENCARP4_DENSE,
        dense_order: 3,
    };
}
