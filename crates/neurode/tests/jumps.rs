//! Jump processes by Gillespie's direct method: a birth–death process's
//! mean and variance against the analytic Poisson law, mass-action rates,
//! reproducibility and typed errors.

use neurode::jumps::{ConstantRateJump, Jump, JumpProblem, MassActionJump};
use neurode::prelude::*;
use neurode::sde::EnsembleOptions;

fn birth_death(birth: f64, death: f64) -> JumpProblem {
    JumpProblem::new(
        vec![0.0],
        (0.0, 5.0),
        vec![
            Box::new(MassActionJump::new(birth, vec![], vec![(0, 1.0)])),
            Box::new(MassActionJump::new(death, vec![(0, 1)], vec![(0, -1.0)])),
        ],
    )
    .unwrap()
}

#[test]
fn birth_death_matches_its_poisson_law() {
    // From X(0) = 0, X(t) is Poisson with mean (λ/μ)(1 − e^{−μt}).
    let (lambda, mu) = (10.0, 1.0);
    let prob = birth_death(lambda, mu);
    let times = [0.5, 1.0, 5.0];
    let paths = 8000;
    let ens = prob
        .ensemble(
            &times,
            EnsembleOptions {
                trajectories: paths,
                seed: 1,
            },
        )
        .unwrap();
    assert_eq!((ens.paths(), ens.failed), (paths, 0));
    let (mean, std) = (ens.mean(), ens.std());
    for (k, &t) in times.iter().enumerate() {
        let m = lambda / mu * (1.0 - (-mu * t).exp());
        let se = (m / paths as f64).sqrt();
        assert!(
            (mean[k][0] - m).abs() < 4.0 * se,
            "t = {t}: mean {} vs {m} ± {se}",
            mean[k][0]
        );
        // Variance equals the mean; its estimate's relative SE is about √(2/n).
        let var = std[k][0] * std[k][0];
        assert!(
            (var / m - 1.0).abs() < 0.08,
            "t = {t}: variance {var} vs {m}"
        );
    }
}

#[test]
fn mass_action_rates_count_molecule_combinations() {
    let dimer = MassActionJump::new(
        0.5,
        vec![(0, 2), (1, 1)],
        vec![(0, -2.0), (1, -1.0), (2, 1.0)],
    );
    // k · X(X−1) · Y = 0.5 · 5·4 · 3.
    assert_eq!(dimer.rate(&[5.0, 3.0, 0.0], 0.0), 30.0);
    assert_eq!(dimer.rate(&[1.0, 3.0, 0.0], 0.0), 0.0);
    let mut u = [5.0, 3.0, 0.0];
    dimer.affect(&mut u, 0.0);
    assert_eq!(u, [3.0, 2.0, 1.0]);
}

#[test]
fn a_seed_fixes_the_path_and_saves_are_piecewise_constant() {
    let prob = birth_death(10.0, 1.0);
    let saves: Vec<f64> = (0..=50).map(|i| i as f64 * 0.1).collect();
    let a = prob.solve(&saves, 7).unwrap();
    let b = prob.solve(&saves, 7).unwrap();
    assert_eq!(a.u_flat(), b.u_flat());
    assert_eq!(a.t, saves);
    assert_eq!(a.retcode, ReturnCode::Success);
    assert!(a.stats.accepted > 10);
    // Counts stay non-negative integers.
    assert!(a.u_flat().iter().all(|&x| x >= 0.0 && x.fract() == 0.0));
}

#[test]
fn bad_problems_and_rates_are_reported() {
    assert!(JumpProblem::new(vec![], (0.0, 1.0), vec![]).is_err());
    assert!(
        JumpProblem::new(
            vec![0.0],
            (1.0, 0.0),
            vec![Box::new(MassActionJump::new(1.0, vec![], vec![]))]
        )
        .is_err()
    );
    assert!(JumpProblem::new(vec![0.0], (0.0, 1.0), vec![]).is_err());
    let negative = JumpProblem::new(
        vec![0.0],
        (0.0, 1.0),
        vec![Box::new(ConstantRateJump::new(
            |_u: &[f64], _t| -1.0,
            |u: &mut [f64], _t| u[0] += 1.0,
        ))],
    )
    .unwrap();
    let sol = negative.solve(&[0.5], 1).unwrap();
    assert_eq!(sol.retcode, ReturnCode::Unstable);
    // A mass-action jump naming a species the state does not have.
    let past_end = || -> Vec<Box<dyn Jump>> {
        vec![Box::new(MassActionJump::new(
            1.0,
            vec![(3, 1)],
            vec![(0, 1.0)],
        ))]
    };
    assert!(matches!(
        JumpProblem::new(vec![0.0], (0.0, 1.0), past_end()),
        Err(Error::WrongLength { .. })
    ));
    let ode = OdeProblem::new(Decay, vec![1.0], (0.0, 1.0), vec![1.0]).unwrap();
    let opts = SolveOptions::default();
    assert!(ode.solve_with_jumps(Tsit5, &opts, &past_end(), 1).is_err());
    assert!(
        ode.solve_with_variable_jumps(Tsit5, &opts, &past_end(), 1)
            .is_err()
    );
    let negative_k: Vec<Box<dyn Jump>> =
        vec![Box::new(MassActionJump::new(-1.0, vec![], vec![(0, 1.0)]))];
    assert!(JumpProblem::new(vec![0.0], (0.0, 1.0), negative_k).is_err());
}

