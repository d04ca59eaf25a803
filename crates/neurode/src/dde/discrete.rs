//! The discrete adjoint of the method of steps: the exact gradient of the
//! computed delay solution, its mesh held fixed: step sizes, and the cuts
//! at tracked discontinuities (where a step is cut is the solver's choice,
//! and forward mode holds it fixed too).
//!
//! A step reads, besides its start state and the parameters, the dense
//! output of earlier steps (its delayed values). Walking the steps
//! backwards, each is run again in eight-lane duals seeded in its start
//! state, the parameters and each delayed value it reads (numbered in the
//! order the step reads them, the same in every pass). The lanes then give
//! the adjoints of all three: the start state's goes to the step before,
//! the parameters' is summed, and each delayed value's is passed into the
//! dense output of the step it was read from (linear in that step's stored
//! numbers), to be pulled back when that step's turn comes. A delay that
//! depends on the state is differentiated too: the time of the read is a
//! dual number, and the interpolant's slope carries it. A step cut at a
//! tracked discontinuity is replayed as the integrator ran it: the whole
//! step, accepted at its full length, then ended on its interpolant at the
//! cut.
//!
//! When the right-hand side computes its own parameter products
//! ([`DdeFunction::vjp_p`], as a network does), the parameters are not
//! seeded: each evaluation's output is, instead (numbered with the reads,
//! in the order they happen, the same in every pass), and the first pass
//! records where each evaluation was made. The output adjoints then go through
//! `vjp_p` one evaluation at a time, and reads of the history function
//! through its own derivative in the parameters: the number of dual passes
//! no longer grows with the number of parameters (a 114-parameter neural
//! delay equation: 17 passes per step down to 5).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::{DdeFunction, DdeProblem, History, MethodOfSteps, Source, source};
use crate::dim::Dyn;
use crate::error::Error;
use crate::methods::explicit::ErkMethod;
use crate::methods::{DenseFn, OdeMethod, Rhs, Setup};
use crate::problem::{JacobianSparsity, MassMatrix, OdeFunction};
use crate::scalar::{Scalar, quotient};
use crate::sensitivity::Loss;
use crate::sensitivity::lanes::{LANES, Lanes, pull, seed};
use crate::solve::{Solution, SolveOptions};

/// One accepted step of the forward solve, in time order over all pieces.
struct StepRef {
    piece: usize,
    /// Its index among its piece's steps.
    index: usize,
    t: f64,
    dt: f64,
    /// Where it ended: the next step's start, or its piece's end.
    t_new: f64,
    /// Where the method's step reached before a tracked discontinuity cut
    /// it at `t_new` (the integrator accepts the whole step, then ends it
    /// on the interpolant); `t_new` itself for a step that was not cut.
    t_full: f64,
}

/// What a seeded vector of a replay is: call `c`'s output or read `q`.
#[derive(Clone, Copy, Debug)]
enum Seeded {
    Call(usize),
    Read(usize),
}

/// A delayed read made while a step was replayed: from which step's dense
/// output (global index), at which fraction of it; or from the history
/// function, at which time (logged only when `p` is not seeded, so the
/// history's own dependence on `p` is pulled back separately).
#[derive(Clone, Copy, Debug)]
enum Read {
    Step { step: usize, theta: f64 },
    History { t: f64 },
}

