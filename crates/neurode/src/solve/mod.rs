//! Solving: options, the shared integrator loop, and solutions.

mod controller;
mod dae_init;
mod fixed_grid;
mod integrator;
mod options;
mod solution;

pub(crate) use fixed_grid::FixedGrid;
pub(crate) use integrator::{
    AcceptedStep, Checkpoint, StepObserver, integrate, integrate_observed, save_grid,
};
pub use options::{ControllerOptions, Domain, SaveAt, SolveOptions, Stepping, Tolerance};
pub use solution::{EventKind, EventRecord, ReturnCode, Solution, Stats};
