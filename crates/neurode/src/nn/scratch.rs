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

thread_local! {
    /// Buffers lent by [`ThreadScratch`] on this thread, one per scalar
    /// type and nesting depth in use.
    static POOL: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// A [`Scratch`] that holds nothing itself, so a function keeping one is
/// `Sync` and can serve an ensemble's threads at once: each thread borrows
/// a buffer from its own pool (a nested call borrows another), and the
/// steady state allocates nothing.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ThreadScratch;

impl ThreadScratch {
    /// Runs `f` on `len` numbers of type `T` (contents unspecified).
    pub(crate) fn with<T: Scalar, R>(&self, len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
        let lent = POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            let at = pool.iter().position(|b| b.is::<Vec<T>>())?;
            Some(pool.swap_remove(at))
        });
        let mut buf = lent
            .and_then(|b| b.downcast::<Vec<T>>().ok())
            .unwrap_or_default();
        if buf.len() < len {
            buf.resize(len, T::zero());
        }
        let result = f(&mut buf[..len]);
        POOL.with(|pool| pool.borrow_mut().push(buf));
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_borrows_get_their_own_buffers_and_keep_them() {
        let s = ThreadScratch;
        s.with::<f64, _>(3, |a| {
            a.fill(1.0);
            s.with::<f64, _>(2, |b| {
                b.fill(2.0);
            });
            assert_eq!(a, &[1.0; 3]);
        });
        // Both buffers went back to the pool and are lent again.
        let pooled = POOL.with(|p| p.borrow().len());
        s.with::<f64, _>(3, |_| s.with::<f32, _>(1, |_| ()));
        assert_eq!(POOL.with(|p| p.borrow().len()), pooled + 1);
    }
}
