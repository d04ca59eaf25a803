//! Sparse LU (faer) for `f64` matrices with a fixed sparsity pattern: the
//! symbolic analysis (fill-reducing ordering, elimination structure) is done
//! once per solve, and each refactorisation reuses it and its memory.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::sparse::linalg::lu::{LuRef, NumericLu, SymbolicLu, factorize_symbolic_lu};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMat, SymbolicSparseColMatRef};
use faer::{Conj, MatMut, Par};

use super::dense::Singular;
use super::sparsity::SparsityPattern;

/// LU factors of sparse matrices sharing one pattern.
pub struct SparseLu {
    structure: SymbolicSparseColMat<usize>,
    symbolic: SymbolicLu<usize>,
    numeric: NumericLu<usize, f64>,
    values: Vec<f64>,
    factor_mem: MemBuffer,
    solve_mem: MemBuffer,
    factored: bool,
}

impl std::fmt::Debug for SparseLu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparseLu")
            .field("n", &self.structure.nrows())
            .field("nnz", &self.values.len())
            .finish()
    }
}

impl SparseLu {
    /// Analyses `pattern` (which must include the diagonal) once.
    pub fn new(pattern: &SparsityPattern) -> Result<Self, Singular> {
        let n = pattern.size();
        let symbolic_ref = SymbolicSparseColMatRef::new_checked(
            n,
            n,
            pattern.col_ptr(),
            None,
            pattern.row_indices(),
        );
        let structure = symbolic_ref
            .to_owned()
            .map_err(|_| Singular { column: 0 })?;
        let symbolic = factorize_symbolic_lu(symbolic_ref, Default::default())
            .map_err(|_| Singular { column: 0 })?;
        let factor_req = symbolic.factorize_numeric_lu_scratch::<f64>(Par::Seq, Default::default());
        let solve_req = symbolic.solve_in_place_scratch::<f64>(1, Par::Seq);
        Ok(Self {
            structure,
            symbolic,
            numeric: NumericLu::new(),
            values: vec![0.0; pattern.nnz()],
            factor_mem: MemBuffer::new(factor_req),
            solve_mem: MemBuffer::new(solve_req),
            factored: false,
        })
    }

    /// The matrix values, in the pattern's order: fill them, then [`factor`](Self::factor).
    pub fn values_mut(&mut self) -> &mut [f64] {
        &mut self.values
    }

    /// Factors the matrix held in [`values_mut`](Self::values_mut).
    pub fn factor(&mut self) -> Result<(), Singular> {
        let mat = SparseColMatRef::new(self.structure.as_ref(), &self.values);
        self.factored = false;
        self.symbolic
            .factorize_numeric_lu(
                &mut self.numeric,
                mat,
                Par::Seq,
                MemStack::new(&mut self.factor_mem),
                Default::default(),
            )
            .map_err(|_| Singular { column: 0 })?;
        self.factored = true;
        Ok(())
    }

    /// Solves `A x = b` in place.
    ///
    /// # Panics
    /// If called before a successful [`factor`](Self::factor).
    pub fn solve(&mut self, b: &mut [f64]) {
        assert!(self.factored, "SparseLu::solve before a successful factor");
        let n = b.len();
        let lu = LuRef::new_unchecked(&self.symbolic, &self.numeric);
        lu.solve_in_place_with_conj(
            Conj::No,
            MatMut::from_column_major_slice_mut(b, n, 1),
            Par::Seq,
            MemStack::new(&mut self.solve_mem),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::dense::{DenseLu, DenseMatrix};

    #[test]
    fn matches_the_dense_solve() {
        // A 2-D Laplacian-like matrix with a diagonal shift, 8×8 grid.
        let m = 8;
        let n = m * m;
        let idx = |i: usize, j: usize| i * m + j;
        let mut entries = Vec::new();
        for i in 0..m {
            for j in 0..m {
                let k = idx(i, j);
                entries.push((k, k));
                entries.push((idx((i + 1) % m, j), k));
                entries.push((idx((i + m - 1) % m, j), k));
                entries.push((idx(i, (j + 1) % m), k));
                entries.push((idx(i, (j + m - 1) % m), k));
            }
        }
        let pattern = SparsityPattern::from_entries(n, entries);
        let value = |r: usize, c: usize| {
            if r == c {
                5.0 + (r % 3) as f64
            } else {
                -1.0 - 0.01 * (r + c) as f64
            }
        };
        let mut lu = SparseLu::new(&pattern).unwrap();
        for j in 0..n {
            for (k, &i) in pattern.rows(j).iter().enumerate() {
                lu.values_mut()[pattern.col_ptr()[j] + k] = value(i, j);
            }
        }
        lu.factor().unwrap();
        let dense = DenseMatrix::from_fn(n, |i, j| {
            if pattern.contains(i, j) {
                value(i, j)
            } else {
                0.0
            }
        });
        let mut dlu = DenseLu::new(n);
        dlu.factor_from(&dense).unwrap();
        let b: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
        let (mut x1, mut x2) = (b.clone(), b);
        lu.solve(&mut x1);
        dlu.solve(&mut x2);
        let err = x1
            .iter()
            .zip(&x2)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-12, "{err}");
        // Refactor with new values, same pattern.
        for v in lu.values_mut() {
            *v *= 2.0;
        }
        lu.factor().unwrap();
        let mut x3: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
        lu.solve(&mut x3);
        assert!(x3.iter().zip(&x2).all(|(a, b)| (2.0 * a - b).abs() < 1e-12));
    }
}
