//! The iteration matrix `W = M - γh J` of implicit methods: the Jacobian
//! (dense, or sparse with a coloured AD evaluation), its LU factors (dense
//! on any scalar, sparse via faer on `f64`), and when to refresh either.

use crate::linalg::jacobian::{
    JacobianMethod, JacobianWork, dense_jacobian, sparse_jacobian, time_derivative,
};
use crate::linalg::{ColumnColoring, DenseLu, DenseMatrix, Singular, SparsityPattern};
use crate::methods::{Rhs, Setup};
#[cfg(feature = "sparse")]
use crate::problem::JacobianSparsity;
use crate::problem::{MassMatrix, OdeFunction};
use crate::scalar::Scalar;

/// Which part of `f` a Jacobian is taken of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The whole right-hand side.
    Full,
    /// The stiff part of a split right-hand side (IMEX methods).
    Stiff,
}

/// A right-hand side restricted to one [`Part`], so Jacobian code sees one function.
struct PartOf<'a, F> {
    f: &'a F,
    part: Part,
}

impl<F: OdeFunction> OdeFunction for PartOf<'_, F> {
    #[inline]
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        match self.part {
            Part::Full => self.f.rhs(du, u, p, t),
            Part::Stiff => self.f.rhs_stiff(du, u, p, t),
        }
    }
    fn jacobian<T: Scalar>(&self, jac: &mut DenseMatrix<T>, u: &[T], p: &[T], t: T) -> bool {
        self.part == Part::Full && self.f.jacobian(jac, u, p, t)
    }
}

/// Sparse storage: `J` and `W` share one pattern (that of `J`, `M` and the diagonal).
struct SparseParts<T> {
    pattern: SparsityPattern,
    coloring: ColumnColoring,
    jac: Vec<T>,
    #[cfg(feature = "sparse")]
    lu: crate::linalg::SparseLu,
    #[cfg(not(feature = "sparse"))]
    lu: NoSparseLu,
}

/// Without the `sparse` feature no sparse storage is ever built; this
/// uninhabited stand-in lets the code that would use it compile, provably
/// unreachable.
#[cfg(not(feature = "sparse"))]
enum NoSparseLu {}

#[cfg(not(feature = "sparse"))]
impl NoSparseLu {
    fn values_mut(&mut self) -> &mut [f64] {
        match *self {}
    }
    fn factor(&mut self) -> Result<(), Singular> {
        match *self {}
    }
    fn solve(&mut self, _b: &mut [f64]) {
        match *self {}
    }
}

enum Storage<T: Scalar> {
    Dense {
        jac: DenseMatrix<T>,
        lu: DenseLu<T>,
    },
    #[cfg_attr(not(feature = "sparse"), allow(dead_code))]
    Sparse(Box<SparseParts<T>>),
}

/// `W = M - γh J` with its factors, built once per solve.
pub struct WOperator<T: Scalar> {
    n: usize,
    storage: Storage<T>,
    work: JacobianWork<T>,
    method: JacobianMethod,
    part: Part,
    /// `γh` of the current factors (`None`: not factored yet).
    factored_gamma_dt: Option<f64>,
    /// The Jacobian was evaluated at the current step's starting point.
    pub jacobian_fresh: bool,
}

impl<T: Scalar> WOperator<T> {
    /// Sets up for the problem: dense storage, or sparse storage (with a
    /// detected or given pattern) when the problem asks for it and the
    /// scalar is `f64`; other scalars fall back to dense.
    pub fn new<F: OdeFunction>(setup: &Setup<'_, F, T>, part: Part) -> Self {
        let n = setup.u0.len();
        let storage = Self::sparse_storage(setup, part).unwrap_or_else(|| Storage::Dense {
            jac: DenseMatrix::zeros(n),
            lu: DenseLu::new(n),
        });
        Self {
            n,
            storage,
            work: JacobianWork::new(n, setup.p.len()),
            method: setup.opts.jacobian,
            part,
            factored_gamma_dt: None,
            jacobian_fresh: false,
        }
    }

    #[cfg(feature = "sparse")]
    fn sparse_storage<F: OdeFunction>(setup: &Setup<'_, F, T>, part: Part) -> Option<Storage<T>> {
        let n = setup.u0.len();
        // Sparse LU works on f64 only.
        T::as_f64_slice_mut(&mut [])?;
        let base = match setup.sparsity {
            JacobianSparsity::Dense => return None,
            JacobianSparsity::Pattern(p) => p.clone(),
            JacobianSparsity::Detect => {
                let u: Vec<f64> = setup.u0.iter().map(|x| x.real()).collect();
                let p: Vec<f64> = setup.p.iter().map(|x| x.real()).collect();
                SparsityPattern::detect(&PartOf { f: setup.f, part }, &u, &p, setup.t0.real())
            }
        };
        let mass_entries = (0..n).flat_map(|j| (0..n).map(move |i| (i, j)));
        let extra = SparsityPattern::from_entries(
            n,
            mass_entries
                .filter(|&(i, j)| i == j || setup.mass.structurally_nonzero(i, j))
                .collect::<Vec<_>>(),
        );
        let pattern = base.union(&extra);
        let coloring = pattern.color_columns();
        let lu = crate::linalg::SparseLu::new(&pattern).ok()?;
        Some(Storage::Sparse(Box::new(SparseParts {
            jac: vec![T::zero(); pattern.nnz()],
            pattern,
            coloring,
            lu,
        })))
    }

