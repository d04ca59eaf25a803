//! Butcher tableaus with their error estimators and dense outputs, as data.
//!
//! Stage slots are laid out as `[main stages | extra stages]`. Every method
//! has an *end slot* holding `f(t + dt, u_new)`, which becomes the next
//! step's first stage: the last main stage for FSAL methods, otherwise the
//! first extra stage, whose row is `b` at `c = 1`.

/// Highest power of θ a dense-output weight polynomial may have.
pub const MAX_DENSE_DEGREE: usize = 8;

/// Coefficients of `b_i(θ) = Σ_k coef[k] θ^(k+1)`.
pub type DensePoly = [f64; MAX_DENSE_DEGREE];

/// How a method estimates its local error.
#[derive(Clone, Copy, Debug)]
pub enum ErrorEstimator {
    /// None: fixed steps only.
    None,
    /// An embedded pair: `err = dt Σ_j btilde_j k_j` with `btilde = b - bhat`
    /// (either sign), measured in the RMS norm.
    Embedded {
        /// Order of the embedded (lower-order) solution.
        order: u32,
        /// Error weights over the stage slots.
        btilde: &'static [f64],
    },
    /// Hairer's DOP853 estimator, blending a 5th- and a 3rd-order estimate:
    /// `|dt| ‖e5‖² / sqrt(n (‖e5‖² + 0.01 ‖e3‖²))` on scaled components.
    Dop853 {
        /// Weights of the 5th-order estimate.
        e5: &'static [f64],
        /// Weights of the 3rd-order estimate.
        e3: &'static [f64],
    },
}

/// A continuous extension `u(t + θ dt) = u + dt Σ_i b_i(θ) k_i`, possibly
/// using extra stages evaluated only when an interpolated value is needed.
#[derive(Clone, Copy, Debug)]
pub struct DenseOutput {
    /// Order of the interpolant.
    pub order: u32,
    /// Abscissae of the extra stages.
    pub extra_c: &'static [f64],
    /// Rows of the extra stages over all earlier slots.
    pub extra_a: &'static [&'static [f64]],
    /// Weight polynomials, one per slot (main then extra).
    pub b_theta: &'static [DensePoly],
    /// Number of polynomial coefficients actually used.
    pub degree: usize,
}

/// An explicit Runge–Kutta method as data.
#[derive(Clone, Copy, Debug)]
pub struct ExplicitTableau {
    /// Display name.
    pub name: &'static str,
    /// Order of the propagated solution.
    pub order: u32,
    /// Abscissae of the main stages.
    pub c: &'static [f64],
    /// Row `i` holds `a_{i,0..i}` (row 0 is empty).
    pub a: &'static [&'static [f64]],
    /// Weights of the propagated solution.
    pub b: &'static [f64],
    /// True when the last main stage is `f(t + dt, u_new)`.
    pub fsal: bool,
    /// The error estimator.
    pub error: ErrorEstimator,
    /// The dense output.
    pub dense: DenseOutput,
    /// Where the stability region meets the negative real axis (`|R(-x)| ≤ 1`
    /// for `0 < x ≤ stability_size`); 0 when the method is not used to
    /// detect stiffness.
    pub stability_size: f64,
}

impl ExplicitTableau {
    /// Number of main stages.
    pub const fn stages(&self) -> usize {
        self.c.len()
    }
    /// Number of stage slots (main and extra).
    pub const fn slots(&self) -> usize {
        self.c.len() + self.dense.extra_c.len()
    }
    /// The slot that holds `f(t + dt, u_new)` after a step is accepted.
    pub const fn end_slot(&self) -> usize {
        if self.fsal {
            self.c.len() - 1
        } else {
            self.c.len()
        }
    }
    /// Slots whose values an error estimate needs.
    pub const fn error_slots(&self) -> usize {
        match self.error {
            ErrorEstimator::None => 0,
            ErrorEstimator::Embedded { btilde, .. } => btilde.len(),
            ErrorEstimator::Dop853 { e5, .. } => e5.len(),
        }
    }
}

