//! Vector–Jacobian products of a right-hand side: the function's own
//! ([`OdeFunction::vjp`]) when it has them, otherwise forward-mode AD on its
//! generic `rhs`, one dual pass per state and per parameter.

use crate::problem::OdeFunction;
use crate::scalar::Scalar;

/// Working memory for AD vector–Jacobian products (allocated once, reused).
#[derive(Clone, Debug)]
pub struct VjpWork<T: Scalar> {
    u: Vec<T::Dual>,
    p: Vec<T::Dual>,
    du: Vec<T::Dual>,
    /// Products computed so far.
    pub count: usize,
}

impl<T: Scalar> VjpWork<T> {
    /// Memory for `n` states and `np` parameters.
    pub fn new(n: usize, np: usize) -> Self {
        let zero = T::dual(T::zero(), T::zero());
        Self {
            u: vec![zero; n],
            p: vec![zero; np],
            du: vec![zero; n],
            count: 0,
        }
    }
}

/// `vᵀ ∂f/∂u` into `vu`, `vᵀ ∂f/∂p` into `vp` (both overwritten) and, when
/// `vt` is given, `vᵀ ∂f/∂t` into it, at `(u, p, t)`.
#[allow(clippy::too_many_arguments)]
pub fn vjp<F: OdeFunction, T: Scalar>(
    f: &F,
    v: &[T],
    u: &[T],
    p: &[T],
    t: T,
    vu: &mut [T],
    vp: &mut [T],
    mut vt: Option<&mut T>,
    work: &mut VjpWork<T>,
) {
    work.count += 1;
    if f.vjp(v, u, p, t, vu, vp, vt.as_deref_mut()) {
        return;
    }
    let lift = |x: T| T::dual(x, T::zero());
    for (d, &x) in work.u.iter_mut().zip(u) {
        *d = lift(x);
    }
    for (d, &x) in work.p.iter_mut().zip(p) {
        *d = lift(x);
    }
    let td = lift(t);
    // vᵀ (∂f/∂x_j) = Σ_i v_i ∂f_i/∂x_j: one dual pass per input x_j.
    let dot = |du: &[T::Dual]| {
        du.iter()
            .zip(v)
            .fold(T::zero(), |acc, (&d, &vi)| acc + T::dual_parts(d).1 * vi)
    };
    for j in 0..u.len() {
        work.u[j] = T::dual(u[j], T::one());
        f.rhs(&mut work.du, &work.u, &work.p, td);
        work.u[j] = lift(u[j]);
        vu[j] = dot(&work.du);
    }
    for j in 0..p.len() {
        work.p[j] = T::dual(p[j], T::one());
        f.rhs(&mut work.du, &work.u, &work.p, td);
        work.p[j] = lift(p[j]);
        vp[j] = dot(&work.du);
    }
    if let Some(vt) = vt {
        f.rhs(&mut work.du, &work.u, &work.p, T::dual(t, T::one()));
        *vt = dot(&work.du);
    }
}

/// `∂f/∂u` (row-major `n × n`) and `∂f/∂p` (row-major `n × np`) at
/// `(u, p, t)`, one dual pass per column (allocates: for occasional use,
/// such as the Jacobian of an adjoint system).
pub(crate) fn jacobians<F: OdeFunction>(
    f: &F,
    u: &[f64],
    p: &[f64],
    t: f64,
    jf: &mut [f64],
    fp: &mut [f64],
) {
    use num_dual::Dual64;
    let (n, np) = (u.len(), p.len());
    let mut ud: Vec<Dual64> = u.iter().map(|&x| Dual64::from_re(x)).collect();
    let mut pd: Vec<Dual64> = p.iter().map(|&x| Dual64::from_re(x)).collect();
    let mut du = vec![Dual64::from_re(0.0); n];
    let td = Dual64::from_re(t);
    for j in 0..n {
        ud[j].eps = 1.0;
        f.rhs(&mut du, &ud, &pd, td);
        ud[j].eps = 0.0;
        for i in 0..n {
            jf[i * n + j] = du[i].eps;
        }
    }
    for j in 0..np {
        pd[j].eps = 1.0;
        f.rhs(&mut du, &ud, &pd, td);
        pd[j].eps = 0.0;
        for i in 0..n {
            fp[i * np + j] = du[i].eps;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Lv;
    impl OdeFunction for Lv {
        fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
            du[0] = p[0] * u[0] - p[1] * u[0] * u[1] + t * t;
            du[1] = -p[2] * u[1] + p[3] * u[0] * u[1];
        }
    }

    #[test]
    fn ad_products_match_the_analytic_jacobian() {
        let (u, p, t, v) = ([1.3, 0.7], [1.5, 1.0, 3.0, 1.0], 0.4, [0.3, -1.1]);
        let (mut vu, mut vp, mut vt) = ([0.0; 2], [0.0; 4], 0.0);
        let mut work = VjpWork::new(2, 4);
        vjp(
            &Lv,
            &v,
            &u,
            &p,
            t,
            &mut vu,
            &mut vp,
            Some(&mut vt),
            &mut work,
        );
        let ju = [
            [p[0] - p[1] * u[1], -p[1] * u[0]],
            [p[3] * u[1], -p[2] + p[3] * u[0]],
        ];
        for j in 0..2 {
            let want = v[0] * ju[0][j] + v[1] * ju[1][j];
            assert!((vu[j] - want).abs() < 1e-14);
        }
        let jp = [
            [u[0], -u[0] * u[1], 0.0, 0.0],
            [0.0, 0.0, -u[1], u[0] * u[1]],
        ];
        for j in 0..4 {
            let want = v[0] * jp[0][j] + v[1] * jp[1][j];
            assert!((vp[j] - want).abs() < 1e-14);
        }
        assert!((vt - v[0] * 2.0 * t).abs() < 1e-14);
    }
}
