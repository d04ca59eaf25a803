//! Matrix products with one tiny dimension (at most [`THIN`]): the first
//! and last layers of a network on a 2-dimensional state, and their
//! backward passes. A blocked GEMM spends most of its time there on
//! padding and packing (measured: a 64×2 by 2×256 product in `f32` took as
//! long as a 64×64 by 64×256 one), while a direct loop over the long
//! dimensions does only the useful work. The loops are written on `pulp`'s
//! SIMD vectors (the compiler's own vectorisation of dot products came out
//! two lanes wide) and dispatched on what the CPU has.

use super::matmul::Layout;
use pulp::{Arch, Simd, WithSimd};
use std::ops::{Add, Mul};

/// The largest dimension these kernels treat as tiny.
const THIN: usize = 4;

/// How many elements a packed operand may hold (on the stack).
const CAP: usize = 2048;

/// SIMD vectors per register block of [`Plan::Cols`]: with up to
/// [`THIN`] columns, 16 accumulators.
const BLOCK: usize = 4;

/// The element types with kernels here, and their SIMD primitives.
pub(crate) trait Element:
    Copy + Default + Add<Output = Self> + Mul<Output = Self> + 'static
{
    /// `a · b`.
    fn dot<S: Simd>(simd: S, a: &[Self], b: &[Self]) -> Self;
    /// `y += alpha x`.
    fn axpy<S: Simd>(simd: S, alpha: Self, x: &[Self], y: &mut [Self]);
    /// `out += Σ_q c[q] cols[q]` in one pass over `out`.
    fn combine<S: Simd, const K: usize>(
        simd: S,
        cols: [&[Self]; K],
        c: [Self; K],
        out: &mut [Self],
    );
    /// `out_j += Σ_q L(:, q) c(q, j)` for the `N` columns of `out` (each
    /// `m` long), column `q` of `L` starting at `lhs[col(q)]`.
    fn gather_cols<S: Simd, const N: usize>(
        simd: S,
        k: usize,
        col: impl Fn(usize) -> usize,
        lhs: &[Self],
        c: impl Fn(usize, usize) -> Self,
        out: &mut [Self],
        m: usize,
    );
}

