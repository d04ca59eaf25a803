//! Hairer's DOP853: Dormand–Prince 8(5,3), for very tight tolerances.
// Coefficients are kept digit for digit as published.
#![allow(clippy::excessive_precision)]

use super::ErkMethod;
use super::tableau::{
    DenseOutput, DensePoly, ErrorEstimator, ExplicitTableau, nested_to_poly, pad,
};

/// Dormand–Prince 8(5,3) with Hairer's blended 5th/3rd-order error estimate
/// and 7th-order dense output (three extra stages).
///
/// Efficient at tolerances of 1e-9 and below. Coefficients: Hairer, Nørsett,
/// Wanner, *Solving ODEs I*, II.10 (the `DOP853` code), as in SciPy.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dop853;

impl ErkMethod for Dop853 {
    const TABLEAU: ExplicitTableau = ExplicitTableau {
        name: "DOP853",
        order: 8,
        c: &C,
        a: &A,
        b: &B,
        fsal: false,
        error: ErrorEstimator::Dop853 { e5: &E5, e3: &E3 },
        dense: DenseOutput {
            order: 7,
            extra_c: &ALL_EXTRA_C,
            extra_a: &ALL_EXTRA_A,
            b_theta: &DENSE,
            degree: 7,
        },
        stability_size: 0.0,
    };
}

/// Slot 12 is `f(t + dt, u_new)` (row `b` at `c = 1`), then SciPy's three extra stages.
const ALL_EXTRA_C: [f64; 4] = [1.0, EXTRA_C[0], EXTRA_C[1], EXTRA_C[2]];
const ALL_EXTRA_A: [&[f64]; 4] = [&B, EXTRA_A[0], EXTRA_A[1], EXTRA_A[2]];

/// Hairer's nested dense output over the 16 slots: `F0 = Δ`, `F1 = dt k0 - Δ`,
/// `F2 = 2Δ - dt (k12 + k0)`, `F3..F6 = dt D k`, with `Δ = dt Σ b_i k_i`.
const fn dense() -> [DensePoly; 16] {
    let b: [f64; 16] = pad(&B);
    let mut m = [[0.0; 16]; 7];
    let mut i = 0;
    while i < 16 {
        m[0][i] = b[i];
        m[1][i] = -b[i];
        m[2][i] = 2.0 * b[i];
        let mut r = 0;
        while r < 4 {
            m[3 + r][i] = D[r][i];
            r += 1;
        }
        i += 1;
    }
    m[1][0] += 1.0;
    m[2][0] -= 1.0;
    m[2][12] -= 1.0;
    nested_to_poly(m)
}
const DENSE: [DensePoly; 16] = dense();

