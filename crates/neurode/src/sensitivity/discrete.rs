//! The discrete adjoint: backpropagation through the steps an explicit
//! Runge–Kutta solve actually took, giving the exact gradient of the
//! computed solution (step sizes held fixed, as forward mode holds them).
//!
//! The forward solve keeps checkpoints of the integrator's whole state
//! every so many accepted steps. The backward pass walks the checkpoints in
//! reverse: it replays the stretch after each one (bit for bit the same
//! steps), then runs back through those steps, recomputing each step's
//! stages and pulling the adjoint through them with vector–Jacobian
//! products of `f`. Saved points between steps are pulled back through the
//! method's own interpolant.

use super::forward::add_stats;
use super::lanes::{LANES, Lanes, pull};
use super::{
    Gradient, GradientStats, Loss, ParamMapJacobian, Sensitivity, VjpWork, check_success,
    fits_one_pass, lane_jacobian, vjp,
};
use crate::error::Error;
use crate::methods::OdeMethod;
use crate::methods::explicit::{DensePoly, ExplicitTableau};
use crate::problem::{OdeFunction, OdeProblem};
use crate::solve::{
    AcceptedStep, Checkpoint, SaveAt, SolveOptions, Stats, StepObserver, integrate_observed,
};

/// How many checkpoints the discrete adjoint keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkpointing {
    /// Every step's state and stage derivatives, kept during the forward
    /// solve while they fit in [`RECORD_ALL_BYTES`]: the backward pass then
    /// neither replays the solve nor re-evaluates the stages. Past that
    /// size, as [`Sqrt`](Self::Sqrt). The default.
    Auto,
    /// About `√(2N)` checkpoints for `N` steps, each about `√(2N)` steps
    /// apart (thinned as the solve goes, since `N` is not known ahead):
    /// memory grows like the square root of the number of steps, for one
    /// extra forward solve's worth of work.
    Sqrt,
    /// A checkpoint every `k` accepted steps (`k = 1` stores every step).
    Every(usize),
}

/// The memory [`Checkpointing::Auto`] may spend on keeping every step (32 MiB).
pub const RECORD_ALL_BYTES: usize = 32 << 20;

/// The largest record of one evaluation of `f` ([`OdeFunction::tape_len`])
/// the discrete adjoint keeps for its VJPs (32 KiB). Larger records cost
/// more in memory traffic than the evaluation they save: measured, the
/// spiral network's 160 numbers make a training step 20% faster, while a
/// 256-sample batch through 2→64→64→2 (100k numbers) made it 10% slower.
const MAX_KEPT_TAPE: usize = 4096;

/// Backpropagation through the solver's steps: the exact gradient of the
/// computed solution. Explicit Runge–Kutta methods are pulled back stage
/// by stage through their tableau, with checkpointing; other one-step
/// methods (Rosenbrock, SDIRK) have each recorded step differentiated in
/// vector duals (every step kept), and BDF each step from its recorded
/// history, the adjoint carried through the history. Through events and
/// callbacks, each step of an explicit or Rosenbrock method is replayed by
/// the integrator in vector duals, so event times, affects and restarts
/// are differentiated as they ran. Not supported: SDIRK or BDF through
/// callbacks, BDF with a time span depending on `p`, and methods that
/// switch between others; use [`ForwardMode`](super::ForwardMode) or an
/// [`Adjoint`](super::Adjoint).
///
/// ```
/// use neurode::prelude::*;
/// let d = Discrete::default();                 // every step while it fits, else √N
/// let d = Discrete::checkpoint_every(50);      // one every 50 steps
/// let d = Discrete { checkpointing: neurode::sensitivity::Checkpointing::Sqrt };
/// # let _ = d;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Discrete {
    /// The memory knob.
    pub checkpointing: Checkpointing,
}

impl Default for Discrete {
    fn default() -> Self {
        Self {
            checkpointing: Checkpointing::Auto,
        }
    }
}

impl Discrete {
    /// A checkpoint every `k` accepted steps (at least 1).
    pub fn checkpoint_every(k: usize) -> Self {
        Self {
            checkpointing: Checkpointing::Every(k.max(1)),
        }
    }
}