macro_rules! element {
    ($t:ty, $v:ident, $as_simd:ident, $as_mut_simd:ident, $splat:ident, $fma:ident, $add:ident, $sum:ident) => {
        impl Element for $t {
            #[inline(always)]
            fn dot<S: Simd>(simd: S, a: &[Self], b: &[Self]) -> Self {
                let ((va, ta), (vb, tb)) = (S::$as_simd(a), S::$as_simd(b));
                let (mut acc0, mut acc1) = (simd.$splat(0.0), simd.$splat(0.0));
                let (pa, pb) = (va.chunks_exact(2), vb.chunks_exact(2));
                let last = pa.remainder().first().zip(pb.remainder().first());
                for (x, y) in pa.zip(pb) {
                    acc0 = simd.$fma(x[0], y[0], acc0);
                    acc1 = simd.$fma(x[1], y[1], acc1);
                }
                if let Some((&x, &y)) = last {
                    acc0 = simd.$fma(x, y, acc0);
                }
                let mut sum = simd.$sum(simd.$add(acc0, acc1));
                for (&x, &y) in ta.iter().zip(tb) {
                    sum += x * y;
                }
                sum
            }

            #[inline(always)]
            fn axpy<S: Simd>(simd: S, alpha: Self, x: &[Self], y: &mut [Self]) {
                let (vx, tx) = S::$as_simd(x);
                let (vy, ty) = S::$as_mut_simd(y);
                let a = simd.$splat(alpha);
                for (y, &x) in vy.iter_mut().zip(vx) {
                    *y = simd.$fma(x, a, *y);
                }
                for (y, &x) in ty.iter_mut().zip(tx) {
                    *y += alpha * x;
                }
            }

            #[inline(always)]
            fn combine<S: Simd, const K: usize>(
                simd: S,
                cols: [&[Self]; K],
                c: [Self; K],
                out: &mut [Self],
            ) {
                let (vo, to) = S::$as_mut_simd(out);
                let split = vo.len() * (size_of::<S::$v>() / size_of::<Self>());
                let vc: [&[S::$v]; K] = std::array::from_fn(|q| S::$as_simd(cols[q]).0);
                let a: [S::$v; K] = std::array::from_fn(|q| simd.$splat(c[q]));
                for (i, o) in vo.iter_mut().enumerate() {
                    let mut acc = *o;
                    for q in 0..K {
                        acc = simd.$fma(vc[q][i], a[q], acc);
                    }
                    *o = acc;
                }
                for (i, o) in to.iter_mut().enumerate() {
                    for q in 0..K {
                        *o += c[q] * cols[q][split + i];
                    }
                }
            }

            #[inline(always)]
            fn gather_cols<S: Simd, const N: usize>(
                simd: S,
                k: usize,
                col: impl Fn(usize) -> usize,
                lhs: &[Self],
                c: impl Fn(usize, usize) -> Self,
                out: &mut [Self],
                m: usize,
            ) {
                let lanes = size_of::<S::$v>() / size_of::<Self>();
                let width = BLOCK * lanes;
                let mut i0 = 0;
                // Register blocks: N × BLOCK accumulators live through the
                // whole sum over q.
                while i0 + width <= m {
                    let mut acc = [[simd.$splat(0.0); BLOCK]; N];
                    for q in 0..k {
                        let start = col(q) + i0;
                        let (v, _) = S::$as_simd(&lhs[start..start + width]);
                        for j in 0..N {
                            let cj = simd.$splat(c(q, j));
                            for b in 0..BLOCK {
                                acc[j][b] = simd.$fma(v[b], cj, acc[j][b]);
                            }
                        }
                    }
                    for j in 0..N {
                        let dst = &mut out[j * m + i0..j * m + i0 + width];
                        let (d, _) = S::$as_mut_simd(dst);
                        for b in 0..BLOCK {
                            d[b] = simd.$add(d[b], acc[j][b]);
                        }
                    }
                    i0 += width;
                }
                if i0 < m {
                    for q in 0..k {
                        let start = col(q);
                        let x = &lhs[start + i0..start + m];
                        for j in 0..N {
                            Self::axpy(simd, c(q, j), x, &mut out[j * m + i0..j * m + m]);
                        }
                    }
                }
            }
        }
    };
}
element!(
    f32,
    f32s,
    as_simd_f32s,
    as_mut_simd_f32s,
    splat_f32s,
    mul_add_f32s,
    add_f32s,
    reduce_sum_f32s
);
element!(
    f64,
    f64s,
    as_simd_f64s,
    as_mut_simd_f64s,
    splat_f64s,
    mul_add_f64s,
    add_f64s,
    reduce_sum_f64s
);

/// One orientation of `D (+)= L · R`.
struct Product<'a, T> {
    dst: &'a mut [T],
    d: Layout,
    lhs: &'a [T],
    l: Layout,
    rhs: &'a [T],
    r: Layout,
    accumulate: bool,
}

impl<'a, T> Product<'a, T> {
    /// The same product transposed, `Dᵀ = Rᵀ Lᵀ`, on the same storage.
    fn transposed(self) -> Self {
        Product {
            dst: self.dst,
            d: self.d.t(),
            lhs: self.rhs,
            l: self.r.t(),
            rhs: self.lhs,
            r: self.l.t(),
            accumulate: self.accumulate,
        }
    }
}

/// Which loop computes a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// Inner dimension tiny, `D`'s columns contiguous: each column of `D`
    /// is a short combination of `L`'s (packed) columns.
    Inner,
    /// `D` has few rows, `R`'s columns contiguous: dot products of `L`'s
    /// (packed) rows with `R`'s columns.
    Rows,
    /// `D` has few columns, `L`'s columns contiguous: `D` (packed) gathers
    /// `L`'s columns scaled by the entries of `R`.
    Cols,
}

/// The plan for this orientation, if one fits.
fn plan<T>(p: &Product<'_, T>) -> Option<Plan> {
    let (m, k, n) = (p.d.rows, p.l.cols, p.d.cols);
    if k <= THIN && p.d.row_stride == 1 && m * k <= CAP {
        Some(Plan::Inner)
    } else if m <= THIN && p.r.row_stride == 1 && m * k <= CAP {
        Some(Plan::Rows)
    } else if n <= THIN && p.l.row_stride == 1 && m * n <= CAP {
        Some(Plan::Cols)
    } else {
        None
    }
}

