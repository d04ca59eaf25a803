//! Consistent initial conditions for `M u' = f` with a singular diagonal `M`:
//! the algebraic variables are solved from the algebraic equations with the
//! differential ones held fixed (Brown, Hindmarsh & Petzold's "basic" case).

use crate::error::Error;
use crate::linalg::jacobian::{JacobianMethod, JacobianWork, dense_jacobian};
use crate::linalg::{DenseLu, DenseMatrix};
use crate::problem::{MassMatrix, OdeFunction};
use crate::scalar::Scalar;

/// `u0` with its algebraic components (zero rows of the diagonal `mass`)
/// replaced by a solution of the algebraic equations.
pub(crate) fn consistent_initial_state<F: OdeFunction, T: Scalar>(
    f: &F,
    u0: &[T],
    p: &[T],
    t0: T,
    mass: &MassMatrix,
) -> Result<Vec<T>, Error> {
    let alg = mass.algebraic();
    let (n, m) = (u0.len(), alg.len());
    let mut u = u0.to_vec();
    let mut du = vec![T::zero(); n];
    let mut jac = DenseMatrix::zeros(n);
    let mut work = JacobianWork::new(n, p.len());
    let mut lu = DenseLu::new(m);
    let scale = u0.iter().map(|x| x.real().abs()).fold(1.0, f64::max);
    for _ in 0..50 {
        f.rhs(&mut du, &u, p, t0);
        let residual = alg.iter().map(|&i| du[i].real().abs()).fold(0.0, f64::max);
        if residual <= 1e-12 * scale {
            return Ok(u);
        }
        if !residual.is_finite() {
            break;
        }
        dense_jacobian(f, &u, p, t0, JacobianMethod::Auto, &mut jac, &mut work);
        let block = lu.matrix_mut();
        for (b, &j) in alg.iter().enumerate() {
            for (a, &i) in alg.iter().enumerate() {
                block[(a, b)] = jac[(i, j)];
            }
        }
        lu.factor().map_err(|_| {
            Error::InconsistentInitialCondition(
                "the algebraic equations' Jacobian is singular".into(),
            )
        })?;
        let mut delta: Vec<T> = alg.iter().map(|&i| -du[i]).collect();
        lu.solve(&mut delta);
        for (&i, d) in alg.iter().zip(delta) {
            u[i] += d;
        }
    }
    Err(Error::InconsistentInitialCondition(
        "Newton's method on the algebraic equations did not converge".into(),
    ))
}
