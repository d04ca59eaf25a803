//! Rosenbrock23: the Shampine–Reichelt `ode23s` pair (order 2 with an
//! order-3 error estimate), L-stable, with its second-order dense output.

use crate::dim::Dim;
use crate::methods::implicit::{Part, WOperator};
use crate::methods::{DenseFn, ErrorScale, MethodInfo, OdeMethod, Rhs, Setup};
use crate::problem::{MassMatrix, OdeFunction};
use crate::scalar::Scalar;

/// Rosenbrock23 (Shampine & Reichelt, "The MATLAB ODE suite", 1997): a
/// linearly implicit 2(3) method, L-stable, cheap per step, robust at loose
/// tolerances and with oscillating stiff components. Also the stiff partner
/// of automatic stiffness switching.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rosenbrock23;

/// `d = 1 / (2 + √2)`.
const D: f64 = 0.2928932188134525;
/// `c32 = 6 + √2`.
const C32: f64 = 7.414213562373095;

/// Working memory of a Rosenbrock23 solve.
pub struct Ros23Cache<T: Scalar, D: Dim> {
    n: usize,
    /// `f` at the step's start (FSAL: `f` at the previous step's end).
    f0: D::Vector<T>,
    f1: D::Vector<T>,
    /// `f` at the step's end.
    f2: D::Vector<T>,
    k1: D::Vector<T>,
    k2: D::Vector<T>,
    k3: D::Vector<T>,
    tmp: D::Vector<T>,
    dtdt: D::Vector<T>,
    w: WOperator<T>,
    mass: MassMatrix,
}

/// `y0 + dt (c1 k1 + c2 k2)` with `c1 = θ(1-θ)/(1-2d)`, `c2 = θ(θ-2d)/(1-2d)`.
fn dense<T: Scalar>(theta: T, dt: T, y0: &[T], k1: &[T], k2: &[T], out: &mut [T]) {
    let denom = 1.0 / (1.0 - 2.0 * D);
    let c1 = (theta * (T::one() - theta)).scaled(denom) * dt;
    let c2 = (theta * (theta - T::cst(2.0 * D))).scaled(denom) * dt;
    for (((o, &y), &a), &b) in out.iter_mut().zip(y0).zip(k1).zip(k2) {
        *o = y + c1 * a + c2 * b;
    }
}

fn dense_eval<T: Scalar>(theta: T, dt: T, data: &[T], out: &mut [T]) {
    let n = out.len();
    dense(
        theta,
        dt,
        &data[..n],
        &data[n..2 * n],
        &data[2 * n..3 * n],
        out,
    );
}

impl OdeMethod for Rosenbrock23 {
    type Cache<T: Scalar, D: Dim> = Ros23Cache<T, D>;

    fn info(&self) -> MethodInfo {
        MethodInfo {
            name: "Rosenbrock23",
            order: 2,
            error_order: Some(2),
            dense_order: 2,
            mass_matrix: true,
            reuses_factorizations: false,
            stability_size: 0.0,
        }
    }

