//! Jump processes: states that change by discrete events at random times
//! with state-dependent rates, simulated exactly by Gillespie's direct
//! method (the stochastic simulation algorithm).
//!
//! ```
//! use neurode::jumps::{JumpProblem, MassActionJump};
//! use neurode::sde::EnsembleOptions;
//!
//! // Birth–death: ∅ → X at rate 10, X → ∅ at rate 1 per molecule.
//! let prob = JumpProblem::new(
//!     vec![0.0],
//!     (0.0, 5.0),
//!     vec![
//!         Box::new(MassActionJump::new(10.0, vec![], vec![(0, 1.0)])),
//!         Box::new(MassActionJump::new(1.0, vec![(0, 1)], vec![(0, -1.0)])),
//!     ],
//! )
//! .unwrap();
//! let path = prob.solve(&[5.0], 42).unwrap();
//! assert_eq!(path.t, vec![5.0]);
//! assert!(path.u(0)[0] >= 0.0);
//! ```

mod variable;

use rand::SeedableRng;
use rand_distr::{Distribution, Exp1, Open01};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::{Error, check_finite};
use crate::methods::OdeMethod;
use crate::problem::{OdeFunction, OdeProblem};
use crate::sde::{Ensemble, EnsembleOptions, SdeFunction, SdeMethod, SdeProblem};
use crate::solve::{ReturnCode, Solution};
use crate::solve::{SaveAt, SolveOptions};

/// One kind of jump: how often it happens in a state, and what it does.
pub trait Jump: Send + Sync {
    /// Its rate (propensity) at `(u, t)`; non-negative.
    fn rate(&self, u: &[f64], t: f64) -> f64;
    /// Changes the state when it fires.
    fn affect(&self, u: &mut [f64], t: f64);
    /// Checks the jump fits a state of `n` numbers (the default accepts
    /// any); problems call it before solving.
    fn check(&self, n: usize) -> Result<(), Error> {
        let _ = n;
        Ok(())
    }
}

/// Every jump checked against a state of `n` numbers.
fn check_jumps(jumps: &[Box<dyn Jump>], n: usize) -> Result<(), Error> {
    jumps.iter().try_for_each(|j| j.check(n))
}

/// A jump given by two functions: the rate and the effect.
pub struct ConstantRateJump<R, A> {
    rate: R,
    affect: A,
}

impl<R, A> ConstantRateJump<R, A>
where
    R: Fn(&[f64], f64) -> f64 + Send + Sync,
    A: Fn(&mut [f64], f64) + Send + Sync,
{
    /// A jump with rate `rate(u, t)` (constant between jumps) and effect
    /// `affect(u, t)`.
    pub fn new(rate: R, affect: A) -> Self {
        Self { rate, affect }
    }
}

impl<R, A> Jump for ConstantRateJump<R, A>
where
    R: Fn(&[f64], f64) -> f64 + Send + Sync,
    A: Fn(&mut [f64], f64) + Send + Sync,
{
    fn rate(&self, u: &[f64], t: f64) -> f64 {
        (self.rate)(u, t)
    }
    fn affect(&self, u: &mut [f64], t: f64) {
        (self.affect)(u, t)
    }
}

/// A mass-action reaction: rate `k · Π_i C(u_i, n_i)·n_i!` over the
/// reactants `(species, count)` (so `2X → …` has rate `k·X(X−1)`), and a
/// net change per species when it fires.
#[derive(Clone, Debug)]
pub struct MassActionJump {
    k: f64,
    reactants: Vec<(usize, u32)>,
    net: Vec<(usize, f64)>,
}

impl MassActionJump {
    /// Rate constant `k`, reactant stoichiometry, net stoichiometry.
    pub fn new(k: f64, reactants: Vec<(usize, u32)>, net: Vec<(usize, f64)>) -> Self {
        Self { k, reactants, net }
    }
}

