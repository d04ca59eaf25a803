//! Rosenbrock (linearly implicit) methods: one LU of `W = M - γhJ` per step
//! and no Newton iterations, with `M u' = f` mass matrices (DAEs of index
//! one) supported. Rodas-type methods are tableaus driven by one engine;
//! Rosenbrock23 has its own short recipe.
//!
//! A stage solves `(M/(γh) - J) k_i = f(t + c_i h, u + Σ a_ij k_j) + h d_i ∂f/∂t
//! + M Σ (C_ij / h) k_j`; here `W = M - γhJ`, so `k_i = γh W⁻¹(…)`.

mod rodas;
mod rosenbrock23;

pub use rodas::{Rodas4, Rodas5P, RodasMethod, RodasTableau};
pub use rosenbrock23::Rosenbrock23;
