//! Brownian paths: where the `dW` of a solve come from. A seed fixes the
//! path, so a solve is reproducible bit for bit and can be differentiated
//! with its noise held fixed.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Supplies the Wiener increments of consecutive steps.
pub trait NoiseSource {
    /// The number of Wiener processes.
    fn dim(&self) -> usize;
    /// `W(t + h) − W(t)` into `dw` (`dim` numbers), for steps taken one
    /// after another from the start of the span.
    fn increment(&mut self, t: f64, h: f64, dw: &mut [f64]);
    /// The increments and the iterated integrals
    /// `I₁₀ = ∫_t^{t+h} (W(s) − W(t)) ds` the strong order-1.5 methods need.
    fn increment_i10(&mut self, t: f64, h: f64, dw: &mut [f64], i10: &mut [f64]);
}

/// `I₁₀` from `ΔW` and an independent `ΔZ ~ N(0, h)`: `h/2 (ΔW + ΔZ/√3)`,
/// which has `I₁₀`'s joint law with `ΔW`.
#[inline]
pub(crate) fn i10_from(h: f64, dw: f64, dz: f64) -> f64 {
    const FRAC_1_SQRT_3: f64 = 0.577_350_269_189_625_8;
    0.5 * h * (dw + dz * FRAC_1_SQRT_3)
}

/// Independent Gaussian increments drawn as the solve goes (the cheapest
/// path; a fixed-step solve with the same seed sees the same path).
#[derive(Clone, Debug)]
pub struct BrownianPath {
    dim: usize,
    rng: Xoshiro256PlusPlus,
    /// The last step size and its square root (fixed steps repeat it, and a
    /// square root's latency would sit on every step's path).
    h_sqrt: (f64, f64),
}

impl BrownianPath {
    /// `dim` Wiener processes from `seed`.
    pub fn new(dim: usize, seed: u64) -> Self {
        Self {
            dim,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            h_sqrt: (0.0, 0.0),
        }
    }

    /// `√|h|`, remembered for the next step of the same size.
    #[inline(always)]
    pub(crate) fn sqrt_step(&mut self, h: f64) -> f64 {
        if h != self.h_sqrt.0 {
            self.h_sqrt = (h, h.abs().sqrt());
        }
        self.h_sqrt.1
    }

    /// The next increment over a step of size `s²`: `s·z`, `z ~ N(0, 1)`.
    #[inline(always)]
    pub(crate) fn next_scaled(&mut self, s: f64) -> f64 {
        let z: f64 = StandardNormal.sample(&mut self.rng);
        s * z
    }
}

impl NoiseSource for BrownianPath {
    fn dim(&self) -> usize {
        self.dim
    }
    #[inline]
    fn increment(&mut self, _t: f64, h: f64, dw: &mut [f64]) {
        let s = self.sqrt_step(h);
        for w in dw.iter_mut() {
            *w = self.next_scaled(s);
        }
    }
    fn increment_i10(&mut self, t: f64, h: f64, dw: &mut [f64], i10: &mut [f64]) {
        self.increment(t, h, dw);
        let s = self.sqrt_step(h);
        for (a, &w) in i10.iter_mut().zip(dw.iter()) {
            *a = i10_from(h, w, self.next_scaled(s));
        }
    }
}

/// A path fixed in advance on a fine grid `t0, t0 + dt, …` (piecewise linear
/// between grid points), queried at any times: solves with different step
/// sizes that are multiples of `dt` see exactly the same Brownian motion,
/// which is what measuring strong convergence needs.
#[derive(Clone, Debug)]
pub struct BrownianGrid {
    dim: usize,
    t0: f64,
    dt: f64,
    /// `W` at the grid points, `dim` numbers per point.
    w: Vec<f64>,
    /// `U(t) = ∫_{t0}^t W ds` at the grid points (for `I₁₀`).
    area: Vec<f64>,
    /// Working room for `W` at a step's start.
    start: Vec<f64>,
}

impl BrownianGrid {
    /// `dim` Wiener processes on `steps` grid intervals of size `dt` from
    /// `t0`, drawn from `seed`.
    pub fn new(dim: usize, t0: f64, dt: f64, steps: usize, seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut w = vec![0.0; dim * (steps + 1)];
        let mut area = vec![0.0; dim * (steps + 1)];
        let s = dt.abs().sqrt();
        for k in 1..=steps {
            for j in 0..dim {
                let (zw, zz): (f64, f64) = (
                    StandardNormal.sample(&mut rng),
                    StandardNormal.sample(&mut rng),
                );
                let (prev, prev_area) = (w[(k - 1) * dim + j], area[(k - 1) * dim + j]);
                w[k * dim + j] = prev + s * zw;
                area[k * dim + j] = prev_area + prev * dt + i10_from(dt, s * zw, s * zz);
            }
        }
        Self {
            dim,
            t0,
            dt,
            w,
            area,
            start: vec![0.0; dim],
        }
    }

    /// `W(t)` into `out` (clamped to the grid's span).
    pub fn w_at(&self, t: f64, out: &mut [f64]) {
        Self::interpolate(&self.w, self.dim, self.t0, self.dt, t, out)
    }