/// `dst (+)= lhs · rhs` when a dimension is tiny and the layouts suit one
/// of the loops here; `false` (nothing written) otherwise. The caller has
/// checked shapes and extents, and that no dimension is zero.
pub(crate) fn thin_matmul<T: Element>(
    dst: &mut [T],
    d: Layout,
    lhs: &[T],
    l: Layout,
    rhs: &[T],
    r: Layout,
    accumulate: bool,
) -> bool {
    if d.rows.min(d.cols).min(l.cols) > THIN {
        return false;
    }
    let p = Product {
        dst,
        d,
        lhs,
        l,
        rhs,
        r,
        accumulate,
    };
    let (p, plan) = match plan(&p) {
        Some(plan) => (p, plan),
        None => {
            let t = p.transposed();
            match plan(&t) {
                Some(plan) => (t, plan),
                None => return false,
            }
        }
    };
    dispatch(p, plan);
    true
}

/// Runs `plan` compiled for the best instruction set the CPU has.
fn dispatch<T: Element>(p: Product<'_, T>, plan: Plan) {
    struct Op<'a, T> {
        p: Product<'a, T>,
        plan: Plan,
    }
    impl<T: Element> WithSimd for Op<'_, T> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let p = self.p;
            match self.plan {
                Plan::Inner => match p.l.cols {
                    0 => inner::<T, S, 0>(simd, p),
                    1 => inner::<T, S, 1>(simd, p),
                    2 => inner::<T, S, 2>(simd, p),
                    3 => inner::<T, S, 3>(simd, p),
                    _ => inner::<T, S, 4>(simd, p),
                },
                Plan::Rows => rows(simd, p),
                Plan::Cols => match p.d.cols {
                    1 => cols::<T, S, 1>(simd, p),
                    2 => cols::<T, S, 2>(simd, p),
                    3 => cols::<T, S, 3>(simd, p),
                    _ => cols::<T, S, 4>(simd, p),
                },
            }
        }
    }
    Arch::new().dispatch(Op { p, plan })
}

/// [`Plan::Inner`] with inner dimension `K`: `D(:, j) (+)= Σ_q L(:, q) R(q, j)`.
#[inline(always)]
fn inner<T: Element, S: Simd, const K: usize>(simd: S, p: Product<'_, T>) {
    let m = p.d.rows;
    let mut packed = [T::default(); CAP];
    for q in 0..K {
        for i in 0..m {
            packed[q * m + i] = p.lhs[p.l.at(i, q)];
        }
    }
    for j in 0..p.d.cols {
        let start = j * p.d.col_stride;
        let out = &mut p.dst[start..start + m];
        if !p.accumulate {
            out.fill(T::default());
        }
        let c: [T; K] = std::array::from_fn(|q| p.rhs[p.r.at(q, j)]);
        let cols: [&[T]; K] = std::array::from_fn(|q| &packed[q * m..(q + 1) * m]);
        T::combine(simd, cols, c, out);
    }
}

/// [`Plan::Rows`]: `D(i, j) (+)= L(i, :) · R(:, j)`.
#[inline(always)]
fn rows<T: Element, S: Simd>(simd: S, p: Product<'_, T>) {
    let (m, k) = (p.d.rows, p.l.cols);
    let mut packed = [T::default(); CAP];
    for i in 0..m {
        for q in 0..k {
            packed[i * k + q] = p.lhs[p.l.at(i, q)];
        }
    }
    for j in 0..p.d.cols {
        let start = j * p.r.col_stride;
        let col = &p.rhs[start..start + k];
        for i in 0..m {
            let sum = T::dot(simd, &packed[i * k..(i + 1) * k], col);
            let at = p.d.at(i, j);
            p.dst[at] = if p.accumulate { p.dst[at] + sum } else { sum };
        }
    }
}

