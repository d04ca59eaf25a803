//! `∂f/∂u` and `∂f/∂t` of a right-hand side: analytic when the function
//! provides it, otherwise forward-mode AD on its generic `rhs` (one dual pass
//! per column, or per colour for a sparse Jacobian), or finite differences.

use super::dense::DenseMatrix;
use super::sparsity::{ColumnColoring, SparsityPattern};
use crate::problem::OdeFunction;
use crate::scalar::Scalar;

/// How Jacobians are computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JacobianMethod {
    /// The function's analytic Jacobian if it has one, else forward-mode AD.
    #[default]
    Auto,
    /// Forward-mode AD on the generic `rhs`, ignoring any analytic Jacobian.
    ForwardAd,
    /// Forward finite differences (for functions AD cannot see through).
    FiniteDifferences,
}

/// Working memory for Jacobian evaluations (allocated once per solve).
#[derive(Clone, Debug)]
pub struct JacobianWork<T: Scalar> {
    u: Vec<T::Dual>,
    du: Vec<T::Dual>,
    p: Vec<T::Dual>,
    plain_u: Vec<T>,
    plain_du: Vec<T>,
    plain_f0: Vec<T>,
}

impl<T: Scalar> JacobianWork<T> {
    /// Memory for a system of `n` states and `np` parameters.
    pub fn new(n: usize, np: usize) -> Self {
        Self {
            u: vec![T::dual(T::zero(), T::zero()); n],
            du: vec![T::dual(T::zero(), T::zero()); n],
            p: vec![T::dual(T::zero(), T::zero()); np],
            plain_u: vec![T::zero(); n],
            plain_du: vec![T::zero(); n],
            plain_f0: vec![T::zero(); n],
        }
    }

    fn load(&mut self, u: &[T], p: &[T]) {
        for (d, &x) in self.u.iter_mut().zip(u) {
            *d = T::dual(x, T::zero());
        }
        for (d, &x) in self.p.iter_mut().zip(p) {
            *d = T::dual(x, T::zero());
        }
    }
}

/// What a Jacobian evaluation cost, in calls of the right-hand side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JacobianCost {
    /// Plain evaluations of `f` (finite differences).
    pub f_evals: usize,
    /// Dual evaluations of `f` (AD).
    pub dual_evals: usize,
}

/// The step for forward differences in component `x`.
fn fd_step(x: f64) -> f64 {
    f64::EPSILON.sqrt() * x.abs().max(1.0)
}

/// Dense `∂f/∂u` at `(u, p, t)` into `jac`.
pub fn dense_jacobian<F: OdeFunction, T: Scalar>(
    f: &F,
    u: &[T],
    p: &[T],
    t: T,
    method: JacobianMethod,
    jac: &mut DenseMatrix<T>,
    work: &mut JacobianWork<T>,
) -> JacobianCost {
    let n = u.len();
    if method == JacobianMethod::Auto && f.jacobian(jac, u, p, t) {
        return JacobianCost::default();
    }
    if method == JacobianMethod::FiniteDifferences {
        f.rhs(&mut work.plain_f0, u, p, t);
        work.plain_u.copy_from_slice(u);
        for j in 0..n {
            let h = fd_step(u[j].real());
            work.plain_u[j] = u[j] + T::cst(h);
            f.rhs(&mut work.plain_du, &work.plain_u, p, t);
            work.plain_u[j] = u[j];
            for (i, (&a, &b)) in work.plain_du.iter().zip(&work.plain_f0).enumerate() {
                jac[(i, j)] = (a - b).scaled(1.0 / h);
            }
        }
        return JacobianCost {
            f_evals: n + 1,
            dual_evals: 0,
        };
    }
    work.load(u, p);
    let td = T::dual(t, T::zero());
    for j in 0..n {
        work.u[j] = T::dual(u[j], T::one());
        f.rhs(&mut work.du, &work.u, &work.p, td);
        work.u[j] = T::dual(u[j], T::zero());
        for (i, &d) in work.du.iter().enumerate() {
            jac[(i, j)] = T::dual_parts(d).1;
        }
    }
    JacobianCost {
        f_evals: 0,
        dual_evals: n,
    }
}

