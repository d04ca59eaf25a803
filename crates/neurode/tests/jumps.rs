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
}
