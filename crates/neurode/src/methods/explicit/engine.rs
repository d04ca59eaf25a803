//! The one engine behind every explicit Runge–Kutta tableau: stages, the
//! error estimate, the end-of-step derivative and dense output.
//!
//! Performance notes. Stages are evaluated with literal indices (see
//! `for_each_slot!`), so each stage's tableau row is a constant: zero
//! coefficients vanish and sums unroll. Stage vectors are stored per slot in
//! the solve's [`Dim`] storage, so for small systems they are arrays the
//! compiler keeps in registers. Sums start from the base state and add the
//! newest stage last, so all but one multiply-add can run while that stage
//! is still being evaluated.

use super::tableau::ErrorEstimator;
use super::{ErkMethod, MAX_SLOTS};
use crate::dim::Dim;
use crate::methods::{DenseFn, ErrorScale, MethodInfo, OdeMethod, Rhs, Setup};
use crate::problem::OdeFunction;
use crate::scalar::Scalar;

/// Runs `$body` for each slot index `$i` in `1..MAX_SLOTS` as a literal, so
/// code specialised on the index (a tableau row, a slot) sees a constant; a
/// loop would read the rows at run time.
macro_rules! for_each_slot {
    ($i:ident => $body:block) => {
        for_each_slot!(@ $i $body; 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    };
    (@ $i:ident $body:block; $($n:literal)+) => {
        $({
            let $i: usize = $n;
            $body
        })+
    };
}

/// Working memory of an explicit Runge–Kutta solve.
#[derive(Clone, Debug)]
pub struct ErkCache<T: Scalar, D: Dim> {
    n: usize,
    /// Stage derivatives, one vector per slot; slots the tableau does not
    /// use hold [`Dim::unused`] vectors.
    k: [D::Vector<T>; MAX_SLOTS],
    /// Input of the stage being evaluated.
    stage: D::Vector<T>,
    /// Extra slots already evaluated for the current accepted step.
    extras_ready: usize,
    /// The end slot holds `f` at the new point and must move to slot 0.
    end_pending: bool,
    /// The last accepted step's eigenvalue estimate (FSAL methods with a
    /// stability size), see [`ErkCache::eigenvalue_estimate`].
    eigen_estimate: Option<f64>,
    /// Whether to compute it (stiffness switching asks).
    track_stiffness: bool,
    /// Per-evaluation records ([`OdeFunction::rhs_taped`]) of slots
    /// `0..=end_slot`, `tape_len` numbers each; empty unless kept.
    tapes: Vec<f64>,
    tape_len: usize,
}

/// Slot `i`'s tape, or an empty slice when tapes are not kept for it.
#[inline(always)]
fn slot_tape(tapes: &mut [f64], len: usize, i: usize) -> &mut [f64] {
    tapes.get_mut(i * len..(i + 1) * len).unwrap_or(&mut [])
}

impl<T: Scalar, D: Dim> ErkCache<T, D> {
    /// Hairer's estimate of the dominant eigenvalue magnitude from the last
    /// two stages of an FSAL step, `|f(u_new) - f(y)| / |u_new - y|` with `y`
    /// the last stage's input; `None` for other methods.
    pub(crate) fn eigenvalue_estimate<M: ErkMethod>(&self, u_new: &[T]) -> Option<f64> {
        let tab = &M::TABLEAU;
        let s = tab.stages();
        if !tab.fsal || s < 3 || tab.stability_size == 0.0 {
            return None;
        }
        let (mut num, mut den) = (0.0, 0.0);
        for m in 0..self.n {
            let df = self.k[s - 1].as_ref()[m].real() - self.k[s - 2].as_ref()[m].real();
            let du = u_new[m].real() - self.stage.as_ref()[m].real();
            num += df * df;
            den += du * du;
        }
        (den > 0.0).then(|| (num / den).sqrt())
    }
}

/// Read access to stage values by (slot, component), for slots held as
/// vectors (during a step) or packed flat (stored dense output).
trait StageValues<T> {
    /// Component `m` of slot `j`.
    fn at(&self, j: usize, m: usize) -> T;
    /// Slot `j`.
    fn slot(&self, j: usize) -> &[T];
}

/// The live slots of a cache: the first `count` of them, each of length `n`,
/// as plain slices held in locals (so their addresses stay in registers
/// rather than being reloaded from the cache on every access).
struct LiveSlots<'a, T> {
    k: [&'a [T]; MAX_SLOTS],
}

impl<'a, T: Scalar> LiveSlots<'a, T> {
    #[inline(always)]
    fn new<D: Dim>(k: &'a [D::Vector<T>], count: usize) -> Self {
        let mut slices: [&'a [T]; MAX_SLOTS] = [&[]; MAX_SLOTS];
        for (s, v) in slices.iter_mut().zip(&k[..count]) {
            *s = v.as_ref();
        }
        Self { k: slices }
    }
}

impl<T: Scalar> StageValues<T> for LiveSlots<'_, T> {
    #[inline(always)]
    fn at(&self, j: usize, m: usize) -> T {
        self.k[j][m]
    }
    #[inline(always)]
    fn slot(&self, j: usize) -> &[T] {
        self.k[j]
    }
}

/// Slots packed flat, `n` numbers each (stored dense output).
struct FlatSlots<'a, T> {
    k: &'a [T],
    n: usize,
}

