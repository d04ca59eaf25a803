//! Several paths of an ensemble in one number: `PathLanes<K>` holds one
//! value per path, and every operation acts lane by lane.
//!
//! Paths of a fixed-step SDE ensemble share the time grid, so a solve in
//! `PathLanes<K>` advances `K` of them with vector instructions: the drift
//! and diffusion, written once for every [`Scalar`], run on `K` states at
//! once. Each lane performs exactly the `f64` operations of its own solve
//! (elementary functions, `tanh` slices and matrix products go through
//! `f64`'s own kernels, lane by lane), so results agree bit for bit.
//!
//! A right-hand side may branch on its values (`if u[0] < 0.0 …`), and
//! lanes can disagree. A comparison, or a [`real`](Scalar::real) read, that
//! the lanes do not answer alike is recorded; the ensemble then solves
//! those paths one at a time instead (see [`take_divergence`]).
//!
//! ```
//! use neurode::path_lanes::PathLanes;
//! use neurode::scalar::Scalar;
//!
//! let x = PathLanes([1.0, 4.0, 9.0, 16.0]);
//! assert_eq!((x.sqrt() + PathLanes::splat(1.0)).0, [2.0, 3.0, 4.0, 5.0]);
//! ```

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::linalg::Layout;
use crate::multi_dual::{Tangent, assign_ops};
use crate::scalar::Scalar;

thread_local! {
    static DIVERGED: Cell<bool> = const { Cell::new(false) };
    /// One lane's operands and result of a matrix product, reused.
    static GEMM_LANES: RefCell<(Vec<f64>, Vec<f64>, Vec<f64>)> =
        const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// Whether lanes answered a comparison or a `real` read differently on
/// this thread since the last call (and clears the record).
pub fn take_divergence() -> bool {
    DIVERGED.with(|d| d.replace(false))
}

/// Lane 0's answer, recording when another lane's differs.
#[inline(always)]
fn agreed<R: PartialEq, const K: usize>(answer: impl Fn(usize) -> R) -> R {
    let first = answer(0);
    if (1..K).any(|l| answer(l) != first) {
        DIVERGED.with(|d| d.set(true));
    }
    first
}

/// One `f64` per path.
#[derive(Clone, Copy, Debug)]
pub struct PathLanes<const K: usize>(pub [f64; K]);

impl<const K: usize> PathLanes<K> {
    /// The same value in every lane.
    #[inline(always)]
    pub const fn splat(x: f64) -> Self {
        Self([x; K])
    }

    #[inline(always)]
    fn map(self, f: impl Fn(f64) -> f64) -> Self {
        Self(self.0.map(f))
    }

    #[inline(always)]
    fn zip(self, rhs: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        Self(std::array::from_fn(|l| f(self.0[l], rhs.0[l])))
    }
}

macro_rules! lane_ops {
    ($($tr:ident $f:ident $op:tt),*) => {$(
        impl<const K: usize> $tr for PathLanes<K> {
            type Output = Self;
            #[inline(always)]
            fn $f(self, rhs: Self) -> Self {
                self.zip(rhs, |a, b| a $op b)
            }
        }
    )*};
}
lane_ops!(Add add +, Sub sub -, Mul mul *, Div div /);
assign_ops!(PathLanes<K>, const K: usize);

impl<const K: usize> Neg for PathLanes<K> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        self.map(|x| -x)
    }
}

impl<const K: usize> PartialEq for PathLanes<K> {
    fn eq(&self, other: &Self) -> bool {
        agreed::<_, K>(|l| self.0[l] == other.0[l])
    }
}

impl<const K: usize> PartialOrd for PathLanes<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        agreed::<_, K>(|l| self.0[l].partial_cmp(&other.0[l]))
    }
}

impl<const K: usize> fmt::Display for PathLanes<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Each function as `f64`'s [`Scalar`] computes it, lane by lane.
macro_rules! lane_functions {
    ($($f:ident),*) => {$(
        #[inline(always)]
        fn $f(self) -> Self {
            self.map(<f64 as Scalar>::$f)
        }
    )*};
}

