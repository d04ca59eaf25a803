//! A hyperbolic tangent that compiles to straight-line arithmetic (no libm
//! call), for the activations of batched networks, where `tanh` dominated
//! the time of a training step. Accurate to a few ulp over all of `f64`.

/// `ln 2` split so that `k · LN2_HI` is exact for the `k` used here.
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// Adding and subtracting this rounds a double of magnitude < 2⁵¹ to the
/// nearest integer.
const ROUND: f64 = 6_755_399_441_055_744.0;
/// Beyond this, `tanh(x)` rounds to ±1 in `f64`.
const SATURATION: f64 = 19.5;

/// `e^y − 1` for `0 ≤ y ≤ 2·SATURATION`: `y = k ln 2 + r` with
/// `|r| ≤ ln 2 / 2`, a degree-13 Taylor polynomial for `e^r − 1` (truncation
/// below 1e-17 relative), then `2^k (e^r − 1) + (2^k − 1)`. Branch-free and
/// without float-to-int conversions, so a loop over it vectorizes; `FMA`
/// selects fused multiply–adds (only where the CPU has them).
#[inline(always)]
fn exp_m1_reduced<const FMA: bool>(y: f64) -> f64 {
    #[inline(always)]
    fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
        if FMA { a.mul_add(b, c) } else { a * b + c }
    }
    let shifted = madd::<FMA>(y, std::f64::consts::LOG2_E, ROUND);
    let k = shifted - ROUND;
    let r = madd::<FMA>(-k, LN2_LO, madd::<FMA>(-k, LN2_HI, y));
    const C: [f64; 12] = [
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362880.0,
        1.0 / 3628800.0,
        1.0 / 39916800.0,
        1.0 / 479001600.0,
        1.0 / 6227020800.0,
    ];
    let mut q = C[11];
    for &c in C[..11].iter().rev() {
        q = madd::<FMA>(q, r, c);
    }
    let em1 = madd::<FMA>(r * r, q, r);
    // `shifted`'s low mantissa bits hold k (0 ≤ k ≤ 57): 2^k from the
    // exponent bits, by integer arithmetic on the bit pattern.
    let k_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let two_k = f64::from_bits(k_bits.wrapping_add(1023) << 52);
    madd::<FMA>(two_k, em1, two_k - 1.0)
}

/// `tanh` as `sign(x) · e/(e + 2)` with `e = e^{2|x|} − 1`, `|x|` clamped
/// where `tanh` rounds to ±1; NaN passes through.
#[inline(always)]
fn tanh_body<const FMA: bool>(x: f64) -> f64 {
    let a = x.abs().min(SATURATION);
    let e = exp_m1_reduced::<FMA>(2.0 * a);
    let t = (e / (e + 2.0)).copysign(x);
    if x.is_nan() { x } else { t }
}

/// `tanh(x)` in `f64`, a few ulp from libm's.
#[inline(always)]
pub fn tanh(x: f64) -> f64 {
    tanh_body::<false>(x)
}

/// `tanh` in `f32` arithmetic: the 13/6-degree rational interpolant of
/// Eigen's `generic_fast_tanh_float` (odd numerator, even denominator,
/// accurate to a couple of ulp on `[-9, 9]`, beyond which `tanh` rounds
/// to ±1), and `tanh(x) = x` below `4e-4`, where the rational would lose
/// digits to subnormal products. Half the operations of the exponential
/// form [`tanh_body`] uses, which mattered: `tanh` was a fifth of a
/// batched `f32` network's gradient.
#[inline(always)]
fn tanh_body_f32<const FMA: bool>(x: f32) -> f32 {
    #[inline(always)]
    fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
        if FMA { a.mul_add(b, c) } else { a * b + c }
    }
    // Coefficients digit for digit as published in Eigen (MathFunctionsImpl.h).
    #[allow(clippy::excessive_precision)]
    const ALPHA: [f32; 7] = [
        4.89352455891786e-03,
        6.37261928875436e-04,
        1.48572235717979e-05,
        5.12229709037114e-08,
        -8.60467152213735e-11,
        2.00018790482477e-13,
        -2.76076847742355e-16,
    ];
    #[allow(clippy::excessive_precision)]
    const BETA: [f32; 4] = [
        4.89352518554385e-03,
        2.26843463243900e-03,
        1.18534705686654e-04,
        1.19825839466702e-06,
    ];
    let c = x.clamp(-9.0, 9.0);
    let x2 = c * c;
    let mut p = ALPHA[6];
    for &a in ALPHA[..6].iter().rev() {
        p = madd::<FMA>(x2, p, a);
    }
    let mut q = BETA[3];
    for &b in BETA[..3].iter().rev() {
        q = madd::<FMA>(x2, q, b);
    }
    let t = (p * c) / q;
    if x.abs() < 4e-4 { x } else { t }
}

