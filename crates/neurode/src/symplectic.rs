//! Second-order problems `q'' = a(q, p, t)` and symplectic integrators for
//! them: velocity Verlet (order 2), Yoshida's order-4 and order-6
//! compositions, McLachlan–Atela's order-5 method. For a Hamiltonian `H = |v|²/2 + V(q)` they keep the energy
//! error bounded over very long times, where a Runge–Kutta method at the
//! same step lets it drift.

use crate::error::{Error, check_finite, check_len};
use crate::scalar::Scalar;
use crate::solve::{FixedGrid, ReturnCode, Solution, SolveOptions, Stepping};

/// The acceleration of `q'' = a(q, p, t)`, generic over the scalar.
pub trait SecondOrderFunction {
    /// `a(q, p, t)` into `acc`.
    fn acceleration<T: Scalar>(&self, acc: &mut [T], q: &[T], p: &[T], t: T);
    /// The number of positions, when fixed (checked on construction).
    fn num_positions(&self) -> Option<usize> {
        None
    }
}

/// `q'' = a(q, p, t)` from positions `q0` and velocities `v0`. Solutions
/// hold `(q, v)` (positions first) at each saved time.
///
/// ```
/// use neurode::prelude::*;
/// use neurode::symplectic::{SecondOrderFunction, SecondOrderProblem, Yoshida4};
///
/// /// A harmonic oscillator `q'' = −ω² q`.
/// struct Spring;
/// impl SecondOrderFunction for Spring {
///     fn acceleration<T: Scalar>(&self, a: &mut [T], q: &[T], p: &[T], _t: T) {
///         a[0] = -p[0] * p[0] * q[0];
///     }
/// }
/// let prob = SecondOrderProblem::new(Spring, vec![1.0], vec![0.0], (0.0, 1.0), vec![2.0]).unwrap();
/// let sol = prob.solve(Yoshida4, &SolveOptions::default().fixed_dt(0.01)).unwrap();
/// assert!((sol.u_end()[0] - 2.0_f64.cos()).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct SecondOrderProblem<F, T = f64> {
    f: F,
    q0: Vec<T>,
    v0: Vec<T>,
    tspan: (T, T),
    p: Vec<T>,
}

impl<F: SecondOrderFunction, T: Scalar> SecondOrderProblem<F, T> {
    /// Builds a problem, checking lengths and finiteness.
    pub fn new(
        f: F,
        q0: impl Into<Vec<T>>,
        v0: impl Into<Vec<T>>,
        tspan: (T, T),
        p: impl Into<Vec<T>>,
    ) -> Result<Self, Error> {
        let prob = Self {
            f,
            q0: q0.into(),
            v0: v0.into(),
            tspan,
            p: p.into(),
        };
        if prob.q0.is_empty() {
            return Err(Error::EmptyState);
        }
        if let Some(n) = prob.f.num_positions() {
            check_len("q0", &prob.q0, n)?;
        }
        check_len("v0", &prob.v0, prob.q0.len())?;
        check_finite("q0", &prob.q0)?;
        check_finite("v0", &prob.v0)?;
        check_finite("p", &prob.p)?;
        check_finite("tspan", &[prob.tspan.0, prob.tspan.1])?;
        if prob.tspan.0.real() == prob.tspan.1.real() {
            return Err(Error::EmptySpan(prob.tspan.0.real()));
        }
        Ok(prob)
    }

    /// Solves at a fixed step ([`SolveOptions::fixed_dt`]); steps land on
    /// the `saveat` times.
    pub fn solve<M: SymplecticMethod>(
        &self,
        method: M,
        opts: &SolveOptions,
    ) -> Result<Solution<T>, Error> {
        let _ = method;
        let n = self.q0.len();
        let (t0, t1) = (self.tspan.0.real(), self.tspan.1.real());
        opts.validate(2 * n, t0, t1)?;
        let Stepping::Fixed(dt) = opts.stepping else {
            return Err(Error::NeedsFixedStep { method: M::NAME });
        };
        let mut grid = FixedGrid::new(&opts.saveat, t0, t1, dt);
        let mut sol = Solution::new(2 * n, M::NAME, self.tspan.0);
        sol.reserve(grid.save_count(t0));
        let mut state = [self.q0.clone(), self.v0.clone()].concat();
        let mut acc = vec![T::zero(); n];
        let mut t = self.tspan.0;
        if grid.saves_start(t0) {
            sol.push(t, &state);
        }
        let (mut steps, mut evals) = (0, 0);
        let retcode = loop {
            let Some(step) = grid.next(t.real()) else {
                break ReturnCode::Success;
            };
            if steps >= opts.maxiters {
                break ReturnCode::MaxIters;
            }
            let h = if step.lands {
                T::cst(step.target) - t
            } else {
                T::cst(step.h)
            };
            let (q, v) = state.split_at_mut(n);
            // A kick–drift sequence: v += b_i h a(q), then q += a_i h v.
            let mut ts = t;
            for (&b, &a) in M::KICK_DRIFT.0.iter().zip(M::KICK_DRIFT.1) {
                self.f.acceleration(&mut acc, q, &self.p, ts);
                let hb = h.scaled(b);
                for (vi, &ai) in v.iter_mut().zip(&acc) {
                    *vi += ai * hb;
                }
                let ha = h.scaled(a);
                for (qi, &vi) in q.iter_mut().zip(v.iter()) {
                    *qi += vi * ha;
                }
                ts += ha;
                evals += 1;
            }
            // Kick–drift–kick Verlet substeps with the method's weights.
            for &w in M::WEIGHTS {
                let hw = h.scaled(w);
                let half = hw.scaled(0.5);
                self.f.acceleration(&mut acc, q, &self.p, ts);
                for (vi, &ai) in v.iter_mut().zip(&acc) {
                    *vi += ai * half;
                }
                for (qi, &vi) in q.iter_mut().zip(v.iter()) {
                    *qi += vi * hw;
                }
                ts += hw;
                self.f.acceleration(&mut acc, q, &self.p, ts);
                for (vi, &ai) in v.iter_mut().zip(&acc) {
                    *vi += ai * half;
                }
                evals += 2;
            }
            steps += 1;
            if !state.iter().all(|x| x.is_finite()) {
                break ReturnCode::Unstable;
            }
            t = if step.lands {
                T::cst(step.target)
            } else {
                t + h
            };
            let (save, done) = grid.after(&step);
            if save {
                sol.push(t, &state);
            }
            if done {
                break ReturnCode::Success;
            }
        };
        sol.retcode = retcode;
        sol.stats.accepted = steps;
        sol.stats.f_evals = evals;
        sol.reached = (self.tspan.0, t);
        sol.end = state;
        Ok(sol)
    }
}

