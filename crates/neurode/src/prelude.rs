//! Everything a typical program needs: `use neurode::prelude::*;`.

pub use crate::error::Error;
pub use crate::linalg::jacobian::JacobianMethod;
pub use crate::methods::explicit::ErkMethod;
pub use crate::methods::{
    AutoSwitch, AutoTsit5, Bdf, Bs3, Dop853, Dp5, Euler, Heun, ImplicitEuler, KenCarp4, Midpoint,
    OdeMethod, Rk4, Rodas4, Rodas5P, Rosenbrock23, Trapezoid, Trbdf2, Tsit5, Vern7,
};
pub use crate::ode_system;
pub use crate::problem::{
    Crossing, EventAction, Events, JacobianSparsity, MassMatrix, OdeFunction, OdeProblem,
};
pub use crate::scalar::Scalar;
pub use crate::sensitivity::{
    Adjoint, Discrete, ForwardMode, Gradient, Loss, Sensitivity, SumOfSquares,
};
pub use crate::solve::{Domain, EventKind, ReturnCode, SaveAt, Solution, SolveOptions, Tolerance};
