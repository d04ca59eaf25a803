//! Adaptive steps for the order-1.5 methods, with rejection sampling with
//! memory (Rackauckas & Nie 2017): a rejected step's Brownian increments are
//! not redrawn but split by a Brownian bridge, the unused part kept for the
//! steps that follow, so the path — and the solution's law — stays that of
//! one Brownian motion whatever the step sizes.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::brownian::i10_from;
use super::methods::{SdeMethod, Work};
use super::problem::{SdeFunction, SdeProblem};
use crate::error::Error;
use crate::scalar::Scalar;
use crate::solve::{ReturnCode, SaveAt, Solution, SolveOptions, Stepping, save_grid};

/// The deterministic part's weight in the error estimate (StochasticDiffEq's
/// `delta` for SRIW1).
const DELTA: f64 = 1.0 / 6.0;

/// Relative length below which a leftover piece of a step is absorbed
/// rather than stepped on its own.
pub(super) const SLIVER: f64 = 1e-9;

/// Brownian increments over a span: `(h, ΔW, ΔZ)` per process; `Z` is the
/// auxiliary motion that gives `I₁₀`.
#[derive(Clone, Debug)]
pub(super) struct Chunk {
    pub(super) h: f64,
    pub(super) dw: Vec<f64>,
    pub(super) dz: Vec<f64>,
}

/// The future of the path that rejected steps have already fixed, nearest
/// first (on top), and the generator for the rest. Spent chunks are kept
/// for reuse, so stepping does not allocate once the stack has grown.
pub(super) struct BridgeStack {
    rng: Xoshiro256PlusPlus,
    stack: Vec<Chunk>,
    spare: Vec<Chunk>,
    m: usize,
}

impl BridgeStack {
    /// The path of `m` processes drawn from `seed`.
    pub(super) fn new(m: usize, seed: u64) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            stack: Vec::new(),
            spare: Vec::new(),
            m,
        }
    }

    /// A chunk of `m` processes (contents unspecified), reused if possible.
    fn blank(&mut self, h: f64) -> Chunk {
        let mut c = self.spare.pop().unwrap_or_else(|| Chunk {
            h,
            dw: vec![0.0; self.m],
            dz: vec![0.0; self.m],
        });
        c.h = h;
        c
    }

    /// Hands a spent chunk back for reuse.
    pub(super) fn recycle(&mut self, c: Chunk) {
        self.spare.push(c);
    }

    fn fresh(&mut self, h: f64) -> Chunk {
        let mut c = self.blank(h);
        let s = h.sqrt();
        for x in c.dw.iter_mut().chain(c.dz.iter_mut()) {
            let z: f64 = StandardNormal.sample(&mut self.rng);
            *x = s * z;
        }
        c
    }

    /// Splits `c` at `h1 < c.h` by the Brownian bridge: the first part's
    /// increments given the whole's (written over `c`), and the rest.
    fn split(&mut self, mut c: Chunk, h1: f64) -> (Chunk, Chunk) {
        let frac = h1 / c.h;
        let sd = (h1 * (c.h - h1) / c.h).max(0.0).sqrt();
        let mut rest = self.blank(c.h - h1);
        let pairs = c.dw.iter_mut().zip(rest.dw.iter_mut());
        for (whole, later) in pairs.chain(c.dz.iter_mut().zip(rest.dz.iter_mut())) {
            let z: f64 = StandardNormal.sample(&mut self.rng);
            let first = frac * *whole + sd * z;
            *later = *whole - first;
            *whole = first;
        }
        c.h = h1;
        (c, rest)
    }

    /// The increments of the next step of (at most) `h`; returns the step
    /// actually available (a stored chunk may be shorter).
    pub(super) fn take(&mut self, h: f64) -> Chunk {
        match self.stack.pop() {
            None => self.fresh(h),
            // A stored chunk no longer than asked for (up to the rounding of
            // the times it was cut at) is taken whole: never leave a sliver.
            Some(c) if c.h <= h * (1.0 + SLIVER) => c,
            Some(c) => {
                let (first, rest) = self.split(c, h);
                self.stack.push(rest);
                first
            }
        }
    }

    /// A rejected step: keep its increments, retry with the first `h1`.
    pub(super) fn reject(&mut self, c: Chunk, h1: f64) -> Chunk {
        let (first, rest) = self.split(c, h1);
        self.stack.push(rest);
        first
    }
}

