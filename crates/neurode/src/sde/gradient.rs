//! Gradients of a loss of an SDE solve with its Brownian path fixed:
//! forward mode through any method, or the discrete adjoint — the exact
//! gradient of the computed path, accumulated backwards over its steps. For
//! Euler–Maruyama with diagonal or scalar noise, from vector–Jacobian
//! products of drift and diffusion (analytic where the function gives them,
//! as neural SDEs do; AD otherwise); for every other method and noise, each
//! stored step is run again in vector duals and the adjoint pulled back
//! through its Jacobian.

use super::brownian::{BrownianPath, NoiseSource};
use super::methods::{EulerMaruyama, SdeMethod};
use super::problem::{Noise, SdeFunction, SdeProblem};
use crate::error::Error;
use crate::problem::OdeFunction;
use crate::scalar::Scalar;
use crate::sensitivity::lanes::{LANES, Lanes, pull, seed as seed_lane};
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
    /// The stochastic adjoint: state, adjoint and parameter gradient solved
    /// backwards together along a virtual Brownian tree (the path of the
    /// seed's tree, not of its sequential path), keeping no states;
    /// converges to the gradient as the steps shrink. Any noise shape.
    BacksolveAdjoint,
}

/// The drift seen as a right-hand side (so the AD fallback of [`vjp`]
/// serves it), with the function's own VJP when it has one.
pub(super) struct DriftView<'a, F>(pub(super) &'a F);
/// The diffusion (`n` entries) seen as a right-hand side, likewise.
pub(super) struct DiffusionView<'a, F>(pub(super) &'a F);

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
            SdeSensitivity::BacksolveAdjoint => self.backsolve_gradient(method, opts, loss, seed),
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
        for start in (0..np.max(1)).step_by(LANES) {
            let lift = |x: f64| Lanes::constant(x);
            let p: Vec<_> = self
                .p
                .iter()
                .enumerate()
                .map(|(i, &x)| seed_lane(x, i, start))
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
            for (g, &e) in grad.iter_mut().skip(start).zip(&l.eps) {
                *g = e;
            }
        }
        Ok((value, grad))
    }

    /// A fixed-step solve along the path of `seed` with every step kept
    /// (start, size, increments, iterated integrals, state reached), and
    /// the loss with its gradient at the saved points.
    fn record<M: SdeMethod, L: Loss>(
        &self,
        method: M,
        opts: &SolveOptions,
        loss: &L,
        seed: u64,
    ) -> Result<Recorded, Error> {
        let m = self.f.noise().processes(self.len());
        self.record_along(method, opts, loss, &mut BrownianPath::new(m, seed), true)
    }

    /// [`record`](Self::record) along any noise; without `keep_path` only
    /// the step grid, the saves and the end state are kept (the stochastic
    /// adjoint reads the path again and rebuilds the states).
    pub(super) fn record_along<M: SdeMethod, L: Loss, N: NoiseSource>(
        &self,
        method: M,
        opts: &SolveOptions,
        loss: &L,
        noise: &mut N,
        keep_path: bool,
    ) -> Result<Recorded, Error> {
        let n = self.len();
        let mut r = Recorded::default();
        if keep_path {
            r.states.extend_from_slice(&self.u0);
        }
        let sol = self.run_fixed(method, opts, noise, |s| {
            r.steps.push((s.t, s.h));
            if keep_path {
                r.dws.extend_from_slice(s.dw);
                r.i10s.extend_from_slice(s.i10);
                r.states.extend_from_slice(s.u_new);
            }
            if s.saved {
                r.saved.push(r.steps.len());
            }
        })?;
        crate::sensitivity::check_success(&sol, "forward")?;
        if sol.len() > r.saved.len() {
            r.saved.insert(0, 0); // the start point
        }
        loss.check(r.saved.len(), n)?;
        r.dl_du = vec![0.0; sol.u_flat().len()];
        r.value = loss.value_and_gradient(&sol.t, sol.u_flat(), n, &mut r.dl_du);
        r.next_saved = r.saved.len();
        r.end = sol.u_end().to_vec();
        Ok(r)
    }

    /// Any method forward, storing every step, then backwards: each step
    /// run again in vector duals seeded in its start state and the
    /// parameters, eight directions per pass, and the adjoint pulled back
    /// through it. Also returns `dL/du0`.
    pub(crate) fn replayed_gradient<M: SdeMethod, L: Loss>(
        &self,
        method: M,
        opts: &SolveOptions,
        loss: &L,
        seed: u64,
    ) -> Result<(f64, Vec<f64>, Vec<f64>), Error> {
        let (n, np, shape) = (self.len(), self.p.len(), self.f.noise());
        let m = shape.processes(n);
        let mut r = self.record(method, opts, loss, seed)?;
        let mut lambda = vec![0.0; n];
        let mut next = vec![0.0; n];
        let mut grad = vec![0.0; np];
        let mut work = super::methods::Work::<Lanes>::new(n, np, shape);
        let mut u_l = vec![Lanes::constant(0.0); n];
        let mut p_l = vec![Lanes::constant(0.0); np];
        let mut unew_l = vec![Lanes::constant(0.0); n];
        for k in (0..=r.steps.len()).rev() {
            r.add_saves_of_state(k, n, &mut lambda);
            if k == 0 {
                break;
            }
            let (t, h) = r.steps[k - 1];
            let u = &r.states[(k - 1) * n..k * n];
            for (d, &x) in work.dw.iter_mut().zip(&r.dws[(k - 1) * m..k * m]) {
                *d = Lanes::constant(x);
            }
            for (d, &x) in work.i10.iter_mut().zip(&r.i10s[(k - 1) * m..k * m]) {
                *d = Lanes::constant(x);
            }
            for first in (0..n + np).step_by(LANES) {
                for (j, (l, &x)) in u_l.iter_mut().zip(u).enumerate() {
                    *l = seed_lane(x, j, first);
                }
                for (j, (l, &x)) in p_l.iter_mut().zip(&self.p).enumerate() {
                    *l = seed_lane(x, n + j, first);
                }
                let (tl, hl) = (Lanes::constant(t), Lanes::constant(h));
                method.step(&self.f, &p_l, tl, hl, &u_l, &mut unew_l, &mut work);
                let mut acc = [0.0; LANES];
                pull(&lambda, &unew_l, &mut acc);
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
        Ok((r.value, grad, lambda))
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
        let mut r = self.record(EulerMaruyama, opts, loss, seed)?;
        // Backwards over the steps.
        let mut lambda = vec![0.0; n];
        let mut grad = vec![0.0; np];
        let (mut vu, mut vp) = (vec![0.0; n], vec![0.0; np]);
        let mut weights = vec![0.0; n];
        let mut next = vec![0.0; n];
        let mut vjp_work = VjpWork::<f64>::new(n, np);
        for k in (0..=r.steps.len()).rev() {
            r.add_saves_of_state(k, n, &mut lambda);
            if k == 0 {
                break;
            }
            let (ts, h) = r.steps[k - 1];
            let u = &r.states[(k - 1) * n..k * n];
            let dwk = &r.dws[(k - 1) * m..k * m];
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
        Ok((r.value, grad, lambda))
    }
}

/// A fixed-step solve kept for a backward pass (see `SdeProblem::record`).
#[derive(Default)]
pub(super) struct Recorded {
    /// `(t, h)` of each step.
    pub(super) steps: Vec<(f64, f64)>,
    dws: Vec<f64>,
    i10s: Vec<f64>,
    /// The start state, then the state after each step.
    states: Vec<f64>,
    /// The state index of each save, in order.
    saved: Vec<usize>,
    dl_du: Vec<f64>,
    pub(super) value: f64,
    /// The state at the end.
    pub(super) end: Vec<f64>,
    /// Saves not yet pulled back (the backward pass goes from the last).
    next_saved: usize,
}

impl Recorded {
    /// Adds the loss's gradient at the saves of state `k` to `lambda`.
    pub(super) fn add_saves_of_state(&mut self, k: usize, n: usize, lambda: &mut [f64]) {
        while self.next_saved > 0 && self.saved[self.next_saved - 1] == k {
            self.next_saved -= 1;
            let g = &self.dl_du[self.next_saved * n..(self.next_saved + 1) * n];
            lambda.iter_mut().zip(g).for_each(|(l, g)| *l += g);
        }
    }
}
