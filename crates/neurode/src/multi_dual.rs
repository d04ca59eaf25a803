//! Vector dual numbers with a fixed number of derivative directions kept in
//! a plain array, and a one-direction dual over any [`Scalar`].
//!
//! Forward mode over several parameters, the discrete adjoint's replays and
//! the vector–Jacobian products of small right-hand sides all run a solver
//! or a right-hand side in duals with several directions. num-dual's vector
//! duals keep those directions in an optional nalgebra vector, so every
//! operation branches on the option and goes through nalgebra's generic
//! kernels; a plain `[f64; N]` is a few straight-line vector instructions.
//! Measured on the Lotka–Volterra gradient (`cargo bench --bench gradient --
//! W2`): one 8-direction pass of the right-hand side cost more than six
//! one-direction passes with num-dual's type and a fraction of them with
//! this one. num-dual's types stay the general-purpose duals (and still
//! satisfy [`Scalar`]); these serve the hot paths.
//!
//! ```
//! use neurode::multi_dual::MultiDual;
//! use neurode::scalar::Scalar;
//!
//! // d/dx and d/dy of x·sin(y) at (2, 0.5) in one evaluation.
//! let x = MultiDual::<2>::seeded(2.0, 0);
//! let y = MultiDual::<2>::seeded(0.5, 1);
//! let z = x * y.sin();
//! assert_eq!(z.re, 2.0 * 0.5f64.sin());
//! assert_eq!(z.eps, [0.5f64.sin(), 2.0 * 0.5f64.cos()]);
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::scalar::Scalar;

/// `re + Σ_k eps[k] ε_k`: a value and its derivatives along `N` directions.
#[derive(Clone, Copy, Debug)]
pub struct MultiDual<const N: usize> {
    /// The value.
    pub re: f64,
    /// The derivative along each direction.
    pub eps: [f64; N],
}

impl<const N: usize> MultiDual<N> {
    /// A constant: every derivative zero.
    #[inline(always)]
    pub const fn constant(re: f64) -> Self {
        Self { re, eps: [0.0; N] }
    }

    /// `re` seeded in direction `lane` (derivative 1 there, 0 elsewhere); a
    /// lane outside `0..N` seeds nothing.
    #[inline(always)]
    pub fn seeded(re: f64, lane: usize) -> Self {
        // Built lane by lane (a compare and select each) rather than by a
        // store into a zeroed array, which the next full read of the array
        // cannot take from the store buffer: a stall per seed.
        Self {
            re,
            eps: std::array::from_fn(|k| if k == lane { 1.0 } else { 0.0 }),
        }
    }

    /// The chain rule: value `value`, derivatives scaled by `slope`.
    #[inline(always)]
    fn chain(self, value: f64, slope: f64) -> Self {
        let mut eps = self.eps;
        for e in &mut eps {
            *e *= slope;
        }
        Self { re: value, eps }
    }

    /// Value `re`, and `f(a, b)` for each direction's derivatives.
    #[inline(always)]
    fn lanewise(self, rhs: Self, re: f64, f: impl Fn(f64, f64) -> f64) -> Self {
        let mut eps = [0.0; N];
        for ((e, a), b) in eps.iter_mut().zip(self.eps).zip(rhs.eps) {
            *e = f(a, b);
        }
        Self { re, eps }
    }
}

/// `x op= y` as `x = x op y`, for the number types of this crate.
macro_rules! assign_ops {
    ($ty:ty, $($gen:tt)*) => {
        impl<$($gen)*> AddAssign for $ty {
            #[inline(always)]
            fn add_assign(&mut self, rhs: Self) {
                *self = *self + rhs;
            }
        }
        impl<$($gen)*> SubAssign for $ty {
            #[inline(always)]
            fn sub_assign(&mut self, rhs: Self) {
                *self = *self - rhs;
            }
        }
        impl<$($gen)*> MulAssign for $ty {
            #[inline(always)]
            fn mul_assign(&mut self, rhs: Self) {
                *self = *self * rhs;
            }
        }
        impl<$($gen)*> DivAssign for $ty {
            #[inline(always)]
            fn div_assign(&mut self, rhs: Self) {
                *self = *self / rhs;
            }
        }
    };
}
pub(crate) use assign_ops;
impl<const N: usize> Add for MultiDual<N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        self.lanewise(rhs, self.re + rhs.re, |a, b| a + b)
    }
}

