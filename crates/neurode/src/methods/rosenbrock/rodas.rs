//! Rodas-type Rosenbrock methods (stiffly accurate, with dense output), as
//! tableaus: Hairer & Wanner's Rodas4 and Steinebach's Rodas5P.

// Coefficients are kept digit for digit as published.
#![allow(clippy::excessive_precision)]

use crate::dim::Dim;
use crate::methods::implicit::{Part, WOperator};
use crate::methods::{DenseFn, ErrorScale, MethodInfo, OdeMethod, Rhs, Setup};
use crate::problem::{MassMatrix, OdeFunction};
use crate::scalar::Scalar;

/// The most stages a Rodas tableau may have.
const MAX_STAGES: usize = 8;
/// The most dense-output vectors.
const MAX_DENSE: usize = 3;

/// A Rodas-type method as data (OrdinaryDiffEq.jl's `RodasTableau` layout).
#[derive(Clone, Copy, Debug)]
pub struct RodasTableau {
    /// Display name.
    pub name: &'static str,
    /// Order of the solution.
    pub order: u32,
    /// Order of the embedded solution (the last stage value).
    pub error_order: u32,
    /// Order of the dense output.
    pub dense_order: u32,
    /// `γ`, the diagonal.
    pub gamma: f64,
    /// Stage values `u_i = u + Σ_j a[i][j] k_j`.
    pub a: &'static [&'static [f64]],
    /// `C`: stage `i` adds `M Σ_j (c_mat[i][j] / h) k_j`.
    pub c_mat: &'static [&'static [f64]],
    /// Stage times `t + c[i] h`.
    pub c: &'static [f64],
    /// Stage `i` adds `h d[i] ∂f/∂t`.
    pub d: &'static [f64],
    /// Dense-output vectors `kd_j = Σ_i h[j][i] k_i`.
    pub h: &'static [&'static [f64]],
}

/// A Rodas-type method given by its tableau.
pub trait RodasMethod: Copy {
    /// The method's coefficients.
    const TABLEAU: RodasTableau;
}

/// Hairer & Wanner's RODAS: order 4 with an order-3 embedded solution and
/// third-order dense output; stiffly accurate and L-stable. Coefficients as
/// in OrdinaryDiffEq.jl (equal to Hairer's `rodas.f`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Rodas4;

mod rodas4 {

    /// source `gamma`
    pub(super) const GAMMA: f64 = 1.0 / 4.0;
    /// source `A` (s x s, strictly lower triangular; stage value u_i = uprev + sum_j A[i][j] * k_j)
    pub(super) const A: [[f64; 6]; 6] = [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [1.544, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.9466785280815826, 0.2557011698983284, 0.0, 0.0, 0.0, 0.0],
        [
            3.314825187068521,
            2.896124015972201,
            0.9986419139977817,
            0.0,
            0.0,
            0.0,
        ],
        [
            1.221224509226641,
            6.019134481288629,
            12.53708332932087,
            -0.6878860361058950,
            0.0,
            0.0,
        ],
        [
            1.221224509226641,
            6.019134481288629,
            12.53708332932087,
            -0.6878860361058950,
            1.0,
            0.0,
        ],
    ];
    /// source `C` (s x (s-1); stage i rhs gets + sum_j (C[i][j]/dt) * M k_j)
    pub(super) const C: [[f64; 5]; 6] = [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [-5.6688, 0.0, 0.0, 0.0, 0.0],
        [-2.430093356833875, -0.2063599157091915, 0.0, 0.0, 0.0],
        [
            -0.1073529058151375,
            -9.594562251023355,
            -20.47028614809616,
            0.0,
            0.0,
        ],
        [
            7.496443313967647,
            -10.24680431464352,
            -33.99990352819905,
            11.70890893206160,
            0.0,
        ],
        [
            8.083246795921522,
            -7.981132988064893,
            -31.52159432874371,
            16.31930543123136,
            -6.058818238834054,
        ],
    ];
    /// source lowercase `c` (stage time nodes: f evaluated at t + c[i]*dt)
    pub(super) const C_NODE: [f64; 6] = [0.0, 0.386, 0.21, 0.63, 1.0, 1.0];
    /// source `d` (stage i rhs gets + dt*d[i] * dT, dT = df/dt(t, uprev))
    pub(super) const D: [f64; 6] = [0.25, -0.1043, 0.1035, -0.0362, 0.0, 0.0];
    /// source `H` (2 x s; dense k_j = sum_i H[j][i] * k_i)
    pub(super) const H: [[f64; 6]; 2] = [
        [
            10.12623508344586,
            -7.487995877610167,
            -34.80091861555747,
            -7.992771707568823,
            1.025137723295662,
            0.0,
        ],
        [
            -0.6762803392801253,
            6.087714651680015,
            16.43084320892478,
            24.76722511418386,
            -6.594389125716872,
            0.0,
        ],
    ];
}

