//! The number type every solver, problem and layer is generic over.
//!
//! A right-hand side is written once against [`Scalar`] and then runs on
//! `f64`, `f32` and forward-mode dual numbers ([`num_dual::Dual`], nested duals
//! included). Solvers read only the real part ([`Scalar::real`]) for decisions
//! such as step-size control, so derivatives flow through the arithmetic of a
//! solve without changing which steps it takes.

use std::fmt::{Debug, Display};
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use num_dual::{Dual, DualNum, DualSVec64};

/// A real number, or a number that carries derivatives alongside its real part.
///
/// Constants are made with [`Scalar::cst`]; the real part is read with
/// [`Scalar::real`]. The elementary functions follow `f64`'s names.
///
/// ```
/// use neurode::Scalar;
///
/// fn logistic<T: Scalar>(x: T, r: T) -> T {
///     r * x * (T::one() - x) + T::cst(0.5).sin()
/// }
/// assert!((logistic(0.5_f64, 2.0) - (0.5 + 0.5_f64.sin())).abs() < 1e-15);
///
/// // The same function, differentiated by a dual number:
/// use num_dual::Dual64;
/// let d = logistic(Dual64::new(0.5, 1.0), Dual64::from_re(2.0));
/// assert!((d.eps - 0.0).abs() < 1e-15); // d/dx [2x(1-x)] at 0.5 = 0
/// ```
pub trait Scalar:
    Copy
    + Send
    + Sync
    + Debug
    + Display
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// True for plain numbers (`f64`, `f32`), false for types that carry
    /// derivatives.
    const PLAIN: bool;

    /// This number type with one more derivative direction: what a Jacobian
    /// or a time derivative of a right-hand side is computed in (forward-mode
    /// AD), whatever the solve's own number type is.
    type Dual: Scalar;

    /// `re + eps·ε` in [`Self::Dual`].
    fn dual(re: Self, eps: Self) -> Self::Dual;

    /// The real and derivative parts of a [`Self::Dual`].
    fn dual_parts(d: Self::Dual) -> (Self, Self);

    /// A constant: real part `x`, every derivative part zero.
    fn cst(x: f64) -> Self;

    /// `x` itself when this type is `f64` (so `f64`-only code such as a
    /// sparse LU can serve generic callers), otherwise `None`.
    #[inline(always)]
    fn as_f64_slice_mut(x: &mut [Self]) -> Option<&mut [f64]> {
        let _ = x;
        None
    }
    /// [`as_f64_slice_mut`](Self::as_f64_slice_mut), shared.
    #[inline(always)]
    fn as_f64_slice(x: &[Self]) -> Option<&[f64]> {
        let _ = x;
        None
    }
    /// `dst (+)= lhs · rhs` by an optimised kernel, returning `false` where
    /// this type has none (then [`matmul`](crate::linalg::matmul) uses plain
    /// loops). Called only by `matmul`, after it has checked the layouts.
    #[doc(hidden)]
    #[inline(always)]
    fn gemm(
        dst: &mut [Self],
        d: crate::linalg::Layout,
        lhs: &[Self],
        l: crate::linalg::Layout,
        rhs: &[Self],
        r: crate::linalg::Layout,
        accumulate: bool,
    ) -> bool {
        let _ = (dst, d, lhs, l, rhs, r, accumulate);
        false
    }
    /// `dst[i] = src[i].tanh()`; `f64` and `f32` use a vectorised kernel.
    #[doc(hidden)]
    #[inline(always)]
    fn tanh_slice(src: &[Self], dst: &mut [Self]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s.tanh();
        }
    }
    /// The real part as `f64` (derivative parts dropped).
    fn real(self) -> f64;
    /// This number with its real part set to `re`, derivative parts kept.
    #[inline(always)]
    fn with_real(self, re: f64) -> Self {
        self - Self::cst(self.real()) + Self::cst(re)
    }
    /// `self * c` for a plain coefficient `c`; cheaper than `self * Self::cst(c)`
    /// for dual numbers.
    fn scaled(self, c: f64) -> Self;
    /// Zero.
    #[inline]
    fn zero() -> Self {
        Self::cst(0.0)
    }
    /// One.
    #[inline]
    fn one() -> Self {
        Self::cst(1.0)
    }
    /// True when the real part and every derivative part are finite.
    fn is_finite(self) -> bool;
    /// True when every derivative part is zero (always, for plain numbers;
    /// conservatively false for types that do not check): then `self * x`
    /// equals `x.scaled(self.real())`, a cheaper product. A solve in duals
    /// whose span does not move with `p` takes steps of this kind.
    #[inline(always)]
    fn derivative_free(self) -> bool {
        Self::PLAIN
    }

    /// Absolute value.
    fn abs(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Cube root.
    fn cbrt(self) -> Self;
    /// `e^self`.
    fn exp(self) -> Self;
    /// `e^self - 1`, accurate near zero.
    fn exp_m1(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `ln(1 + self)`, accurate near zero.
    fn ln_1p(self) -> Self;
    /// Base-10 logarithm.
    fn log10(self) -> Self;
    /// Integer power.
    fn powi(self, n: i32) -> Self;
    /// Real power with a plain exponent.
    fn powf(self, n: f64) -> Self;
    /// Real power with an exponent that may carry derivatives.
    fn pow(self, n: Self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Tangent.
    fn tan(self) -> Self;
    /// Inverse sine.
    fn asin(self) -> Self;
    /// Inverse cosine.
    fn acos(self) -> Self;
    /// Inverse tangent.
    fn atan(self) -> Self;
    /// Hyperbolic sine.
    fn sinh(self) -> Self;
    /// Hyperbolic cosine.
    fn cosh(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// `1 / self`.
    fn recip(self) -> Self;

    /// The larger of two numbers, compared by real part.
    #[inline]
    fn max(self, other: Self) -> Self {
        if other.real() > self.real() {
            other
        } else {
            self
        }
    }
    /// The smaller of two numbers, compared by real part.
    #[inline]
    fn min(self, other: Self) -> Self {
        if other.real() < self.real() {
            other
        } else {
            self
        }
    }
}

macro_rules! impl_scalar_float {
    (@as_f64 as_f64) => {
        #[inline(always)]
        fn as_f64_slice_mut(x: &mut [Self]) -> Option<&mut [f64]> {
            Some(x)
        }
        #[inline(always)]
        fn as_f64_slice(x: &[Self]) -> Option<&[f64]> {
            Some(x)
        }
        #[inline(always)]
        fn tanh_slice(src: &[Self], dst: &mut [Self]) {
            crate::fastmath::tanh_slice(src, dst)
        }
    };
    (@as_f64 not_f64) => {
        #[inline(always)]
        fn tanh_slice(src: &[Self], dst: &mut [Self]) {
            crate::fastmath::tanh_slice_f32(src, dst)
        }
    };
    ($t:ty, $kind:ident) => {
        impl Scalar for $t {
            impl_scalar_float!(@as_f64 $kind);
            const PLAIN: bool = true;
            #[cfg(feature = "gemm")]
            #[inline(always)]
            fn gemm(
                dst: &mut [Self],
                d: crate::linalg::Layout,
                lhs: &[Self],
                l: crate::linalg::Layout,
                rhs: &[Self],
                r: crate::linalg::Layout,
                accumulate: bool,
            ) -> bool {
                (d.rows > 0
                    && d.cols > 0
                    && crate::linalg::thin::thin_matmul(dst, d, lhs, l, rhs, r, accumulate))
                    || crate::linalg::matmul::gemm_kernel(
                        dst, d, lhs, l, rhs, r, accumulate, 1.0, 0.0,
                    )
            }
            type Dual = Dual<$t>;
            #[inline(always)]
            fn dual(re: Self, eps: Self) -> Dual<$t> {
                Dual::new(re, eps)
            }
            #[inline(always)]
            fn dual_parts(d: Dual<$t>) -> (Self, Self) {
                (d.re, d.eps)
            }
            #[inline(always)]
            fn cst(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn real(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn with_real(self, re: f64) -> Self {
                re as Self
            }
            #[inline(always)]
            fn scaled(self, c: f64) -> Self {
                self * (c as $t)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn cbrt(self) -> Self {
                <$t>::cbrt(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                <$t>::exp_m1(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline(always)]
            fn log10(self) -> Self {
                <$t>::log10(self)
            }
            #[inline(always)]
            fn powi(self, n: i32) -> Self {
                <$t>::powi(self, n)
            }
            #[inline(always)]
            fn powf(self, n: f64) -> Self {
                <$t>::powf(self, n as $t)
            }
            #[inline(always)]
            fn pow(self, n: Self) -> Self {
                <$t>::powf(self, n)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            #[inline(always)]
            fn tan(self) -> Self {
                <$t>::tan(self)
            }
            #[inline(always)]
            fn asin(self) -> Self {
                <$t>::asin(self)
            }
            #[inline(always)]
            fn acos(self) -> Self {
                <$t>::acos(self)
            }
            #[inline(always)]
            fn atan(self) -> Self {
                <$t>::atan(self)
            }
            #[inline(always)]
            fn sinh(self) -> Self {
                <$t>::sinh(self)
            }
            #[inline(always)]
            fn cosh(self) -> Self {
                <$t>::cosh(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                // Straight-line arithmetic instead of a libm call: the
                // activation of most networks, a few ulp from libm.
                crate::fastmath::tanh(self as f64) as $t
            }
            #[inline(always)]
            fn recip(self) -> Self {
                <$t>::recip(self)
            }
        }
    };
}

impl_scalar_float!(f64, as_f64);
impl_scalar_float!(f32, not_f64);

/// The elementary functions of a num-dual number type, as num-dual
/// computes them.
macro_rules! dualnum_functions {
    () => {
        #[inline(always)]
        fn sqrt(self) -> Self {
            DualNum::sqrt(&self)
        }
        #[inline(always)]
        fn cbrt(self) -> Self {
            DualNum::cbrt(&self)
        }
        #[inline(always)]
        fn exp(self) -> Self {
            DualNum::exp(&self)
        }
        #[inline(always)]
        fn exp_m1(self) -> Self {
            DualNum::exp_m1(&self)
        }
        #[inline(always)]
        fn ln(self) -> Self {
            DualNum::ln(&self)
        }
        #[inline(always)]
        fn ln_1p(self) -> Self {
            DualNum::ln_1p(&self)
        }
        #[inline(always)]
        fn log10(self) -> Self {
            DualNum::log10(&self)
        }
        #[inline(always)]
        fn sin(self) -> Self {
            DualNum::sin(&self)
        }
        #[inline(always)]
        fn cos(self) -> Self {
            DualNum::cos(&self)
        }
        #[inline(always)]
        fn tan(self) -> Self {
            DualNum::tan(&self)
        }
        #[inline(always)]
        fn asin(self) -> Self {
            DualNum::asin(&self)
        }
        #[inline(always)]
        fn acos(self) -> Self {
            DualNum::acos(&self)
        }
        #[inline(always)]
        fn atan(self) -> Self {
            DualNum::atan(&self)
        }
        #[inline(always)]
        fn sinh(self) -> Self {
            DualNum::sinh(&self)
        }
        #[inline(always)]
        fn cosh(self) -> Self {
            DualNum::cosh(&self)
        }
        #[inline(always)]
        fn tanh(self) -> Self {
            DualNum::tanh(&self)
        }
        #[inline(always)]
        fn recip(self) -> Self {
            DualNum::recip(&self)
        }
        #[inline(always)]
        fn powi(self, n: i32) -> Self {
            DualNum::powi(&self, n)
        }
        #[inline(always)]
        fn pow(self, n: Self) -> Self {
            (self.ln() * n).exp()
        }
    };
}

/// Dual numbers over any scalar, so first derivatives (and, nested, higher ones)
/// flow through a solve. The elementary functions are num-dual's.
impl<T> Scalar for Dual<T>
where
    T: Scalar + DualNum,
    Dual<T>: DualNum + Display,
{
    const PLAIN: bool = false;
    type Dual = Dual<Dual<T>>;
    #[inline(always)]
    fn dual(re: Self, eps: Self) -> Dual<Dual<T>> {
        Dual::new(re, eps)
    }
    #[inline(always)]
    fn dual_parts(d: Dual<Dual<T>>) -> (Self, Self) {
        (d.re, d.eps)
    }
    #[inline(always)]
    fn cst(x: f64) -> Self {
        Dual::new(T::cst(x), T::cst(0.0))
    }
    #[inline(always)]
    fn real(self) -> f64 {
        self.re.real()
    }
    #[inline(always)]
    fn with_real(self, re: f64) -> Self {
        Dual::new(self.re.with_real(re), self.eps)
    }
    #[inline(always)]
    fn scaled(self, c: f64) -> Self {
        Dual::new(self.re.scaled(c), self.eps.scaled(c))
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        self.re.is_finite() && self.eps.is_finite()
    }
    #[inline(always)]
    fn abs(self) -> Self {
        if self.re.real() < 0.0 { -self } else { self }
    }
    #[inline(always)]
    fn powf(self, n: f64) -> Self {
        // d(x^n) = n x^(n-1) dx, computed from the real power once.
        let re = self.re.powf(n);
        let dre = self.re.powf(n - 1.0).scaled(n);
        Dual::new(re, dre * self.eps)
    }
    dualnum_functions!();
}

/// Vector dual numbers (`N` derivative directions at once): forward mode
/// over many parameters in one pass, and vector–Jacobian products of small
/// systems in one evaluation.
impl<const N: usize> Scalar for DualSVec64<N> {
    const PLAIN: bool = false;
    type Dual = Dual<DualSVec64<N>>;
    #[inline(always)]
    fn dual(re: Self, eps: Self) -> Dual<Self> {
        Dual::new(re, eps)
    }
    #[inline(always)]
    fn dual_parts(d: Dual<Self>) -> (Self, Self) {
        (d.re, d.eps)
    }
    #[inline(always)]
    fn cst(x: f64) -> Self {
        DualSVec64::from_re(x)
    }
    #[inline(always)]
    fn real(self) -> f64 {
        self.re
    }
    #[inline(always)]
    fn with_real(mut self, re: f64) -> Self {
        self.re = re;
        self
    }
    #[inline(always)]
    fn scaled(self, c: f64) -> Self {
        self * c
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        self.re.is_finite() && self.eps.0.is_none_or(|e| e.iter().all(|x| x.is_finite()))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        if self.re < 0.0 { -self } else { self }
    }
    #[inline(always)]
    fn powf(self, n: f64) -> Self {
        DualNum::powf(&self, n)
    }
    dualnum_functions!();
}

/// `num / den` whose real part is the `f64` quotient of the real parts.
///
/// Dual numbers divide by multiplying with the reciprocal, a rounding away
/// from `f64` division; where the quotient places a point on the
/// interpolant (an event, a save) that would let a dual solve drift from
/// the plain solve it mirrors, and the discrete adjoint through callbacks
/// replays steps in duals that must retrace the plain ones.
#[inline(always)]
pub(crate) fn quotient<T: Scalar>(num: T, den: T) -> T {
    let q = num / den;
    if T::PLAIN {
        q
    } else {
        q.with_real(num.real() / den.real())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_dual::Dual64;

    fn f<T: Scalar>(x: T) -> T {
        x.sin() * x.exp() + x.powi(3) - x.powf(2.5) + x.tanh() / x.sqrt() + x.ln_1p()
    }

    fn df(x: f64) -> f64 {
        x.cos() * x.exp() + x.sin() * x.exp() + 3.0 * x * x - 2.5 * x.powf(1.5)
            + (1.0 - x.tanh().powi(2)) / x.sqrt()
            - 0.5 * x.tanh() * x.powf(-1.5)
            + 1.0 / (1.0 + x)
    }

    #[test]
    fn with_real_replaces_only_the_real_part() {
        assert_eq!(2.5f64.with_real(-1.0), -1.0);
        assert_eq!(2.5f32.with_real(-1.0), -1.0f32);
        let d = Dual64::new(2.5, 3.0).with_real(-1.0);
        assert_eq!((d.re, d.eps), (-1.0, 3.0));
        let v = DualSVec64::<2>::from_re(2.5).derivative(1).with_real(0.25);
        assert_eq!(v.re, 0.25);
        assert_eq!(v.eps.0.unwrap().as_slice(), &[0.0, 1.0]);
    }

    #[test]
    fn dual_derivatives_match_analytic() {
        for &x in &[0.3, 1.0, 2.7] {
            let d = f(Dual64::new(x, 1.0));
            assert!((d.re - f(x)).abs() < 1e-14);
            assert!(
                (d.eps - df(x)).abs() < 1e-12 * df(x).abs().max(1.0),
                "x={x}"
            );
        }
    }

    #[test]
    fn vector_duals_carry_each_direction() {
        // f(x·y) with x seeded in lane 0 and y in lane 2.
        let (x, y) = (0.7, 1.9);
        let xv = DualSVec64::<4>::from_re(x).derivative(0);
        let yv = DualSVec64::<4>::from_re(y).derivative(2);
        let d = f(xv * yv);
        let e = d.eps.0.expect("derivatives");
        assert!((d.re - f(x * y)).abs() < 1e-14);
        assert!((e[0] - df(x * y) * y).abs() < 1e-12);
        assert_eq!(e[1], 0.0);
        assert!((e[2] - df(x * y) * x).abs() < 1e-12);
        assert!(Scalar::is_finite(d));
    }

    #[test]
    fn f32_and_f64_agree() {
        let a = f(1.3_f64);
        let b = f(1.3_f32);
        assert!((a - b as f64).abs() < 1e-5);
    }

    #[test]
    fn nested_duals_give_second_derivatives() {
        // x^3 at x=2: first derivative 12, second 12.
        let x = Dual::new(Dual64::new(2.0, 1.0), Dual64::new(1.0, 0.0));
        let y = x.powi(3);
        assert_eq!(y.re.re, 8.0);
        assert_eq!(y.re.eps, 12.0);
        assert_eq!(y.eps.eps, 12.0);
    }

    #[test]
    fn real_part_decides_comparisons() {
        let a = Dual64::new(1.0, 100.0);
        let b = Dual64::new(2.0, -5.0);
        assert_eq!(Scalar::max(a, b).re, 2.0);
        assert_eq!(Scalar::min(a, b).re, 1.0);
        assert_eq!(Scalar::abs(Dual64::new(-3.0, 2.0)).eps, -2.0);
    }
}