impl<T: Scalar> StageValues<T> for FlatSlots<'_, T> {
    #[inline(always)]
    fn at(&self, j: usize, m: usize) -> T {
        self.k[j * self.n + m]
    }
    #[inline(always)]
    fn slot(&self, j: usize) -> &[T] {
        &self.k[j * self.n..(j + 1) * self.n]
    }
}

/// `out = base + Σ_j (dt row[j]) k_j`, skipping zero coefficients.
///
/// Component by component, with the sum over stages innermost: each
/// component's sum stays in a register, and starting from the base state
/// with the newest stage added last lets all but one multiply-add run while
/// that stage is still being evaluated.
#[inline(always)]
fn combine<T: Scalar>(out: &mut [T], base: &[T], dt: T, row: &[f64], k: &impl StageValues<T>) {
    let n = out.len();
    let base = &base[..n];
    if !T::PLAIN && dt.derivative_free() {
        // A step size without derivatives (a span that does not move with
        // `p`): each term is a number times a dual, not a dual product.
        let h = dt.real();
        for m in 0..n {
            let mut acc = base[m];
            for (j, &a) in row.iter().enumerate() {
                if a != 0.0 {
                    acc += k.at(j, m).scaled(h * a);
                }
            }
            out[m] = acc;
        }
        return;
    }
    let mut coef = [T::zero(); MAX_SLOTS];
    for (c, &a) in coef.iter_mut().zip(row) {
        *c = dt.scaled(a);
    }
    for m in 0..n {
        let mut acc = base[m];
        for (j, &a) in row.iter().enumerate() {
            if a != 0.0 {
                acc += coef[j] * k.at(j, m);
            }
        }
        out[m] = acc;
    }
}

/// `Σ_i ((h Σ_j w[j] k_j[i]) / weight_i)²` in real parts: the squared scaled
/// error of an embedded estimate, without storing the error vector.
#[inline(always)]
fn scaled_error_sq<T: Scalar>(
    scale: &ErrorScale,
    w: &[f64],
    k: &impl StageValues<T>,
    h: f64,
    u: &[T],
    u_new: &[T],
) -> f64 {
    let n = u.len();
    let u_new = &u_new[..n];
    let mut sum = 0.0;
    for m in 0..n {
        // The weight depends only on the states, so its reciprocal is ready
        // before the last stage is: no division waits on the error itself.
        let h_over_weight = h / scale.weight(m, u[m].real(), u_new[m].real());
        let mut e = 0.0;
        for (j, &c) in w.iter().enumerate() {
            if c != 0.0 {
                e += c * k.at(j, m).real();
            }
        }
        let r = e * h_over_weight;
        sum += r * r;
    }
    sum
}

