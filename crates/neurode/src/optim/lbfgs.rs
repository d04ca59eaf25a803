//! L-BFGS (Nocedal & Wright, Alg. 7.4–7.5) with a backtracking Armijo line
//! search: for fitting a few parameters of a smooth model, where it needs
//! far fewer gradients than first-order methods.

use crate::error::Error;

/// Settings of [`lbfgs`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsOptions {
    /// Most iterations.
    pub max_iters: usize,
    /// Pairs `(s, y)` kept.
    pub memory: usize,
    /// Stop when the largest gradient entry falls below this.
    pub grad_tol: f64,
    /// Stop when an iteration lowers the loss by less than this, relatively.
    pub loss_tol: f64,
    /// Sufficient decrease constant of the line search.
    pub armijo: f64,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        Self {
            max_iters: 200,
            memory: 10,
            grad_tol: 1e-8,
            loss_tol: 1e-12,
            armijo: 1e-4,
        }
    }
}

/// How an [`lbfgs`] run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsReport {
    /// The loss at the final parameters.
    pub loss: f64,
    /// Iterations taken.
    pub iterations: usize,
    /// Loss-and-gradient evaluations made.
    pub evaluations: usize,
    /// True when a tolerance was met (false: out of iterations, or the line
    /// search found no decrease).
    pub converged: bool,
    /// The loss after each iteration, starting with the initial loss.
    pub history: Vec<f64>,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimises `objective` (which writes the gradient and returns the loss)
/// from `params`, leaving the best parameters found in `params`.
///
/// ```
/// use neurode::optim::{lbfgs, LbfgsOptions};
/// // Rosenbrock's banana.
/// let mut x = vec![-1.2, 1.0];
/// let report = lbfgs(
///     |x: &[f64], g: &mut [f64]| {
///         g[0] = -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]);
///         g[1] = 200.0 * (x[1] - x[0] * x[0]);
///         Ok((1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2))
///     },
///     &mut x,
///     &LbfgsOptions::default(),
/// )?;
/// assert!(report.converged && (x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6);
/// # Ok::<(), neurode::Error>(())
/// ```
pub fn lbfgs(
    mut objective: impl FnMut(&[f64], &mut [f64]) -> Result<f64, Error>,
    params: &mut [f64],
    opts: &LbfgsOptions,
) -> Result<LbfgsReport, Error> {
    let n = params.len();
    let mut g = vec![0.0; n];
    let mut f = objective(params, &mut g)?;
    if !f.is_finite() {
        return Err(Error::NonFinite {
            what: "loss at the initial parameters",
            index: 0,
            value: f,
        });
    }
    let mut report = LbfgsReport {
        loss: f,
        iterations: 0,
        evaluations: 1,
        converged: false,
        history: vec![f],
    };
    let (mut s_hist, mut y_hist): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha = vec![0.0; opts.memory];
    for iter in 0..opts.max_iters {
        if g.iter().fold(0.0_f64, |m, v| m.max(v.abs())) < opts.grad_tol {
            report.converged = true;
            break;
        }
        // Two-loop recursion: d = -H g.
        d.iter_mut().zip(&g).for_each(|(d, g)| *d = -g);
        let k = s_hist.len();
        for i in (0..k).rev() {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            alpha[i] = rho * dot(&s_hist[i], &d);
            d.iter_mut()
                .zip(&y_hist[i])
                .for_each(|(d, y)| *d -= alpha[i] * y);
        }
        let gamma = match k {
            0 => 1.0 / g.iter().map(|v| v * v).sum::<f64>().sqrt().max(1.0),
            _ => dot(&s_hist[k - 1], &y_hist[k - 1]) / dot(&y_hist[k - 1], &y_hist[k - 1]),
        };
        d.iter_mut().for_each(|v| *v *= gamma);
        for i in 0..k {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            let beta = rho * dot(&y_hist[i], &d);
            d.iter_mut()
                .zip(&s_hist[i])
                .for_each(|(d, s)| *d += (alpha[i] - beta) * s);
        }
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            d.iter_mut().zip(&g).for_each(|(d, g)| *d = -g * gamma);
            slope = dot(&g, &d);
        }
        // Backtracking line search on the Armijo condition.
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..40 {
            x_new
                .iter_mut()
                .zip(params.iter().zip(&d))
                .for_each(|(x, (p, d))| *x = p + step * d);
            report.evaluations += 1;
            match objective(&x_new, &mut g_new) {
                Ok(f_new) if f_new.is_finite() && f_new <= f + opts.armijo * step * slope => {
                    accepted = Some(f_new);
                    break;
                }
                _ => step *= 0.5,
            }
        }
        let Some(f_new) = accepted else {
            break;
        };
        let s: Vec<f64> = x_new
            .iter()
            .zip(params.iter())
            .map(|(a, b)| a - b)
            .collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        if dot(&s, &y) > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
            if s_hist.len() == opts.memory {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
        }
        params.copy_from_slice(&x_new);
        g.copy_from_slice(&g_new);
        let decrease = f - f_new;
        f = f_new;
        report.iterations = iter + 1;
        report.history.push(f);
        if decrease <= opts.loss_tol * f.abs().max(1e-300) {
            report.converged = true;
            break;
        }
    }
    report.loss = f;
    Ok(report)
}
