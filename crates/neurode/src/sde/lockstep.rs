//! The fixed-step loop, and where its increments come from: one path's
//! noise source, or one Brownian path per lane of a [`PathLanes`].
//!
//! Paths of a fixed-step ensemble share the time grid, so a solve in
//! `PathLanes<K>` steps `K` of them at once: one path alone is a chain of
//! dependent operations (state → drift → state) that leaves the processor
//! waiting on latencies, while `K` lanes fill vector instructions and the
//! grid's bookkeeping is paid once for all. Lane `l` draws exactly what
//! path `l` alone would, so results agree bit for bit.

use super::brownian::{BrownianPath, NoiseSource, i10_from};
use super::methods::{SdeMethod, TakenStep, Work};
use super::problem::{SdeFunction, SdeProblem};
use crate::error::Error;
use crate::path_lanes::PathLanes;
use crate::scalar::Scalar;
use crate::solve::{FixedGrid, ReturnCode, Solution, SolveOptions, Stepping};

/// How many paths an ensemble steps together, one per lane of a
/// [`PathLanes`] (16 measured fastest on the W5 ensemble, against 4, 8
/// and 32).
pub(crate) const BLOCK: usize = 16;

/// Where a lane's Wiener increments come from, in the lane's number type.
pub(crate) trait LaneNoise<T> {
    /// The number of Wiener processes.
    fn dim(&self) -> usize;
    /// The increments of the step `(t, h)` into `dw`, and their iterated
    /// integrals into `i10` when `with_i10`.
    fn draw(&mut self, t: f64, h: f64, with_i10: bool, dw: &mut [T], i10: &mut [T]);
    /// The last step's increments and integrals as `f64`, for observers
    /// (empty when the lane holds several paths).
    fn last(&self) -> (&[f64], &[f64]);
}

/// One path's noise.
pub(crate) struct OnePath<'a, N> {
    noise: &'a mut N,
    dw: Vec<f64>,
    i10: Vec<f64>,
}

impl<'a, N: NoiseSource> OnePath<'a, N> {
    pub(crate) fn new(noise: &'a mut N) -> Self {
        let m = noise.dim();
        Self {
            noise,
            dw: vec![0.0; m],
            i10: vec![0.0; m],
        }
    }
}

impl<T: Scalar, N: NoiseSource> LaneNoise<T> for OnePath<'_, N> {
    fn dim(&self) -> usize {
        self.noise.dim()
    }
    #[inline(always)]
    fn draw(&mut self, t: f64, h: f64, with_i10: bool, dw: &mut [T], i10: &mut [T]) {
        if with_i10 {
            self.noise.increment_i10(t, h, &mut self.dw, &mut self.i10);
            for (d, &x) in i10.iter_mut().zip(&self.i10) {
                *d = T::cst(x);
            }
        } else {
            self.noise.increment(t, h, &mut self.dw);
        }
        for (d, &x) in dw.iter_mut().zip(&self.dw) {
            *d = T::cst(x);
        }
    }
    fn last(&self) -> (&[f64], &[f64]) {
        (&self.dw, &self.i10)
    }
}

/// `K` paths' own Brownian paths, one per lane: lane `l` draws what path
/// `l` alone would.
pub(crate) struct LanePaths<const K: usize> {
    paths: Vec<BrownianPath>,
    m: usize,
}

impl<const K: usize> LanePaths<K> {
    /// Path `l` from `seeds[l]`.
    pub(crate) fn new(m: usize, seeds: [u64; K]) -> Self {
        Self {
            paths: seeds.iter().map(|&s| BrownianPath::new(m, s)).collect(),
            m,
        }
    }
}