    fn new_cache<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        dim: D,
        setup: &Setup<'_, F, T>,
    ) -> Ros23Cache<T, D> {
        Ros23Cache {
            n: dim.size(),
            f0: dim.zeros(),
            f1: dim.zeros(),
            f2: dim.zeros(),
            k1: dim.zeros(),
            k2: dim.zeros(),
            k3: dim.zeros(),
            tmp: dim.zeros(),
            dtdt: dim.zeros(),
            w: WOperator::new(setup, Part::Full),
            mass: setup.mass.clone(),
        }
    }

    fn start<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut Ros23Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        u: &[T],
    ) {
        rhs.eval(c.f0.as_mut(), u, t);
    }

    fn derivative<'c, T: Scalar, D: Dim>(&self, c: &'c Ros23Cache<T, D>) -> &'c [T] {
        c.f0.as_ref()
    }

    fn step<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut Ros23Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        dt: T,
        u: &[T],
        u_new: &mut [T],
        scale: Option<&ErrorScale>,
    ) -> f64 {
        c.w.update_jacobian(rhs, u, t);
        c.w.time_derivative(rhs, u, t, c.dtdt.as_mut());
        let gamma_dt = dt.scaled(D);
        if c.w.factor(rhs, &c.mass, gamma_dt).is_err() {
            return f64::INFINITY;
        }
        // k1 = W⁻¹ (f0 + dt d ∂f/∂t)
        for ((k, &f), &ft) in
            c.k1.as_mut()
                .iter_mut()
                .zip(c.f0.as_ref())
                .zip(c.dtdt.as_ref())
        {
            *k = f + gamma_dt * ft;
        }
        c.w.solve(rhs, c.k1.as_mut());
        // f1 = f(t + dt/2, u + dt/2 k1)
        let half = dt.scaled(0.5);
        for ((x, &a), &k) in c.tmp.as_mut().iter_mut().zip(u).zip(c.k1.as_ref()) {
            *x = a + half * k;
        }
        rhs.eval(c.f1.as_mut(), c.tmp.as_ref(), t + half);
        // k2 = W⁻¹ (f1 - M k1) + k1
        c.mass.apply(c.k1.as_ref(), c.tmp.as_mut());
        for ((k, &f), &mk) in
            c.k2.as_mut()
                .iter_mut()
                .zip(c.f1.as_ref())
                .zip(c.tmp.as_ref())
        {
            *k = f - mk;
        }
        c.w.solve(rhs, c.k2.as_mut());
        for (k, &k1) in c.k2.as_mut().iter_mut().zip(c.k1.as_ref()) {
            *k += k1;
        }
        for ((o, &a), &k) in u_new.iter_mut().zip(u).zip(c.k2.as_ref()) {
            *o = a + dt * k;
        }
        // f at the new point: the next step's f0, and the error estimate's stage.
        rhs.eval(c.f2.as_mut(), u_new, t + dt);
        let Some(scale) = scale else { return 0.0 };
        // k3 = W⁻¹ (f2 - M (c32 k2 + 2 k1) + c32 f1 + 2 f0 + dt d ∂f/∂t)
        // (the paper's `h d T` term, which keeps the estimate third order for
        // time-dependent f).
        for ((x, &k2), &k1) in c
            .tmp
            .as_mut()
            .iter_mut()
            .zip(c.k2.as_ref())
            .zip(c.k1.as_ref())
        {
            *x = k2.scaled(C32) + k1.scaled(2.0);
        }
        c.mass.apply(c.tmp.as_ref(), c.k3.as_mut());
        for (m, k) in c.k3.as_mut().iter_mut().enumerate() {
            *k = c.f2.as_ref()[m] - *k
                + c.f1.as_ref()[m].scaled(C32)
                + c.f0.as_ref()[m].scaled(2.0)
                + gamma_dt * c.dtdt.as_ref()[m];
        }
        c.w.solve(rhs, c.k3.as_mut());
        // err = dt/6 (k1 - 2 k2 + k3)
        let sixth = dt.real() / 6.0;
        let mut sum = 0.0;
        for (i, (a, b)) in u.iter().zip(u_new.iter()).enumerate() {
            let e = sixth
                * (c.k1.as_ref()[i].real() - 2.0 * c.k2.as_ref()[i].real()
                    + c.k3.as_ref()[i].real());
            let r = e / scale.weight(i, a.real(), b.real());
            sum += r * r;
        }
        sum / c.n as f64
    }

    fn accept<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut Ros23Cache<T, D>,
        _rhs: &mut Rhs<F, T>,
        _t: T,
        _u: &[T],
    ) {
        let (f0, f2) = (&mut c.f0, &c.f2);
        f0.as_mut().copy_from_slice(f2.as_ref());
    }

    fn interpolate<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut Ros23Cache<T, D>,
        _rhs: &mut Rhs<F, T>,
        _t: T,
        dt: T,
        u: &[T],
        theta: T,
        out: &mut [T],
    ) {
        dense(theta, dt, u, c.k1.as_ref(), c.k2.as_ref(), out);
    }

    fn stiffness_estimate<T: Scalar, D: Dim>(&self, c: &Ros23Cache<T, D>) -> Option<f64> {
        Some(c.w.jacobian_inf_norm())
    }

    fn dense_width(&self, n: usize) -> usize {
        3 * n
    }

    fn write_dense<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut Ros23Cache<T, D>,
        _rhs: &mut Rhs<F, T>,
        _t: T,
        _dt: T,
        u: &[T],
        out: &mut Vec<T>,
    ) {
        out.extend_from_slice(u);
        out.extend_from_slice(c.k1.as_ref());
        out.extend_from_slice(c.k2.as_ref());
    }

    fn dense_fn<T: Scalar>() -> DenseFn<T> {
        dense_eval::<T>
    }
}
