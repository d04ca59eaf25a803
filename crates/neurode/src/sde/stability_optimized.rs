//! The stability-optimised strong order-1.5 methods of Rackauckas & Nie
//! (2020): SOSRI for diagonal or scalar Itô noise and SOSRA for additive
//! noise (any shape), StochasticDiffEq.jl's recommended adaptive methods.
//! Both are Rößler stochastic Runge–Kutta schemes run from a tableau (the
//! general SRI and SRA forms). Their error estimate is the difference to
//! the naturally embedded order-1 scheme (Rackauckas & Nie 2017), as for
//! SRIW1 here: the deterministic part `h (Σ αᵢ fᵢ − f₁)` (the drift
//! quadrature against Euler's), the stochastic part the order-1.5 terms.
//!
//! Coefficients: Rackauckas & Nie, "Stability-optimized high order methods
//! and stiffness detection for pathwise stiff stochastic differential
//! equations", IEEE HPEC 2020, as tabulated in StochasticDiffEq.jl
//! (`SOSRIConstantCache`, `constructSOSRA`); they satisfy the 25 SRI and 8
//! SRA order conditions to 1e-15.
// Coefficients are kept digit for digit as published.
#![allow(clippy::excessive_precision)]

use super::methods::{SdeMethod, Work, add_noise};
use super::problem::{Noise, SdeFunction};
use super::sri::integrals;
use crate::scalar::Scalar;

/// Stages of the largest tableau here.
pub(super) const MAX_STAGES: usize = 4;

/// A Rößler SRI tableau (diagonal noise): stage `i` reads
/// `H⁽⁰⁾ᵢ = u + h Σⱼ A₀ᵢⱼ fⱼ + χ₂ Σⱼ B₀ᵢⱼ gⱼ` and
/// `H⁽¹⁾ᵢ = u + h Σⱼ A₁ᵢⱼ fⱼ + √h Σⱼ B₁ᵢⱼ gⱼ`, with `fⱼ = f(H⁽⁰⁾ⱼ, t + c₀ⱼ h)`
/// and `gⱼ = g(H⁽¹⁾ⱼ, t + c₁ⱼ h)`; then
/// `u' = u + h Σ αᵢ fᵢ + Σ (β₁ᵢ ΔW + β₂ᵢ χ₁ + β₃ᵢ χ₂ + β₄ᵢ χ₃) gᵢ`.
struct SriTableau {
    c0: [f64; MAX_STAGES],
    c1: [f64; MAX_STAGES],
    a0: [[f64; MAX_STAGES]; MAX_STAGES],
    a1: [[f64; MAX_STAGES]; MAX_STAGES],
    b0: [[f64; MAX_STAGES]; MAX_STAGES],
    b1: [[f64; MAX_STAGES]; MAX_STAGES],
    alpha: [f64; MAX_STAGES],
    beta: [[f64; MAX_STAGES]; 4],
}

/// A Rößler SRA tableau (additive noise): one stage set
/// `Hᵢ = u + h Σⱼ A₀ᵢⱼ fⱼ + Σⱼ B₀ᵢⱼ gⱼ χ₂`, `fⱼ = f(Hⱼ, t + c₀ⱼ h)`,
/// `gⱼ = g(Hⱼ, t + c₁ⱼ h)`; then `u' = u + h Σ αᵢ fᵢ + Σ gᵢ (β₁ᵢ ΔW + β₂ᵢ χ₂)`.
struct SraTableau {
    stages: usize,
    c0: [f64; MAX_STAGES],
    c1: [f64; MAX_STAGES],
    a0: [[f64; MAX_STAGES]; MAX_STAGES],
    b0: [[f64; MAX_STAGES]; MAX_STAGES],
    alpha: [f64; MAX_STAGES],
    beta1: [f64; MAX_STAGES],
    beta2: [f64; MAX_STAGES],
}

