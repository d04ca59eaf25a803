//! The stochastic adjoint (Li, Wong, Chen & Duvenaud, "Scalable gradients
//! for stochastic differential equations", AISTATS 2020; torchsde's
//! `sdeint_adjoint`): the state, its adjoint and the parameter gradient
//! solved together backwards in time along the same Brownian path, read
//! again from a virtual Brownian tree; no states are kept, only the step
//! grid, so memory barely grows with the number of steps.
//!
//! The Itô equation `du = f dt + g dW` is first written in Stratonovich
//! form, `f̃ = f − ½ Σₖ J_{gₖ} gₖ` over the columns `gₖ` of `g` (diagonal
//! noise: `f̃ᵢ = fᵢ − ½ gᵢ ∂gᵢ/∂uᵢ`; scalar: `f̃ = f − ½ J_g g`), whose
//! time reversal is the same equation with the increments negated.
//! Backwards over each step `[t, t + h]` with
//! `ΔW` from the tree, Heun's (Stratonovich) method integrates
//!
//! ```text
//! u ← u − f̃ h − g ΔW
//! a ← a + h (∂f̃/∂u)ᵀ a + (∂(g ΔW)/∂u)ᵀ a
//! p̄ ← p̄ + h (∂f̃/∂p)ᵀ a + (∂(g ΔW)/∂p)ᵀ a
//! ```
//!
//! where `g ΔW` is `g ⊙ ΔW` for diagonal noise, and its last products are
//! the diffusion's VJP weighted `a ⊙ ΔW` (general noise: `aᵢ ΔWₖ` on entry
//! `(i, k)`). With non-commuting general noise Heun's method converges at
//! strong order ½ rather than 1, and so does the gradient.
//!
//! with the loss's gradient added to `a` at the saved points. Like the ODE
//! backsolve adjoint it converges to the true gradient as the steps shrink
//! (the reconstructed state is not the forward one), rather than giving
//! the exact gradient of the computed path as the discrete adjoint does.

use super::brownian::{BrownianTree, NoiseSource};
use super::gradient::{DiffusionView, DriftView};
use super::methods::{SdeMethod, add_noise};
use super::problem::{Noise, SdeFunction, SdeProblem};
use crate::error::Error;
use crate::nn::scratch::ThreadScratch;
use crate::problem::OdeFunction;
use crate::scalar::Scalar;
use crate::sensitivity::{Loss, VjpWork, vjp};
use crate::solve::SolveOptions;
use num_dual::Dual64;

/// The Itô-to-Stratonovich correction (diagonal noise: `½ gᵢ ∂gᵢ/∂uᵢ`;
/// scalar: `½ J_g g`; general: `½ Σₖ J_{gₖ} gₖ`), as a right-hand side so
/// its VJPs come from AD, its own second derivatives included.
struct ItoCorrection<'a, F>(&'a F);

impl<F: SdeFunction> OdeFunction for ItoCorrection<'_, F> {
    fn rhs<T: Scalar>(&self, out: &mut [T], u: &[T], p: &[T], t: T) {
        let f = self.0;
        ThreadScratch.with::<T, _>(f.noise().diffusion_len(u.len()), |g| {
            f.diffusion(g, u, p, t);
            ito_correction(f, g, u, p, t, out, None);
        })
    }
}