impl<const N: usize> Sub for MultiDual<N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        self.lanewise(rhs, self.re - rhs.re, |a, b| a - b)
    }
}

impl<const N: usize> Mul for MultiDual<N> {
    type Output = Self;
    /// The product rule: `(x + a ε)(y + b ε) = xy + (a y + x b) ε`.
    #[allow(clippy::suspicious_arithmetic_impl)]
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        let (x, y) = (self.re, rhs.re);
        self.lanewise(rhs, x * y, |a, b| a * y + x * b)
    }
}

impl<const N: usize> Div for MultiDual<N> {
    type Output = Self;
    /// The real part is the `f64` quotient itself, so a dual solve's real
    /// part retraces the plain solve exactly.
    #[inline(always)]
    fn div(self, rhs: Self) -> Self {
        let re = self.re / rhs.re;
        let inv = 1.0 / rhs.re;
        self.lanewise(rhs, re, |a, b| (a - re * b) * inv)
    }
}

assign_ops!(MultiDual<N>, const N: usize);

impl<const N: usize> Neg for MultiDual<N> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        self.chain(-self.re, -1.0)
    }
}

/// Compares values only, as the solver's decisions do.
impl<const N: usize> PartialEq for MultiDual<N> {
    fn eq(&self, other: &Self) -> bool {
        self.re == other.re
    }
}

/// Orders by value only.
impl<const N: usize> PartialOrd for MultiDual<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.re.partial_cmp(&other.re)
    }
}

impl<const N: usize> fmt::Display for MultiDual<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + {:?}ε", self.re, self.eps)
    }
}

/// `re + eps·ε` over any scalar: one more derivative direction, for the
/// Jacobians and time derivatives a solve takes in its own number type
/// ([`Scalar::Dual`] of a [`MultiDual`]).
#[derive(Clone, Copy, Debug)]
pub struct Tangent<T> {
    /// The value.
    pub re: T,
    /// The derivative along the extra direction.
    pub eps: T,
}

impl<T: Scalar> Tangent<T> {
    #[inline(always)]
    fn chain(self, value: T, slope: T) -> Self {
        Self {
            re: value,
            eps: self.eps * slope,
        }
    }
}

impl<T: Scalar> Add for Tangent<T> {
    type Output = Self;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        Self {
            re: self.re + rhs.re,
            eps: self.eps + rhs.eps,
        }
    }
}

impl<T: Scalar> Sub for Tangent<T> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        Self {
            re: self.re - rhs.re,
            eps: self.eps - rhs.eps,
        }
    }
}

impl<T: Scalar> Mul for Tangent<T> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        Self {
            re: self.re * rhs.re,
            eps: self.eps * rhs.re + self.re * rhs.eps,
        }
    }
}

impl<T: Scalar> Div for Tangent<T> {
    type Output = Self;
    #[inline(always)]
    fn div(self, rhs: Self) -> Self {
        let re = self.re / rhs.re;
        Self {
            re,
            eps: (self.eps - re * rhs.eps) / rhs.re,
        }
    }
}

impl<T: Scalar> Neg for Tangent<T> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Self {
            re: -self.re,
            eps: -self.eps,
        }
    }
}

assign_ops!(Tangent<T>, T: Scalar);

/// Compares values only.
impl<T: Scalar> PartialEq for Tangent<T> {
    fn eq(&self, other: &Self) -> bool {
        self.re.real() == other.re.real()
    }
}

/// Orders by value only.
impl<T: Scalar> PartialOrd for Tangent<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.re.real().partial_cmp(&other.re.real())
    }
}

impl<T: Scalar> fmt::Display for Tangent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + {}ε", self.re, self.eps)
    }
}