/// What a replayed step's right-hand side reads its delayed values from:
/// the forward solve's pieces, and the bookkeeping that seeds each read.
/// Owned (`'static`), so the right-hand side can find it by type.
struct Replay<T> {
    pieces: Rc<Vec<Solution<f64>>>,
    /// Global index of each piece's first step.
    offsets: Vec<usize>,
    /// Pieces the replayed step may read (those before its own).
    readable: Cell<usize>,
    /// Direction of the first read's first component.
    base: Cell<usize>,
    /// The current pass's first direction.
    first: Cell<usize>,
    /// Reads so far in this pass.
    count: Cell<usize>,
    /// The reads of the step being replayed, in order.
    log: RefCell<Vec<Read>>,
    /// The method's dense output, in `T` and in plain numbers (for reads
    /// whose point carries no derivative: constant lags).
    dense: DenseFn<T>,
    dense_plain: DenseFn<f64>,
    plain_out: RefCell<Vec<f64>>,
    /// Reads evaluated in plain numbers, kept for the step's later passes
    /// (the same point, the same values): `n` values each, and the time
    /// read `q` was made at when it has them (NaN when not).
    plain_reads: RefCell<Vec<f64>>,
    plain_kept: RefCell<Vec<f64>>,
    /// A stored step's numbers lifted to `T`.
    block: RefCell<Vec<T>>,
    /// Adds direction `d` (of the pass starting at `first`) to a number.
    seed: fn(T, usize, usize) -> T,
    /// Parameters left to the right-hand side's own `vjp_p`: each
    /// evaluation's output is seeded instead (directions `n + c n + m` for
    /// call `c`), and history reads are logged and seeded like any other.
    split: bool,
    /// Right-hand side calls so far in this pass.
    calls: Cell<usize>,
    /// Vectors seeded so far in this pass (reads, and calls when split),
    /// vector `e` in directions `base + e n ..`; and what each one is.
    seeded: Cell<usize>,
    kinds: RefCell<Vec<Seeded>>,
    /// When set, each call's stage input and time are recorded.
    record: Cell<bool>,
    stage_u: RefCell<Vec<f64>>,
    stage_t: RefCell<Vec<f64>>,
}

impl<T> Replay<T> {
    fn new(
        pieces: &Rc<Vec<Solution<f64>>>,
        offsets: &[usize],
        width: usize,
        dense: DenseFn<T>,
        dense_plain: DenseFn<f64>,
        seed: fn(T, usize, usize) -> T,
        split: bool,
    ) -> Self {
        Self {
            pieces: Rc::clone(pieces),
            offsets: offsets.to_vec(),
            readable: Cell::new(0),
            base: Cell::new(0),
            first: Cell::new(0),
            count: Cell::new(0),
            log: RefCell::new(Vec::new()),
            dense,
            dense_plain,
            plain_out: RefCell::new(Vec::new()),
            plain_reads: RefCell::new(Vec::new()),
            plain_kept: RefCell::new(Vec::new()),
            block: RefCell::new(Vec::with_capacity(width)),
            seed,
            split,
            calls: Cell::new(0),
            seeded: Cell::new(0),
            kinds: RefCell::new(Vec::new()),
            record: Cell::new(false),
            stage_u: RefCell::new(Vec::new()),
            stage_t: RefCell::new(Vec::new()),
        }
    }

    /// Ready for another step: nothing logged, counted or kept.
    fn new_step(&self) {
        self.log.borrow_mut().clear();
        self.kinds.borrow_mut().clear();
        self.stage_u.borrow_mut().clear();
        self.stage_t.borrow_mut().clear();
        self.plain_reads.borrow_mut().clear();
        self.plain_kept.borrow_mut().clear();
    }

    /// Ready for another pass over the same step.
    fn start_pass(&self, first: usize) {
        self.first.set(first);
        self.count.set(0);
        self.calls.set(0);
        self.seeded.set(0);
    }

    /// The first direction of the next seeded vector, `what`.
    fn next_seeded(&self, what: Seeded, n: usize) -> usize {
        let e = self.seeded.get();
        self.seeded.set(e + 1);
        let mut kinds = self.kinds.borrow_mut();
        if kinds.len() == e {
            kinds.push(what);
        }
        self.base.get() + e * n
    }
}

fn seed_lane(x: Lanes, d: usize, first: usize) -> Lanes {
    x + seed(0.0, d, first)
}

fn seed_none(x: f64, _: usize, _: usize) -> f64 {
    x
}

/// The history a replayed step sees.
struct ReplayView<'a, F, T> {
    f: &'a F,
    p: &'a [T],
    replay: &'a Replay<T>,
}

