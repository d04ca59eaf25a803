//! Layers one after another.

use super::activation::Activation;
use super::dense::{Dense, Map};
use super::init::NnRng;
use super::layer::Layer;
use crate::scalar::Scalar;

/// One link of a [`Chain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// A dense layer.
    Dense(Dense),
    /// An elementwise map.
    Map(Map),
}

macro_rules! on_link {
    ($link:expr, $l:ident => $body:expr) => {
        match $link {
            Link::Dense($l) => $body,
            Link::Map($l) => $body,
        }
    };
}

/// Layers applied in turn, built from the input size:
///
/// ```
/// use neurode::nn::{Activation::*, Chain, Layer};
/// // The seed's spiral model: x.^3, then 2 → 50 (tanh) → 2.
/// let model = Chain::new(2).map(Cube).dense(50, Tanh).dense(2, Identity);
/// assert_eq!(model.num_params(), 2 * 50 + 50 + 50 * 2 + 2);
/// assert_eq!(model.out_dim(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    input: usize,
    links: Vec<Link>,
}

impl Chain {
    /// An empty chain (the identity) on `input` features.
    pub fn new(input: usize) -> Self {
        Self {
            input,
            links: Vec::new(),
        }
    }

    /// Appends a dense layer to `output` features.
    pub fn dense(self, output: usize, activation: Activation) -> Self {
        let input = self.out_dim();
        self.then(Link::Dense(Dense::new(input, output, activation)))
    }

    /// Appends a dense layer given in full (to choose its initialiser).
    pub fn dense_layer(self, layer: Dense) -> Self {
        self.then(Link::Dense(layer))
    }

    /// Appends an elementwise map.
    pub fn map(self, activation: Activation) -> Self {
        let dim = self.out_dim();
        self.then(Link::Map(Map { dim, activation }))
    }

    fn then(mut self, link: Link) -> Self {
        self.links.push(link);
        self
    }

    /// The links.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// Where each link's parameters start in the flat vector.
    fn param_offsets(&self) -> impl Iterator<Item = (usize, &Link)> {
        self.links.iter().scan(0, |off, l| {
            let start = *off;
            *off += on_link!(l, x => x.num_params());
            Some((start, l))
        })
    }

    /// Each link's tape for `batch` samples: `(offset of its output, offset
    /// of its own tape)`.
    fn tape_offsets(&self, batch: usize) -> impl Iterator<Item = (usize, usize, &Link)> {
        self.links.iter().scan(0, move |off, l| {
            let out = *off;
            let own = out + batch * on_link!(l, x => x.out_dim());
            *off = own + batch * on_link!(l, x => x.tape_len());
            Some((out, own, l))
        })
    }

    /// Where link `k`'s output sits in the tape for `batch` samples: a
    /// dense link's batched output stays in its own tape (no copy), any
    /// other link writes its output slot.
    fn link_output(&self, k: usize, batch: usize) -> std::ops::Range<usize> {
        let (out, own, link) = self.tape_offsets(batch).nth(k).expect("link k");
        match link {
            Link::Dense(d) if batch > 1 => {
                let r = d.batch_output(batch);
                own + r.start..own + r.end
            }
            _ => out..out + batch * on_link!(link, l => l.out_dim()),
        }
    }

    fn widest(&self) -> usize {
        self.links
            .iter()
            .map(|l| on_link!(l, x => x.in_dim().max(x.out_dim())))
            .max()
            .unwrap_or(self.input)
            .max(self.input)
    }