impl Jump for MassActionJump {
    fn rate(&self, u: &[f64], _t: f64) -> f64 {
        self.reactants.iter().fold(self.k, |r, &(i, n)| {
            (0..n).fold(r, |r, m| r * (u[i] - f64::from(m)).max(0.0))
        })
    }
    fn affect(&self, u: &mut [f64], _t: f64) {
        for &(i, d) in &self.net {
            u[i] += d;
        }
    }
    fn check(&self, n: usize) -> Result<(), Error> {
        let species = self
            .reactants
            .iter()
            .map(|r| r.0)
            .chain(self.net.iter().map(|r| r.0));
        match species.max() {
            Some(i) if i >= n => Err(Error::WrongLength {
                what: "state (a mass-action jump names a species past its end)",
                got: n,
                expected: i + 1,
            }),
            _ if !self.k.is_finite() || self.k < 0.0 => Err(Error::NonFinite {
                what: "mass-action rate constant (must be finite and non-negative)",
                index: 0,
                value: self.k,
            }),
            _ => Ok(()),
        }
    }
}

/// A pure jump process: initial state, span and the jumps.
pub struct JumpProblem {
    u0: Vec<f64>,
    tspan: (f64, f64),
    jumps: Vec<Box<dyn Jump>>,
    species: usize,
}

impl JumpProblem {
    /// Checks the state is finite, the span forward and non-empty, there is
    /// a jump, and mass-action indices are in range.
    pub fn new(u0: Vec<f64>, tspan: (f64, f64), jumps: Vec<Box<dyn Jump>>) -> Result<Self, Error> {
        if u0.is_empty() {
            return Err(Error::EmptyState);
        }
        check_finite("u0", &u0)?;
        check_finite("tspan", &[tspan.0, tspan.1])?;
        if tspan.1 <= tspan.0 {
            return Err(Error::Unsupported(
                "a jump process runs forwards: tspan.1 > tspan.0".into(),
            ));
        }
        if jumps.is_empty() {
            return Err(Error::Unsupported(
                "a jump problem needs at least one jump".into(),
            ));
        }
        let species = u0.len();
        check_jumps(&jumps, species)?;
        Ok(Self {
            u0,
            tspan,
            jumps,
            species,
        })
    }

    /// One path by Gillespie's direct method, the state recorded at `saveat`
    /// (the value just after any jump at that time). A negative or
    /// non-finite rate ends the path with `ReturnCode::Unstable`.
    pub fn solve(&self, saveat: &[f64], seed: u64) -> Result<Solution, Error> {
        check_finite("saveat", saveat)?;
        let mut saves: Vec<f64> = saveat
            .iter()
            .copied()
            .filter(|&s| s >= self.tspan.0 && s <= self.tspan.1)
            .collect();
        saves.sort_by(f64::total_cmp);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut sol = Solution::new(self.species, "SSADirect", self.tspan.0);
        sol.reserve(saves.len());
        let mut rates = vec![0.0; self.jumps.len()];
        let mut u = self.u0.clone();
        let mut t = self.tspan.0;
        let mut next = 0;
        let mut jumps = 0;
        let retcode = loop {
            let jump = match next_jump(&self.jumps, &mut rates, &u, t, &mut rng) {
                Ok(jump) => jump,
                Err(code) => break code,
            };
            let t_jump = jump.map_or(f64::INFINITY, |(wait, _)| t + wait);
            // Saves before the next jump see the current state.
            while next < saves.len() && saves[next] < t_jump {
                sol.push(saves[next], &u);
                next += 1;
            }
            let Some((_, which)) = jump.filter(|_| t_jump <= self.tspan.1) else {
                t = self.tspan.1;
                break ReturnCode::Success;
            };
            t = t_jump;
            self.jumps[which].affect(&mut u, t);
            jumps += 1;
        };
        if retcode == ReturnCode::Success {
            for &s in &saves[next..] {
                sol.push(s, &u);
            }
        }
        sol.retcode = retcode;
        sol.stats.accepted = jumps;
        sol.reached = (self.tspan.0, t);
        sol.end = u;
        Ok(sol)
    }