    /// `∫_{t0}^t W ds` into `out`, exact at grid points (linear between).
    pub fn area_at(&self, t: f64, out: &mut [f64]) {
        Self::interpolate(&self.area, self.dim, self.t0, self.dt, t, out)
    }

    /// Piecewise-linear reading of values stored `dim` per grid point.
    fn interpolate(w: &[f64], dim: usize, t0: f64, dt: f64, t: f64, out: &mut [f64]) {
        if dim == 0 || w.is_empty() {
            return;
        }
        let last = w.len() / dim - 1;
        // A grid step that is not a positive number holds the path at 0.
        let x = if dt > 0.0 && dt.is_finite() {
            ((t - t0) / dt).clamp(0.0, last as f64)
        } else {
            0.0
        };
        let k = (x.floor() as usize).min(last.saturating_sub(1));
        let frac = x - k as f64;
        let near = (x - x.round()).abs() < 1e-9;
        for (j, o) in out.iter_mut().enumerate().take(dim) {
            *o = if near {
                w[x.round() as usize * dim + j]
            } else {
                let a = w[k * dim + j];
                let b = w[(k + 1).min(last) * dim + j];
                a + frac * (b - a)
            };
        }
    }
}

impl NoiseSource for BrownianGrid {
    fn dim(&self) -> usize {
        self.dim
    }
    fn increment(&mut self, t: f64, h: f64, dw: &mut [f64]) {
        let mut start = std::mem::take(&mut self.start);
        self.w_at(t, &mut start);
        self.w_at(t + h, dw);
        for (d, x) in dw.iter_mut().zip(&start) {
            *d -= x;
        }
        self.start = start;
    }
    /// `I₁₀ = U(t + h) − U(t) − h W(t)`: exact for steps on the grid.
    fn increment_i10(&mut self, t: f64, h: f64, dw: &mut [f64], i10: &mut [f64]) {
        self.increment(t, h, dw);
        let mut start = std::mem::take(&mut self.start);
        self.w_at(t, &mut start);
        self.area_at(t + h, i10);
        for (a, w0) in i10.iter_mut().zip(&start) {
            *a -= h * w0;
        }
        self.area_at(t, &mut start);
        for (a, u0) in i10.iter_mut().zip(&start) {
            *a -= u0;
        }
        self.start = start;
    }
}

/// A virtual Brownian tree (as in torchsde and diffrax): `W(t)` for any
/// `t` in a span, the same whatever the order or number of queries, in
/// `O(log(span/tol))` time and no stored path. The span is bisected
/// recursively, each midpoint drawn from the Brownian bridge of its
/// interval with a generator seeded from the interval's position in the
/// tree; below `tol` the bridge is linear. A second, independent tree gives
/// the `Z` behind `I₁₀`.
#[derive(Clone, Debug)]
pub struct BrownianTree {
    dim: usize,
    t0: f64,
    t1: f64,
    tol: f64,
    seed: u64,
    /// `W(t1)` and `Z(t1)`.
    w_end: Vec<f64>,
    z_end: Vec<f64>,
    scratch: [Vec<f64>; 4],
}

/// SplitMix64: a well-mixed child seed from a parent seed and a branch.
fn child_seed(seed: u64, branch: u64) -> u64 {
    let mut z = seed ^ branch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl BrownianTree {
    /// `dim` Wiener processes on `[t0, t1]`, resolved down to intervals of
    /// `tol`, from `seed`.
    pub fn new(dim: usize, t0: f64, t1: f64, tol: f64, seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let s = (t1 - t0).abs().sqrt();
        let mut draw = || -> Vec<f64> {
            (0..dim)
                .map(|_| {
                    s * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut rng)
                })
                .collect()
        };
        let (w_end, z_end) = (draw(), draw());
        Self {
            dim,
            t0,
            t1,
            tol: tol.abs().max(f64::EPSILON * (t1 - t0).abs()),
            seed,
            w_end,
            z_end,
            scratch: std::array::from_fn(|_| vec![0.0; dim]),
        }
    }

    /// `W(t)` (`which = 0`) or `Z(t)` (`which = 1`) into `out`, `t` clamped
    /// to the span.
    fn value(&mut self, which: u64, t: f64, out: &mut [f64]) {
        let t = t.clamp(self.t0.min(self.t1), self.t0.max(self.t1));
        let [wa, wb, mid, _] = &mut self.scratch;
        wa.fill(0.0);
        wb.copy_from_slice(if which == 0 { &self.w_end } else { &self.z_end });
        let (mut a, mut b) = (self.t0, self.t1);
        let mut seed = child_seed(self.seed, 1 + which);
        while (b - a).abs() > self.tol {
            let m = 0.5 * (a + b);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let sd = 0.5 * (b - a).abs().sqrt();
            for j in 0..self.dim {
                let z: f64 = StandardNormal.sample(&mut rng);
                mid[j] = 0.5 * (wa[j] + wb[j]) + sd * z;
            }
            if (t - m) * (b - a).signum() < 0.0 {
                b = m;
                wb.copy_from_slice(mid);
                seed = child_seed(seed, 2);
            } else {
                a = m;
                wa.copy_from_slice(mid);
                seed = child_seed(seed, 3);
            }
        }
        let frac = if b == a { 0.0 } else { (t - a) / (b - a) };
        for j in 0..self.dim {
            out[j] = wa[j] + frac * (wb[j] - wa[j]);
        }
    }

    /// `W(t)` into `out`.
    pub fn w_at(&mut self, t: f64, out: &mut [f64]) {
        self.value(0, t, out)
    }
}