/// Rodas5P (Steinebach 2023): order 5 with an order-4 embedded solution and
/// fourth-order dense output; stiffly accurate, with an embedding chosen for
/// robust step control. Usually the best Rosenbrock method at 1e-6 … 1e-10.
/// Coefficients as in OrdinaryDiffEq.jl.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rodas5P;

mod rodas5p {

    /// source `gamma`
    pub(super) const GAMMA: f64 = 0.21193756319429014;
    /// source `A` (s x s, strictly lower triangular; stage value u_i = uprev + sum_j A[i][j] * k_j)
    pub(super) const A: [[f64; 8]; 8] = [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [
            2.849394379747939,
            0.45842242204463923,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
        [
            -6.954028509809101,
            2.489845061869568,
            -10.358996098473584,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
        [
            2.8029986275628964,
            0.5072464736228206,
            -0.3988312541770524,
            -0.04721187230404641,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
        [
            -7.502846399306121,
            2.561846144803919,
            -11.627539656261098,
            -0.18268767659942256,
            0.030198172008377946,
            0.0,
            0.0,
            0.0,
        ],
        [
            -7.502846399306121,
            2.561846144803919,
            -11.627539656261098,
            -0.18268767659942256,
            0.030198172008377946,
            1.0,
            0.0,
            0.0,
        ],
        [
            -7.502846399306121,
            2.561846144803919,
            -11.627539656261098,
            -0.18268767659942256,
            0.030198172008377946,
            1.0,
            1.0,
            0.0,
        ],
    ];
    /// source `C` (s x (s-1); stage i rhs gets + sum_j (C[i][j]/dt) * M k_j)
    pub(super) const C: [[f64; 7]; 8] = [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [-14.155112264123755, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [
            -17.97296035885952,
            -2.859693295451294,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
        [
            147.12150275711716,
            -1.41221402718213,
            71.68940251302358,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
        [
            165.43517024871676,
            -0.4592823456491126,
            42.90938336958603,
            -5.961986721573306,
            0.0,
            0.0,
            0.0,
        ],
        [
            24.854864614690072,
            -3.0009227002832186,
            47.4931110020768,
            5.5814197821558125,
            -0.6610691825249471,
            0.0,
            0.0,
        ],
        [
            30.91273214028599,
            -3.1208243349937974,
            77.79954646070892,
            34.28646028294783,
            -19.097331116725623,
            -28.087943162872662,
            0.0,
        ],
        [
            37.80277123390563,
            -3.2571969029072276,
            112.26918849496327,
            66.9347231244047,
            -40.06618937091002,
            -54.66780262877968,
            -9.48861652309627,
        ],
    ];
    /// source lowercase `c` (stage time nodes: f evaluated at t + c[i]*dt)
    pub(super) const C_NODE: [f64; 8] = [
        0.0,
        0.6358126895828704,
        0.4095798393397535,
        0.9769306725060716,
        0.4288403609558664,
        1.0,
        1.0,
        1.0,
    ];
    /// source `d` (stage i rhs gets + dt*d[i] * dT, dT = df/dt(t, uprev))
    pub(super) const D: [f64; 8] = [
        0.21193756319429014,
        -0.42387512638858027,
        -0.3384627126235924,
        1.8046452872882734,
        2.325825639765069,
        0.0,
        0.0,
        0.0,
    ];
    /// source `H` (3 x s; dense k_j = sum_i H[j][i] * k_i)
    pub(super) const H: [[f64; 8]; 3] = [
        [
            25.948786856663858,
            -2.5579724845846235,
            10.433815404888879,
            -2.3679251022685204,
            0.524948541321073,
            1.1241088310450404,
            0.4272876194431874,
            -0.17202221070155493,
        ],
        [
            -9.91568850695171,
            -0.9689944594115154,
            3.0438037242978453,
            -24.495224566215796,
            20.176138334709044,
            15.98066361424651,
            -6.789040303419874,
            -6.710236069923372,
        ],
        [
            11.419903575922262,
            2.8879645146136994,
            72.92137995996029,
            80.12511834622643,
            -52.072871366152654,
            -59.78993625266729,
            -0.15582684282751913,
            4.883087185713722,
        ],
    ];
}

macro_rules! rows {
    ($m:ident, $x:ident, [$($i:literal),*]) => { &[$(&$m::$x[$i]),*] };
}

impl RodasMethod for Rodas4 {
    const TABLEAU: RodasTableau = RodasTableau {
        name: "Rodas4",
        order: 4,
        error_order: 3,
        dense_order: 3,
        gamma: rodas4::GAMMA,
        a: rows!(rodas4, A, [0, 1, 2, 3, 4, 5]),
        c_mat: rows!(rodas4, C, [0, 1, 2, 3, 4, 5]),
        c: &rodas4::C_NODE,
        d: &rodas4::D,
        h: rows!(rodas4, H, [0, 1]),
    };
}

impl RodasMethod for Rodas5P {
    const TABLEAU: RodasTableau = RodasTableau {
        name: "Rodas5P",
        order: 5,
        error_order: 4,
        dense_order: 4,
        gamma: rodas5p::GAMMA,
        a: rows!(rodas5p, A, [0, 1, 2, 3, 4, 5, 6, 7]),
        c_mat: rows!(rodas5p, C, [0, 1, 2, 3, 4, 5, 6, 7]),
        c: &rodas5p::C_NODE,
        d: &rodas5p::D,
        h: rows!(rodas5p, H, [0, 1, 2]),
    };
}

/// Working memory of a Rodas solve.
pub struct RodasCache<T: Scalar, D: Dim> {
    n: usize,
    k: [D::Vector<T>; MAX_STAGES],
    /// Dense-output vectors of the last step.
    kd: [D::Vector<T>; MAX_DENSE],
    /// The last step's end state (dense output needs it).
    u1: D::Vector<T>,
    stage: D::Vector<T>,
    du: D::Vector<T>,
    tmp: D::Vector<T>,
    dtdt: D::Vector<T>,
    f0: D::Vector<T>,
    w: WOperator<T>,
    mass: MassMatrix,
}

/// One Rodas step; the squared scaled error (infinite when `W` is singular).
#[allow(clippy::too_many_arguments)]
fn rodas_step<M: RodasMethod, F: OdeFunction, T: Scalar, D: Dim>(
    c: &mut RodasCache<T, D>,
    rhs: &mut Rhs<F, T>,
    t: T,
    dt: T,
    u: &[T],
    u_new: &mut [T],
    scale: Option<&ErrorScale>,
) -> f64 {
    let tab = &M::TABLEAU;
    let s = tab.c.len();
    // A Rosenbrock method needs the exact Jacobian at the step's start.
    c.w.update_jacobian(rhs, u, t);
    c.w.time_derivative(rhs, u, t, c.dtdt.as_mut());
    let gamma_dt = dt.scaled(tab.gamma);
    if c.w.factor(rhs, &c.mass, gamma_dt).is_err() {
        return f64::INFINITY;
    }
    let inv_dt = T::one() / dt;
    for i in 0..s {
        let (done, rest) = c.k.split_at_mut(i);
        // Stage value and f there.
        let stage = c.stage.as_mut();
        stage.copy_from_slice(u);
        for (j, &a) in tab.a[i].iter().enumerate().take(i) {
            if a != 0.0 {
                for (x, &k) in stage.iter_mut().zip(done[j].as_ref()) {
                    *x += k.scaled(a);
                }
            }
        }
        rhs.eval(c.du.as_mut(), c.stage.as_ref(), t + dt.scaled(tab.c[i]));
        // M Σ_j (C_ij / h) k_j.
        let tmp = c.tmp.as_mut();
        tmp.fill(T::zero());
        for (j, &cij) in tab.c_mat[i].iter().enumerate().take(i) {
            if cij != 0.0 {
                for (x, &k) in tmp.iter_mut().zip(done[j].as_ref()) {
                    *x += k.scaled(cij);
                }
            }
        }
        let ki = rest[0].as_mut();
        c.mass.apply(c.tmp.as_ref(), ki);
        for ((x, &f), &ft) in ki.iter_mut().zip(c.du.as_ref()).zip(c.dtdt.as_ref()) {
            *x = f + *x * inv_dt + dt.scaled(tab.d[i]) * ft;
        }
        c.w.solve(rhs, ki);
        for x in ki.iter_mut() {
            *x *= gamma_dt;
        }
    }
    // Stiffly accurate: the new state is the last stage value plus k_s.
    for ((o, &x), &k) in u_new
        .iter_mut()
        .zip(c.stage.as_ref())
        .zip(c.k[s - 1].as_ref())
    {
        *o = x + k;
    }
    c.u1.as_mut().copy_from_slice(u_new);
    for (j, row) in tab.h.iter().enumerate() {
        let kd = c.kd[j].as_mut();
        kd.fill(T::zero());
        for (i, &h) in row.iter().enumerate() {
            if h != 0.0 {
                for (x, &k) in kd.iter_mut().zip(c.k[i].as_ref()) {
                    *x += k.scaled(h);
                }
            }
        }
    }
    let Some(scale) = scale else { return 0.0 };
    let mut sum = 0.0;
    for (i, ((e, a), b)) in c.k[s - 1]
        .as_ref()
        .iter()
        .zip(u)
        .zip(u_new.iter())
        .enumerate()
    {
        let r = e.real() / scale.weight(i, a.real(), b.real());
        sum += r * r;
    }
    sum / c.n as f64
}

/// `(1-θ) y0 + θ (y1 + (1-θ)(kd1 + θ (kd2 + θ kd3 …)))`.
fn rodas_dense<T: Scalar>(theta: T, y0: &[T], y1: &[T], kd: &[&[T]], out: &mut [T]) {
    let one_minus = T::one() - theta;
    for m in 0..out.len() {
        let mut inner = T::zero();
        for k in kd[1..].iter().rev() {
            inner = theta * (k[m] + inner);
        }
        let inner = kd[0][m] + inner;
        out[m] = one_minus * y0[m] + theta * (y1[m] + one_minus * inner);
    }
}

fn rodas_dense_eval<M: RodasMethod, T: Scalar>(theta: T, _dt: T, data: &[T], out: &mut [T]) {
    let n = out.len();
    let m = M::TABLEAU.h.len();
    let mut kd: [&[T]; MAX_DENSE] = [&[]; MAX_DENSE];
    for (j, slot) in kd.iter_mut().enumerate().take(m) {
        *slot = &data[(2 + j) * n..(3 + j) * n];
    }
    rodas_dense(theta, &data[..n], &data[n..2 * n], &kd[..m], out);
}

macro_rules! rodas_ode_method {
    ($($ty:ty),*) => {$(
        impl OdeMethod for $ty {
            type Cache<T: Scalar, D: Dim> = RodasCache<T, D>;

            fn info(&self) -> MethodInfo {
                let t = &<$ty as RodasMethod>::TABLEAU;
                MethodInfo {
                    name: t.name,
                    order: t.order,
                    error_order: Some(t.error_order),
                    dense_order: t.dense_order,
                    mass_matrix: true,
                    reuses_factorizations: false,
                    stability_size: 0.0,
                }
            }

            fn new_cache<F: OdeFunction, T: Scalar, D: Dim>(&self, dim: D, setup: &Setup<'_, F, T>) -> RodasCache<T, D> {
                let t = &<$ty as RodasMethod>::TABLEAU;
                assert!(t.c.len() <= MAX_STAGES && t.h.len() <= MAX_DENSE);
                RodasCache {
                    n: dim.size(),
                    k: std::array::from_fn(|j| if j < t.c.len() { dim.zeros() } else { dim.unused() }),
                    kd: std::array::from_fn(|j| if j < t.h.len() { dim.zeros() } else { dim.unused() }),
                    u1: dim.zeros(),
                    stage: dim.zeros(),
                    du: dim.zeros(),
                    tmp: dim.zeros(),
                    dtdt: dim.zeros(),
                    f0: dim.zeros(),
                    w: WOperator::new(setup, Part::Full),
                    mass: setup.mass.clone(),
                }
            }

            fn start<F: OdeFunction, T: Scalar, D: Dim>(&self, c: &mut RodasCache<T, D>, rhs: &mut Rhs<F, T>, t: T, u: &[T]) {
                rhs.eval(c.f0.as_mut(), u, t);
            }

            fn derivative<'c, T: Scalar, D: Dim>(&self, c: &'c RodasCache<T, D>) -> &'c [T] {
                c.f0.as_ref()
            }

            fn step<F: OdeFunction, T: Scalar, D: Dim>(
                &self,
                c: &mut RodasCache<T, D>,
                rhs: &mut Rhs<F, T>,
                t: T,
                dt: T,
                u: &[T],
                u_new: &mut [T],
                scale: Option<&ErrorScale>,
            ) -> f64 {
                rodas_step::<$ty, F, T, D>(c, rhs, t, dt, u, u_new, scale)
            }

            fn accept<F: OdeFunction, T: Scalar, D: Dim>(&self, _c: &mut RodasCache<T, D>, _rhs: &mut Rhs<F, T>, _t: T, _u: &[T]) {}

            fn interpolate<F: OdeFunction, T: Scalar, D: Dim>(
                &self,
                c: &mut RodasCache<T, D>,
                _rhs: &mut Rhs<F, T>,
                _t: T,
                _dt: T,
                u: &[T],
                theta: T,
                out: &mut [T],
            ) {
                let m = <$ty as RodasMethod>::TABLEAU.h.len();
                let mut kd: [&[T]; MAX_DENSE] = [&[]; MAX_DENSE];
                for (j, slot) in kd.iter_mut().enumerate().take(m) {
                    *slot = c.kd[j].as_ref();
                }
                rodas_dense(theta, u, c.u1.as_ref(), &kd[..m], out);
            }

            fn stiffness_estimate<T: Scalar, D: Dim>(&self, c: &RodasCache<T, D>) -> Option<f64> {
                Some(c.w.jacobian_inf_norm())
            }

            fn dense_width(&self, n: usize) -> usize {
                (2 + <$ty as RodasMethod>::TABLEAU.h.len()) * n
            }

            fn write_dense<F: OdeFunction, T: Scalar, D: Dim>(
                &self,
                c: &mut RodasCache<T, D>,
                _rhs: &mut Rhs<F, T>,
                _t: T,
                _dt: T,
                u: &[T],
                out: &mut Vec<T>,
            ) {
                out.extend_from_slice(u);
                out.extend_from_slice(c.u1.as_ref());
                for kd in &c.kd[..<$ty as RodasMethod>::TABLEAU.h.len()] {
                    out.extend_from_slice(kd.as_ref());
                }
            }

            fn dense_fn<T: Scalar>() -> DenseFn<T> {
                rodas_dense_eval::<$ty, T>
            }
        }
    )*};
}

rodas_ode_method!(Rodas4, Rodas5P);
