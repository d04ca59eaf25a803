//! The discrete adjoint of the method of steps: the exact gradient of the
//! computed delay solution, step sizes held fixed.
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
//! dual number, and the interpolant's slope carries it.

use std::any::Any;
use std::cell::{Cell, RefCell};

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
}

/// A delayed read made while a step was replayed: from which step's dense
/// output (global index), at which fraction of it.
#[derive(Clone, Copy, Debug)]
struct Read {
    step: usize,
    theta: f64,
}

/// What a replayed step's right-hand side reads its delayed values from:
/// the forward solve's pieces, and the bookkeeping that seeds each read.
/// Owned (`'static`), so the right-hand side can find it by type.
struct Replay<T> {
    pieces: Vec<Solution<f64>>,
    /// Global index of each piece's first step.
    offsets: Vec<usize>,
    /// Pieces the replayed step may read (those before its own).
    readable: Cell<usize>,
    /// Direction of the first read's first component.
    base: usize,
    /// The current pass's first direction.
    first: Cell<usize>,
    /// Reads so far in this pass.
    count: Cell<usize>,
    /// The reads of the step being replayed, in order.
    log: RefCell<Vec<Read>>,
    /// The method's dense output, in `T`.
    dense: DenseFn<T>,
    /// A stored step's numbers lifted to `T`.
    block: RefCell<Vec<T>>,
    /// Adds direction `d` (of the pass starting at `first`) to a number.
    seed: fn(T, usize, usize) -> T,
}

fn seed_lane(x: Lanes, d: usize, first: usize) -> Lanes {
    x + seed(0.0, d, first)
}

/// The history a replayed step sees.
struct ReplayView<'a, F, T> {
    f: &'a F,
    p: &'a [T],
    replay: &'a Replay<T>,
}

