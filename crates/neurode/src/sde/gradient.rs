//! Gradients of a loss of an SDE solve with its Brownian path fixed:
//! forward mode through any method, or the discrete adjoint — the exact
//! gradient of the computed path, accumulated backwards over its steps. For
//! Euler–Maruyama with diagonal or scalar noise, from vector–Jacobian
//! products of drift and diffusion (analytic where the function gives them,
//! as neural SDEs do; AD otherwise); for every other method and noise, each
//! stored step is run again in vector duals and the adjoint pulled back
//! through its Jacobian.

use num_dual::DualSVec64;

use super::brownian::BrownianPath;
use super::methods::{EulerMaruyama, SdeMethod};
use super::problem::{Noise, SdeFunction, SdeProblem};
use crate::error::Error;
use crate::problem::OdeFunction;
use crate::scalar::Scalar;
use crate::sensitivity::{Loss, VjpWork, vjp};
use crate::solve::SolveOptions;

/// How to differentiate an SDE solve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdeSensitivity {
    /// Dual numbers through the solver (any method), eight parameters per
    /// solve.
    ForwardMode,
    /// Backwards over the stored steps: for Euler–Maruyama with diagonal or
    /// scalar noise by VJPs, one pass whatever the number of parameters;
    /// otherwise (Milstein, Euler–Heun, SRIW1, SRA1, general noise) by each
    /// step's Jacobian in vector duals, `⌈(n + np)/8⌉` dual steps per step.
    Discrete,
}

/// The drift seen as a right-hand side (so the AD fallback of [`vjp`]
/// serves it).
struct DriftView<'a, F>(&'a F);
/// The diffusion (`n` entries) seen as a right-hand side.
struct DiffusionView<'a, F>(&'a F);

impl<F: SdeFunction> OdeFunction for DriftView<'_, F> {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        self.0.drift(du, u, p, t)
    }
    fn vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        t: T,
        vu: &mut [T],
        vp: &mut [T],
        _vt: Option<&mut T>,
    ) -> bool {
        self.0.drift_vjp(v, u, p, t, vu, vp)
    }
}

impl<F: SdeFunction> OdeFunction for DiffusionView<'_, F> {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        self.0.diffusion(du, u, p, t)
    }
    fn vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        t: T,
        vu: &mut [T],
        vp: &mut [T],
        _vt: Option<&mut T>,
    ) -> bool {
        self.0.diffusion_vjp(v, u, p, t, vu, vp)
    }
}

impl<F: SdeFunction + Clone> SdeProblem<F, f64> {
    /// `loss` of the solve along the Brownian path of `seed` (fixed steps,
    /// saves from `opts`) and its gradient with respect to `p`.
    pub fn loss_and_gradient<M: SdeMethod, L: Loss>(
        &self,
        method: M,
        opts: &SolveOptions,
        loss: &L,
        seed: u64,
        sensitivity: SdeSensitivity,
    ) -> Result<(f64, Vec<f64>), Error> {
        match sensitivity {
            SdeSensitivity::ForwardMode => self.forward_gradient(method, opts, loss, seed),
            SdeSensitivity::Discrete => {
                if M::HAS_DISCRETE_ADJOINT
                    && matches!(self.f.noise(), Noise::Diagonal | Noise::Scalar)
                {
                    self.discrete_gradient(opts, loss, seed)
                        .map(|(l, dp, _)| (l, dp))
                } else {
                    self.replayed_gradient(method, opts, loss, seed)
                        .map(|(l, dp, _)| (l, dp))
                }
            }
        }
    }