impl<F: DdeFunction, T: Scalar> ReplayView<'_, F, T> {
    /// `out` at `t` as the forward solve read it: the read to log and
    /// whether it was evaluated in plain numbers, or `None` for a value
    /// that takes no read index (a history value when `p` is seeded, or
    /// a point not solved yet).
    fn evaluate(&self, t: T, out: &mut [T]) -> Option<(Read, bool)> {
        let r = self.replay;
        let pieces = &r.pieces[..r.readable.get()];
        let mut plain_read = false;
        let read = match source(pieces, t.real()) {
            Source::History => {
                self.f.history(out, self.p, t);
                if !r.split {
                    return None;
                }
                Read::History { t: t.real() }
            }
            Source::Unsolved => {
                out.fill(T::cst(f64::NAN));
                return None;
            }
            Source::Step {
                piece,
                step: k,
                t: at,
            } => {
                let dense = pieces[piece].dense.as_ref().expect("checked by source");
                let t = if at < t.real() { T::cst(at) } else { t };
                let (start, size) = (dense.starts[k], dense.sizes[k]);
                let theta = quotient(t - T::cst(start), T::cst(size));
                let data = &dense.data[k * dense.width..(k + 1) * dense.width];
                if theta.derivative_free() {
                    // The same numbers as below, without dual arithmetic.
                    let mut plain = r.plain_out.borrow_mut();
                    plain.resize(out.len(), 0.0);
                    (r.dense_plain)(theta.real(), size, data, &mut plain);
                    for (o, &x) in out.iter_mut().zip(plain.iter()) {
                        *o = T::cst(x);
                    }
                    plain_read = true;
                } else {
                    let mut block = r.block.borrow_mut();
                    block.clear();
                    block.extend(data.iter().map(|&x| T::cst(x)));
                    (r.dense)(theta, T::cst(size), &block, out);
                }
                Read::Step {
                    step: r.offsets[piece] + k,
                    theta: theta.real(),
                }
            }
        };
        Some((read, plain_read))
    }
}

impl<F: DdeFunction, T: Scalar> History<T> for ReplayView<'_, F, T> {
    /// As the forward solve's history reads (the same piece, step and
    /// fraction, in the same arithmetic), plus this read's seed. A later
    /// pass's read at a point without derivatives takes the values the
    /// first pass kept.
    fn at(&self, t: T, out: &mut [T]) {
        let r = self.replay;
        let n = out.len();
        let q = r.count.get();
        let kept_at = r.plain_kept.borrow().get(q).copied();
        if t.derivative_free() && kept_at == Some(t.real()) {
            let kept = r.plain_reads.borrow();
            for (o, &x) in out.iter_mut().zip(&kept[q * n..(q + 1) * n]) {
                *o = T::cst(x);
            }
        } else {
            let Some((read, plain_read)) = self.evaluate(t, out) else {
                return;
            };
            let mut log = r.log.borrow_mut();
            if log.len() == q {
                log.push(read);
                r.plain_kept
                    .borrow_mut()
                    .push(if plain_read { t.real() } else { f64::NAN });
                let mut kept = r.plain_reads.borrow_mut();
                kept.extend(out.iter().map(|x| if plain_read { x.real() } else { 0.0 }));
            }
        }
        r.count.set(q + 1);
        let d0 = r.next_seeded(Seeded::Read(q), n);
        for (m, o) in out.iter_mut().enumerate() {
            *o = (r.seed)(*o, d0 + m, r.first.get());
        }
    }
}

/// A replayed step's right-hand side: the delay equation reading a
/// [`Replay`] (found by type, as the forward pieces are).
struct ReplayRhs<'a, F> {
    f: &'a F,
    replay: &'a dyn Any,
}