/// The elementary functions by the chain rule, from the value type `$re`'s
/// own functions (`f64`'s for [`MultiDual`], any scalar's for [`Tangent`]).
macro_rules! chain_rules {
    ($re:ty) => {
        #[inline(always)]
        fn abs(self) -> Self {
            if self.re.real() < 0.0 { -self } else { self }
        }
        #[inline(always)]
        fn sqrt(self) -> Self {
            let s = self.re.sqrt();
            self.chain(s, s.scaled(2.0).recip())
        }
        #[inline(always)]
        fn cbrt(self) -> Self {
            let c = self.re.cbrt();
            self.chain(c, (c * c).scaled(3.0).recip())
        }
        #[inline(always)]
        fn exp(self) -> Self {
            let e = self.re.exp();
            self.chain(e, e)
        }
        #[inline(always)]
        fn exp_m1(self) -> Self {
            self.chain(self.re.exp_m1(), self.re.exp())
        }
        #[inline(always)]
        fn ln(self) -> Self {
            self.chain(self.re.ln(), self.re.recip())
        }
        #[inline(always)]
        fn ln_1p(self) -> Self {
            self.chain(self.re.ln_1p(), (self.re + <$re as Scalar>::one()).recip())
        }
        #[inline(always)]
        fn log10(self) -> Self {
            self.chain(
                self.re.log10(),
                self.re.scaled(std::f64::consts::LN_10).recip(),
            )
        }
        #[inline(always)]
        fn powi(self, n: i32) -> Self {
            if n == 0 {
                return Self::one();
            }
            self.chain(self.re.powi(n), self.re.powi(n - 1).scaled(f64::from(n)))
        }
        #[inline(always)]
        fn powf(self, n: f64) -> Self {
            if n == 0.0 {
                return Self::one();
            }
            self.chain(self.re.powf(n), self.re.powf(n - 1.0).scaled(n))
        }
        #[inline(always)]
        fn pow(self, n: Self) -> Self {
            (self.ln() * n).exp()
        }
        #[inline(always)]
        fn sin(self) -> Self {
            self.chain(self.re.sin(), self.re.cos())
        }
        #[inline(always)]
        fn cos(self) -> Self {
            self.chain(self.re.cos(), -self.re.sin())
        }
        #[inline(always)]
        fn tan(self) -> Self {
            let t = self.re.tan();
            self.chain(t, t * t + <$re as Scalar>::one())
        }
        #[inline(always)]
        fn asin(self) -> Self {
            let s = (<$re as Scalar>::one() - self.re * self.re).sqrt().recip();
            self.chain(self.re.asin(), s)
        }
        #[inline(always)]
        fn acos(self) -> Self {
            let s = (<$re as Scalar>::one() - self.re * self.re).sqrt().recip();
            self.chain(self.re.acos(), -s)
        }
        #[inline(always)]
        fn atan(self) -> Self {
            let s = (<$re as Scalar>::one() + self.re * self.re).recip();
            self.chain(self.re.atan(), s)
        }
        #[inline(always)]
        fn sinh(self) -> Self {
            self.chain(self.re.sinh(), self.re.cosh())
        }
        #[inline(always)]
        fn cosh(self) -> Self {
            self.chain(self.re.cosh(), self.re.sinh())
        }
        #[inline(always)]
        fn tanh(self) -> Self {
            let t = self.re.tanh();
            self.chain(t, <$re as Scalar>::one() - t * t)
        }
        #[inline(always)]
        fn recip(self) -> Self {
            let r = self.re.recip();
            self.chain(r, -(r * r))
        }
    };
}

impl<const N: usize> Scalar for MultiDual<N> {
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
        Self::constant(x)
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
        self.chain(self.re * c, c)
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        self.re.is_finite() && self.eps.iter().all(|e| e.is_finite())
    }
    #[inline(always)]
    fn derivative_free(self) -> bool {
        self.eps.iter().all(|&e| e == 0.0)
    }
    chain_rules!(f64);
}