ode_system! {
    /// Exponential decay.
    struct Decay;
    fn rhs<T>(t; u; k) -> (du) {
        du = -k * u;
    }
}

#[test]
fn an_ode_with_jumps_has_the_shot_noise_mean_and_variance() {
    // u' = −k u, +1 at rate λ: E u(t) = u0 e^{−kt} + λ/k (1 − e^{−kt}),
    // Var u(t) = λ/(2k) (1 − e^{−2kt}) (Campbell's theorem).
    let (k, lambda, u0, t) = (0.8, 3.0, 2.0, 4.0);
    let prob = OdeProblem::new(Decay, vec![u0], (0.0, t), vec![k]).unwrap();
    let jumps: Vec<Box<dyn Jump>> = vec![Box::new(ConstantRateJump::new(
        move |_u: &[f64], _t| lambda,
        |u: &mut [f64], _t| u[0] += 1.0,
    ))];
    let opts = SolveOptions::default()
        .tolerances(1e-10, 1e-10)
        .saveat(vec![1.0, t]);
    let paths = 4000;
    let ends: Vec<f64> = (0..paths)
        .map(|s| {
            let sol = prob.solve_with_jumps(Tsit5, &opts, &jumps, s).unwrap();
            assert_eq!(sol.retcode, ReturnCode::Success);
            assert_eq!(sol.t, vec![1.0, t]);
            sol.u(1)[0]
        })
        .collect();
    let mean = ends.iter().sum::<f64>() / paths as f64;
    let var = ends.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (paths - 1) as f64;
    let m = u0 * (-k * t).exp() + lambda / k * (1.0 - (-k * t).exp());
    let v = lambda / (2.0 * k) * (1.0 - (-2.0 * k * t).exp());
    let se = (v / paths as f64).sqrt();
    assert!((mean - m).abs() < 4.0 * se, "mean {mean} vs {m} ± {se}");
    assert!((var / v - 1.0).abs() < 0.1, "variance {var} vs {v}");
    // Between jumps the flow is the ODE's; each jump adds exactly one.
    let every = SolveOptions::default()
        .tolerances(1e-10, 1e-10)
        .save_everystep();
    let sol = prob.solve_with_jumps(Tsit5, &every, &jumps, 3).unwrap();
    assert!(!sol.events.is_empty());
    for ev in &sol.events {
        assert_eq!(ev.kind, neurode::EventKind::Jump(0));
        let i = sol.t.iter().rposition(|&s| s == ev.t).unwrap();
        assert!((sol.u(i)[0] - sol.u(i - 1)[0] - 1.0).abs() < 1e-12);
    }
}

/// Ornstein–Uhlenbeck `du = −k u dt + σ dW`.
#[derive(Clone)]
struct Ou;
impl neurode::sde::SdeFunction for Ou {
    fn drift<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
        du[0] = -p[0] * u[0];
    }
    fn diffusion<T: Scalar>(&self, g: &mut [T], _u: &[T], p: &[T], _t: T) {
        g[0] = p[1];
    }
}

