//! Simplified Newton iteration for one implicit stage `z = h f(t, base + γ z)`,
//! with the convergence-rate test of Hairer & Wanner (*Solving ODEs II*, IV.8).

use super::woperator::{Part, WOperator};
use crate::methods::Rhs;
use crate::problem::OdeFunction;
use crate::scalar::Scalar;

/// The weighted size below which a single Newton correction is accepted.
const FIRST_ITERATION_TOL: f64 = 1e-5;

/// Newton's settings.
#[derive(Clone, Copy, Debug)]
pub struct NewtonSettings {
    /// Stop when the predicted remaining error is below `kappa` (in units of
    /// the error tolerance).
    pub kappa: f64,
    /// Most iterations per stage.
    pub max_iters: usize,
}

impl Default for NewtonSettings {
    fn default() -> Self {
        Self {
            kappa: 0.01,
            max_iters: 10,
        }
    }
}

/// How a stage solve ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NewtonOutcome {
    /// Converged in this many iterations; `rate` is the last contraction factor.
    Converged {
        /// Iterations taken.
        iters: usize,
        /// Last observed contraction factor (0 if only one iteration).
        rate: f64,
    },
    /// Diverged, too slow, or produced non-finite values.
    Failed,
}

/// Scratch vectors and state for stage solves.
#[derive(Clone, Debug)]
pub struct Newton<T> {
    /// Stage state `base + γ z`.
    y: Vec<T>,
    /// `h f(y)` and then the Newton correction.
    delta: Vec<T>,
    /// `η`, carried from solve to solve (Hairer's `max(η_old, ε)^0.8`).
    eta: f64,
    /// Settings.
    pub settings: NewtonSettings,
}

impl<T: Scalar> Newton<T> {
    /// Scratch for `n` states.
    pub fn new(n: usize) -> Self {
        Self {
            y: vec![T::zero(); n],
            delta: vec![T::zero(); n],
            eta: 1.0,
            settings: NewtonSettings::default(),
        }
    }

    /// Solves `z = h f(t, base + γ z)` for `z` (initial guess in `z`), with
    /// `W ≈ I - γ h J` already factored. `weights` scale the error norm.
    #[allow(clippy::too_many_arguments)]
    pub fn solve_stage<F: OdeFunction>(
        &mut self,
        w: &mut WOperator<T>,
        rhs: &mut Rhs<F, T>,
        part: Part,
        t: T,
        h: T,
        gamma: f64,
        base: &[T],
        z: &mut [T],
        weights: &[f64],
    ) -> NewtonOutcome {
        let n = z.len();
        let kappa = self.settings.kappa;
        self.eta = self.eta.max(f64::EPSILON).powf(0.8);
        let mut previous = f64::INFINITY;
        let mut rate = 0.0;
        for iter in 0..self.settings.max_iters {
            for ((y, &b), &zi) in self.y.iter_mut().zip(base).zip(z.iter()) {
                *y = b + zi.scaled(gamma);
            }
            match part {
                Part::Full => rhs.eval(&mut self.delta, &self.y, t),
                Part::Stiff => rhs.eval_stiff(&mut self.delta, &self.y, t),
            }
            // Residual h f(y) - z, then the correction W⁻¹ of it.
            for (d, &zi) in self.delta.iter_mut().zip(z.iter()) {
                *d = h * *d - zi;
            }
            w.solve(rhs, &mut self.delta);
            let mut sum = 0.0;
            for (d, &wt) in self.delta.iter().zip(weights) {
                let r = d.real() / wt;
                sum += r * r;
            }
            let norm = (sum / n as f64).sqrt();
            if !norm.is_finite() {
                return NewtonOutcome::Failed;
            }
            if iter > 0 {
                rate = norm / previous;
                if rate >= 2.0 {
                    return NewtonOutcome::Failed;
                }
                // Would the remaining iterations get there at this rate?
                let remaining = (self.settings.max_iters - 1 - iter) as i32;
                if rate < 1.0 && rate.powi(remaining) / (1.0 - rate) * norm > kappa {
                    return NewtonOutcome::Failed;
                }
                self.eta = if rate < 1.0 {
                    rate / (1.0 - rate)
                } else {
                    f64::INFINITY
                };
            }
            for (zi, &d) in z.iter_mut().zip(&self.delta) {
                *zi += d;
            }
            // A first iteration only counts as converged when its correction
            // is tiny outright (OrdinaryDiffEq's rule): with an η carried from
            // an easier solve, one step of a stale W can leave components far
            // below atol (ROBER's y2 ~ 1e-12) wrong by their whole size, and
            // through the stiff coupling they then steer the resolved ones.
            let converged = if iter == 0 {
                norm < FIRST_ITERATION_TOL
            } else {
                self.eta * norm < kappa
            };
            if norm == 0.0 || converged {
                return NewtonOutcome::Converged {
                    iters: iter + 1,
                    rate,
                };
            }
            previous = norm;
        }
        NewtonOutcome::Failed
    }
}
