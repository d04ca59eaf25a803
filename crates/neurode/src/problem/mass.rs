//! Mass matrices: problems `M u' = f(u, p, t)`, including differential-
//! algebraic ones where `M` is singular.

use crate::error::Error;
use crate::linalg::DenseMatrix;
use crate::scalar::Scalar;

/// The constant matrix `M` of `M u' = f(u, p, t)`.
///
/// A singular `M` makes the problem a DAE: with a diagonal `M`, a zero on the
/// diagonal marks an algebraic equation `0 = f_i(u, p, t)`. Only implicit
/// methods (Rosenbrock, BDF) solve problems with a mass matrix.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum MassMatrix {
    /// `M = I`: an ordinary differential equation.
    #[default]
    Identity,
    /// A diagonal `M`; zeros mark algebraic equations.
    Diagonal(Vec<f64>),
    /// A general constant `M`.
    Dense(DenseMatrix<f64>),
}

impl MassMatrix {
    /// True for the identity.
    pub fn is_identity(&self) -> bool {
        matches!(self, MassMatrix::Identity)
    }

    /// Entry `(i, j)`.
    pub fn entry(&self, i: usize, j: usize) -> f64 {
        match self {
            MassMatrix::Identity => f64::from(u8::from(i == j)),
            MassMatrix::Diagonal(d) => {
                if i == j {
                    d[i]
                } else {
                    0.0
                }
            }
            MassMatrix::Dense(m) => m[(i, j)],
        }
    }

    /// `out = M x`.
    pub fn apply<T: Scalar>(&self, x: &[T], out: &mut [T]) {
        match self {
            MassMatrix::Identity => out.copy_from_slice(x),
            MassMatrix::Diagonal(d) => {
                for ((o, &xi), &di) in out.iter_mut().zip(x).zip(d) {
                    *o = xi.scaled(di);
                }
            }
            MassMatrix::Dense(m) => {
                out.fill(T::zero());
                for (j, &xj) in x.iter().enumerate() {
                    for (o, &mij) in out.iter_mut().zip(m.col(j)) {
                        if mij != 0.0 {
                            *o += xj.scaled(mij);
                        }
                    }
                }
            }
        }
    }

    /// Indices of algebraic equations (zero rows of a diagonal `M`).
    pub fn algebraic(&self) -> Vec<usize> {
        match self {
            MassMatrix::Diagonal(d) => (0..d.len()).filter(|&i| d[i] == 0.0).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the `(i, j)` entry can be nonzero.
    pub fn structurally_nonzero(&self, i: usize, j: usize) -> bool {
        self.entry(i, j) != 0.0
    }

    pub(crate) fn validate(&self, n: usize) -> Result<(), Error> {
        match self {
            MassMatrix::Identity => Ok(()),
            MassMatrix::Diagonal(d) => {
                crate::error::check_len("mass matrix diagonal", d, n)?;
                crate::error::check_finite("mass matrix diagonal", d)
            }
            MassMatrix::Dense(m) => {
                if m.size() != n {
                    return Err(Error::WrongLength {
                        what: "mass matrix",
                        got: m.size(),
                        expected: n,
                    });
                }
                crate::error::check_finite("mass matrix", m.as_slice())
            }
        }
    }
}

/// Where the structure of `∂f/∂u` comes from.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum JacobianSparsity {
    /// A dense Jacobian (right for small systems).
    #[default]
    Dense,
    /// This pattern (it must cover every entry that can be nonzero).
    Pattern(crate::linalg::SparsityPattern),
    /// Detect the pattern by tracing `f` once at the start of a solve.
    Detect,
}
