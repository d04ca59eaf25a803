//! Fixed-step SDE methods and the loop that runs them.

use super::brownian::{BrownianPath, NoiseSource};
use super::problem::{Noise, SdeFunction, SdeProblem};
use super::stability_optimized::MAX_STAGES;
use crate::error::Error;
use crate::scalar::Scalar;
use crate::solve::{Solution, SolveOptions};

/// Working vectors of a step, allocated once per solve.
pub struct Work<T: Scalar> {
    pub(super) f: Vec<T>,
    pub(super) f2: Vec<T>,
    pub(super) g: Vec<T>,
    pub(super) g2: Vec<T>,
    pub(super) g3: Vec<T>,
    pub(super) g4: Vec<T>,
    pub(super) pred: Vec<T>,
    pub(super) pred2: Vec<T>,
    pub(super) dw: Vec<T>,
    /// `I₁₀` per Wiener process (methods of strong order 1.5).
    pub(super) i10: Vec<T>,
    /// The deterministic and stochastic parts of the local error estimate.
    pub(super) err_det: Vec<T>,
    pub(super) err_sto: Vec<T>,
    /// Tableau methods' stage drifts (`n` each) and diffusions (one
    /// `diffusion` output each), and `I₁₀/h` per process.
    pub(super) ks: Vec<T>,
    pub(super) gs: Vec<T>,
    pub(super) chi: Vec<T>,
    u_dual: Vec<T::Dual>,
    p_dual: Vec<T::Dual>,
    g_dual: Vec<T::Dual>,
    pub(super) drift_evals: usize,
}

impl<T: Scalar> Work<T> {
    pub(super) fn new(n: usize, np: usize, noise: Noise) -> Self {
        let (m, gl) = (noise.processes(n), noise.diffusion_len(n));
        let zd = T::dual(T::zero(), T::zero());
        Self {
            f: vec![T::zero(); n],
            f2: vec![T::zero(); n],
            g: vec![T::zero(); gl],
            g2: vec![T::zero(); gl],
            g3: vec![T::zero(); gl],
            g4: vec![T::zero(); gl],
            pred: vec![T::zero(); n],
            pred2: vec![T::zero(); n],
            dw: vec![T::zero(); m],
            i10: vec![T::zero(); m],
            err_det: vec![T::zero(); n],
            err_sto: vec![T::zero(); n],
            ks: vec![T::zero(); MAX_STAGES * n],
            gs: vec![T::zero(); MAX_STAGES * gl],
            chi: vec![T::zero(); m],
            u_dual: vec![zd; n],
            p_dual: vec![zd; np],
            g_dual: vec![zd; gl],
            drift_evals: 0,
        }
    }
}

/// `out += g dW` for the noise's shape.
#[inline(always)]
pub(super) fn add_noise<T: Scalar>(noise: Noise, g: &[T], dw: &[T], scale: f64, out: &mut [T]) {
    match noise {
        Noise::Diagonal => {
            for ((o, &gi), &w) in out.iter_mut().zip(g).zip(dw) {
                *o += (gi * w).scaled(scale);
            }
        }
        Noise::Scalar => {
            for (o, &gi) in out.iter_mut().zip(g) {
                *o += (gi * dw[0]).scaled(scale);
            }
        }
        Noise::General(m) => {
            for (o, row) in out.iter_mut().zip(g.chunks_exact(m)) {
                let s = row
                    .iter()
                    .zip(dw)
                    .fold(T::zero(), |acc, (&gij, &w)| acc + gij * w);
                *o += s.scaled(scale);
            }
        }
    }
}

/// One step of a fixed-step solve, as an observer sees it.
pub(crate) struct TakenStep<'a, T> {
    /// Where it started.
    pub t: T,
    /// Its size.
    pub h: T,
    /// Its Wiener increments.
    pub dw: &'a [f64],
    /// Their iterated integrals `I₁₀` (methods that need them; else zeros).
    pub i10: &'a [f64],
    /// The state it reached.
    pub u_new: &'a [T],
    /// Whether that state was saved.
    pub saved: bool,
}

/// A fixed-step method for SDEs.
pub trait SdeMethod: Copy {
    /// Its name.
    const NAME: &'static str;
    /// Strong order (for documentation and tests).
    const STRONG_ORDER: f64;
    /// Whether it handles this shape of noise.
    fn supports(noise: Noise) -> bool;
    /// Whether its steps need the iterated integrals `I₁₀`.
    const NEEDS_I10: bool = false;
    /// Whether [`SdeSensitivity::Discrete`](super::SdeSensitivity) can
    /// reverse its steps.
    const HAS_DISCRETE_ADJOINT: bool = false;
    /// One step of size `h` from `(t, u)` with increments `work.dw`.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    fn step<F: SdeFunction, T: Scalar>(
        &self,
        f: &F,
        p: &[T],
        t: T,
        h: T,
        u: &[T],
        u_new: &mut [T],
        work: &mut Work<T>,
    );
}

/// Euler–Maruyama: `u + f h + g ΔW` (Itô; strong order 0.5, weak order 1;
/// any noise).
#[derive(Clone, Copy, Debug, Default)]
pub struct EulerMaruyama;

