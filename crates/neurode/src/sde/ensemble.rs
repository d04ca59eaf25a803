//! Many paths of one SDE, in parallel (feature `parallel`, rayon), and
//! statistics over them: mean, standard deviation and quantiles at every
//! saved time.

use super::methods::SdeMethod;
use super::problem::{SdeFunction, SdeProblem};
use crate::error::Error;
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
    /// saved states.
    pub fn ensemble<M: SdeMethod + Send + Sync>(
        &self,
        method: M,
        opts: &SolveOptions,
        eopts: EnsembleOptions,
    ) -> Result<Ensemble, Error> {
        self.validate()?;
        let adaptive = matches!(opts.stepping, Stepping::Adaptive { .. });
        let one = |i: usize| {
            let seed = eopts.seed.wrapping_add(i as u64);
            if adaptive {
                self.solve_adaptive(method, opts, seed)
            } else {
                self.solve(method, opts, seed)
            }
        };
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
}

/// `run(i)` for every path, on all cores with the `parallel` feature.
pub(crate) fn run_paths(
    trajectories: usize,
    run: impl Fn(usize) -> Option<Vec<f64>> + Sync + Send,
) -> Vec<Option<Vec<f64>>> {
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
