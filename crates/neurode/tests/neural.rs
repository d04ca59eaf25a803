//! ODE layers: the neural ODE's backward pass by every sensitivity method
//! against each other and finite differences; batched right-hand sides;
//! composition with dense layers; the problem-parameters layer.

use neurode::nn::{Activation::*, Chain, Layer, NeuralOde, NeuralRhs, NnRng, OdeLayer};
use neurode::prelude::*;
use rand::SeedableRng;

fn model() -> Chain {
    Chain::new(2).map(Cube).dense(16, Tanh).dense(2, Identity)
}

fn opts() -> SolveOptions {
    SolveOptions::default()
        .tolerances(1e-10, 1e-10)
        .saveat(vec![0.25, 0.5, 1.0])
}

/// `x̄, p̄` of `Σ w·NeuralOde(x; p)` by the layer's backward pass.
fn backward<S: Sensitivity + Clone>(
    sens: S,
    p: &[f64],
    x: &[f64],
    w: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let node = NeuralOde::new(model(), (0.0, 1.0), Tsit5, opts(), sens).unwrap();
    let mut xbar = vec![0.0; 2];
    let mut pbar = vec![0.0; p.len()];
    node.backward(p, x, &[], w, &mut xbar, &mut pbar, &mut []);
    (xbar, pbar)
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, f64::max)
}

#[test]
fn neural_ode_gradients_agree_across_methods_and_with_finite_differences() {
    let p = model().init_params(&mut NnRng::seed_from_u64(11));
    let x = [1.2, -0.4];
    let w = [0.3, -1.0, 0.5, 0.2, -0.7, 1.1];
    let (xf, pf) = backward(ForwardMode, &p, &x, &w);
    let (xd, pd) = backward(Discrete::default(), &p, &x, &w);
    let (xi, pi) = backward(Adjoint::interpolating(), &p, &x, &w);
    eprintln!(
        "forward vs discrete {:.1e}/{:.1e}, vs interpolating {:.1e}/{:.1e}",
        rel(&xd, &xf),
        rel(&pd, &pf),
        rel(&xi, &xf),
        rel(&pi, &pf)
    );
    assert!(rel(&xd, &xf) < 1e-9 && rel(&pd, &pf) < 1e-9);
    assert!(rel(&xi, &xf) < 1e-6 && rel(&pi, &pf) < 1e-6);
    // Finite differences of the forward pass.
    let node = NeuralOde::new(model(), (0.0, 1.0), Tsit5, opts(), ForwardMode).unwrap();
    let f =
        |p: &[f64], x: &[f64]| -> f64 { node.apply(p, x).iter().zip(&w).map(|(a, b)| a * b).sum() };
    let h = 1e-6;
    for j in (0..p.len()).step_by(7) {
        let (mut a, mut b) = (p.clone(), p.clone());
        a[j] += h;
        b[j] -= h;
        let fd = (f(&a, &x) - f(&b, &x)) / (2.0 * h);
        assert!(
            (pf[j] - fd).abs() < 1e-6 * fd.abs().max(1.0),
            "p[{j}]: {} vs {fd}",
            pf[j]
        );
    }
    for j in 0..2 {
        let (mut a, mut b) = (x, x);
        a[j] += h;
        b[j] -= h;
        let fd = (f(&p, &a) - f(&p, &b)) / (2.0 * h);
        assert!((xf[j] - fd).abs() < 1e-6 * fd.abs().max(1.0));
    }
}

