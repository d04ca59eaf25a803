//! Optimizers for training and parameter estimation: first-order methods
//! that take one gradient per step (Adam/AdamW, SGD with momentum,
//! RMSProp), learning-rate schedules, gradient clipping, and L-BFGS with a
//! line search for smooth fits with few parameters.

mod lbfgs;

pub use lbfgs::{LbfgsOptions, LbfgsReport, lbfgs};

/// A first-order optimizer: updates parameters from one gradient.
pub trait Optimizer {
    /// One update of `params` from `grad` (the gradient at `params`).
    fn step(&mut self, params: &mut [f64], grad: &[f64]);
    /// The current learning rate.
    fn learning_rate(&self) -> f64;
    /// Changes the learning rate (schedules call this).
    fn set_learning_rate(&mut self, lr: f64);
}

/// Adam (Kingma & Ba), with decoupled weight decay when `weight_decay > 0`
/// (AdamW, Loshchilov & Hutter).
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator guard.
    pub eps: f64,
    /// Decoupled weight decay (0: plain Adam).
    pub weight_decay: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    /// Adam with the usual constants (β = 0.9, 0.999, ε = 1e-8), as Flux's
    /// `ADAM(lr)`.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            m: Vec::new(),
            v: Vec::new(),
            t: 0,
        }
    }

    /// AdamW: Adam with decoupled weight decay.
    pub fn with_weight_decay(lr: f64, weight_decay: f64) -> Self {
        Self {
            weight_decay,
            ..Self::new(lr)
        }
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut [f64], grad: &[f64]) {
        if self.m.len() != params.len() {
            self.m = vec![0.0; params.len()];
            self.v = vec![0.0; params.len()];
            self.t = 0;
        }
        self.t += 1;
        let c1 = 1.0 - self.beta1.powi(self.t);
        let c2 = 1.0 - self.beta2.powi(self.t);
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grad)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            let update = (*m / c1) / ((*v / c2).sqrt() + self.eps);
            *p -= self.lr * (update + self.weight_decay * *p);
        }
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// Stochastic gradient descent with (optionally Nesterov) momentum.
#[derive(Clone, Debug, PartialEq)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f64,
    /// Momentum (0: plain gradient descent).
    pub momentum: f64,
    /// Nesterov's look-ahead form of momentum.
    pub nesterov: bool,
    velocity: Vec<f64>,
}

impl Sgd {
    /// Plain gradient descent.
    pub fn new(lr: f64) -> Self {
        Self::with_momentum(lr, 0.0)
    }
    /// Gradient descent with heavy-ball momentum.
    pub fn with_momentum(lr: f64, momentum: f64) -> Self {
        Self {
            lr,
            momentum,
            nesterov: false,
            velocity: Vec::new(),
        }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut [f64], grad: &[f64]) {
        if self.velocity.len() != params.len() {
            self.velocity = vec![0.0; params.len()];
        }
        for ((p, &g), v) in params.iter_mut().zip(grad).zip(&mut self.velocity) {
            *v = self.momentum * *v + g;
            let d = if self.nesterov {
                g + self.momentum * *v
            } else {
                *v
            };
            *p -= self.lr * d;
        }
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// RMSProp (Hinton): steps scaled by a running RMS of the gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct RmsProp {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the running mean square.
    pub alpha: f64,
    /// Denominator guard.
    pub eps: f64,
    square: Vec<f64>,
}

impl RmsProp {
    /// RMSProp with α = 0.99, ε = 1e-8.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            square: Vec::new(),
        }
    }
}

impl Optimizer for RmsProp {
    fn step(&mut self, params: &mut [f64], grad: &[f64]) {
        if self.square.len() != params.len() {
            self.square = vec![0.0; params.len()];
        }
        for ((p, &g), s) in params.iter_mut().zip(grad).zip(&mut self.square) {
            *s = self.alpha * *s + (1.0 - self.alpha) * g * g;
            *p -= self.lr * g / (s.sqrt() + self.eps);
        }
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}

/// How the learning rate changes over iterations (from its initial value).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Schedule {
    /// Unchanged.
    #[default]
    Constant,
    /// Multiplied by `gamma` every `every` iterations.
    Step {
        /// Iterations between reductions.
        every: usize,
        /// Factor per reduction.
        gamma: f64,
    },
    /// Multiplied by `gamma` every iteration.
    Exponential {
        /// Factor per iteration.
        gamma: f64,
    },
    /// Cosine from the initial rate down to `min` over `total` iterations.
    Cosine {
        /// Length of the decay.
        total: usize,
        /// Final rate.
        min: f64,
    },
}