#[test]
fn a_jump_diffusion_adds_the_shot_noise_to_the_diffusion() {
    use neurode::sde::{EulerMaruyama, SdeProblem};
    // Mean as without noise; variance (σ² + λ)/(2k) (1 − e^{−2kt}).
    let (k, sigma, lambda, u0, t) = (0.8, 0.5, 3.0, 2.0, 4.0);
    let prob = SdeProblem::new(Ou, vec![u0], (0.0, t), vec![k, sigma]).unwrap();
    let jumps: Vec<Box<dyn Jump>> = vec![Box::new(ConstantRateJump::new(
        move |_u: &[f64], _t| lambda,
        |u: &mut [f64], _t| u[0] += 1.0,
    ))];
    let opts = SolveOptions::default().fixed_dt(2e-3).saveat(vec![t]);
    let paths = 2000;
    let ends: Vec<f64> = (0..paths)
        .map(|s| {
            let sol = prob
                .solve_with_jumps(EulerMaruyama, &opts, &jumps, s)
                .unwrap();
            assert_eq!(sol.retcode, ReturnCode::Success);
            sol.u(0)[0]
        })
        .collect();
    let mean = ends.iter().sum::<f64>() / paths as f64;
    let var = ends.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (paths - 1) as f64;
    let m = u0 * (-k * t).exp() + lambda / k * (1.0 - (-k * t).exp());
    let v = (sigma * sigma + lambda) / (2.0 * k) * (1.0 - (-2.0 * k * t).exp());
    let se = (v / paths as f64).sqrt();
    assert!((mean - m).abs() < 4.0 * se, "mean {mean} vs {m} ± {se}");
    assert!((var / v - 1.0).abs() < 0.12, "variance {var} vs {v}");
    // The same seed gives the same path (jumps and noise).
    let a = prob
        .solve_with_jumps(EulerMaruyama, &opts, &jumps, 5)
        .unwrap();
    let b = prob
        .solve_with_jumps(EulerMaruyama, &opts, &jumps, 5)
        .unwrap();
    assert_eq!(a.u_flat(), b.u_flat());
}

ode_system! {
    /// A count that only jumps.
    struct Still;
    fn rhs<T>(t; n;) -> (dn) {
        dn = n.scaled(0.0);
    }
}

#[test]
fn a_time_varying_rate_gives_a_poisson_count_of_its_integral() {
    // λ(t) = 1 + 2t on [0, 3]: N(3) ~ Poisson(3 + 9) = Poisson(12).
    let prob = OdeProblem::new(Still, vec![0.0], (0.0, 3.0), vec![]).unwrap();
    let jumps: Vec<Box<dyn Jump>> = vec![Box::new(ConstantRateJump::new(
        |_u: &[f64], t: f64| 1.0 + 2.0 * t,
        |u: &mut [f64], _t| u[0] += 1.0,
    ))];
    let opts = SolveOptions::default()
        .tolerances(1e-8, 1e-8)
        .saveat(vec![1.0, 3.0]);
    let paths = 3000;
    let (mut at1, mut at3) = (Vec::new(), Vec::new());
    for s in 0..paths {
        let sol = prob
            .solve_with_variable_jumps(Tsit5, &opts, &jumps, s)
            .unwrap();
        assert_eq!(sol.retcode, ReturnCode::Success);
        assert_eq!(sol.t, vec![1.0, 3.0]);
        assert_eq!(sol.events.len() as f64, sol.u(1)[0]);
        at1.push(sol.u(0)[0]);
        at3.push(sol.u(1)[0]);
    }
    for (counts, m) in [(&at1, 2.0), (&at3, 12.0)] {
        let mean = counts.iter().sum::<f64>() / paths as f64;
        let var = counts.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (paths - 1) as f64;
        let se = (m / paths as f64).sqrt();
        assert!((mean - m).abs() < 4.0 * se, "mean {mean} vs {m}");
        assert!((var / m - 1.0).abs() < 0.12, "variance {var} vs {m}");
    }
}

#[test]
fn state_dependent_rates_between_jumps_follow_the_flow() {
    // u' = −u from 5, each jump adds 1 at rate u: the jump times must see
    // the decaying rate. E[u(t)] solves m' = −m + m = 0, so E[u(t)] = 5.
    let prob = OdeProblem::new(Decay, vec![5.0], (0.0, 2.0), vec![1.0]).unwrap();
    let jumps: Vec<Box<dyn Jump>> = vec![Box::new(ConstantRateJump::new(
        |u: &[f64], _t| u[0],
        |u: &mut [f64], _t| u[0] += 1.0,
    ))];
    let opts = SolveOptions::default()
        .tolerances(1e-8, 1e-8)
        .saveat(vec![2.0]);
    let paths = 3000;
    let ends: Vec<f64> = (0..paths)
        .map(|s| {
            prob.solve_with_variable_jumps(Tsit5, &opts, &jumps, s)
                .unwrap()
                .u(0)[0]
        })
        .collect();
    let mean = ends.iter().sum::<f64>() / paths as f64;
    let var = ends.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (paths - 1) as f64;
    let se = (var / paths as f64).sqrt();
    assert!((mean - 5.0).abs() < 4.0 * se, "mean {mean} ± {se}");
    // With rates frozen between jumps (the constant-rate approximation) the
    // mean is biased upwards: the two must differ.
    let frozen: f64 = (0..paths)
        .map(|s| prob.solve_with_jumps(Tsit5, &opts, &jumps, s).unwrap().u(0)[0])
        .sum::<f64>()
        / paths as f64;
    assert!(
        frozen - mean > 4.0 * se,
        "frozen {frozen} vs variable {mean}"
    );
}