impl Sensitivity for Discrete {
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
        if prob.f().has_callbacks() {
            return super::hybrid::gradient(prob, method, opts, loss, want_u0);
        }
        let Some(tab) = method.explicit_tableau() else {
            return super::step_duals::gradient(prob, method, opts, loss, want_u0);
        };
        prob.validate()?;
        // Small systems get a backward pass compiled for their size: its
        // loops over components are then unrolled and its copies plain
        // moves (W2: Lotka–Volterra's 2 states).
        match prob.len() {
            1 => self.explicit::<1, F, M, L>(prob, method, tab, opts, loss, want_u0),
            2 => self.explicit::<2, F, M, L>(prob, method, tab, opts, loss, want_u0),
            3 => self.explicit::<3, F, M, L>(prob, method, tab, opts, loss, want_u0),
            4 => self.explicit::<4, F, M, L>(prob, method, tab, opts, loss, want_u0),
            _ => self.explicit::<0, F, M, L>(prob, method, tab, opts, loss, want_u0),
        }
    }
}

impl Discrete {
    /// [`Sensitivity::gradient`] for an explicit Runge–Kutta tableau; `N`
    /// is the number of states, or 0 for a size known only at run time.
    #[allow(clippy::too_many_arguments)]
    fn explicit<const N: usize, F, M, L>(
        &self,
        prob: &OdeProblem<F>,
        method: &M,
        tab: &'static ExplicitTableau,
        opts: &SolveOptions,
        loss: &L,
        want_u0: bool,
    ) -> Result<Gradient, Error>
    where
        F: OdeFunction + Clone,
        M: OdeMethod + Clone,
        L: Loss,
    {
        let (n, np) = (prob.len(), prob.p().len());

        // Forward, keeping checkpoints.
        let keep_tapes = (1..=MAX_KEPT_TAPE).contains(&prob.f().tape_len());
        let mut recorder = CheckpointRecorder::new(self.checkpointing, keep_tapes);
        let (sol, _) = integrate_observed(prob, method, opts, &mut recorder, None)?;
        check_success(&sol, "forward")?;
        loss.check(sol.len(), n)?;
        let mut dl_du = vec![0.0; sol.u_flat().len()];
        let loss_value = loss.value_and_gradient(&sol.t, sol.u_flat(), n, &mut dl_du);
        let total_steps = recorder.accepted;

        // Backward, stretch by stretch.
        let maps = ParamMapJacobian::of(prob);
        let track_time = maps.is_some();
        let (t0, t1) = prob.tspan();
        let dir = if t1 > t0 { 1.0 } else { -1.0 };
        let replay_opts = SolveOptions {
            saveat: SaveAt::Times(Vec::new()),
            dense: Some(false),
            ..opts.clone()
        };
        // A function without its own products, small enough for one pass
        // of vector duals: each step's Jacobians are taken ahead of its
        // chain of products (see `lane_jacobian`).
        let jacobians_ahead = !keep_tapes
            && fits_one_pass(n, np, track_time)
            && !supplies_vjp(prob.f(), prob.u0(), prob.p(), t0);
        let mut back = ErkBackprop::<N>::new(tab, n, np, jacobians_ahead);
        let mut ubar = vec![0.0; n];
        let mut pbar = vec![0.0; np];
        let (mut tbar, mut t1bar) = (0.0, 0.0);
        let mut next_save = sol.len(); // saves [0, next_save) not yet pulled back
        let mut backward = Stats::default();
        let mut segment = Segment {
            keep_tapes,
            ..Segment::default()
        };
        let mut interps: Vec<(f64, usize)> = Vec::new();
        let starts = &recorder.starts;
        // Everything recorded: one stretch, nothing to replay.
        let all = recorder.all.take();
        let stretches = if all.is_some() { 1 } else { starts.len() + 1 };
        for seg in (0..stretches).rev() {
            let segment = match &all {
                Some(all) => all,
                None => {
                    let (first, resume) = match seg {
                        0 => (0, None),
                        _ => (starts[seg - 1].0, Some(&starts[seg - 1].1)),
                    };
                    let last = starts.get(seg).map_or(total_steps, |s| s.0);
                    segment.start(n, last - first);
                    let (replay, _) =
                        integrate_observed(prob, method, &replay_opts, &mut segment, resume)?;
                    add_stats(&mut backward, &replay.stats);
                    &segment
                }
            };
            for k in (0..segment.len()).rev() {
                let (t, dt, t_new) = segment.times[k];
                let u = &segment.u[k * n..(k + 1) * n];
                // Saved points in (t, t_new]: at t_new they are u_new itself,
                // inside the step they come from the interpolant.
                interps.clear();
                while next_save > 0 {
                    let ts = sol.t[next_save - 1];
                    if (ts - t) * dir <= 0.0 {
                        break;
                    }
                    let g = &dl_du[(next_save - 1) * n..next_save * n];
                    if ts == t_new {
                        ubar.iter_mut().zip(g).for_each(|(a, b)| *a += b);
                    } else {
                        interps.push(((ts - t) / dt, next_save - 1));
                    }
                    next_save -= 1;
                }
                let step_time = back.step(
                    prob.f(),
                    prob.p(),
                    StepPoint {
                        t,
                        dt,
                        u,
                        stages: segment.stages(k),
                        tapes: segment.tapes(k),
                    },
                    &mut ubar,
                    &mut pbar,
                    &interps,
                    &dl_du,
                    track_time,
                );
                if track_time {
                    // A step that landed on the end has dt = t1 - t; other
                    // steps have a fixed size (landing on a fixed tstop ends
                    // the dependence on the start).
                    let lands_on_end = t_new == t1;
                    let lands_on_stop = opts.tstops.contains(&t_new);
                    if lands_on_end {
                        t1bar += tbar + step_time.dt;
                        tbar = step_time.t - step_time.dt;
                    } else if lands_on_stop {
                        tbar = step_time.t - step_time.dt;
                    } else {
                        tbar += step_time.t;
                    }
                }
            }
        }
        back.flush(prob.f(), prob.p(), &mut ubar, &mut pbar);
        // What is left is saved at t0 itself.
        for k in 0..next_save {
            ubar.iter_mut()
                .zip(&dl_du[k * n..(k + 1) * n])
                .for_each(|(a, b)| *a += b);
        }
        backward.f_evals += back.f_evals;
        if let Some(maps) = &maps {
            maps.add_to(&mut pbar, &ubar, tbar, t1bar);
        }
        Ok(Gradient {
            loss: loss_value,
            dp: pbar,
            du0: if want_u0 { ubar } else { Vec::new() },
            stats: GradientStats {
                forward: sol.stats,
                backward,
                vjps: back.work.count,
                checkpoints: recorder.peak,
            },
        })
    }
}

