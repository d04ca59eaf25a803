//! Continuous adjoints: `λ' = -(∂f/∂u)ᵀ λ` solved backwards from the end,
//! jumping by `dL/du` at each saved point, with `dL/dp = ∫ λᵀ ∂f/∂p dt`.
//!
//! - Backsolve (the Neural ODE paper's method) solves the state backwards
//!   alongside the adjoint. Cheap in memory, but the backward state drifts
//!   from the forward one on chaotic or stiff problems.
//! - Interpolating reads the state from the forward solve's dense output
//!   (optionally re-solved between checkpoints, so only one stretch of
//!   dense output is held at a time).
//! - Quadrature solves `λ` alone, then computes the parameter integral by
//!   Gauss–Legendre quadrature over the adjoint's own steps.
//!
//! Any method of the suite can solve the adjoint system (stiff ones get its
//! Jacobian, `-(∂f/∂u)ᵀ`, analytically), with its own tolerances.

use std::cell::RefCell;

use super::forward::add_stats;
use super::{
    Gradient, GradientStats, Loss, ParamMapJacobian, Sensitivity, VjpWork, adjoint_products,
    forward_pass, vjp, vjp::jacobians,
};
use crate::error::Error;
use crate::linalg::DenseMatrix;
use crate::methods::{OdeMethod, Tsit5};
use crate::problem::{OdeFunction, OdeProblem};
use crate::scalar::Scalar;
use crate::solve::{
    AcceptedStep, Checkpoint, SaveAt, Solution, SolveOptions, Stats, StepObserver, Tolerance,
    integrate_observed,
};

/// Which continuous adjoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdjointKind {
    /// State and adjoint solved backwards together.
    Backsolve,
    /// State from the forward solve's dense output.
    Interpolating,
    /// Adjoint alone, parameter integral by quadrature.
    Quadrature,
}

/// A continuous adjoint sensitivity method.
///
/// ```
/// use neurode::prelude::*;
/// let a = Adjoint::interpolating();                       // adjoint solved by the forward method
/// let b = Adjoint::quadrature().solver(Rodas5P).tolerances(1e-8, 1e-10);
/// let c = Adjoint::interpolating().checkpointed();        // re-solve between saved points
/// # let _ = (a, b, c);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Adjoint<A = Tsit5> {
    kind: AdjointKind,
    checkpointed: bool,
    solver: Option<A>,
    rtol: Option<Tolerance>,
    atol: Option<Tolerance>,
}

impl Adjoint<Tsit5> {
    fn new(kind: AdjointKind) -> Self {
        Self {
            kind,
            checkpointed: false,
            solver: None,
            rtol: None,
            atol: None,
        }
    }
    /// Solve the state backwards with the adjoint (memory: none beyond the
    /// saved points; accuracy: only where the backward solve is stable).
    pub fn backsolve() -> Self {
        Self::new(AdjointKind::Backsolve)
    }
    /// Read the state from the forward solve's dense output.
    pub fn interpolating() -> Self {
        Self::new(AdjointKind::Interpolating)
    }
    /// Solve the adjoint alone and the parameter integral by quadrature.
    pub fn quadrature() -> Self {
        Self::new(AdjointKind::Quadrature)
    }
}

impl<A> Adjoint<A> {
    /// Solve the adjoint system with `solver` instead of the forward method.
    pub fn solver<B: OdeMethod + Clone>(self, solver: B) -> Adjoint<B> {
        Adjoint {
            kind: self.kind,
            checkpointed: self.checkpointed,
            solver: Some(solver),
            rtol: self.rtol,
            atol: self.atol,
        }
    }
    /// Tolerances of the adjoint solve (default: the forward solve's).
    pub fn tolerances(mut self, rtol: impl Into<Tolerance>, atol: impl Into<Tolerance>) -> Self {
        self.rtol = Some(rtol.into());
        self.atol = Some(atol.into());
        self
    }
    /// Keep only the saved points of the forward solve, and re-solve each
    /// stretch between them with dense output when the adjoint reaches it
    /// (interpolating and quadrature adjoints): memory grows with the
    /// number of saved points, not of steps, for one more forward solve.
    pub fn checkpointed(mut self) -> Self {
        self.checkpointed = true;
        self
    }
    /// Which adjoint this is.
    pub fn kind(&self) -> AdjointKind {
        self.kind
    }
}

