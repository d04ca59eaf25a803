//! The matrix products and activations of a batched network: W7's shapes
//! (256 samples through 2 → 64 → 64 → 2 tanh), forward and backward, in
//! `f32` and `f64`. Shows where the time of a batched right-hand side goes,
//! and that products with a tiny dimension (the first and last layers)
//! cost little beside the 64 × 64 one.
//!
//! `cargo bench -p neurode --bench products`

use std::hint::black_box;
use std::time::Instant;

use neurode::Scalar;
use neurode::linalg::{Layout, matmul};
use neurode::nn::Activation;

/// Median microseconds per call of `f`, from 21 samples of 500 calls.
fn median_us(mut f: impl FnMut()) -> f64 {
    for _ in 0..200 {
        f();
    }
    let mut times: Vec<f64> = (0..21)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..500 {
                f();
            }
            start.elapsed().as_secs_f64() / 500.0 * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[10]
}

/// One row: `dst (+)= lhs · rhs` with the given layouts, timed.
fn product<T: Scalar>(name: &str, d: Layout, l: Layout, r: Layout, accumulate: bool) -> f64 {
    let fill = |n: usize, s: f64| -> Vec<T> {
        (0..n)
            .map(|i| T::cst(((i as f64 + 1.0) * s).sin() * 0.1))
            .collect()
    };
    let lhs = fill(l.rows * l.cols, 0.37);
    let rhs = fill(r.rows * r.cols, 0.91);
    let mut dst = fill(d.rows * d.cols, 0.13);
    let t = median_us(|| {
        matmul(
            black_box(&mut dst),
            d,
            black_box(&lhs),
            l,
            black_box(&rhs),
            r,
            accumulate,
        )
    });
    let macs = d.rows * d.cols * l.cols;
    println!(
        "{name:<34} {:>4}×{:<4}·{:>4}×{:<4} {:>10.2} {:>10.1}",
        l.rows,
        l.cols,
        r.rows,
        r.cols,
        t,
        2.0 * macs as f64 / t * 1e-3
    );
    t
}

fn rows<T: Scalar>(dtype: &str) {
    let b = 256;
    println!(
        "\n{:<34} {:>21} {:>10} {:>10}",
        format!("{dtype} product"),
        "shape",
        "µs",
        "GFLOP/s"
    );
    let (h, s) = (64, 2);
    // Forward, Z = W X (W row-major out × in, X and Z column-major features × batch).
    let mut total = 0.0;
    for (name, i, o) in [
        ("forward 2→64", s, h),
        ("forward 64→64", h, h),
        ("forward 64→2", h, s),
    ] {
        total += product::<T>(
            name,
            Layout::col_major(o, b),
            Layout::row_major(o, i),
            Layout::col_major(i, b),
            false,
        );
    }
    // Backward: W̄ += Z̄ Xᵀ and X̄ = Wᵀ Z̄.
    for (name, i, o) in [
        ("backward 64→2", h, s),
        ("backward 64→64", h, h),
        ("backward 2→64", s, h),
    ] {
        total += product::<T>(
            &format!("{name} W̄"),
            Layout::row_major(o, i),
            Layout::col_major(o, b),
            Layout::col_major(i, b).t(),
            true,
        );
        total += product::<T>(
            &format!("{name} X̄"),
            Layout::col_major(i, b),
            Layout::row_major(o, i).t(),
            Layout::col_major(o, b),
            false,
        );
    }
    let z: Vec<T> = (0..h * b)
        .map(|i| T::cst((i as f64 * 0.01).sin() * 3.0))
        .collect();
    let mut y = z.clone();
    let tanh = median_us(|| Activation::Tanh.apply_slice(black_box(&z), black_box(&mut y)));
    println!("{:<34} {:>21} {:>10.2}", "tanh", format!("{h}×{b}"), tanh);
    println!("{:<34} {:>21} {:>10.2}", "all nine products", "", total);
}

fn main() {
    println!("Batched products of W7's network (256 samples, 2 → 64 → 64 → 2), one core");
    rows::<f32>("f32");
    rows::<f64>("f64");
}
