//! Tsitouras 5(4): the default non-stiff method of DifferentialEquations.jl.
// Coefficients are kept digit for digit as published.
#![allow(clippy::excessive_precision)]

use super::ErkMethod;
use super::tableau::{DenseOutput, DensePoly, ErrorEstimator, ExplicitTableau, pad_rows};

/// Tsitouras 5(4), FSAL, with its free 4th-order interpolant.
///
/// Usually the most efficient method at moderate tolerances (1e-3 … 1e-8).
/// Coefficients: Ch. Tsitouras, "Runge–Kutta pairs of order 5(4) satisfying
/// only the first column simplifying assumption", Comput. Math. Appl. 62
/// (2011) 770–775, as tabulated in OrdinaryDiffEq.jl.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tsit5;

impl ErkMethod for Tsit5 {
    const TABLEAU: ExplicitTableau = ExplicitTableau {
        name: "Tsit5",
        order: 5,
        c: &C,
        a: &A,
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
        stability_size: 3.5068,
    };
}

const DENSE: [DensePoly; 7] = pad_rows(B_THETA);

// Tsitouras 5(4) ("Tsit5") Runge–Kutta pair with its free 4th-order interpolant.
//
// Source (coefficients copied digit for digit):
//   repo   SciML/OrdinaryDiffEq.jl
//   path   lib/OrdinaryDiffEqTsit5/src/tsit_tableaus.jl   (commit 1773ee0d337a644074f2eb9d975d561cd6178b79)
//          - C, A, BTILDE: `Tsit5ConstantCacheActual(::Type{T}, ::Type{T2}) where {T <: CompiledFloats, ...}`
//            (the Float64 literals), except BTILDE[0], see below.
//          - B_THETA: `Tsit5Interp(::Type{T}) where {T <: CompiledFloats}` (r11..r74, Float64 literals).
//   path   lib/OrdinaryDiffEqTsit5/src/interpolants.jl    (commit 0b74f027a7ff4c3465d87f821f59bc17cf9a0535)
//          - how b_i(θ) is formed: b1Θ = Θ*@evalpoly(Θ, r11, r12, r13, r14);
//            b_iΘ = Θ²*@evalpoly(Θ, r_i2, r_i3, r_i4) for i = 2..7;
//            u(t_n + Θ dt) = y₀ + dt*(k[1]*b1Θ + ... + k[7]*b7Θ).
//   path   lib/OrdinaryDiffEqTsit5/src/tsit_perform_step.jl (commit 106c04fdec346405905d69306ef3934b1ec8aa46)
//          - error estimate (see BTILDE).
// Cross-checked against patrick-kidger/diffrax diffrax/_solver/tsit5.py
// (commit 1d4f9db706caa692e35dfd9fbfe00ec22d39c6cc) and against the BigFloat
// (arbitrary-precision) strings of the same OrdinaryDiffEq file: every Float64 literal used
// here is the correctly rounded f64 of the corresponding high-precision string.
//
// Reference: Ch. Tsitouras, "Runge–Kutta pairs of order 5(4) satisfying only the first column
// simplifying assumption", Comput. Math. Appl. 62 (2011) 770–775.
//
// Conventions (0-based indices here, stage i+1 in the paper):
//   k_1 = f(t_n, u_n)   (FSAL: equals k_7 of the previous accepted step)
//   k_i = f(t_n + C[i-1] h, u_n + h Σ_{j<i} A[i-1][j] k_j)  — A[i] has exactly i entries.
//   u_{n+1} = u_n + h Σ_i B[i] k_i   (5th order; B == A[6] with B[6] = 0)
//   k_7 = f(t_n + h, u_{n+1})        (row 7 of A equals B: FSAL, so k_7 costs nothing extra)
//   Dense output: u(t_n + θh) = u_n + h Σ_i b_i(θ) k_i,
//     b_i(θ) = Σ_{k=0..3} B_THETA[i][k] θ^(k+1)   (4th-order accurate, b_i(1) = B[i]).

