//! Peak memory of the reverse-mode gradients: the discrete adjoint with
//! checkpointing grows like the square root of the number of steps (and its
//! default keeps every step only while that fits its budget), and the
//! checkpointed interpolating adjoint holds one stretch of dense output
//! rather than all of it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use neurode::prelude::*;
use neurode::sensitivity::{Checkpointing, RECORD_ALL_BYTES};

struct Tracking;

thread_local! {
    /// Bytes this thread holds now, and the most it held since the reset.
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with`: the slots may be gone while a thread shuts down.
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// The most heap `f` held at once on this thread, beyond what was held
/// before it ran.
fn peak_bytes<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let base = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    ((PEAK.with(Cell::get) - base) as usize, r)
}

ode_system! {
    /// A damped oscillator.
    struct Oscillator;
    fn rhs<T>(t; x, v; w) -> (dx, dv) {
        dx = v;
        dv = -w * w * x - v.scaled(0.01);
    }
}

/// Peak bytes of one gradient over `steps` fixed steps of 0.01, the loss
/// read at the end only (so saved states do not grow with the span).
fn gradient_peak<S: Sensitivity>(steps: usize, sensitivity: S) -> usize {
    let t1 = steps as f64 * 0.01;
    let prob = OdeProblem::new(Oscillator, vec![1.0, 0.0], (0.0, t1), vec![1.0]).unwrap();
    let opts = SolveOptions::default().fixed_dt(0.01).saveat(vec![t1]);
    let loss = SumOfSquares::towards_constant(0, 0.0);
    let (bytes, g) = peak_bytes(|| {
        prob.loss_and_gradient(Tsit5, &opts, &loss, sensitivity)
            .unwrap()
    });
    assert!(g.1[0].is_finite());
    bytes
}

#[test]
fn discrete_checkpointing_memory_grows_like_the_square_root_of_steps() {
    let sqrt = Discrete {
        checkpointing: Checkpointing::Sqrt,
    };
    let short = gradient_peak(1_000, sqrt);
    let long = gradient_peak(16_000, sqrt);
    let all_short = gradient_peak(1_000, Discrete::checkpoint_every(1));
    let all_long = gradient_peak(16_000, Discrete::checkpoint_every(1));
    eprintln!(
        "peak bytes, 1k → 16k steps: √N checkpoints {short} → {long} ({:.1}×), \
         every step {all_short} → {all_long} ({:.1}×)",
        long as f64 / short as f64,
        all_long as f64 / all_short as f64
    );
    // 16× the steps: about 4× the memory with √N checkpoints, 16× storing every step.
    assert!((long as f64) < 6.0 * short as f64);
    assert!((all_long as f64) > 12.0 * all_short as f64);
    assert!(long * 10 < all_long);
}

#[test]
fn checkpointed_interpolating_adjoint_holds_one_stretch_of_dense_output() {
    // 16 000 steps, 100 saved points: the full dense output against one
    // stretch of 160 steps plus 100 checkpoints.
    let steps = 16_000;
    let t1 = steps as f64 * 0.01;
    let prob = OdeProblem::new(Oscillator, vec![1.0, 0.0], (0.0, t1), vec![1.0]).unwrap();
    let opts = SolveOptions::default()
        .fixed_dt(0.01)
        .saveat_step(t1 / 100.0);
    let loss = SumOfSquares::towards_constant(0, 0.0);
    let (full, a) = peak_bytes(|| {
        prob.loss_and_gradient(Tsit5, &opts, &loss, Adjoint::interpolating())
            .unwrap()
    });
    let (checkpointed, b) = peak_bytes(|| {
        prob.loss_and_gradient(Tsit5, &opts, &loss, Adjoint::interpolating().checkpointed())
            .unwrap()
    });
    eprintln!(
        "interpolating adjoint peak bytes: full dense output {full}, checkpointed {checkpointed}"
    );
    assert!(checkpointed * 10 < full);
    assert!((a.1[0] - b.1[0]).abs() < 1e-6 * a.1[0].abs().max(1.0));
}

/// `n` uncoupled copies of `x' = -k x`.
#[derive(Clone, Copy, Debug)]
struct ManyDecays;
impl OdeFunction for ManyDecays {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        for (d, &x) in du.iter_mut().zip(u) {
            *d = -p[0] * x;
        }
    }
    /// Analytic, so the test's time goes to the steps, not to AD.
    fn vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        _t: T,
        vu: &mut [T],
        vp: &mut [T],
        vt: Option<&mut T>,
    ) -> bool {
        let mut dk = T::zero();
        for ((a, &vi), &x) in vu.iter_mut().zip(v).zip(u) {
            *a = -p[0] * vi;
            dk -= vi * x;
        }
        vp[0] = dk;
        if let Some(vt) = vt {
            *vt = T::zero();
        }
        true
    }
}

#[test]
fn discrete_default_keeps_every_step_only_within_its_budget() {
    // Small: every step kept, so the backward pass evaluates nothing again
    // (the one save is at the end) and matches √N checkpointing exactly.
    let prob = OdeProblem::new(Oscillator, vec![1.0, 0.0], (0.0, 20.0), vec![1.0]).unwrap();
    let opts = SolveOptions::default()
        .tolerances(1e-8, 1e-8)
        .saveat(vec![20.0]);
    let loss = SumOfSquares::towards_constant(0, 0.0);
    let sqrt = Discrete {
        checkpointing: Checkpointing::Sqrt,
    };
    let auto = prob
        .gradient(Tsit5, &opts, &loss, Discrete::default())
        .unwrap();
    let replayed = prob.gradient(Tsit5, &opts, &loss, sqrt).unwrap();
    eprintln!(
        "Auto backward {:?}, √N backward {:?}",
        auto.stats.backward, replayed.stats.backward
    );
    assert_eq!(auto.stats.backward.f_evals, 0);
    assert!(replayed.stats.backward.f_evals >= auto.stats.forward.f_evals);
    assert_eq!(auto.dp, replayed.dp);
    assert_eq!(auto.du0, replayed.du0);

    // Large: 4000 states × 8 slots × 8 bytes = 256 KiB a step, so 400 steps
    // (100 MiB) outgrow the budget and the default falls back to √N.
    let n = 4000;
    let u0: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 / n as f64).collect();
    let prob = OdeProblem::new(ManyDecays, u0, (0.0, 4.0), vec![0.5]).unwrap();
    let opts = SolveOptions::default().fixed_dt(0.01).saveat(vec![4.0]);
    let loss = SumOfSquares::towards_constant(0, 0.0);
    let (bytes, g) = peak_bytes(|| {
        prob.gradient(Tsit5, &opts, &loss, Discrete::default())
            .unwrap()
    });
    let expected = -8.0 * (-4.0_f64).exp(); // d/dk (e^{-4k})² at k = 1/2, x0 = 1
    eprintln!(
        "large system: peak {bytes} bytes (budget {RECORD_ALL_BYTES}), dL/dk = {}",
        g.dp[0]
    );
    assert!(bytes < RECORD_ALL_BYTES + (8 << 20), "{bytes}");
    assert!(g.stats.backward.f_evals > 0);
    assert!(
        (g.dp[0] - expected).abs() < 1e-8,
        "{} vs {expected}",
        g.dp[0]
    );
}