impl<F: DdeFunction, T: Scalar> History<T> for ReplayView<'_, F, T> {
    /// As the forward solve's history reads (the same piece, step and
    /// fraction, in the same arithmetic), plus this read's seed.
    fn at(&self, t: T, out: &mut [T]) {
        let r = self.replay;
        let pieces = &r.pieces[..r.readable.get()];
        let (idx, k, at) = match source(pieces, t.real()) {
            Source::History => return self.f.history(out, self.p, t),
            Source::Unsolved => {
                out.fill(T::cst(f64::NAN));
                return;
            }
            Source::Step { piece, step, t } => (piece, step, t),
        };
        let dense = pieces[idx].dense.as_ref().expect("checked by source");
        let t = if at < t.real() { T::cst(at) } else { t };
        let (start, size) = (dense.starts[k], dense.sizes[k]);
        let theta = quotient(t - T::cst(start), T::cst(size));
        {
            let mut block = r.block.borrow_mut();
            block.clear();
            let data = &dense.data[k * dense.width..(k + 1) * dense.width];
            block.extend(data.iter().map(|&x| T::cst(x)));
            (r.dense)(theta, T::cst(size), &block, out);
        }
        let q = r.count.get();
        r.count.set(q + 1);
        let mut log = r.log.borrow_mut();
        if log.len() == q {
            log.push(Read {
                step: r.offsets[idx] + k,
                theta: theta.real(),
            });
        }
        let n = out.len();
        for (m, o) in out.iter_mut().enumerate() {
            *o = (r.seed)(*o, r.base + q * n + m, r.first.get());
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
            }
            None => du.fill(T::cst(f64::NAN)),
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
    if prob.f.dependent_lag_count() > 0 {
        // Steps cut at tracked discontinuities restart from the interpolant,
        // which the replay here does not retrace.
        return Err(Error::Unsupported(
            "the discrete adjoint of a delay problem that tracks state-dependent \
             discontinuities (use DdeSensitivity::ForwardMode)"
                .into(),
        ));
    }
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
        for index in 0..count {
            steps.push(StepRef {
                piece,
                index,
                t: dense.starts[index],
                dt: dense.sizes[index],
                t_new: dense.starts.get(index + 1).copied().unwrap_or(s.span().1),
            });
        }
    }
    let width = inner.dense_width(n);
    let slots = width / n;
    let dense_f64 = M::dense_fn::<f64>();
    let replay = Replay::<Lanes> {
        pieces,
        offsets,
        readable: Cell::new(0),
        base: n + np,
        first: Cell::new(0),
        count: Cell::new(0),
        log: RefCell::new(Vec::new()),
        dense: M::dense_fn::<Lanes>(),
        block: RefCell::new(Vec::with_capacity(width)),
        seed: seed_lane,
    };
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
    let mut u_l = vec![Lanes::constant(0.0); n];
    let mut p_l = vec![Lanes::constant(0.0); np];
    let mut unew_l = vec![Lanes::constant(0.0); n];
    let mut out_l = vec![Lanes::constant(0.0); n];
    let mut block_l: Vec<Lanes> = Vec::with_capacity(width);
    let mut interps: Vec<(f64, usize)> = Vec::new();
    let mut unit = vec![0.0; slots];
    let mut weights = vec![0.0; slots];
    let mut next_save = sol.len();
    let (mass, sparsity) = (MassMatrix::Identity, JacobianSparsity::Dense);
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
        replay.log.borrow_mut().clear();
        ubar_start.fill(0.0);
        let mut directions = n + np;
        let mut first = 0;
        while first < directions {
            replay.first.set(first);
            replay.count.set(0);
            for (j, (l, &x)) in u_l.iter_mut().zip(u).enumerate() {
                *l = seed(x, j, first);
            }
            for (j, (l, &x)) in p_l.iter_mut().zip(&prob.p).enumerate() {
                *l = seed(x, n + j, first);
            }
            let (tl, dtl) = (Lanes::constant(step.t), Lanes::constant(step.dt));
            let setup = Setup {
                f: &f,
                u0: &u_l,
                p: &p_l,
                t0: tl,
                mass: &mass,
                sparsity: &sparsity,
                opts,
            };
            let mut cache = inner.new_cache::<_, Lanes, Dyn>(Dyn(n), &setup);
            let mut rhs = Rhs::new(&f, &p_l);
            // As the integrator ran it: step, accept, saves, dense output.
            inner.start(&mut cache, &mut rhs, tl, &u_l);
            inner.step(&mut cache, &mut rhs, tl, dtl, &u_l, &mut unew_l, None);
            inner.accept(&mut cache, &mut rhs, Lanes::constant(step.t_new), &unew_l);
            let mut acc = [0.0; LANES];
            pull(&ubar, &unew_l, &mut acc);
            for &(ts, idx) in &interps {
                let theta = quotient(Lanes::constant(ts) - tl, dtl);
                inner.interpolate(&mut cache, &mut rhs, tl, dtl, &u_l, theta, &mut out_l);
                pull(&dl_du[idx * n..(idx + 1) * n], &out_l, &mut acc);
            }
            block_l.clear();
            inner.write_dense(&mut cache, &mut rhs, tl, dtl, &u_l, &mut block_l);
            pull(&block_bar[g * width..(g + 1) * width], &block_l, &mut acc);
            if first == 0 {
                // The first pass has seen every read.
                directions = n + np + replay.log.borrow().len() * n;
                read_bar.clear();
                read_bar.resize(directions - n - np, 0.0);
            }
            for (lane, &a) in acc.iter().enumerate() {
                match first + lane {
                    d if d < n => ubar_start[d] = a,
                    d if d < n + np => pbar[d - n] += a,
                    d if d < directions => read_bar[d - n - np] = a,
                    _ => {}
                }
            }
            first += LANES;
        }
        // Each read's adjoint into the stored numbers it was read from: the
        // dense output is linear in them, with weights found from unit data.
        for (q, read) in replay.log.borrow().iter().enumerate() {
            let j = read.step;
            let dt = steps[j].dt;
            for s in 0..slots {
                unit.fill(0.0);
                unit[s] = 1.0;
                let mut w = [0.0];
                dense_f64(read.theta, dt, &unit, &mut w);
                weights[s] = w[0];
            }
            let bar = &read_bar[q * n..(q + 1) * n];
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