/// Keeps checkpoints during the forward solve (and, under
/// [`Checkpointing::Auto`], every step while it fits).
struct CheckpointRecorder {
    policy: Checkpointing,
    stride: usize,
    accepted: usize,
    /// `(accepted steps, checkpoint)`, in order.
    starts: Vec<(usize, Checkpoint<f64>)>,
    peak: usize,
    /// Every step so far, until it outgrows [`RECORD_ALL_BYTES`].
    all: Option<Segment>,
}

impl CheckpointRecorder {
    fn new(policy: Checkpointing, keep_tapes: bool) -> Self {
        let stride = match policy {
            Checkpointing::Auto | Checkpointing::Sqrt => 1,
            Checkpointing::Every(k) => k.max(1),
        };
        let all = (policy == Checkpointing::Auto).then(|| Segment {
            remaining: usize::MAX,
            keep_tapes,
            ..Segment::default()
        });
        Self {
            policy,
            stride,
            accepted: 0,
            starts: Vec::new(),
            peak: 0,
            all,
        }
    }
}

impl StepObserver<f64> for CheckpointRecorder {
    fn accepted(
        &mut self,
        step: &AcceptedStep<'_, f64>,
        checkpoint: &dyn Fn() -> Checkpoint<f64>,
    ) -> bool {
        self.accepted += 1;
        if let Some(all) = &mut self.all {
            all.accepted(step, checkpoint);
            if all.bytes() > RECORD_ALL_BYTES {
                self.all = None;
            }
        }
        if self.accepted.is_multiple_of(self.stride) {
            self.starts.push((self.accepted, checkpoint()));
            if matches!(self.policy, Checkpointing::Auto | Checkpointing::Sqrt)
                && self.starts.len() > 2 * self.stride
            {
                // Keep every other one: as many checkpoints as steps between them.
                self.stride *= 2;
                let stride = self.stride;
                self.starts.retain(|(k, _)| k.is_multiple_of(stride));
            }
            self.peak = self.peak.max(self.starts.len());
        }
        true
    }
    fn wants_tapes(&self) -> bool {
        self.all.as_ref().is_some_and(|all| all.keep_tapes)
    }
}