/// Pads rows of weight-polynomial coefficients to [`DensePoly`].
pub const fn pad_rows<const N: usize>(rows: [&[f64]; N]) -> [DensePoly; N] {
    let mut out = [[0.0; MAX_DENSE_DEGREE]; N];
    let mut i = 0;
    while i < N {
        let mut k = 0;
        while k < rows[i].len() {
            out[i][k] = rows[i][k];
            k += 1;
        }
        i += 1;
    }
    out
}

/// Pads `b` with zeros to `N` slots.
pub const fn pad<const N: usize>(b: &[f64]) -> [f64; N] {
    let mut out = [0.0; N];
    let mut i = 0;
    while i < b.len() {
        out[i] = b[i];
        i += 1;
    }
    out
}

/// Cubic Hermite interpolation between `(u, f(t, u))` and `(u_new, f(t+dt, u_new))`
/// written as weight polynomials: `b` are the step weights over all `N` slots,
/// slot 0 holds `f(t, u)` and slot `end` holds `f(t + dt, u_new)`.
pub const fn hermite<const N: usize>(b: [f64; N], end: usize) -> [DensePoly; N] {
    // u(θ) = u + h01(θ)(u_new - u) + dt h10(θ) f0 + dt h11(θ) f1 with
    // h01 = 3θ² - 2θ³, h10 = θ - 2θ² + θ³, h11 = θ³ - θ².
    let mut out = [[0.0; MAX_DENSE_DEGREE]; N];
    let mut i = 0;
    while i < N {
        out[i][1] = 3.0 * b[i];
        out[i][2] = -2.0 * b[i];
        i += 1;
    }
    out[0][0] += 1.0;
    out[0][1] -= 2.0;
    out[0][2] += 1.0;
    out[end][1] -= 1.0;
    out[end][2] += 1.0;
    out
}

/// Expands Hairer's nested dense output into weight polynomials.
///
/// Hairer's codes (DOPRI5, DOP853) write the interpolant as
/// `u + θ(F0 + (1-θ)(F1 + θ(F2 + (1-θ)(F3 + …))))` with `F_j = dt Σ_i m[j][i] k_i`,
/// so `F_j` is multiplied by `θ^⌊(j+2)/2⌋ (1-θ)^⌊(j+1)/2⌋`.
pub const fn nested_to_poly<const N: usize, const J: usize>(m: [[f64; N]; J]) -> [DensePoly; N] {
    let mut out = [[0.0; MAX_DENSE_DEGREE]; N];
    let mut j = 0;
    while j < J {
        let w = theta_power_poly((j + 2) / 2, j.div_ceil(2));
        let mut i = 0;
        while i < N {
            let mut k = 0;
            while k < MAX_DENSE_DEGREE {
                out[i][k] += m[j][i] * w[k];
                k += 1;
            }
            i += 1;
        }
        j += 1;
    }
    out
}

/// `θ^a (1-θ)^b` as coefficients of `θ^1 … θ^8` (requires `a ≥ 1`, `a + b ≤ 8`).
const fn theta_power_poly(a: usize, b: usize) -> DensePoly {
    // Full coefficients of θ^0..θ^8.
    let mut full = [0.0; MAX_DENSE_DEGREE + 1];
    full[a] = 1.0;
    let mut step = 0;
    while step < b {
        // Multiply by (1 - θ), from the top so each entry is used once.
        let mut k = MAX_DENSE_DEGREE;
        while k > 0 {
            full[k] -= full[k - 1];
            k -= 1;
        }
        step += 1;
    }
    let mut out = [0.0; MAX_DENSE_DEGREE];
    let mut k = 0;
    while k < MAX_DENSE_DEGREE {
        out[k] = full[k + 1];
        k += 1;
    }
    out
}

#[cfg(test)]
pub(crate) mod checks {
    //! Consistency checks every tableau must pass (order conditions of the
    //! quadrature kind; the full order is measured by convergence tests).
    use super::*;