/// The Itô correction at `(u, t)` into `out`, from the diffusion `g`
/// already evaluated there, by dual evaluations of `g` (one per state for
/// diagonal noise, one per Wiener process otherwise); with `diag`, also
/// `∂gᵢ/∂uᵢ` (diagonal noise), which the correction's VJP reuses. Its
/// working vectors come from the thread's pool: this runs once per VJP
/// pass of every backward step.
fn ito_correction<F: SdeFunction, T: Scalar>(
    f: &F,
    g: &[T],
    u: &[T],
    p: &[T],
    t: T,
    out: &mut [T],
    mut diag: Option<&mut [T]>,
) {
    let (n, np, gl) = (u.len(), p.len(), g.len());
    let lift = |x: T| T::dual(x, T::zero());
    ThreadScratch.with::<T::Dual, _>(np + gl + n, |duals| {
        let (pd, rest) = duals.split_at_mut(np);
        let (gd, ud) = rest.split_at_mut(gl);
        for (d, &x) in pd.iter_mut().zip(p) {
            *d = lift(x);
        }
        match f.noise() {
            Noise::General(m) => {
                // One derivative of each column along itself.
                out.fill(T::zero());
                for k in 0..m {
                    for (i, d) in ud.iter_mut().enumerate() {
                        *d = T::dual(u[i], g[i * m + k]);
                    }
                    f.diffusion(gd, ud, pd, lift(t));
                    for (i, o) in out.iter_mut().enumerate() {
                        *o += T::dual_parts(gd[i * m + k]).1.scaled(0.5);
                    }
                }
            }
            Noise::Scalar => {
                // One derivative of g along g.
                for ((d, &x), &gi) in ud.iter_mut().zip(u).zip(g) {
                    *d = T::dual(x, gi);
                }
                f.diffusion(gd, ud, pd, lift(t));
                for (o, &x) in out.iter_mut().zip(gd.iter()) {
                    *o = T::dual_parts(x).1.scaled(0.5);
                }
            }
            Noise::Diagonal => {
                // One derivative per component.
                for (d, &x) in ud.iter_mut().zip(u) {
                    *d = lift(x);
                }
                for i in 0..n {
                    ud[i] = T::dual(u[i], T::one());
                    f.diffusion(gd, ud, pd, lift(t));
                    let slope = T::dual_parts(gd[i]).1;
                    if let Some(diag) = diag.as_deref_mut() {
                        diag[i] = slope;
                    }
                    out[i] = (g[i] * slope).scaled(0.5);
                    ud[i] = lift(u[i]);
                }
            }
        }
    })
}

/// Dual-number vectors for the correction's derivatives, allocated once.
struct DualWork {
    u: Vec<Dual64>,
    p: Vec<Dual64>,
    w: Vec<Dual64>,
    vu: Vec<Dual64>,
    vp: Vec<Dual64>,
    extra_u: Vec<f64>,
    extra_p: Vec<f64>,
}

impl DualWork {
    fn new(n: usize, np: usize) -> Self {
        let z = Dual64::from_re(0.0);
        Self {
            u: vec![z; n],
            p: vec![z; np],
            w: vec![z; n],
            vu: vec![z; n],
            vp: vec![z; np],
            extra_u: vec![0.0; n],
            extra_p: vec![0.0; np],
        }
    }

    /// `u` and `p` as constants.
    fn lift(&mut self, u: &[f64], p: &[f64]) {
        for (d, &x) in self.u.iter_mut().zip(u) {
            *d = Dual64::from_re(x);
        }
        for (d, &x) in self.p.iter_mut().zip(p) {
            *d = Dual64::from_re(x);
        }
    }

    /// Adds the derivative parts of the last dual VJP to the extras.
    fn add_derivatives(&mut self) {
        for (e, x) in self.extra_u.iter_mut().zip(&self.vu) {
            *e += x.eps;
        }
        for (e, x) in self.extra_p.iter_mut().zip(&self.vp) {
            *e += x.eps;
        }
    }
}

/// The augmented backward system's working vectors.
struct Backward {
    f: Vec<f64>,
    g: Vec<f64>,
    weights: Vec<f64>,
    /// Weights of the correction's VJPs.
    cw: Vec<f64>,
    /// The Itô correction and `∂gᵢ/∂uᵢ` (diagonal noise).
    c: Vec<f64>,
    diag: Vec<f64>,
    duals: DualWork,
    vu: Vec<f64>,
    vp: Vec<f64>,
    vjp: VjpWork<f64>,
}

