//! Step-size control: a PI controller (Gustafsson; Hairer, Nørsett, Wanner
//! *Solving ODEs I*, IV.2) and Hairer's initial-step algorithm.

use super::options::ControllerOptions;

/// Proportional–integral step-size controller. Works on the scaled error
/// estimate (≤ 1 is acceptable) and returns factors for the step size.
///
/// The factor sits on the critical path of a small solve (the next step's
/// first stage waits for it), so it is computed in base-2 logarithms, with
/// every constant folded ahead of time: one table logarithm, one
/// multiply-add, one table power. Exponents are kept in units of 1/64
/// (see [`exp2_64ths`]).
#[derive(Clone, Debug)]
pub(crate) struct PiController {
    qmin: f64,
    /// `64 (log2 gamma)`, `-32 beta1` (the error arrives squared) and `64 beta2`.
    gamma_64: f64,
    beta1_32: f64,
    beta2_64: f64,
    /// `64 log2 qmin`, `64 log2 qmax`.
    qmin_64: f64,
    qmax_64: f64,
    /// `log2(max(previous accepted error, 1e-4))`.
    log_err_old: f64,
}

/// Previous errors below 1e-4 count as 1e-4 (Hairer's `facold` floor): log2(1e-4).
const LOG_ERR_FLOOR: f64 = -13.287_712_379_549_449;

impl PiController {
    /// Constants from the options; missing exponents from the method order `k`.
    pub(crate) fn new(opts: &ControllerOptions, order: u32) -> Self {
        let k = order.max(1) as f64;
        let beta1 = opts.beta1.unwrap_or(0.7 / k);
        let beta2 = opts.beta2.unwrap_or(0.4 / k);
        Self {
            qmin: opts.qmin,
            gamma_64: 64.0 * opts.gamma.log2(),
            beta1_32: 32.0 * beta1,
            beta2_64: 64.0 * beta2,
            qmin_64: 64.0 * opts.qmin.log2(),
            qmax_64: 64.0 * opts.qmax.log2(),
            log_err_old: LOG_ERR_FLOOR,
        }
    }

    /// Step-size factor after accepting a step whose squared error is `err_sq` (≤ 1).
    #[inline]
    pub(crate) fn accept(&mut self, err_sq: f64) -> f64 {
        // gamma err^-beta1 err_old^beta2, clamped to [qmin, qmax].
        if err_sq == 0.0 {
            self.log_err_old = LOG_ERR_FLOOR;
            return exp2_64ths(self.qmax_64);
        }
        let mut err_sq = err_sq;
        if err_sq < f64::MIN_POSITIVE {
            std::hint::cold_path();
            err_sq = f64::MIN_POSITIVE;
        }
        let log_err_sq = log2_approx(err_sq);
        // The previous error's term first: it is ready long before this one.
        let mut y = (self.gamma_64 + self.beta2_64 * self.log_err_old) - self.beta1_32 * log_err_sq;
        self.log_err_old = (0.5 * log_err_sq).max(LOG_ERR_FLOOR);
        // Branches rather than min/max: the clamps rarely bind, so the
        // predicted branch keeps them off the dependency chain.
        if y > self.qmax_64 {
            std::hint::cold_path();
            y = self.qmax_64;
        }
        if y < self.qmin_64 {
            std::hint::cold_path();
            y = self.qmin_64;
        }
        exp2_64ths(y)
    }

    /// Step-size factor after rejecting a step whose squared error is `err_sq` (> 1 or NaN).
    #[inline]
    pub(crate) fn reject(&self, err_sq: f64) -> f64 {
        if err_sq.is_nan() || err_sq == f64::INFINITY {
            return self.qmin;
        }
        let y = self.gamma_64 - self.beta1_32 * log2_approx(err_sq);
        exp2_64ths(y.min(0.0)).max(self.qmin)
    }
}

/// Table of `log2(c_i)` linearised around `c_i = 1 + (i + 1/2)/128`:
/// `log2(m) ≈ OFFSET[i] + m SLOPE[i]` for a mantissa `m` in bucket `i`.
struct Log2Table {
    offset: [f64; 128],
    slope: [f64; 128],
}

