//! Automatic stiffness switching: start with an explicit method, move to a
//! stiff one when the explicit method's stages show it is stepping at the
//! edge of its stability region, and back when the stiff method's Jacobian
//! says an explicit step of the current size would be stable again
//! (OrdinaryDiffEq's `AutoSwitch`, with Hairer's stiffness test).

use super::{DenseFn, ErrorScale, MethodInfo, OdeMethod, Rhs, Setup};
use crate::dim::Dim;
use crate::problem::OdeFunction;
use crate::scalar::Scalar;
use crate::solve::Stats;

/// A pair of methods with automatic switching between them.
///
/// ```
/// use neurode::prelude::*;
/// ode_system! {
///     struct VanDerPol;
///     fn rhs<T>(t; x, v; mu) -> (dx, dv) {
///         dx = v;
///         dv = mu * ((T::one() - x * x) * v) - x;
///     }
/// }
/// let prob = OdeProblem::new(VanDerPol, vec![2.0, 0.0], (0.0, 300.0), vec![100.0]).unwrap();
/// let sol = prob.solve(AutoTsit5(Rosenbrock23), &SolveOptions::default().tolerances(1e-6, 1e-6)).unwrap();
/// assert!(sol.is_success());
/// assert!(sol.stats.stiff_steps > 0 && sol.stats.stiff_steps < sol.stats.accepted);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct AutoSwitch<N, S> {
    /// The explicit method (it must detect stiffness: Tsit5 or DP5).
    pub nonstiff: N,
    /// The stiff method.
    pub stiff: S,
    /// Consecutive stiff-looking steps before switching to the stiff method.
    pub max_stiff_steps: usize,
    /// Consecutive nonstiff-looking steps before switching back.
    pub max_nonstiff_steps: usize,
}

impl<N: OdeMethod, S: OdeMethod> AutoSwitch<N, S> {
    /// Switching with OrdinaryDiffEq's default patience (10 steps to switch
    /// to the stiff method, 3 to switch back).
    pub fn new(nonstiff: N, stiff: S) -> Self {
        Self {
            nonstiff,
            stiff,
            max_stiff_steps: 10,
            max_nonstiff_steps: 3,
        }
    }
}

/// Tsit5 with automatic switching to `stiff` (Julia's `AutoTsit5`).
#[allow(non_snake_case)]
pub fn AutoTsit5<S: OdeMethod>(stiff: S) -> AutoSwitch<super::Tsit5, S> {
    AutoSwitch::new(super::Tsit5, stiff)
}

/// Working memory: both methods' caches and the switching state.
pub struct AutoCache<NC, SC> {
    nonstiff: NC,
    stiff: SC,
    /// True while the stiff method is stepping.
    on_stiff: bool,
    streak: usize,
    stiff_steps: usize,
    switches: usize,
    last_dt: f64,
}

fn auto_dense<N: OdeMethod, S: OdeMethod, T: Scalar>(theta: T, dt: T, data: &[T], out: &mut [T]) {
    if data[0].real() == 0.0 {
        N::dense_fn::<T>()(theta, dt, &data[1..], out)
    } else {
        S::dense_fn::<T>()(theta, dt, &data[1..], out)
    }
}

impl<N: OdeMethod, S: OdeMethod> OdeMethod for AutoSwitch<N, S> {
    fn is_one_step(&self) -> bool {
        false
    }

    type Cache<T: Scalar, D: Dim> = AutoCache<N::Cache<T, D>, S::Cache<T, D>>;

    fn info(&self) -> MethodInfo {
        let (n, s) = (self.nonstiff.info(), self.stiff.info());
        MethodInfo {
            name: "AutoSwitch",
            order: n.order,
            error_order: n.error_order.and(s.error_order),
            dense_order: n.dense_order.min(s.dense_order),
            mass_matrix: false,
            reuses_factorizations: false,
            stability_size: n.stability_size,
        }
    }