    fn eval_poly(p: &DensePoly, theta: f64) -> f64 {
        p.iter().rev().fold(0.0, |acc, &c| acc * theta + c) * theta
    }

    /// Row sums, quadrature conditions, end slot and interpolant consistency.
    pub(crate) fn check_tableau(t: &ExplicitTableau) {
        let s = t.stages();
        assert_eq!(t.a.len(), s, "{}: one row per stage", t.name);
        assert_eq!(t.b.len(), s, "{}: one weight per stage", t.name);
        for (i, row) in t.a.iter().enumerate() {
            assert_eq!(row.len(), i, "{}: row {i} length", t.name);
            let sum: f64 = row.iter().sum();
            assert!(
                (sum - t.c[i]).abs() < 1e-13,
                "{}: row {i} sums to {sum}, c = {}",
                t.name,
                t.c[i]
            );
        }
        for q in 1..=t.order {
            let quad: f64 =
                t.b.iter()
                    .zip(t.c)
                    .map(|(b, c)| b * c.powi(q as i32 - 1))
                    .sum();
            assert!(
                (quad - 1.0 / q as f64).abs() < 1e-13,
                "{}: quadrature order {q}: {quad}",
                t.name
            );
        }
        // The end slot is f(t + dt, u_new).
        if t.fsal {
            let last = t.a[s - 1];
            assert_eq!(t.c[s - 1], 1.0, "{}: FSAL stage at c = 1", t.name);
            for j in 0..s - 1 {
                assert!(
                    (last[j] - t.b[j]).abs() < 1e-15,
                    "{}: FSAL row equals b",
                    t.name
                );
            }
            assert_eq!(t.b[s - 1], 0.0, "{}: FSAL stage has no weight", t.name);
        } else {
            assert_eq!(
                t.dense.extra_c[0], 1.0,
                "{}: first extra stage at c = 1",
                t.name
            );
            for j in 0..s {
                assert!(
                    (t.dense.extra_a[0][j] - t.b[j]).abs() < 1e-14,
                    "{}: end row equals b",
                    t.name
                );
            }
        }
        // Extra stages.
        let slots = t.slots();
        for (e, row) in t.dense.extra_a.iter().enumerate() {
            assert_eq!(row.len(), s + e, "{}: extra row {e} length", t.name);
            let sum: f64 = row.iter().sum();
            assert!(
                (sum - t.dense.extra_c[e]).abs() < 1e-13,
                "{}: extra row {e} sums to {sum}",
                t.name
            );
        }
        assert_eq!(
            t.dense.b_theta.len(),
            slots,
            "{}: one weight polynomial per slot",
            t.name
        );
        assert!(t.error_slots() <= slots);
        // Interpolant: b_i(1) = b_i, Σ_i b_i(θ) c_i^(q-1) = θ^q / q.
        let c_all: Vec<f64> = t.c.iter().chain(t.dense.extra_c).copied().collect();
        for i in 0..slots {
            let bi = if i < s { t.b[i] } else { 0.0 };
            let at1 = eval_poly(&t.dense.b_theta[i], 1.0);
            assert!(
                (at1 - bi).abs() < 1e-12,
                "{}: b_{i}(1) = {at1}, b_{i} = {bi}",
                t.name
            );
            assert!(
                t.dense.b_theta[i][t.dense.degree..]
                    .iter()
                    .all(|&x| x == 0.0)
            );
        }
        for &theta in &[0.1, 0.37, 0.5, 0.81] {
            for q in 1..=t.dense.order {
                let quad: f64 = (0..slots)
                    .map(|i| eval_poly(&t.dense.b_theta[i], theta) * c_all[i].powi(q as i32 - 1))
                    .sum();
                let want = theta.powi(q as i32) / q as f64;
                assert!(
                    (quad - want).abs() < 1e-12,
                    "{}: dense quadrature q={q} θ={theta}: {quad} vs {want}",
                    t.name
                );
            }
        }
    }

    /// A rooted tree, by its children (indices into the list of smaller trees).
    pub(crate) struct Tree {
        pub order: usize,
        /// The density γ(τ).
        pub gamma: f64,
        pub children: Vec<usize>,
    }

