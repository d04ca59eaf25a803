//! Symplectic integrators: orders measured on a harmonic oscillator, and the
//! Kepler problem's energy kept bounded over 10⁴ orbits where RK4 at the
//! same step drifts.

use neurode::prelude::*;
use neurode::symplectic::{
    McAte5, SecondOrderFunction, SecondOrderProblem, SymplecticMethod, VelocityVerlet, Yoshida4,
    Yoshida6,
};

struct Spring;
impl SecondOrderFunction for Spring {
    fn acceleration<T: Scalar>(&self, a: &mut [T], q: &[T], _p: &[T], _t: T) {
        a[0] = -q[0];
    }
}

fn order<M: SymplecticMethod>(method: M, steps: [usize; 3]) -> f64 {
    let prob = SecondOrderProblem::new(Spring, vec![1.0], vec![0.0], (0.0, 2.0), vec![]).unwrap();
    let errs: Vec<(f64, f64)> = steps
        .iter()
        .map(|&n| {
            let h = 2.0 / n as f64;
            let sol = prob
                .solve(method, &SolveOptions::default().fixed_dt(h))
                .unwrap();
            let u = sol.u_end();
            let err = (u[0] - 2.0_f64.cos())
                .abs()
                .max((u[1] + 2.0_f64.sin()).abs());
            (h, err)
        })
        .collect();
    let (a, b) = (errs[0], errs[2]);
    (a.1.ln() - b.1.ln()) / (a.0.ln() - b.0.ln())
}

#[test]
fn each_method_converges_at_its_order() {
    let v = order(VelocityVerlet, [40, 80, 160]);
    let y4 = order(Yoshida4, [20, 40, 80]);
    let y6 = order(Yoshida6, [8, 16, 32]);
    let m5 = order(McAte5, [10, 20, 40]);
    eprintln!("orders: Verlet {v:.3}, Yoshida4 {y4:.3}, Yoshida6 {y6:.3}, McAte5 {m5:.3}");
    assert!((m5 - 5.0).abs() < 0.25, "{m5}");
    assert!((v - 2.0).abs() < 0.25, "{v}");
    assert!((y4 - 4.0).abs() < 0.25, "{y4}");
    assert!((y6 - 6.0).abs() < 0.25, "{y6}");
}

/// Kepler: `q'' = −q / |q|³`.
struct Kepler;
impl SecondOrderFunction for Kepler {
    fn acceleration<T: Scalar>(&self, a: &mut [T], q: &[T], _p: &[T], _t: T) {
        let r2 = q[0] * q[0] + q[1] * q[1];
        let r3 = r2 * r2.sqrt();
        a[0] = -q[0] / r3;
        a[1] = -q[1] / r3;
    }
}

ode_system! {
    /// Kepler as a first-order system for RK4.
    struct KeplerOde;
    fn rhs<T>(t; x, y, vx, vy;) -> (dx, dy, dvx, dvy) {
        let r2 = x * x + y * y;
        let r3 = r2 * r2.sqrt();
        dx = vx;
        dy = vy;
        dvx = -x / r3;
        dvy = -y / r3;
    }
}

fn energy(u: &[f64]) -> f64 {
    0.5 * (u[2] * u[2] + u[3] * u[3]) - 1.0 / (u[0] * u[0] + u[1] * u[1]).sqrt()
}

#[test]
fn kepler_energy_stays_bounded_over_ten_thousand_orbits() {
    let e = 0.5;
    let (q0, v0) = (
        vec![1.0 - e, 0.0],
        vec![0.0, ((1.0 + e) / (1.0 - e)).sqrt()],
    );
    let period = 2.0 * std::f64::consts::PI;
    let orbits = 10_000.0;
    let h = period / 200.0;
    let opts = SolveOptions::default()
        .fixed_dt(h)
        .saveat_step(period)
        .maxiters(10_000_000);
    let h0 = energy(&[q0[0], q0[1], v0[0], v0[1]]);
    let prob = SecondOrderProblem::new(
        Kepler,
        q0.clone(),
        v0.clone(),
        (0.0, orbits * period),
        vec![],
    )
    .unwrap();
    // |ΔH| at each orbit; the largest over the first and the last hundred.
    let drift = |sol: &Solution| -> (f64, f64, f64) {
        let d: Vec<f64> = (0..sol.len())
            .map(|i| (energy(sol.u(i)) - h0).abs())
            .collect();
        let max = |s: &[f64]| s.iter().fold(0.0_f64, |m, &x| m.max(x));
        (max(&d[..100]), max(&d[d.len() - 100..]), max(&d))
    };
    let verlet = prob.solve(VelocityVerlet, &opts).unwrap();
    let yoshida = prob.solve(Yoshida4, &opts).unwrap();
    assert_eq!(
        (verlet.retcode, yoshida.retcode),
        (ReturnCode::Success, ReturnCode::Success)
    );
    let (v_early, v_late, v_max) = drift(&verlet);
    let (y_early, y_late, y_max) = drift(&yoshida);
    let (m_early, m_late, m_max) = drift(&prob.solve(McAte5, &opts).unwrap());
    let ode =
        OdeProblem::new(KeplerOde, [q0, v0].concat(), (0.0, orbits * period), vec![]).unwrap();
    let rk = ode.solve(Rk4, &opts).unwrap();
    let (r_early, r_late, _) = drift(&rk);
    eprintln!(
        "Kepler |ΔH| over orbits 1–100 and 9901–10000: Verlet {v_early:.2e} / {v_late:.2e}, \
         Yoshida4 {y_early:.2e} / {y_late:.2e} (max {y_max:.2e}), RK4 {r_early:.2e} / {r_late:.2e}"
    );
    // Verlet: bounded, no drift from the first hundred orbits to the last.
    assert!(
        v_late < 1.2 * v_early && v_max < 1.2 * v_early,
        "{v_early:e} {v_late:e} {v_max:e}"
    );
    // Yoshida4 and McAte5: small throughout.
    assert!(y_max < 3e-5, "{y_max:e}");
    assert!(m_max < 3e-5, "McAte5 {m_max:e}");
    eprintln!("McAte5 |ΔH|: {m_early:.2e} / {m_late:.2e} (max {m_max:.2e})");
    // RK4 at the same step drifts: roughly linearly in the number of orbits.
    assert!(r_late > 30.0 * r_early, "RK4 {r_early:e} → {r_late:e}");
    assert!(
        r_late > 10.0 * y_max,
        "RK4 {r_late:e} vs Yoshida4 {y_max:e}"
    );
}

#[test]
fn bad_inputs_are_typed_errors() {
    assert!(
        SecondOrderProblem::new(Spring, vec![1.0], vec![0.0, 1.0], (0.0, 1.0), vec![]).is_err()
    );
    assert!(
        SecondOrderProblem::new(Spring, vec![f64::NAN], vec![0.0], (0.0, 1.0), vec![]).is_err()
    );
    let prob = SecondOrderProblem::new(Spring, vec![1.0], vec![0.0], (0.0, 1.0), vec![]).unwrap();
    assert!(matches!(
        prob.solve(VelocityVerlet, &SolveOptions::default()),
        Err(Error::NeedsFixedStep { .. })
    ));
}