const C: [f64; 7] = [0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0];

const A: [&[f64]; 7] = [
    &[],
    &[0.161],
    &[-0.008480655492356989, 0.335480655492357],
    &[2.8971530571054935, -6.359448489975075, 4.3622954328695815],
    &[
        5.325864828439257,
        -11.748883564062828,
        7.4955393428898365,
        -0.09249506636175525,
    ],
    &[
        5.86145544294642,
        -12.92096931784711,
        8.159367898576159,
        -0.071584973281401,
        -0.028269050394068383,
    ],
    &[
        0.09646076681806523,
        0.01,
        0.4798896504144996,
        1.379008574103742,
        -3.290069515436081,
        2.324710524099774,
    ],
];

/// 5th-order weights (= last row of A; b_7 = 0).
const B: [f64; 7] = [
    0.09646076681806523,
    0.01,
    0.4798896504144996,
    1.379008574103742,
    -3.290069515436081,
    2.324710524099774,
    0.0,
];

/// BTILDE = bhat - b, where bhat are the 4th-order embedded weights
/// (bhat = [0.09468075576583945, 0.009183565540343254, 0.4877705284247616, 1.234297566930479,
///          -2.7077123499835256, 1.866628418170587, 0.015151515151515152], commented out in the
///  source as b1..b7; bhat_7 = 1/66).  Sign check: btilde1 = bhat1 - b1 = 0.09468... - 0.09646... < 0,
/// btilde7 = 1/66 - 0 > 0.  (diffrax stores the opposite sign, b_error = b - bhat.)
/// OrdinaryDiffEq error estimate (tsit_perform_step.jl):
///   utilde = dt * Σ_{j=1..7} btilde_j k_j          (k_7 = f(t+dt, u_new), FSAL stage)
///   atmp_i = utilde_i / (abstol + max(|uprev_i|, |u_i|) * reltol)     (calculate_residuals)
///   EEst   = internalnorm(atmp, t)   (default: RMS norm, sqrt(mean(atmp_i²))); accept if EEst <= 1.
/// The sign is irrelevant for the norm.
/// NOTE: BTILDE[0] uses the digits of the BigFloat string in the source
/// ("-1.780011052225771443378550607539534775944678804333659557637450799792588061629796e-03").
/// The source's Float64-path literal for btilde1 is -0.00178001105222577714 (digits …2225777 14)
/// whereas the BigFloat string reads -0.00178001105222577144… (digits …2225771 44): the Float64
/// literal has an extra '7' and is 26 ulp (rel. 3.2e-15) away from a71 - b1 (the BigFloat value,
/// which also equals diffrax's b_error[0] up to sign); the difference is immaterial for error control.
const BTILDE: [f64; 7] = [
    -1.780011052225771443378550607539534775944678804333659557637450799792588061629796e-03,
    -0.0008164344596567469,
    0.007880878010261995,
    -0.1447110071732629,
    0.5823571654525552,
    -0.45808210592918697,
    0.015151515151515152,
];

/// Dense-output weight polynomials: b_i(θ) = Σ_{k=0..3} B_THETA[i][k] θ^(k+1)
/// (row 0 = [r11, r12, r13, r14]; row i>0 = [0, r_i2, r_i3, r_i4]).
const B_THETA: [&[f64]; 7] = [
    &[
        1.0,
        -2.763706197274826,
        2.9132554618219126,
        -1.0530884977290216,
    ],
    &[0.0, 0.13169999999999998, -0.2234, 0.1017],
    &[
        0.0,
        3.9302962368947516,
        -5.941033872131505,
        2.490627285651253,
    ],
    &[
        0.0,
        -12.411077166933676,
        30.33818863028232,
        -16.548102889244902,
    ],
    &[0.0, 37.50931341651104, -88.1789048947664, 47.37952196281928],
    &[
        0.0,
        -27.896526289197286,
        65.09189467479366,
        -34.87065786149661,
    ],
    &[0.0, 1.5, -4.0, 2.5],
];