impl Schedule {
    /// The learning rate at `iteration` (from 0) for initial rate `lr0`.
    pub fn at(&self, lr0: f64, iteration: usize) -> f64 {
        match *self {
            Schedule::Constant => lr0,
            Schedule::Step { every, gamma } => lr0 * gamma.powi((iteration / every.max(1)) as i32),
            Schedule::Exponential { gamma } => lr0 * gamma.powi(iteration as i32),
            Schedule::Cosine { total, min } => {
                let x = (iteration.min(total) as f64) / total.max(1) as f64;
                min + 0.5 * (lr0 - min) * (1.0 + (std::f64::consts::PI * x).cos())
            }
        }
    }
}

/// Scales `grad` down so its Euclidean norm is at most `max`; returns the
/// norm it had.
pub fn clip_norm(grad: &mut [f64], max: f64) -> f64 {
    let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    if norm > max && norm.is_finite() {
        let s = max / norm;
        grad.iter_mut().for_each(|g| *g *= s);
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Σ c_i (x_i - i)²`, badly scaled.
    fn quadratic(x: &[f64], g: &mut [f64]) -> f64 {
        let mut f = 0.0;
        for (i, (xi, gi)) in x.iter().zip(g.iter_mut()).enumerate() {
            let c = 10f64.powi(i as i32 % 3);
            f += c * (xi - i as f64).powi(2);
            *gi = 2.0 * c * (xi - i as f64);
        }
        f
    }

    fn minimise(opt: &mut impl Optimizer, iters: usize) -> f64 {
        let mut x = vec![0.0; 6];
        let mut g = vec![0.0; 6];
        for _ in 0..iters {
            quadratic(&x, &mut g);
            opt.step(&mut x, &g);
        }
        quadratic(&x, &mut g)
    }

    #[test]
    fn first_order_methods_minimise_a_quadratic() {
        assert!(minimise(&mut Adam::new(0.1), 2000) < 1e-8);
        assert!(minimise(&mut Adam::with_weight_decay(0.1, 0.0), 2000) < 1e-8);
        assert!(minimise(&mut Sgd::with_momentum(0.004, 0.9), 2000) < 1e-8);
        assert!(minimise(&mut Sgd::new(0.004), 5000) < 1e-6);
        let mut rms = RmsProp::new(0.01);
        assert!(minimise(&mut rms, 3000) < 1e-3);
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let mut x = vec![1.0, -1.0];
        Adam::new(0.1).step(&mut x, &[3.0, -0.001]);
        assert!((x[0] - 0.9).abs() < 1e-9 && (x[1] + 0.9).abs() < 1e-6);
    }

    #[test]
    fn weight_decay_shrinks_parameters() {
        let mut x = vec![2.0];
        let mut opt = Adam::with_weight_decay(0.1, 0.5);
        opt.step(&mut x, &[0.0]);
        assert!((x[0] - (2.0 - 0.1 * 0.5 * 2.0)).abs() < 1e-12);
    }

    #[test]
    fn schedules_and_clipping() {
        assert_eq!(
            Schedule::Step {
                every: 10,
                gamma: 0.5
            }
            .at(1.0, 25),
            0.25
        );
        assert!((Schedule::Exponential { gamma: 0.9 }.at(2.0, 2) - 1.62).abs() < 1e-12);
        let c = Schedule::Cosine {
            total: 100,
            min: 0.1,
        };
        assert!((c.at(1.0, 0) - 1.0).abs() < 1e-12 && (c.at(1.0, 100) - 0.1).abs() < 1e-12);
        let mut g = vec![3.0, 4.0];
        assert_eq!(clip_norm(&mut g, 1.0), 5.0);
        assert!((g[0] - 0.6).abs() < 1e-12 && (g[1] - 0.8).abs() < 1e-12);
    }
}
