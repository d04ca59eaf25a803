//! Losses of a solution: a number computed from the saved states, and its
//! gradient with respect to them (where the backward passes start).

use crate::error::Error;
use crate::scalar::Scalar;

/// A scalar loss of the saved states of a solve.
///
/// `u` holds the saved states back to back, `n` numbers per saved time
/// `t[k]` (the layout of [`Solution::u_flat`](crate::Solution::u_flat)).
/// [`value`](Self::value) is written once, generic over the scalar, so
/// forward-mode AD runs through it; reverse-mode methods need
/// [`value_and_gradient`](Self::value_and_gradient), which by default
/// differentiates `value` with dual numbers (one pass per saved number) and
/// is worth overriding for long series.
///
/// ```
/// use neurode::prelude::*;
/// use neurode::sensitivity::Loss;
///
/// /// Σ_k x_k y_k over the saved points.
/// struct Product;
/// impl Loss for Product {
///     fn value<T: Scalar>(&self, _t: &[f64], u: &[T], n: usize) -> T {
///         u.chunks(n).fold(T::zero(), |acc, s| acc + s[0] * s[1])
///     }
/// }
/// let mut grad = [0.0; 4];
/// let l = Product.value_and_gradient(&[0.0, 1.0], &[1.0, 2.0, 3.0, 4.0], 2, &mut grad);
/// assert_eq!(l, 14.0);
/// assert_eq!(grad, [2.0, 1.0, 4.0, 3.0]);
/// ```
pub trait Loss {
    /// The loss of the saved states.
    fn value<T: Scalar>(&self, t: &[f64], u: &[T], n: usize) -> T;

    /// The loss, with its gradient with respect to every saved number
    /// written into `grad` (the layout of `u`).
    fn value_and_gradient(&self, t: &[f64], u: &[f64], n: usize, grad: &mut [f64]) -> f64 {
        use num_dual::Dual64;
        let mut dual: Vec<Dual64> = u.iter().map(|&x| Dual64::from_re(x)).collect();
        for j in 0..u.len() {
            dual[j].eps = 1.0;
            grad[j] = self.value(t, &dual, n).eps;
            dual[j].eps = 0.0;
        }
        self.value(t, u, n)
    }

    /// Checks that the loss can be evaluated on `saves` saved points of `n`
    /// states (data of the right shape, components in range).
    fn check(&self, saves: usize, n: usize) -> Result<(), Error> {
        let _ = (saves, n);
        Ok(())
    }
}

/// What a [`SumOfSquares`] compares the saved states with.
#[derive(Clone, Debug, PartialEq)]
enum Target {
    /// One component against a constant.
    Constant { component: usize, value: f64 },
    /// Every saved number against data of the same layout.
    Data(Vec<f64>),
}

/// `Σ (u - target)²` over the saved points: the seed's losses.
///
/// ```
/// use neurode::sensitivity::{Loss, SumOfSquares};
/// // "Keep the rabbits at 1": Σ_k (x_k - 1)².
/// let loss = SumOfSquares::towards_constant(0, 1.0);
/// assert_eq!(loss.value(&[0.0, 1.0], &[1.5, 9.0, 0.0, 9.0], 2), 1.25);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SumOfSquares {
    target: Target,
}

impl SumOfSquares {
    /// `Σ_k (u_k[component] - value)²`.
    pub fn towards_constant(component: usize, value: f64) -> Self {
        Self {
            target: Target::Constant { component, value },
        }
    }

    /// `Σ (u - data)²` over every saved number; `data` has the layout of
    /// [`Solution::u_flat`](crate::Solution::u_flat).
    pub fn against_data(data: impl Into<Vec<f64>>) -> Self {
        Self {
            target: Target::Data(data.into()),
        }
    }
}