impl<T: Scalar> Scalar for Tangent<T> {
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
        Self {
            re: T::cst(x),
            eps: T::zero(),
        }
    }
    #[inline(always)]
    fn real(self) -> f64 {
        self.re.real()
    }
    #[inline(always)]
    fn with_real(self, re: f64) -> Self {
        Self {
            re: self.re.with_real(re),
            eps: self.eps,
        }
    }
    #[inline(always)]
    fn scaled(self, c: f64) -> Self {
        Self {
            re: self.re.scaled(c),
            eps: self.eps.scaled(c),
        }
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        self.re.is_finite() && self.eps.is_finite()
    }
    chain_rules!(T);
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_dual::Dual64;

    /// Every elementary function, composed.
    fn f<T: Scalar>(x: T) -> T {
        x.sin() * x.exp() + x.powi(3) - x.powf(2.5) + x.tanh() / x.sqrt() + x.ln_1p()
            - x.cos().abs()
            + x.cbrt() * x.exp_m1()
            + x.ln() * x.log10().exp().recip()
            + x.scaled(0.3).tan()
            + x.scaled(0.2).asin()
            + x.scaled(0.2).acos() * x.atan()
            + x.scaled(0.5).sinh() * x.cosh()
            + x.pow(x.scaled(0.5))
            + T::cst(2.0).max(x)
    }

    #[test]
    fn every_function_matches_num_dual() {
        for &x in &[0.3, 1.0, 1.7, 2.7] {
            let want = f(Dual64::new(x, 1.0));
            let got = f(MultiDual::<3>::seeded(x, 1));
            assert!((got.re - want.re).abs() < 1e-15 * want.re.abs(), "x = {x}");
            assert!((got.eps[1] - want.eps).abs() < 1e-12 * want.eps.abs().max(1.0));
            assert_eq!((got.eps[0], got.eps[2]), (0.0, 0.0));
            let tangent = f(Tangent { re: x, eps: 1.0 });
            assert!((tangent.re - want.re).abs() < 1e-15 * want.re.abs());
            assert!((tangent.eps - want.eps).abs() < 1e-12 * want.eps.abs().max(1.0));
        }
    }

    #[test]
    fn directions_are_independent() {
        let (x, y) = (0.7, 1.9);
        let xy = MultiDual::<4>::seeded(x, 0) * MultiDual::<4>::seeded(y, 2);
        let d = f(xy);
        let slope = f(Dual64::new(x * y, 1.0)).eps;
        assert!((d.eps[0] - slope * y).abs() < 1e-12 * slope.abs().max(1.0));
        assert!((d.eps[2] - slope * x).abs() < 1e-12 * slope.abs().max(1.0));
        assert_eq!((d.eps[1], d.eps[3]), (0.0, 0.0));
        assert!(Scalar::is_finite(d));
        let q = MultiDual::<4>::seeded(x, 0) / MultiDual::<4>::seeded(y, 2);
        assert_eq!(q.re, x / y);
        assert!((q.eps[0] - 1.0 / y).abs() < 1e-15 && (q.eps[2] + x / (y * y)).abs() < 1e-15);
    }

    #[test]
    fn nested_tangents_give_second_derivatives() {
        // x³ at x = 2 in direction 0, nested once more: f' = 12, f'' = 12.
        let x = MultiDual::<1>::seeded(2.0, 0);
        let y = Tangent {
            re: x,
            eps: MultiDual::one(),
        }
        .powi(3);
        assert_eq!(
            (y.re.re, y.re.eps[0], y.eps.re, y.eps.eps[0]),
            (8.0, 12.0, 12.0, 12.0)
        );
        let z = f(Tangent {
            re: x,
            eps: MultiDual::one(),
        });
        let second = f(num_dual::Dual::new(
            Dual64::new(2.0, 1.0),
            Dual64::new(1.0, 0.0),
        ));
        assert!((z.eps.eps[0] - second.eps.eps).abs() < 1e-10 * second.eps.eps.abs());
        assert!((z.re.re - second.re.re).abs() < 1e-15 * second.re.re.abs());
    }

    #[test]
    fn comparisons_and_finiteness_read_the_value() {
        let a = MultiDual::<2> {
            re: 1.0,
            eps: [100.0, 0.0],
        };
        let b = MultiDual::<2>::seeded(2.0, 1);
        assert!(a < b && a != b);
        assert_eq!(Scalar::max(a, b).re, 2.0);
        let bad = MultiDual::<2> {
            re: 1.0,
            eps: [f64::NAN, 0.0],
        };
        assert!(!Scalar::is_finite(bad));
        assert_eq!(MultiDual::<2>::seeded(1.0, 5).eps, [0.0, 0.0]);
    }
}