impl<A: OdeMethod + Clone> Sensitivity for Adjoint<A> {
    fn gradient<F, M, L>(
        &self,
        prob: &OdeProblem<F>,
        method: &M,
        opts: &SolveOptions,
        loss: &L,
        want_u0: bool,
    ) -> Result<Gradient, Error>
    where
        F: OdeFunction + Clone,
        M: OdeMethod + Clone,
        L: Loss,
    {
        crate::problem::reject_callbacks(prob.f(), "Adjoint")?;
        match &self.solver {
            Some(solver) => self.run(prob, method, solver, opts, loss, want_u0),
            None => self.run(prob, method, method, opts, loss, want_u0),
        }
    }
}

/// A tolerance the augmented system can use: per-component tolerances of
/// the state do not fit its length, so their tightest entry is taken.
fn scalar_tolerance(t: &Tolerance) -> Tolerance {
    match t {
        Tolerance::Scalar(x) => Tolerance::Scalar(*x),
        Tolerance::PerComponent(v) => Tolerance::Scalar(v.iter().copied().fold(f64::MAX, f64::min)),
    }
}

/// 4-point Gauss–Legendre nodes and weights on `[0, 1]`.
const GAUSS_NODES: [f64; 4] = [
    0.069_431_844_202_973_71,
    0.330_009_478_207_571_9,
    0.669_990_521_792_428_1,
    0.930_568_155_797_026_3,
];
const GAUSS_WEIGHTS: [f64; 4] = [
    0.173_927_422_568_726_9,
    0.326_072_577_431_273_1,
    0.326_072_577_431_273_1,
    0.173_927_422_568_726_9,
];

impl<A> Adjoint<A> {
    #[allow(clippy::too_many_arguments)]
    fn run<F, M, B, L>(
        &self,
        prob: &OdeProblem<F>,
        method: &M,
        solver: &B,
        opts: &SolveOptions,
        loss: &L,
        want_u0: bool,
    ) -> Result<Gradient, Error>
    where
        F: OdeFunction + Clone,
        M: OdeMethod + Clone,
        B: OdeMethod + Clone,
        L: Loss,
    {
        prob.validate()?;
        if !prob.mass_matrix().is_identity() {
            return Err(Error::Unsupported(
                "continuous adjoints of mass-matrix problems (use ForwardMode)".into(),
            ));
        }
        let (n, np) = (prob.len(), prob.p().len());
        let (f, p) = (prob.f(), prob.p());
        let keeps_forward_dense = self.kind != AdjointKind::Backsolve && !self.checkpointed;
        let fwd_opts = SolveOptions {
            dense: Some(keeps_forward_dense || opts.keeps_dense()),
            ..opts.clone()
        };
        let fwd = forward_pass(prob, method, &fwd_opts, loss)?;
        let sol = &fwd.sol;
        let adj_opts = SolveOptions {
            rtol: self
                .rtol
                .clone()
                .unwrap_or_else(|| scalar_tolerance(&opts.rtol)),
            atol: self
                .atol
                .clone()
                .unwrap_or_else(|| scalar_tolerance(&opts.atol)),
            saveat: SaveAt::Times(Vec::new()),
            dense: Some(self.kind == AdjointKind::Quadrature),
            ..opts.clone()
        };
        let piece_opts = SolveOptions {
            saveat: SaveAt::Times(Vec::new()),
            dense: Some(true),
            ..opts.clone()
        };
        let mut state = BackwardState {
            lam: vec![0.0; n],
            mu: vec![0.0; np],
            u: Vec::new(),
            stats: Stats::default(),
            vjps: 0,
        };
        let (t0, t1) = prob.tspan();
        let saves = sol.len();
        let g = |k: usize| &fwd.dl_du[k * n..(k + 1) * n];
        let mut t_cur = match sol.t.last() {
            Some(&t) => t,
            None => t0,
        };
        if self.kind == AdjointKind::Backsolve && saves > 0 {
            state.u = sol.u(saves - 1).to_vec();
        }
        let mut at_t0: Vec<usize> = Vec::new();
        if !self.checkpointed {
            // One backward solve, stepping onto every saved time, where the
            // adjoint jumps by that point's dL/du.
            let mut jumps = Jumps::new(&fwd.dl_du, n);
            for k in (0..saves).rev() {
                let ts = sol.t[k];
                if ts == t0 {
                    at_t0.push(k);
                } else if ts == t_cur {
                    state.lam.iter_mut().zip(g(k)).for_each(|(a, b)| *a += b);
                } else {
                    jumps.at.push((ts, k));
                }
            }
            if t_cur != t0 {
                self.advance(
                    prob,
                    method,
                    solver,
                    sol,
                    &adj_opts,
                    &piece_opts,
                    usize::MAX,
                    t_cur,
                    t0,
                    &mut state,
                    jumps,
                )?;
            }
        }
        for k in (0..saves).rev().filter(|_| self.checkpointed) {
            let ts = sol.t[k];
            if ts != t_cur {
                self.advance(
                    prob,
                    method,
                    solver,
                    sol,
                    &adj_opts,
                    &piece_opts,
                    k,
                    t_cur,
                    ts,
                    &mut state,
                    Jumps::new(&fwd.dl_du, n),
                )?;
                t_cur = ts;
            }
            if ts == t0 {
                at_t0.push(k);
            } else {
                state.lam.iter_mut().zip(g(k)).for_each(|(a, b)| *a += b);
            }
        }
        if self.checkpointed && t_cur != t0 {
            self.advance(
                prob,
                method,
                solver,
                sol,
                &adj_opts,
                &piece_opts,
                usize::MAX,
                t_cur,
                t0,
                &mut state,
                Jumps::new(&fwd.dl_du, n),
            )?;
        }
        // dL/dt0 = -λ(t0⁺)ᵀ f(u0, t0); dL/dt1 = (dL/du(t1))ᵀ f(u(t1), t1).
        let maps = ParamMapJacobian::of(prob);
        let (mut t0bar, mut t1bar) = (0.0, 0.0);
        if maps.is_some() {
            let mut fu = vec![0.0; n];
            f.rhs(&mut fu, prob.u0(), p, t0);
            t0bar = -dot(&state.lam, &fu);
            if saves > 0 && sol.t[saves - 1] == t1 {
                f.rhs(&mut fu, sol.u(saves - 1), p, t1);
                t1bar = dot(g(saves - 1), &fu);
            }
        }
        for k in at_t0 {
            state.lam.iter_mut().zip(g(k)).for_each(|(a, b)| *a += b);
        }
        let mut dp = state.mu;
        if let Some(maps) = &maps {
            maps.add_to(&mut dp, &state.lam, t0bar, t1bar);
        }
        Ok(Gradient {
            loss: fwd.loss,
            dp,
            du0: if want_u0 { state.lam } else { Vec::new() },
            stats: GradientStats {
                forward: sol.stats,
                backward: state.stats,
                vjps: state.vjps,
                checkpoints: if self.checkpointed { saves } else { 0 },
            },
        })
    }

