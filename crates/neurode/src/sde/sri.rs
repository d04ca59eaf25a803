//! Rößler's stochastic Runge–Kutta methods of strong order 1.5 — SRIW1 for
//! diagonal or scalar Itô noise and SRA1 for additive noise — each with the
//! error estimate of Rackauckas & Nie (2017): the deterministic part
//! (drift stages' difference) and the stochastic part (the order-1.5 terms
//! an order-1 scheme would drop).

use super::methods::{SdeMethod, Work};
use super::problem::{Noise, SdeFunction};
use crate::scalar::Scalar;

/// `(ΔW, I₁₀)` of the Wiener process driving component `i` (scalar noise
/// has one process).
#[inline(always)]
pub(super) fn integrals<T: Scalar>(w: &Work<T>, noise: Noise, i: usize) -> (T, T) {
    let j = if noise == Noise::Scalar { 0 } else { i };
    (w.dw[j], w.i10[j])
}

/// SRIW1 (Rößler 2010): strong order 1.5, weak order 2, for diagonal (or
/// scalar) Itô noise; four diffusion and two drift evaluations per step.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sriw1;

impl SdeMethod for Sriw1 {
    const NAME: &'static str = "SRIW1";
    const STRONG_ORDER: f64 = 1.5;
    const NEEDS_I10: bool = true;
    fn supports(noise: Noise) -> bool {
        matches!(noise, Noise::Diagonal | Noise::Scalar)
    }
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
        let sq = h.sqrt();
        let quarter = t + h.scaled(0.25);
        f.drift(&mut w.f, u, p, t);
        f.diffusion(&mut w.g, u, p, t);
        // H0 (drift stage 2), H11 and H12 (diffusion stages 2 and 3).
        for i in 0..u.len() {
            let (_, i10) = integrals(w, noise, i);
            let (fi, gi) = (w.f[i], w.g[i]);
            w.pred[i] = u[i] + (fi * h).scaled(0.75) + (gi * i10 / h).scaled(1.5);
            w.pred2[i] = u[i] + (fi * h).scaled(0.25) + (sq * gi).scaled(0.5);
            u_new[i] = u[i] + fi * h - sq * gi;
        }
        f.diffusion(&mut w.g2, &w.pred2, p, quarter);
        f.diffusion(&mut w.g3, u_new, p, t + h);
        // H13 (diffusion stage 4).
        for i in 0..u.len() {
            w.pred2[i] = u[i]
                + (w.f[i] * h).scaled(0.25)
                + sq * (w.g[i].scaled(-5.0) + w.g2[i].scaled(3.0) + w.g3[i].scaled(0.5));
        }
        f.diffusion(&mut w.g4, &w.pred2, p, quarter);
        f.drift(&mut w.f2, &w.pred, p, t + h.scaled(0.75));
        w.drift_evals += 2;
        for i in 0..u.len() {
            let (dw, i10) = integrals(w, noise, i);
            let (g0, g1, g2, g3) = (w.g[i], w.g2[i], w.g3[i], w.g4[i]);
            let chi1 = (dw * dw - h) / sq.scaled(2.0);
            let chi2 = i10 / h;
            let chi3 = (dw * dw * dw - dw * h.scaled(3.0)) / h.scaled(6.0);
            let sto = chi2 * (g0.scaled(2.0) - g1.scaled(4.0 / 3.0) - g2.scaled(2.0 / 3.0))
                + chi3 * (g0.scaled(-2.0) + g1.scaled(5.0 / 3.0) - g2.scaled(2.0 / 3.0) + g3);
            u_new[i] = u[i]
                + h * (w.f[i] + w.f2[i].scaled(2.0)).scaled(1.0 / 3.0)
                + dw * (-g0 + g1.scaled(4.0 / 3.0) + g2.scaled(2.0 / 3.0))
                + chi1 * (-g0 + g1.scaled(4.0 / 3.0) - g2.scaled(1.0 / 3.0))
                + sto;
            w.err_det[i] = h * (w.f2[i] - w.f[i]);
            w.err_sto[i] = sto;
        }
    }
}

/// SRA1 (Rößler 2010): strong order 1.5 for additive noise (`g` not
/// depending on `u`), diagonal or scalar; two drift and two diffusion
/// evaluations per step.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sra1;

impl SdeMethod for Sra1 {
    const NAME: &'static str = "SRA1";
    const STRONG_ORDER: f64 = 1.5;
    const NEEDS_I10: bool = true;
    fn supports(noise: Noise) -> bool {
        matches!(noise, Noise::Diagonal | Noise::Scalar)
    }
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
        // c₁ = (1, 0): the diffusion at the step's end and start.
        f.diffusion(&mut w.g, u, p, t + h);
        f.diffusion(&mut w.g2, u, p, t);
        for i in 0..u.len() {
            let (_, i10) = integrals(w, noise, i);
            w.pred[i] = u[i] + (w.f[i] * h).scaled(0.75) + (w.g[i] * i10 / h).scaled(1.5);
        }
        f.drift(&mut w.f2, &w.pred, p, t + h.scaled(0.75));
        w.drift_evals += 2;
        for i in 0..u.len() {
            let (dw, i10) = integrals(w, noise, i);
            let chi2 = i10 / h;
            let sto = chi2 * (w.g2[i] - w.g[i]);
            u_new[i] =
                u[i] + h * (w.f[i] + w.f2[i].scaled(2.0)).scaled(1.0 / 3.0) + dw * w.g[i] + sto;
            w.err_det[i] = h * (w.f2[i] - w.f[i]);
            w.err_sto[i] = sto;
        }
    }
}