impl<F: DdeFunction> OdeFunction for ReplayRhs<'_, F> {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        match self.replay.downcast_ref::<Replay<T>>() {
            Some(replay) => {
                let h = ReplayView {
                    f: self.f,
                    p,
                    replay,
                };
                self.f.rhs(du, u, &h, p, t);
                if replay.split {
                    let c = replay.calls.get();
                    replay.calls.set(c + 1);
                    let (first, d0) = (
                        replay.first.get(),
                        replay.next_seeded(Seeded::Call(c), du.len()),
                    );
                    for (m, d) in du.iter_mut().enumerate() {
                        *d = (replay.seed)(*d, d0 + m, first);
                    }
                    if replay.record.get() {
                        replay
                            .stage_u
                            .borrow_mut()
                            .extend(u.iter().map(|x| x.real()));
                        replay.stage_t.borrow_mut().push(t.real());
                    }
                }
            }
            None => du.fill(T::cst(f64::NAN)),
        }
    }
}

/// `pbar += barᵀ ∂h/∂p` for the history read at `t`, eight parameters per
/// pass (`p_l`, `out` are working vectors of `np` and `n` numbers).
fn history_vjp_p<F: DdeFunction>(
    f: &F,
    p: &[f64],
    t: f64,
    bar: &[f64],
    pbar: &mut [f64],
    p_l: &mut [Lanes],
    out: &mut [Lanes],
) {
    for first in (0..p.len()).step_by(LANES) {
        for (j, (l, &x)) in p_l.iter_mut().zip(p).enumerate() {
            *l = seed(x, j, first);
        }
        f.history(out, p_l, Lanes::constant(t));
        let mut acc = [0.0; LANES];
        pull(bar, out, &mut acc);
        for (b, &a) in pbar[first..].iter_mut().zip(&acc) {
            *b += a;
        }
    }
}