const SOSRI: SriTableau = SriTableau {
    c0: [
        0.0,
        -0.04199224421316468,
        0.7898405466170333,
        3.7504010171562823,
    ],
    c1: [
        0.0,
        0.26204282091330466,
        0.05879875232001766,
        0.758661169101175,
    ],
    a0: [
        [0.0; 4],
        [-0.04199224421316468, 0.0, 0.0, 0.0],
        [2.842612915017106, -2.0527723684000727, 0.0, 0.0],
        [
            4.338237071435815,
            -2.8895936137439793,
            2.3017575594644466,
            0.0,
        ],
    ],
    a1: [
        [0.0; 4],
        [0.26204282091330466, 0.0, 0.0, 0.0],
        [0.20903646383505375, -0.1502377115150361, 0.0, 0.0],
        [
            0.05836595312746999,
            0.6149440396332373,
            0.08535117634046772,
            0.0,
        ],
    ],
    b0: [
        [0.0; 4],
        [-0.21641093549612528, 0.0, 0.0, 0.0],
        [1.5336352863679572, 0.26066223492647056, 0.0, 0.0],
        [
            -1.0536037558179159,
            1.7015284721089472,
            -0.20725685784180017,
            0.0,
        ],
    ],
    b1: [
        [0.0; 4],
        [-0.5119011827621657, 0.0, 0.0, 0.0],
        [2.67767339866713, -4.9395031322250995, 0.0, 0.0],
        [
            0.15580956238299215,
            3.2361551006624674,
            -1.4223118283355949,
            0.0,
        ],
    ],
    alpha: [
        1.140099274172029,
        -0.6401334255743456,
        0.4736296532772559,
        0.026404498125060714,
    ],
    beta: [
        [
            -1.8453464565104432,
            2.688764531100726,
            -0.2523866501071323,
            0.40896857551684956,
        ],
        [
            0.4969658141589478,
            -0.5771202869753592,
            -0.12919702470322217,
            0.2093514975196336,
        ],
        [
            2.8453464565104425,
            -2.688764531100725,
            0.2523866501071322,
            -0.40896857551684945,
        ],
        [
            0.11522663875443433,
            -0.57877086147738,
            0.2857851028163886,
            0.17775911990655704,
        ],
    ],
};

const SOSRA: SraTableau = SraTableau {
    stages: 3,
    c0: [0.0, 0.6923962376159507, 1.0, 0.0],
    c1: [0.0, 0.041248171110700504, 1.0, 0.0],
    a0: [
        [0.0; 4],
        [0.6923962376159507, 0.0, 0.0, 0.0],
        [-3.1609142252828395, 4.1609142252828395, 0.0, 0.0],
        [0.0; 4],
    ],
    b0: [
        [0.0; 4],
        [1.3371632704399763, 0.0, 0.0, 0.0],
        [1.442371048468624, 1.8632741501139225, 0.0, 0.0],
        [0.0; 4],
    ],
    alpha: [
        0.2889874966892885,
        0.6859880440839937,
        0.025024459226717772,
        0.0,
    ],
    beta1: [
        -16.792534242221663,
        17.514995785380226,
        0.27753845684143835,
        0.0,
    ],
    beta2: [
        0.4237535769069274,
        0.6010381474428539,
        -1.0247917243497813,
        0.0,
    ],
};

/// SOSRI: stability-optimised SRI, strong order 1.5 (weak 2) for diagonal
/// or scalar Itô noise; four drift and four diffusion evaluations per step,
/// stable at loose tolerances and on stiff drifts where SRIW1 is not.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sosri;

