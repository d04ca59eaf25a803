//! Neural SDEs: drift and diffusion networks, `du = f_θ(u) dt + g_φ(u) ∘ dW`
//! (diagonal Itô noise), as an SDE right-hand side and as a layer whose
//! input is the initial state. Its backward pass holds the layer's Brownian
//! path fixed (its seed): the discrete adjoint for Euler–Maruyama, forward
//! mode through the solver otherwise.

use crate::multi_dual::MultiDual;

use super::init::NnRng;
use super::layer::Layer;
use super::scratch::ThreadScratch;
use crate::error::Error;
use crate::scalar::Scalar;
use crate::sde::{Noise, SdeFunction, SdeMethod, SdeProblem};
use crate::sensitivity::LinearLoss;
use crate::solve::{SaveAt, Solution, SolveOptions, save_grid};

/// `f_θ` and `g_φ` as an SDE: parameters `θ` then `φ`.
#[derive(Clone, Debug)]
pub struct NeuralSdeFunction<D, G> {
    drift: D,
    diffusion: G,
    /// Per-thread working memory, so ensembles can share the function.
    tape: ThreadScratch,
}

impl<D: Layer, G: Layer> NeuralSdeFunction<D, G> {
    /// Drift and diffusion networks, each from the state to the state.
    pub fn new(drift: D, diffusion: G) -> Result<Self, Error> {
        let n = drift.in_dim();
        for (what, l) in [
            ("drift network", (drift.in_dim(), drift.out_dim())),
            (
                "diffusion network",
                (diffusion.in_dim(), diffusion.out_dim()),
            ),
        ] {
            if l.0 != n || l.1 != n {
                return Err(Error::WrongLength {
                    what,
                    got: if l.0 != n { l.0 } else { l.1 },
                    expected: n,
                });
            }
        }
        Ok(Self {
            drift,
            diffusion,
            tape: ThreadScratch,
        })
    }

    /// The number of parameters (drift's, then diffusion's).
    pub fn num_params(&self) -> usize {
        self.drift.num_params() + self.diffusion.num_params()
    }

    fn run<T: Scalar, L: Layer>(&self, layer: &L, out: &mut [T], u: &[T], p: &[T]) {
        self.tape
            .with::<T, _>(layer.tape_len(), |tape| layer.forward(p, u, out, tape));
    }

    /// `vᵀ ∂layer/∂u` and `vᵀ ∂layer/∂p` by the layer's own backward pass.
    #[allow(clippy::too_many_arguments)]
    fn run_vjp<T: Scalar, L: Layer>(
        &self,
        layer: &L,
        v: &[T],
        u: &[T],
        p: &[T],
        vu: &mut [T],
        vp: &mut [T],
    ) {
        let (k, s, n) = (layer.tape_len(), layer.scratch_len(), layer.out_dim());
        vp.fill(T::zero());
        self.tape.with::<T, _>(k + s + n, |buf| {
            let (tape, rest) = buf.split_at_mut(k);
            let (scratch, y) = rest.split_at_mut(s);
            layer.forward(p, u, y, tape);
            layer.backward(p, u, tape, v, vu, vp, scratch);
        });
    }
}

impl<D: Layer, G: Layer> SdeFunction for NeuralSdeFunction<D, G> {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        let (pd, _) = p.split_at(self.drift.num_params());
        self.run(&self.drift, du, u, pd);
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], u: &[T], p: &[T], _t: T) {
        let (_, pg) = p.split_at(self.drift.num_params());
        self.run(&self.diffusion, g, u, pg);
    }
    fn drift_vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        _t: T,
        vu: &mut [T],
        vp: &mut [T],
    ) -> bool {
        let nd = self.drift.num_params();
        vp[nd..].fill(T::zero());
        self.run_vjp(&self.drift, v, u, &p[..nd], vu, &mut vp[..nd]);
        true
    }
    fn diffusion_vjp<T: Scalar>(
        &self,
        v: &[T],
        u: &[T],
        p: &[T],
        _t: T,
        vu: &mut [T],
        vp: &mut [T],
    ) -> bool {
        let nd = self.drift.num_params();
        vp[..nd].fill(T::zero());
        self.run_vjp(&self.diffusion, v, u, &p[nd..], vu, &mut vp[nd..]);
        true
    }
    fn noise(&self) -> Noise {
        Noise::Diagonal
    }
    fn num_states(&self) -> Option<usize> {
        Some(self.drift.in_dim())
    }
    fn num_params(&self) -> Option<usize> {
        Some(NeuralSdeFunction::num_params(self))
    }
}

/// A neural SDE layer: input the initial state, output the state at each
/// save time along the Brownian path of `seed` (fixed steps).
#[derive(Clone, Debug)]
pub struct NeuralSde<D, G, M> {
    f: NeuralSdeFunction<D, G>,
    tspan: (f64, f64),
    method: M,
    opts: SolveOptions,
    seed: u64,
    saves: usize,
}

