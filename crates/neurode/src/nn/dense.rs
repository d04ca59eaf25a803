//! Dense layers and elementwise maps.

use super::activation::Activation;
use super::init::{Init, NnRng};
use super::layer::Layer;
use crate::linalg::{Layout, matmul};
use crate::scalar::Scalar;

/// `y = σ(W x + b)`. Parameters: `W` (`out × in`, row-major), then `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dense {
    /// Input size.
    pub input: usize,
    /// Output size.
    pub output: usize,
    /// The activation `σ`.
    pub activation: Activation,
    /// How the weights start.
    pub init: Init,
}

impl Dense {
    /// A layer from `input` to `output` features, Glorot-uniform weights.
    pub fn new(input: usize, output: usize, activation: Activation) -> Self {
        Self {
            input,
            output,
            activation,
            init: Init::GlorotUniform,
        }
    }

    /// Where [`forward_batch_in_tape`](Self::forward_batch_in_tape) leaves
    /// the output of `batch > 1` samples in the tape: `σ(Z)`.
    pub(crate) fn batch_output(&self, batch: usize) -> std::ops::Range<usize> {
        self.output * batch..2 * self.output * batch
    }

    /// The batched forward pass (`batch > 1` samples) without copying the
    /// output out of the tape: a chain reads the next link's input there.
    pub(crate) fn forward_batch_in_tape<T: Scalar>(&self, p: &[T], x: &[T], tape: &mut [T]) {
        let (i, o) = (self.input, self.output);
        let batch = x.len() / i.max(1);
        let (w, b) = p.split_at(i * o);
        let (z, out) = tape.split_at_mut(o * batch);
        matmul(
            z,
            Layout::col_major(o, batch),
            w,
            Layout::row_major(o, i),
            x,
            Layout::col_major(i, batch),
            false,
        );
        // The bias after the product: filling each column with it first
        // cost a small copy per sample.
        for col in z.chunks_exact_mut(o) {
            for (zi, &bi) in col.iter_mut().zip(b) {
                *zi += bi;
            }
        }
        self.activation.apply_slice(z, &mut out[..o * batch]);
    }
}

impl Layer for Dense {
    fn in_dim(&self) -> usize {
        self.input
    }
    fn out_dim(&self) -> usize {
        self.output
    }
    fn num_params(&self) -> usize {
        self.output * (self.input + 1)
    }
    /// Pre-activations, then outputs.
    fn tape_len(&self) -> usize {
        2 * self.output
    }
    fn scratch_len(&self) -> usize {
        self.output
    }
    fn batch_scratch_len(&self, batch: usize) -> usize {
        self.output * batch.max(1)
    }
    fn init(&self, rng: &mut NnRng, p: &mut [f64]) {
        let (w, b) = p.split_at_mut(self.input * self.output);
        self.init.fill(rng, self.input, self.output, w);
        b.fill(0.0);
    }

    #[inline]
    fn forward<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], tape: &mut [T]) {
        let (w, b) = p.split_at(self.input * self.output);
        let (z, out) = tape.split_at_mut(self.output);
        for ((zi, row), &bi) in z.iter_mut().zip(w.chunks_exact(self.input)).zip(b) {
            *zi = bi + dot(row, x);
        }
        self.activation.apply_slice(z, out);
        y.copy_from_slice(out);
    }

    #[inline]
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
        let (w, _) = p.split_at(self.input * self.output);
        let (z, out) = tape.split_at(self.output);
        let zbar = &mut scratch[..self.output];
        self.activation.times_derivative(z, out, ybar, zbar);
        let (wbar, bbar) = pbar.split_at_mut(self.input * self.output);
        xbar.iter_mut().for_each(|v| *v = T::zero());
        for (i, (row, rowbar)) in w
            .chunks_exact(self.input)
            .zip(wbar.chunks_exact_mut(self.input))
            .enumerate()
        {
            let g = zbar[i];
            bbar[i] += g;
            for ((wb, &xj), (xb, &wij)) in rowbar.iter_mut().zip(x).zip(xbar.iter_mut().zip(row)) {
                *wb += g * xj;
                *xb += wij * g;
            }
        }
    }

    /// The batch as matrices: `Z = W X + b 1ᵀ` by one matrix product, the
    /// tape holding `Z` then `σ(Z)` (each `out × batch`, column-major).
    fn forward_batch<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], tape: &mut [T]) {
        let batch = x.len() / self.input.max(1);
        if batch <= 1 {
            return self.forward(p, x, y, tape);
        }
        self.forward_batch_in_tape(p, x, tape);
        y.copy_from_slice(&tape[self.batch_output(batch)]);
    }

    /// `Z̄ = Ȳ ⊙ σ'(Z)`, `W̄ += Z̄ Xᵀ`, `b̄ += Z̄ 1`, `X̄ = Wᵀ Z̄`.
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
        let (i, o) = (self.input, self.output);
        let batch = x.len() / i.max(1);
        if batch <= 1 {
            return self.backward(p, x, tape, ybar, xbar, pbar, scratch);
        }
        let (w, _) = p.split_at(i * o);
        let (z, out) = tape.split_at(o * batch);
        let zbar = &mut scratch[..o * batch];
        self.activation.times_derivative(z, out, ybar, zbar);
        let (wbar, bbar) = pbar.split_at_mut(i * o);
        for col in zbar.chunks_exact(o) {
            for (bb, &g) in bbar.iter_mut().zip(col) {
                *bb += g;
            }
        }
        let zl = Layout::col_major(o, batch);
        let xl = Layout::col_major(i, batch);
        let wl = Layout::row_major(o, i);
        matmul(wbar, wl, zbar, zl, x, xl.t(), true);
        matmul(xbar, xl, w, wl.t(), zbar, zl, false);
    }
}

/// `Σ a_i b_i` with four running sums, so long rows do not wait on one
/// chain of additions.
#[inline(always)]
fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail = ra.iter().zip(rb).fold(T::zero(), |s, (&x, &y)| s + x * y);
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// An elementwise map as a layer of its own (the seed's `x -> x.^3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Map {
    /// Size of input and output.
    pub dim: usize,
    /// The function.
    pub activation: Activation,
}

impl Layer for Map {
    fn in_dim(&self) -> usize {
        self.dim
    }
    fn out_dim(&self) -> usize {
        self.dim
    }
    fn num_params(&self) -> usize {
        0
    }
    /// The outputs.
    fn tape_len(&self) -> usize {
        self.dim
    }
    fn init(&self, _: &mut NnRng, _: &mut [f64]) {}

    #[inline]
    fn forward<T: Scalar>(&self, _p: &[T], x: &[T], y: &mut [T], tape: &mut [T]) {
        for ((yi, ti), &xi) in y.iter_mut().zip(tape.iter_mut()).zip(x) {
            *yi = self.activation.apply(xi);
            *ti = *yi;
        }
    }

    #[inline]
    fn backward<T: Scalar>(
        &self,
        _p: &[T],
        x: &[T],
        tape: &[T],
        ybar: &[T],
        xbar: &mut [T],
        _pbar: &mut [T],
        _scratch: &mut [T],
    ) {
        for (((xb, &yb), &xi), &yi) in xbar.iter_mut().zip(ybar).zip(x).zip(tape) {
            *xb = yb * self.activation.derivative(xi, yi);
        }
    }
}