impl SdeMethod for EulerMaruyama {
    const NAME: &'static str = "EulerMaruyama";
    const STRONG_ORDER: f64 = 0.5;
    const HAS_DISCRETE_ADJOINT: bool = true;
    fn supports(_: Noise) -> bool {
        true
    }
    #[inline]
    fn step<F: SdeFunction, T: Scalar>(
        &self,
        f: &F,
        p: &[T],
        t: T,
        h: T,
        u: &[T],
        u_new: &mut [T],
        w: &mut Work<T>,
    ) {
        f.drift(&mut w.f, u, p, t);
        f.diffusion(&mut w.g, u, p, t);
        w.drift_evals += 1;
        for ((o, &ui), &fi) in u_new.iter_mut().zip(u).zip(&w.f) {
            *o = ui + fi * h;
        }
        add_noise(f.noise(), &w.g, &w.dw, 1.0, u_new);
    }
}

/// Euler–Heun: the trapezoidal predictor–corrector, which converges to the
/// Stratonovich solution (strong order 0.5 in general, 1 for commutative
/// noise; any noise).
#[derive(Clone, Copy, Debug, Default)]
pub struct EulerHeun;

impl SdeMethod for EulerHeun {
    const NAME: &'static str = "EulerHeun";
    const STRONG_ORDER: f64 = 0.5;
    fn supports(_: Noise) -> bool {
        true
    }
    #[inline]
    fn step<F: SdeFunction, T: Scalar>(
        &self,
        f: &F,
        p: &[T],
        t: T,
        h: T,
        u: &[T],
        u_new: &mut [T],
        w: &mut Work<T>,
    ) {
        let noise = f.noise();
        f.drift(&mut w.f, u, p, t);
        f.diffusion(&mut w.g, u, p, t);
        for ((o, &ui), &fi) in w.pred.iter_mut().zip(u).zip(&w.f) {
            *o = ui + fi * h;
        }
        add_noise(noise, &w.g, &w.dw, 1.0, &mut w.pred);
        f.drift(&mut w.f2, &w.pred, p, t + h);
        f.diffusion(&mut w.g2, &w.pred, p, t + h);
        w.drift_evals += 2;
        for (((o, &ui), &fa), &fb) in u_new.iter_mut().zip(u).zip(&w.f).zip(&w.f2) {
            *o = ui + (fa + fb).scaled(0.5) * h;
        }
        add_noise(noise, &w.g, &w.dw, 0.5, u_new);
        add_noise(noise, &w.g2, &w.dw, 0.5, u_new);
    }
}

/// Milstein (Itô, strong order 1) for diagonal and scalar noise:
/// `u + f h + g ΔW + ½ (g'g)(ΔW² − h)`, with `g'g` (the diffusion's
/// derivative along itself) from one dual-number evaluation. For diagonal
/// noise this is the Milstein scheme when each `g_i` depends on `u_i` only
/// (otherwise cross terms need Lévy areas).
#[derive(Clone, Copy, Debug, Default)]
pub struct Milstein;

impl SdeMethod for Milstein {
    const NAME: &'static str = "Milstein";
    const STRONG_ORDER: f64 = 1.0;
    fn supports(noise: Noise) -> bool {
        matches!(noise, Noise::Diagonal | Noise::Scalar)
    }
    #[inline]
    fn step<F: SdeFunction, T: Scalar>(
        &self,
        f: &F,
        p: &[T],
        t: T,
        h: T,
        u: &[T],
        u_new: &mut [T],
        w: &mut Work<T>,
    ) {
        let noise = f.noise();
        f.drift(&mut w.f, u, p, t);
        f.diffusion(&mut w.g, u, p, t);
        w.drift_evals += 1;
        // g'g: the diffusion at u + ε g.
        for ((d, &ui), &gi) in w.u_dual.iter_mut().zip(u).zip(&w.g) {
            *d = T::dual(ui, gi);
        }
        for (d, &pi) in w.p_dual.iter_mut().zip(p) {
            *d = T::dual(pi, T::zero());
        }
        f.diffusion(&mut w.g_dual, &w.u_dual, &w.p_dual, T::dual(t, T::zero()));
        for ((o, &ui), &fi) in u_new.iter_mut().zip(u).zip(&w.f) {
            *o = ui + fi * h;
        }
        add_noise(noise, &w.g, &w.dw, 1.0, u_new);
        for (i, (o, &gd)) in u_new.iter_mut().zip(&w.g_dual).enumerate() {
            let dgg = T::dual_parts(gd).1;
            let dwi = match noise {
                Noise::Scalar => w.dw[0],
                _ => w.dw[i],
            };
            *o += dgg.scaled(0.5) * (dwi * dwi - h);
        }
    }
}

impl<F: SdeFunction, T: Scalar> SdeProblem<F, T> {
    /// Solves with the Brownian path drawn from `seed` (fixed steps:
    /// [`SolveOptions::fixed_dt`]; saves land exactly on `saveat` times).
    pub fn solve<M: SdeMethod>(
        &self,
        method: M,
        opts: &SolveOptions,
        seed: u64,
    ) -> Result<Solution<T>, Error> {
        let mut noise = BrownianPath::new(self.f.noise().processes(self.len()), seed);
        self.solve_with_noise(method, opts, &mut noise)
    }

    /// Solves with the increments from `noise`.
    pub fn solve_with_noise<M: SdeMethod, N: NoiseSource>(
        &self,
        method: M,
        opts: &SolveOptions,
        noise: &mut N,
    ) -> Result<Solution<T>, Error> {
        self.run_fixed(method, opts, noise, |_| {})
    }
}
