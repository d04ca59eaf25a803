//! How state-sized vectors are stored inside a solve.
//!
//! A solve with a handful of states spends most of its time moving numbers
//! through memory between stages. When the size is known at compile time
//! ([`Fixed`]) the working vectors are plain arrays that the compiler keeps
//! in registers; otherwise ([`Dyn`]) they live on the heap. The integrator
//! picks [`Fixed`] for small systems by itself; this is an implementation
//! detail that methods see only as `Dim`.

use std::fmt::Debug;

use crate::scalar::Scalar;

/// A storage strategy for vectors of one solve's state size.
pub trait Dim: Copy + Debug + Send + Sync + 'static {
    /// A vector of the state's size.
    type Vector<T: Scalar>: AsRef<[T]> + AsMut<[T]> + Clone + Debug;

    /// The state size.
    fn size(self) -> usize;

    /// A vector of zeros of the state's size.
    fn zeros<T: Scalar>(self) -> Self::Vector<T>;

    /// A vector that will never be used (no allocation where that matters).
    fn unused<T: Scalar>(self) -> Self::Vector<T>;

    /// A vector holding a copy of `v` (which has the state's size).
    fn copy_of<T: Scalar>(self, v: &[T]) -> Self::Vector<T> {
        let mut out = self.zeros();
        out.as_mut().copy_from_slice(v);
        out
    }
}

/// Heap storage for a size known only at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dyn(pub usize);

impl Dim for Dyn {
    type Vector<T: Scalar> = Vec<T>;
    #[inline(always)]
    fn size(self) -> usize {
        self.0
    }
    fn zeros<T: Scalar>(self) -> Vec<T> {
        vec![T::zero(); self.0]
    }
    fn unused<T: Scalar>(self) -> Vec<T> {
        Vec::new()
    }
}

/// Inline storage for a size fixed at compile time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed<const N: usize>;

impl<const N: usize> Dim for Fixed<N> {
    type Vector<T: Scalar> = [T; N];
    #[inline(always)]
    fn size(self) -> usize {
        N
    }
    #[inline(always)]
    fn zeros<T: Scalar>(self) -> [T; N] {
        [T::zero(); N]
    }
    #[inline(always)]
    fn unused<T: Scalar>(self) -> [T; N] {
        [T::zero(); N]
    }
}