const LOG2_TABLE: Log2Table = {
    let mut offset = [0.0; 128];
    let mut slope = [0.0; 128];
    let mut i = 0;
    while i < 128 {
        let c = 1.0 + (i as f64 + 0.5) / 128.0;
        slope[i] = 1.0 / (c * std::f64::consts::LN_2);
        offset[i] = ln_const(c) / std::f64::consts::LN_2 - 1.0 / std::f64::consts::LN_2;
        i += 1;
    }
    Log2Table { offset, slope }
};

/// `2^(i/64)` for `i` in `0..64`.
const EXP2_TABLE: [f64; 64] = {
    let mut t = [0.0; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = exp_const(i as f64 / 64.0 * std::f64::consts::LN_2);
        i += 1;
    }
    t
};

/// `ln x` for `x` in `[1, 2]` at compile time: the series of
/// `2 atanh((x - 1)/(x + 1))`, converged to rounding.
const fn ln_const(x: f64) -> f64 {
    let z = (x - 1.0) / (x + 1.0);
    let (mut term, mut sum, mut n, mut i) = (z, 0.0, 1.0, 0);
    while i < 40 {
        sum += term / n;
        term *= z * z;
        n += 2.0;
        i += 1;
    }
    2.0 * sum
}

/// `e^x` for `|x| < 1` at compile time: the Taylor series, converged to rounding.
const fn exp_const(x: f64) -> f64 {
    let (mut sum, mut term, mut i) = (1.0, 1.0, 1);
    while i < 30 {
        term = term * x / i as f64;
        sum += term;
        i += 1;
    }
    sum
}

/// `log2(x)` for positive, finite, normal `x`, to 2e-5 absolute.
///
/// The step-size factor needs only a few digits (it is clamped and scaled by
/// a safety factor; an error δ here moves it by about `0.1 δ`), while libm's
/// `log` would sit on the path from one step's error to the next step's
/// size. The exponent comes from the bits, the mantissa from a 128-entry
/// table linearised at each bucket's centre: three dependent operations.
#[inline(always)]
fn log2_approx(x: f64) -> f64 {
    // 2^52 + 1023: the biased exponent placed in a double's mantissa.
    const EXPONENT_BIAS: f64 = 4_503_599_627_371_519.0;
    let bits = x.to_bits();
    let exponent = f64::from_bits((bits >> 52) | 0x4330_0000_0000_0000) - EXPONENT_BIAS;
    let bucket = ((bits >> 45) & 127) as usize;
    let mantissa = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    (exponent + LOG2_TABLE.offset[bucket]) + mantissa * LOG2_TABLE.slope[bucket]
}

/// `2^(y/64)`, to 2e-5 relative, for `y` in `[-60000, 60000]`: the
/// integer part of `y` picks `2^(k/64)` from a table and the exponent bits,
/// the fraction (under 1/128 in the power) is linear. See [`log2_approx`].
#[inline(always)]
fn exp2_64ths(y: f64) -> f64 {
    // Adding and removing 1.5·2^52 rounds to the nearest integer and leaves
    // it in the low mantissa bits.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    const C: f64 = std::f64::consts::LN_2 / 64.0;
    let shifted = y + ROUND;
    // 1 + C (y - round(y)), arranged so `1 + C y` need not wait for the rounding.
    let linear = (1.0 + C * y) - C * (shifted - ROUND);
    let k = shifted.to_bits() as i64;
    let scale = f64::from_bits((((k >> 6) + 1023) as u64) << 52);
    (EXP2_TABLE[(k & 63) as usize] * scale) * linear
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
        assert!((c.accept(0.0) / 10.0 - 1.0).abs() < 3e-5);
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
                (got / want - 1.0).abs() < 3e-5,
                "err {err}: {got} vs {want}"
            );
            err_old = err.max(1e-4);
        }
    }

    #[test]
    fn table_log_and_power_are_accurate() {
        let mut x = f64::MIN_POSITIVE;
        while x < 1e300 {
            assert!((log2_approx(x) - x.log2()).abs() < 2e-5, "log2({x})");
            x *= 1.0137;
        }
        let mut y = -60000.0_f64;
        while y < 60000.0 {
            let got = exp2_64ths(y);
            assert!(
                (got / (y / 64.0).exp2() - 1.0).abs() < 2e-5,
                "2^({y}/64): {got}"
            );
            y += if y.abs() < 1000.0 { 0.0173 } else { 17.3 };
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
