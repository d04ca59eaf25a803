//! Many paths of one SDE, in parallel (feature `parallel`, rayon), and
//! statistics over them: mean, standard deviation and quantiles at every
//! saved time.

use super::lockstep::{BLOCK, LanePaths};
use super::methods::SdeMethod;
use super::problem::{SdeFunction, SdeProblem};
use crate::error::Error;
use crate::path_lanes::{PathLanes, take_divergence};
use crate::solve::{SolveOptions, Stepping};

/// How many paths, from which seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnsembleOptions {
    /// The number of paths.
    pub trajectories: usize,
    /// Path `i` uses the Brownian path of seed `seed + i`.
    pub seed: u64,
}

/// The saved states of every successful path.
#[derive(Clone, Debug)]
pub struct Ensemble {
    /// The save times (the same for every path).
    pub t: Vec<f64>,
    n: usize,
    /// Path after path, time after time, state after state.
    data: Vec<f64>,
    paths: usize,
    /// Paths that ended early (unstable or out of iterations) and are left
    /// out of the statistics.
    pub failed: usize,
}

impl Ensemble {
    /// The number of successful paths.
    pub fn paths(&self) -> usize {
        self.paths
    }

    /// Component `j` at save time `k` over every path.
    pub fn values(&self, k: usize, j: usize) -> Vec<f64> {
        let per_path = self.t.len() * self.n;
        (0..self.paths)
            .map(|i| self.data[i * per_path + k * self.n + j])
            .collect()
    }

    /// The mean state at every save time (`t.len()` rows of `n`).
    pub fn mean(&self) -> Vec<Vec<f64>> {
        self.map_values(|v| v.iter().sum::<f64>() / v.len() as f64)
    }

    /// The sample standard deviation at every save time.
    pub fn std(&self) -> Vec<Vec<f64>> {
        self.map_values(|v| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let ss = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
            (ss / (v.len().max(2) - 1) as f64).sqrt()
        })
    }

    /// The `q`-quantile (`0 ≤ q ≤ 1`, linear between order statistics) at
    /// every save time.
    pub fn quantile(&self, q: f64) -> Vec<Vec<f64>> {
        let q = q.clamp(0.0, 1.0);
        self.map_values(|v| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            let x = q * (v.len() - 1) as f64;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            v[lo] + (x - lo as f64) * (v[hi] - v[lo])
        })
    }

    /// The ensemble of the paths that succeeded (`None` marks a failure).
    pub(crate) fn gather(t: Vec<f64>, n: usize, results: Vec<Option<Vec<f64>>>) -> Self {
        let per_path = t.len() * n;
        let mut data = Vec::with_capacity(results.len() * per_path);
        let mut failed = 0;
        for r in results {
            match r {
                Some(v) => data.extend_from_slice(&v),
                None => failed += 1,
            }
        }
        Self {
            paths: data.len() / per_path.max(1),
            t,
            n,
            data,
            failed,
        }
    }

    fn map_values(&self, stat: impl Fn(&[f64]) -> f64) -> Vec<Vec<f64>> {
        if self.paths == 0 {
            return vec![vec![f64::NAN; self.n]; self.t.len()];
        }
        (0..self.t.len())
            .map(|k| (0..self.n).map(|j| stat(&self.values(k, j))).collect())
            .collect()
    }
}

impl<F: SdeFunction + Sync> SdeProblem<F, f64> {
    /// Solves `eopts.trajectories` paths (in parallel with the `parallel`
    /// feature; adaptive steps when `opts` asks for them) and gathers their
    /// saved states. With fixed steps, sixteen paths at a time share one
    /// solve in [`PathLanes`] (vector instructions across paths); path `i`
    /// is still exactly the solve of seed `seed + i` on its own.
    pub fn ensemble<M: SdeMethod + Send + Sync>(
        &self,
        method: M,
        opts: &SolveOptions,
        eopts: EnsembleOptions,
    ) -> Result<Ensemble, Error> {
        self.validate()?;
        if !matches!(opts.stepping, Stepping::Adaptive { .. }) {
            return self.ensemble_lockstep(method, opts, eopts);
        }
        let one = |i: usize| self.solve_adaptive(method, opts, eopts.seed.wrapping_add(i as u64));
        // The first path checks the options and fixes the save times.
        let first = one(0)?;
        let t = first.t.clone();
        let n = self.len();
        let run = |i: usize| -> Option<Vec<f64>> {
            let sol = if i == 0 { first.clone() } else { one(i).ok()? };
            (sol.is_success() && sol.t.len() == t.len()).then(|| sol.u_flat().to_vec())
        };
        let results = run_paths(eopts.trajectories, run);
        Ok(Ensemble::gather(t, n, results))
    }