// Hairer's DOP853: Dormand–Prince 8(5,3) explicit Runge–Kutta method with 7th-order dense output.
//
// Source (coefficients copied digit for digit):
//   scipy/integrate/_ivp/dop853_coefficients.py
//     The upstream scipy/scipy copy of this file is not in the searchable index; the literals were
//     copied from two independent mirrors of it, which agree in every digit:
//       repo tkoyama010/scipy     commit 75f599ad52524be19d015821e193f389922a11aa (numpy, e.g. "e1")
//       repo MLXPorts/mlx-scipy   commit 04143db3715b67771d0d9461d08cd6d867e7d2fa (mlx port, "e+1")
//   scipy/scipy scipy/integrate/_ivp/rk.py (commits 878181a8b35edbec43264bf0ce81ee9cfe48aa01 and
//     052a36fed21763097667d0a3a9a09358323255e1, identical DOP853 code): how E5/E3, A_EXTRA,
//     C_EXTRA and D are used.
//   Original: E. Hairer, S. P. Nørsett, G. Wanner, "Solving ODEs I", Sec. II; Fortran DOP853.
//
// Indexing (0-based, as in scipy): stages 0..11 are the 12 main stages; stage 12 is
// f(t+h, y_new) (FSAL, scipy's K[12] = f_new); stages 13, 14, 15 are the extra dense-output stages.
//   K[0] = f(t, y)
//   K[s] = f(t + C[s] h, y + h Σ_{j<s} A[s][j] K[j]),  s = 1..11   (A[s] has exactly s entries)
//   y_new = y + h Σ_{i<12} B[i] K[i]             (8th order);  K[12] = f(t + h, y_new)
//   scipy's A[12, :12] is B (stage 12 is the FSAL stage at c = 1).
//
// ---- Error estimate (scipy rk.py, DOP853._estimate_error_norm) ----
//   scale_i = atol_i + max(|y_i|, |y_new_i|) * rtol            (RungeKutta._step_impl)
//   err5_i  = (Σ_{j=0..12} E5[j] K[j]_i) / scale_i
//   err3_i  = (Σ_{j=0..12} E3[j] K[j]_i) / scale_i
//   err5_norm_2 = Σ_i err5_i²,  err3_norm_2 = Σ_i err3_i²       (squared Euclidean norms)
//   if err5_norm_2 == 0 and err3_norm_2 == 0: error_norm = 0
//   else: denom = err5_norm_2 + 0.01 * err3_norm_2
//         error_norm = |h| * err5_norm_2 / sqrt(denom * n)       (n = len(scale) = system dim)
//   i.e. error_norm = |h| * ‖e5‖² / sqrt(n * (‖e5‖² + 0.01 * ‖e3‖²)), sums over components taken
//   BEFORE the ratio. It is NOT the RMS of scipy's per-component
//   _estimate_error (h*err5*|err5|/hypot(|err5|, 0.1*|err3|)), which is "left for testing purposes".
//   Accept if error_norm < 1; error_exponent = -1/(error_estimator_order + 1) = -1/8,
//   factor = SAFETY * error_norm^(-1/8), SAFETY = 0.9, MIN_FACTOR = 0.2, MAX_FACTOR = 10.
//   E5 and E3 have 13 entries (index 12 = FSAL stage f_new), both with E[12] = 0.
//
// ---- Dense output (scipy rk.py, DOP853._dense_output_impl / Dop853DenseOutput) ----
//   After an accepted step (t_old -> t = t_old + h, y_old -> y):
//   K[s] = f(t_old + EXTRA_C[s-13] h, y_old + h Σ_{j<s} EXTRA_A[s-13][j] K[j]),  s = 13, 14, 15
//     (EXTRA_A rows span stages 0..s-1, including stage 12 = f_new; zeros explicit)
//   delta_y = y - y_old,  f_old = K[0],  f_new = K[12]
//   F[0] = delta_y
//   F[1] = h*f_old - delta_y
//   F[2] = 2*delta_y - h*(f_new + f_old)
//   F[3 + r] = h * Σ_{j=0..15} D[r][j] K[j],   r = 0..3
//   Evaluation at θ = (t_eval - t_old)/h: loop over F reversed (F[6], F[5], ..., F[0]):
//     y = 0; for i, f in enumerate(reversed(F)): y += f; y *= θ if i even else (1 - θ)
//   i.e. y(θ) = y_old + θ(F0 + (1-θ)(F1 + θ(F2 + (1-θ)(F3 + θ(F4 + (1-θ)(F5 + θ F6))))))
//   (factor θ applied after adding F6, F4, F2, F0; factor (1-θ) after adding F5, F3, F1).

const C: [f64; 12] = [
    0.0,
    0.526001519587677318785587544488e-01,
    0.789002279381515978178381316732e-01,
    0.118350341907227396726757197510,
    0.281649658092772603273242802490,
    0.333333333333333333333333333333,
    0.25,
    0.307692307692307692307692307692,
    0.651282051282051282051282051282,
    0.6,
    0.857142857142857142857142857142,
    1.0,
];

