//! The discrete adjoint of a solve with callbacks. Each accepted step is run
//! again through the integrator itself, from a checkpoint of its start, in
//! vector duals seeded in the start state, the parameters and the start
//! time (which moves with `p` once an event has fired): the event search
//! (with its event-time derivative), the cut step, the affect and the
//! restart are differentiated exactly as they ran, and the adjoint is pulled
//! back through each step's Jacobian, eight directions per pass.
//!
//! The replay must retrace the forward solve, so methods that carry
//! Jacobians or factorisations from step to step (SDIRK, BDF) are refused,
//! and each replayed step is checked against the recorded one (same saves,
//! same end state to a thousandth of the tolerance).

use super::lanes::{LANES, Lanes, pull, seed};
use super::{Gradient, GradientStats, Loss, ParamMapJacobian, check_success};
use crate::error::Error;
use crate::methods::OdeMethod;
use crate::problem::{OdeFunction, OdeProblem, Role};
use crate::solve::{
    AcceptedStep, Checkpoint, SolveOptions, Stats, StepObserver, integrate_observed,
};

/// The end of every accepted step: the loop's state there and how many
/// points had been saved by then.
#[derive(Default)]
struct Recorder {
    ends: Vec<(Checkpoint<f64>, usize)>,
}

impl StepObserver<f64> for Recorder {
    fn accepted(
        &mut self,
        step: &AcceptedStep<'_, f64>,
        checkpoint: &dyn Fn() -> Checkpoint<f64>,
    ) -> bool {
        self.ends.push((checkpoint(), step.saved));
        true
    }
}

/// Pauses a replay after its first accepted step, keeping the state and
/// time reached.
#[derive(Default)]
struct OneStep {
    end: Option<(Vec<Lanes>, Lanes)>,
}

impl StepObserver<Lanes> for OneStep {
    fn accepted(
        &mut self,
        _: &AcceptedStep<'_, Lanes>,
        checkpoint: &dyn Fn() -> Checkpoint<Lanes>,
    ) -> bool {
        let cp = checkpoint();
        self.end = Some((cp.u, cp.t));
        false
    }
}

/// `cp` in dual numbers, its state and time replaced by `u` and `t`.
fn lift(cp: &Checkpoint<f64>, u: Vec<Lanes>, t: Lanes) -> Checkpoint<Lanes> {
    Checkpoint {
        t,
        u,
        dt_abs: cp.dt_abs,
        controller: cp.controller.clone(),
        last_rejected: cp.last_rejected,
        iters: cp.iters,
        accepted: cp.accepted,
        next_save: cp.next_save,
        next_stop: cp.next_stop,
        g_prev: cp.g_prev.iter().map(|&g| Lanes::constant(g)).collect(),
    }
}