impl SdeMethod for Sosri {
    const NAME: &'static str = "SOSRI";
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
        let tab = &SOSRI;
        let (noise, n) = (f.noise(), u.len());
        let sq = h.sqrt();
        for i in 0..MAX_STAGES {
            // Stage inputs from the stages before.
            for m in 0..n {
                let (_, i10) = integrals(w, noise, m);
                let chi2 = i10 / h;
                let (mut h0, mut h1) = (u[m], u[m]);
                for j in 0..i {
                    let (k, g) = (w.ks[j * n + m], w.gs[j * n + m]);
                    h0 += (h * k).scaled(tab.a0[i][j]) + (chi2 * g).scaled(tab.b0[i][j]);
                    h1 += (h * k).scaled(tab.a1[i][j]) + (sq * g).scaled(tab.b1[i][j]);
                }
                w.pred[m] = h0;
                w.pred2[m] = h1;
            }
            let (k, g) = (&mut w.ks[i * n..(i + 1) * n], &mut w.gs[i * n..(i + 1) * n]);
            f.drift(k, &w.pred, p, t + h.scaled(tab.c0[i]));
            f.diffusion(g, &w.pred2, p, t + h.scaled(tab.c1[i]));
        }
        w.drift_evals += MAX_STAGES;
        for m in 0..n {
            let (dw, i10) = integrals(w, noise, m);
            let chi1 = (dw * dw - h) / sq.scaled(2.0);
            let chi2 = i10 / h;
            let chi3 = (dw * dw * dw - dw * h.scaled(3.0)) / h.scaled(6.0);
            let (mut drift, mut lower, mut sto) = (T::zero(), T::zero(), T::zero());
            for i in 0..MAX_STAGES {
                let (k, g) = (w.ks[i * n + m], w.gs[i * n + m]);
                drift += k.scaled(tab.alpha[i]);
                lower += g * (dw.scaled(tab.beta[0][i]) + chi1.scaled(tab.beta[1][i]));
                sto += g * (chi2.scaled(tab.beta[2][i]) + chi3.scaled(tab.beta[3][i]));
            }
            u_new[m] = u[m] + h * drift + lower + sto;
            w.err_det[m] = h * (drift - w.ks[m]);
            w.err_sto[m] = sto;
        }
    }
}

/// SOSRA: stability-optimised SRA, strong order 1.5 (weak 2) for additive
/// noise `g(t)` — diagonal, scalar or general; three drift and three
/// diffusion evaluations per step.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sosra;

impl SdeMethod for Sosra {
    const NAME: &'static str = "SOSRA";
    const STRONG_ORDER: f64 = 1.5;
    const NEEDS_I10: bool = true;
    fn supports(_: Noise) -> bool {
        true
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
        let tab = &SOSRA;
        let (noise, n) = (f.noise(), u.len());
        let gl = noise.diffusion_len(n);
        for (c, &i10) in w.chi.iter_mut().zip(&w.i10) {
            *c = i10 / h;
        }
        for i in 0..tab.stages {
            w.pred.copy_from_slice(u);
            for j in 0..i {
                for (x, &k) in w.pred.iter_mut().zip(&w.ks[j * n..(j + 1) * n]) {
                    *x += (h * k).scaled(tab.a0[i][j]);
                }
                let g = &w.gs[j * gl..(j + 1) * gl];
                add_noise(noise, g, &w.chi, tab.b0[i][j], &mut w.pred);
            }
            let (k, g) = (
                &mut w.ks[i * n..(i + 1) * n],
                &mut w.gs[i * gl..(i + 1) * gl],
            );
            f.drift(k, &w.pred, p, t + h.scaled(tab.c0[i]));
            f.diffusion(g, &w.pred, p, t + h.scaled(tab.c1[i]));
        }
        w.drift_evals += tab.stages;
        u_new.copy_from_slice(u);
        w.err_sto.iter_mut().for_each(|x| *x = T::zero());
        for i in 0..tab.stages {
            for (m, &k) in w.ks[i * n..(i + 1) * n].iter().enumerate() {
                u_new[m] += (h * k).scaled(tab.alpha[i]);
            }
            let g = &w.gs[i * gl..(i + 1) * gl];
            add_noise(noise, g, &w.dw, tab.beta1[i], u_new);
            add_noise(noise, g, &w.chi, tab.beta2[i], &mut w.err_sto);
        }
        for m in 0..n {
            u_new[m] += w.err_sto[m];
            let mut drift = T::zero();
            for i in 0..tab.stages {
                drift += w.ks[i * n + m].scaled(tab.alpha[i]);
            }
            w.err_det[m] = h * (drift - w.ks[m]);
        }
    }
}
