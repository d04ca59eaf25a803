//! A layer as a right-hand side: `u' = NN(u; p)`, for one state or a batch
//! of states solved together, with the layer's analytic backward pass as
//! its vector–Jacobian product (what the adjoints use).

use super::layer::Layer;
use super::scratch::Scratch;
use crate::problem::OdeFunction;
use crate::scalar::Scalar;

/// `u' = NN(u; p)` for a layer whose input and output sizes agree. With a
/// batch, the state holds `batch` samples one after another and each evolves
/// under the same network.
#[derive(Clone, Debug)]
pub struct NeuralRhs<L> {
    layer: L,
    batch: usize,
    tape: Scratch,
    scratch: Scratch,
}

impl<L: Layer> NeuralRhs<L> {
    /// The right-hand side of one state (`layer.in_dim()` numbers).
    pub fn new(layer: L) -> Self {
        Self::batched(layer, 1)
    }

    /// The right-hand side of `batch` states side by side.
    pub fn batched(layer: L, batch: usize) -> Self {
        Self {
            layer,
            batch: batch.max(1),
            tape: Scratch::default(),
            scratch: Scratch::default(),
        }
    }

    /// The network.
    pub fn layer(&self) -> &L {
        &self.layer
    }

    /// The number of states solved together.
    pub fn batch(&self) -> usize {
        self.batch
    }
}

impl<L: Layer> OdeFunction for NeuralRhs<L> {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        let len = self.batch * self.layer.tape_len();
        self.tape
            .with::<T, _>(len, |tape| self.layer.forward_batch(p, u, du, tape));
    }

    fn num_states(&self) -> Option<usize> {
        Some(self.batch * self.layer.in_dim())
    }

    fn num_params(&self) -> Option<usize> {
        Some(self.layer.num_params())
    }

    fn vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        _t: T,
        vu: &mut [T],
        vp: &mut [T],
        vt: Option<&mut T>,
    ) -> bool {
        let (b, k) = (self.batch, self.layer.tape_len());
        let out = self.layer.out_dim();
        let need = b * k + b * out;
        vp.iter_mut().for_each(|x| *x = T::zero());
        self.tape.with::<T, _>(need, |buf| {
            let (tape, y) = buf.split_at_mut(b * k);
            self.layer.forward_batch(p, u, y, tape);
            self.scratch
                .with::<T, _>(self.layer.scratch_len(), |scratch| {
                    self.layer.backward_batch(p, u, tape, v, vu, vp, scratch)
                });
        });
        if let Some(vt) = vt {
            *vt = T::zero();
        }
        true
    }
}