    /// Many paths (in parallel with the `parallel` feature), path `i` from
    /// seed `seed + i`, recorded at `saveat`.
    pub fn ensemble(&self, saveat: &[f64], eopts: EnsembleOptions) -> Result<Ensemble, Error> {
        let first = self.solve(saveat, eopts.seed)?;
        let t = first.t.clone();
        let run = |i: usize| -> Option<Vec<f64>> {
            let sol = if i == 0 {
                first.clone()
            } else {
                self.solve(saveat, eopts.seed.wrapping_add(i as u64)).ok()?
            };
            (sol.is_success() && sol.t.len() == t.len()).then(|| sol.u_flat().to_vec())
        };
        let results = crate::sde::run_paths(eopts.trajectories, run);
        Ok(Ensemble::gather(t, self.species, results))
    }
}

/// Draws the next jump from `rates` (filled at `(u, t)`): the waiting time
/// and which jump, or `None` when no jump can happen.
fn next_jump(
    jumps: &[Box<dyn Jump>],
    rates: &mut [f64],
    u: &[f64],
    t: f64,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<Option<(f64, usize)>, ReturnCode> {
    for (r, j) in rates.iter_mut().zip(jumps) {
        *r = j.rate(u, t);
    }
    if rates.iter().any(|r| !(r.is_finite() && *r >= 0.0)) {
        return Err(ReturnCode::Unstable);
    }
    let total: f64 = rates.iter().sum();
    if total <= 0.0 {
        return Ok(None);
    }
    let e: f64 = Exp1.sample(rng);
    Ok(Some((e / total, choose_jump(rates, total, rng))))
}

/// Which jump fires: index `i` with probability `rates[i] / total`.
pub(crate) fn choose_jump(rates: &[f64], total: f64, rng: &mut Xoshiro256PlusPlus) -> usize {
    let x: f64 = Open01.sample(rng);
    let target = x * total;
    let mut acc = 0.0;
    for (i, &r) in rates.iter().enumerate() {
        acc += r;
        if acc >= target && r > 0.0 {
            return i;
        }
    }
    rates.len() - 1
}

/// What every solve that flows between jumps checks first, and how it
/// saves: the whole span's save grid, handed out piece by piece.
pub(crate) struct PieceSaves {
    t0: f64,
    /// Every step is saved (`SaveAt::EveryStep`).
    pub(crate) every: bool,
    /// Otherwise, these times.
    pub(crate) saves: Vec<f64>,
}

impl PieceSaves {
    /// Checks a forward span, the options and the jumps for `n` states.
    pub(crate) fn new(
        n: usize,
        (t0, t1): (f64, f64),
        opts: &SolveOptions,
        jumps: &[Box<dyn Jump>],
    ) -> Result<Self, Error> {
        if t1 <= t0 {
            return Err(Error::Unsupported(
                "a jump process runs forwards: tspan.1 > tspan.0".into(),
            ));
        }
        opts.validate(n, t0, t1)?;
        check_jumps(jumps, n)?;
        Ok(Self {
            t0,
            every: matches!(opts.saveat, SaveAt::EveryStep),
            saves: crate::solve::save_grid(&opts.saveat, t0, t1, 1.0),
        })
    }

    /// `opts` for the piece `(a, b]` (`[t0, b]` for the first): its save
    /// times, or every step.
    fn options(&self, opts: &SolveOptions, a: f64, b: f64) -> SolveOptions {
        if self.every {
            return opts.clone();
        }
        let first = a == self.t0;
        let inside: Vec<f64> = self
            .saves
            .iter()
            .copied()
            .filter(|&s| (s > a || (first && s == a)) && s <= b)
            .collect();
        opts.clone().saveat(inside)
    }
}

/// The piecewise loop of a process that flows between jumps:
/// `flow(u, t, t_next, opts, piece)` solves one piece with the options for
/// it; between pieces a jump drawn from the rates at the piece's start
/// changes the state.
fn flow_with_jumps(
    name: &'static str,
    u0: &[f64],
    (t0, t1): (f64, f64),
    opts: &SolveOptions,
    jumps: &[Box<dyn Jump>],
    seed: u64,
    mut flow: impl FnMut(&[f64], f64, f64, &SolveOptions, u64) -> Result<Solution, Error>,
) -> Result<Solution, Error> {
    let n = u0.len();
    let plan = PieceSaves::new(n, (t0, t1), opts, jumps)?;
    let every = plan.every;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut rates = vec![0.0; jumps.len()];
    let mut out = Solution::new(n, name, t0);
    let mut u = u0.to_vec();
    let mut t = t0;
    let mut piece_index = 0;
    let retcode = loop {
        let first = piece_index == 0;
        let next = match next_jump(jumps, &mut rates, &u, t, &mut rng) {
            Ok(next) => next,
            Err(code) => break code,
        };
        let t_next = next.map_or(t1, |(wait, _)| (t + wait).min(t1));
        if t_next > t {
            let sol = flow(&u, t, t_next, &plan.options(opts, t, t_next), piece_index)?;
            for (i, (ts, x)) in sol.iter().enumerate() {
                if every && !first && i == 0 {
                    continue;
                }
                out.push(ts, x);
            }
            out.stats.f_evals += sol.stats.f_evals;
            out.stats.accepted += sol.stats.accepted;
            out.stats.rejected += sol.stats.rejected;
            u = sol.u_end().to_vec();
            if !sol.is_success() {
                t = sol.span().1;
                break sol.retcode;
            }
        } else if first && !every && plan.saves.first() == Some(&t0) {
            out.push(t0, &u);
        }
        piece_index += 1;
        t = t_next;
        match next {
            Some((_, which)) if t < t1 => {
                jumps[which].affect(&mut u, t);
                out.events.push(crate::EventRecord {
                    t,
                    kind: crate::EventKind::Jump(which),
                });
                if every {
                    out.push(t, &u);
                }
            }
            _ => break ReturnCode::Success,
        }
    };
    out.retcode = retcode;
    out.reached = (t0, t);
    out.end = u;
    Ok(out)
}

impl<F: OdeFunction + Clone> OdeProblem<F> {
    /// A jump–ODE hybrid (a piecewise-deterministic process): the ODE flows
    /// between jumps, whose rates are taken as constant between jumps
    /// (DifferentialEquations.jl's `ConstantRateJump` semantics); at each
    /// jump time drawn from them the solve stops, the jump changes the
    /// state, and the ODE restarts. Saves follow `opts.saveat` (a grid or
    /// times; `EveryStep` keeps every step of every piece).
    pub fn solve_with_jumps<M: OdeMethod + Clone>(
        &self,
        method: M,
        opts: &SolveOptions,
        jumps: &[Box<dyn Jump>],
        seed: u64,
    ) -> Result<Solution, Error> {
        self.validate()?;
        flow_with_jumps(
            "ODE with jumps",
            self.u0(),
            self.tspan(),
            opts,
            jumps,
            seed,
            |u, a, b, o, _| {
                let piece = self.clone().with_u0(u.to_vec())?.with_tspan((a, b))?;
                piece.solve(method.clone(), o)
            },
        )
    }
}

impl<G: SdeFunction + Clone> SdeProblem<G> {
    /// A jump diffusion: the SDE between jumps (fixed steps of `method`,
    /// the Brownian path of each piece drawn from `seed` and the piece's
    /// index), constant-rate jumps between pieces as in
    /// [`OdeProblem::solve_with_jumps`].
    pub fn solve_with_jumps<M: SdeMethod>(
        &self,
        method: M,
        opts: &SolveOptions,
        jumps: &[Box<dyn Jump>],
        seed: u64,
    ) -> Result<Solution, Error> {
        self.validate()?;
        let noise_seed = seed ^ 0x5DEE_CE66_D1CE_5EED;
        flow_with_jumps(
            "SDE with jumps",
            self.u0(),
            self.tspan(),
            opts,
            jumps,
            seed,
            |u, a, b, o, k| {
                let piece =
                    SdeProblem::new(self.f().clone(), u.to_vec(), (a, b), self.p().to_vec())?;
                piece.solve(method, o, noise_seed.wrapping_add(k))
            },
        )
    }
}