    /// All rooted trees up to `max_order`, ordered by order; children precede parents.
    pub(crate) fn trees(max_order: usize) -> Vec<Tree> {
        let mut list = vec![Tree {
            order: 1,
            gamma: 1.0,
            children: vec![],
        }];
        for n in 2..=max_order {
            // Children: non-increasing index sequences whose orders sum to n - 1.
            let existing = list.len();
            let mut found: Vec<Vec<usize>> = Vec::new();
            fn extend(
                list: &[Tree],
                max_idx: usize,
                remaining: usize,
                cur: &mut Vec<usize>,
                out: &mut Vec<Vec<usize>>,
            ) {
                if remaining == 0 {
                    out.push(cur.clone());
                    return;
                }
                for i in (0..=max_idx).rev() {
                    if list[i].order <= remaining {
                        cur.push(i);
                        extend(list, i, remaining - list[i].order, cur, out);
                        cur.pop();
                    }
                }
            }
            extend(&list, existing - 1, n - 1, &mut Vec::new(), &mut found);
            for children in found {
                let gamma = n as f64 * children.iter().map(|&c| list[c].gamma).product::<f64>();
                list.push(Tree {
                    order: n,
                    gamma,
                    children,
                });
            }
        }
        list
    }

    /// Stage vectors Φ(τ) for every tree: `Φ(leaf) = 1`, `Φ([τ1..τm])_i = Π_k (A Φ(τk))_i`,
    /// over all slots (main and extra stages).
    pub(crate) fn stage_weights(t: &ExplicitTableau, trees: &[Tree]) -> Vec<Vec<f64>> {
        let rows: Vec<&[f64]> = t.a.iter().chain(t.dense.extra_a.iter()).copied().collect();
        let slots = rows.len();
        let mut phi: Vec<Vec<f64>> = Vec::with_capacity(trees.len());
        for tree in trees {
            let mut v = vec![1.0; slots];
            for &c in &tree.children {
                for i in 0..slots {
                    let a_phi: f64 = rows[i].iter().zip(&phi[c]).map(|(a, p)| a * p).sum();
                    v[i] *= a_phi;
                }
            }
            phi.push(v);
        }
        phi
    }

    /// The worst violation of the order conditions `Σ w_i Φ_i(τ) = scale^|τ| / γ(τ)`
    /// over trees of exactly `order`.
    pub(crate) fn order_residual(
        w: &[f64],
        trees: &[Tree],
        phi: &[Vec<f64>],
        order: usize,
        scale: f64,
    ) -> f64 {
        trees
            .iter()
            .zip(phi)
            .filter(|(t, _)| t.order == order)
            .map(|(t, p)| {
                let lhs: f64 = w.iter().zip(p).map(|(a, b)| a * b).sum();
                (lhs - scale.powi(order as i32) / t.gamma).abs()
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn tree_counts_and_densities() {
        let t = trees(8);
        let counts: Vec<usize> = (1..=8)
            .map(|n| t.iter().filter(|x| x.order == n).count())
            .collect();
        assert_eq!(counts, vec![1, 1, 2, 4, 9, 20, 48, 115]);
        // The tall tree of order 4 has density 4·3·2·1 = 24, the bushy one 4.
        let gammas: Vec<f64> = t.iter().filter(|x| x.order == 4).map(|x| x.gamma).collect();
        assert!(gammas.contains(&24.0) && gammas.contains(&4.0));
    }

    #[test]
    fn nested_form_expands_correctly() {
        // θ²(1-θ)² = θ² - 2θ³ + θ⁴
        let w = theta_power_poly(2, 2);
        assert_eq!(&w[..4], &[0.0, 1.0, -2.0, 1.0]);
        let w = theta_power_poly(4, 3);
        let x: f64 = 0.3;
        let direct = x.powi(4) * (1.0 - x).powi(3);
        assert!((eval_poly(&w, x) - direct).abs() < 1e-15);
    }
}