    fn forward_gradient<M: SdeMethod, L: Loss>(
        &self,
        method: M,
        opts: &SolveOptions,
        loss: &L,
        seed: u64,
    ) -> Result<(f64, Vec<f64>), Error> {
        let (n, np) = (self.len(), self.p.len());
        let mut grad = vec![0.0; np];
        let mut value = f64::NAN;
        for start in (0..np.max(1)).step_by(8) {
            let lift = |x: f64| DualSVec64::<8>::from_re(x);
            let p: Vec<_> = self
                .p
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    if (start..start + 8).contains(&i) {
                        lift(x).derivative(i - start)
                    } else {
                        lift(x)
                    }
                })
                .collect();
            let dual = SdeProblem {
                f: self.f.clone(),
                u0: self.u0.iter().map(|&x| lift(x)).collect(),
                tspan: (lift(self.tspan.0), lift(self.tspan.1)),
                p,
            };
            let sol = dual.solve(method, opts, seed)?;
            crate::sensitivity::check_success(&sol, "forward")?;
            loss.check(sol.len(), n)?;
            let t: Vec<f64> = sol.t.iter().map(|t| t.re).collect();
            let l = loss.value(&t, sol.u_flat(), n);
            value = l.re;
            if let Some(e) = l.eps.0.as_ref() {
                for (lane, g) in grad.iter_mut().skip(start).take(8).enumerate() {
                    *g = e[lane];
                }
            }
        }
        Ok((value, grad))
    }

    /// Any method forward, storing every step's start, size and noise, then
    /// backwards: each step run again in vector duals seeded in its start
    /// state and the parameters, eight directions per pass, and the adjoint
    /// pulled back through it. Also returns `dL/du0`.
    pub(crate) fn replayed_gradient<M: SdeMethod, L: Loss>(
        &self,
        method: M,
        opts: &SolveOptions,
        loss: &L,
        seed: u64,
    ) -> Result<(f64, Vec<f64>, Vec<f64>), Error> {
        type Lanes = DualSVec64<8>;
        let (n, np, shape) = (self.len(), self.p.len(), self.f.noise());
        let m = shape.processes(n);
        let (mut states, mut steps, mut dws, mut i10s) =
            (self.u0.clone(), Vec::new(), Vec::new(), Vec::new());
        let mut saved: Vec<usize> = Vec::new(); // the state index of each save
        let mut noise = BrownianPath::new(m, seed);
        let sol = self.run_fixed(method, opts, &mut noise, |s| {
            steps.push((s.t, s.h));
            dws.extend_from_slice(s.dw);
            i10s.extend_from_slice(s.i10);
            states.extend_from_slice(s.u_new);
            if s.saved {
                saved.push(steps.len());
            }
        })?;
        crate::sensitivity::check_success(&sol, "forward")?;
        if sol.len() > saved.len() {
            saved.insert(0, 0); // the start point
        }
        loss.check(saved.len(), n)?;
        let mut dl_du = vec![0.0; sol.u_flat().len()];
        let value = loss.value_and_gradient(&sol.t, sol.u_flat(), n, &mut dl_du);

        let seed_lane = |x: f64, d: usize, first: usize| {
            if (first..first + 8).contains(&d) {
                Lanes::from_re(x).derivative(d - first)
            } else {
                Lanes::from_re(x)
            }
        };
        let mut lambda = vec![0.0; n];
        let mut next = vec![0.0; n];
        let mut grad = vec![0.0; np];
        let mut work = super::methods::Work::<Lanes>::new(n, np, shape);
        let mut u_l = vec![Lanes::from_re(0.0); n];
        let mut p_l = vec![Lanes::from_re(0.0); np];
        let mut unew_l = vec![Lanes::from_re(0.0); n];
        let mut next_saved = saved.len();
        for k in (0..=steps.len()).rev() {
            while next_saved > 0 && saved[next_saved - 1] == k {
                next_saved -= 1;
                for (l, g) in lambda
                    .iter_mut()
                    .zip(&dl_du[next_saved * n..(next_saved + 1) * n])
                {
                    *l += g;
                }
            }
            if k == 0 {
                break;
            }
            let (t, h) = steps[k - 1];
            let u = &states[(k - 1) * n..k * n];
            for (d, &x) in work.dw.iter_mut().zip(&dws[(k - 1) * m..k * m]) {
                *d = Lanes::from_re(x);
            }
            for (d, &x) in work.i10.iter_mut().zip(&i10s[(k - 1) * m..k * m]) {
                *d = Lanes::from_re(x);
            }
            for first in (0..n + np).step_by(8) {
                for (j, (l, &x)) in u_l.iter_mut().zip(u).enumerate() {
                    *l = seed_lane(x, j, first);
                }
                for (j, (l, &x)) in p_l.iter_mut().zip(&self.p).enumerate() {
                    *l = seed_lane(x, n + j, first);
                }
                let (tl, hl) = (Lanes::from_re(t), Lanes::from_re(h));
                method.step(&self.f, &p_l, tl, hl, &u_l, &mut unew_l, &mut work);
                let mut acc = [0.0; 8];
                for (&w, y) in lambda.iter().zip(&unew_l) {
                    if let Some(e) = &y.eps.0 {
                        for (a, x) in acc.iter_mut().zip(e.iter()) {
                            *a += w * x;
                        }
                    }
                }
                for (lane, &a) in acc.iter().enumerate() {
                    match first + lane {
                        d if d < n => next[d] = a,
                        d if d < n + np => grad[d - n] += a,
                        _ => {}
                    }
                }
            }
            std::mem::swap(&mut lambda, &mut next);
        }
        Ok((value, grad, lambda))
    }

    /// Euler–Maruyama forward, storing every step, then backwards:
    /// `λ_k = λ_{k+1} + h J_fᵀ λ_{k+1} + J_gᵀ (λ_{k+1} ⊙ ΔW)` and
    /// `p̄ += h ∂fᵀ/∂p λ_{k+1} + ∂gᵀ/∂p (λ_{k+1} ⊙ ΔW)`, with the loss's
    /// gradient added at the saved points. Also returns `dL/du0`.
    pub(crate) fn discrete_gradient<L: Loss>(
        &self,
        opts: &SolveOptions,
        loss: &L,
        seed: u64,
    ) -> Result<(f64, Vec<f64>, Vec<f64>), Error> {
        let (n, np, shape) = (self.len(), self.p.len(), self.f.noise());
        let m = shape.processes(n);
        // Forward, keeping each step's start, size, increments and state.
        let (mut states, mut steps, mut dws) = (self.u0.clone(), Vec::new(), Vec::new());
        let mut saved: Vec<usize> = Vec::new(); // the state index of each save
        let mut noise = BrownianPath::new(m, seed);
        let sol = self.run_fixed(EulerMaruyama, opts, &mut noise, |s| {
            steps.push((s.t, s.h));
            dws.extend_from_slice(s.dw);
            states.extend_from_slice(s.u_new);
            if s.saved {
                saved.push(steps.len());
            }
        })?;
        crate::sensitivity::check_success(&sol, "forward")?;
        if sol.len() > saved.len() {
            saved.insert(0, 0); // the start point
        }
        loss.check(saved.len(), n)?;
        let mut dl_du = vec![0.0; sol.u_flat().len()];
        let value = loss.value_and_gradient(&sol.t, sol.u_flat(), n, &mut dl_du);

        // Backwards over the steps.
        let mut lambda = vec![0.0; n];
        let mut grad = vec![0.0; np];
        let (mut vu, mut vp) = (vec![0.0; n], vec![0.0; np]);
        let mut weights = vec![0.0; n];
        let mut next = vec![0.0; n];
        let mut vjp_work = VjpWork::<f64>::new(n, np);
        let mut next_saved = saved.len();
        for k in (0..=steps.len()).rev() {
            // The loss's gradient at a save of state k.
            while next_saved > 0 && saved[next_saved - 1] == k {
                next_saved -= 1;
                for (l, g) in lambda
                    .iter_mut()
                    .zip(&dl_du[next_saved * n..(next_saved + 1) * n])
                {
                    *l += g;
                }
            }
            if k == 0 {
                break;
            }
            let (ts, h) = steps[k - 1];
            let u = &states[(k - 1) * n..k * n];
            let dwk = &dws[(k - 1) * m..k * m];
            vjp(
                &DriftView(&self.f),
                &lambda,
                u,
                &self.p,
                ts,
                &mut vu,
                &mut vp,
                None,
                &mut vjp_work,
            );
            for ((x, l), a) in next.iter_mut().zip(&lambda).zip(&vu) {
                *x = l + h * a;
            }
            for (g, a) in grad.iter_mut().zip(&vp) {
                *g += h * a;
            }
            for (i, w) in weights.iter_mut().enumerate() {
                *w = lambda[i]
                    * if shape == Noise::Scalar {
                        dwk[0]
                    } else {
                        dwk[i]
                    };
            }
            vjp(
                &DiffusionView(&self.f),
                &weights,
                u,
                &self.p,
                ts,
                &mut vu,
                &mut vp,
                None,
                &mut vjp_work,
            );
            for (l, a) in next.iter_mut().zip(&vu) {
                *l += a;
            }
            for (g, a) in grad.iter_mut().zip(&vp) {
                *g += a;
            }
            std::mem::swap(&mut lambda, &mut next);
        }
        Ok((value, grad, lambda))
    }
}