fn horner<T: Scalar>(coeffs: &[f64], theta: T) -> T {
    let mut acc = T::zero();
    for &c in coeffs.iter().rev() {
        acc = acc * theta + T::cst(c);
    }
    acc * theta
}

/// `out = u + dt Σ_i b_i(θ) k_i`, the dense output inside a step.
#[inline(always)]
fn weighted_sum<M: ErkMethod, T: Scalar>(
    theta: T,
    dt: T,
    u: &[T],
    k: &impl StageValues<T>,
    out: &mut [T],
) {
    let d = &M::TABLEAU.dense;
    let n = out.len();
    let u = &u[..n];
    let nonzero = |poly: &[f64]| poly.iter().any(|&x| x != 0.0);
    if d.b_theta.len() <= FEW_STAGES {
        // The weights first, then each component's sum in a register:
        // one store per component instead of one per stage, each waiting
        // on the last (the adjoints read dense output inside their
        // stages, where that wait showed).
        let (mut w, mut used) = ([T::zero(); FEW_STAGES], [false; FEW_STAGES]);
        for (i, poly) in d.b_theta.iter().enumerate() {
            if nonzero(poly) {
                w[i] = dt * horner(&poly[..d.degree], theta);
                used[i] = true;
            }
        }
        for (m, o) in out.iter_mut().enumerate() {
            let mut acc = u[m];
            for i in 0..d.b_theta.len() {
                if used[i] {
                    acc += w[i] * k.at(i, m);
                }
            }
            *o = acc;
        }
        return;
    }
    // Many stages (Vern7, DOP853: measured 5% slower in registers): one
    // sweep per stage, the first fused with the copy of `u` (a `memcpy`
    // call for a length known only at run time).
    let mut copied = false;
    for (i, poly) in d.b_theta.iter().enumerate() {
        if nonzero(poly) {
            let w = dt * horner(&poly[..d.degree], theta);
            if copied {
                for (o, &x) in out.iter_mut().zip(k.slot(i)) {
                    *o += w * x;
                }
            } else {
                for ((o, &b), &x) in out.iter_mut().zip(u).zip(k.slot(i)) {
                    *o = b + w * x;
                }
                copied = true;
            }
        }
    }
    if !copied {
        out.copy_from_slice(u);
    }
}

/// Interpolants with at most this many stages sum in registers ([`weighted_sum`]).
const FEW_STAGES: usize = 8;

/// Dense output of one stored step, packed as `[u | k_0 | k_1 | …]`.
fn dense_eval<M: ErkMethod, T: Scalar>(theta: T, dt: T, data: &[T], out: &mut [T]) {
    let n = out.len();
    let (u, k) = data.split_at(n);
    weighted_sum::<M, T>(theta, dt, u, &FlatSlots { k, n }, out);
}

/// Evaluates stage slot `i` from the slots before it: a main stage
/// (`1 ≤ i < s`; the last stage of an FSAL method is evaluated at the new
/// point itself, which it also writes) or an extra dense-output stage.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn erk_stage<M: ErkMethod, F: OdeFunction, T: Scalar, D: Dim>(
    c: &mut ErkCache<T, D>,
    rhs: &mut Rhs<F, T>,
    t: T,
    dt: T,
    u: &[T],
    u_new: &mut [T],
    i: usize,
) {
    let tab = &M::TABLEAU;
    let s = tab.stages();
    let (done, rest) = c.k.split_at_mut(i);
    let ki = rest[0].as_mut();
    let done = LiveSlots::new::<D>(done, i);
    if i >= s {
        let e = i - s;
        combine(c.stage.as_mut(), u, dt, tab.dense.extra_a[e], &done);
        rhs.eval(ki, c.stage.as_ref(), t + dt.scaled(tab.dense.extra_c[e]));
    } else if tab.fsal && i == s - 1 {
        // b weights the stages before this one (its own weight is zero).
        combine(u_new, u, dt, &tab.b[..i], &done);
        rhs.eval_taped(ki, u_new, t + dt, slot_tape(&mut c.tapes, c.tape_len, i));
    } else {
        combine(c.stage.as_mut(), u, dt, tab.a[i], &done);
        let tape = slot_tape(&mut c.tapes, c.tape_len, i);
        rhs.eval_taped(ki, c.stage.as_ref(), t + dt.scaled(tab.c[i]), tape);
    }
}

