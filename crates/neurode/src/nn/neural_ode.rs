//! ODE solves as layers: a neural ODE (`u' = NN(u)`, input the initial
//! state, output the solution at the save times) and a layer that solves a
//! given problem with the parameters it receives (the seed's
//! `p -> diffeq_rd(p, prob)`). Their backward passes are gradients by the
//! sensitivity method they were built with.

use super::init::NnRng;
use super::layer::Layer;
use super::neural_rhs::NeuralRhs;
use crate::error::Error;
use crate::methods::OdeMethod;
use crate::problem::{OdeFunction, OdeProblem};
use crate::scalar::Scalar;
use crate::sensitivity::{LinearLoss, Sensitivity};
use crate::solve::{SaveAt, Solution, SolveOptions, save_grid};

/// The number of saved points `opts` gives over `tspan` (`EveryStep` is
/// replaced by the end point: a layer's output size must be fixed).
fn fixed_saves(opts: &mut SolveOptions, tspan: (f64, f64)) -> Result<usize, Error> {
    if matches!(opts.saveat, SaveAt::EveryStep) {
        opts.saveat = SaveAt::Times(vec![tspan.1]);
    }
    opts.validate(1, tspan.0, tspan.1)?;
    let dir = if tspan.1 > tspan.0 { 1.0 } else { -1.0 };
    Ok(save_grid(&opts.saveat, tspan.0, tspan.1, dir).len())
}

/// Writes the saved states of `sol` into `y`, or NaN when the solve failed
/// (the training loop then skips the step and says why).
fn write_output<T: Scalar>(sol: Result<Solution<T>, Error>, y: &mut [T]) {
    match sol {
        Ok(sol) if sol.is_success() && sol.u_flat().len() == y.len() => {
            y.copy_from_slice(sol.u_flat());
        }
        _ => y.iter_mut().for_each(|v| *v = T::cst(f64::NAN)),
    }
}

/// `u' = NN(u; p)` from the input state over `tspan`; the output is the
/// state at each save time, one after another.
///
/// ```
/// use neurode::nn::{Activation::*, Chain, Layer, NeuralOde, NnRng};
/// use neurode::prelude::*;
/// use rand::SeedableRng;
///
/// let dudt = Chain::new(2).map(Cube).dense(50, Tanh).dense(2, Identity);
/// let opts = SolveOptions::default().tolerances(1e-7, 1e-9).saveat(vec![0.5, 1.0, 1.5]);
/// let node = NeuralOde::new(dudt, (0.0, 1.5), Tsit5, opts, Adjoint::interpolating())?;
/// let p = node.init_params(&mut NnRng::seed_from_u64(0));
/// let y = node.apply(&p, &[2.0, 0.0]);
/// assert_eq!(y.len(), 6);
/// # Ok::<(), neurode::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct NeuralOde<L, M, S> {
    rhs: NeuralRhs<L>,
    tspan: (f64, f64),
    method: M,
    opts: SolveOptions,
    sensitivity: S,
    saves: usize,
}

impl<L: Layer + Clone, M: OdeMethod + Clone, S: Sensitivity> NeuralOde<L, M, S> {
    /// A neural ODE layer; `layer` must map its input size to itself.
    pub fn new(
        layer: L,
        tspan: (f64, f64),
        method: M,
        mut opts: SolveOptions,
        sensitivity: S,
    ) -> Result<Self, Error> {
        if layer.in_dim() != layer.out_dim() {
            return Err(Error::WrongLength {
                what: "neural ODE network output (must equal its input)",
                got: layer.out_dim(),
                expected: layer.in_dim(),
            });
        }
        let saves = fixed_saves(&mut opts, tspan)?;
        Ok(Self {
            rhs: NeuralRhs::new(layer),
            tspan,
            method,
            opts,
            sensitivity,
            saves,
        })
    }

    /// The right-hand side.
    pub fn rhs(&self) -> &NeuralRhs<L> {
        &self.rhs
    }

    /// The problem from `u0` with parameters `p`.
    pub fn problem(&self, p: &[f64], u0: &[f64]) -> Result<OdeProblem<NeuralRhs<L>>, Error> {
        OdeProblem::new(self.rhs.clone(), u0.to_vec(), self.tspan, p.to_vec())
    }

    /// The full solution from `u0` (with these options, or others).
    pub fn solve(
        &self,
        p: &[f64],
        u0: &[f64],
        opts: Option<&SolveOptions>,
    ) -> Result<Solution, Error> {
        self.problem(p, u0)?
            .solve(self.method.clone(), opts.unwrap_or(&self.opts))
    }

    /// The number of saved points in the output.
    pub fn saves(&self) -> usize {
        self.saves
    }
}

