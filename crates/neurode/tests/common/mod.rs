//! Problems with known solutions and reference data shared by the tests.
#![allow(dead_code)]

use neurode::prelude::*;

ode_system! {
    /// Lotka–Volterra predator–prey.
    pub struct LotkaVolterra;
    fn rhs<T>(t; x, y; a, b, c, d) -> (dx, dy) {
        dx = a * x - b * x * y;
        dy = -c * y + d * x * y;
    }
}

/// The Neural ODE paper's spiral: `u' = A^T u.^3`, `A = [-0.1 2; -2 -0.1]`.
#[derive(Clone, Copy, Debug)]
pub struct Spiral;
impl OdeFunction for Spiral {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], _p: &[T], _t: T) {
        let (x3, y3) = (u[0].powi(3), u[1].powi(3));
        du[0] = x3.scaled(-0.1) + y3.scaled(-2.0);
        du[1] = x3.scaled(2.0) + y3.scaled(-0.1);
    }
}

/// A nonlinear, partly non-autonomous system with a closed-form solution:
/// a limit cycle `r' = r(1 - r²)`, `θ' = 1` in (x, y), and `z' = -2 t z²`.
#[derive(Clone, Copy, Debug)]
pub struct LimitCycle;
impl OdeFunction for LimitCycle {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], _p: &[T], t: T) {
        let (x, y, z) = (u[0], u[1], u[2]);
        let g = T::one() - x * x - y * y;
        du[0] = -y + x * g;
        du[1] = x + y * g;
        du[2] = -(t + t) * z * z;
    }
    fn num_states(&self) -> Option<usize> {
        Some(3)
    }
}

pub const LIMIT_CYCLE_U0: [f64; 3] = [0.5, 0.0, 1.0];

/// The exact solution of [`LimitCycle`] from [`LIMIT_CYCLE_U0`] at `t0 = 0`.
pub fn limit_cycle_exact(t: f64) -> [f64; 3] {
    let r0: f64 = 0.5;
    let r = 1.0 / (1.0 + (1.0 / (r0 * r0) - 1.0) * (-2.0 * t).exp()).sqrt();
    [r * t.cos(), r * t.sin(), 1.0 / (1.0 + t * t)]
}

pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Least-squares slope of `log(err)` against `log(h)`.
pub fn observed_order(hs: &[f64], errs: &[f64]) -> f64 {
    let xs: Vec<f64> = hs.iter().map(|h| h.ln()).collect();
    let ys: Vec<f64> = errs.iter().map(|e| e.ln()).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    sxy / sxx
}

/// A reference solution from `../shared/reference/` (override the folder with
/// `NEURODE_REFERENCE_DIR`).
pub struct Reference {
    pub t: Vec<f64>,
    pub u: Vec<Vec<f64>>,
    pub p: Vec<f64>,
    pub u0: Vec<f64>,
    pub tspan: (f64, f64),
}

pub fn reference(name: &str) -> Reference {
    let dir = std::env::var("NEURODE_REFERENCE_DIR").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/reference").to_string()
    });
    let path = format!("{dir}/{name}.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let v: serde_json::Value = serde_json::from_str(&text).expect("reference JSON");
    let floats = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let tspan = floats(&v["tspan"]);
    Reference {
        t: floats(&v["t"]),
        u: v["u"].as_array().unwrap().iter().map(floats).collect(),
        p: v.get("p").map(floats).unwrap_or_default(),
        u0: floats(&v["u0"]),
        tspan: (tspan[0], tspan[1]),
    }
}

/// The Kepler two-body problem `q'' = -q/|q|³` as a first-order system
/// `(q1, q2, p1, p2)`; a generic nonlinear test problem with an exact solution.
#[derive(Clone, Copy, Debug)]
pub struct Kepler;
impl OdeFunction for Kepler {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], _p: &[T], _t: T) {
        let r2 = u[0] * u[0] + u[1] * u[1];
        let r3 = r2 * r2.sqrt();
        du[0] = u[2];
        du[1] = u[3];
        du[2] = -u[0] / r3;
        du[3] = -u[1] / r3;
    }
    fn num_states(&self) -> Option<usize> {
        Some(4)
    }
}

