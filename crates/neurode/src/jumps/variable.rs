//! Jumps whose rates change between jumps (DifferentialEquations.jl's
//! `VariableRateJump`): the ODE is solved together with its integrated
//! total rate `Λ' = Σ_i λ_i(u, t)`, and the next jump happens when `Λ`
//! reaches an exponential draw — located as an event on the dense output,
//! so the jump times are exact to the solver's tolerance.

use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::Jump;
use crate::error::Error;
use crate::methods::OdeMethod;
use crate::problem::{Crossing, EventAction, Events, OdeFunction, OdeProblem};
use crate::scalar::Scalar;
use crate::solve::{EventKind, EventRecord, ReturnCode, Solution, SolveOptions};

/// The ODE with one more state: the total jump rate integrated since the
/// last jump. Rates are read in `f64` (no derivatives flow through them).
struct WithIntensity<'a, F> {
    f: &'a F,
    jumps: &'a [Box<dyn Jump>],
    real: std::cell::RefCell<Vec<f64>>,
}

impl<F: OdeFunction> OdeFunction for WithIntensity<'_, F> {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        let n = u.len() - 1;
        self.f.rhs(&mut du[..n], &u[..n], p, t);
        let mut real = self.real.borrow_mut();
        real.clear();
        real.extend(u[..n].iter().map(|x| x.real()));
        let total: f64 = self.jumps.iter().map(|j| j.rate(&real, t.real())).sum();
        du[n] = T::cst(total);
    }
}

/// Stops the solve when the integrated rate (the last state) reaches `level`.
struct Threshold {
    level: f64,
}

impl Events for Threshold {
    fn count(&self) -> usize {
        1
    }
    fn conditions<T: Scalar>(&self, out: &mut [T], u: &[T], _p: &[T], _t: T) {
        out[0] = u[u.len() - 1] - T::cst(self.level);
    }
    fn crossing(&self, _i: usize) -> Crossing {
        Crossing::Up
    }
    fn affect<T: Scalar>(&self, _i: usize, _u: &mut [T], _p: &[T], _t: T) -> EventAction {
        EventAction::Terminate
    }
}

/// Appends a point unless it repeats the last one (pieces meet at jumps).
fn push_new(out: &mut Solution, t: f64, u: &[f64]) {
    let n = u.len();
    let repeats = out.t.last() == Some(&t) && out.u_flat()[out.u_flat().len() - n..] == *u;
    if !repeats {
        out.push(t, u);
    }
}

impl<F: OdeFunction> OdeProblem<F> {
    /// Jumps with rates that vary between jumps (with the state or with
    /// time), coupled to this ODE; `seed` fixes the jump times and choices.
    /// Saves follow `opts.saveat`; jumps are recorded as
    /// [`EventKind::Jump`].
    pub fn solve_with_variable_jumps<M: OdeMethod + Clone>(
        &self,
        method: M,
        opts: &SolveOptions,
        jumps: &[Box<dyn Jump>],
        seed: u64,
    ) -> Result<Solution, Error> {
        self.validate()?;
        let (t0, t1) = self.tspan();
        let n = self.len();
        let plan = super::PieceSaves::new(n, (t0, t1), opts, jumps)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut out = Solution::new(n, "ODE with variable-rate jumps", t0);
        let mut u = self.u0().to_vec();
        let mut t = t0;
        let mut rates = vec![0.0; jumps.len()];
        let rhs = WithIntensity {
            f: self.f(),
            jumps,
            real: std::cell::RefCell::new(Vec::with_capacity(n)),
        };
        let retcode = loop {
            let level: f64 = Exp1.sample(&mut rng);
            let mut start = u.clone();
            start.push(0.0);
            let piece = OdeProblem::new(&rhs, start, (t, t1), self.p().to_vec())?
                .with_events(Threshold { level });
            let sol = piece.solve(method.clone(), &plan.options(opts, t, t1))?;
            for (ts, x) in sol.iter() {
                push_new(&mut out, ts, &x[..n]);
            }
            out.stats.f_evals += sol.stats.f_evals;
            out.stats.accepted += sol.stats.accepted;
            out.stats.rejected += sol.stats.rejected;
            u.copy_from_slice(&sol.u_end()[..n]);
            t = sol.span().1;
            if sol.retcode != ReturnCode::Terminated {
                break sol.retcode;
            }
            // Which jump, in proportion to the rates at the jump time.
            for (r, j) in rates.iter_mut().zip(jumps) {
                *r = j.rate(&u, t);
            }
            let total: f64 = rates.iter().sum();
            if !(total.is_finite() && total > 0.0) {
                break ReturnCode::Unstable;
            }
            let which = super::choose_jump(&rates, total, &mut rng);
            jumps[which].affect(&mut u, t);
            out.events.push(EventRecord {
                t,
                kind: EventKind::Jump(which),
            });
            if plan.every {
                out.push(t, &u);
            }
        };
        out.retcode = retcode;
        out.reached = (t0, t);
        out.end = u;
        Ok(out)
    }
}
