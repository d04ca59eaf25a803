//! Diagonally implicit Runge–Kutta methods (ESDIRK), each a tableau driven
//! by one engine: stage-by-stage simplified Newton on `W = I - γhJ` with the
//! Jacobian and factors reused across steps while they keep Newton fast, an
//! embedded error estimate `Σ (bhat - b) z` (filtered through `W⁻¹`, after
//! Shampine, where the embedded method is unstable for stiff components),
//! and IMEX stepping for split problems when the tableau has an explicit
//! partner.

mod methods;
mod tableau;

pub use methods::{ImplicitEuler, KenCarp4, Trapezoid, Trbdf2};
pub use tableau::SdirkTableau;

use super::implicit::{Newton, NewtonOutcome, Part, WOperator, weights_into};
use super::{DenseFn, ErrorScale, MethodInfo, OdeMethod, Rhs, Setup};
use crate::dim::Dim;
use crate::problem::{MassMatrix, OdeFunction};
use crate::scalar::Scalar;
use crate::solve::Tolerance;

/// The most stages an ESDIRK tableau may have.
pub const MAX_STAGES: usize = 8;

/// Refactor `W` when `γh` has moved by more than this fraction. The loop
/// keeps `h` through small changes, so refactoring is rare anyway, and an
/// out-of-date `γh` slows Newton on very stiff components (its contraction
/// rate is about the relative change).
const REFACTOR_RATIO: f64 = 1e-12;
/// Refresh the Jacobian for the next step when Newton contracted slower than this.
const SLOW_RATE: f64 = 0.2;

/// A diagonally implicit method given by its tableau.
pub trait SdirkMethod: Copy {
    /// The method's coefficients.
    const TABLEAU: SdirkTableau;
}

/// Working memory of an ESDIRK solve.
pub struct SdirkCache<T: Scalar, D: Dim> {
    n: usize,
    /// Stage increments `z_i = h f_stiff(Y_i)` (the whole `f` when not IMEX).
    z: [D::Vector<T>; MAX_STAGES],
    /// Explicit increments `h f_nonstiff(Y_i)` (IMEX only).
    ke: [D::Vector<T>; MAX_STAGES],
    base: D::Vector<T>,
    /// `f` at the current point, and its parts when IMEX.
    f0: D::Vector<T>,
    f0_stiff: D::Vector<T>,
    f0_nonstiff: D::Vector<T>,
    est: D::Vector<T>,
    weights: Vec<f64>,
    w: WOperator<T>,
    newton: Newton<T>,
    rtol: Tolerance,
    atol: Tolerance,
    imex: bool,
    refresh_jacobian: bool,
}

/// `out = base + Σ_j a_j v_j`.
fn combine_into<T: Scalar>(out: &mut [T], base: &[T], coeffs: &[f64], v: &[impl AsRef<[T]>]) {
    out.copy_from_slice(base);
    for (&a, vj) in coeffs.iter().zip(v) {
        if a != 0.0 {
            for (o, &x) in out.iter_mut().zip(vj.as_ref()) {
                *o += x.scaled(a);
            }
        }
    }
}

