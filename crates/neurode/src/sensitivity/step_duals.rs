//! The discrete adjoint of any one-step method (Rosenbrock, SDIRK/ESDIRK):
//! each recorded step is run again in vector duals, seeded in the step's
//! start state, the parameters (and its time and size where the span
//! depends on `p`), and the adjoint is pulled back through the resulting
//! step Jacobian, eight directions per pass. The method's own code is
//! differentiated, Jacobian evaluation and linear solves included, so no
//! transposed solver has to be written per method.
//!
//! A method whose steps read a history of earlier ones (BDF) writes that
//! history after every accepted step ([`OdeMethod::write_history`]); each
//! step is then replayed from its recorded history, seeded in every number
//! of it, and the adjoint carried from step to step is the history's
//! adjoint rather than the state's.
//!
//! Steps are recorded in full during the forward solve (implicit methods
//! keep Jacobians and factorisations across steps, which a replay from a
//! checkpoint would not reproduce), so memory grows with the number of
//! steps. Newton iterations stop on the real part, so for SDIRK and BDF the
//! result is the derivative of the computed solution to Newton's tolerance.

use super::lanes::{LANES, Lanes, pull, seed};
use super::{Gradient, GradientStats, Loss, ParamMapJacobian, check_success};
use crate::dim::Dyn;
use crate::error::Error;
use crate::methods::{ErrorScale, OdeMethod, Rhs, Setup};
use crate::problem::{JacobianSparsity, OdeFunction, OdeProblem};
use crate::solve::{
    AcceptedStep, Checkpoint, SolveOptions, Stats, StepObserver, integrate_observed,
};

/// Records every accepted step: `(t, dt, t_new)`, the state at `t`, and
/// the history after it where the method keeps one.
#[derive(Default)]
struct Recorder {
    times: Vec<(f64, f64, f64)>,
    u: Vec<f64>,
    history: Vec<f64>,
    /// Numbers per history (0: a one-step method).
    history_len: usize,
}

impl StepObserver<f64> for Recorder {
    fn accepted(&mut self, step: &AcceptedStep<'_, f64>, _: &dyn Fn() -> Checkpoint<f64>) -> bool {
        self.times.push((step.t, step.dt, step.t_new));
        self.u.extend_from_slice(step.u);
        let before = self.history.len();
        if (step.history)(&mut self.history) {
            self.history_len = self.history.len() - before;
        }
        true
    }
}