    /// Carries the adjoint from `from` back to `to`, jumping at `jumps`;
    /// `k` is the saved point at `to` (`usize::MAX` for `t0`).
    #[allow(clippy::too_many_arguments)]
    fn advance<F, M, B>(
        &self,
        prob: &OdeProblem<F>,
        method: &M,
        solver: &B,
        sol: &Solution<f64>,
        adj_opts: &SolveOptions,
        piece_opts: &SolveOptions,
        k: usize,
        from: f64,
        to: f64,
        state: &mut BackwardState,
        mut jumps: Jumps<'_>,
    ) -> Result<(), Error>
    where
        F: OdeFunction + Clone,
        M: OdeMethod + Clone,
        B: OdeMethod + Clone,
    {
        let (n, np) = (prob.len(), prob.p().len());
        let (f, p) = (prob.f(), prob.p());
        if self.kind == AdjointKind::Backsolve {
            let rhs = BacksolveRhs::new(f, p);
            let z0: Vec<f64> = [&state.u[..], &state.lam, &state.mu].concat();
            jumps.offset = n;
            let z = solve_adjoint(rhs, z0, from, to, solver, adj_opts, state, &mut jumps)?;
            state.u.copy_from_slice(&z.u_end()[..n]);
            state.lam.copy_from_slice(&z.u_end()[n..2 * n]);
            state.mu.copy_from_slice(&z.u_end()[2 * n..]);
            return Ok(());
        }
        // The forward state over [to, from]: the forward solve's dense
        // output, or a re-solve from the checkpoint at `to`.
        let piece;
        let dense: &Solution<f64> = if self.checkpointed {
            let u_start = if k == usize::MAX { prob.u0() } else { sol.u(k) };
            let local = prob
                .clone()
                .with_u0(u_start.to_vec())?
                .with_tspan((to, from))?;
            piece = local.solve(method.clone(), piece_opts)?;
            super::check_success(&piece, "checkpoint re-solve")?;
            add_stats(&mut state.stats, &piece.stats);
            &piece
        } else {
            sol
        };
        let with_mu = self.kind == AdjointKind::Interpolating;
        let rhs = InterpolatingRhs::new(f, p, dense, with_mu);
        let z0: Vec<f64> = if with_mu {
            [&state.lam[..], &state.mu].concat()
        } else {
            state.lam.clone()
        };
        let z = solve_adjoint(&rhs, z0, from, to, solver, adj_opts, state, &mut jumps)?;
        state.lam.copy_from_slice(&z.u_end()[..n]);
        if with_mu {
            state.mu.copy_from_slice(&z.u_end()[n..]);
            return Ok(());
        }
        // Quadrature of λᵀ ∂f/∂p over the adjoint's own steps.
        let adense = z.dense.as_ref().ok_or(Error::NoDenseOutput)?;
        let mut lam = vec![0.0; n];
        let mut u = vec![0.0; n];
        let mut vu = vec![0.0; n];
        let mut vp = vec![0.0; np];
        let mut work = VjpWork::new(n, np);
        for (idx, (&start, &size)) in adense.starts.iter().zip(&adense.sizes).enumerate() {
            let data = &adense.data[idx * adense.width..(idx + 1) * adense.width];
            for (&x, &w) in GAUSS_NODES.iter().zip(&GAUSS_WEIGHTS) {
                (adense.eval)(x, size, data, &mut lam);
                let tq = start + x * size;
                rhs.forward_state(tq, &mut u);
                vjp(f, &lam, &u, p, tq, &mut vu, &mut vp, None, &mut work);
                for (m, v) in state.mu.iter_mut().zip(&vp) {
                    *m -= size * w * v;
                }
            }
        }
        state.vjps += work.count;
        Ok(())
    }
}