/// A symplectic method: a composition of velocity-Verlet steps with
/// weights (symmetric, summing to one), or a sequence of kicks and drifts.
pub trait SymplecticMethod: Copy {
    /// Its name.
    const NAME: &'static str;
    /// Its order.
    const ORDER: usize;
    /// The Verlet substeps' fractions of the step (empty for a method
    /// given as a kick–drift sequence).
    const WEIGHTS: &'static [f64];
    /// A method given directly as kicks `b` and drifts `a` (each summing to
    /// one): `v += b_i h a(q)`, then `q += a_i h v`, in turn.
    const KICK_DRIFT: (&'static [f64], &'static [f64]) = (&[], &[]);
}

/// Velocity Verlet (Störmer–Verlet, leapfrog): order 2.
#[derive(Clone, Copy, Debug, Default)]
pub struct VelocityVerlet;

impl SymplecticMethod for VelocityVerlet {
    const NAME: &'static str = "VelocityVerlet";
    const ORDER: usize = 2;
    const WEIGHTS: &'static [f64] = &[1.0];
}

/// Yoshida's order-4 triple jump (Yoshida 1990): Verlet with weights
/// `w₁, w₀, w₁`, `w₁ = 1/(2 − 2^{1/3})`, `w₀ = 1 − 2w₁`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Yoshida4;

const Y4_W1: f64 = 1.351_207_191_959_657_6;
const Y4_W0: f64 = -1.702_414_383_919_315_3;

impl SymplecticMethod for Yoshida4 {
    const NAME: &'static str = "Yoshida4";
    const ORDER: usize = 4;
    const WEIGHTS: &'static [f64] = &[Y4_W1, Y4_W0, Y4_W1];
}

/// Yoshida's order-6 composition (solution A of Yoshida 1990): seven Verlet
/// substeps.
#[derive(Clone, Copy, Debug, Default)]
pub struct Yoshida6;

const Y6_W1: f64 = -1.177_679_984_178_87;
const Y6_W2: f64 = 0.235_573_213_359_357;
const Y6_W3: f64 = 0.784_513_610_477_560;
const Y6_W0: f64 = 1.0 - 2.0 * (Y6_W1 + Y6_W2 + Y6_W3);

impl SymplecticMethod for Yoshida6 {
    const NAME: &'static str = "Yoshida6";
    const ORDER: usize = 6;
    const WEIGHTS: &'static [f64] = &[Y6_W3, Y6_W2, Y6_W1, Y6_W0, Y6_W1, Y6_W2, Y6_W3];
}

/// McLachlan and Atela's fifth-order method (1992, "The accuracy of
/// symplectic integrators"): six kicks and six drifts, coefficients as in
/// DifferentialEquations.jl's `McAte5`.
#[derive(Clone, Copy, Debug, Default)]
pub struct McAte5;

// The coefficients as published (more digits than f64 keeps).
#[allow(clippy::excessive_precision)]
impl SymplecticMethod for McAte5 {
    const NAME: &'static str = "McAte5";
    const ORDER: usize = 5;
    const WEIGHTS: &'static [f64] = &[];
    const KICK_DRIFT: (&'static [f64], &'static [f64]) = (
        &[
            0.119_390_029_287_567_275_8,
            0.698_927_370_382_475_230_8,
            -0.171_312_358_271_600_775_4,
            0.401_269_502_251_353_448_0,
            0.010_705_081_848_235_984_0,
            -0.058_979_625_498_031_163_2,
        ],
        &[
            0.339_839_625_839_110_000,
            -0.088_601_336_903_027_329,
            0.585_856_476_825_962_118_8,
            -0.603_039_356_536_491_888,
            0.323_580_796_554_697_639_4,
            0.442_363_794_219_749_458_7,
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one() {
        for w in [
            VelocityVerlet::WEIGHTS,
            Yoshida4::WEIGHTS,
            Yoshida6::WEIGHTS,
        ] {
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        }
        let w1 = 1.0 / (2.0 - 2.0_f64.cbrt());
        assert!((Y4_W1 - w1).abs() < 1e-15 && (Y4_W0 - (1.0 - 2.0 * w1)).abs() < 1e-15);
    }
}
