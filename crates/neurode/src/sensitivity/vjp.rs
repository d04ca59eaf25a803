//! Vector–Jacobian products of a right-hand side: the function's own
//! ([`OdeFunction::vjp`]) when it has them, otherwise forward-mode AD on its
//! generic `rhs`. In `f64`, eight input directions (states, parameters,
//! time) ride in one vector-dual pass; other scalar types take one dual
//! pass per input.

use super::lanes::{LANES, Lanes, pull, seed};
use crate::problem::OdeFunction;
use crate::scalar::Scalar;

/// Working memory for AD vector–Jacobian products (allocated once, reused).
#[derive(Clone, Debug)]
pub struct VjpWork<T: Scalar> {
    u: Vec<T::Dual>,
    p: Vec<T::Dual>,
    du: Vec<T::Dual>,
    /// The `f64` path's vector duals, sized on first use.
    lanes: LaneWork,
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
            lanes: LaneWork::default(),
            count: 0,
        }
    }
}

/// `vᵀ ∂f/∂u` into `vu`, `vᵀ ∂f/∂p` into `vp` (both overwritten) and, when
/// `vt` is given, `vᵀ ∂f/∂t` into it, at `(u, p, t)`.
#[allow(clippy::too_many_arguments)]
#[inline]
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
    if let (Some(v), Some(u), Some(p), Some(vu), Some(vp)) = (
        T::as_f64_slice(v),
        T::as_f64_slice(u),
        T::as_f64_slice(p),
        T::as_f64_slice_mut(vu),
        T::as_f64_slice_mut(vp),
    ) {
        let vt = vt.and_then(|vt| T::as_f64_slice_mut(std::slice::from_mut(vt)));
        let vt = vt.and_then(|vt| vt.first_mut());
        vjp_lanes(f, v, u, p, t.real(), vu, vp, vt, &mut work.lanes);
        return;
    }
    let lift = |x: T| T::dual(x, T::zero());
    // The output may be longer than the state (a general noise matrix).
    work.du.resize(v.len(), lift(T::zero()));
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

/// The vector duals of [`vjp_lanes`].
#[derive(Clone, Debug, Default)]
struct LaneWork {
    u: Vec<Lanes>,
    p: Vec<Lanes>,
    du: Vec<Lanes>,
    /// `(n, np)` when the inputs hold the seeds of a pass along every
    /// state and parameter ([`one_pass`]): later such passes only replace
    /// the values.
    seeded: Option<(usize, usize)>,
}

/// [`vjp`] in `f64`: every input is a direction, [`LANES`] of them per pass
/// of `rhs` in vector duals, so a small system (Lotka–Volterra: 2 states, 4
/// parameters) takes one pass instead of six.
#[allow(clippy::too_many_arguments)]
#[inline]
fn vjp_lanes<F: OdeFunction>(
    f: &F,
    v: &[f64],
    u: &[f64],
    p: &[f64],
    t: f64,
    vu: &mut [f64],
    vp: &mut [f64],
    mut vt: Option<&mut f64>,
    w: &mut LaneWork,
) {
    let (n, np) = (u.len(), p.len());
    let directions = n + np + usize::from(vt.is_some());
    if directions <= LANES {
        let (_, acc) = one_pass_product(f, v, u, p, t, w);
        // As whole slices (element-by-element stores read back as vectors
        // stall the loads that follow).
        vu.copy_from_slice(&acc[..n]);
        vp.copy_from_slice(&acc[n..n + np]);
        if let Some(vt) = vt {
            *vt = acc[n + np];
        }
        return;
    }
    w.u.resize(n, Lanes::constant(0.0));
    w.p.resize(np, Lanes::constant(0.0));
    w.seeded = None;
    // The output may be longer than the state (a general noise matrix).
    w.du.resize(v.len(), Lanes::constant(0.0));
    for first in (0..directions).step_by(LANES) {
        for (j, (d, &x)) in w.u.iter_mut().zip(u).enumerate() {
            *d = seed(x, j, first);
        }
        for (j, (d, &x)) in w.p.iter_mut().zip(p).enumerate() {
            *d = seed(x, n + j, first);
        }
        f.rhs(&mut w.du, &w.u, &w.p, seed(t, n + np, first));
        let mut acc = [0.0; LANES];
        pull(v, &w.du, &mut acc);
        // This pass's lanes, as runs of whole slices (see above).
        let end = (first + LANES).min(directions);
        let (lo, hi) = (first.min(n), end.min(n));
        if lo < hi {
            vu[lo..hi].copy_from_slice(&acc[lo - first..hi - first]);
        }
        let (lo, hi) = (first.clamp(n, n + np), end.clamp(n, n + np));
        if lo < hi {
            vp[lo - n..hi - n].copy_from_slice(&acc[lo - first..hi - first]);
        }
        if let Some(vt) = vt.as_deref_mut()
            && (first..end).contains(&(n + np))
        {
            *vt = acc[n + np - first];
        }
    }
}

