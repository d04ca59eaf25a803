//! Variable-order, variable-step BDF (orders 1–5, in the numerical
//! differentiation formula variant of Shampine & Reichelt, as in MATLAB's
//! `ode15s` and SciPy's `BDF`), with `M u' = f` mass matrices.
//!
//! The history is kept as backward differences `D` of the interpolating
//! polynomial; a change of step size re-expresses them on the new grid, so
//! every step takes exactly the size the controller wants. The corrector is
//! simplified Newton on `W = M - c J`, `c = h / α_k`; `J` is reused until
//! Newton fails with it, and `W` is refactored only when `c` has moved by
//! more than 30% or Newton fails with it.

use crate::dim::Dim;
use crate::methods::implicit::{Part, WOperator, weights_into};
use crate::methods::{DenseFn, ErrorScale, MethodInfo, OdeMethod, Rhs, Setup};
use crate::problem::{MassMatrix, OdeFunction};
use crate::scalar::Scalar;
use crate::solve::Tolerance;

/// Highest order.
pub const MAX_ORDER: usize = 5;
const NEWTON_MAXITER: usize = 4;
const MIN_FACTOR: f64 = 0.2;
const MAX_FACTOR: f64 = 10.0;
/// Refactor `W` when `c = h/α_k` has moved more than this fraction from the
/// value it was factored with.
const REFACTOR_RATIO: f64 = 0.3;
/// Smallest step growth worth taking (CVODE's η threshold).
const STEP_GAIN_THRESHOLD: f64 = 1.5;
/// NDF coefficients κ_k (Shampine & Reichelt 1997; κ_5 = 0 is plain BDF5).
const KAPPA: [f64; MAX_ORDER + 1] = [0.0, -0.1850, -1.0 / 9.0, -0.0823, -0.0415, 0.0];

/// `γ_k = Σ_{j≤k} 1/j`.
const fn gamma(k: usize) -> f64 {
    let mut s = 0.0;
    let mut j = 1;
    while j <= k {
        s += 1.0 / j as f64;
        j += 1;
    }
    s
}

/// `α_k = (1 - κ_k) γ_k`.
fn alpha(k: usize) -> f64 {
    (1.0 - KAPPA[k]) * gamma(k)
}

/// Error constant `κ_k γ_k + 1/(k+1)`.
fn error_const(k: usize) -> f64 {
    KAPPA[k] * gamma(k) + 1.0 / (k as f64 + 1.0)
}

/// The variable-order BDF/NDF method (orders 1–5).
///
/// The stiff workhorse for large problems and tight tolerances: few `f`
/// evaluations per step, and Jacobians and factorisations reused across
/// many steps. Solves DAEs `M u' = f` with a singular mass matrix.
#[derive(Clone, Copy, Debug)]
pub struct Bdf {
    /// Highest order used (1–5).
    pub max_order: usize,
}

impl Default for Bdf {
    fn default() -> Self {
        Self {
            max_order: MAX_ORDER,
        }
    }
}

impl Bdf {
    /// BDF limited to orders `1..=max_order` (clamped to 1–5).
    pub fn with_max_order(max_order: usize) -> Self {
        Self {
            max_order: max_order.clamp(1, MAX_ORDER),
        }
    }
}

/// The matrix `R` of `change_D` for `order` and step ratio `factor`
/// (Shampine & Reichelt; row-major `(order+1)²`).
fn compute_r(order: usize, factor: f64, out: &mut [f64]) {
    let m = order + 1;
    // M[0][j] = 1; M[i][j] = (i - 1 - factor j) / i for i, j ≥ 1; then cumulative products down columns.
    for j in 0..m {
        out[j] = 1.0;
    }
    for i in 1..m {
        for j in 0..m {
            let v = if j == 0 {
                0.0
            } else {
                (i as f64 - 1.0 - factor * j as f64) / i as f64
            };
            out[i * m + j] = out[(i - 1) * m + j] * v;
        }
    }
}

