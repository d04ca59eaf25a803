//! Stochastic differential equations `du = f(u, p, t) dt + g(u, p, t) dW`:
//! problems with diagonal, scalar or general noise, a seeded Brownian path,
//! fixed-step Euler–Maruyama, Euler–Heun (Stratonovich) and Milstein, the
//! strong order-1.5 SRIW1, SRA1 and the stability-optimised SOSRI and SOSRA
//! (fixed or adaptive, with rejection sampling with memory), and ensembles
//! of paths with summary statistics (fixed-step paths solved sixteen at a
//! time in [`PathLanes`](crate::path_lanes::PathLanes)).
//!
//! Drift and diffusion are written once for every scalar type, so a solve
//! with a fixed noise path differentiates by forward mode like an ODE solve
//! (the seed's `diffeq_fd` on an SDE).

mod adaptive;
mod backsolve;
mod brownian;
mod ensemble;
mod gradient;
mod lockstep;
mod methods;
mod problem;
mod sri;
mod stability_optimized;
mod variable_jumps;

pub use brownian::{BrownianGrid, BrownianPath, BrownianTree, NoiseSource};
pub(crate) use ensemble::run_paths;
pub use ensemble::{Ensemble, EnsembleOptions};
pub use gradient::SdeSensitivity;
pub use methods::{EulerHeun, EulerMaruyama, Milstein, SdeMethod};
pub use problem::{Noise, SdeFunction, SdeProblem};
pub use sri::{Sra1, Sriw1};
pub use stability_optimized::{Sosra, Sosri};