impl<const K: usize> LaneNoise<PathLanes<K>> for LanePaths<K> {
    fn dim(&self) -> usize {
        self.m
    }
    #[inline(always)]
    fn draw(
        &mut self,
        _t: f64,
        h: f64,
        with_i10: bool,
        dw: &mut [PathLanes<K>],
        i10: &mut [PathLanes<K>],
    ) {
        // As `BrownianPath::increment(_i10)` draws them, lane by lane.
        let s = h.abs().sqrt();
        for (l, path) in self.paths.iter_mut().enumerate() {
            for d in dw.iter_mut() {
                d.0[l] = path.next_scaled(s);
            }
            if with_i10 {
                for (a, w) in i10.iter_mut().zip(dw.iter()) {
                    a.0[l] = i10_from(h, w.0[l], path.next_scaled(s));
                }
            }
        }
    }
    fn last(&self) -> (&[f64], &[f64]) {
        (&[], &[])
    }
}

impl<F: SdeFunction, T: Scalar> SdeProblem<F, T> {
    /// The fixed-step loop over one path, telling `observe` about every
    /// step taken (the discrete adjoint records them).
    pub(crate) fn run_fixed<M: SdeMethod, N: NoiseSource>(
        &self,
        method: M,
        opts: &SolveOptions,
        noise: &mut N,
        observe: impl FnMut(TakenStep<'_, T>),
    ) -> Result<Solution<T>, Error> {
        self.run_fixed_lanes(method, opts, OnePath::new(noise), observe)
    }

    /// The fixed-step loop with the increments from `noise`.
    pub(crate) fn run_fixed_lanes<M: SdeMethod, L: LaneNoise<T>>(
        &self,
        method: M,
        opts: &SolveOptions,
        mut noise: L,
        mut observe: impl FnMut(TakenStep<'_, T>),
    ) -> Result<Solution<T>, Error> {
        self.validate()?;
        let (n, shape) = (self.len(), self.f.noise());
        if !M::supports(shape) {
            return Err(Error::Unsupported(format!(
                "{} with {shape:?} noise (use EulerMaruyama or EulerHeun)",
                M::NAME
            )));
        }
        if noise.dim() != shape.processes(n) {
            return Err(Error::WrongLength {
                what: "noise source",
                got: noise.dim(),
                expected: shape.processes(n),
            });
        }
        let (t0, t1) = (self.tspan.0.real(), self.tspan.1.real());
        opts.validate(n, t0, t1)?;
        let Stepping::Fixed(dt) = opts.stepping else {
            return Err(Error::NeedsFixedStep { method: M::NAME });
        };
        let mut grid = FixedGrid::new(&opts.saveat, t0, t1, dt);
        let mut sol = Solution::new(n, M::NAME, self.tspan.0);
        sol.reserve(grid.save_count(t0));
        let mut work = Work::<T>::new(n, self.p.len(), shape);
        let mut u = self.u0.clone();
        let mut u_new = self.u0.clone();
        let mut t = self.tspan.0;
        if grid.saves_start(t0) {
            sol.push(t, &u);
        }
        let mut steps = 0;
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
            let w = &mut work;
            noise.draw(t.real(), h.real(), M::NEEDS_I10, &mut w.dw, &mut w.i10);
            method.step(&self.f, &self.p, t, h, &u, &mut u_new, w);
            steps += 1;
            if !u_new.iter().all(|x| x.is_finite()) {
                break ReturnCode::Unstable;
            }
            std::mem::swap(&mut u, &mut u_new);
            let t_start = t;
            t = if step.lands {
                T::cst(step.target)
            } else {
                t + h
            };
            let (save, done) = grid.after(&step);
            let (dw, i10) = noise.last();
            observe(TakenStep {
                t: t_start,
                h,
                dw,
                i10,
                u_new: &u,
                saved: save,
            });
            if save {
                sol.push(t, &u);
            }
            if done {
                break ReturnCode::Success;
            }
        };
        sol.retcode = retcode;
        sol.stats.accepted = steps;
        sol.stats.f_evals = work.drift_evals;
        sol.reached = (self.tspan.0, t);
        sol.end = u;
        Ok(sol)
    }
}