/// Eccentricity of the test orbit.
pub const KEPLER_E: f64 = 0.5;

/// The orbit at time `t` (semi-major axis 1, period 2π, pericentre at t = 0),
/// from Kepler's equation `E - e sin E = t` solved by Newton's method.
pub fn kepler_exact(t: f64) -> [f64; 4] {
    let e = KEPLER_E;
    let mut big_e = t;
    for _ in 0..50 {
        big_e -= (big_e - e * big_e.sin() - t) / (1.0 - e * big_e.cos());
    }
    let (s, c) = big_e.sin_cos();
    let w = (1.0 - e * e).sqrt();
    let den = 1.0 - e * c;
    [c - e, w * s, -s / den, w * c / den]
}

/// A manufactured problem: `u' = g(u) + s'(t) - g(s(t))`, whose exact
/// solution is `s(t)`. `g` couples the three states nonlinearly, so every
/// order condition of a system matters, and the forcing makes it
/// non-autonomous. Only `+ - * /` appear, so the exact solution is exact in
/// any precision (double-double included).
#[derive(Clone, Copy, Debug)]
pub struct Manufactured;

fn g<T: Scalar>(u: [T; 3]) -> [T; 3] {
    [
        -u[0] * u[1] + u[2] * u[2],
        u[0] * u[0] - u[1] * u[2],
        u[0] * u[1] * u[2] - u[2],
    ]
}

/// The exact solution `s(t) = (1/(1+t²), t/(1+t²), 1/(1+t))`.
pub fn manufactured_exact<T: Scalar>(t: T) -> [T; 3] {
    let q = T::one() + t * t;
    [T::one() / q, t / q, T::one() / (T::one() + t)]
}

fn manufactured_exact_derivative<T: Scalar>(t: T) -> [T; 3] {
    let q = T::one() + t * t;
    let r = T::one() + t;
    [
        -(t + t) / (q * q),
        (T::one() - t * t) / (q * q),
        -T::one() / (r * r),
    ]
}

impl OdeFunction for Manufactured {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], _p: &[T], t: T) {
        let gu = g([u[0], u[1], u[2]]);
        let gs = g(manufactured_exact(t));
        let ds = manufactured_exact_derivative(t);
        for i in 0..3 {
            du[i] = gu[i] + ds[i] - gs[i];
        }
    }
    fn num_states(&self) -> Option<usize> {
        Some(3)
    }
}

ode_system! {
    /// Robertson's chemical kinetics (ROBER), the classic stiff test.
    pub struct Rober;
    fn rhs<T>(t; y1, y2, y3; k1, k2, k3) -> (d1, d2, d3) {
        d1 = -k1 * y1 + k3 * y2 * y3;
        d2 = k1 * y1 - k2 * y2 * y2 - k3 * y2 * y3;
        d3 = k2 * y2 * y2;
    }
}

ode_system! {
    /// ROBER as a DAE: the third equation replaced by conservation,
    /// `0 = y1 + y2 + y3 - 1` (mass matrix `diag(1, 1, 0)`).
    pub struct RoberDae;
    fn rhs<T>(t; y1, y2, y3; k1, k2, k3) -> (d1, d2, d3) {
        d1 = -k1 * y1 + k3 * y2 * y3;
        d2 = k1 * y1 - k2 * y2 * y2 - k3 * y2 * y3;
        d3 = y1 + y2 + y3 - T::one();
    }
}

ode_system! {
    /// Van der Pol, `x'' = μ (1 - x²) x' - x`, as the reference file writes it.
    pub struct VanDerPol;
    fn rhs<T>(t; x, v; mu) -> (dx, dv) {
        dx = v;
        dv = mu * ((T::one() - x * x) * v) - x;
    }
}