/// `dL/dp` by the discrete adjoint (see the module notes).
pub(super) fn gradient<F, M, L>(
    prob: &DdeProblem<F, f64>,
    method: MethodOfSteps<M>,
    opts: &SolveOptions,
    loss: &L,
) -> Result<(f64, Vec<f64>), Error>
where
    F: DdeFunction + Clone,
    M: ErkMethod + OdeMethod,
    L: Loss,
{
    let inner = method.0;
    let (n, np) = (prob.u0.len(), prob.p.len());
    let (sol, pieces) = prob.solve_pieces(method, opts)?;
    if !sol.is_success() {
        return Err(Error::SolveFailed {
            stage: "forward",
            method: sol.method,
            retcode: sol.retcode,
            t: sol.span().1,
        });
    }
    loss.check(sol.len(), n)?;
    let mut dl_du = vec![0.0; sol.u_flat().len()];
    let value = loss.value_and_gradient(&sol.t, sol.u_flat(), n, &mut dl_du);

    let mut steps = Vec::new();
    let mut offsets = Vec::with_capacity(pieces.len());
    for (piece, s) in pieces.iter().enumerate() {
        offsets.push(steps.len());
        let dense = s.dense.as_ref().ok_or(Error::NoDenseOutput)?;
        let count = dense.starts.len();
        let end = s.span().1;
        for index in 0..count {
            let (t, dt) = (dense.starts[index], dense.sizes[index]);
            let t_new = dense.starts.get(index + 1).copied().unwrap_or(end);
            // A step sized to land on a stop took `dt = stop − t` exactly.
            let t_full = std::iter::once(end)
                .chain(opts.tstops.iter().copied())
                .find(|&stop| stop - t == dt)
                .unwrap_or(t + dt);
            steps.push(StepRef {
                piece,
                index,
                t,
                dt,
                t_new,
                t_full,
            });
        }
    }
    let width = inner.dense_width(n);
    let slots = width / n;
    let dense_f64 = M::dense_fn::<f64>();
    let pieces = Rc::new(pieces);
    // The history as the forward solve read it, in plain numbers, for the
    // right-hand side's own parameter products.
    let plain = Replay::<f64>::new(
        &pieces, &offsets, width, dense_f64, dense_f64, seed_none, false,
    );
    let mut vp = vec![0.0; np];
    let split = prob.f.vjp_p(
        &vec![0.0; n],
        &prob.u0,
        &ReplayView {
            f: &prob.f,
            p: &prob.p,
            replay: &plain,
        },
        &prob.p,
        prob.tspan.0,
        &mut vp,
    );
    let replay = Replay::<Lanes>::new(
        &pieces,
        &offsets,
        width,
        M::dense_fn::<Lanes>(),
        dense_f64,
        seed_lane,
        split,
    );
    replay.base.set(if split { n } else { n + np });
    let f = ReplayRhs {
        f: &prob.f,
        replay: &replay,
    };

    // Adjoints: of each step's stored dense numbers (from the reads of the
    // steps after it), of the current step's end state, of p.
    let mut block_bar = vec![0.0; steps.len() * width];
    let mut ubar = vec![0.0; n];
    let mut ubar_start = vec![0.0; n];
    let mut pbar = vec![0.0; np];
    let mut read_bar: Vec<f64> = Vec::new();
    let mut call_bar: Vec<f64> = Vec::new();
    let mut u_l = vec![Lanes::constant(0.0); n];
    let mut p_l = vec![Lanes::constant(0.0); np];
    let mut unew_l = vec![Lanes::constant(0.0); n];
    let mut out_l = vec![Lanes::constant(0.0); n];
    let mut block_l: Vec<Lanes> = Vec::with_capacity(width);
    let mut interps: Vec<(f64, usize)> = Vec::new();
    let identity: Vec<f64> = (0..slots * slots)
        .map(|i| if i / slots == i % slots { 1.0 } else { 0.0 })
        .collect();
    let mut weights = vec![0.0; slots];
    let mut next_save = sol.len();
    let (mass, sparsity) = (MassMatrix::Identity, JacobianSparsity::Dense);
    // One cache for every replay: each pass starts, steps and accepts
    // afresh, which resets what the dense output reads.
    let mut cache = inner.new_cache::<_, Lanes, Dyn>(
        Dyn(n),
        &Setup {
            f: &f,
            u0: &u_l,
            p: &p_l,
            t0: Lanes::constant(prob.tspan.0),
            mass: &mass,
            sparsity: &sparsity,
            opts,
        },
    );
    for g in (0..steps.len()).rev() {
        let step = &steps[g];
        interps.clear();
        while next_save > 0 {
            let ts = sol.t[next_save - 1];
            if ts <= step.t {
                break;
            }
            let gs = &dl_du[(next_save - 1) * n..next_save * n];
            if ts == step.t_new {
                ubar.iter_mut().zip(gs).for_each(|(a, b)| *a += b);
            } else {
                interps.push((ts, next_save - 1));
            }
            next_save -= 1;
        }
        let data = replay.pieces[step.piece]
            .dense
            .as_ref()
            .ok_or(Error::NoDenseOutput)?;
        // The method's stored numbers start with the step's start state.
        let u = &data.data[step.index * width..step.index * width + n];
        replay.readable.set(step.piece);
        replay.new_step();
        ubar_start.fill(0.0);
        // Directions: the start state, the parameters (unless split), then
        // each seeded vector (delayed values read and, split, each call's
        // output) in the order they happen; the first pass counts them.
        let base = replay.base.get();
        let mut calls = 0;
        let mut directions = base;
        let mut first = 0;
        replay.record.set(split);
        while first < directions || first == 0 {
            replay.start_pass(first);
            for (j, (l, &x)) in u_l.iter_mut().zip(u).enumerate() {
                *l = seed(x, j, first);
            }
            for (j, (l, &x)) in p_l.iter_mut().zip(&prob.p).enumerate() {
                *l = if split {
                    Lanes::constant(x)
                } else {
                    seed(x, n + j, first)
                };
            }
            let (tl, dtl) = (Lanes::constant(step.t), Lanes::constant(step.dt));
            let mut rhs = Rhs::new(&f, &p_l);
            // As the integrator ran it: step, accept, saves, dense output.
            inner.start(&mut cache, &mut rhs, tl, &u_l);
            inner.step(&mut cache, &mut rhs, tl, dtl, &u_l, &mut unew_l, None);
            inner.accept(&mut cache, &mut rhs, Lanes::constant(step.t_full), &unew_l);
            let mut acc = [0.0; LANES];
            if step.t_new == step.t_full {
                pull(&ubar, &unew_l, &mut acc);
            } else {
                // Cut at a tracked discontinuity (a time held fixed): the
                // step ends on its interpolant, as the integrator ended it.
                let theta = quotient(Lanes::constant(step.t_new) - tl, dtl);
                inner.interpolate(&mut cache, &mut rhs, tl, dtl, &u_l, theta, &mut out_l);
                pull(&ubar, &out_l, &mut acc);
            }
            for &(ts, idx) in &interps {
                let theta = quotient(Lanes::constant(ts) - tl, dtl);
                inner.interpolate(&mut cache, &mut rhs, tl, dtl, &u_l, theta, &mut out_l);
                pull(&dl_du[idx * n..(idx + 1) * n], &out_l, &mut acc);
            }
            block_l.clear();
            inner.write_dense(&mut cache, &mut rhs, tl, dtl, &u_l, &mut block_l);
            pull(&block_bar[g * width..(g + 1) * width], &block_l, &mut acc);
            if first == 0 {
                calls = replay.calls.get();
                replay.record.set(false);
                directions = base + replay.kinds.borrow().len() * n;
                call_bar.clear();
                call_bar.resize(calls * n, 0.0);
                read_bar.clear();
                read_bar.resize(replay.log.borrow().len() * n, 0.0);
            }
            let kinds = replay.kinds.borrow();
            for (lane, &a) in acc.iter().enumerate() {
                match first + lane {
                    d if d < n => ubar_start[d] = a,
                    d if d < base => pbar[d - n] += a,
                    d if d < directions => {
                        let (e, m) = ((d - base) / n, (d - base) % n);
                        match kinds[e] {
                            Seeded::Call(c) => call_bar[c * n + m] = a,
                            Seeded::Read(q) => read_bar[q * n + m] = a,
                        }
                    }
                    _ => {}
                }
            }
            first += LANES;
        }
        if split {
            // The parameters through each call's own product.
            plain.readable.set(step.piece);
            let (su, st) = (replay.stage_u.borrow(), replay.stage_t.borrow());
            let h = ReplayView {
                f: &prob.f,
                p: &prob.p,
                replay: &plain,
            };
            for (c, &tc) in st.iter().enumerate().take(calls) {
                plain.start_pass(0);
                plain.new_step();
                let (v, uc) = (&call_bar[c * n..(c + 1) * n], &su[c * n..(c + 1) * n]);
                if !prob.f.vjp_p(v, uc, &h, &prob.p, tc, &mut vp) {
                    return Err(Error::Unsupported(
                        "vjp_p answered at the start of the span but not later".into(),
                    ));
                }
                pbar.iter_mut().zip(&vp).for_each(|(a, b)| *a += b);
            }
        }
        // Each read's adjoint into the stored numbers it was read from: the
        // dense output is linear in them, one weight per stored slot.
        // A history read's goes to the parameters the history depends on.
        for (q, read) in replay.log.borrow().iter().enumerate() {
            let bar = &read_bar[q * n..(q + 1) * n];
            let (j, theta) = match *read {
                Read::Step { step, theta } => (step, theta),
                Read::History { t } => {
                    history_vjp_p(&prob.f, &prob.p, t, bar, &mut pbar, &mut p_l, &mut out_l);
                    continue;
                }
            };
            // Slot s's weight is the output of data whose slot s is e_s.
            dense_f64(theta, steps[j].dt, &identity, &mut weights);
            let target = &mut block_bar[j * width..(j + 1) * width];
            for (s, &w) in weights.iter().enumerate() {
                for (t, &b) in target[s * n..(s + 1) * n].iter_mut().zip(bar) {
                    *t += w * b;
                }
            }
        }
        ubar.copy_from_slice(&ubar_start);
    }
    Ok((value, pbar))
}