/// Implements [`OdeMethod`] for ESDIRK method types through the shared
/// engine (a blanket impl would overlap the explicit methods' one).
macro_rules! sdirk_ode_method {
    ($($ty:ty),* $(,)?) => {$(
        impl OdeMethod for $ty {
            type Cache<T: Scalar, D: Dim> = SdirkCache<T, D>;

            fn info(&self) -> MethodInfo {
                let t = &<$ty as SdirkMethod>::TABLEAU;
                MethodInfo {
                    name: t.name,
                    order: t.order,
                    error_order: Some(t.error_order),
                    dense_order: t.dense_order,
                    mass_matrix: false,
                    reuses_factorizations: true,
                    stability_size: 0.0,
                }
            }

            fn new_cache<F: OdeFunction, T: Scalar, D: Dim>(&self, dim: D, setup: &Setup<'_, F, T>) -> SdirkCache<T, D> {
                let tab = &<$ty as SdirkMethod>::TABLEAU;
                assert!(tab.stages() <= MAX_STAGES, "{}: more than {MAX_STAGES} stages", tab.name);
                let imex = setup.f.is_split() && !tab.a_explicit.is_empty();
                let stage = |j: usize| if j < tab.stages() { dim.zeros() } else { dim.unused() };
                SdirkCache {
                    n: dim.size(),
                    z: std::array::from_fn(stage),
                    ke: std::array::from_fn(|j| if imex { stage(j) } else { dim.unused() }),
                    base: dim.zeros(),
                    f0: dim.zeros(),
                    f0_stiff: dim.zeros(),
                    f0_nonstiff: dim.zeros(),
                    est: dim.zeros(),
                    weights: vec![0.0; dim.size()],
                    w: WOperator::new(setup, if imex { Part::Stiff } else { Part::Full }),
                    newton: Newton::new(dim.size()),
                    rtol: setup.opts.rtol.clone(),
                    atol: setup.opts.atol.clone(),
                    imex,
                    refresh_jacobian: true,
                }
            }

            fn start<F: OdeFunction, T: Scalar, D: Dim>(&self, c: &mut SdirkCache<T, D>, rhs: &mut Rhs<F, T>, t: T, u: &[T]) {
                evaluate_at::<F, T, D>(c, rhs, t, u);
            }

            fn derivative<'c, T: Scalar, D: Dim>(&self, c: &'c SdirkCache<T, D>) -> &'c [T] {
                c.f0.as_ref()
            }

            fn step<F: OdeFunction, T: Scalar, D: Dim>(
                &self,
                c: &mut SdirkCache<T, D>,
                rhs: &mut Rhs<F, T>,
                t: T,
                dt: T,
                u: &[T],
                u_new: &mut [T],
                scale: Option<&ErrorScale>,
            ) -> f64 {
                let tab = &<$ty as SdirkMethod>::TABLEAU;
                let s = tab.stages();
                let part = if c.imex { Part::Stiff } else { Part::Full };
                weights_into(&mut c.weights, &c.rtol, &c.atol, u.iter().map(|x| x.real()));
                if c.refresh_jacobian {
                    c.w.update_jacobian(rhs, u, t);
                    c.refresh_jacobian = false;
                }
                let gamma_dt = dt.scaled(tab.gamma);
                let stale = match c.w.factored_gamma_dt() {
                    None => true,
                    Some(g) => (gamma_dt.real() / g - 1.0).abs() > REFACTOR_RATIO,
                };
                if stale && c.w.factor(rhs, &MassMatrix::Identity, gamma_dt).is_err() {
                    return f64::INFINITY;
                }
                let mut slowest = 0.0_f64;
                let converged = loop {
                    match stages::<$ty, F, T, D>(c, rhs, part, t, dt, u) {
                        Some(rate) => {
                            slowest = rate;
                            break true;
                        }
                        None if !c.w.jacobian_fresh => {
                            // Retry once with a Jacobian at this point.
                            c.w.update_jacobian(rhs, u, t);
                            if c.w.factor(rhs, &MassMatrix::Identity, gamma_dt).is_err() {
                                break false;
                            }
                        }
                        None => break false,
                    }
                };


                if !converged {
                    c.refresh_jacobian = true;
                    return f64::INFINITY;
                }
                if slowest > SLOW_RATE {
                    c.refresh_jacobian = true;
                }
                // The new solution.
                if tab.stiffly_accurate && !c.imex {
                    for ((o, &b), &z) in u_new.iter_mut().zip(c.base.as_ref()).zip(c.z[s - 1].as_ref()) {
                        *o = b + z.scaled(tab.gamma);
                    }
                } else {
                    u_new.copy_from_slice(u);
                    for i in 0..s {
                        add_stage(u_new, tab.b[i], c.z[i].as_ref(), c.imex.then(|| c.ke[i].as_ref()));
                    }
                }
                let Some(scale) = scale else { return 0.0 };
                // The estimate Σ (bhat - b)_i z_i, filtered through W⁻¹ (Shampine)
        // when the embedded method is not stable for stiff components.
                let est = c.est.as_mut();
                est.fill(T::zero());
                for i in 0..s {
                    add_stage(est, tab.btilde[i], c.z[i].as_ref(), c.imex.then(|| c.ke[i].as_ref()));
                }
                if tab.filter_error {
                    c.w.solve(rhs, est);
                }
                let mut sum = 0.0;
                for (i, ((e, a), b)) in est.iter().zip(u).zip(u_new.iter()).enumerate() {
                    let r = e.real() / scale.weight(i, a.real(), b.real());
                    sum += r * r;
                }
                sum / c.n as f64
            }

            fn accept<F: OdeFunction, T: Scalar, D: Dim>(&self, c: &mut SdirkCache<T, D>, rhs: &mut Rhs<F, T>, t_new: T, u_new: &[T]) {
                evaluate_at::<F, T, D>(c, rhs, t_new, u_new);
                c.w.jacobian_fresh = false;
            }

            fn interpolate<F: OdeFunction, T: Scalar, D: Dim>(
                &self,
                c: &mut SdirkCache<T, D>,
                _rhs: &mut Rhs<F, T>,
                _t: T,
                _dt: T,
                u: &[T],
                theta: T,
                out: &mut [T],
            ) {
                let tab = &<$ty as SdirkMethod>::TABLEAU;
                out.copy_from_slice(u);
                for i in 0..tab.stages() {
                    let w = horner(&tab.b_theta[i], theta);
                    for (o, (&z, k)) in out.iter_mut().zip(c.z[i].as_ref().iter().zip(ke_or_zero(c, i))) {
                        *o += w * (z + k);
                    }
                }
            }

            fn dense_width(&self, n: usize) -> usize {
                (1 + <$ty as SdirkMethod>::TABLEAU.stages()) * n
            }

            fn write_dense<F: OdeFunction, T: Scalar, D: Dim>(
                &self,
                c: &mut SdirkCache<T, D>,
                _rhs: &mut Rhs<F, T>,
                _t: T,
                _dt: T,
                u: &[T],
                out: &mut Vec<T>,
            ) {
                out.extend_from_slice(u);
                for i in 0..<$ty as SdirkMethod>::TABLEAU.stages() {
                    out.extend(c.z[i].as_ref().iter().zip(ke_or_zero(c, i)).map(|(&z, k)| z + k));
                }
            }

            fn dense_fn<T: Scalar>() -> DenseFn<T> {
                dense_eval::<$ty, T>
            }
        }
    )*};
}