const A: [&[f64]; 12] = [
    &[],
    &[5.26001519587677318785587544488e-2],
    &[
        1.97250569845378994544595329183e-2,
        5.91751709536136983633785987549e-2,
    ],
    &[
        2.95875854768068491816892993775e-2,
        0.0,
        8.87627564304205475450678981324e-2,
    ],
    &[
        2.41365134159266685502369798665e-1,
        0.0,
        -8.84549479328286085344864962717e-1,
        9.24834003261792003115737966543e-1,
    ],
    &[
        3.7037037037037037037037037037e-2,
        0.0,
        0.0,
        1.70828608729473871279604482173e-1,
        1.25467687566822425016691814123e-1,
    ],
    &[
        3.7109375e-2,
        0.0,
        0.0,
        1.70252211019544039314978060272e-1,
        6.02165389804559606850219397283e-2,
        -1.7578125e-2,
    ],
    &[
        3.70920001185047927108779319836e-2,
        0.0,
        0.0,
        1.70383925712239993810214054705e-1,
        1.07262030446373284651809199168e-1,
        -1.53194377486244017527936158236e-2,
        8.27378916381402288758473766002e-3,
    ],
    &[
        6.24110958716075717114429577812e-1,
        0.0,
        0.0,
        -3.36089262944694129406857109825,
        -8.68219346841726006818189891453e-1,
        2.75920996994467083049415600797e1,
        2.01540675504778934086186788979e1,
        -4.34898841810699588477366255144e1,
    ],
    &[
        4.77662536438264365890433908527e-1,
        0.0,
        0.0,
        -2.48811461997166764192642586468,
        -5.90290826836842996371446475743e-1,
        2.12300514481811942347288949897e1,
        1.52792336328824235832596922938e1,
        -3.32882109689848629194453265587e1,
        -2.03312017085086261358222928593e-2,
    ],
    &[
        -9.3714243008598732571704021658e-1,
        0.0,
        0.0,
        5.18637242884406370830023853209,
        1.09143734899672957818500254654,
        -8.14978701074692612513997267357,
        -1.85200656599969598641566180701e1,
        2.27394870993505042818970056734e1,
        2.49360555267965238987089396762,
        -3.0467644718982195003823669022,
    ],
    &[
        2.27331014751653820792359768449,
        0.0,
        0.0,
        -1.05344954667372501984066689879e1,
        -2.00087205822486249909675718444,
        -1.79589318631187989172765950534e1,
        2.79488845294199600508499808837e1,
        -2.85899827713502369474065508674,
        -8.87285693353062954433549289258,
        1.23605671757943030647266201528e1,
        6.43392746015763530355970484046e-1,
    ],
];

/// 8th-order weights (scipy: B = A[12, :12]).
const B: [f64; 12] = [
    5.42937341165687622380535766363e-2,
    0.0,
    0.0,
    0.0,
    0.0,
    4.45031289275240888144113950566,
    1.89151789931450038304281599044,
    -5.8012039600105847814672114227,
    3.1116436695781989440891606237e-1,
    -1.52160949662516078556178806805e-1,
    2.01365400804030348374776537501e-1,
    4.47106157277725905176885569043e-2,
];

/// E5: 13 entries, applied to K[0..=12] (K[12] = f_new, coefficient 0). E5 = b - bhat5, the
/// difference between the 8th-order solution and an embedded 5th-order one (Σ E5 = 0);
/// err5 = Σ E5[j] K[j] is the primary error estimate; err3 = Σ E3[j] K[j] only damps it
/// through the denominator. scipy: error_estimator_order = 7 (step-size exponent -1/8).
const E5: [f64; 13] = [
    0.1312004499419488073250102996e-1,
    0.0,
    0.0,
    0.0,
    0.0,
    -0.1225156446376204440720569753e1,
    -0.4957589496572501915214079952,
    0.1664377182454986536961530415e1,
    -0.3503288487499736816886487290,
    0.3341791187130174790297318841,
    0.8192320648511571246570742613e-1,
    -0.2235530786388629525884427845e-1,
    0.0,
];

/// E3: 13 entries. scipy builds it as E3[:12] = B.copy(); E3[0] -= 0.244094488188976377952755905512;
/// E3[8] -= 0.733846688281611857341361741547; E3[11] -= 0.220588235294117647058823529412e-1;
/// E3[12] = 0. So E3 = b - bhat3 with the 3rd-order weights bhat3 (nonzero at stages 0, 8, 11).
/// Used only in the denominator of the error norm (see the header), as in Hairer's DOP853.
/// The subtractions are written as const expressions so the f64 values match numpy's exactly.
const E3: [f64; 13] = [
    B[0] - 0.244094488188976377952755905512,
    B[1],
    B[2],
    B[3],
    B[4],
    B[5],
    B[6],
    B[7],
    B[8] - 0.733846688281611857341361741547,
    B[9],
    B[10],
    B[11] - 0.220588235294117647058823529412e-1,
    0.0,
];

/// c of the extra dense-output stages 13, 14, 15 (0-based; stages 14, 15, 16 1-based).
const EXTRA_C: [f64; 3] = [0.1, 0.2, 0.777777777777777777777777777778];

