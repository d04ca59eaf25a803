//! A bouncing ball: a hybrid system whose velocity jumps at every bounce,
//! found by a continuous callback on the height.

use std::path::Path;

use neurode::plot::plot_solution;
use neurode::prelude::*;

ode_system! {
    /// Free fall: height `x`, velocity `v`, gravity `g`, restitution `e`.
    pub struct Fall;
    fn rhs<T>(t; x, v; g, e) -> (dx, dv) {
        dx = v;
        dv = -g;
    }
}

/// The floor: when the height falls through zero the velocity flips and
/// keeps the fraction `e` of its speed.
#[derive(Clone, Copy, Debug)]
pub struct Floor;

impl Events for Floor {
    fn count(&self) -> usize {
        1
    }
    fn conditions<T: Scalar>(&self, out: &mut [T], u: &[T], _p: &[T], _t: T) {
        out[0] = u[0];
    }
    fn crossing(&self, _i: usize) -> Crossing {
        Crossing::Down
    }
    fn affect<T: Scalar>(&self, _i: usize, u: &mut [T], p: &[T], _t: T) -> EventAction {
        u[1] = -u[1] * p[1];
        EventAction::Continue
    }
}

/// What the demo measured.
#[derive(Clone, Debug)]
pub struct Bounces {
    /// Located bounce times.
    pub times: Vec<f64>,
    /// The analytic ones.
    pub exact: Vec<f64>,
    /// The derivative of the first bounce time with respect to `g`, by
    /// forward mode through the event, and its analytic value.
    pub dt1_dg: (f64, f64),
}

/// Drops the ball from 10 m with `g = 9.81`, `e = 0.9` for 10 s; compares
/// each bounce with the analytic time, differentiates the first bounce time
/// with respect to `g`, and writes `bouncing_ball.png`.
pub fn bounce(out: Option<&Path>) -> Result<Bounces, Box<dyn std::error::Error>> {
    let (h, g, e) = (10.0_f64, 9.81_f64, 0.9_f64);
    let prob = OdeProblem::new(Fall, vec![h, 0.0], (0.0, 10.0), vec![g, e])?.with_events(Floor);
    let opts = SolveOptions::default().tolerances(1e-10, 1e-10);
    let sol = prob.solve(Tsit5, &opts)?;
    if !sol.is_success() {
        return Err(format!("solve ended with {:?}", sol.retcode).into());
    }
    let times: Vec<f64> = sol.events.iter().map(|ev| ev.t).collect();
    let t1 = (2.0 * h / g).sqrt();
    let mut exact = vec![t1];
    for k in 1..times.len() {
        exact.push(exact[k - 1] + 2.0 * e.powi(k as i32) * g * t1 / g);
    }
    // The first bounce time as a function of g, by dual numbers: the event
    // time carries its derivative (implicit function theorem at the root).
    use neurode::num_dual::Dual64;
    let dual = OdeProblem::new(
        Fall,
        vec![Dual64::from_re(h), Dual64::from_re(0.0)],
        (Dual64::from_re(0.0), Dual64::from_re(2.0)),
        vec![Dual64::new(g, 1.0), Dual64::from_re(e)],
    )?
    .with_events(Floor);
    let first = dual.solve(Tsit5, &opts)?.events[0].t;
    let dt1_dg = (first.eps, -0.5 * (2.0 * h).sqrt() * g.powf(-1.5));
    if let Some(out) = out {
        let path = out.join("bouncing_ball.png");
        plot_solution(
            &sol,
            &path,
            "Bouncing ball (Tsit5, continuous callback on the height)",
            &["height", "velocity"],
        )?;
        println!("wrote {}", path.display());
    }
    Ok(Bounces {
        times,
        exact,
        dt1_dg,
    })
}

/// Runs [`bounce`] and prints the table.
pub fn run(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let b = bounce(Some(out))?;
    println!("Bouncing ball from 10 m, g = 9.81, restitution 0.9, Tsit5 at 1e-10");
    println!(
        "{:>7} {:>18} {:>18} {:>10}",
        "bounce", "t (located)", "t (analytic)", "error"
    );
    for (k, (a, x)) in b.times.iter().zip(&b.exact).enumerate() {
        println!(
            "{:>7} {a:>18.12} {x:>18.12} {:>10.2e}",
            k + 1,
            (a - x).abs()
        );
    }
    println!(
        "d(first bounce)/dg by forward mode through the event: {:.10} (analytic {:.10})",
        b.dt1_dg.0, b.dt1_dg.1
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounces_match_the_analytic_times_and_their_derivative() {
        let b = bounce(None).unwrap();
        assert_eq!(b.times.len(), 4, "{:?}", b.times);
        for (a, x) in b.times.iter().zip(&b.exact) {
            assert!((a - x).abs() < 1e-8, "{a} vs {x}");
        }
        assert!((b.dt1_dg.0 - b.dt1_dg.1).abs() < 1e-8 * b.dt1_dg.1.abs());
    }
}