/// The steps of one stretch: `(t, dt, t_new)`, the state at `t` and,
/// where the method gives them, the stage derivatives.
#[derive(Default)]
struct Segment {
    n: usize,
    remaining: usize,
    times: Vec<(f64, f64, f64)>,
    u: Vec<f64>,
    /// The stages of every step, or empty.
    stages: Vec<f64>,
    /// Their records of `f` ([`OdeFunction::rhs_taped`]), or empty.
    tapes: Vec<f64>,
    /// Whether to ask for those records.
    keep_tapes: bool,
}

impl Segment {
    fn start(&mut self, n: usize, steps: usize) {
        self.n = n;
        self.remaining = steps;
        self.times.clear();
        self.u.clear();
        self.stages.clear();
        self.tapes.clear();
    }
    fn len(&self) -> usize {
        self.times.len()
    }
    fn bytes(&self) -> usize {
        8 * (3 * self.times.len() + self.u.len() + self.stages.len() + self.tapes.len())
    }
    /// Step `k`'s stage derivatives, if recorded.
    fn stages(&self, k: usize) -> Option<&[f64]> {
        let per_step = self.stages.len() / self.len().max(1);
        (per_step > 0).then(|| &self.stages[k * per_step..(k + 1) * per_step])
    }
    /// Step `k`'s tapes, if recorded.
    fn tapes(&self, k: usize) -> Option<&[f64]> {
        let per_step = self.tapes.len() / self.len().max(1);
        (per_step > 0).then(|| &self.tapes[k * per_step..(k + 1) * per_step])
    }
}

impl StepObserver<f64> for Segment {
    fn accepted(&mut self, step: &AcceptedStep<'_, f64>, _: &dyn Fn() -> Checkpoint<f64>) -> bool {
        self.n = step.u.len();
        self.times.push((step.t, step.dt, step.t_new));
        self.u.extend_from_slice(step.u);
        if !(step.stages)(&mut self.stages, &mut self.tapes) {
            self.stages.clear();
            self.tapes.clear();
        }
        self.remaining = self.remaining.saturating_sub(1);
        self.remaining > 0
    }
    fn wants_tapes(&self) -> bool {
        self.keep_tapes
    }
}

/// Where a step starts, how long it is, and its stages if recorded.
struct StepPoint<'a> {
    t: f64,
    dt: f64,
    u: &'a [f64],
    stages: Option<&'a [f64]>,
    tapes: Option<&'a [f64]>,
}

/// Adjoints of a step's start time and size (for spans that depend on `p`).
struct StepTimeBar {
    t: f64,
    dt: f64,
}

/// Working memory to pull adjoints back through explicit RK steps of a
/// system of `N` states (0: of `n`, known only at run time).
struct ErkBackprop<const N: usize> {
    tab: &'static ExplicitTableau,
    n: usize,
    /// Stage derivatives and stage inputs, `n` numbers per slot.
    k: Vec<f64>,
    y: Vec<f64>,
    /// Adjoints of the stage derivatives.
    kbar: Vec<f64>,
    ybar: Vec<f64>,
    vp: Vec<f64>,
    /// Saved points' gradients inside the step, summed.
    gsum: Vec<f64>,
    /// A first-stage adjoint waiting to be merged ([`Self::step`]): its
    /// vector, stage input, and stage time (`None`: nothing waits).
    pending_v: Vec<f64>,
    pending_at: Vec<f64>,
    pending: Option<f64>,
    work: VjpWork<f64>,
    f_evals: usize,
    /// Take each step's stage Jacobians before its products, and the
    /// products from them ([`lane_jacobian`]).
    jacobians_ahead: bool,
    /// Those Jacobians, `n` rows per slot (empty when not taken).
    jac: Vec<Lanes>,
}