    #[cfg(not(feature = "sparse"))]
    fn sparse_storage<F: OdeFunction>(_setup: &Setup<'_, F, T>, _part: Part) -> Option<Storage<T>> {
        None
    }

    /// True when `W` is sparse.
    pub fn is_sparse(&self) -> bool {
        matches!(self.storage, Storage::Sparse(_))
    }

    /// Evaluates `J = ∂f/∂u` at `(t, u)`.
    pub fn update_jacobian<F: OdeFunction>(&mut self, rhs: &mut Rhs<F, T>, u: &[T], t: T) {
        let f = PartOf {
            f: rhs.function(),
            part: self.part,
        };
        let p = rhs.params();
        let cost = match &mut self.storage {
            Storage::Dense { jac, .. } => {
                dense_jacobian(&f, u, p, t, self.method, jac, &mut self.work)
            }
            Storage::Sparse(s) => sparse_jacobian(
                &f,
                u,
                p,
                t,
                self.method,
                &s.pattern,
                &s.coloring,
                &mut s.jac,
                &mut self.work,
            ),
        };
        rhs.add_evals(cost.f_evals);
        rhs.jacobians += 1;
        self.jacobian_fresh = true;
        self.factored_gamma_dt = None;
    }

    /// `∂f/∂t` at `(t, u)` into `out` (Rosenbrock methods).
    pub fn time_derivative<F: OdeFunction>(
        &mut self,
        rhs: &Rhs<F, T>,
        u: &[T],
        t: T,
        out: &mut [T],
    ) {
        let f = PartOf {
            f: rhs.function(),
            part: self.part,
        };
        time_derivative(&f, u, rhs.params(), t, out, &mut self.work);
    }

    /// `γh` of the current factors, if any.
    pub fn factored_gamma_dt(&self) -> Option<f64> {
        self.factored_gamma_dt
    }

    /// Forms `W = M - γh J` and factors it.
    pub fn factor<F: OdeFunction>(
        &mut self,
        rhs: &mut Rhs<F, T>,
        mass: &MassMatrix,
        gamma_dt: T,
    ) -> Result<(), Singular> {
        rhs.factorizations += 1;
        self.factored_gamma_dt = None;
        let n = self.n;
        match &mut self.storage {
            Storage::Dense { jac, lu } => {
                let w = lu.matrix_mut();
                for j in 0..n {
                    for (i, (wij, &jij)) in w.col_mut(j).iter_mut().zip(jac.col(j)).enumerate() {
                        *wij = T::cst(mass.entry(i, j)) - gamma_dt * jij;
                    }
                }
                lu.factor()?;
            }
            Storage::Sparse(s) => {
                let g = gamma_dt.real();
                for j in 0..n {
                    let start = s.pattern.col_ptr()[j];
                    for (k, &i) in s.pattern.rows(j).iter().enumerate() {
                        s.lu.values_mut()[start + k] =
                            mass.entry(i, j) - g * s.jac[start + k].real();
                    }
                }
                s.lu.factor()?;
            }
        }
        self.factored_gamma_dt = Some(gamma_dt.real());
        Ok(())
    }

    /// Solves `W x = b` in place.
    pub fn solve<F: OdeFunction>(&mut self, rhs: &mut Rhs<F, T>, b: &mut [T]) {
        rhs.solves += 1;
        match &mut self.storage {
            Storage::Dense { lu, .. } => lu.solve(b),
            Storage::Sparse(s) => {
                let b64 = T::as_f64_slice_mut(b).expect("sparse storage is only built for f64");
                s.lu.solve(b64);
            }
        }
    }

    /// `‖J‖∞`, the largest absolute row sum: a bound on the spectral radius.
    pub fn jacobian_inf_norm(&self) -> f64 {
        match &self.storage {
            Storage::Dense { jac, .. } => (0..self.n)
                .map(|i| (0..self.n).map(|j| jac[(i, j)].real().abs()).sum::<f64>())
                .fold(0.0, f64::max),
            Storage::Sparse(s) => {
                let mut rows = vec![0.0_f64; self.n];
                for j in 0..self.n {
                    let start = s.pattern.col_ptr()[j];
                    for (k, &i) in s.pattern.rows(j).iter().enumerate() {
                        rows[i] += s.jac[start + k].real().abs();
                    }
                }
                rows.into_iter().fold(0.0, f64::max)
            }
        }
    }

    /// `J x` (used by some error estimates and tests).
    pub fn jacobian_times(&self, x: &[T], out: &mut [T]) {
        match &self.storage {
            Storage::Dense { jac, .. } => jac.mul_vec(x, out),
            Storage::Sparse(s) => {
                out.fill(T::zero());
                for (j, &xj) in x.iter().enumerate() {
                    let start = s.pattern.col_ptr()[j];
                    for (k, &i) in s.pattern.rows(j).iter().enumerate() {
                        out[i] += xj * s.jac[start + k];
                    }
                }
            }
        }
    }
}