/// Working memory of a BDF solve.
pub struct BdfCache<T: Scalar> {
    n: usize,
    max_order: usize,
    /// Backward differences, `MAX_ORDER + 3` rows of `n`.
    d: Vec<T>,
    order: usize,
    /// The order of the last accepted step (its dense output's degree).
    step_order: usize,
    /// The step size the differences are scaled for (`None` before the first step).
    h: Option<f64>,
    /// The order the next step should use.
    next_order: usize,
    n_equal_steps: usize,
    /// Newton's accumulated correction `d = y_new - y_predict`.
    corr: Vec<T>,
    y_predict: Vec<T>,
    psi: Vec<T>,
    f: Vec<T>,
    dy: Vec<T>,
    weights: Vec<f64>,
    f0: Vec<T>,
    r: Vec<f64>,
    u: Vec<f64>,
    ru: Vec<f64>,
    d_tmp: Vec<T>,
    w: WOperator<T>,
    mass: MassMatrix,
    rtol: Tolerance,
    atol: Tolerance,
    newton_tol: f64,
    /// The Jacobian is from this step (SciPy's `current_jac`).
    jacobian_current: bool,
    /// Proposed step-size factor from the last step (accept or reject).
    proposed_factor: f64,
    last_iters: usize,
}

impl<T: Scalar> BdfCache<T> {
    fn row(&self, i: usize) -> &[T] {
        &self.d[i * self.n..(i + 1) * self.n]
    }

    /// Re-expresses `D[0..=order]` for a step-size ratio `factor`.
    fn change_d(&mut self, order: usize, factor: f64) {
        let m = order + 1;
        compute_r(order, factor, &mut self.r);
        compute_r(order, 1.0, &mut self.u);
        // RU = R · U
        for i in 0..m {
            for j in 0..m {
                let mut s = 0.0;
                for k in 0..m {
                    s += self.r[i * m + k] * self.u[k * m + j];
                }
                self.ru[i * m + j] = s;
            }
        }
        // D[0..m] = RUᵀ · D[0..m]
        let n = self.n;
        self.d_tmp[..m * n].fill(T::zero());
        for j in 0..m {
            for k in 0..m {
                let c = self.ru[k * m + j];
                if c != 0.0 {
                    for x in 0..n {
                        let v = self.d[k * n + x].scaled(c);
                        self.d_tmp[j * n + x] += v;
                    }
                }
            }
        }
        self.d[..m * n].copy_from_slice(&self.d_tmp[..m * n]);
    }
}

/// `y(t_new + (θ-1) h) = D0 + Σ_{j≥1} D_j Π_{i<j} (θ - 1 + i)/(i + 1)`.
fn bdf_dense<T: Scalar>(theta: T, order: usize, d: &[T], out: &mut [T]) {
    let n = out.len();
    out.copy_from_slice(&d[..n]);
    let mut p = T::one();
    for j in 1..=order {
        let i = (j - 1) as f64;
        p *= (theta - T::one() + T::cst(i)).scaled(1.0 / (i + 1.0));
        for (o, &v) in out.iter_mut().zip(&d[j * n..(j + 1) * n]) {
            *o += p * v;
        }
    }
}

fn bdf_dense_eval<T: Scalar>(theta: T, _dt: T, data: &[T], out: &mut [T]) {
    let order = data[0].real() as usize;
    bdf_dense(theta, order, &data[1..], out);
}

impl OdeMethod for Bdf {
    fn is_one_step(&self) -> bool {
        false
    }

    type Cache<T: Scalar, D: Dim> = BdfCache<T>;

    fn info(&self) -> MethodInfo {
        MethodInfo {
            name: "BDF",
            order: self.max_order as u32,
            error_order: Some(self.max_order as u32),
            dense_order: self.max_order as u32,
            mass_matrix: true,
            reuses_factorizations: true,
            stability_size: 0.0,
        }
    }

