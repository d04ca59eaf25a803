//! Dense layers and elementwise maps.

use super::activation::Activation;
use super::init::{Init, NnRng};
use super::layer::Layer;
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
    fn init(&self, rng: &mut NnRng, p: &mut [f64]) {
        let (w, b) = p.split_at_mut(self.input * self.output);
        self.init.fill(rng, self.input, self.output, w);
        b.fill(0.0);
    }

    #[inline]
    fn forward<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], tape: &mut [T]) {
        let (w, b) = p.split_at(self.input * self.output);
        let (z, out) = tape.split_at_mut(self.output);
        for (i, row) in w.chunks_exact(self.input).enumerate() {
            let zi = row
                .iter()
                .zip(x)
                .fold(b[i], |acc, (&wij, &xj)| acc + wij * xj);
            z[i] = zi;
            let yi = self.activation.apply(zi);
            out[i] = yi;
            y[i] = yi;
        }
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
        for i in 0..self.output {
            zbar[i] = ybar[i] * self.activation.derivative(z[i], out[i]);
        }
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