/// Whether one pass of vector duals holds the derivatives of a system of
/// `n` states and `np` parameters (and time, `with_t`).
pub(crate) fn fits_one_pass(n: usize, np: usize, with_t: bool) -> bool {
    n + np + usize::from(with_t) <= LANES
}

/// The derivatives of `f` at `(u, p, t)` along every state, parameter and
/// time, in one pass of vector duals: `out[i].eps[k]` is `∂f_i/∂x_k` for
/// `x = (u, p, t)`. The directions must fit one pass ([`fits_one_pass`]).
///
/// Why: a product `vᵀ ∂f` needs `v`, the Jacobian does not. Where a chain
/// of products waits on each one's `v` (a discrete adjoint's stages), the
/// Jacobians can be taken ahead, out of that chain, leaving it a few
/// multiply-adds per link.
pub(crate) fn lane_jacobian<F: OdeFunction>(
    f: &F,
    u: &[f64],
    p: &[f64],
    t: f64,
    out: &mut [Lanes],
    work: &mut VjpWork<f64>,
) {
    out.copy_from_slice(one_pass(f, u, p, t, out.len(), &mut work.lanes));
}

/// `scale · vᵀ ∂f/∂u` into `vu`, `scale · vᵀ ∂f/∂p` into `vp` and, when
/// `fu` is given, `f(u, p, t)` into it: the products of an adjoint
/// system's right-hand side (`scale = -1`), written where that system
/// wants them. A function without its own products whose directions fit
/// one pass of vector duals gets `f` from that pass's real parts, free.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn adjoint_products<F: OdeFunction>(
    f: &F,
    v: &[f64],
    u: &[f64],
    p: &[f64],
    t: f64,
    scale: f64,
    fu: Option<&mut [f64]>,
    vu: &mut [f64],
    vp: &mut [f64],
    work: &mut VjpWork<f64>,
) {
    let (n, np) = (u.len(), p.len());
    work.count += 1;
    if f.vjp(v, u, p, t, vu, vp, None) {
        vu.iter_mut().chain(vp.iter_mut()).for_each(|x| *x *= scale);
        if let Some(fu) = fu {
            f.rhs(fu, u, p, t);
        }
        return;
    }
    if v.len() == n && fits_one_pass(n, np, false) {
        let (du, acc) = one_pass_product(f, v, u, p, t, &mut work.lanes);
        for (d, &a) in vu.iter_mut().zip(&acc[..n]) {
            *d = scale * a;
        }
        for (d, &a) in vp.iter_mut().zip(&acc[n..]) {
            *d = scale * a;
        }
        if let Some(fu) = fu {
            for (d, x) in fu.iter_mut().zip(du) {
                *d = x.re;
            }
        }
        return;
    }
    vjp_lanes(f, v, u, p, t, vu, vp, None, &mut work.lanes);
    vu.iter_mut().chain(vp.iter_mut()).for_each(|x| *x *= scale);
    if let Some(fu) = fu {
        f.rhs(fu, u, p, t);
    }
}

/// [`one_pass`] pulled back by `v`: the pass's outputs, and `vᵀ ∂f` along
/// each of its lanes (states, parameters, time).
#[inline]
fn one_pass_product<'w, F: OdeFunction>(
    f: &F,
    v: &[f64],
    u: &[f64],
    p: &[f64],
    t: f64,
    w: &'w mut LaneWork,
) -> (&'w [Lanes], [f64; LANES]) {
    let du = one_pass(f, u, p, t, v.len(), w);
    let mut acc = [0.0; LANES];
    pull(v, du, &mut acc);
    (du, acc)
}