    fn new_cache<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        dim: D,
        setup: &Setup<'_, F, T>,
    ) -> BdfCache<T> {
        let n = dim.size();
        let rows = MAX_ORDER + 3;
        let rtol = match &setup.opts.rtol {
            Tolerance::Scalar(x) => *x,
            Tolerance::PerComponent(v) => v.iter().copied().fold(f64::INFINITY, f64::min),
        };
        BdfCache {
            n,
            max_order: self.max_order,
            d: vec![T::zero(); rows * n],
            order: 1,
            step_order: 1,
            h: None,
            next_order: 1,
            n_equal_steps: 0,
            corr: vec![T::zero(); n],
            y_predict: vec![T::zero(); n],
            psi: vec![T::zero(); n],
            f: vec![T::zero(); n],
            dy: vec![T::zero(); n],
            weights: vec![0.0; n],
            f0: vec![T::zero(); n],
            r: vec![0.0; (MAX_ORDER + 1) * (MAX_ORDER + 1)],
            u: vec![0.0; (MAX_ORDER + 1) * (MAX_ORDER + 1)],
            ru: vec![0.0; (MAX_ORDER + 1) * (MAX_ORDER + 1)],
            d_tmp: vec![T::zero(); rows * n],
            w: WOperator::new(setup, Part::Full),
            mass: setup.mass.clone(),
            rtol: setup.opts.rtol.clone(),
            atol: setup.opts.atol.clone(),
            newton_tol: (10.0 * f64::EPSILON / rtol.max(f64::MIN_POSITIVE))
                .max(0.03f64.min(rtol.sqrt())),
            jacobian_current: false,
            proposed_factor: 1.0,
            last_iters: 1,
        }
    }

    fn start<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut BdfCache<T>,
        rhs: &mut Rhs<F, T>,
        t: T,
        u: &[T],
    ) {
        rhs.eval(&mut c.f0, u, t);
        // A (re)start: first order, no history.
        c.d.iter_mut().for_each(|x| *x = T::zero());
        c.d[..c.n].copy_from_slice(u);
        c.h = None;
        c.order = 1;
        c.next_order = 1;
        c.n_equal_steps = 0;
        // D1 will be h u'(t0): with a mass matrix, u' = M⁻¹ f on the
        // differential part (the algebraic part starts flat).
        initial_slope(&c.mass, &mut c.f0);
        c.w.update_jacobian(rhs, u, t);
        c.jacobian_current = true;
    }

    fn derivative<'c, T: Scalar, D: Dim>(&self, c: &'c BdfCache<T>) -> &'c [T] {
        &c.f0
    }

    fn step<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut BdfCache<T>,
        rhs: &mut Rhs<F, T>,
        t: T,
        dt: T,
        _u: &[T],
        u_new: &mut [T],
        scale: Option<&ErrorScale>,
    ) -> f64 {
        let n = c.n;
        let h = dt.real();
        // Bring the history to this step's size and order.
        match c.h {
            None => {
                // First step: D1 = h f(t0, y0).
                for (d, &f) in c.d[n..2 * n].iter_mut().zip(&c.f0) {
                    *d = dt * f;
                }
                c.h = Some(h);
            }
            Some(h_old) => {
                if c.next_order != c.order {
                    c.order = c.next_order;
                    c.n_equal_steps = 0;
                }
                if h != h_old {
                    let order = c.order;
                    c.change_d(order, h / h_old);
                    c.h = Some(h);
                    c.n_equal_steps = 0;
                }
            }
        }
        let order = c.order;
        let t_new = t + dt;
        let alpha_k = alpha(order);
        let gamma_dt = dt.scaled(1.0 / alpha_k);
        // Predictor and ψ.
        for x in 0..n {
            let mut yp = T::zero();
            for j in 0..=order {
                yp += c.d[j * n + x];
            }
            c.y_predict[x] = yp;
            let mut ps = T::zero();
            for j in 1..=order {
                ps += c.d[j * n + x].scaled(gamma(j));
            }
            c.psi[x] = ps.scaled(1.0 / alpha_k);
        }
        weights_into(
            &mut c.weights,
            &c.rtol,
            &c.atol,
            c.y_predict.iter().map(|x| x.real()),
        );
        // Reuse the factors while c = h/α_k stays within 30% of theirs (as
        // CVODE does): Newton then scales its corrections by 2/(1 + c/c_W).
        let mut force_refactor = false;
        let iters = loop {
            let ratio = c.w.factored_gamma_dt().map(|g| gamma_dt.real() / g);
            let fresh = match ratio {
                Some(r) if !force_refactor && (r - 1.0).abs() <= REFACTOR_RATIO => r == 1.0,
                _ => {
                    if c.w.factor(rhs, &c.mass, gamma_dt).is_err() {
                        c.proposed_factor = 0.5;
                        return f64::INFINITY;
                    }
                    true
                }
            };
            let correction =
                c.w.factored_gamma_dt()
                    .map_or(1.0, |g| 2.0 / (1.0 + gamma_dt.real() / g));
            match newton::<F, T>(c, rhs, t_new, gamma_dt, correction, u_new) {
                Some(iters) => break iters,
                None if !fresh => force_refactor = true,
                None if !c.jacobian_current => {
                    c.w.update_jacobian(rhs, &c.y_predict, t_new);
                    c.jacobian_current = true;
                    force_refactor = true;
                }
                None => {
                    c.proposed_factor = 0.5;
                    return f64::INFINITY;
                }
            }
        };
        c.last_iters = iters;
        let safety = 0.9 * (2.0 * NEWTON_MAXITER as f64 + 1.0)
            / (2.0 * NEWTON_MAXITER as f64 + iters as f64);
        let ec = error_const(order);
        let err_sq = match scale {
            Some(scale) => {
                let mut sum = 0.0;
                for (i, (e, y)) in c.corr.iter().zip(u_new.iter()).enumerate() {
                    let r = ec * e.real() / scale.weight(i, y.real(), y.real());
                    sum += r * r;
                }
                sum / n as f64
            }
            None => 0.0,
        };
        if err_sq > 1.0 {
            c.proposed_factor = MIN_FACTOR.max(safety * err_sq.powf(-0.5 / (order as f64 + 1.0)));
        } else {
            c.proposed_factor = 1.0;
        }
        err_sq
    }

    fn accept<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut BdfCache<T>,
        _rhs: &mut Rhs<F, T>,
        _t_new: T,
        u_new: &[T],
    ) {
        let n = c.n;
        let order = c.order;
        c.step_order = order;
        c.n_equal_steps += 1;
        c.jacobian_current = false;
        // D^{j+1} y_n = D^j y_n - D^j y_{n-1}, with d = D^{k+1} y_n.
        for x in 0..n {
            let d = c.corr[x];
            c.d[(order + 2) * n + x] = d - c.d[(order + 1) * n + x];
            c.d[(order + 1) * n + x] = d;
        }
        for i in (0..=order).rev() {
            for x in 0..n {
                let v = c.d[(i + 1) * n + x];
                c.d[i * n + x] += v;
            }
        }
        debug_assert!(
            c.row(0)
                .iter()
                .zip(u_new)
                .all(|(a, b)| (a.real() - b.real()).abs() <= 1e-9 * (1.0 + b.real().abs()))
        );
        c.next_order = order;
        c.proposed_factor = 1.0;
        if c.n_equal_steps < order + 1 {
            return;
        }
        // Order selection: errors of orders k-1, k, k+1 from the differences.
        let safety = 0.9 * (2.0 * NEWTON_MAXITER as f64 + 1.0)
            / (2.0 * NEWTON_MAXITER as f64 + c.last_iters as f64);
        let norm = |c: &BdfCache<T>, row: usize, k: usize| -> f64 {
            let ec = error_const(k);
            let mut sum = 0.0;
            for x in 0..n {
                let w = c.atol.at(x) + c.rtol.at(x) * u_new[x].real().abs();
                let r = ec * c.d[row * n + x].real() / w;
                sum += r * r;
            }
            (sum / n as f64).sqrt()
        };
        let err_m = if order > 1 {
            norm(c, order, order - 1)
        } else {
            f64::INFINITY
        };
        let err = norm(c, order + 1, order);
        let err_p = if order < c.max_order {
            norm(c, order + 2, order + 1)
        } else {
            f64::INFINITY
        };
        let factors = [
            err_m.powf(-1.0 / order as f64),
            err.powf(-1.0 / (order as f64 + 1.0)),
            err_p.powf(-1.0 / (order as f64 + 2.0)),
        ];
        let (best, &fmax) = factors
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap_or((1, &1.0));
        c.next_order = order + best - 1;
        c.proposed_factor = MAX_FACTOR.min(safety * fmax);
        c.n_equal_steps = 0;
        // Like CVODE, leave the step alone for gains below 50%: a new step
        // size costs a refactorisation, which the gain would not repay.
        if c.next_order == order && (1.0..STEP_GAIN_THRESHOLD).contains(&c.proposed_factor) {
            c.proposed_factor = 1.0;
        }
    }

    fn propose_step<T: Scalar, D: Dim>(
        &self,
        c: &BdfCache<T>,
        dt: f64,
        _accepted: bool,
    ) -> Option<f64> {
        Some(dt * c.proposed_factor)
    }

    fn interpolate<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut BdfCache<T>,
        _rhs: &mut Rhs<F, T>,
        _t: T,
        _dt: T,
        _u: &[T],
        theta: T,
        out: &mut [T],
    ) {
        bdf_dense(theta, c.step_order, &c.d, out);
    }

    fn dense_width(&self, n: usize) -> usize {
        1 + (MAX_ORDER + 1) * n
    }

    fn write_dense<F: OdeFunction, T: Scalar, D: Dim>(
        &self,
        c: &mut BdfCache<T>,
        _rhs: &mut Rhs<F, T>,
        _t: T,
        _dt: T,
        _u: &[T],
        out: &mut Vec<T>,
    ) {
        out.push(T::cst(c.step_order as f64));
        out.extend_from_slice(&c.d[..(MAX_ORDER + 1) * c.n]);
    }

    fn dense_fn<T: Scalar>() -> DenseFn<T> {
        bdf_dense_eval::<T>
    }

    /// `[order, step order, h, next order, equal steps, D…]`: the
    /// differences and the bookkeeping the next step starts from.
    fn write_history<T: Scalar, D: Dim>(&self, c: &BdfCache<T>, out: &mut Vec<T>) -> bool {
        let meta = [
            c.order as f64,
            c.step_order as f64,
            c.h.unwrap_or(f64::NAN),
            c.next_order as f64,
            c.n_equal_steps as f64,
        ];
        out.extend(meta.iter().map(|&x| T::cst(x)));
        out.extend_from_slice(&c.d);
        true
    }

    fn read_history<T: Scalar, D: Dim>(&self, c: &mut BdfCache<T>, history: &[T]) {
        let (meta, d) = history.split_at(HISTORY_META);
        let count = |x: &T| (x.real() as usize).clamp(1, c.max_order);
        c.order = count(&meta[0]);
        c.step_order = count(&meta[1]);
        c.h = Some(meta[2].real()).filter(|h| h.is_finite());
        c.next_order = count(&meta[3]);
        c.n_equal_steps = meta[4].real() as usize;
        c.d.copy_from_slice(d);
    }
}