impl<L: Layer + Clone, M: OdeMethod + Clone, S: Sensitivity> Layer for NeuralOde<L, M, S> {
    fn in_dim(&self) -> usize {
        self.rhs.layer().in_dim()
    }
    fn out_dim(&self) -> usize {
        self.in_dim() * self.saves
    }
    fn num_params(&self) -> usize {
        self.rhs.layer().num_params()
    }
    fn tape_len(&self) -> usize {
        0
    }
    fn init(&self, rng: &mut NnRng, p: &mut [f64]) {
        self.rhs.layer().init(rng, p);
    }

    fn forward<T: Scalar>(&self, p: &[T], x: &[T], y: &mut [T], _tape: &mut [T]) {
        let tspan = (T::cst(self.tspan.0), T::cst(self.tspan.1));
        let sol = OdeProblem::new(self.rhs.clone(), x.to_vec(), tspan, p.to_vec())
            .and_then(|prob| prob.solve(self.method.clone(), &self.opts));
        write_output(sol, y);
    }

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
        let real = |v: &[T]| v.iter().map(|x| x.real()).collect::<Vec<f64>>();
        let loss = LinearLoss {
            weights: real(ybar),
        };
        let g = self.problem(&real(p), &real(x)).and_then(|prob| {
            prob.gradient(self.method.clone(), &self.opts, &loss, &self.sensitivity)
        });
        write_gradient(g, xbar, pbar, true);
    }
}

/// Writes `dL/du0` into `xbar` (or `dL/dp`, with `input_is_p`) and adds
/// `dL/dp` to `pbar`; NaN where the gradient failed.
fn write_gradient<T: Scalar>(
    g: Result<crate::sensitivity::Gradient, Error>,
    xbar: &mut [T],
    pbar: &mut [T],
    input_is_u0: bool,
) {
    match g {
        Ok(g) => {
            let x_src = if input_is_u0 { &g.du0 } else { &g.dp };
            for (a, &b) in xbar.iter_mut().zip(x_src) {
                *a = T::cst(b);
            }
            if input_is_u0 {
                for (a, &b) in pbar.iter_mut().zip(&g.dp) {
                    *a += T::cst(b);
                }
            }
        }
        Err(_) => {
            xbar.iter_mut().for_each(|v| *v = T::cst(f64::NAN));
            pbar.iter_mut().for_each(|v| *v = T::cst(f64::NAN));
        }
    }
}

/// A layer whose input is the parameter vector of a problem and whose
/// output is that problem's solution at the save times.
#[derive(Clone, Debug)]
pub struct OdeLayer<F, M, S> {
    prob: OdeProblem<F>,
    method: M,
    opts: SolveOptions,
    sensitivity: S,
    saves: usize,
}

impl<F: OdeFunction + Clone, M: OdeMethod + Clone, S: Sensitivity> OdeLayer<F, M, S> {
    /// Solves `prob` with the parameters it is given.
    pub fn new(
        prob: OdeProblem<F>,
        method: M,
        mut opts: SolveOptions,
        sensitivity: S,
    ) -> Result<Self, Error> {
        let saves = fixed_saves(&mut opts, prob.tspan())?;
        Ok(Self {
            prob,
            method,
            opts,
            sensitivity,
            saves,
        })
    }
}

impl<F: OdeFunction + Clone, M: OdeMethod + Clone, S: Sensitivity> Layer for OdeLayer<F, M, S> {
    fn in_dim(&self) -> usize {
        self.prob.p().len()
    }
    fn out_dim(&self) -> usize {
        self.prob.len() * self.saves
    }
    fn num_params(&self) -> usize {
        0
    }
    fn tape_len(&self) -> usize {
        0
    }
    fn init(&self, _: &mut NnRng, _: &mut [f64]) {}

    fn forward<T: Scalar>(&self, _p: &[T], x: &[T], y: &mut [T], _tape: &mut [T]) {
        let prob = self.prob.map_scalar(|_, _, v| T::cst(v));
        let sol = prob
            .with_p(x.to_vec())
            .and_then(|prob| prob.solve(self.method.clone(), &self.opts));
        write_output(sol, y);
    }

    fn backward<T: Scalar>(
        &self,
        _p: &[T],
        x: &[T],
        _tape: &[T],
        ybar: &[T],
        xbar: &mut [T],
        pbar: &mut [T],
        _scratch: &mut [T],
    ) {
        let loss = LinearLoss {
            weights: ybar.iter().map(|v| v.real()).collect(),
        };
        let g = self
            .prob
            .clone()
            .with_p(x.iter().map(|v| v.real()).collect::<Vec<_>>())
            .and_then(|prob| {
                prob.gradient(self.method.clone(), &self.opts, &loss, &self.sensitivity)
            });
        write_gradient(g, xbar, pbar, false);
    }
}