impl<const K: usize> Scalar for PathLanes<K> {
    const PLAIN: bool = false;
    type Dual = Tangent<Self>;
    #[inline(always)]
    fn dual(re: Self, eps: Self) -> Tangent<Self> {
        Tangent { re, eps }
    }
    #[inline(always)]
    fn dual_parts(d: Tangent<Self>) -> (Self, Self) {
        (d.re, d.eps)
    }
    #[inline(always)]
    fn cst(x: f64) -> Self {
        Self::splat(x)
    }
    /// The common value of the lanes (lane 0's, recorded as a divergence,
    /// when they differ).
    #[inline(always)]
    fn real(self) -> f64 {
        f64::from_bits(agreed::<_, K>(|l| self.0[l].to_bits()))
    }
    #[inline(always)]
    fn with_real(self, re: f64) -> Self {
        Self::splat(re)
    }
    #[inline(always)]
    fn scaled(self, c: f64) -> Self {
        self.map(|x| x * c)
    }
    /// Lane by lane through `f64`'s own matrix kernel on the same layouts,
    /// so the products sum in the order of a plain solve.
    fn gemm(
        dst: &mut [Self],
        d: Layout,
        lhs: &[Self],
        l: Layout,
        rhs: &[Self],
        r: Layout,
        accumulate: bool,
    ) -> bool {
        GEMM_LANES.with(|buffers| {
            let (a, b, c) = &mut *buffers.borrow_mut();
            for lane in 0..K {
                let gather = |to: &mut Vec<f64>, from: &[Self]| {
                    to.clear();
                    to.extend(from.iter().map(|x| x.0[lane]));
                };
                gather(a, lhs);
                gather(b, rhs);
                gather(c, dst);
                if !<f64 as Scalar>::gemm(c, d, a, l, b, r, accumulate) {
                    return false; // no kernel: the plain loops, as for f64
                }
                for (x, &y) in dst.iter_mut().zip(c.iter()) {
                    x.0[lane] = y;
                }
            }
            true
        })
    }
    /// Through `f64`'s own slice kernel, lane array by lane array: a
    /// network's activations then round exactly as in a plain solve.
    fn tanh_slice(src: &[Self], dst: &mut [Self]) {
        for (d, s) in dst.iter_mut().zip(src) {
            <f64 as Scalar>::tanh_slice(&s.0, &mut d.0);
        }
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        // Without short-circuits: one vector test instead of a branch per lane.
        self.0.iter().fold(true, |ok, x| ok & x.is_finite())
    }
    lane_functions!(
        abs, sqrt, cbrt, exp, exp_m1, ln, ln_1p, log10, sin, cos, tan, asin, acos, atan, sinh,
        cosh, tanh, recip
    );
    #[inline(always)]
    fn powi(self, n: i32) -> Self {
        self.map(|x| Scalar::powi(x, n))
    }
    #[inline(always)]
    fn powf(self, n: f64) -> Self {
        self.map(|x| Scalar::powf(x, n))
    }
    #[inline(always)]
    fn pow(self, n: Self) -> Self {
        self.zip(n, Scalar::pow)
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        self.zip(other, Scalar::max)
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        self.zip(other, Scalar::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes() -> PathLanes<4> {
        PathLanes([0.3, -1.2, 2.5, 0.7])
    }

    #[test]
    fn every_operation_is_the_f64_one_lane_by_lane() {
        let (x, y) = (lanes(), PathLanes([1.1, 0.4, -0.9, 3.0]));
        type Case = (PathLanes<4>, fn(f64, f64) -> f64);
        let cases: Vec<Case> = vec![
            (x + y, |a, b| a + b),
            (x - y, |a, b| a - b),
            (x * y, |a, b| a * b),
            (x / y, |a, b| a / b),
            (x.max(y), Scalar::max),
            (x.min(y), Scalar::min),
            (x.abs().pow(y), |a, b| Scalar::pow(a.abs(), b)),
            (x.tanh() * y.exp(), |a, b| Scalar::tanh(a) * Scalar::exp(b)),
            (x.sin().scaled(2.0) - y.atan(), |a, b| {
                Scalar::sin(a) * 2.0 - Scalar::atan(b)
            }),
        ];
        for (got, f) in cases {
            for l in 0..4 {
                assert_eq!(got.0[l].to_bits(), f(x.0[l], y.0[l]).to_bits());
            }
        }
        let mut z = x;
        z += y;
        z *= y;
        assert_eq!(z.0[1], (-1.2 + 0.4) * 0.4);
    }

    #[test]
    fn lanes_that_disagree_are_recorded() {
        take_divergence();
        let same = PathLanes::<4>::splat(2.0);
        assert!(same > PathLanes::splat(1.0));
        assert_eq!(same.real(), 2.0);
        assert!(!take_divergence());
        let _ = lanes() < PathLanes::splat(0.0);
        assert!(take_divergence());
        let _ = lanes().real();
        assert!(take_divergence() && !take_divergence());
        // A tangent's comparisons read its lanes too.
        let d = <PathLanes<4> as Scalar>::dual(lanes(), PathLanes::splat(1.0));
        let _ = d < Tangent::cst(0.0);
        assert!(take_divergence());
    }

    #[test]
    fn matrix_products_are_each_lanes_f64_product() {
        use crate::linalg::matmul;
        let (m, k, n) = (17, 33, 9);
        let value = |i: usize, l: usize| ((i * 7 + l * 13) % 23) as f64 / 7.0 - 1.3;
        let a: Vec<PathLanes<4>> = (0..m * k)
            .map(|i| PathLanes(std::array::from_fn(|l| value(i, l))))
            .collect();
        let b: Vec<PathLanes<4>> = (0..k * n)
            .map(|i| PathLanes(std::array::from_fn(|l| value(i + 5, l).sin())))
            .collect();
        let (dl, ll, rl) = (
            Layout::col_major(m, n),
            Layout::row_major(m, k),
            Layout::col_major(k, n),
        );
        let mut c = vec![PathLanes::splat(0.5); m * n];
        matmul(&mut c, dl, &a, ll, &b, rl, true);
        for l in 0..4 {
            let al: Vec<f64> = a.iter().map(|x| x.0[l]).collect();
            let bl: Vec<f64> = b.iter().map(|x| x.0[l]).collect();
            let mut cl = vec![0.5; m * n];
            matmul(&mut cl, dl, &al, ll, &bl, rl, true);
            for (x, y) in c.iter().zip(&cl) {
                assert_eq!(x.0[l].to_bits(), y.to_bits());
            }
        }
    }

    #[test]
    fn finiteness_needs_every_lane() {
        assert!(lanes().is_finite());
        let mut x = lanes();
        x.0[2] = f64::NAN;
        assert!(!x.is_finite());
    }
}