impl Backward {
    /// `vᵀ ∂c/∂u` into `vu` and `vᵀ ∂c/∂p` into `vp` for the Itô correction
    /// `c`, from the diffusion's own VJP (a network's backward pass) run in
    /// dual numbers for the second derivatives; false when the diffusion
    /// has no VJP of its own. Diagonal noise, `cᵢ = ½ gᵢ Dᵢ` with
    /// `Dᵢ = ∂gᵢ/∂uᵢ`: `Σ ½ vᵢ Dᵢ ∂gᵢ` (one VJP) plus, for each `i`, the
    /// derivative along `uᵢ` of the VJP weighted `½ vᵢ gᵢ` at `i` alone.
    /// Scalar noise, `c = ½ J_g g`: the VJP weighted `½ J_gᵀ v` (two VJPs)
    /// plus the derivative along `g` of the VJP weighted `½ v`. General
    /// noise: false, left to AD.
    fn correction_vjp<F: SdeFunction>(
        &mut self,
        f: &F,
        v: &[f64],
        u: &[f64],
        p: &[f64],
        t: f64,
    ) -> bool {
        let n = u.len();
        if matches!(f.noise(), Noise::General(_)) {
            return false;
        }
        let d = &mut self.duals;
        d.lift(u, p);
        let td = Dual64::from_re(t);
        d.extra_u.fill(0.0);
        d.extra_p.fill(0.0);
        match f.noise() {
            Noise::Scalar => {
                // ½ J_gᵀ v, then the VJP with it.
                if !f.diffusion_vjp(v, u, p, t, &mut self.vu, &mut self.vp) {
                    return false;
                }
                for (w, &x) in self.cw.iter_mut().zip(&self.vu) {
                    *w = 0.5 * x;
                }
                f.diffusion_vjp(&self.cw, u, p, t, &mut self.vu, &mut self.vp);
                // Along g, the VJP weighted ½ v.
                for i in 0..n {
                    d.u[i] = Dual64::new(u[i], self.g[i]);
                    d.w[i] = Dual64::from_re(0.5 * v[i]);
                }
                f.diffusion_vjp(&d.w, &d.u, &d.p, td, &mut d.vu, &mut d.vp);
                d.add_derivatives();
            }
            _ => {
                // Dᵢ = ∂gᵢ/∂uᵢ (the correction's own evaluation left them).
                for i in 0..n {
                    self.cw[i] = 0.5 * v[i] * self.diag[i];
                }
                if !f.diffusion_vjp(&self.cw, u, p, t, &mut self.vu, &mut self.vp) {
                    return false;
                }
                for i in 0..n {
                    d.u[i] = Dual64::new(u[i], 1.0);
                    d.w.fill(Dual64::from_re(0.0));
                    d.w[i] = Dual64::from_re(0.5 * v[i] * self.g[i]);
                    f.diffusion_vjp(&d.w, &d.u, &d.p, td, &mut d.vu, &mut d.vp);
                    d.add_derivatives();
                    d.u[i] = Dual64::from_re(u[i]);
                }
            }
        }
        for (x, e) in self.vu.iter_mut().zip(&d.extra_u) {
            *x += e;
        }
        for (x, e) in self.vp.iter_mut().zip(&d.extra_p) {
            *x += e;
        }
        true
    }

    /// The Itô correction at `(u, t)` into `self.c` (with `g` already in
    /// `self.g`); keeps `∂gᵢ/∂uᵢ` in `self.diag` for the correction's VJP.
    fn correction<F: SdeFunction>(&mut self, f: &F, u: &[f64], p: &[f64], t: f64) {
        ito_correction(f, &self.g, u, p, t, &mut self.c, Some(&mut self.diag));
    }

    /// The change of `(u, a, p̄)` over one backward step of size `h` with
    /// increments `dw`, evaluated at `(u, a)` and time `t`: written into
    /// `du`, `da`, `dp`.
    #[allow(clippy::too_many_arguments)]
    fn slope<F: SdeFunction>(
        &mut self,
        f: &F,
        p: &[f64],
        (u, a, t): (&[f64], &[f64], f64),
        (h, dw): (f64, &[f64]),
        du: &mut [f64],
        da: &mut [f64],
        dp: &mut [f64],
    ) {
        let noise = f.noise();
        // The Stratonovich drift f − c and its VJP, term by term.
        f.drift(&mut self.f, u, p, t);
        f.diffusion(&mut self.g, u, p, t);
        self.correction(f, u, p, t);
        for i in 0..u.len() {
            du[i] = -h * (self.f[i] - self.c[i]);
        }
        add_noise(noise, &self.g, dw, -1.0, du);
        match noise {
            Noise::Diagonal => {
                for ((w, &ai), &dwi) in self.weights.iter_mut().zip(a).zip(dw) {
                    *w = ai * dwi;
                }
            }
            Noise::Scalar => {
                for (w, &ai) in self.weights.iter_mut().zip(a) {
                    *w = ai * dw[0];
                }
            }
            Noise::General(m) => {
                for (row, &ai) in self.weights.chunks_exact_mut(m).zip(a) {
                    for (w, &dwk) in row.iter_mut().zip(dw) {
                        *w = ai * dwk;
                    }
                }
            }
        }
        vjp(
            &DriftView(f),
            a,
            u,
            p,
            t,
            &mut self.vu,
            &mut self.vp,
            None,
            &mut self.vjp,
        );
        da.fill(0.0);
        dp.fill(0.0);
        self.add_products(da, dp, h);
        if !self.correction_vjp(f, a, u, p, t) {
            vjp(
                &ItoCorrection(f),
                a,
                u,
                p,
                t,
                &mut self.vu,
                &mut self.vp,
                None,
                &mut self.vjp,
            );
        }
        self.add_products(da, dp, -h);
        vjp(
            &DiffusionView(f),
            &self.weights,
            u,
            p,
            t,
            &mut self.vu,
            &mut self.vp,
            None,
            &mut self.vjp,
        );
        self.add_products(da, dp, 1.0);
    }