/// What the backward sweep carries from piece to piece.
struct BackwardState {
    lam: Vec<f64>,
    mu: Vec<f64>,
    /// The backsolved state (backsolve only).
    u: Vec<f64>,
    stats: Stats,
    vjps: usize,
}

/// Adds `dL/du` of saved points to the adjoint when the backward solve
/// steps onto their times.
struct Jumps<'a> {
    /// `(time, saved point)` in the order the backward solve meets them.
    at: Vec<(f64, usize)>,
    next: usize,
    dl_du: &'a [f64],
    n: usize,
    /// Where `λ` starts in the adjoint state.
    offset: usize,
}

impl<'a> Jumps<'a> {
    fn new(dl_du: &'a [f64], n: usize) -> Self {
        Self {
            at: Vec::new(),
            next: 0,
            dl_du,
            n,
            offset: 0,
        }
    }
}

impl StepObserver<f64> for Jumps<'_> {
    fn accepted(&mut self, _: &AcceptedStep<'_, f64>, _: &dyn Fn() -> Checkpoint<f64>) -> bool {
        true
    }
    fn at_stop(&mut self, t: f64, z: &mut [f64]) -> bool {
        let mut jumped = false;
        while let Some(&(ts, k)) = self.at.get(self.next) {
            if ts != t {
                break;
            }
            let g = &self.dl_du[k * self.n..(k + 1) * self.n];
            z[self.offset..self.offset + self.n]
                .iter_mut()
                .zip(g)
                .for_each(|(a, b)| *a += b);
            self.next += 1;
            jumped = true;
        }
        jumped
    }
}

/// Solves an adjoint system from `from` to `to`, with its jumps.
#[allow(clippy::too_many_arguments)]
fn solve_adjoint<G, B>(
    rhs: G,
    z0: Vec<f64>,
    from: f64,
    to: f64,
    solver: &B,
    opts: &SolveOptions,
    state: &mut BackwardState,
    jumps: &mut Jumps<'_>,
) -> Result<Solution<f64>, Error>
where
    G: OdeFunction + CountsVjps,
    B: OdeMethod + Clone,
{
    let vjps = rhs.vjp_counter();
    let prob = OdeProblem::new(rhs, z0, (from, to), Vec::<f64>::new())?;
    let mut opts = opts.clone();
    opts.tstops.extend(jumps.at.iter().map(|&(t, _)| t));
    let (z, _) = integrate_observed(&prob, solver, &opts, jumps, None)?;
    super::check_success(&z, "adjoint")?;
    add_stats(&mut state.stats, &z.stats);
    state.vjps += vjps.take();
    Ok(z)
}

