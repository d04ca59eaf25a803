//! Forward mode: the solve runs on dual numbers, one derivative direction
//! per parameter (and per initial state when asked), so the derivative of
//! every step, saved point and the loss comes out of the arithmetic itself.

use super::{Gradient, GradientStats, Loss, Sensitivity, check_success};
use crate::error::Error;
use crate::methods::OdeMethod;
use crate::multi_dual::MultiDual;
use crate::problem::{OdeFunction, OdeProblem, Role};
use crate::solve::{SolveOptions, Stats};

/// Dual numbers through the solver: works with every method (the stiff ones
/// take their Jacobians in nested duals). Directions are carried four or
/// eight at a time (vector duals), so `np` parameters cost `⌈np/8⌉` dual
/// solves: it suits problems with up to a few dozen parameters.
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
        // Directions in chunks: four or eight derivative lanes per solve.
        let width = if seeds.len() <= 4 { 4 } else { 8 };
        for (c, chunk) in seeds.chunks(width).enumerate() {
            let (l, derivs, stats) = match width {
                4 => solve_chunk::<F, M, L, 4>(prob, method, opts, loss, chunk, c == 0)?,
                _ => solve_chunk::<F, M, L, 8>(prob, method, opts, loss, chunk, c == 0)?,
            };
            grad.loss = l;
            for (&seed, d) in chunk.iter().zip(derivs) {
                match seed {
                    Seed::P(j) => grad.dp[j] = d,
                    Seed::U0(j) => grad.du0[j] = d,
                }
            }
            add_stats(&mut forward, &stats);
        }
        grad.stats.forward = forward;
        Ok(grad)
    }
}

/// One solve in `N`-lane vector duals, seeded in the directions of
/// `chunk`: the loss and its derivative in each.
fn solve_chunk<F, M, L, const N: usize>(
    prob: &OdeProblem<F>,
    method: &M,
    opts: &SolveOptions,
    loss: &L,
    chunk: &[Seed],
    check_loss: bool,
) -> Result<(f64, Vec<f64>, Stats), Error>
where
    F: OdeFunction + Clone,
    M: OdeMethod + Clone,
    L: Loss,
{
    let lane_of_p = |i: usize| {
        chunk
            .iter()
            .position(|s| matches!(s, Seed::P(j) if *j == i))
    };
    let mut dual = prob.map_scalar(|role, i, x| match (role, lane_of_p(i)) {
        (Role::P, Some(lane)) => MultiDual::<N>::seeded(x, lane),
        _ => MultiDual::constant(x),
    });
    if chunk.iter().any(|s| matches!(s, Seed::U0(_))) {
        let mut u0 = dual.u0().to_vec();
        for (lane, seed) in chunk.iter().enumerate() {
            if let Seed::U0(j) = *seed {
                // Adds the seed to whatever u0 carries from p.
                u0[j] += MultiDual::<N>::seeded(0.0, lane);
            }
        }
        dual = dual.with_u0(u0)?;
    }
    let sol = dual.solve(method.clone(), opts)?;
    check_success(&sol, "forward")?;
    let n = prob.len();
    if check_loss {
        loss.check(sol.len(), n)?;
    }
    let t: Vec<f64> = sol.t.iter().map(|t| t.re).collect();
    let l = loss.value(&t, sol.u_flat(), n);
    let derivs = l.eps[..chunk.len()].to_vec();
    Ok((l.re, derivs, sol.stats))
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