impl Loss for SumOfSquares {
    fn value<T: Scalar>(&self, _t: &[f64], u: &[T], n: usize) -> T {
        match &self.target {
            Target::Constant { component, value } => {
                u.iter()
                    .skip(*component)
                    .step_by(n)
                    .fold(T::zero(), |acc, &x| {
                        let d = x - T::cst(*value);
                        acc + d * d
                    })
            }
            Target::Data(data) => u.iter().zip(data).fold(T::zero(), |acc, (&x, &y)| {
                let d = x - T::cst(y);
                acc + d * d
            }),
        }
    }

    fn value_and_gradient(&self, _t: &[f64], u: &[f64], n: usize, grad: &mut [f64]) -> f64 {
        grad.fill(0.0);
        let mut sum = 0.0;
        match &self.target {
            Target::Constant { component, value } => {
                for k in (*component..u.len()).step_by(n) {
                    let d = u[k] - value;
                    sum += d * d;
                    grad[k] = 2.0 * d;
                }
            }
            Target::Data(data) => {
                for (k, (&x, &y)) in u.iter().zip(data).enumerate() {
                    let d = x - y;
                    sum += d * d;
                    grad[k] = 2.0 * d;
                }
            }
        }
        sum
    }

    fn check(&self, saves: usize, n: usize) -> Result<(), Error> {
        match &self.target {
            Target::Constant { component, .. } if *component >= n => Err(Error::WrongLength {
                what: "loss component index (as a length: component + 1)",
                got: component + 1,
                expected: n,
            }),
            Target::Data(data) if data.len() != saves * n => Err(Error::WrongLength {
                what: "loss data",
                got: data.len(),
                expected: saves * n,
            }),
            _ => Ok(()),
        }
    }
}

/// `Σ w·u` over every saved number: the loss whose gradient is `w`, which
/// is how an ODE layer's backward pass asks for `wᵀ ∂u/∂(p, u0)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearLoss {
    /// The weights, in the layout of the saved states.
    pub weights: Vec<f64>,
}

impl Loss for LinearLoss {
    fn value<T: Scalar>(&self, _t: &[f64], u: &[T], _n: usize) -> T {
        u.iter()
            .zip(&self.weights)
            .fold(T::zero(), |acc, (&x, &w)| acc + x.scaled(w))
    }

    fn value_and_gradient(&self, t: &[f64], u: &[f64], n: usize, grad: &mut [f64]) -> f64 {
        grad.copy_from_slice(&self.weights);
        self.value(t, u, n)
    }

    fn check(&self, saves: usize, n: usize) -> Result<(), Error> {
        if self.weights.len() == saves * n {
            Ok(())
        } else {
            Err(Error::WrongLength {
                what: "linear loss weights",
                got: self.weights.len(),
                expected: saves * n,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytic_gradients_match_the_dual_default() {
        struct Generic<'a>(&'a SumOfSquares);
        impl Loss for Generic<'_> {
            fn value<T: Scalar>(&self, t: &[f64], u: &[T], n: usize) -> T {
                self.0.value(t, u, n)
            }
        }
        let u = [0.3, 1.2, -0.4, 2.0, 0.9, 0.1];
        let t = [0.0, 0.5, 1.0];
        for loss in [
            SumOfSquares::towards_constant(1, 1.0),
            SumOfSquares::against_data(vec![0.0, 1.0, 0.0, 1.0, 2.0, 0.0]),
        ] {
            let (mut a, mut b) = ([0.0; 6], [0.0; 6]);
            let la = loss.value_and_gradient(&t, &u, 2, &mut a);
            let lb = Generic(&loss).value_and_gradient(&t, &u, 2, &mut b);
            assert!((la - lb).abs() < 1e-14);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn wrong_shapes_are_typed_errors() {
        assert!(SumOfSquares::towards_constant(2, 1.0).check(5, 2).is_err());
        assert!(
            SumOfSquares::against_data(vec![0.0; 9])
                .check(5, 2)
                .is_err()
        );
        assert!(
            SumOfSquares::against_data(vec![0.0; 10])
                .check(5, 2)
                .is_ok()
        );
    }
}
