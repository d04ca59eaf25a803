//! The layer interface: parameters in one flat slice, an analytic forward
//! pass that records what the backward pass needs, and a backward pass
//! (vector–Jacobian product) with respect to input and parameters.

use super::init::NnRng;
use crate::scalar::Scalar;

/// A differentiable map `y = f(x; p)` whose parameters `p` live in a flat
/// slice (so a network's weights and an ODE's parameters can be one vector).
///
/// `forward` records intermediate values in `tape` (`tape_len` numbers);
/// `backward` reads them to pull `ȳ` back to `x̄` (overwritten) and `p̄`
/// (added to), using `scratch` (`scratch_len` numbers). Both are generic over
/// the scalar, so layers run in `f64`, `f32` and on dual numbers.
///
/// Batches are stored sample after sample (`features × batch`, column-major):
/// sample `j` of a batch is `x[j * in_dim..(j + 1) * in_dim]`.
pub trait Layer {
    /// Input size.
    fn in_dim(&self) -> usize;
    /// Output size.
    fn out_dim(&self) -> usize;
    /// Number of parameters.
    fn num_params(&self) -> usize;
    /// Numbers the forward pass records per input.
    fn tape_len(&self) -> usize;
    /// Working numbers the backward pass needs.
    fn scratch_len(&self) -> usize {
        0
    }
    /// Working numbers [`backward_batch`](Self::backward_batch) needs for
    /// `batch` samples.
    fn batch_scratch_len(&self, batch: usize) -> usize {
        let _ = batch;
        self.scratch_len()
    }
    /// Writes initial parameters into `p`.
    fn init(&self, rng: &mut NnRng, p: &mut [f64]);

    /// `y = f(x; p)`, recording into `tape`.
    fn forward<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], tape: &mut [T]);

    /// `x̄ = ȳᵀ ∂f/∂x` (overwritten) and `p̄ += ȳᵀ ∂f/∂p`, at the `x` whose
    /// forward pass recorded `tape`.
    #[allow(clippy::too_many_arguments)]
    fn backward<T: Scalar>(
        &self,
        p: &[T],
        x: &[T],
        tape: &[T],
        ybar: &[T],
        xbar: &mut [T],
        pbar: &mut [T],
        scratch: &mut [T],
    );

    /// Fresh parameters from a seeded generator.
    fn init_params(&self, rng: &mut NnRng) -> Vec<f64> {
        let mut p = vec![0.0; self.num_params()];
        self.init(rng, &mut p);
        p
    }

    /// [`forward`](Self::forward) on a batch. `tape` holds `batch ×
    /// tape_len` numbers laid out as the layer chooses (one record per
    /// sample by default; a dense layer stores whole matrices so it can use
    /// matrix products); only [`backward_batch`](Self::backward_batch) reads
    /// it.
    fn forward_batch<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], tape: &mut [T]) {
        let (i, o, k) = (self.in_dim(), self.out_dim(), self.tape_len());
        for (j, (xj, yj)) in x.chunks_exact(i).zip(y.chunks_exact_mut(o)).enumerate() {
            self.forward(p, xj, yj, &mut tape[j * k..(j + 1) * k]);
        }
    }

    /// [`backward`](Self::backward) on a batch (parameter adjoints summed
    /// over the samples); `scratch` holds
    /// [`batch_scratch_len`](Self::batch_scratch_len) numbers.
    #[allow(clippy::too_many_arguments)]
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
        let (i, o, k) = (self.in_dim(), self.out_dim(), self.tape_len());
        for (j, ((xj, yb), xb)) in x
            .chunks_exact(i)
            .zip(ybar.chunks_exact(o))
            .zip(xbar.chunks_exact_mut(i))
            .enumerate()
        {
            self.backward(p, xj, &tape[j * k..(j + 1) * k], yb, xb, pbar, scratch);
        }
    }

    /// `f(x; p)` without keeping a tape (allocates one; for convenience).
    fn apply<T: Scalar>(&self, p: &[T], x: &[T]) -> Vec<T> {
        let mut y = vec![T::zero(); self.out_dim()];
        let mut tape = vec![T::zero(); self.tape_len()];
        self.forward(p, x, &mut y, &mut tape);
        y
    }
}