/// Row r (stage s = 13 + r): coefficients on ALL previous stages 0..s-1, i.e. 13 + r entries,
/// where stage 12 is f(t+h, y_new). (scipy: A[13:, :s].)
const EXTRA_A: [&[f64]; 3] = [
    &[
        5.61675022830479523392909219681e-2,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        2.53500210216624811088794765333e-1,
        -2.46239037470802489917441475441e-1,
        -1.24191423263816360469010140626e-1,
        1.5329179827876569731206322685e-1,
        8.20105229563468988491666602057e-3,
        7.56789766054569976138603589584e-3,
        -8.298e-3,
    ],
    &[
        3.18346481635021405060768473261e-2,
        0.0,
        0.0,
        0.0,
        0.0,
        2.83009096723667755288322961402e-2,
        5.35419883074385676223797384372e-2,
        -5.49237485713909884646569340306e-2,
        0.0,
        0.0,
        -1.08347328697249322858509316994e-4,
        3.82571090835658412954920192323e-4,
        -3.40465008687404560802977114492e-4,
        1.41312443674632500278074618366e-1,
    ],
    &[
        -4.28896301583791923408573538692e-1,
        0.0,
        0.0,
        0.0,
        0.0,
        -4.69762141536116384314449447206,
        7.68342119606259904184240953878,
        4.06898981839711007970213554331,
        3.56727187455281109270669543021e-1,
        0.0,
        0.0,
        0.0,
        -1.39902416515901462129418009734e-3,
        2.9475147891527723389556272149,
        -9.15095847217987001081870187138,
    ],
];

/// scipy's D (INTERPOLATOR_POWER - 3 = 4 rows, N_STAGES_EXTENDED = 16 columns):
/// F[3 + r] = h * Σ_j D[r][j] K[j]. Columns 1..4 are zero.
const D: [[f64; 16]; 4] = [
    [
        -0.84289382761090128651353491142e1,
        0.0,
        0.0,
        0.0,
        0.0,
        0.56671495351937776962531783590,
        -0.30689499459498916912797304727e1,
        0.23846676565120698287728149680e1,
        0.21170345824450282767155149946e1,
        -0.87139158377797299206789907490,
        0.22404374302607882758541771650e1,
        0.63157877876946881815570249290,
        -0.88990336451333310820698117400e-1,
        0.18148505520854727256656404962e2,
        -0.91946323924783554000451984436e1,
        -0.44360363875948939664310572000e1,
    ],
    [
        0.10427508642579134603413151009e2,
        0.0,
        0.0,
        0.0,
        0.0,
        0.24228349177525818288430175319e3,
        0.16520045171727028198505394887e3,
        -0.37454675472269020279518312152e3,
        -0.22113666853125306036270938578e2,
        0.77334326684722638389603898808e1,
        -0.30674084731089398182061213626e2,
        -0.93321305264302278729567221706e1,
        0.15697238121770843886131091075e2,
        -0.31139403219565177677282850411e2,
        -0.93529243588444783865713862664e1,
        0.35816841486394083752465898540e2,
    ],
    [
        0.19985053242002433820987653617e2,
        0.0,
        0.0,
        0.0,
        0.0,
        -0.38703730874935176555105901742e3,
        -0.18917813819516756882830838328e3,
        0.52780815920542364900561016686e3,
        -0.11573902539959630126141871134e2,
        0.68812326946963000169666922661e1,
        -0.10006050966910838403183860980e1,
        0.77771377980534432092869265740,
        -0.27782057523535084065932004339e1,
        -0.60196695231264120758267380846e2,
        0.84320405506677161018159903784e2,
        0.11992291136182789328035130030e2,
    ],
    [
        -0.25693933462703749003312586129e2,
        0.0,
        0.0,
        0.0,
        0.0,
        -0.15418974869023643374053993627e3,
        -0.23152937917604549567536039109e3,
        0.35763911791061412378285349910e3,
        0.93405324183624310003907691704e2,
        -0.37458323136451633156875139351e2,
        0.10409964950896230045147246184e3,
        0.29840293426660503123344363579e2,
        -0.43533456590011143754432175058e2,
        0.96324553959188282948394950600e2,
        -0.39177261675615439165231486172e2,
        -0.14972683625798562581422125276e3,
    ],
];