    /// The forward pass over `batch` samples, link after link (so a dense
    /// link sees the whole batch as one matrix product).
    fn run_forward<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], tape: &mut [T], batch: usize) {
        if self.links.is_empty() {
            y.copy_from_slice(x);
            return;
        }
        let mut prev: Option<std::ops::Range<usize>> = None; // the previous output in the tape
        for (k, ((poff, l), (out, own, _))) in self
            .param_offsets()
            .zip(self.tape_offsets(batch))
            .enumerate()
        {
            let (done, rest) = tape.split_at_mut(out);
            let input = match &prev {
                None => x,
                Some(r) => &done[r.clone()],
            };
            let (yk, tk) = rest.split_at_mut(own - out);
            match l {
                Link::Dense(d) if batch > 1 => {
                    let tk = &mut tk[..batch * d.tape_len()];
                    d.forward_batch_in_tape(&p[poff..poff + d.num_params()], input, tk);
                }
                _ => on_link!(l, layer => layer.forward_batch(
                    &p[poff..poff + layer.num_params()],
                    input,
                    yk,
                    &mut tk[..batch * layer.tape_len()],
                )),
            }
            prev = Some(self.link_output(k, batch));
        }
        let r = prev.expect("non-empty chain");
        y.copy_from_slice(&tape[r]);
    }

    /// The backward pass over `batch` samples, last link first.
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
        if self.links.is_empty() {
            xbar.copy_from_slice(ybar);
            return;
        }
        let w = batch * self.widest();
        let (mut a, rest) = scratch.split_at_mut(w);
        let (mut b, own_scratch) = rest.split_at_mut(w);
        let last = self.links.len() - 1;
        // The adjoint of the current link's output lives in `a` (or `ybar`).
        let mut cur_is_ybar = true;
        for k in (0..=last).rev() {
            let (poff, l) = self.param_offsets().nth(k).expect("link k");
            let (_, own, _) = self.tape_offsets(batch).nth(k).expect("link k");
            on_link!(l, layer => {
                let (i, o) = (batch * layer.in_dim(), batch * layer.out_dim());
                let input = if k == 0 {
                    x
                } else {
                    &tape[self.link_output(k - 1, batch)]
                };
                let tk = &tape[own..own + batch * layer.tape_len()];
                let pk = &p[poff..poff + layer.num_params()];
                let pbk = &mut pbar[poff..poff + layer.num_params()];
                let yb: &[T] = if cur_is_ybar { ybar } else { &a[..o] };
                if k == 0 {
                    layer.backward_batch(pk, input, tk, yb, xbar, pbk, own_scratch);
                } else {
                    layer.backward_batch(pk, input, tk, yb, &mut b[..i], pbk, own_scratch);
                    // The new adjoint becomes the current one: swap, not copy.
                    std::mem::swap(&mut a, &mut b);
                    cur_is_ybar = false;
                }
            });
        }
    }
}

impl Layer for Chain {
    fn in_dim(&self) -> usize {
        self.input
    }
    fn out_dim(&self) -> usize {
        self.links
            .last()
            .map_or(self.input, |l| on_link!(l, x => x.out_dim()))
    }
    fn num_params(&self) -> usize {
        self.links
            .iter()
            .map(|l| on_link!(l, x => x.num_params()))
            .sum()
    }
    fn tape_len(&self) -> usize {
        self.links
            .iter()
            .map(|l| on_link!(l, x => x.out_dim() + x.tape_len()))
            .sum()
    }
    fn scratch_len(&self) -> usize {
        self.batch_scratch_len(1)
    }
    fn batch_scratch_len(&self, batch: usize) -> usize {
        let own = self
            .links
            .iter()
            .map(|l| on_link!(l, x => x.batch_scratch_len(batch)))
            .max()
            .unwrap_or(0);
        2 * batch * self.widest() + own
    }
    fn init(&self, rng: &mut NnRng, p: &mut [f64]) {
        for (off, l) in self.param_offsets() {
            on_link!(l, x => x.init(rng, &mut p[off..off + x.num_params()]));
        }
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
        self.run_forward(p, x, y, tape, x.len() / self.input.max(1));
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
        let batch = x.len() / self.input.max(1);
        self.run_backward(p, x, tape, ybar, xbar, pbar, scratch, batch);
    }
}