/// Whether `f` computes its own vector–Jacobian products (asked once, of
/// a zero vector).
fn supplies_vjp<F: OdeFunction>(f: &F, u: &[f64], p: &[f64], t: f64) -> bool {
    let v = vec![0.0; u.len()];
    let (mut vu, mut vp) = (vec![0.0; u.len()], vec![0.0; p.len()]);
    f.vjp(&v, u, p, t, &mut vu, &mut vp, None)
}

/// `b(θ) = Σ_k c_k θ^(k+1)` and its derivative.
#[inline]
fn poly(c: &DensePoly, theta: f64) -> (f64, f64) {
    let (mut v, mut d) = (0.0, 0.0);
    for (k, &ck) in c.iter().enumerate().rev() {
        v = v * theta + ck;
        d = d * theta + (k + 1) as f64 * ck;
    }
    (v * theta, d)
}

impl<const N: usize> ErkBackprop<N> {
    /// The number of states, a constant where `N` gives it.
    #[inline(always)]
    fn n(&self) -> usize {
        if N == 0 { self.n } else { N }
    }

    fn new(tab: &'static ExplicitTableau, n: usize, np: usize, jacobians_ahead: bool) -> Self {
        let slots = tab.slots();
        Self {
            tab,
            n,
            k: vec![0.0; slots * n],
            y: vec![0.0; slots * n],
            kbar: vec![0.0; slots * n],
            ybar: vec![0.0; n],
            vp: vec![0.0; np],
            gsum: vec![0.0; n],
            pending_v: vec![0.0; n],
            pending_at: vec![0.0; n],
            pending: None,
            work: VjpWork::new(n, np),
            f_evals: 0,
            jacobians_ahead,
            jac: match jacobians_ahead {
                true => vec![Lanes::constant(0.0); slots * n],
                false => Vec::new(),
            },
        }
    }

    /// Row and abscissa of slot `i` (main stages, then extra ones).
    fn row(&self, i: usize) -> (&'static [f64], f64) {
        let s = self.tab.stages();
        if i < s {
            (self.tab.a[i], self.tab.c[i])
        } else {
            (self.tab.dense.extra_a[i - s], self.tab.dense.extra_c[i - s])
        }
    }