    /// Fixed steps: blocks of [`BLOCK`] paths solved together in
    /// [`PathLanes`], the blocks in parallel. Path `i` is bit for bit the
    /// solve of seed `seed + i` on its own: a block whose lanes branch
    /// differently, or where a path fails, is solved again one path per
    /// lane.
    fn ensemble_lockstep<M: SdeMethod + Send + Sync>(
        &self,
        method: M,
        opts: &SolveOptions,
        eopts: EnsembleOptions,
    ) -> Result<Ensemble, Error> {
        let seeds = |b: usize| -> Vec<u64> {
            let paths = b * BLOCK..((b + 1) * BLOCK).min(eopts.trajectories);
            paths.map(|i| eopts.seed.wrapping_add(i as u64)).collect()
        };
        // The first block checks the options (even when it holds no path);
        // a later block that cannot be solved counts its paths as failed.
        let (mut t, mut results) = self.solve_block(method, opts, &seeds(0))?;
        let blocks = eopts.trajectories.div_ceil(BLOCK).max(1);
        let later = |b: usize| {
            let seeds = seeds(b + 1);
            self.solve_block(method, opts, &seeds)
                .unwrap_or_else(|_| (Vec::new(), vec![None; seeds.len()]))
        };
        for (bt, paths) in run_paths(blocks - 1, later) {
            if t.is_empty() {
                t = bt;
            }
            results.extend(paths);
        }
        Ok(Ensemble::gather(t, self.len(), results))
    }
}

impl<F: SdeFunction> SdeProblem<F, f64> {
    /// The paths of `seeds` (at most [`BLOCK`]) in one solve in
    /// [`PathLanes`] (spare lanes repeat the last path); one path per lane
    /// when the lanes branched apart or a path failed (each solved alone).
    fn solve_block<M: SdeMethod>(
        &self,
        method: M,
        opts: &SolveOptions,
        seeds: &[u64],
    ) -> Result<Block, Error> {
        let m = self.f.noise().processes(self.len());
        let splat = |v: &[f64]| -> Vec<PathLanes<BLOCK>> {
            v.iter().map(|&x| PathLanes::splat(x)).collect()
        };
        let lanes = SdeProblem {
            f: &self.f,
            u0: splat(&self.u0),
            tspan: (
                PathLanes::splat(self.tspan.0),
                PathLanes::splat(self.tspan.1),
            ),
            p: splat(&self.p),
        };
        // Solved even without paths: the solve checks the options.
        let last = seeds.last().copied().unwrap_or_default();
        let noise = LanePaths::new(m, std::array::from_fn(|l| *seeds.get(l).unwrap_or(&last)));
        take_divergence();
        let sol = lanes.run_fixed_lanes(method, opts, noise, |_| {})?;
        if sol.is_success() && !take_divergence() {
            let t = sol.t.iter().map(|x| x.0[0]).collect();
            let lane = |l: usize| Some(sol.u_flat().iter().map(|x| x.0[l]).collect());
            return Ok((t, (0..seeds.len()).map(lane).collect()));
        }
        let sols = seeds
            .iter()
            .map(|&seed| self.solve(method, opts, seed))
            .collect::<Result<Vec<_>, Error>>()?;
        let t = sols.iter().find(|s| s.is_success()).map(|s| s.t.clone());
        let paths = sols
            .iter()
            .map(|s| s.is_success().then(|| s.u_flat().to_vec()))
            .collect();
        Ok((t.unwrap_or_default(), paths))
    }
}

/// A block's save times (empty when no path succeeded) and each path's
/// saved states (`None` for a failure).
type Block = (Vec<f64>, Vec<Option<Vec<f64>>>);

/// `run(i)` for every path, on all cores with the `parallel` feature.
pub(crate) fn run_paths<R: Send>(
    trajectories: usize,
    run: impl Fn(usize) -> R + Sync + Send,
) -> Vec<R> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        (0..trajectories).into_par_iter().map(run).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        (0..trajectories).map(run).collect()
    }
}