    /// Adds `scale` times the last VJPs (`vu`, `vp`) to `da`, `dp`.
    fn add_products(&self, da: &mut [f64], dp: &mut [f64], scale: f64) {
        for (d, &x) in da.iter_mut().zip(&self.vu) {
            *d += scale * x;
        }
        for (d, &x) in dp.iter_mut().zip(&self.vp) {
            *d += scale * x;
        }
    }
}

impl<F: SdeFunction + Clone> SdeProblem<F, f64> {
    /// The stochastic adjoint (see the module notes): forward along the
    /// virtual Brownian tree of `seed` (resolved to a hundredth of the
    /// step), backwards along the same tree. Any noise shape.
    pub(crate) fn backsolve_gradient<M: SdeMethod, L: Loss>(
        &self,
        method: M,
        opts: &SolveOptions,
        loss: &L,
        seed: u64,
    ) -> Result<(f64, Vec<f64>), Error> {
        let (n, np, shape) = (self.len(), self.p.len(), self.f.noise());
        let (m, gl) = (shape.processes(n), shape.diffusion_len(n));
        let (t0, t1) = (self.tspan.0, self.tspan.1);
        let h0 = match opts.stepping {
            crate::solve::Stepping::Fixed(dt) => dt,
            _ => (t1 - t0).abs(),
        };
        let mut tree = BrownianTree::new(m, t0, t1, 1e-2 * h0, seed);
        // Forward: only the step grid, the saves and the end are kept.
        let mut r = self.record_along(method, opts, loss, &mut tree.clone(), false)?;

        let mut work = Backward {
            f: vec![0.0; n],
            g: vec![0.0; gl],
            weights: vec![0.0; gl],
            cw: vec![0.0; n],
            c: vec![0.0; n],
            diag: vec![0.0; n],
            duals: DualWork::new(n, np),
            vu: vec![0.0; n],
            vp: vec![0.0; np],
            vjp: VjpWork::new(n, np),
        };
        let mut u = std::mem::take(&mut r.end);
        let mut a = vec![0.0; n];
        let mut pbar = vec![0.0; np];
        let (mut du1, mut da1, mut dp1) = (vec![0.0; n], vec![0.0; n], vec![0.0; np]);
        let (mut du2, mut da2, mut dp2) = (vec![0.0; n], vec![0.0; n], vec![0.0; np]);
        let (mut u_pred, mut a_pred) = (vec![0.0; n], vec![0.0; n]);
        let mut dw = vec![0.0; m];
        for k in (0..=r.steps.len()).rev() {
            r.add_saves_of_state(k, n, &mut a);
            if k == 0 {
                break;
            }
            let (t, h) = r.steps[k - 1];
            tree.increment(t, h, &mut dw);
            // Heun from t + h back to t.
            let end = (&u[..], &a[..], t + h);
            work.slope(
                &self.f,
                &self.p,
                end,
                (h, &dw),
                &mut du1,
                &mut da1,
                &mut dp1,
            );
            for i in 0..n {
                u_pred[i] = u[i] + du1[i];
                a_pred[i] = a[i] + da1[i];
            }
            let start = (&u_pred[..], &a_pred[..], t);
            work.slope(
                &self.f,
                &self.p,
                start,
                (h, &dw),
                &mut du2,
                &mut da2,
                &mut dp2,
            );
            for i in 0..n {
                u[i] += 0.5 * (du1[i] + du2[i]);
                a[i] += 0.5 * (da1[i] + da2[i]);
            }
            for j in 0..np {
                pbar[j] += 0.5 * (dp1[j] + dp2[j]);
            }
        }
        Ok((r.value, pbar))
    }
}
