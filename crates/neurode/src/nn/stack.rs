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
        self.batch_scratch_len(1)
    }
    fn batch_scratch_len(&self, batch: usize) -> usize {
        let own = self
            .0
            .batch_scratch_len(batch)
            .max(self.1.batch_scratch_len(batch));
        batch.max(1) * self.0.out_dim() + own
    }
    fn init(&self, rng: &mut NnRng, p: &mut [f64]) {
        let (pa, pb) = p.split_at_mut(self.0.num_params());
        self.0.init(rng, pa);
        self.1.init(rng, pb);
    }

    fn forward<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], tape: &mut [T]) {
        self.run_forward(p, x, y, tape, 1);
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
        self.run_backward(p, x, tape, ybar, xbar, pbar, scratch, 1);
    }

    fn forward_batch<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], tape: &mut [T]) {
        self.run_forward(p, x, y, tape, x.len() / self.in_dim().max(1));
    }

    fn backward_batch<T: Scalar>(
        &self,
        p: &[T],
        x: &[T],
        tape: &[T],
        ybar: &[T],
        xbar: &mut [T],
        pbar: &mut [T],
        scratch: &mut [T],
    ) {
        let batch = x.len() / self.in_dim().max(1);
        self.run_backward(p, x, tape, ybar, xbar, pbar, scratch, batch);
    }
}

impl<A: Layer, B: Layer> Stack<A, B> {
    /// Both layers over `batch` samples; the tape holds `A`'s output, `A`'s
    /// tape, then `B`'s, each for the whole batch.
    fn run_forward<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], tape: &mut [T], batch: usize) {
        let (pa, pb) = p.split_at(self.0.num_params());
        let (mid, rest) = tape.split_at_mut(batch * self.0.out_dim());
        let (ta, tb) = rest.split_at_mut(batch * self.0.tape_len());
        self.0.forward_batch(pa, x, mid, ta);
        self.1.forward_batch(pb, mid, y, tb);
    }

    #[allow(clippy::too_many_arguments)]
    fn run_backward<T: Scalar>(
        &self,
        p: &[T],
        x: &[T],
        tape: &[T],
        ybar: &[T],
        xbar: &mut [T],
        pbar: &mut [T],
        scratch: &mut [T],
        batch: usize,
    ) {
        let (pa, pb) = p.split_at(self.0.num_params());
        let (pba, pbb) = pbar.split_at_mut(self.0.num_params());
        let (mid, rest) = tape.split_at(batch * self.0.out_dim());
        let (ta, tb) = rest.split_at(batch * self.0.tape_len());
        let (midbar, own) = scratch.split_at_mut(batch * self.0.out_dim());
        self.1.backward_batch(pb, mid, tb, ybar, midbar, pbb, own);
        self.0.backward_batch(pa, x, ta, midbar, xbar, pba, own);
    }
}
