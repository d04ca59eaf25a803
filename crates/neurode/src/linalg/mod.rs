//! Linear algebra for implicit methods: dense LU on any [`Scalar`](crate::Scalar),
//! sparsity patterns with automatic detection and column colouring, and
//! (feature `sparse`) sparse LU for `f64`; matrix products for batched
//! layers.

pub mod dense;
pub mod jacobian;
pub mod matmul;
#[cfg(feature = "sparse")]
pub mod sparse_lu;
pub mod sparsity;
#[cfg(feature = "gemm")]
pub(crate) mod thin;

pub use dense::{DenseLu, DenseMatrix, Singular};
pub use matmul::{Layout, matmul};
#[cfg(feature = "sparse")]
pub use sparse_lu::SparseLu;
pub use sparsity::{ColumnColoring, SparsityPattern, Tracer};