/// The discrete adjoint of a one-step method on a problem with callbacks.
pub(crate) fn gradient<F, M, L>(
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
    let name = method.info().name;
    if !method.is_one_step() || method.info().reuses_factorizations {
        return Err(Error::Unsupported(format!(
            "the discrete adjoint of {name} through callbacks: its steps carry \
             Jacobians or history from earlier steps (use ForwardMode, or an \
             explicit or Rosenbrock method)"
        )));
    }
    prob.validate()?;
    if prob.f().time_span(prob.p()).is_some() {
        return Err(Error::Unsupported(
            "the discrete adjoint through callbacks of a span that depends on p \
             (use ForwardMode)"
                .into(),
        ));
    }
    let (n, np) = (prob.len(), prob.p().len());
    let mut rec = Recorder::default();
    let (sol, _) = integrate_observed(prob, method, opts, &mut rec, None)?;
    check_success(&sol, "forward")?;
    loss.check(sol.len(), n)?;
    let mut dl_du = vec![0.0; sol.u_flat().len()];
    let loss_value = loss.value_and_gradient(&sol.t, sol.u_flat(), n, &mut dl_du);

    // Directions: the step's start state, the parameters, its start time.
    let directions = n + np + 1;
    let mut ubar = vec![0.0; n];
    let mut tbar = 0.0;
    let mut ubar_start = vec![0.0; n];
    let mut pbar = vec![0.0; np];
    let mut backward = Stats::default();
    let diverged = |k: usize| {
        Error::Unsupported(format!(
            "the discrete adjoint through callbacks: replaying step {k} of {name} \
             did not retrace the forward solve (use ForwardMode)"
        ))
    };
    // The problem in duals for each pass of directions (the parameters
    // seeded, and t0 for the first step), built once for all steps.
    let lifted: Vec<_> = (0..directions)
        .step_by(LANES)
        .map(|first| {
            prob.map_scalar(|role, i, x| match role {
                Role::P => seed(x, n + i, first),
                Role::Tspan if i == 0 => seed(x, n + np, first),
                _ => Lanes::constant(x),
            })
        })
        .collect();
    for k in (0..rec.ends.len()).rev() {
        let start = k.checked_sub(1).map(|j| &rec.ends[j].0);
        let saved_before = k.checked_sub(1).map_or(0, |j| rec.ends[j].1);
        let (end_cp, saved_after) = (&rec.ends[k].0, rec.ends[k].1);
        let u_start = start.map_or(prob.u0(), |cp| &cp.u[..]);
        ubar_start.fill(0.0);
        let mut tbar_start = 0.0;
        for (lifted, first) in lifted.iter().zip((0..directions).step_by(LANES)) {
            let u_seeded: Vec<Lanes> = u_start
                .iter()
                .enumerate()
                .map(|(j, &x)| seed(x, j, first))
                .collect();
            let mut one = OneStep::default();
            let (replay, _) = match start {
                // The first step also saves the points at t0.
                None => integrate_observed(
                    &lifted.clone().with_u0(u_seeded)?,
                    method,
                    opts,
                    &mut one,
                    None,
                )?,
                Some(cp) => {
                    let resume = lift(cp, u_seeded, seed(cp.t, n + np, first));
                    integrate_observed(lifted, method, opts, &mut one, Some(&resume))?
                }
            };
            backward.f_evals += replay.stats.f_evals;
            backward.jacobians += replay.stats.jacobians;
            backward.factorizations += replay.stats.factorizations;
            backward.solves += replay.stats.solves;
            let (end, t_end) = one.end.ok_or_else(|| diverged(k))?;
            // Explicit methods retrace bit for bit; implicit ones differ in
            // the rounding of their linear algebra (duals divide by
            // multiplying with reciprocals), far below the tolerances.
            let retraced = replay.len() == saved_after - saved_before
                && end.iter().zip(&end_cp.u).enumerate().all(|(i, (a, &b))| {
                    (a.re - b).abs() <= 1e-3 * (opts.atol.at(i) + opts.rtol.at(i) * b.abs())
                });
            if !retraced {
                return Err(diverged(k));
            }
            let mut acc = [0.0; LANES];
            pull(&ubar, &end, &mut acc);
            pull(&[tbar], &[t_end], &mut acc);
            for (i, idx) in (saved_before..saved_after).enumerate() {
                pull(&dl_du[idx * n..(idx + 1) * n], replay.u(i), &mut acc);
            }
            for (lane, &a) in acc.iter().enumerate() {
                match first + lane {
                    d if d < n => ubar_start[d] = a,
                    d if d < n + np => pbar[d - n] += a,
                    d if d == n + np => tbar_start = a,
                    _ => {}
                }
            }
        }
        ubar.copy_from_slice(&ubar_start);
        tbar = tbar_start;
    }
    if rec.ends.is_empty() {
        // Nothing stepped: every save is u0 itself.
        for g in dl_du.chunks_exact(n) {
            ubar.iter_mut().zip(g).for_each(|(a, b)| *a += b);
        }
    }
    if let Some(maps) = ParamMapJacobian::of(prob) {
        maps.add_to(&mut pbar, &ubar, 0.0, 0.0);
    }
    Ok(Gradient {
        loss: loss_value,
        dp: pbar,
        du0: if want_u0 { ubar } else { Vec::new() },
        stats: GradientStats {
            forward: sol.stats,
            backward,
            vjps: 0,
            checkpoints: rec.ends.len(),
        },
    })
}