/// The SciML 2-D Brusselator on an `n × n` periodic grid (A = 3.4, B = 1,
/// α = 10, forcing 5 in the disc (x-0.3)² + (y-0.6)² ≤ 0.01 for t ≥ 1.1).
/// State layout `i + n j + n² k` (x = xyd[i], y = xyd[j], k = 0: u, 1: v).
#[derive(Clone, Copy, Debug)]
pub struct Brusselator2D {
    pub n: usize,
}

impl Brusselator2D {
    pub fn xyd(&self, i: usize) -> f64 {
        i as f64 / (self.n - 1) as f64
    }
    pub fn u0(&self) -> Vec<f64> {
        let n = self.n;
        let mut u = vec![0.0; 2 * n * n];
        for j in 0..n {
            for i in 0..n {
                let (x, y) = (self.xyd(i), self.xyd(j));
                u[i + n * j] = 22.0 * (y * (1.0 - y)).powf(1.5);
                u[n * n + i + n * j] = 27.0 * (x * (1.0 - x)).powf(1.5);
            }
        }
        u
    }
    /// The true pattern: each state couples to itself, its four periodic
    /// neighbours of the same species, and the other species at its point.
    pub fn true_pattern(&self) -> neurode::linalg::SparsityPattern {
        let n = self.n;
        let nn = n * n;
        let mut entries = Vec::new();
        for k in 0..2 {
            for j in 0..n {
                for i in 0..n {
                    let row = i + n * j + nn * k;
                    for (a, b) in [
                        (i, j),
                        ((i + 1) % n, j),
                        ((i + n - 1) % n, j),
                        (i, (j + 1) % n),
                        (i, (j + n - 1) % n),
                    ] {
                        entries.push((row, a + n * b + nn * k));
                    }
                    entries.push((row, i + n * j + nn * (1 - k)));
                }
            }
        }
        neurode::linalg::SparsityPattern::from_entries(2 * nn, entries)
    }
}

impl OdeFunction for Brusselator2D {
    fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], t: T) {
        let n = self.n;
        let nn = n * n;
        let (a, b, alpha) = (p[0], p[1], p[2]);
        let dx = 1.0 / (n - 1) as f64;
        let alpha = alpha.scaled(1.0 / (dx * dx));
        let forcing_on = t.real() >= 1.1;
        for j in 0..n {
            for i in 0..n {
                let (ip, im, jp, jm) = ((i + 1) % n, (i + n - 1) % n, (j + 1) % n, (j + n - 1) % n);
                let k = i + n * j;
                let (x, y) = (self.xyd(i), self.xyd(j));
                let uu = u[k];
                let vv = u[nn + k];
                let lap_u =
                    u[im + n * j] + u[ip + n * j] + u[i + n * jp] + u[i + n * jm] - uu.scaled(4.0);
                let lap_v = u[nn + im + n * j]
                    + u[nn + ip + n * j]
                    + u[nn + i + n * jp]
                    + u[nn + i + n * jm]
                    - vv.scaled(4.0);
                let forcing = if forcing_on && (x - 0.3).powi(2) + (y - 0.6).powi(2) <= 0.01 {
                    5.0
                } else {
                    0.0
                };
                let uuv = uu * uu * vv;
                du[k] = alpha * lap_u + b + uuv - (a + T::one()) * uu + T::cst(forcing);
                du[nn + k] = alpha * lap_v + a * uu - uuv;
            }
        }
    }
}

/// The largest relative difference between two gradients, entry by entry
/// (entries below 1e-6 of the largest count as that size, so a gradient
/// entry that is zero up to rounding does not dominate).
pub fn rel_diff(got: &[f64], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1e-6 * scale))
        .fold(0.0, f64::max)
}