/// Evaluates `f` once over vector duals seeded along every state and
/// parameter (and time, in lane `n + np` when there is room), `outputs`
/// components, and returns them. The directions must fit one pass.
#[inline]
fn one_pass<'w, F: OdeFunction>(
    f: &F,
    u: &[f64],
    p: &[f64],
    t: f64,
    outputs: usize,
    w: &'w mut LaneWork,
) -> &'w [Lanes] {
    let (n, np) = (u.len(), p.len());
    debug_assert!(fits_one_pass(n, np, false));
    // Seeds kept from the last pass of this shape: new values only.
    if w.seeded == Some((n, np)) {
        for (d, &x) in w.u.iter_mut().zip(u) {
            d.re = x;
        }
        for (d, &x) in w.p.iter_mut().zip(p) {
            d.re = x;
        }
    } else {
        w.u.clear();
        w.u.extend(u.iter().enumerate().map(|(j, &x)| seed(x, j, 0)));
        w.p.clear();
        w.p.extend(p.iter().enumerate().map(|(j, &x)| seed(x, n + j, 0)));
        w.seeded = Some((n, np));
    }
    w.du.resize(outputs, Lanes::constant(0.0));
    f.rhs(&mut w.du, &w.u, &w.p, seed(t, n + np, 0));
    &w.du
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

    /// Three states, seven parameters: more directions than one pass holds.
    struct Wide;
    impl OdeFunction for Wide {
        fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
            du[0] = p[0] * u[0] * u[1] + p[1] * u[2].sin() + p[6] * t;
            du[1] = p[2] * u[1].exp() - p[3] * u[0] * u[2];
            du[2] = p[4] * u[2] * u[2] + p[5] * (u[0] + t * p[6]).tanh();
        }
    }

    /// `vjp` against the Jacobians taken column by column.
    fn check_against_jacobians<F: OdeFunction>(
        f: &F,
        u: &[f64],
        p: &[f64],
        t: f64,
        work: &mut VjpWork<f64>,
    ) {
        let (n, np) = (u.len(), p.len());
        let v: Vec<f64> = (0..n).map(|i| 0.3 - 0.7 * i as f64).collect();
        let (mut jf, mut fp) = (vec![0.0; n * n], vec![0.0; n * np]);
        jacobians(f, u, p, t, &mut jf, &mut fp);
        for with_t in [true, false, false] {
            let (mut vu, mut vp, mut vt) = (vec![0.0; n], vec![0.0; np], 0.0);
            let vt_arg = if with_t { Some(&mut vt) } else { None };
            vjp(f, &v, u, p, t, &mut vu, &mut vp, vt_arg, work);
            for j in 0..n {
                let want: f64 = (0..n).map(|i| v[i] * jf[i * n + j]).sum();
                assert!((vu[j] - want).abs() < 1e-13, "u{j}: {} vs {want}", vu[j]);
            }
            for j in 0..np {
                let want: f64 = (0..n).map(|i| v[i] * fp[i * np + j]).sum();
                assert!((vp[j] - want).abs() < 1e-13, "p{j}: {} vs {want}", vp[j]);
            }
        }
    }

    #[test]
    fn products_in_several_passes_and_reused_seeds_agree() {
        let p = [0.5, -1.2, 0.8, 0.3, -0.4, 1.1, 0.9];
        let mut work = VjpWork::new(3, 7);
        check_against_jacobians(&Wide, &[0.2, -0.6, 1.3], &p, 0.7, &mut work);
        let mut work = VjpWork::new(2, 4);
        let p = [1.5, 1.0, 3.0, 1.0];
        // Seeds are kept between products of one shape: new values must
        // still give new products.
        for u in [[1.3, 0.7], [0.4, 2.2], [-1.0, 0.5]] {
            check_against_jacobians(&Lv, &u, &p, 0.4, &mut work);
        }
    }
}