/// Sparse `∂f/∂u` at `(u, p, t)`: the values of `pattern`'s entries, in its
/// order, from one evaluation per colour (dual numbers, or finite
/// differences with `JacobianMethod::FiniteDifferences`).
#[allow(clippy::too_many_arguments)]
pub fn sparse_jacobian<F: OdeFunction, T: Scalar>(
    f: &F,
    u: &[T],
    p: &[T],
    t: T,
    method: JacobianMethod,
    pattern: &SparsityPattern,
    coloring: &ColumnColoring,
    values: &mut [T],
    work: &mut JacobianWork<T>,
) -> JacobianCost {
    let n = u.len();
    let fd = method == JacobianMethod::FiniteDifferences;
    if fd {
        f.rhs(&mut work.plain_f0, u, p, t);
    } else {
        work.load(u, p);
    }
    let td = T::dual(t, T::zero());
    for c in 0..coloring.count {
        // Perturb every column of colour c at once.
        if fd {
            work.plain_u.copy_from_slice(u);
            for j in 0..n {
                if coloring.color[j] == c {
                    work.plain_u[j] = u[j] + T::cst(fd_step(u[j].real()));
                }
            }
            f.rhs(&mut work.plain_du, &work.plain_u, p, t);
        } else {
            for j in 0..n {
                let seed = if coloring.color[j] == c {
                    T::one()
                } else {
                    T::zero()
                };
                work.u[j] = T::dual(u[j], seed);
            }
            f.rhs(&mut work.du, &work.u, &work.p, td);
        }
        for j in (0..n).filter(|&j| coloring.color[j] == c) {
            let start = pattern.col_ptr()[j];
            for (k, &i) in pattern.rows(j).iter().enumerate() {
                values[start + k] = if fd {
                    (work.plain_du[i] - work.plain_f0[i]).scaled(1.0 / fd_step(u[j].real()))
                } else {
                    T::dual_parts(work.du[i]).1
                };
            }
        }
    }
    if fd {
        JacobianCost {
            f_evals: coloring.count + 1,
            dual_evals: 0,
        }
    } else {
        JacobianCost {
            f_evals: 0,
            dual_evals: coloring.count,
        }
    }
}

/// `∂f/∂t` at `(u, p, t)` into `out`, by one dual evaluation.
pub fn time_derivative<F: OdeFunction, T: Scalar>(
    f: &F,
    u: &[T],
    p: &[T],
    t: T,
    out: &mut [T],
    work: &mut JacobianWork<T>,
) {
    work.load(u, p);
    f.rhs(&mut work.du, &work.u, &work.p, T::dual(t, T::one()));
    for (o, &d) in out.iter_mut().zip(&work.du) {
        *o = T::dual_parts(d).1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f = (x² y + sin t, x - y³ + t x)
    struct Test;
    impl OdeFunction for Test {
        fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], _p: &[T], t: T) {
            du[0] = u[0] * u[0] * u[1] + t.sin();
            du[1] = u[0] - u[1] * u[1] * u[1] + t * u[0];
        }
    }

    fn exact(u: [f64; 2], t: f64) -> [[f64; 2]; 2] {
        [
            [2.0 * u[0] * u[1], u[0] * u[0]],
            [1.0 + t, -3.0 * u[1] * u[1]],
        ]
    }

    #[test]
    fn ad_fd_and_sparse_jacobians_agree_with_the_formula() {
        let (u, t) = ([1.3, -0.7], 0.4);
        let want = exact(u, t);
        let mut work = JacobianWork::new(2, 0);
        for method in [JacobianMethod::Auto, JacobianMethod::FiniteDifferences] {
            let mut jac = DenseMatrix::zeros(2);
            dense_jacobian(&Test, &u, &[], t, method, &mut jac, &mut work);
            let tol = if method == JacobianMethod::Auto {
                1e-14
            } else {
                1e-6
            };
            for i in 0..2 {
                for j in 0..2 {
                    assert!(
                        (jac[(i, j)] - want[i][j]).abs() < tol,
                        "{method:?} ({i},{j})"
                    );
                }
            }
        }
        let pattern = SparsityPattern::dense(2);
        let coloring = pattern.color_columns();
        let mut values = vec![0.0; 4];
        sparse_jacobian(
            &Test,
            &u,
            &[],
            t,
            JacobianMethod::Auto,
            &pattern,
            &coloring,
            &mut values,
            &mut work,
        );
        for j in 0..2 {
            for i in 0..2 {
                assert!((values[pattern.position(i, j).unwrap()] - want[i][j]).abs() < 1e-14);
            }
        }
        let mut dt = [0.0; 2];
        time_derivative(&Test, &u, &[], t, &mut dt, &mut work);
        assert!((dt[0] - t.cos()).abs() < 1e-14 && (dt[1] - u[0]).abs() < 1e-14);
    }
}