sdirk_ode_method!(ImplicitEuler, Trapezoid, Trbdf2, KenCarp4);

/// The explicit increments of stage `i`, or zeros when not IMEX.
fn ke_or_zero<T: Scalar, D: Dim>(c: &SdirkCache<T, D>, i: usize) -> impl Iterator<Item = T> + '_ {
    let ke = c.imex.then(|| c.ke[i].as_ref());
    (0..c.n).map(move |m| ke.map_or(T::zero(), |k| k[m]))
}

/// `out += a (z + ke)`.
fn add_stage<T: Scalar>(out: &mut [T], a: f64, z: &[T], ke: Option<&[T]>) {
    if a == 0.0 {
        return;
    }
    for (m, o) in out.iter_mut().enumerate() {
        let v = match ke {
            Some(k) => z[m] + k[m],
            None => z[m],
        };
        *o += v.scaled(a);
    }
}

fn horner<T: Scalar>(coeffs: &[f64], theta: T) -> T {
    let mut acc = T::zero();
    for &c in coeffs.iter().rev() {
        acc = acc * theta + T::cst(c);
    }
    acc * theta
}

fn dense_eval<M: SdirkMethod, T: Scalar>(theta: T, _dt: T, data: &[T], out: &mut [T]) {
    let n = out.len();
    let tab = &M::TABLEAU;
    out.copy_from_slice(&data[..n]);
    for i in 0..tab.stages() {
        let w = horner(&tab.b_theta[i], theta);
        for (o, &z) in out.iter_mut().zip(&data[(1 + i) * n..(2 + i) * n]) {
            *o += w * z;
        }
    }
}

