//! Dense square matrices and their LU factorisation, generic over [`Scalar`]
//! so Newton iterations run on dual numbers too.

use crate::scalar::Scalar;

/// A square matrix, stored column by column.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseMatrix<T> {
    n: usize,
    data: Vec<T>,
}

impl<T: Scalar> DenseMatrix<T> {
    /// The `n × n` zero matrix.
    pub fn zeros(n: usize) -> Self {
        Self {
            n,
            data: vec![T::zero(); n * n],
        }
    }

    /// The identity.
    pub fn identity(n: usize) -> Self {
        let mut m = Self::zeros(n);
        for i in 0..n {
            m[(i, i)] = T::one();
        }
        m
    }

    /// The matrix with entries `f(i, j)`.
    pub fn from_fn(n: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut m = Self::zeros(n);
        for j in 0..n {
            for i in 0..n {
                m[(i, j)] = f(i, j);
            }
        }
        m
    }

    /// Its size `n`.
    pub fn size(&self) -> usize {
        self.n
    }

    /// Column `j`.
    pub fn col(&self, j: usize) -> &[T] {
        &self.data[j * self.n..(j + 1) * self.n]
    }

    /// Column `j`, mutably.
    pub fn col_mut(&mut self, j: usize) -> &mut [T] {
        &mut self.data[j * self.n..(j + 1) * self.n]
    }

    /// All entries, column by column.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// All entries, column by column, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// `y = A x`.
    pub fn mul_vec(&self, x: &[T], y: &mut [T]) {
        y.fill(T::zero());
        for (j, &xj) in x.iter().enumerate() {
            for (yi, &a) in y.iter_mut().zip(self.col(j)) {
                *yi += a * xj;
            }
        }
    }
}

impl<T> std::ops::Index<(usize, usize)> for DenseMatrix<T> {
    type Output = T;
    #[inline]
    fn index(&self, (i, j): (usize, usize)) -> &T {
        &self.data[j * self.n + i]
    }
}

impl<T> std::ops::IndexMut<(usize, usize)> for DenseMatrix<T> {
    #[inline]
    fn index_mut(&mut self, (i, j): (usize, usize)) -> &mut T {
        &mut self.data[j * self.n + i]
    }
}

/// A matrix with a zero (or non-finite) pivot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Singular {
    /// The column where elimination broke down.
    pub column: usize,
}

/// `P A = L U` with partial pivoting on the real parts, factored in place in
/// storage allocated once, so refactoring inside a solve does not allocate.
#[derive(Clone, Debug)]
pub struct DenseLu<T> {
    lu: DenseMatrix<T>,
    pivots: Vec<usize>,
}

impl<T: Scalar> DenseLu<T> {
    /// Storage for `n × n` factorisations.
    pub fn new(n: usize) -> Self {
        Self {
            lu: DenseMatrix::zeros(n),
            pivots: vec![0; n],
        }
    }

    /// The matrix to be factored: fill it, then call [`factor`](Self::factor).
    pub fn matrix_mut(&mut self) -> &mut DenseMatrix<T> {
        &mut self.lu
    }

    /// Factors the matrix held in [`matrix_mut`](Self::matrix_mut), in place.
    pub fn factor(&mut self) -> Result<(), Singular> {
        let n = self.lu.n;
        let a = &mut self.lu.data;
        for k in 0..n {
            // Pivot: the largest magnitude in column k at or below the diagonal.
            let col = &a[k * n..(k + 1) * n];
            let mut p = k;
            let mut best = col[k].real().abs();
            for (i, x) in col.iter().enumerate().skip(k + 1) {
                let v = x.real().abs();
                if v > best {
                    best = v;
                    p = i;
                }
            }
            if best == 0.0 || !best.is_finite() {
                return Err(Singular { column: k });
            }
            self.pivots[k] = p;
            if p != k {
                for j in 0..n {
                    a.swap(j * n + k, j * n + p);
                }
            }
            let inv = a[k * n + k].recip();
            for x in &mut a[k * n + k + 1..(k + 1) * n] {
                *x *= inv;
            }
            let (left, right) = a.split_at_mut((k + 1) * n);
            let lcol = &left[k * n + k + 1..(k + 1) * n];
            for j in k + 1..n {
                let colj = &mut right[(j - k - 1) * n..(j - k) * n];
                let akj = colj[k];
                for (x, &l) in colj[k + 1..].iter_mut().zip(lcol) {
                    *x -= l * akj;
                }
            }
        }
        Ok(())
    }

