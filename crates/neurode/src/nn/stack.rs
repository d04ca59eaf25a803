//! Two layers in sequence, any kinds: how an ODE layer sits between dense
//! ones (`Dense → NeuralOde → Dense`).

use super::init::NnRng;
use super::layer::Layer;
use crate::scalar::Scalar;

/// `B ∘ A`: `A`'s parameters first, then `B`'s.
///
/// ```
/// use neurode::nn::{Activation::*, Dense, Layer, Stack};
/// let net = Stack(Dense::new(2, 8, Tanh), Dense::new(8, 1, Identity));
/// assert_eq!((net.in_dim(), net.out_dim(), net.num_params()), (2, 1, 24 + 9));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Stack<A, B>(pub A, pub B);

impl<A: Layer, B: Layer> Layer for Stack<A, B> {
    fn in_dim(&self) -> usize {
        self.0.in_dim()
    }
    fn out_dim(&self) -> usize {
        self.1.out_dim()
    }
    fn num_params(&self) -> usize {
        self.0.num_params() + self.1.num_params()
    }
    /// `A`'s output, `A`'s tape, `B`'s tape.
    fn tape_len(&self) -> usize {
        self.0.out_dim() + self.0.tape_len() + self.1.tape_len()
    }
    /// The adjoint of `A`'s output, then room for either layer.
    fn scratch_len(&self) -> usize {
        self.0.out_dim() + self.0.scratch_len().max(self.1.scratch_len())
    }
    fn init(&self, rng: &mut NnRng, p: &mut [f64]) {
        let (pa, pb) = p.split_at_mut(self.0.num_params());
        self.0.init(rng, pa);
        self.1.init(rng, pb);
    }

    fn forward<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], tape: &mut [T]) {
        let (pa, pb) = p.split_at(self.0.num_params());
        let (mid, rest) = tape.split_at_mut(self.0.out_dim());
        let (ta, tb) = rest.split_at_mut(self.0.tape_len());
        self.0.forward(pa, x, mid, ta);
        self.1.forward(pb, mid, y, tb);
    }

    fn backward<T: Scalar>(
        &self,
        p: &[T],
        x: &[T],
        tape: &[T],
        ybar: &[T],
        xbar: &mut [T],
        pbar: &mut [T],
        scratch: &mut [T],
    ) {
        let (pa, pb) = p.split_at(self.0.num_params());
        let (pba, pbb) = pbar.split_at_mut(self.0.num_params());
        let (mid, rest) = tape.split_at(self.0.out_dim());
        let (ta, tb) = rest.split_at(self.0.tape_len());
        let (midbar, own) = scratch.split_at_mut(self.0.out_dim());
        self.1.backward(pb, mid, tb, ybar, midbar, pbb, own);
        self.0.backward(pa, x, ta, midbar, xbar, pba, own);
    }
}