/// `f` (and its parts, for IMEX) at `(t, u)`.
fn evaluate_at<F: OdeFunction, T: Scalar, D: Dim>(
    c: &mut SdirkCache<T, D>,
    rhs: &mut Rhs<F, T>,
    t: T,
    u: &[T],
) {
    if c.imex {
        rhs.eval_stiff(c.f0_stiff.as_mut(), u, t);
        rhs.eval_nonstiff(c.f0_nonstiff.as_mut(), u, t);
        for ((f, &a), &b) in
            c.f0.as_mut()
                .iter_mut()
                .zip(c.f0_stiff.as_ref())
                .zip(c.f0_nonstiff.as_ref())
        {
            *f = a + b;
        }
    } else {
        rhs.eval(c.f0.as_mut(), u, t);
    }
}

/// All stages of one step; the slowest Newton contraction rate, or `None`
/// if a stage failed to converge.
fn stages<M: SdirkMethod, F: OdeFunction, T: Scalar, D: Dim>(
    c: &mut SdirkCache<T, D>,
    rhs: &mut Rhs<F, T>,
    part: Part,
    t: T,
    dt: T,
    u: &[T],
) -> Option<f64> {
    let tab = &M::TABLEAU;
    let s = tab.stages();
    // Stage 0 is explicit: z_0 = h f(t, u).
    let first = if c.imex {
        c.f0_stiff.as_ref()
    } else {
        c.f0.as_ref()
    };
    for (z, &f) in c.z[0].as_mut().iter_mut().zip(first) {
        *z = dt * f;
    }
    if c.imex {
        for (k, &f) in c.ke[0].as_mut().iter_mut().zip(c.f0_nonstiff.as_ref()) {
            *k = dt * f;
        }
    }
    let mut slowest = 0.0_f64;
    for i in 1..s {
        let (done, rest) = c.z.split_at_mut(i);
        let zi = rest[0].as_mut();
        combine_into(c.base.as_mut(), u, tab.a[i], done);
        if c.imex {
            let base = c.base.as_mut();
            for (j, &a) in tab.a_explicit[i].iter().enumerate() {
                if a != 0.0 {
                    for (b, &k) in base.iter_mut().zip(c.ke[j].as_ref()) {
                        *b += k.scaled(a);
                    }
                }
            }
        }
        // Start from the previous stage: extrapolating the stages (Hermite
        // predictors) overshoots on stiff quasi-steady components and makes
        // Newton fail far more often (measured on ROBER).
        zi.copy_from_slice(done[i - 1].as_ref());
        let ti = t + dt.scaled(tab.c[i]);
        match c.newton.solve_stage(
            &mut c.w,
            rhs,
            part,
            ti,
            dt,
            tab.gamma,
            c.base.as_ref(),
            zi,
            &c.weights,
        ) {
            NewtonOutcome::Converged { rate, .. } => slowest = slowest.max(rate),
            NewtonOutcome::Failed => return None,
        }
        if c.imex {
            // Y_i = base + γ z_i; the explicit increment at it.
            let y = c.est.as_mut();
            for ((y, &b), &z) in y.iter_mut().zip(c.base.as_ref()).zip(rest[0].as_ref()) {
                *y = b + z.scaled(tab.gamma);
            }
            let ke = c.ke[i].as_mut();
            rhs.eval_nonstiff(ke, c.est.as_ref(), ti);
            for k in ke.iter_mut() {
                *k *= dt;
            }
        }
    }
    Some(slowest)
}