    /// Copies `a` in and factors it.
    pub fn factor_from(&mut self, a: &DenseMatrix<T>) -> Result<(), Singular> {
        self.lu.data.copy_from_slice(&a.data);
        self.factor()
    }

    /// Solves `A x = b` in place (`b` becomes `x`).
    pub fn solve(&self, b: &mut [T]) {
        let n = self.lu.n;
        let a = &self.lu.data;
        for k in 0..n {
            b.swap(k, self.pivots[k]);
        }
        // L y = P b (unit diagonal), column-oriented.
        for k in 0..n {
            let bk = b[k];
            for (x, &l) in b[k + 1..].iter_mut().zip(&a[k * n + k + 1..(k + 1) * n]) {
                *x -= l * bk;
            }
        }
        // U x = y.
        for k in (0..n).rev() {
            b[k] /= a[k * n + k];
            let bk = b[k];
            for (x, &u) in b[..k].iter_mut().zip(&a[k * n..k * n + k]) {
                *x -= u * bk;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_dual::Dual64;

    #[test]
    fn solves_with_pivoting() {
        // Needs a row swap at the first step.
        let a = DenseMatrix::from_fn(3, |i, j| {
            [[0.0, 2.0, 1.0], [1.0, 1.0, 1.0], [4.0, -1.0, 3.0]][i][j]
        });
        let x = [1.0, -2.0, 3.0];
        let mut b = [0.0; 3];
        a.mul_vec(&x, &mut b);
        let mut lu = DenseLu::new(3);
        lu.factor_from(&a).unwrap();
        lu.solve(&mut b);
        for (bi, xi) in b.iter().zip(x) {
            assert!((bi - xi).abs() < 1e-14);
        }
    }

    #[test]
    fn random_systems_solve_to_round_off() {
        let mut seed = 12345u64;
        let mut rand = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for n in [1, 2, 5, 17, 40] {
            let a = DenseMatrix::from_fn(n, |_, _| rand());
            let x: Vec<f64> = (0..n).map(|_| rand()).collect();
            let mut b = vec![0.0; n];
            a.mul_vec(&x, &mut b);
            let mut lu = DenseLu::new(n);
            lu.factor_from(&a).unwrap();
            lu.solve(&mut b);
            let err = b
                .iter()
                .zip(&x)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-10, "n={n}: {err}");
        }
    }

    #[test]
    fn singular_is_reported() {
        let a = DenseMatrix::from_fn(2, |i, _| if i == 0 { 1.0 } else { 2.0 });
        let mut lu = DenseLu::new(2);
        assert_eq!(lu.factor_from(&a), Err(Singular { column: 1 }));
    }

    #[test]
    fn derivatives_flow_through_the_solve() {
        // A(p) x = b with A = [[p, 1], [1, 2]]: dx/dp at p = 3 against the analytic value.
        let p = Dual64::new(3.0, 1.0);
        let a = DenseMatrix::from_fn(2, |i, j| match (i, j) {
            (0, 0) => p,
            (1, 1) => Dual64::from_re(2.0),
            _ => Dual64::from_re(1.0),
        });
        let mut lu = DenseLu::new(2);
        lu.factor_from(&a).unwrap();
        let mut b = [Dual64::from_re(1.0), Dual64::from_re(0.0)];
        lu.solve(&mut b);
        // x0 = 2/(2p - 1): dx0/dp = -4/(2p-1)^2 = -4/25.
        assert!((b[0].re - 0.4).abs() < 1e-15);
        assert!((b[0].eps + 4.0 / 25.0).abs() < 1e-15);
    }
}
