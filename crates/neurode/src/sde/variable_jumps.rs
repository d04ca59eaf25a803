//! Jump diffusions whose jump rates change with the state and time
//! (DifferentialEquations.jl's `VariableRateJump` on an SDE): the total rate
//! is integrated along each step (trapezoid rule) and a jump fires when the
//! integral reaches an exponential draw. The step that crosses is cut at
//! the crossing, located on the rate's linear interpolant, and run again
//! over the shortened interval with the Brownian increments split by the
//! bridge (the rest kept for the steps after), so the path stays one
//! Brownian motion whatever the jump times.

use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::adaptive::{BridgeStack, SLIVER};
use super::brownian::i10_from;
use super::methods::{SdeMethod, Work};
use super::problem::{SdeFunction, SdeProblem};
use crate::error::Error;
use crate::jumps::{Jump, PieceSaves, choose_jump};
use crate::solve::{EventKind, EventRecord, ReturnCode, Solution, SolveOptions, Stepping};

/// The total rate of `jumps` at `(u, t)`.
fn total_rate(jumps: &[Box<dyn Jump>], u: &[f64], t: f64) -> f64 {
    jumps.iter().map(|j| j.rate(u, t)).sum()
}

/// The fraction `θ ∈ (0, 1]` of a step at which the integrated rate,
/// `acc + h (r0 θ + (r1 − r0) θ²/2)` with the rate linear from `r0` to
/// `r1`, reaches `level` (which the whole step reaches or passes).
fn crossing_fraction(acc: f64, level: f64, h: f64, r0: f64, r1: f64) -> f64 {
    let need = (level - acc) / h;
    let a = 0.5 * (r1 - r0);
    let theta = if a.abs() <= 1e-12 * (r0.abs() + r1.abs()) {
        need / r0
    } else {
        // a θ² + r0 θ − need = 0, the root in (0, 1], in the form that does
        // not cancel.
        2.0 * need / (r0 + (r0 * r0 + 4.0 * a * need).max(0.0).sqrt())
    };
    if theta.is_finite() {
        theta.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

impl<F: SdeFunction> SdeProblem<F, f64> {
    /// A jump diffusion with rates that vary between jumps (with the state
    /// or with time): the SDE in fixed steps of `method` (cut at each jump
    /// time), `seed` fixing the Brownian path, the jump times and choices.
    /// Saves follow `opts.saveat` (a grid or times, stepped onto exactly;
    /// `EveryStep` keeps every step and the state after each jump); jumps
    /// are recorded as [`EventKind::Jump`].
    pub fn solve_with_variable_jumps<M: SdeMethod>(
        &self,
        method: M,
        opts: &SolveOptions,
        jumps: &[Box<dyn Jump>],
        seed: u64,
    ) -> Result<Solution, Error> {
        self.validate()?;
        let (n, shape) = (self.len(), self.f.noise());
        let (t0, t1) = self.tspan;
        let PieceSaves { every, saves, .. } = PieceSaves::new(n, (t0, t1), opts, jumps)?;
        if !M::supports(shape) {
            return Err(Error::Unsupported(format!(
                "{} with {shape:?} noise",
                M::NAME
            )));
        }
        let Stepping::Fixed(dt) = opts.stepping else {
            return Err(Error::Unsupported(
                "variable-rate jumps on an SDE take fixed steps (SolveOptions::fixed_dt)".into(),
            ));
        };
        let m = shape.processes(n);
        let mut noise = BridgeStack::new(m, seed ^ 0x5DEE_CE66_D1CE_5EED);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut work = Work::<f64>::new(n, self.p.len(), shape);
        let mut sol = Solution::new(n, M::NAME, t0);
        let (mut u, mut u_new) = (self.u0.clone(), self.u0.clone());
        let mut t = t0;
        let mut next_save = 0;
        if every || saves.first() == Some(&t0) {
            sol.push(t, &u);
            next_save += usize::from(!every);
        }
        let mut rates = vec![0.0; jumps.len()];
        let mut level: f64 = Exp1.sample(&mut rng);
        let mut integrated = 0.0;
        let mut rate = total_rate(jumps, &u, t);
        let mut iters = 0;
        let retcode = loop {
            let target = saves
                .get(next_save)
                .copied()
                .filter(|_| !every)
                .unwrap_or(t1);
            let dist = target - t;
            if dist <= 0.0 {
                break ReturnCode::Success;
            }
            if iters >= opts.maxiters {
                break ReturnCode::MaxIters;
            }
            iters += 1;
            let mut chunk = noise.take(if dt * (1.0 + SLIVER) >= dist {
                dist
            } else {
                dt
            });
            let run = |chunk: &super::adaptive::Chunk, u_new: &mut [f64], work: &mut Work<f64>| {
                for j in 0..m {
                    work.dw[j] = chunk.dw[j];
                    work.i10[j] = i10_from(chunk.h, chunk.dw[j], chunk.dz[j]);
                }
                method.step(&self.f, &self.p, t, chunk.h, &u, u_new, work);
            };
            run(&chunk, &mut u_new, &mut work);
            let rate_new = total_rate(jumps, &u_new, t + chunk.h);
            let gained = 0.5 * chunk.h * (rate + rate_new);
            let jumped = integrated + gained >= level;
            if jumped {
                // Cut the step where the integrated rate reaches the level.
                let theta = crossing_fraction(integrated, level, chunk.h, rate, rate_new);
                if theta < 1.0 - SLIVER {
                    let h1 = (theta * chunk.h).max(f64::EPSILON * t.abs().max(1.0));
                    chunk = noise.reject(chunk, h1);
                    run(&chunk, &mut u_new, &mut work);
                }
            } else {
                integrated += gained;
                rate = rate_new;
            }
            if !u_new.iter().all(|x| x.is_finite()) {
                break ReturnCode::Unstable;
            }
            sol.stats.accepted += 1;
            std::mem::swap(&mut u, &mut u_new);
            let reached = t + chunk.h;
            let on_target = (reached - target).abs() <= SLIVER * chunk.h.max(f64::EPSILON);
            noise.recycle(chunk);
            t = if on_target { target } else { reached };
            if jumped {
                for (r, j) in rates.iter_mut().zip(jumps) {
                    *r = j.rate(&u, t);
                }
                let total: f64 = rates.iter().sum();
                if total.is_finite() && total > 0.0 {
                    let which = choose_jump(&rates, total, &mut rng);
                    jumps[which].affect(&mut u, t);
                    sol.events.push(EventRecord {
                        t,
                        kind: EventKind::Jump(which),
                    });
                }
                level = Exp1.sample(&mut rng);
                integrated = 0.0;
                rate = total_rate(jumps, &u, t);
            }
            if every {
                sol.push(t, &u);
            } else if on_target && next_save < saves.len() && target == saves[next_save] {
                sol.push(t, &u);
                next_save += 1;
            }
            if on_target && target == t1 && (every || next_save >= saves.len()) {
                break ReturnCode::Success;
            }
        };
        sol.retcode = retcode;
        sol.stats.f_evals = work.drift_evals;
        sol.reached = (t0, t);
        sol.end = u;
        Ok(sol)
    }
}