#[test]
fn a_jump_diffusion_with_variable_rates_has_the_analytic_moments() {
    use neurode::sde::{EulerMaruyama, SdeProblem, Sriw1};
    // Ornstein–Uhlenbeck with births at rate a·t: the count is Poisson with
    // mean a T²/2, and E u(T) = u0 e^{−kT} + a (T/k − (1 − e^{−kT})/k²).
    let (k, sigma, a, u0, t_end) = (0.8, 0.5, 1.5, 2.0, 3.0);
    let prob = SdeProblem::new(Ou, vec![u0], (0.0, t_end), vec![k, sigma]).unwrap();
    let births: Vec<Box<dyn Jump>> = vec![Box::new(ConstantRateJump::new(
        move |_u: &[f64], t| a * t,
        |u: &mut [f64], _t| u[0] += 1.0,
    ))];
    let opts = SolveOptions::default()
        .fixed_dt(1e-2)
        .saveat(vec![1.0, t_end]);
    let paths = 2000;
    let (mut ends, mut counts) = (Vec::new(), Vec::new());
    for s in 0..paths {
        let sol = prob
            .solve_with_variable_jumps(EulerMaruyama, &opts, &births, s)
            .unwrap();
        assert_eq!(sol.retcode, ReturnCode::Success);
        assert_eq!(sol.t, vec![1.0, t_end]);
        ends.push(sol.u(1)[0]);
        counts.push(sol.events.len() as f64);
    }
    let stats = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        let v = x.iter().map(|y| (y - m) * (y - m)).sum::<f64>() / (x.len() - 1) as f64;
        (m, v)
    };
    let (mc, vc) = stats(&counts);
    let lambda = a * t_end * t_end / 2.0;
    let se = (lambda / paths as f64).sqrt();
    assert!(
        (mc - lambda).abs() < 4.0 * se,
        "count mean {mc} vs {lambda}"
    );
    assert!(
        (vc / lambda - 1.0).abs() < 0.12,
        "count variance {vc} vs {lambda}"
    );
    let (mu, vu) = stats(&ends);
    let decay = (-k * t_end).exp();
    let want = u0 * decay + a * (t_end / k - (1.0 - decay) / (k * k));
    let se = (vu / paths as f64).sqrt();
    assert!((mu - want).abs() < 4.0 * se, "mean {mu} vs {want} ± {se}");

    // Deaths at a rate proportional to the state: E u(T) = u0 e^{−(k+c)T}
    // while u stays positive (large u0, small noise). Strong order 1.5.
    let (c, u0) = (0.5, 40.0);
    let prob = SdeProblem::new(Ou, vec![u0], (0.0, 2.0), vec![0.2, 0.3]).unwrap();
    let deaths: Vec<Box<dyn Jump>> = vec![Box::new(ConstantRateJump::new(
        move |u: &[f64], _t| c * u[0].max(0.0),
        |u: &mut [f64], _t| u[0] -= 1.0,
    ))];
    let opts = SolveOptions::default().fixed_dt(1e-2).saveat(vec![2.0]);
    let ends: Vec<f64> = (0..paths)
        .map(|s| {
            prob.solve_with_variable_jumps(Sriw1, &opts, &deaths, 10_000 + s)
                .unwrap()
                .u(0)[0]
        })
        .collect();
    let (mu, vu) = stats(&ends);
    let want = u0 * (-(0.2 + c) * 2.0_f64).exp();
    let se = (vu / paths as f64).sqrt();
    assert!(
        (mu - want).abs() < 4.0 * se,
        "death mean {mu} vs {want} ± {se}"
    );

    // A seed fixes noise and jumps; every step and every jump can be kept;
    // adaptive steps are refused.
    let every = SolveOptions::default().fixed_dt(1e-2);
    let x = prob
        .solve_with_variable_jumps(Sriw1, &every, &deaths, 3)
        .unwrap();
    let y = prob
        .solve_with_variable_jumps(Sriw1, &every, &deaths, 3)
        .unwrap();
    assert_eq!(x.u_flat(), y.u_flat());
    assert!(x.len() > 200 + x.events.len() / 2);
    assert!(x.events.iter().all(|e| x.t.contains(&e.t)));
    assert!(
        prob.solve_with_variable_jumps(Sriw1, &SolveOptions::default(), &deaths, 3)
            .is_err()
    );
}