impl<F: SdeFunction, T: Scalar> SdeProblem<F, T> {
    /// Solves with adaptive steps chosen by `method`'s error estimate against
    /// `opts.rtol`/`opts.atol`; rejected steps keep their Brownian increments
    /// (bridged), so the seed fixes the path whatever the steps. Saves at
    /// `saveat` times are stepped onto exactly.
    pub fn solve_adaptive<M: SdeMethod>(
        &self,
        method: M,
        opts: &SolveOptions,
        seed: u64,
    ) -> Result<Solution<T>, Error> {
        self.validate()?;
        let (n, shape) = (self.len(), self.f.noise());
        if !M::supports(shape) || !M::NEEDS_I10 {
            return Err(Error::Unsupported(format!(
                "adaptive {} with {shape:?} noise (SRIW1: diagonal or scalar; SRA1: additive)",
                M::NAME
            )));
        }
        let (t0, t1) = (self.tspan.0.real(), self.tspan.1.real());
        opts.validate(n, t0, t1)?;
        if t1 < t0 {
            return Err(Error::Unsupported(
                "adaptive SDE solves run forwards".into(),
            ));
        }
        let Stepping::Adaptive { dt0 } = opts.stepping else {
            return self.solve(method, opts, seed);
        };
        let every = matches!(opts.saveat, SaveAt::EveryStep);
        let saves = save_grid(&opts.saveat, t0, t1, 1.0);
        let mut next_save = 0;
        let m = shape.processes(n);
        let mut noise = BridgeStack::new(m, seed);
        let mut work = Work::<T>::new(n, self.p.len(), shape);
        let mut sol = Solution::new(n, M::NAME, self.tspan.0);
        let mut u = self.u0.clone();
        let mut u_new = self.u0.clone();
        let mut t = self.tspan.0;
        if every || saves.first() == Some(&t0) {
            sol.push(t, &u);
            next_save += usize::from(!every);
        }
        let span = t1 - t0;
        let dtmax = opts.dtmax.unwrap_or(span).min(span);
        let mut h_try = dt0.unwrap_or(1e-3 * span).min(dtmax);
        let mut iters = 0;
        let retcode = loop {
            let target = if every {
                t1
            } else {
                saves.get(next_save).copied().unwrap_or(t1)
            };
            let dist = target - t.real();
            if dist <= 0.0 {
                break ReturnCode::Success;
            }
            let lands = h_try * 1.01 >= dist;
            let mut chunk = noise.take(if lands { dist } else { h_try });
            loop {
                if iters >= opts.maxiters {
                    break;
                }
                if chunk.h <= opts.dtmin.max(4.0 * f64::EPSILON * t.real().abs()) {
                    break;
                }
                iters += 1;
                let h = chunk.h;
                for j in 0..m {
                    work.dw[j] = T::cst(chunk.dw[j]);
                    work.i10[j] = T::cst(i10_from(h, chunk.dw[j], chunk.dz[j]));
                }
                method.step(&self.f, &self.p, t, T::cst(h), &u, &mut u_new, &mut work);
                let mut err = 0.0;
                for i in 0..n {
                    let scale = opts.atol.at(i)
                        + opts.rtol.at(i) * u[i].real().abs().max(u_new[i].real().abs());
                    let e = (DELTA * work.err_det[i].real().abs() + work.err_sto[i].real().abs())
                        / scale;
                    err += e * e;
                }
                let err = (err / n as f64).sqrt();
                // Order 1.5: the local error scales like h^{1.5} (h^2 for the
                // deterministic part), so steps move with err^{-1/2}.
                let factor = (0.9 * err.max(1e-10).powf(-0.5)).clamp(0.2, 2.0);
                if err <= 1.0 && u_new.iter().all(|x| x.is_finite()) {
                    h_try = (h * factor).min(dtmax);
                    break;
                }
                sol.stats.rejected += 1;
                let h1 = h * factor.min(0.9);
                chunk = noise.reject(chunk, h1);
            }
            if iters >= opts.maxiters {
                break ReturnCode::MaxIters;
            }
            if chunk.h <= opts.dtmin.max(4.0 * f64::EPSILON * t.real().abs()) {
                break ReturnCode::DtLessThanMin;
            }
            if !u_new.iter().all(|x| x.is_finite()) {
                break ReturnCode::Unstable;
            }
            sol.stats.accepted += 1;
            std::mem::swap(&mut u, &mut u_new);
            let reached = t.real() + chunk.h;
            let on_target = (reached - target).abs() <= SLIVER * chunk.h.max(f64::EPSILON);
            noise.recycle(chunk);
            t = if on_target {
                T::cst(target)
            } else {
                T::cst(reached)
            };
            if every {
                sol.push(t, &u);
            } else if on_target && next_save < saves.len() && target == saves[next_save] {
                sol.push(t, &u);
                next_save += 1;
            }
            if on_target && target == t1 {
                break ReturnCode::Success;
            }
        };
        sol.retcode = retcode;
        sol.stats.f_evals = work.drift_evals;
        sol.reached = (self.tspan.0, t);
        sol.end = u;
        Ok(sol)
    }
}
