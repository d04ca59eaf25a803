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
    in_f32: bool,
    tape: Scratch,
    scratch: Scratch,
    low: Scratch,
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
            in_f32: false,
            tape: Scratch::default(),
            scratch: Scratch::default(),
            low: Scratch::default(),
        }
    }

    /// Evaluates the network (and its backward pass) in `f32` while the
    /// solver, its error control and the adjoint stay in `f64`: what the
    /// peers' `float32` training does, at half the cost of the matrix
    /// products, with `f` and its VJPs rounded to `f32` (about 1e-7
    /// relative). Dual numbers (forward mode) still run at full precision.
    pub fn in_f32(mut self) -> Self {
        self.in_f32 = true;
        self
    }

    /// True when [`in_f32`](Self::in_f32) is set and `T` is a plain number.
    fn lowers<T: Scalar>(&self) -> bool {
        self.in_f32 && T::PLAIN
    }

    /// `f` in `f32`: inputs rounded down, outputs widened back.
    fn rhs_f32<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T]) {
        let (b, k) = (self.batch, self.layer.tape_len());
        let (nu, np, no) = (u.len(), p.len(), du.len());
        self.low.with::<f32, _>(nu + np + no + b * k, |buf| {
            let (u32s, rest) = buf.split_at_mut(nu);
            let (p32, rest) = rest.split_at_mut(np);
            let (du32, tape) = rest.split_at_mut(no);
            lower(u, u32s);
            lower(p, p32);
            self.layer.forward_batch(p32, u32s, du32, tape);
            widen(du32, du);
        });
    }

    /// The VJP in `f32`, as [`rhs_f32`](Self::rhs_f32).
    fn vjp_f32<T: Scalar>(&self, v: &[T], u: &[T], p: &[T], vu: &mut [T], vp: &mut [T]) {
        let (b, k) = (self.batch, self.layer.tape_len());
        let out = b * self.layer.out_dim();
        let (nu, np) = (u.len(), p.len());
        let ns = self.layer.batch_scratch_len(b);
        self.low
            .with::<f32, _>(2 * nu + 2 * np + 2 * out + b * k + ns, |buf| {
                let (u32s, rest) = buf.split_at_mut(nu);
                let (p32, rest) = rest.split_at_mut(np);
                let (v32, rest) = rest.split_at_mut(out);
                let (y32, rest) = rest.split_at_mut(out);
                let (vu32, rest) = rest.split_at_mut(nu);
                let (vp32, rest) = rest.split_at_mut(np);
                let (tape, scratch) = rest.split_at_mut(b * k);
                lower(u, u32s);
                lower(p, p32);
                lower(v, v32);
                vp32.fill(0.0);
                self.layer.forward_batch(p32, u32s, y32, tape);
                self.layer
                    .backward_batch(p32, u32s, tape, v32, vu32, vp32, scratch);
                widen(vu32, vu);
                widen(vp32, vp);
            });
    }
}

fn lower<T: Scalar>(src: &[T], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = s.real() as f32;
    }
}

fn widen<T: Scalar>(src: &[f32], dst: &mut [T]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = T::cst(s as f64);
    }
}

impl<L: Layer> NeuralRhs<L> {
    /// The layer's backward pass over the batch from its forward `tape`:
    /// `vu` overwritten, `vp` set to `vᵀ ∂f/∂p`.
    fn backward_from_tape<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        tape: &[T],
        vu: &mut [T],
        vp: &mut [T],
    ) {
        vp.iter_mut().for_each(|x| *x = T::zero());
        self.scratch
            .with::<T, _>(self.layer.batch_scratch_len(self.batch), |scratch| {
                self.layer.backward_batch(p, u, tape, v, vu, vp, scratch)
            });
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
        if self.lowers::<T>() {
            return self.rhs_f32(du, u, p);
        }
        let len = self.batch * self.layer.tape_len();
        self.tape
            .with::<T, _>(len, |tape| self.layer.forward_batch(p, u, du, tape));
    }

    fn num_states(&self) -> Option<usize> {
        Some(self.batch * self.layer.in_dim())
    }

    /// The layer's activations for the whole batch (none in `f32` mode,
    /// whose tapes are `f32`: there the VJP evaluates again).
    fn tape_len(&self) -> usize {
        if self.in_f32 {
            0
        } else {
            self.batch * self.layer.tape_len()
        }
    }

    fn rhs_taped(&self, du: &mut [f64], u: &[f64], p: &[f64], t: f64, tape: &mut [f64]) {
        if self.in_f32 {
            return self.rhs(du, u, p, t);
        }
        self.layer.forward_batch(p, u, du, tape);
    }

    fn vjp_taped(
        &self,
        v: &[f64],
        u: &[f64],
        p: &[f64],
        t: f64,
        tape: &[f64],
        vu: &mut [f64],
        vp: &mut [f64],
        vt: Option<&mut f64>,
    ) -> bool {
        if self.in_f32 || tape.len() != self.batch * self.layer.tape_len() {
            return self.vjp(v, u, p, t, vu, vp, vt);
        }
        if let Some(vt) = vt {
            *vt = 0.0;
        }
        self.backward_from_tape(v, u, p, tape, vu, vp);
        true
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
        if let Some(vt) = vt {
            *vt = T::zero();
        }
        if self.lowers::<T>() {
            self.vjp_f32(v, u, p, vu, vp);
            return true;
        }
        let (b, k) = (self.batch, self.layer.tape_len());
        let need = b * k + b * self.layer.out_dim();
        self.tape.with::<T, _>(need, |buf| {
            let (tape, y) = buf.split_at_mut(b * k);
            self.layer.forward_batch(p, u, y, tape);
            self.backward_from_tape(v, u, p, tape, vu, vp);
        });
        true
    }
}
