//! Working memory for functions called through `&self` with any scalar
//! type: a right-hand side keeps one buffer of the type it was last called
//! with, so its hot path (always the same type) never allocates.

use std::any::Any;
use std::cell::RefCell;

use crate::scalar::Scalar;

/// A reusable buffer of whatever scalar type asks for it.
#[derive(Default)]
pub(crate) struct Scratch(RefCell<Option<Box<dyn Any>>>);

impl Clone for Scratch {
    /// A clone starts with its own, empty buffer.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch")
    }
}

impl Scratch {
    /// Runs `f` on `len` numbers of type `T` (contents unspecified).
    pub(crate) fn with<T: Scalar, R>(&self, len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
        let Ok(mut cell) = self.0.try_borrow_mut() else {
            // Re-entered (a nested call): a temporary buffer.
            return f(&mut vec![T::zero(); len]);
        };
        let fits = cell
            .as_ref()
            .and_then(|b| b.downcast_ref::<Vec<T>>())
            .is_some_and(|v| v.len() >= len);
        if !fits {
            *cell = Some(Box::new(vec![T::zero(); len]));
        }
        let buf = cell
            .as_mut()
            .and_then(|b| b.downcast_mut::<Vec<T>>())
            .expect("buffer of type T");
        f(&mut buf[..len])
    }
}