    fn new_cache<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        dim: D,
        setup: &Setup<'_, F, T>,
    ) -> Self::Cache<T, D> {
        let mut nonstiff = self.nonstiff.new_cache(dim, setup);
        self.nonstiff.track_stiffness(&mut nonstiff);
        let mut stiff = self.stiff.new_cache(dim, setup);
        self.stiff.track_stiffness(&mut stiff);
        AutoCache {
            nonstiff,
            stiff,
            on_stiff: false,
            streak: 0,
            stiff_steps: 0,
            switches: 0,
            last_dt: 0.0,
        }
    }

    fn start<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        u: &[T],
    ) {
        self.nonstiff.start(&mut c.nonstiff, rhs, t, u);
    }

    fn derivative<'c, T: Scalar, D: Dim>(&self, c: &'c Self::Cache<T, D>) -> &'c [T] {
        if c.on_stiff {
            self.stiff.derivative(&c.stiff)
        } else {
            self.nonstiff.derivative(&c.nonstiff)
        }
    }

    fn step<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        dt: T,
        u: &[T],
        u_new: &mut [T],
        scale: Option<&ErrorScale>,
    ) -> f64 {
        c.last_dt = dt.real().abs();
        if c.on_stiff {
            self.stiff.step(&mut c.stiff, rhs, t, dt, u, u_new, scale)
        } else {
            self.nonstiff
                .step(&mut c.nonstiff, rhs, t, dt, u, u_new, scale)
        }
    }

    fn accept<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t_new: T,
        u_new: &[T],
    ) {
        if c.on_stiff {
            self.stiff.accept(&mut c.stiff, rhs, t_new, u_new);
            c.stiff_steps += 1;
            let size = self.nonstiff.info().stability_size;
            let looks_nonstiff = self
                .stiff
                .stiffness_estimate(&c.stiff)
                .is_some_and(|rho| c.last_dt * rho < 0.9 * size);
            c.streak = if looks_nonstiff { c.streak + 1 } else { 0 };
        } else {
            self.nonstiff.accept(&mut c.nonstiff, rhs, t_new, u_new);
            let size = self.nonstiff.info().stability_size;
            let looks_stiff = self
                .nonstiff
                .stiffness_estimate(&c.nonstiff)
                .is_some_and(|rho| c.last_dt * rho > size);
            c.streak = if looks_stiff { c.streak + 1 } else { 0 };
        }
    }

    fn propose_step<T: Scalar, D: Dim>(
        &self,
        c: &Self::Cache<T, D>,
        dt: f64,
        accepted: bool,
    ) -> Option<f64> {
        if c.on_stiff {
            self.stiff.propose_step(&c.stiff, dt, accepted)
        } else {
            self.nonstiff.propose_step(&c.nonstiff, dt, accepted)
        }
    }

    fn interpolate<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        dt: T,
        u: &[T],
        theta: T,
        out: &mut [T],
    ) {
        if c.on_stiff {
            self.stiff
                .interpolate(&mut c.stiff, rhs, t, dt, u, theta, out)
        } else {
            self.nonstiff
                .interpolate(&mut c.nonstiff, rhs, t, dt, u, theta, out)
        }
    }

    fn dense_width(&self, n: usize) -> usize {
        1 + self.nonstiff.dense_width(n).max(self.stiff.dense_width(n))
    }

    fn write_dense<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        dt: T,
        u: &[T],
        out: &mut Vec<T>,
    ) {
        let start = out.len();
        let n = u.len();
        if c.on_stiff {
            out.push(T::one());
            self.stiff.write_dense(&mut c.stiff, rhs, t, dt, u, out);
        } else {
            out.push(T::zero());
            self.nonstiff
                .write_dense(&mut c.nonstiff, rhs, t, dt, u, out);
        }
        out.resize(start + self.dense_width(n), T::zero());
    }

    fn finish_step<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut Self::Cache<T, D>,
        rhs: &mut Rhs<F, T>,
        t: T,
        u: &[T],
    ) {
        // Switch once the step's output is complete, starting the other
        // method at the new point.
        let limit = if c.on_stiff {
            self.max_nonstiff_steps
        } else {
            self.max_stiff_steps
        };
        if c.streak >= limit {
            c.on_stiff = !c.on_stiff;
            c.streak = 0;
            c.switches += 1;
            if c.on_stiff {
                self.stiff.start(&mut c.stiff, rhs, t, u);
            } else {
                self.nonstiff.start(&mut c.nonstiff, rhs, t, u);
            }
        }
    }

    fn dense_fn<T: Scalar>() -> DenseFn<T> {
        auto_dense::<N, S, T>
    }

    fn report<T: Scalar, D: Dim>(&self, c: &Self::Cache<T, D>, stats: &mut Stats) {
        stats.stiff_steps += c.stiff_steps;
        stats.switches += c.switches;
    }
}
