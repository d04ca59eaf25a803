//! Neural delay equations: `u'(t) = NN([u(t); u(t − τ)])`, the network
//! seeing the state now and one lag ago, as a delay right-hand side (its
//! gradients come from [`DdeProblem::loss_and_gradient`]).
//!
//! [`DdeProblem::loss_and_gradient`]: crate::dde::DdeProblem::loss_and_gradient

use super::layer::Layer;
use super::scratch::Scratch;
use crate::dde::{DdeFunction, History};
use crate::error::Error;
use crate::scalar::Scalar;

/// `u' = NN([u(t); u(t − lag)])` with a constant history before `t0`.
#[derive(Clone, Debug)]
pub struct NeuralDde<L> {
    layer: L,
    lag: f64,
    history: Vec<f64>,
    tape: Scratch,
    input: Scratch,
    /// The backward pass's buffers (in `f64`, apart from the replays' duals).
    backward: Scratch,
}

impl<L: Layer> NeuralDde<L> {
    /// `layer` maps `2n` inputs (state, delayed state) to `n`; `history` is
    /// the state before `t0`.
    pub fn new(layer: L, lag: f64, history: Vec<f64>) -> Result<Self, Error> {
        let n = history.len();
        if layer.in_dim() != 2 * n || layer.out_dim() != n {
            return Err(Error::WrongLength {
                what: "neural DDE network (2n inputs to n outputs)",
                got: layer.in_dim(),
                expected: 2 * n,
            });
        }
        Ok(Self {
            layer,
            lag,
            history,
            tape: Scratch::default(),
            input: Scratch::default(),
            backward: Scratch::default(),
        })
    }

    /// The lag, for [`DdeProblem::new`](crate::dde::DdeProblem::new).
    pub fn lag(&self) -> f64 {
        self.lag
    }

    /// The network.
    pub fn layer(&self) -> &L {
        &self.layer
    }
}

impl<L: Layer> DdeFunction for NeuralDde<L> {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], h: &dyn History<T>, p: &[T], t: T) {
        let n = u.len();
        self.input.with::<T, _>(2 * n, |input| {
            input[..n].copy_from_slice(u);
            h.at(t - T::cst(self.lag), &mut input[n..]);
            self.tape.with::<T, _>(self.layer.tape_len(), |tape| {
                self.layer.forward(p, input, du, tape)
            });
        });
    }
    /// The network's backward pass (the lag does not depend on `p`).
    fn vjp_p(
        &self,
        v: &[f64],
        u: &[f64],
        h: &dyn History<f64>,
        p: &[f64],
        t: f64,
        vp: &mut [f64],
    ) -> bool {
        let n = u.len();
        let (k, s) = (self.layer.tape_len(), self.layer.scratch_len());
        self.backward.with::<f64, _>(5 * n + k + s, |buf| {
            let (input, rest) = buf.split_at_mut(2 * n);
            let (xbar, rest) = rest.split_at_mut(2 * n);
            let (y, rest) = rest.split_at_mut(n);
            let (tape, scratch) = rest.split_at_mut(k);
            input[..n].copy_from_slice(u);
            h.at(t - self.lag, &mut input[n..]);
            self.layer.forward(p, input, y, tape);
            vp.fill(0.0);
            self.layer.backward(p, input, tape, v, xbar, vp, scratch);
        });
        true
    }
    fn history<T: Scalar>(&self, out: &mut [T], _p: &[T], _t: T) {
        for (o, &v) in out.iter_mut().zip(&self.history) {
            *o = T::cst(v);
        }
    }
    fn num_states(&self) -> Option<usize> {
        Some(self.history.len())
    }
}
