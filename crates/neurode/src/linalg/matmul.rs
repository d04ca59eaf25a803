//! Matrix products on strided slices, for batched layers: `f64` and `f32`
//! go to a direct loop when a dimension is tiny (see `thin`), otherwise to
//! an optimised kernel (the `gemm` crate, feature `gemm`); any other scalar
//! (dual numbers) to plain loops.

use crate::scalar::Scalar;

/// Where a matrix's elements sit in a slice: element `(i, j)` is at
/// `i * row_stride + j * col_stride`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance between consecutive rows.
    pub row_stride: usize,
    /// Distance between consecutive columns.
    pub col_stride: usize,
}

impl Layout {
    /// A `rows × cols` matrix stored column after column.
    pub const fn col_major(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            row_stride: 1,
            col_stride: rows,
        }
    }

    /// A `rows × cols` matrix stored row after row.
    pub const fn row_major(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The same storage read as the transposed matrix.
    pub const fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// The smallest slice length that holds every element.
    fn extent(self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
        }
    }

    /// Where element `(i, j)` sits.
    #[inline(always)]
    pub(crate) fn at(self, i: usize, j: usize) -> usize {
        i * self.row_stride + j * self.col_stride
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`.
///
/// # Panics
/// When the shapes do not chain or a slice is too short for its layout
/// (a bug in the caller, not a user input).
///
/// ```
/// use neurode::linalg::{matmul, Layout};
/// let a = [1.0, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]] row-major
/// let x = [1.0, 1.0];
/// let mut y = [0.0; 2];
/// matmul(&mut y, Layout::col_major(2, 1), &a, Layout::row_major(2, 2), &x, Layout::col_major(2, 1), false);
/// assert_eq!(y, [3.0, 7.0]);
/// ```
pub fn matmul<T: Scalar>(
    dst: &mut [T],
    d: Layout,
    lhs: &[T],
    l: Layout,
    rhs: &[T],
    r: Layout,
    accumulate: bool,
) {
    assert!(
        d.rows == l.rows && d.cols == r.cols && l.cols == r.rows,
        "matmul: shapes {d:?} = {l:?} · {r:?} do not chain"
    );
    assert!(
        dst.len() >= d.extent() && lhs.len() >= l.extent() && rhs.len() >= r.extent(),
        "matmul: a slice is shorter than its layout"
    );
    if T::gemm(dst, d, lhs, l, rhs, r, accumulate) {
        return;
    }
    for j in 0..d.cols {
        for i in 0..d.rows {
            let mut acc = if accumulate {
                dst[d.at(i, j)]
            } else {
                T::zero()
            };
            for k in 0..l.cols {
                acc += lhs[l.at(i, k)] * rhs[r.at(k, j)];
            }
            dst[d.at(i, j)] = acc;
        }
    }
}

/// The optimised kernel for `f64`/`f32`: `true` when it ran. The caller has
/// checked shapes and slice extents.
#[cfg(feature = "gemm")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_kernel<T: Copy + 'static>(
    dst: &mut [T],
    d: Layout,
    lhs: &[T],
    l: Layout,
    rhs: &[T],
    r: Layout,
    accumulate: bool,
    one: T,
    zero: T,
) -> bool {
    if d.rows == 0 || d.cols == 0 {
        return true;
    }
    // SAFETY: `matmul` asserted that every slice covers its layout's extent,
    // the strides are non-negative and `dst` does not alias the inputs
    // (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            d.rows,
            d.cols,
            l.cols,
            dst.as_mut_ptr(),
            d.col_stride as isize,
            d.row_stride as isize,
            accumulate,
            lhs.as_ptr(),
            l.col_stride as isize,
            l.row_stride as isize,
            rhs.as_ptr(),
            r.col_stride as isize,
            r.row_stride as isize,
            if accumulate { one } else { zero },
            one,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    true
}

/// A matrix given row after row, stored in `layout` (for tests).
#[cfg(test)]
pub(crate) fn stored_in(row_major: &[f64], layout: Layout) -> Vec<f64> {
    let mut out = vec![0.0; layout.extent()];
    for i in 0..layout.rows {
        for j in 0..layout.cols {
            out[layout.at(i, j)] = row_major[i * layout.cols + j];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_agrees_with_plain_loops() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|v| (v as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|v| (v as f64 * 0.91).cos()).collect();
        let expect = |i: usize, j: usize| (0..k).map(|q| a[i * k + q] * b[q * n + j]).sum::<f64>();
        for (la, lb) in [
            (Layout::row_major(m, k), Layout::row_major(k, n)),
            (Layout::col_major(k, m).t(), Layout::col_major(n, k).t()),
        ] {
            // Re-store `a` and `b` in the layouts under test.
            let (sa, sb) = (stored_in(&a, la), stored_in(&b, lb));
            let mut c = vec![1.0; m * n];
            let dl = Layout::col_major(m, n);
            matmul(&mut c, dl, &sa, la, &sb, lb, true);
            for i in 0..m {
                for j in 0..n {
                    assert!((c[dl.at(i, j)] - 1.0 - expect(i, j)).abs() < 1e-14);
                }
            }
            // Dual numbers take the plain path and must agree.
            use num_dual::Dual64;
            let da: Vec<Dual64> = sa.iter().map(|&v| Dual64::from_re(v)).collect();
            let db: Vec<Dual64> = sb.iter().map(|&v| Dual64::from_re(v)).collect();
            let mut dc = vec![Dual64::from_re(0.0); m * n];
            matmul(&mut dc, dl, &da, la, &db, lb, false);
            for (x, y) in dc.iter().zip(&c) {
                assert!((x.re - (y - 1.0)).abs() < 1e-14);
            }
        }
    }
}