/// Bookkeeping numbers ahead of the differences in a written history.
const HISTORY_META: usize = 5;

/// Turns `f(t0, u0)` into `u'(t0)` where `M` allows: divides by a diagonal
/// (zero rows, algebraic, get slope zero) or solves with a dense `M`
/// (singular: left as `f`, Newton corrects the first step).
fn initial_slope<T: Scalar>(mass: &MassMatrix, f: &mut [T]) {
    match mass {
        MassMatrix::Identity => {}
        MassMatrix::Diagonal(d) => {
            for (x, &m) in f.iter_mut().zip(d) {
                *x = if m == 0.0 {
                    T::zero()
                } else {
                    x.scaled(1.0 / m)
                };
            }
        }
        MassMatrix::Dense(m) => {
            let mut lu = crate::linalg::DenseLu::new(m.size());
            if lu.factor_from(m).is_ok() {
                let mut x: Vec<f64> = f.iter().map(|v| v.real()).collect();
                lu.solve(&mut x);
                for (v, xi) in f.iter_mut().zip(x) {
                    *v = T::cst(xi);
                }
            }
        }
    }
}

/// SciPy's `solve_bdf_system`: simplified Newton for
/// `M d - c f(y_predict + d) + M ψ = 0`; the number of iterations, or `None`.
fn newton<F: OdeFunction, T: Scalar>(
    c: &mut BdfCache<T>,
    rhs: &mut Rhs<F, T>,
    t_new: T,
    gamma_dt: T,
    correction: f64,
    y: &mut [T],
) -> Option<usize> {
    let n = c.n;
    c.corr.fill(T::zero());
    y.copy_from_slice(&c.y_predict);
    let mut previous: Option<f64> = None;
    for k in 0..NEWTON_MAXITER {
        rhs.eval(&mut c.f, y, t_new);
        if !c.f.iter().all(|x| x.is_finite()) {
            return None;
        }
        // dy = W⁻¹ (c f - M (ψ + d))
        for x in 0..n {
            c.dy[x] = c.psi[x] + c.corr[x];
        }
        c.mass.apply(&c.dy, &mut c.d_tmp[..n]);
        for x in 0..n {
            c.dy[x] = gamma_dt * c.f[x] - c.d_tmp[x];
        }
        c.w.solve(rhs, &mut c.dy);
        if correction != 1.0 {
            for d in c.dy.iter_mut() {
                *d = d.scaled(correction);
            }
        }
        let mut sum = 0.0;
        for (d, w) in c.dy.iter().zip(&c.weights) {
            let r = d.real() / w;
            sum += r * r;
        }
        let norm = (sum / n as f64).sqrt();
        let rate = previous.map(|p| norm / p);
        if let Some(rate) = rate
            && (rate >= 1.0
                || rate.powi((NEWTON_MAXITER - k) as i32) / (1.0 - rate) * norm > c.newton_tol)
        {
            return None;
        }
        for x in 0..n {
            y[x] += c.dy[x];
            c.corr[x] += c.dy[x];
        }
        if norm == 0.0 || rate.is_some_and(|r| r / (1.0 - r) * norm < c.newton_tol) {
            return Some(k + 1);
        }
        if !norm.is_finite() {
            return None;
        }
        previous = Some(norm);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dim::Dyn;
    use crate::problem::JacobianSparsity;
    use crate::solve::SolveOptions;

    /// `u1' = u1 cos t`, `u2' = -u2²`: `u = (e^{sin t}, 1/(1+t))`.
    struct Test;
    impl OdeFunction for Test {
        fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], _p: &[T], t: T) {
            du[0] = u[0] * t.cos();
            du[1] = -u[1] * u[1];
        }
    }

    fn exact(t: f64) -> [f64; 2] {
        [t.sin().exp(), 1.0 / (1.0 + t)]
    }

    /// One step of order `k` from exact history on a grid of spacing `h`.
    fn local_error(k: usize, h: f64) -> f64 {
        let t_n = 0.5;
        let opts = SolveOptions::default().tolerances(1e-13, 1e-13);
        let u0 = exact(t_n);
        let setup = Setup {
            f: &Test,
            u0: &u0,
            p: &[],
            t0: t_n,
            mass: &MassMatrix::Identity,
            sparsity: &JacobianSparsity::Dense,
            opts: &opts,
        };
        let method = Bdf::with_max_order(k);
        let mut c: BdfCache<f64> = method.new_cache(Dyn(2), &setup);
        let mut rhs = Rhs::new(&Test, &[]);
        method.start::<_, f64, Dyn>(&mut c, &mut rhs, t_n, &u0);
        // Backward differences of the exact values at t_n, t_n - h, …
        let values: Vec<[f64; 2]> = (0..=k).map(|j| exact(t_n - j as f64 * h)).collect();
        let mut diffs = values.clone();
        for j in 0..=k {
            c.d[2 * j..2 * j + 2].copy_from_slice(&diffs[0]);
            diffs = diffs
                .windows(2)
                .map(|w| [w[0][0] - w[1][0], w[0][1] - w[1][1]])
                .collect();
        }
        c.h = Some(h);
        c.order = k;
        c.next_order = k;
        let mut u_new = [0.0; 2];
        method.step::<_, f64, Dyn>(&mut c, &mut rhs, t_n, h, &u0, &mut u_new, None);
        let e = exact(t_n + h);
        (u_new[0] - e[0]).abs().max((u_new[1] - e[1]).abs())
    }

    #[test]
    fn each_order_has_its_local_truncation_order() {
        for k in 1..=MAX_ORDER {
            let hs = [0.04, 0.02, 0.01];
            let errs: Vec<f64> = hs.iter().map(|&h| local_error(k, h)).collect();
            let slope = (errs[0] / errs[2]).ln() / (hs[0] / hs[2]).ln();
            // Local error O(h^(k+1)) for a method of order k.
            assert!(
                (slope - (k as f64 + 1.0)).abs() < 0.3,
                "order {k}: local slope {slope} from {errs:?}"
            );
        }
    }

    #[test]
    fn rescaling_the_history_keeps_the_polynomial() {
        // D for y(t) = t³ on spacing 0.1 at t = 1, rescaled to spacing 0.05,
        // must equal the differences of t³ on the new grid.
        let mut c = BdfCache::<f64> {
            n: 1,
            max_order: MAX_ORDER,
            d: vec![0.0; MAX_ORDER + 3],
            order: 3,
            step_order: 3,
            h: Some(0.1),
            next_order: 3,
            n_equal_steps: 0,
            corr: vec![0.0],
            y_predict: vec![0.0],
            psi: vec![0.0],
            f: vec![0.0],
            dy: vec![0.0],
            weights: vec![1.0],
            f0: vec![0.0],
            r: vec![0.0; 36],
            u: vec![0.0; 36],
            ru: vec![0.0; 36],
            d_tmp: vec![0.0; MAX_ORDER + 3],
            w: {
                let opts = SolveOptions::default();
                let setup = Setup {
                    f: &Test,
                    u0: &[0.0],
                    p: &[],
                    t0: 0.0,
                    mass: &MassMatrix::Identity,
                    sparsity: &JacobianSparsity::Dense,
                    opts: &opts,
                };
                WOperator::new(&setup, Part::Full)
            },
            mass: MassMatrix::Identity,
            rtol: Tolerance::Scalar(1e-6),
            atol: Tolerance::Scalar(1e-6),
            newton_tol: 1e-3,
            jacobian_current: false,
            proposed_factor: 1.0,
            last_iters: 1,
        };
        let diffs = |h: f64| -> Vec<f64> {
            let mut v: Vec<f64> = (0..4).map(|j| (1.0 - j as f64 * h).powi(3)).collect();
            let mut out = Vec::new();
            for _ in 0..4 {
                out.push(v[0]);
                v = v.windows(2).map(|w| w[0] - w[1]).collect();
            }
            out
        };
        c.d[..4].copy_from_slice(&diffs(0.1));
        c.change_d(3, 0.5);
        for (a, b) in c.d[..4].iter().zip(diffs(0.05)) {
            assert!((a - b).abs() < 1e-13, "{a} vs {b}");
        }
    }
}