    /// Pulls `ubar` (the adjoint of the step's end state, on entry) back to
    /// the adjoint of its start state, adding the parameter adjoint to
    /// `pbar`. `interps` lists saved points inside the step as `(θ, index)`
    /// with their loss gradients in `dl_du`. Returns the adjoints of the
    /// step's start time and size when `track_time`.
    ///
    /// With a first-same-as-last method, the step's first stage is
    /// evaluated where the step before it ended, at the point of that
    /// step's last stage: its product is left pending and taken together
    /// with that stage's (one VJP where there were two). Until then `ubar`
    /// lacks its share; [`flush`](Self::flush) completes it after the last
    /// step pulled back.
    #[allow(clippy::too_many_arguments)]
    fn step<F: OdeFunction>(
        &mut self,
        f: &F,
        p: &[f64],
        at: StepPoint<'_>,
        ubar: &mut [f64],
        pbar: &mut [f64],
        interps: &[(f64, usize)],
        dl_du: &[f64],
        track_time: bool,
    ) -> StepTimeBar {
        let (n, tab) = (self.n(), self.tab);
        let StepPoint {
            t,
            dt,
            u,
            stages,
            tapes,
        } = at;
        let slots = if interps.is_empty() {
            tab.stages()
        } else {
            tab.slots()
        };
        // The stages: as recorded when every one needed was, else
        // recomputed; and the stage inputs y_i = u + dt Σ_j a_ij k_j.
        let recorded = stages.filter(|k| k.len() >= slots * n);
        for i in 0..slots {
            let (row, c) = self.row(i);
            let (done, rest) = self.k.split_at_mut(i * n);
            let done: &[f64] = recorded.unwrap_or(done);
            let yi = &mut self.y[i * n..(i + 1) * n];
            yi.copy_from_slice(u);
            for (&a, kj) in row.iter().zip(done.chunks_exact(n)) {
                if a != 0.0 {
                    let w = dt * a;
                    yi.iter_mut().zip(kj).for_each(|(y, &k)| *y += w * k);
                }
            }
            if recorded.is_none() {
                match stages {
                    Some(k) if i < tab.stages() => {
                        rest[..n].copy_from_slice(&k[i * n..(i + 1) * n]);
                    }
                    _ => {
                        f.rhs(&mut rest[..n], yi, p, t + c * dt);
                        self.f_evals += 1;
                    }
                }
            }
        }
        let k_all: &[f64] = recorded.unwrap_or(&self.k);
        // The merged form needs the last stage to be the only one seeded
        // through b after the others (FSAL: its row is b, its weight 0)
        // and no extra dense-output stages after it.
        let merge = tab.fsal && !track_time && slots == tab.stages();
        if self.jacobians_ahead {
            // Every stage pulled below (with merging, all but the first).
            for i in usize::from(merge)..slots {
                let (_, c) = self.row(i);
                lane_jacobian(
                    f,
                    &self.y[i * n..(i + 1) * n],
                    p,
                    t + c * dt,
                    &mut self.jac[i * n..(i + 1) * n],
                    &mut self.work,
                );
            }
        }
        let last = tab.stages() - 1;
        let mut time = StepTimeBar { t: 0.0, dt: 0.0 };
        self.kbar[..slots * n].fill(0.0);
        // The saved points inside the step: their gradients go to the
        // stages through the interpolant, and to the start state directly.
        self.gsum.fill(0.0);
        for &(theta, idx) in interps {
            let g = &dl_du[idx * n..(idx + 1) * n];
            for (i, c) in tab.dense.b_theta[..slots].iter().enumerate() {
                let (w, dw) = poly(c, theta);
                let ki = &k_all[i * n..(i + 1) * n];
                if w != 0.0 {
                    let kb = &mut self.kbar[i * n..(i + 1) * n];
                    kb.iter_mut().zip(g).for_each(|(x, gi)| *x += dt * w * gi);
                }
                if track_time {
                    let gk = dot(g, ki);
                    time.dt += gk * (w - theta * dw);
                    time.t -= gk * dw;
                }
            }
            self.gsum.iter_mut().zip(g).for_each(|(a, b)| *a += b);
        }
        let tc_last = t + tab.c[last] * dt;
        let y_last = &self.y[last * n..(last + 1) * n];
        let merges_pending =
            merge && self.pending.is_some_and(|tp| tp == tc_last) && self.pending_at == y_last;
        if !merges_pending {
            self.flush(f, p, ubar, pbar);
        }
        if merge {
            // The last stage, with the next step's first when it waits:
            // y_last is u_new, so its adjoint joins ubar before ubar seeds
            // the stages through b (= the last stage's row).
            let v = &mut self.kbar[last * n..(last + 1) * n];
            if merges_pending {
                v.iter_mut().zip(&self.pending_v).for_each(|(a, b)| *a += b);
                self.pending = None;
            }
            if v.iter().any(|&x| x != 0.0) {
                self.pull_stage(f, p, last, t, dt, tapes, false, ubar, pbar);
            }
        }
        // Seed the stage adjoints from the end state.
        for (i, &b) in tab.b.iter().enumerate() {
            if b != 0.0 {
                let kb = &mut self.kbar[i * n..(i + 1) * n];
                kb.iter_mut()
                    .zip(&*ubar)
                    .for_each(|(x, g)| *x += dt * b * g);
                if track_time {
                    let ki = &recorded.unwrap_or(&self.k)[i * n..(i + 1) * n];
                    time.dt += dot(ubar, ki) * b;
                }
            }
        }
        ubar.iter_mut().zip(&self.gsum).for_each(|(a, b)| *a += b);
        // Back through the stages, latest first (the last one done above,
        // the first left pending, when merging).
        let (high, low) = if merge { (last, 1) } else { (slots, 0) };
        for i in (low..high).rev() {
            if self.kbar[i * n..(i + 1) * n].iter().all(|&x| x == 0.0) {
                continue;
            }
            let (row, c) = self.row(i);
            let vt = self.pull_stage(f, p, i, t, dt, tapes, track_time, ubar, pbar);
            for (j, &a) in row.iter().enumerate() {
                if a != 0.0 {
                    self.kbar[j * n..(j + 1) * n]
                        .iter_mut()
                        .zip(&self.ybar)
                        .for_each(|(x, yb)| *x += dt * a * yb);
                }
            }
            if track_time {
                // y_i - u = dt Σ a_ij k_j, so ∂y_i/∂dt = (y_i - u) / dt.
                let yi = &self.y[i * n..(i + 1) * n];
                let dy: f64 = self
                    .ybar
                    .iter()
                    .zip(yi.iter().zip(u))
                    .map(|(yb, (y, u0))| yb * (y - u0))
                    .sum();
                time.t += vt;
                time.dt += c * vt + dy / dt;
            }
        }
        if merge {
            // The first stage (row empty, at u and t) waits for the step
            // before this one.
            self.pending_v.copy_from_slice(&self.kbar[..n]);
            self.pending_at.copy_from_slice(&self.y[..n]);
            self.pending = Some(t + tab.c[0] * dt);
        }
        time
    }