/// A slice map over `body`, compiled three times — for AVX-512, for AVX2
/// with FMA, and for the baseline — and dispatched on what the CPU has
/// (checked once by std and cached).
macro_rules! vectorised_map {
    ($(#[$doc:meta])* $name:ident, $t:ty, $body:ident) => {
        $(#[$doc])*
        pub fn $name(src: &[$t], dst: &mut [$t]) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512(src: &[$t], dst: &mut [$t]) {
                    for (d, &s) in dst.iter_mut().zip(src) {
                        *d = $body::<true>(s);
                    }
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2(src: &[$t], dst: &mut [$t]) {
                    for (d, &s) in dst.iter_mut().zip(src) {
                        *d = $body::<true>(s);
                    }
                }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the features it is compiled for were detected.
                    return unsafe { avx512(src, dst) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: as above.
                    return unsafe { avx2(src, dst) };
                }
            }
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = $body::<false>(s);
            }
        }
    };
}

vectorised_map!(
    /// `dst[i] = tanh(src[i])` in `f64`, a few ulp from libm's.
    tanh_slice,
    f64,
    tanh_body
);

vectorised_map!(
    /// `dst[i] = tanh(src[i])` in `f32`, within 4 ulp.
    tanh_slice_f32,
    f32,
    tanh_body_f32
);

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        if a == b {
            return 0;
        }
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn tanh_is_within_a_few_ulp_of_libm() {
        let mut worst = (0, 0.0);
        let mut x = 1e-300_f64;
        // Log-spaced magnitudes from tiny to saturated, both signs, plus a
        // dense linear sweep where the activations live.
        let mut points = Vec::new();
        while x < 40.0 {
            points.push(x);
            points.push(-x);
            x *= 1.0 + 1.0 / 64.0;
        }
        points.extend((0..200_000).map(|i| -10.0 + 20.0 * i as f64 / 200_000.0));
        for &x in &points {
            let u = ulps(tanh(x), x.tanh());
            if u > worst.0 {
                worst = (u, x);
            }
        }
        assert!(worst.0 <= 4, "{} ulp at x = {}", worst.0, worst.1);
        // The vectorised slice form (FMA where the CPU has it) likewise.
        let mut out = vec![0.0; points.len()];
        tanh_slice(&points, &mut out);
        for (&x, &t) in points.iter().zip(&out) {
            assert!(
                ulps(t, x.tanh()) <= 4,
                "slice: {} ulp at x = {x}",
                ulps(t, x.tanh())
            );
        }
        let p32: Vec<f32> = points.iter().map(|&x| x as f32).collect();
        let mut o32 = vec![0.0f32; p32.len()];
        tanh_slice_f32(&p32, &mut o32);
        let mut worst32 = 0.0_f64;
        for (&x, &t) in p32.iter().zip(&o32) {
            let exact = (x as f64).tanh();
            if exact != 0.0 {
                worst32 = worst32.max((t as f64 - exact).abs() / exact.abs());
            }
        }
        // Four f32 ulp at most.
        assert!(
            worst32 < 4.0 * f32::EPSILON as f64,
            "f32: {worst32:e} relative"
        );
        assert!(tanh(f64::NAN).is_nan());
        assert_eq!(tanh(f64::INFINITY), 1.0);
        assert_eq!(tanh(f64::NEG_INFINITY), -1.0);
        assert_eq!(tanh(-0.0).to_bits(), (-0.0_f64).to_bits());
    }
}