impl NoiseSource for BrownianTree {
    fn dim(&self) -> usize {
        self.dim
    }
    fn increment(&mut self, t: f64, h: f64, dw: &mut [f64]) {
        let mut start = std::mem::take(&mut self.scratch[3]);
        self.value(0, t, &mut start);
        self.value(0, t + h, dw);
        for (d, s) in dw.iter_mut().zip(&start) {
            *d -= s;
        }
        self.scratch[3] = start;
    }
    fn increment_i10(&mut self, t: f64, h: f64, dw: &mut [f64], i10: &mut [f64]) {
        self.increment(t, h, dw);
        let mut start = std::mem::take(&mut self.scratch[3]);
        self.value(1, t, &mut start);
        self.value(1, t + h, i10);
        for ((a, s), &w) in i10.iter_mut().zip(&start).zip(dw.iter()) {
            *a = i10_from(h, w, *a - s);
        }
        self.scratch[3] = start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_have_the_right_variance_and_are_reproducible() {
        let mut a = BrownianPath::new(1, 3);
        let mut b = BrownianPath::new(1, 3);
        let (mut x, mut y) = ([0.0], [0.0]);
        let mut sum_sq = 0.0;
        let n = 20_000;
        for _ in 0..n {
            a.increment(0.0, 0.04, &mut x);
            b.increment(0.0, 0.04, &mut y);
            assert_eq!(x, y);
            sum_sq += x[0] * x[0];
        }
        let var = sum_sq / n as f64;
        // Variance 0.04; the estimate's standard error is 0.04·√(2/n) = 4e-4.
        assert!((var - 0.04).abs() < 2e-3, "{var}");
    }

    #[test]
    fn a_tree_answers_the_same_whatever_the_queries() {
        let mut tree = BrownianTree::new(2, 0.0, 1.0, 1e-6, 5);
        let mut a = [0.0; 2];
        let mut b = [0.0; 2];
        tree.w_at(0.3, &mut a);
        tree.w_at(0.9, &mut b);
        tree.w_at(0.1, &mut b);
        tree.w_at(0.3, &mut b);
        assert_eq!(a, b);
        // Increments over any partition add up to W(1).
        let mut end = [0.0; 2];
        tree.w_at(1.0, &mut end);
        for steps in [3, 10, 64] {
            let mut sum = [0.0; 2];
            let mut d = [0.0; 2];
            for k in 0..steps {
                tree.increment(k as f64 / steps as f64, 1.0 / steps as f64, &mut d);
                sum[0] += d[0];
                sum[1] += d[1];
            }
            assert!((sum[0] - end[0]).abs() < 1e-12 && (sum[1] - end[1]).abs() < 1e-12);
        }
        // Increments over disjoint intervals of one path: variance h each.
        let mut t = BrownianTree::new(1, 0.0, 1.0, 1e-7, 11);
        let n = 4000;
        let h = 1.0 / n as f64;
        let mut sq = 0.0;
        let mut x = [0.0];
        for k in 0..n {
            t.increment(k as f64 * h, h, &mut x);
            sq += x[0] * x[0];
        }
        // Σ ΔW² → 1 (quadratic variation), standard error √(2/n) ≈ 0.022.
        assert!((sq - 1.0).abs() < 0.1, "{sq}");
    }

    #[test]
    fn degenerate_grids_do_not_panic() {
        let mut empty = BrownianGrid::new(0, 0.0, 0.1, 10, 1);
        empty.increment(0.0, 0.1, &mut []);
        let mut flat = BrownianGrid::new(1, 0.0, 0.0, 10, 1);
        let mut d = [1.0];
        flat.increment(0.0, 0.5, &mut d);
        assert_eq!(d, [0.0]);
    }

    #[test]
    fn a_grid_path_gives_the_same_motion_at_any_multiple_of_its_step() {
        let mut g = BrownianGrid::new(2, 0.0, 0.01, 100, 9);
        let mut fine = [0.0; 2];
        let mut sum = [0.0; 2];
        for k in 0..100 {
            g.increment(k as f64 * 0.01, 0.01, &mut fine);
            sum[0] += fine[0];
            sum[1] += fine[1];
        }
        let mut coarse = [0.0; 2];
        let mut total = [0.0; 2];
        for k in 0..4 {
            g.increment(k as f64 * 0.25, 0.25, &mut coarse);
            total[0] += coarse[0];
            total[1] += coarse[1];
        }
        let mut end = [0.0; 2];
        g.w_at(1.0, &mut end);
        for j in 0..2 {
            assert!((sum[j] - end[j]).abs() < 1e-12);
            assert!((total[j] - end[j]).abs() < 1e-12);
        }
    }
}