    /// `ybar = vᵀ ∂f/∂y` at stage `i`, `v` its stage adjoint, added to
    /// `ubar`, and `vᵀ ∂f/∂p` added to `pbar`; returns `vᵀ ∂f/∂t` when
    /// `track_time`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn pull_stage<F: OdeFunction>(
        &mut self,
        f: &F,
        p: &[f64],
        i: usize,
        t: f64,
        dt: f64,
        tapes: Option<&[f64]>,
        track_time: bool,
        ubar: &mut [f64],
        pbar: &mut [f64],
    ) -> f64 {
        let (n, tab) = (self.n(), self.tab);
        let (_, c) = self.row(i);
        let v = &self.kbar[i * n..(i + 1) * n];
        if self.jacobians_ahead {
            // From the Jacobian taken ahead, whose lanes are (u, p, t).
            let mut acc = [0.0; LANES];
            pull(v, &self.jac[i * n..(i + 1) * n], &mut acc);
            self.work.count += 1;
            let (yb, rest) = acc.split_at(n);
            self.ybar.copy_from_slice(yb);
            ubar.iter_mut().zip(yb).for_each(|(a, b)| *a += b);
            pbar.iter_mut().zip(rest).for_each(|(a, b)| *a += b);
            return if track_time { rest[pbar.len()] } else { 0.0 };
        }
        let yi = &self.y[i * n..(i + 1) * n];
        let mut vt = 0.0;
        let tc = t + c * dt;
        // The forward solve's record of this stage, if it kept one.
        let tape = tapes
            .filter(|_| i < tab.stages())
            .map(|all| {
                let len = all.len() / tab.stages();
                &all[i * len..(i + 1) * len]
            })
            .filter(|tape| !tape.is_empty());
        let taped = tape.is_some_and(|tape| {
            f.vjp_taped(
                v,
                yi,
                p,
                tc,
                tape,
                &mut self.ybar,
                &mut self.vp,
                track_time.then_some(&mut vt),
            )
        });
        if taped {
            self.work.count += 1;
        } else {
            vjp(
                f,
                v,
                yi,
                p,
                tc,
                &mut self.ybar,
                &mut self.vp,
                track_time.then_some(&mut vt),
                &mut self.work,
            );
        }
        pbar.iter_mut().zip(&self.vp).for_each(|(a, b)| *a += b);
        ubar.iter_mut().zip(&self.ybar).for_each(|(a, b)| *a += b);
        vt
    }

    /// Pulls back a first-stage adjoint left pending by the step after
    /// (the first step's, at the end of the backward pass).
    fn flush<F: OdeFunction>(&mut self, f: &F, p: &[f64], ubar: &mut [f64], pbar: &mut [f64]) {
        let Some(tc) = self.pending.take() else {
            return;
        };
        if self.pending_v.iter().all(|&x| x == 0.0) {
            return;
        }
        vjp(
            f,
            &self.pending_v,
            &self.pending_at,
            p,
            tc,
            &mut self.ybar,
            &mut self.vp,
            None,
            &mut self.work,
        );
        pbar.iter_mut().zip(&self.vp).for_each(|(a, b)| *a += b);
        ubar.iter_mut().zip(&self.ybar).for_each(|(a, b)| *a += b);
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