impl<D: Layer + Clone, G: Layer + Clone, M: SdeMethod> NeuralSde<D, G, M> {
    /// The layer; `opts` must give a fixed step, and `EveryStep` saving is
    /// replaced by the end point (a layer's output has a fixed size).
    pub fn new(
        drift: D,
        diffusion: G,
        tspan: (f64, f64),
        method: M,
        mut opts: SolveOptions,
        seed: u64,
    ) -> Result<Self, Error> {
        if matches!(opts.saveat, SaveAt::EveryStep) {
            opts.saveat = SaveAt::Times(vec![tspan.1]);
        }
        let f = NeuralSdeFunction::new(drift, diffusion)?;
        opts.validate(f.drift.in_dim(), tspan.0, tspan.1)?;
        let dir = if tspan.1 > tspan.0 { 1.0 } else { -1.0 };
        let saves = save_grid(&opts.saveat, tspan.0, tspan.1, dir).len();
        Ok(Self {
            f,
            tspan,
            method,
            opts,
            seed,
            saves,
        })
    }

    /// The same layer along another Brownian path.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The full solution from `u0` with parameters `p`.
    pub fn solve<T: Scalar>(&self, p: &[T], u0: &[T]) -> Result<Solution<T>, Error> {
        let tspan = (T::cst(self.tspan.0), T::cst(self.tspan.1));
        SdeProblem::new(self.f.clone(), u0.to_vec(), tspan, p.to_vec())?.solve(
            self.method,
            &self.opts,
            self.seed,
        )
    }
}

impl<D: Layer + Clone, G: Layer + Clone, M: SdeMethod> Layer for NeuralSde<D, G, M> {
    fn in_dim(&self) -> usize {
        self.f.drift.in_dim()
    }
    fn out_dim(&self) -> usize {
        self.in_dim() * self.saves
    }
    fn num_params(&self) -> usize {
        self.f.num_params()
    }
    fn tape_len(&self) -> usize {
        0
    }
    fn init(&self, rng: &mut NnRng, p: &mut [f64]) {
        let (pd, pg) = p.split_at_mut(self.f.drift.num_params());
        self.f.drift.init(rng, pd);
        self.f.diffusion.init(rng, pg);
    }

    fn forward<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], _tape: &mut [T]) {
        match self.solve(p, x) {
            Ok(sol) if sol.is_success() && sol.u_flat().len() == y.len() => {
                y.copy_from_slice(sol.u_flat())
            }
            _ => y.fill(T::cst(f64::NAN)),
        }
    }

    /// The noise fixed: the discrete adjoint (one reverse pass, the layers'
    /// own VJPs) for Euler–Maruyama, otherwise forward mode in eight
    /// directions per solve over the parameters and the input; NaN where a
    /// solve fails.
    fn backward<T: Scalar>(
        &self,
        p: &[T],
        x: &[T],
        _tape: &[T],
        ybar: &[T],
        xbar: &mut [T],
        pbar: &mut [T],
        _scratch: &mut [T],
    ) {
        let (np, n) = (p.len(), x.len());
        if M::HAS_DISCRETE_ADJOINT {
            let real = |v: &[T]| v.iter().map(|a| a.real()).collect::<Vec<f64>>();
            let loss = LinearLoss {
                weights: real(ybar),
            };
            let g = SdeProblem::new(self.f.clone(), real(x), self.tspan, real(p))
                .and_then(|prob| prob.discrete_gradient(&self.opts, &loss, self.seed));
            match g {
                Ok((_, dp, du0)) => {
                    for (a, b) in pbar.iter_mut().zip(&dp) {
                        *a += T::cst(*b);
                    }
                    for (a, b) in xbar.iter_mut().zip(&du0) {
                        *a = T::cst(*b);
                    }
                }
                Err(_) => {
                    xbar.fill(T::cst(f64::NAN));
                    pbar.fill(T::cst(f64::NAN));
                }
            }
            return;
        }
        let lift = |v: &[T]| -> Vec<MultiDual<8>> {
            v.iter().map(|a| MultiDual::constant(a.real())).collect()
        };
        xbar.fill(T::zero());
        for start in (0..np + n).step_by(8) {
            let (mut pd, mut xd) = (lift(p), lift(x));
            for lane in 0..8 {
                match start + lane {
                    k if k < np => pd[k] = MultiDual::seeded(pd[k].re, lane),
                    k if k < np + n => xd[k - np] = MultiDual::seeded(xd[k - np].re, lane),
                    _ => {}
                }
            }
            let Ok(sol) = self.solve(&pd, &xd) else {
                xbar.fill(T::cst(f64::NAN));
                pbar.fill(T::cst(f64::NAN));
                return;
            };
            // ȳ · ∂y/∂(direction) for each lane.
            let mut dots = [0.0; 8];
            for (yv, yb) in sol.u_flat().iter().zip(ybar) {
                for (d, e) in dots.iter_mut().zip(&yv.eps) {
                    *d += yb.real() * e;
                }
            }
            for (lane, &d) in dots.iter().enumerate() {
                match start + lane {
                    k if k < np => pbar[k] += T::cst(d),
                    k if k < np + n => xbar[k - np] = T::cst(d),
                    _ => {}
                }
            }
        }
    }
}