#[test]
fn a_batched_right_hand_side_solves_each_sample_as_if_alone() {
    let net = model();
    let p = net.init_params(&mut NnRng::seed_from_u64(5));
    let starts = [[1.0, 0.5], [-0.3, 0.8], [0.2, -1.1]];
    let batch = OdeProblem::new(
        NeuralRhs::batched(net.clone(), 3),
        starts.concat(),
        (0.0, 1.0),
        p.clone(),
    )
    .unwrap();
    let tight = SolveOptions::default()
        .tolerances(1e-11, 1e-11)
        .saveat(vec![1.0]);
    let together = batch.solve(Tsit5, &tight).unwrap();
    for (j, s) in starts.iter().enumerate() {
        let alone = OdeProblem::new(
            NeuralRhs::new(net.clone()),
            s.to_vec(),
            (0.0, 1.0),
            p.clone(),
        )
        .unwrap()
        .solve(Tsit5, &tight)
        .unwrap();
        for k in 0..2 {
            assert!((together.u_end()[2 * j + k] - alone.u_end()[k]).abs() < 1e-8);
        }
    }
    // Its analytic VJP agrees with the AD fallback through the generic rhs.
    let loss = SumOfSquares::towards_constant(0, 0.0);
    let adjoint = batch
        .loss_and_gradient(Tsit5, &tight, &loss, Adjoint::interpolating())
        .unwrap()
        .1;
    let forward = batch
        .loss_and_gradient(Tsit5, &tight, &loss, ForwardMode)
        .unwrap()
        .1;
    assert!(rel(&adjoint, &forward) < 1e-6);
}

#[test]
fn a_network_evaluated_in_f32_gives_the_f64_gradient_to_f32_accuracy() {
    // A batch wide enough for the matrix-product path.
    let net = Chain::new(2)
        .dense(32, Tanh)
        .dense(32, Tanh)
        .dense(2, Identity);
    let p = net.init_params(&mut NnRng::seed_from_u64(9));
    let u0: Vec<f64> = (0..64).map(|i| ((i as f64) * 0.37).sin()).collect();
    let opts = SolveOptions::default()
        .tolerances(1e-6, 1e-6)
        .saveat(vec![0.5, 1.0]);
    let loss = SumOfSquares::towards_constant(0, 0.25);
    let full = OdeProblem::new(
        NeuralRhs::batched(net.clone(), 32),
        u0.clone(),
        (0.0, 1.0),
        p.clone(),
    )
    .unwrap();
    let low = OdeProblem::new(NeuralRhs::batched(net, 32).in_f32(), u0, (0.0, 1.0), p).unwrap();
    for (a, b) in [
        (
            full.loss_and_gradient(Tsit5, &opts, &loss, Adjoint::interpolating())
                .unwrap(),
            low.loss_and_gradient(Tsit5, &opts, &loss, Adjoint::interpolating())
                .unwrap(),
        ),
        (
            full.loss_and_gradient(Tsit5, &opts, &loss, Discrete::default())
                .unwrap(),
            low.loss_and_gradient(Tsit5, &opts, &loss, Discrete::default())
                .unwrap(),
        ),
    ] {
        assert!((a.0 - b.0).abs() < 1e-5 * a.0, "loss {} vs {}", a.0, b.0);
        let err = rel(&a.1, &b.1);
        // Rounded to f32 (not exact, not garbage).
        assert!(err < 1e-4 && err > 0.0, "gradient differs by {err:e}");
    }
}