/// Adjoint right-hand sides count their vector–Jacobian products.
trait CountsVjps {
    fn vjp_counter(&self) -> VjpCounter;
}

/// A handle on an adjoint system's product count, read after its solve.
struct VjpCounter(std::rc::Rc<std::cell::Cell<usize>>);

impl VjpCounter {
    fn take(&self) -> usize {
        self.0.take()
    }
}

/// Scratch of the interpolating adjoints' right-hand side (reused; the
/// function is called through `&self`).
struct Scratch {
    /// The forward state (interpolating adjoints).
    u: Vec<f64>,
    /// Parameter products nobody keeps (an adjoint without `μ`).
    vp: Vec<f64>,
    /// `f` at the forward state (when the adjoint's time carries derivatives).
    fu: Vec<f64>,
    work: VjpWork<f64>,
}

impl Scratch {
    fn new(n: usize, np: usize) -> Self {
        Self {
            u: vec![0.0; n],
            vp: vec![0.0; np],
            fu: vec![0.0; n],
            work: VjpWork::new(n, np),
        }
    }
}

/// `z = [λ, μ]` (or `λ` alone), with `u(t)` read from dense output:
/// `λ' = -(∂f/∂u)ᵀ λ`, `μ' = -(∂f/∂p)ᵀ λ`.
struct InterpolatingRhs<'a, F> {
    f: &'a F,
    p: &'a [f64],
    dense: &'a Solution<f64>,
    with_mu: bool,
    span: (f64, f64),
    /// The forward step the last state was read from.
    near: std::cell::Cell<usize>,
    scratch: RefCell<Scratch>,
    count: std::rc::Rc<std::cell::Cell<usize>>,
}

impl<'a, F: OdeFunction> InterpolatingRhs<'a, F> {
    fn new(f: &'a F, p: &'a [f64], dense: &'a Solution<f64>, with_mu: bool) -> Self {
        let n = dense.num_states();
        let (a, b) = dense.span();
        Self {
            f,
            p,
            dense,
            with_mu,
            span: (a.min(b), a.max(b)),
            near: std::cell::Cell::new(usize::MAX),
            scratch: RefCell::new(Scratch::new(n, p.len())),
            count: Default::default(),
        }
    }

    /// The forward state at `t` (clamped into the solved span, which the
    /// adjoint's stages may overshoot by rounding).
    fn forward_state(&self, t: f64, u: &mut [f64]) {
        let t = t.clamp(self.span.0, self.span.1);
        let mut near = self.near.get();
        self.dense
            .u_at_into_near(t, u, &mut near)
            .expect("dense output covers the adjoint's span");
        self.near.set(near);
    }
}

impl<F> CountsVjps for &InterpolatingRhs<'_, F> {
    fn vjp_counter(&self) -> VjpCounter {
        VjpCounter(self.count.clone())
    }
}