/// The discrete adjoint of an implicit method: a one-step method with no
/// tableau, or one that keeps a history.
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
    if !matches!(prob.jacobian_sparsity(), JacobianSparsity::Dense) {
        return Err(Error::Unsupported(
            "the discrete adjoint of an implicit method with a sparse Jacobian \
             (use an Adjoint with a sparse solver)"
                .into(),
        ));
    }
    prob.validate()?;
    let (n, np) = (prob.len(), prob.p().len());
    let (f, p) = (prob.f(), prob.p());
    let mut rec = Recorder::default();
    let (sol, _) = integrate_observed(prob, method, opts, &mut rec, None)?;
    check_success(&sol, "forward")?;
    let hlen = rec.history_len;
    if !method.is_one_step() && hlen == 0 {
        return Err(Error::Unsupported(format!(
            "the discrete adjoint of {}, whose steps depend on earlier ones \
             without a history to replay them from (use ForwardMode or an Adjoint)",
            method.info().name
        )));
    }
    if hlen > 0 && f.time_span(p).is_some() {
        // A history rescaled to a new step size is rescaled in real
        // arithmetic, so a span that moves with `p` would be lost.
        return Err(Error::Unsupported(format!(
            "the discrete adjoint of {} with a time span depending on p \
             (use ForwardMode or an Adjoint)",
            method.info().name
        )));
    }
    loss.check(sol.len(), n)?;
    let mut dl_du = vec![0.0; sol.u_flat().len()];
    let loss_value = loss.value_and_gradient(&sol.t, sol.u_flat(), n, &mut dl_du);

    let maps = ParamMapJacobian::of(prob);
    let track_time = maps.is_some();
    // Directions: the start state (or the history a step starts from), the
    // parameters, then the step's time and size.
    let extra = if track_time { 2 } else { 0 };
    let (t0, t1) = prob.tspan();
    let dir = if t1 > t0 { 1.0 } else { -1.0 };
    let scale = ErrorScale {
        rtol: &opts.rtol,
        atol: &opts.atol,
    };
    // Adjoints of this step's new state, of its start state, and of the
    // history after it (history methods).
    let mut ubar = vec![0.0; n];
    let mut ubar_start = vec![0.0; n];
    let mut hbar = vec![0.0; hlen];
    let mut hbar_start = vec![0.0; hlen];
    let mut pbar = vec![0.0; np];
    let (mut tbar, mut t1bar) = (0.0, 0.0);
    let mut next_save = sol.len();
    let mut backward = Stats::default();
    let mut u_l = vec![Lanes::constant(0.0); n];
    let mut h_l = vec![Lanes::constant(0.0); hlen];
    let mut hout_l: Vec<Lanes> = Vec::with_capacity(hlen);
    let mut p_l = vec![Lanes::constant(0.0); np];
    let mut unew_l = vec![Lanes::constant(0.0); n];
    let mut out_l = vec![Lanes::constant(0.0); n];
    let mut interps: Vec<(f64, usize)> = Vec::new();
    for k in (0..rec.times.len()).rev() {
        let (t, dt, t_new) = rec.times[k];
        let u = &rec.u[k * n..(k + 1) * n];
        // The step starts from the history the one before it left.
        let from_history = hlen > 0 && k > 0;
        let start_len = if from_history { hlen } else { n };
        let directions = start_len + np + extra;
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
                interps.push((ts, next_save - 1));
            }
            next_save -= 1;
        }
        ubar_start.fill(0.0);
        hbar_start.fill(0.0);
        let (mut t_adj, mut dt_adj) = (0.0, 0.0);
        for first in (0..directions).step_by(LANES) {
            if from_history {
                let h = &rec.history[(k - 1) * hlen..k * hlen];
                for (j, (l, &x)) in h_l.iter_mut().zip(h).enumerate() {
                    *l = seed(x, j, first);
                }
                for (l, &x) in u_l.iter_mut().zip(u) {
                    *l = Lanes::constant(x);
                }
            } else {
                for (j, (l, &x)) in u_l.iter_mut().zip(u).enumerate() {
                    *l = seed(x, j, first);
                }
            }
            for (j, (l, &x)) in p_l.iter_mut().zip(p).enumerate() {
                *l = seed(x, start_len + j, first);
            }
            let (tl, dtl) = if track_time {
                (
                    seed(t, start_len + np, first),
                    seed(dt, start_len + np + 1, first),
                )
            } else {
                (Lanes::constant(t), Lanes::constant(dt))
            };
            let setup = Setup {
                f,
                u0: &u_l,
                p: &p_l,
                t0: tl,
                mass: prob.mass_matrix(),
                sparsity: prob.jacobian_sparsity(),
                opts,
            };
            let mut cache = method.new_cache::<F, Lanes, Dyn>(Dyn(n), &setup);
            let mut rhs = Rhs::new(f, &p_l);
            method.start(&mut cache, &mut rhs, tl, &u_l);
            if from_history {
                method.read_history(&mut cache, &h_l);
            }
            method.step(
                &mut cache,
                &mut rhs,
                tl,
                dtl,
                &u_l,
                &mut unew_l,
                Some(&scale),
            );
            let mut acc = [0.0; LANES];
            pull(&ubar, &unew_l, &mut acc);
            if hlen > 0 {
                // A history method's dense output is read from the history
                // the step leaves, which the next step starts from.
                method.accept(&mut cache, &mut rhs, tl + dtl, &unew_l);
                hout_l.clear();
                method.write_history(&cache, &mut hout_l);
                pull(&hbar, &hout_l, &mut acc);
            }
            for &(ts, idx) in &interps {
                let theta = (Lanes::constant(ts) - tl) / dtl;
                method.interpolate(&mut cache, &mut rhs, tl, dtl, &u_l, theta, &mut out_l);
                pull(&dl_du[idx * n..(idx + 1) * n], &out_l, &mut acc);
            }
            backward.f_evals += rhs.evals();
            backward.jacobians += rhs.jacobians;
            backward.factorizations += rhs.factorizations;
            backward.solves += rhs.solves;
            for (lane, &a) in acc.iter().enumerate() {
                match first + lane {
                    d if d < start_len && from_history => hbar_start[d] = a,
                    d if d < start_len => ubar_start[d] = a,
                    d if d < start_len + np => pbar[d - start_len] += a,
                    d if d == start_len + np && track_time => t_adj = a,
                    d if d == start_len + np + 1 && track_time => dt_adj = a,
                    _ => {}
                }
            }
        }
        ubar.copy_from_slice(&ubar_start);
        hbar.copy_from_slice(&hbar_start);
        if track_time {
            // As for explicit methods: a step landing on the end has
            // dt = t1 - t; one landing on a fixed stop has dt = stop - t.
            if t_new == t1 {
                t1bar += tbar + dt_adj;
                tbar = t_adj - dt_adj;
            } else if opts.tstops.contains(&t_new) {
                tbar = t_adj - dt_adj;
            } else {
                tbar += t_adj;
            }
        }
    }
    for k in 0..next_save {
        ubar.iter_mut()
            .zip(&dl_du[k * n..(k + 1) * n])
            .for_each(|(a, b)| *a += b);
    }
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
            vjps: 0,
            checkpoints: rec.times.len(),
        },
    })
}
