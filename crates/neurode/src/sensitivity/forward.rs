//! Forward mode: the solve runs on dual numbers, one derivative direction
//! per parameter (and per initial state when asked), so the derivative of
//! every step, saved point and the loss comes out of the arithmetic itself.

use num_dual::Dual64;

use super::{Gradient, GradientStats, Loss, Sensitivity, check_success};
use crate::error::Error;
use crate::methods::OdeMethod;
use crate::problem::{OdeFunction, OdeProblem, Role};
use crate::solve::{SolveOptions, Stats};

/// Dual numbers through the solver: works with every method (the stiff ones
/// take their Jacobians in nested duals), and costs one dual solve per
/// parameter, so it suits problems with up to a few dozen parameters.
///
/// The step sizes are those of the plain solve (control reads real parts),
/// so this is the derivative of the computed solution along its steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardMode;

/// Which input a derivative direction is seeded in.
#[derive(Clone, Copy)]
enum Seed {
    P(usize),
    U0(usize),
}

impl Sensitivity for ForwardMode {
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
        prob.validate()?;
        let (n, np) = (prob.len(), prob.p().len());
        let mut seeds: Vec<Seed> = (0..np).map(Seed::P).collect();
        if want_u0 {
            seeds.extend((0..n).map(Seed::U0));
        }
        let mut grad = Gradient {
            loss: 0.0,
            dp: vec![0.0; np],
            du0: vec![0.0; if want_u0 { n } else { 0 }],
            stats: GradientStats::default(),
        };
        let mut forward = Stats::default();
        // With no parameters the loss still needs one (plain) solve.
        if seeds.is_empty() {
            let sol = prob.solve(method.clone(), opts)?;
            check_success(&sol, "forward")?;
            loss.check(sol.len(), n)?;
            grad.loss = loss.value(&sol.t, sol.u_flat(), n);
            grad.stats.forward = sol.stats;
            return Ok(grad);
        }
        for (k, &seed) in seeds.iter().enumerate() {
            let mut dual = prob.map_scalar(|role, i, x| match (role, seed) {
                (Role::P, Seed::P(j)) if i == j => Dual64::new(x, 1.0),
                _ => Dual64::from_re(x),
            });
            if let Seed::U0(j) = seed {
                let mut u0 = dual.u0().to_vec();
                u0[j].eps = 1.0;
                dual = dual.with_u0(u0)?;
            }
            let sol = dual.solve(method.clone(), opts)?;
            check_success(&sol, "forward")?;
            if k == 0 {
                loss.check(sol.len(), n)?;
            }
            let t: Vec<f64> = sol.t.iter().map(|t| t.re).collect();
            let l = loss.value(&t, sol.u_flat(), n);
            grad.loss = l.re;
            match seed {
                Seed::P(j) => grad.dp[j] = l.eps,
                Seed::U0(j) => grad.du0[j] = l.eps,
            }
            add_stats(&mut forward, &sol.stats);
        }
        grad.stats.forward = forward;
        Ok(grad)
    }
}

/// Adds `b`'s counts to `a`.
pub(crate) fn add_stats(a: &mut Stats, b: &Stats) {
    a.f_evals += b.f_evals;
    a.accepted += b.accepted;
    a.rejected += b.rejected;
    a.jacobians += b.jacobians;
    a.factorizations += b.factorizations;
    a.solves += b.solves;
    a.stiff_steps += b.stiff_steps;
    a.switches += b.switches;
}
