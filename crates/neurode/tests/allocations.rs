//! The step loop does not touch the heap: the allocations of a solve are its
//! set-up, whatever the number of steps.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use neurode::prelude::*;

struct Counting;

thread_local! {
    /// Allocations made by this thread (tests run on several threads).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn bump() {
    // `try_with`: the slot may be gone while a thread shuts down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread, and its result.
fn counted<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    (ALLOCATIONS.with(Cell::get) - before, r)
}

fn solve_counted<M: OdeMethod + Copy>(
    method: M,
    t1: f64,
    opts: &SolveOptions,
) -> (usize, Solution) {
    let prob = OdeProblem::new(
        LotkaVolterra,
        vec![1.0, 1.0],
        (0.0, t1),
        vec![1.5, 1.0, 3.0, 1.0],
    )
    .unwrap();
    counted(|| prob.solve(method, opts).unwrap())
}

#[test]
fn saveat_solves_allocate_the_same_whatever_the_number_of_steps() {
    fn check<M: OdeMethod + Copy>(method: M, tol: f64) {
        // Same number of save points, ten times the steps.
        let (short_allocs, short) = solve_counted(
            method,
            10.0,
            &SolveOptions::default()
                .tolerances(tol, tol)
                .saveat_step(0.1),
        );
        let (long_allocs, long) = solve_counted(
            method,
            100.0,
            &SolveOptions::default()
                .tolerances(tol, tol)
                .saveat_step(1.0),
        );
        assert_eq!(short.len(), long.len());
        assert!(long.stats.accepted > 8 * short.stats.accepted);
        eprintln!(
            "{}: {short_allocs} allocations for {} steps, {long_allocs} for {} steps",
            method.info().name,
            short.stats.accepted,
            long.stats.accepted
        );
        assert_eq!(
            short_allocs,
            long_allocs,
            "{}: allocations depend on the step count",
            method.info().name
        );
    }
    check(Tsit5, 1e-6);
    check(Dp5, 1e-6);
    check(Vern7, 1e-10);
    check(Dop853, 1e-10);
    check(Bs3, 1e-4);
}

/// Five harmonic oscillators (ten states): large enough for heap storage
/// of the working vectors.
#[derive(Clone, Copy, Debug)]
struct FiveOscillators;
impl OdeFunction for FiveOscillators {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        for i in 0..5 {
            let w = p[0] * T::cst(1.0 + i as f64);
            du[2 * i] = u[2 * i + 1];
            du[2 * i + 1] = -w * w * u[2 * i];
        }
    }
}

#[test]
fn heap_storage_solves_allocate_nothing_per_step() {
    let solve = |t1: f64, dt: f64| {
        let prob = OdeProblem::new(FiveOscillators, vec![1.0; 10], (0.0, t1), vec![1.0]).unwrap();
        let opts = SolveOptions::default()
            .tolerances(1e-8, 1e-8)
            .saveat_step(dt);
        counted(|| prob.solve(Tsit5, &opts).unwrap())
    };
    let (a, short) = solve(10.0, 0.1);
    let (b, long) = solve(100.0, 1.0);
    assert!(long.stats.accepted > 4 * short.stats.accepted);
    eprintln!(
        "10 states: {a} allocations for {} steps, {b} for {}",
        short.stats.accepted, long.stats.accepted
    );
    assert_eq!(a, b);
}

#[test]
fn fixed_step_solves_allocate_nothing_per_step() {
    let opts = SolveOptions::default().fixed_dt(0.01).saveat(vec![10.0]);
    let (a, short) = solve_counted(Rk4, 10.0, &opts);
    let opts = SolveOptions::default().fixed_dt(0.01).saveat(vec![100.0]);
    let (b, long) = solve_counted(Rk4, 100.0, &opts);
    assert_eq!(long.stats.accepted, 10 * short.stats.accepted);
    assert_eq!(a, b);
}

#[test]
fn every_step_saving_grows_geometrically() {
    // Saving every step (with dense output) appends to vectors that double
    // when full: reallocations grow with log(steps), not with steps.
    let (a, short) = solve_counted(
        Tsit5,
        100.0,
        &SolveOptions::default().tolerances(1e-8, 1e-8),
    );
    let (b, long) = solve_counted(
        Tsit5,
        1000.0,
        &SolveOptions::default().tolerances(1e-8, 1e-8),
    );
    assert!(long.stats.accepted > 8 * short.stats.accepted);
    eprintln!(
        "every-step saving: {a} allocations for {} steps, {b} for {}",
        short.stats.accepted, long.stats.accepted
    );
    assert!(
        b <= a + 4 * 4,
        "{b} allocations for {} steps",
        long.stats.accepted
    );
}

/// Lotka–Volterra driven through a full 2×2 noise matrix that depends on
/// the state (no VJPs of its own: the stochastic adjoint uses AD).
#[derive(Clone)]
struct LvMatrixNoise;
impl neurode::sde::SdeFunction for LvMatrixNoise {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        LotkaVolterra.rhs(du, u, &p[..4], t);
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], p: &[T], _t: T) {
        g[0] = p[4] * u[0];
        g[1] = u[0].scaled(0.1);
        g[2] = u[1].scaled(0.05);
        g[3] = p[4] * u[1];
    }
    fn noise(&self) -> neurode::sde::Noise {
        neurode::sde::Noise::General(2)
    }
}

#[test]
fn the_stochastic_adjoint_allocates_nothing_per_step() {
    use neurode::sde::{EulerMaruyama, SdeProblem, SdeSensitivity};
    let prob = SdeProblem::new(
        LvMatrixNoise,
        vec![1.0, 1.0],
        (0.0, 1.0),
        vec![1.5, 1.0, 3.0, 1.0, 0.2],
    )
    .unwrap();
    let loss = SumOfSquares::towards_constant(0, 1.0);
    let allocations = |dt: f64| {
        let opts = SolveOptions::default().fixed_dt(dt).saveat_step(0.25);
        counted(|| {
            prob.loss_and_gradient(
                EulerMaruyama,
                &opts,
                &loss,
                3,
                SdeSensitivity::BacksolveAdjoint,
            )
            .unwrap()
        })
        .0
    };
    // 100 and 1000 steps: only the recorded step grid grows (doubling).
    let (coarse, fine) = (allocations(1e-2), allocations(1e-3));
    eprintln!("stochastic adjoint: {coarse} allocations at 100 steps, {fine} at 1000");
    assert!(fine <= coarse + 8, "{coarse} → {fine}");
}
