//! Step-size control: a PI controller (Gustafsson; Hairer, Nørsett, Wanner
//! *Solving ODEs I*, IV.2) and Hairer's initial-step algorithm.

use super::options::ControllerOptions;

/// Proportional–integral step-size controller. Works on the scaled error
/// estimate (≤ 1 is acceptable) and returns factors for the step size.
#[derive(Clone, Debug)]
pub(crate) struct PiController {
    beta1: f64,
    beta2: f64,
    gamma: f64,
    qmin: f64,
    /// `ln(max(previous accepted error, 1e-4))`.
    ln_err_old: f64,
    ln_gamma: f64,
    ln_qmin: f64,
    ln_qmax: f64,
}

/// Previous errors below 1e-4 count as 1e-4 (Hairer's `facold` floor).
const LN_ERR_FLOOR: f64 = -9.210_340_371_976_184;

impl PiController {
    /// Constants from the options; missing exponents from the method order `k`.
    pub(crate) fn new(opts: &ControllerOptions, order: u32) -> Self {
        let k = order.max(1) as f64;
        Self {
            beta1: opts.beta1.unwrap_or(0.7 / k),
            beta2: opts.beta2.unwrap_or(0.4 / k),
            gamma: opts.gamma,
            qmin: opts.qmin,
            ln_err_old: LN_ERR_FLOOR,
            ln_gamma: opts.gamma.ln(),
            ln_qmin: opts.qmin.ln(),
            ln_qmax: opts.qmax.ln(),
        }
    }

    /// Step-size factor after accepting a step whose squared error is `err_sq` (≤ 1).
    #[inline]
    pub(crate) fn accept(&mut self, err_sq: f64) -> f64 {
        // gamma err^-beta1 err_old^beta2, clamped to [qmin, qmax], computed
        // in logs: one `ln` and one `exp` per step (the previous log is
        // kept), with no division on the path to the next step size.
        let ln_err = 0.5 * err_sq.max(1e-300).ln();
        let ln_factor = if err_sq == 0.0 {
            self.ln_qmax
        } else {
            self.ln_gamma - self.beta1 * ln_err + self.beta2 * self.ln_err_old
        };
        self.ln_err_old = ln_err.max(LN_ERR_FLOOR);
        ln_factor.clamp(self.ln_qmin, self.ln_qmax).exp()
    }

    /// Step-size factor after rejecting a step whose squared error is `err_sq` (> 1 or NaN).
    #[inline]
    pub(crate) fn reject(&self, err_sq: f64) -> f64 {
        if err_sq.is_nan() {
            return self.qmin;
        }
        let q11 = err_sq.powf(0.5 * self.beta1);
        1.0 / (q11 / self.gamma).min(1.0 / self.qmin)
    }
}

/// Hairer's starting step (*Solving ODEs I*, II.4): a step whose explicit
/// Euler error would be about `0.01` of the tolerance, refined by an estimate
/// of the second derivative. `d0` and `d1` are the tolerance-weighted RMS
/// norms of `u0` and `f(t0, u0)`; `second_derivative_norm(h)` returns that
/// norm of `(f(t0 + h, u0 + h f0) - f0) / h` for the trial step `h`.
pub(crate) fn initial_step(
    order: u32,
    d0: f64,
    d1: f64,
    dtmax: f64,
    mut second_derivative_norm: impl FnMut(f64) -> f64,
) -> f64 {
    let h0 = if d0 < 1e-5 || d1 < 1e-5 {
        1e-6
    } else {
        0.01 * d0 / d1
    };
    let h0 = h0.min(dtmax);
    let d2 = second_derivative_norm(h0);
    let dmax = d1.max(d2);
    let h1 = if dmax <= 1e-15 {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / dmax).powf(1.0 / (order as f64 + 1.0))
    };
    let h = (100.0 * h0).min(h1).min(dtmax);
    if h.is_finite() && h > 0.0 { h } else { h0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_error_grows_step_within_bounds() {
        let mut c = PiController::new(&ControllerOptions::default(), 5);
        assert!((c.accept(0.0) - 10.0).abs() < 1e-12);
        let f = c.accept(1e-6);
        assert!(f > 1.0 && f <= 10.0);
        let f = c.accept(1.0);
        assert!((0.2..1.0).contains(&f));
    }

    #[test]
    fn log_space_factor_equals_the_pi_formula() {
        // dt_new / dt = clamp(gamma err^-beta1 err_old^beta2, qmin, qmax), err_old ≥ 1e-4.
        let opts = ControllerOptions::default();
        let mut c = PiController::new(&opts, 5);
        let (b1, b2) = (0.7 / 5.0, 0.4 / 5.0);
        let mut err_old: f64 = 1e-4;
        for err in [0.3_f64, 0.01, 0.9, 1e-6, 0.5] {
            let want = (0.9 * err.powf(-b1) * err_old.powf(b2)).clamp(0.2, 10.0);
            let got = c.accept(err * err);
            assert!(
                (got / want - 1.0).abs() < 1e-12,
                "err {err}: {got} vs {want}"
            );
            err_old = err.max(1e-4);
        }
    }

    #[test]
    fn rejection_shrinks_step() {
        let c = PiController::new(&ControllerOptions::default(), 5);
        let f = c.reject(2.0);
        assert!((0.2..0.9).contains(&f));
        assert_eq!(c.reject(1e30), 0.2);
        assert_eq!(c.reject(f64::NAN), 0.2);
    }

    #[test]
    fn initial_step_scales_with_tolerance() {
        // u' = u from u=1: d1 = 1/tol-ish; bigger norms give smaller steps.
        let loose = initial_step(5, 1e3, 1e3, 10.0, |_| 1e3);
        let tight = initial_step(5, 1e6, 1e6, 10.0, |_| 1e6);
        assert!(tight < loose);
        assert!(initial_step(5, 0.0, 0.0, 10.0, |_| 0.0) > 0.0);
    }
}