/// [`Plan::Cols`] with `N` columns: `D(:, j) (+)= Σ_q L(:, q) R(q, j)`,
/// `D` gathered into contiguous columns and written back.
#[inline(always)]
fn cols<T: Element, S: Simd, const N: usize>(simd: S, p: Product<'_, T>) {
    let m = p.d.rows;
    let mut packed = [T::default(); CAP];
    if p.accumulate {
        for j in 0..N {
            for i in 0..m {
                packed[j * m + i] = p.dst[p.d.at(i, j)];
            }
        }
    }
    let (l, r, rhs) = (p.l, p.r, p.rhs);
    T::gather_cols::<S, N>(
        simd,
        l.cols,
        |q| q * l.col_stride,
        p.lhs,
        |q, j| rhs[r.at(q, j)],
        &mut packed[..N * m],
        m,
    );
    for j in 0..N {
        for i in 0..m {
            p.dst[p.d.at(i, j)] = packed[j * m + i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::matmul::stored_in;
    use super::*;

    /// Every combination of storage orders and tiny dimensions, against
    /// the textbook triple loop.
    #[test]
    fn thin_products_agree_with_the_triple_loop() {
        let shapes = [
            (64, 2, 37),
            (2, 64, 37),
            (64, 37, 2),
            (3, 1, 5),
            (1, 33, 4),
            (17, 4, 1),
            (4, 4, 4),
            (5, 0, 3),
        ];
        let mut checked = 0;
        for (m, k, n) in shapes {
            for (dl, ll, rl) in layouts(m, k, n) {
                let a: Vec<f64> = (0..m * k).map(|v| (v as f64 * 0.37).sin()).collect();
                let b: Vec<f64> = (0..k * n).map(|v| (v as f64 * 0.91).cos()).collect();
                let (sa, sb) = (stored_in(&a, ll), stored_in(&b, rl));
                for accumulate in [false, true] {
                    let mut c = vec![0.5; m * n];
                    let ran = thin_matmul(&mut c, dl, &sa, ll, &sb, rl, accumulate);
                    let mut c32 = vec![0.5f32; m * n];
                    let sa32: Vec<f32> = sa.iter().map(|&x| x as f32).collect();
                    let sb32: Vec<f32> = sb.iter().map(|&x| x as f32).collect();
                    let ran32 = thin_matmul(&mut c32, dl, &sa32, ll, &sb32, rl, accumulate);
                    assert_eq!(ran, ran32);
                    if !ran {
                        continue;
                    }
                    checked += 1;
                    for i in 0..m {
                        for j in 0..n {
                            let want = (0..k).map(|q| a[i * k + q] * b[q * n + j]).sum::<f64>()
                                + if accumulate { 0.5 } else { 0.0 };
                            let got = c[dl.at(i, j)];
                            assert!(
                                (got - want).abs() < 1e-13,
                                "{m}×{k}×{n} {dl:?} {ll:?} {rl:?}"
                            );
                            let got32 = c32[dl.at(i, j)] as f64;
                            assert!((got32 - want).abs() < 1e-5, "f32 {m}×{k}×{n}");
                        }
                    }
                }
            }
        }
        // Each shape has a tiny dimension, so most layouts find a loop.
        assert!(checked > 60, "only {checked} products took a thin loop");
    }

    /// The network's own products (layers 2→64 and 64→2 over a batch) all
    /// take a thin loop.
    #[test]
    fn a_dense_layers_products_take_a_thin_loop() {
        let (i, o, b) = (2, 64, 256);
        for (i, o) in [(i, o), (o, i)] {
            let w = vec![0.1f32; o * i];
            let x = vec![0.2f32; i * b];
            let z = vec![0.3f32; o * b];
            let (zl, xl, wl) = (
                Layout::col_major(o, b),
                Layout::col_major(i, b),
                Layout::row_major(o, i),
            );
            let mut out = vec![0.0f32; o * b];
            assert!(thin_matmul(&mut out, zl, &w, wl, &x, xl, true));
            let mut wbar = vec![0.0f32; o * i];
            assert!(thin_matmul(&mut wbar, wl, &z, zl, &x, xl.t(), true));
            let mut xbar = vec![0.0f32; i * b];
            assert!(thin_matmul(&mut xbar, xl, &w, wl.t(), &z, zl, false));
        }
    }

    fn layouts(m: usize, k: usize, n: usize) -> Vec<(Layout, Layout, Layout)> {
        let mut out = Vec::new();
        for d in [Layout::col_major(m, n), Layout::row_major(m, n)] {
            for l in [Layout::col_major(m, k), Layout::row_major(m, k)] {
                for r in [Layout::col_major(k, n), Layout::row_major(k, n)] {
                    out.push((d, l, r));
                }
            }
        }
        out
    }
}