impl<M: ErkMethod> OdeMethod for M {
    type Cache<T: Scalar, D: Dim> = ErkCache<T, D>;

    fn explicit_tableau(&self) -> Option<&'static super::ExplicitTableau> {
        Some(&M::TABLEAU)
    }

    fn info(&self) -> MethodInfo {
        let t = &M::TABLEAU;
        MethodInfo {
            name: t.name,
            order: t.order,
            error_order: match t.error {
                ErrorEstimator::None => None,
                ErrorEstimator::Embedded { order, .. } => Some(order),
                ErrorEstimator::Dop853 { .. } => Some(5),
            },
            dense_order: t.dense.order,
            mass_matrix: false,
            reuses_factorizations: false,
            stability_size: t.stability_size,
        }
    }

    fn new_cache<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        dim: D,
        _setup: &Setup<'_, F, T>,
    ) -> ErkCache<T, D> {
        let slots = M::TABLEAU.slots();
        assert!(
            slots <= MAX_SLOTS,
            "{}: more than {MAX_SLOTS} stage slots",
            M::TABLEAU.name
        );
        ErkCache {
            n: dim.size(),
            k: std::array::from_fn(|j| if j < slots { dim.zeros() } else { dim.unused() }),
            stage: dim.zeros(),
            extras_ready: 0,
            end_pending: false,
            eigen_estimate: None,
            track_stiffness: false,
            tapes: Vec::new(),
            tape_len: 0,
        }
    }

    fn start<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut ErkCache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        u: &[T],
    ) {
        let tape = slot_tape(&mut c.tapes, c.tape_len, 0);
        rhs.eval_taped(c.k[0].as_mut(), u, t, tape);
        c.end_pending = false;
    }

    fn derivative<'c, T: Scalar, D: Dim>(&self, c: &'c ErkCache<T, D>) -> &'c [T] {
        let slot = if c.end_pending {
            M::TABLEAU.end_slot()
        } else {
            0
        };
        c.k[slot].as_ref()
    }

    #[inline]
    fn step<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut ErkCache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        dt: T,
        u: &[T],
        u_new: &mut [T],
        scale: Option<&ErrorScale>,
    ) -> f64 {
        let tab = &M::TABLEAU;
        let n = c.n;
        let s = tab.stages();
        if c.end_pending {
            let (first, rest) = c.k.split_at_mut(1);
            first[0]
                .as_mut()
                .copy_from_slice(rest[tab.end_slot() - 1].as_ref());
            if c.tape_len > 0 {
                let len = c.tape_len;
                c.tapes
                    .copy_within(tab.end_slot() * len..(tab.end_slot() + 1) * len, 0);
            }
            c.end_pending = false;
        }
        for_each_slot!(i => {
            if i < s {
                erk_stage::<M, F, T, D>(c, rhs, t, dt, u, u_new, i);
            }
        });
        let k = LiveSlots::new::<D>(&c.k, s);
        if !tab.fsal {
            combine(u_new, u, dt, tab.b, &k);
        }
        let Some(scale) = scale else { return 0.0 };
        let h = dt.real().abs();
        match tab.error {
            ErrorEstimator::None => 0.0,
            ErrorEstimator::Embedded { btilde, .. } => {
                scaled_error_sq(scale, &btilde[..s], &k, h, u, u_new) * (1.0 / n as f64)
            }
            ErrorEstimator::Dop853 { e5, e3 } => {
                let sq5 = scaled_error_sq(scale, &e5[..s], &k, 1.0, u, u_new);
                let sq3 = scaled_error_sq(scale, &e3[..s], &k, 1.0, u, u_new);
                if sq5 == 0.0 && sq3 == 0.0 {
                    0.0
                } else {
                    // Hairer's |h| ‖e5‖² / sqrt(n (‖e5‖² + 0.01 ‖e3‖²)), squared.
                    h * h * sq5 * sq5 / (n as f64 * (sq5 + 0.01 * sq3))
                }
            }
        }
    }

    #[inline]
    fn accept<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut ErkCache<T, D>,
        rhs: &mut Rhs<F, T>,
        t_new: T,
        u_new: &[T],
    ) {
        let tab = &M::TABLEAU;
        if c.track_stiffness {
            c.eigen_estimate = c.eigenvalue_estimate::<M>(u_new);
        }
        if tab.fsal {
            c.extras_ready = 0;
        } else {
            let tape = slot_tape(&mut c.tapes, c.tape_len, tab.end_slot());
            rhs.eval_taped(c.k[tab.end_slot()].as_mut(), u_new, t_new, tape);
            c.extras_ready = 1;
        }
        c.end_pending = true;
    }

    #[inline]
    fn interpolate<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut ErkCache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        dt: T,
        u: &[T],
        theta: T,
        out: &mut [T],
    ) {
        ensure_extras::<M, F, T, D>(c, rhs, t, dt, u);
        let k = LiveSlots::new::<D>(&c.k, M::TABLEAU.slots());
        weighted_sum::<M, T>(theta, dt, u, &k, out);
    }

    fn stiffness_estimate<T: Scalar, D: Dim>(&self, c: &ErkCache<T, D>) -> Option<f64> {
        c.eigen_estimate
    }

    fn track_stiffness<T: Scalar, D: Dim>(&self, c: &mut ErkCache<T, D>) {
        c.track_stiffness = true;
    }

    fn dense_width(&self, n: usize) -> usize {
        (1 + M::TABLEAU.slots()) * n
    }

    fn write_dense<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut ErkCache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        dt: T,
        u: &[T],
        out: &mut Vec<T>,
    ) {
        ensure_extras::<M, F, T, D>(c, rhs, t, dt, u);
        out.extend_from_slice(u);
        for slot in &c.k[..M::TABLEAU.slots()] {
            out.extend_from_slice(slot.as_ref());
        }
    }

    fn dense_fn<T: Scalar>() -> DenseFn<T> {
        dense_eval::<M, T>
    }

    fn write_stages<T: Scalar, D: Dim>(
        &self,
        c: &ErkCache<T, D>,
        out: &mut Vec<T>,
        tapes: &mut Vec<f64>,
    ) -> bool {
        // Right after `accept`, slot 0 still holds this step's first stage
        // (an FSAL method moves the end derivative in at the next step).
        let s = M::TABLEAU.stages();
        for slot in &c.k[..s] {
            out.extend_from_slice(slot.as_ref());
        }
        tapes.extend_from_slice(&c.tapes[..(s * c.tape_len).min(c.tapes.len())]);
        true
    }

    fn keep_tapes<T: Scalar, D: Dim>(&self, c: &mut ErkCache<T, D>, len: usize) {
        // Only `f64` solves can record (see `Rhs::eval_taped`).
        if T::as_f64_slice(&[]).is_some() && len > 0 {
            c.tape_len = len;
            c.tapes = vec![0.0; (M::TABLEAU.end_slot() + 1) * len];
        }
    }
}

/// Evaluates the extra stages the interpolant needs, once per accepted step
/// (the first, `f` at the new point, is already there for non-FSAL methods).
fn ensure_extras<M: ErkMethod, F: OdeFunction, T: Scalar, D: Dim>(
    c: &mut ErkCache<T, D>,
    rhs: &mut Rhs<F, T>,
    t: T,
    dt: T,
    u: &[T],
) {
    let tab = &M::TABLEAU;
    let s = tab.stages();
    let first = s + c.extras_ready;
    if first >= tab.slots() {
        return;
    }
    // The extra stages never write `u_new`; an empty slice stands in for it.
    let mut unused: [T; 0] = [];
    for_each_slot!(i => {
        if i >= first && i < tab.slots() {
            erk_stage::<M, F, T, D>(c, rhs, t, dt, u, &mut unused, i);
        }
    });
    c.extras_ready = tab.dense.extra_c.len();
}