impl<F: OdeFunction> OdeFunction for InterpolatingRhs<'_, F> {
    fn rhs<T: Scalar>(&self, dz: &mut [T], z: &[T], _p: &[T], t: T) {
        let s = &mut *self.scratch.borrow_mut();
        let (n, np) = (s.u.len(), self.p.len());
        self.forward_state(t.real(), &mut s.u);
        self.count.set(self.count.get() + 1);
        if let (Some(z), Some(dz)) = (T::as_f64_slice(z), T::as_f64_slice_mut(dz)) {
            // The products straight into the adjoints' slots.
            let (vu, rest) = dz.split_at_mut(n);
            let vp = if self.with_mu { rest } else { &mut s.vp[..] };
            let lam = &z[..n];
            adjoint_products(
                self.f,
                lam,
                &s.u,
                self.p,
                t.real(),
                -1.0,
                None,
                vu,
                vp,
                &mut s.work,
            );
            return;
        }
        // Carrying derivatives (a stiff solver's time derivative): the
        // state follows t to first order, u(t) ≈ u(t_re) + (t - t_re) f.
        self.f.rhs(&mut s.fu, &s.u, self.p, t.real());
        let shift = t - T::cst(t.real());
        let u: Vec<T> =
            s.u.iter()
                .zip(&s.fu)
                .map(|(&u, &fu)| T::cst(u) + shift.scaled(fu))
                .collect();
        let p: Vec<T> = self.p.iter().map(|&x| T::cst(x)).collect();
        let (mut vu, mut vp) = (vec![T::zero(); n], vec![T::zero(); np]);
        let mut work = VjpWork::<T>::new(n, np);
        vjp(
            self.f,
            &z[..n],
            &u,
            &p,
            t,
            &mut vu,
            &mut vp,
            None,
            &mut work,
        );
        for (d, v) in dz.iter_mut().zip(vu) {
            *d = -v;
        }
        if self.with_mu {
            for (d, v) in dz[n..].iter_mut().zip(vp) {
                *d = -v;
            }
        }
    }

    fn jacobian<T: Scalar>(&self, jac: &mut DenseMatrix<T>, _z: &[T], _p: &[T], t: T) -> bool {
        if !T::PLAIN {
            return false;
        }
        // [[-Jfᵀ, 0], [-fpᵀ, 0]]: linear in z.
        let s = &mut *self.scratch.borrow_mut();
        let (n, np) = (s.u.len(), self.p.len());
        self.forward_state(t.real(), &mut s.u);
        let mut jf = vec![0.0; n * n];
        let mut fp = vec![0.0; n * np];
        jacobians(self.f, &s.u, self.p, t.real(), &mut jf, &mut fp);
        let m = jac.size();
        for j in 0..m {
            for i in 0..m {
                jac[(i, j)] = T::zero();
            }
        }
        for i in 0..n {
            for j in 0..n {
                jac[(i, j)] = T::cst(-jf[j * n + i]);
            }
        }
        if self.with_mu {
            for k in 0..np {
                for j in 0..n {
                    jac[(n + k, j)] = T::cst(-fp[j * np + k]);
                }
            }
        }
        true
    }
}

/// `z = [u, λ, μ]` solved backwards together: `u' = f(u)`,
/// `λ' = -(∂f/∂u)ᵀ λ`, `μ' = -(∂f/∂p)ᵀ λ`.
struct BacksolveRhs<'a, F> {
    f: &'a F,
    p: &'a [f64],
    /// Working memory of its `f64` products (the function is called
    /// through `&self`).
    work: RefCell<VjpWork<f64>>,
    count: std::rc::Rc<std::cell::Cell<usize>>,
}

impl<'a, F: OdeFunction> BacksolveRhs<'a, F> {
    fn new(f: &'a F, p: &'a [f64]) -> Self {
        let n = f.num_states().unwrap_or(0);
        Self {
            f,
            p,
            work: RefCell::new(VjpWork::new(n, p.len())),
            count: Default::default(),
        }
    }
}

impl<F> CountsVjps for BacksolveRhs<'_, F> {
    fn vjp_counter(&self) -> VjpCounter {
        VjpCounter(self.count.clone())
    }
}

impl<F: OdeFunction> OdeFunction for BacksolveRhs<'_, F> {
    fn rhs<T: Scalar>(&self, dz: &mut [T], z: &[T], _p: &[T], t: T) {
        let np = self.p.len();
        let n = (z.len() - np) / 2;
        self.count.set(self.count.get() + 1);
        if let (Some(z), Some(dz)) = (T::as_f64_slice(z), T::as_f64_slice_mut(dz)) {
            // In place: f(u) into the state's slot, the products into the
            // adjoints' (one pass for a small function, see `adjoint_products`).
            let (fu, rest) = dz.split_at_mut(n);
            let (vu, vp) = rest.split_at_mut(n);
            let (u, lam) = (&z[..n], &z[n..2 * n]);
            let t = t.real();
            adjoint_products(
                self.f,
                lam,
                u,
                self.p,
                t,
                -1.0,
                Some(fu),
                vu,
                vp,
                &mut self.work.borrow_mut(),
            );
            return;
        }
        let p: Vec<T> = self.p.iter().map(|&x| T::cst(x)).collect();
        let (u, rest) = z.split_at(n);
        let (du, drest) = dz.split_at_mut(n);
        self.f.rhs(du, u, &p, t);
        let (mut vu, mut vp) = (vec![T::zero(); n], vec![T::zero(); np]);
        let mut work = VjpWork::<T>::new(n, np);
        vjp(
            self.f,
            &rest[..n],
            u,
            &p,
            t,
            &mut vu,
            &mut vp,
            None,
            &mut work,
        );
        for (d, v) in drest[..n].iter_mut().zip(vu) {
            *d = -v;
        }
        for (d, v) in drest[n..].iter_mut().zip(vp) {
            *d = -v;
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