#[test]
fn an_ode_layer_composes_with_dense_layers() {
    // Dense(3 → 2) → NeuralOde → Dense(6 → 1), trained end to end by hand.
    let first = Chain::new(3).dense(2, Tanh);
    let node =
        NeuralOde::new(model(), (0.0, 1.0), Tsit5, opts(), Adjoint::interpolating()).unwrap();
    let last = Chain::new(6).dense(1, Identity);
    let mut rng = NnRng::seed_from_u64(2);
    let (p1, p2, p3) = (
        first.init_params(&mut rng),
        node.init_params(&mut rng),
        last.init_params(&mut rng),
    );
    let x = [0.5, -0.2, 0.9];
    let run = |p1: &[f64], p2: &[f64], p3: &[f64]| -> f64 {
        let h = first.apply(p1, &x);
        let z = node.apply(p2, &h);
        last.apply(p3, &z)[0]
    };
    // Backward through all three.
    let h = first.apply(&p1, &x);
    let z = node.apply(&p2, &h);
    let mut tape3 = vec![0.0; last.tape_len()];
    let mut out = [0.0];
    last.forward(&p3, &z, &mut out, &mut tape3);
    let mut zbar = vec![0.0; 6];
    let mut g3 = vec![0.0; p3.len()];
    let mut s3 = vec![0.0; last.scratch_len()];
    last.backward(&p3, &z, &tape3, &[1.0], &mut zbar, &mut g3, &mut s3);
    let mut hbar = vec![0.0; 2];
    let mut g2 = vec![0.0; p2.len()];
    node.backward(&p2, &h, &[], &zbar, &mut hbar, &mut g2, &mut []);
    let mut tape1 = vec![0.0; first.tape_len()];
    let mut h_again = vec![0.0; 2];
    first.forward(&p1, &x, &mut h_again, &mut tape1);
    let mut xbar = vec![0.0; 3];
    let mut g1 = vec![0.0; p1.len()];
    let mut s1 = vec![0.0; first.scratch_len()];
    first.backward(&p1, &x, &tape1, &hbar, &mut xbar, &mut g1, &mut s1);
    let eps = 1e-6;
    for j in 0..p1.len() {
        let (mut a, mut b) = (p1.clone(), p1.clone());
        a[j] += eps;
        b[j] -= eps;
        let fd = (run(&a, &p2, &p3) - run(&b, &p2, &p3)) / (2.0 * eps);
        assert!(
            (g1[j] - fd).abs() < 1e-5 * fd.abs().max(1e-3),
            "first[{j}]: {} vs {fd}",
            g1[j]
        );
    }
}

ode_system! {
    /// Lotka–Volterra.
    struct LotkaVolterra;
    fn rhs<T>(t; x, y; a, b, c, d) -> (dx, dy) {
        dx = a * x - b * x * y;
        dy = -c * y + d * x * y;
    }
}

#[test]
fn a_layer_can_take_the_parameters_of_a_problem() {
    let prob = OdeProblem::new(
        LotkaVolterra,
        vec![1.0, 1.0],
        (0.0, 2.0),
        vec![1.5, 1.0, 3.0, 1.0],
    )
    .unwrap();
    let opts = SolveOptions::default()
        .tolerances(1e-10, 1e-10)
        .saveat(vec![1.0, 2.0]);
    let layer = OdeLayer::new(prob.clone(), Tsit5, opts.clone(), ForwardMode).unwrap();
    assert_eq!((layer.in_dim(), layer.out_dim()), (4, 4));
    let x = [1.4, 0.9, 2.8, 1.1];
    let y = layer.apply(&[], &x);
    let direct = prob
        .with_p(x.to_vec())
        .unwrap()
        .solve(Tsit5, &opts)
        .unwrap();
    assert_eq!(y, direct.u_flat());
    let w = [1.0, -0.5, 0.25, 2.0];
    let mut xbar = vec![0.0; 4];
    layer.backward(&[], &x, &[], &w, &mut xbar, &mut [], &mut []);
    for j in 0..4 {
        let (mut a, mut b) = (x, x);
        a[j] += 1e-6;
        b[j] -= 1e-6;
        let f = |v: &[f64]| {
            layer
                .apply(&[], v)
                .iter()
                .zip(&w)
                .map(|(p, q)| p * q)
                .sum::<f64>()
        };
        let fd = (f(&a) - f(&b)) / 2e-6;
        assert!((xbar[j] - fd).abs() < 1e-5 * fd.abs().max(1.0));
    }
}

#[test]
fn saved_and_loaded_parameters_predict_identically() {
    use neurode::params_io::{load_params, save_params};
    let node = NeuralOde::new(model(), (0.0, 1.0), Tsit5, opts(), Discrete::default()).unwrap();
    let p = node.init_params(&mut NnRng::seed_from_u64(21));
    let path =
        std::env::temp_dir().join(format!("neurode-params-{}.safetensors", std::process::id()));
    save_params(&path, &p, &[("model", "2-16-2 tanh")]).unwrap();
    let (q, meta) = load_params(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(meta["model"], "2-16-2 tanh");
    assert_eq!(node.apply(&p, &[0.7, -0.2]), node.apply(&q, &[0.7, -0.2]));
    assert!(matches!(
        load_params("/nonexistent/params.safetensors"),
        Err(Error::Io(_))
    ));
}
