//! Elementwise functions: the activations of dense layers, and maps such as
//! the seed's `x -> x.^3` used as layers of their own.

use crate::scalar::Scalar;

/// An elementwise function with its derivative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `x`.
    Identity,
    /// `tanh x`.
    Tanh,
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x σ(x)` (SiLU).
    Swish,
    /// `x Φ(x)` in its tanh form, `½x(1 + tanh(√(2/π)(x + 0.044715 x³)))`.
    Gelu,
    /// `x³` (the seed's spiral model starts with it).
    Cube,
}

/// `√(2/π)`.
const GELU_C: f64 = 0.797_884_560_802_865_4;
const GELU_A: f64 = 0.044_715;

impl Activation {
    /// `f(x)`.
    #[inline]
    pub fn apply<T: Scalar>(self, x: T) -> T {
        match self {
            Activation::Identity => x,
            Activation::Tanh => x.tanh(),
            Activation::Relu => {
                if x.real() > 0.0 {
                    x
                } else {
                    T::zero()
                }
            }
            Activation::Sigmoid => sigmoid(x),
            Activation::Softplus => softplus(x),
            Activation::Swish => x * sigmoid(x),
            Activation::Gelu => {
                let inner = (x + x * x * x.scaled(GELU_A)).scaled(GELU_C);
                x.scaled(0.5) * (T::one() + inner.tanh())
            }
            Activation::Cube => x * x * x,
        }
    }

    /// `y[i] = f(x[i])`, the match hoisted out of the loop (and `tanh`
    /// vectorised for `f64`).
    #[inline]
    pub fn apply_slice<T: Scalar>(self, x: &[T], y: &mut [T]) {
        macro_rules! each {
            ($f:expr) => {
                for (yi, &xi) in y.iter_mut().zip(x) {
                    *yi = $f(xi);
                }
            };
        }
        match self {
            Activation::Identity => y.copy_from_slice(x),
            Activation::Tanh => T::tanh_slice(x, y),
            Activation::Relu => each!(|v| Activation::Relu.apply(v)),
            Activation::Sigmoid => each!(sigmoid),
            Activation::Softplus => each!(softplus),
            Activation::Swish => each!(|v| Activation::Swish.apply(v)),
            Activation::Gelu => each!(|v| Activation::Gelu.apply(v)),
            Activation::Cube => each!(|v: T| v * v * v),
        }
    }

    /// `out[i] = g[i] f'(x[i])` given `y = f(x)`: how a backward pass turns
    /// the adjoint of the outputs into that of the pre-activations.
    pub fn times_derivative<T: Scalar>(self, x: &[T], y: &[T], g: &[T], out: &mut [T]) {
        match self {
            Activation::Identity => out.copy_from_slice(g),
            Activation::Tanh => {
                for ((oi, &gi), &yi) in out.iter_mut().zip(g).zip(y) {
                    *oi = gi * (T::one() - yi * yi);
                }
            }
            _ => {
                for (((oi, &gi), &xi), &yi) in out.iter_mut().zip(g).zip(x).zip(y) {
                    *oi = gi * self.derivative(xi, yi);
                }
            }
        }
    }

    /// `f'(x)`, given `x` and `y = f(x)` (whichever is cheaper to use).
    #[inline]
    pub fn derivative<T: Scalar>(self, x: T, y: T) -> T {
        match self {
            Activation::Identity => T::one(),
            Activation::Tanh => T::one() - y * y,
            Activation::Relu => {
                if x.real() > 0.0 {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::Sigmoid => y * (T::one() - y),
            Activation::Softplus => sigmoid(x),
            Activation::Swish => {
                let s = sigmoid(x);
                s + x * s * (T::one() - s)
            }
            Activation::Gelu => {
                let x2 = x * x;
                let th = ((x + x * x2.scaled(GELU_A)).scaled(GELU_C)).tanh();
                let dinner = (T::one() + x2.scaled(3.0 * GELU_A)).scaled(GELU_C);
                (T::one() + th).scaled(0.5) + x.scaled(0.5) * (T::one() - th * th) * dinner
            }
            Activation::Cube => (x * x).scaled(3.0),
        }
    }
}

/// The logistic function, computed without overflow for large `|x|`.
#[inline]
fn sigmoid<T: Scalar>(x: T) -> T {
    if x.real() >= 0.0 {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// `ln(1 + e^x)`, computed without overflow for large `x`.
#[inline]
fn softplus<T: Scalar>(x: T) -> T {
    if x.real() > 30.0 {
        x + (-x).exp()
    } else {
        x.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        use Activation::*;
        for act in [Identity, Tanh, Relu, Sigmoid, Softplus, Swish, Gelu, Cube] {
            for &x in &[-2.3, -0.4, 0.3, 1.7, 40.0, -40.0] {
                let h = 1e-6;
                let fd = (act.apply(x + h) - act.apply(x - h)) / (2.0 * h);
                let d = act.derivative(x, act.apply(x));
                assert!(
                    (d - fd).abs() < 1e-6 * fd.abs().max(1.0),
                    "{act:?} at {x}: {d} vs {fd}"
                );
            }
        }
    }
}

#[cfg(test)]
mod slice_tests {
    use super::*;

    #[test]
    fn slice_forms_agree_with_elementwise_ones() {
        use Activation::*;
        let x: Vec<f64> = (0..97).map(|i| -6.0 + 0.13 * i as f64).collect();
        for act in [Identity, Tanh, Relu, Sigmoid, Softplus, Swish, Gelu, Cube] {
            let mut y = vec![0.0; x.len()];
            act.apply_slice(&x, &mut y);
            let mut g = vec![0.0; x.len()];
            act.times_derivative(&x, &y, &vec![0.7; x.len()], &mut g);
            for ((&xi, &yi), &gi) in x.iter().zip(&y).zip(&g) {
                let (ye, de) = (act.apply(xi), act.derivative(xi, act.apply(xi)));
                assert!(
                    (yi - ye).abs() <= 1e-15 * ye.abs().max(1.0),
                    "{act:?} f({xi})"
                );
                assert!(
                    (gi - 0.7 * de).abs() <= 1e-15 * de.abs().max(1.0),
                    "{act:?} f'({xi})"
                );
            }
        }
    }
}
