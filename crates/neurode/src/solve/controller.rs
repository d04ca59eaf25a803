//! Step-size control: a PI controller (Gustafsson; Hairer, Nørsett, Wanner
//! *Solving ODEs I*, IV.2) and Hairer's initial-step algorithm.

use super::options::ControllerOptions;

/// Proportional–integral step-size controller. Works on the scaled error
/// estimate (≤ 1 is acceptable) and returns factors for the step size.
#[derive(Clone, Debug)]
pub(crate) struct PiController {
    beta1: f64,
    beta2: f64,
    qmin: f64,
    /// `log2(max(previous accepted error, 1e-4))`.
    log_err_old: f64,
    log_gamma: f64,
    log_qmin: f64,
    log_qmax: f64,
}

/// Previous errors below 1e-4 count as 1e-4 (Hairer's `facold` floor): log2(1e-4).
const LOG_ERR_FLOOR: f64 = -13.287_712_379_549_449;

impl PiController {
    /// Constants from the options; missing exponents from the method order `k`.
    pub(crate) fn new(opts: &ControllerOptions, order: u32) -> Self {
        let k = order.max(1) as f64;
        Self {
            beta1: opts.beta1.unwrap_or(0.7 / k),
            beta2: opts.beta2.unwrap_or(0.4 / k),
            qmin: opts.qmin,
            log_err_old: LOG_ERR_FLOOR,
            log_gamma: opts.gamma.log2(),
            log_qmin: opts.qmin.log2(),
            log_qmax: opts.qmax.log2(),
        }
    }

    /// Step-size factor after accepting a step whose squared error is `err_sq` (≤ 1).
    #[inline]
    pub(crate) fn accept(&mut self, err_sq: f64) -> f64 {
        // gamma err^-beta1 err_old^beta2, clamped to [qmin, qmax], computed
        // in base-2 logs: one log and one power per step (the previous log is
        // kept), no division, and both short polynomials (see `fast_log2`).
        let log_err = 0.5 * fast_log2(err_sq.max(1e-300));
        let log_factor = if err_sq == 0.0 {
            self.log_qmax
        } else {
            self.log_gamma - self.beta1 * log_err + self.beta2 * self.log_err_old
        };
        self.log_err_old = log_err.max(LOG_ERR_FLOOR);
        fast_exp2(log_factor.clamp(self.log_qmin, self.log_qmax))
    }

    /// Step-size factor after rejecting a step whose squared error is `err_sq` (> 1 or NaN).
    #[inline]
    pub(crate) fn reject(&self, err_sq: f64) -> f64 {
        if err_sq.is_nan() || err_sq == f64::INFINITY {
            return self.qmin;
        }
        let log_factor = self.log_gamma - self.beta1 * 0.5 * fast_log2(err_sq);
        fast_exp2(log_factor.min(0.0)).max(self.qmin)
    }
}

/// `log2(x)` for positive, finite, normal `x`, to 3e-6 absolute.
///
/// The step-size factor only needs a few digits (it is clamped and scaled by
/// a safety factor), while libm's `ln` and `exp` sit on the path from one
/// step's error to the next step's size and cost a visible share of a small
/// solve. The polynomial is a least-squares fit on Chebyshev nodes, evaluated
/// in Estrin's form to keep the dependency chain short.
#[inline(always)]
fn fast_log2(x: f64) -> f64 {
    const C: [f64; 6] = [
        1.442715774670973,
        -0.7211225392451133,
        0.47932435877254564,
        -0.3677039823899191,
        0.322085496112418,
        -0.2052982954274801,
    ];
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    // Mantissa in [1, 2), moved to [sqrt(1/2), sqrt(2)) where the fit holds.
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let high = m > std::f64::consts::SQRT_2;
    let t = if high { 0.5 * m } else { m } - 1.0;
    let e = exponent as f64 + if high { 1.0 } else { 0.0 };
    let t2 = t * t;
    let t4 = t2 * t2;
    let p = (C[0] + C[1] * t) + t2 * (C[2] + C[3] * t) + t4 * (C[4] + C[5] * t);
    e + t * p
}

/// `2^y`, to 1e-7 relative, for `y` in [-1000, 1000] (clamped); see [`fast_log2`].
#[inline(always)]
fn fast_exp2(y: f64) -> f64 {
    const C: [f64; 6] = [
        1.000000071029699,
        0.6931469491610645,
        0.24022121753561643,
        0.05550742616002174,
        0.0096754597455214,
        0.0013266970386482935,
    ];
    // Round to the nearest integer by adding and removing 1.5·2^52.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let y = y.clamp(-1000.0, 1000.0);
    let k = (y + ROUND) - ROUND;
    let f = y - k; // in [-1/2, 1/2]
    let f2 = f * f;
    let f4 = f2 * f2;
    let p = (C[0] + C[1] * f) + f2 * (C[2] + C[3] * f) + f4 * (C[4] + C[5] * f);
    p * f64::from_bits(((k as i64 + 1023) as u64) << 52)
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
        assert!((c.accept(0.0) - 10.0).abs() < 1e-5);
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
                (got / want - 1.0).abs() < 1e-5,
                "err {err}: {got} vs {want}"
            );
            err_old = err.max(1e-4);
        }
    }

    #[test]
    fn fast_log_and_power_are_accurate() {
        let mut x = 1e-300_f64;
        while x < 1e300 {
            assert!((fast_log2(x) - x.log2()).abs() < 3e-6, "log2({x})");
            x *= 1.37;
        }
        let mut y = -999.5_f64;
        while y < 1000.0 {
            let got = fast_exp2(y);
            assert!((got / y.exp2() - 1.0).abs() < 2e-7, "2^{y}: {got}");
            y += 0.173;
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
