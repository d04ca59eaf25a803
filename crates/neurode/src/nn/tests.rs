//! Every layer's backward pass against finite differences of its forward
//! pass, single and batched.

use rand::SeedableRng;

use super::*;

/// `Σ_i w_i y_i(x; p)`, whose gradient is the backward pass of `w`.
fn weighted<L: Layer>(layer: &L, p: &[f64], x: &[f64], w: &[f64]) -> f64 {
    layer.apply(p, x).iter().zip(w).map(|(a, b)| a * b).sum()
}

fn check_layer<L: Layer>(layer: &L, seed: u64) {
    let mut rng = NnRng::seed_from_u64(seed);
    let mut p = layer.init_params(&mut rng);
    // Non-zero biases too.
    for (k, v) in p.iter_mut().enumerate() {
        *v += 0.01 * (k % 7) as f64;
    }
    let x: Vec<f64> = (0..layer.in_dim())
        .map(|i| 0.3 + 0.17 * i as f64 - 0.5 * (i % 2) as f64)
        .collect();
    let w: Vec<f64> = (0..layer.out_dim())
        .map(|i| 1.0 - 0.31 * i as f64)
        .collect();
    let mut y = vec![0.0; layer.out_dim()];
    let mut tape = vec![0.0; layer.tape_len()];
    layer.forward(&p, &x, &mut y, &mut tape);
    let mut xbar = vec![0.0; layer.in_dim()];
    let mut pbar = vec![0.0; layer.num_params()];
    let mut scratch = vec![0.0; layer.scratch_len()];
    layer.backward(&p, &x, &tape, &w, &mut xbar, &mut pbar, &mut scratch);
    let h = 1e-6;
    let fd = |v: &mut Vec<f64>, k: usize, is_x: bool| {
        let orig = v[k];
        v[k] = orig + h;
        let a = if is_x {
            weighted(layer, &p, v, &w)
        } else {
            weighted(layer, v, &x, &w)
        };
        v[k] = orig - h;
        let b = if is_x {
            weighted(layer, &p, v, &w)
        } else {
            weighted(layer, v, &x, &w)
        };
        v[k] = orig;
        (a - b) / (2.0 * h)
    };
    let mut xv = x.clone();
    for k in 0..x.len() {
        let d = fd(&mut xv, k, true);
        assert!(
            (xbar[k] - d).abs() < 1e-6 * d.abs().max(1.0),
            "x[{k}]: {} vs {d}",
            xbar[k]
        );
    }
    let mut pv = p.clone();
    for k in 0..p.len() {
        let d = fd(&mut pv, k, false);
        assert!(
            (pbar[k] - d).abs() < 1e-6 * d.abs().max(1.0),
            "p[{k}]: {} vs {d}",
            pbar[k]
        );
    }
    // A batch of three: the same results sample by sample, parameters summed.
    let xs: Vec<f64> = [
        x.clone(),
        x.iter().map(|v| -v).collect(),
        x.iter().map(|v| 0.5 * v).collect(),
    ]
    .concat();
    let ws: Vec<f64> = [w.clone(), w.clone(), w.clone()].concat();
    let mut ys = vec![0.0; 3 * layer.out_dim()];
    let mut tapes = vec![0.0; 3 * layer.tape_len()];
    layer.forward_batch(&p, &xs, &mut ys, &mut tapes);
    let close = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .all(|(u, v)| (u - v).abs() < 1e-13 * v.abs().max(1.0))
    };
    assert!(close(&ys[..layer.out_dim()], &y), "batched forward differs");
    let mut xbars = vec![0.0; 3 * layer.in_dim()];
    let mut pbars = vec![0.0; layer.num_params()];
    let mut batch_scratch = vec![0.0; layer.batch_scratch_len(3)];
    layer.backward_batch(
        &p,
        &xs,
        &tapes,
        &ws,
        &mut xbars,
        &mut pbars,
        &mut batch_scratch,
    );
    assert!(
        close(&xbars[..layer.in_dim()], &xbar),
        "batched backward differs"
    );
    let mut single_sum = vec![0.0; layer.num_params()];
    for j in 0..3 {
        let xj = &xs[j * layer.in_dim()..(j + 1) * layer.in_dim()];
        let mut t = vec![0.0; layer.tape_len()];
        let mut yj = vec![0.0; layer.out_dim()];
        layer.forward(&p, xj, &mut yj, &mut t);
        let mut xb = vec![0.0; layer.in_dim()];
        layer.backward(&p, xj, &t, &w, &mut xb, &mut single_sum, &mut scratch);
        let (o, i) = (layer.out_dim(), layer.in_dim());
        assert!(close(&ys[j * o..(j + 1) * o], &yj), "sample {j}: forward");
        assert!(
            close(&xbars[j * i..(j + 1) * i], &xb),
            "sample {j}: backward"
        );
    }
    for (a, b) in pbars.iter().zip(&single_sum) {
        assert!((a - b).abs() < 1e-12 * b.abs().max(1.0));
    }
}

#[test]
fn every_layer_matches_finite_differences() {
    use Activation::*;
    for act in [Identity, Tanh, Relu, Sigmoid, Softplus, Swish, Gelu, Cube] {
        check_layer(&Dense::new(3, 4, act), 1);
        check_layer(
            &Map {
                dim: 3,
                activation: act,
            },
            2,
        );
    }
    check_layer(
        &Chain::new(2).map(Cube).dense(50, Tanh).dense(2, Identity),
        3,
    );
    check_layer(
        &Stack(
            Dense::new(3, 5, Tanh),
            Chain::new(5).map(Cube).dense(2, Softplus),
        ),
        5,
    );
    check_layer(
        &Chain::new(3)
            .dense(8, Swish)
            .dense(8, Gelu)
            .dense(2, Sigmoid),
        4,
    );
}

#[test]
fn f32_and_f64_agree() {
    let chain = Chain::new(2)
        .dense(16, Activation::Tanh)
        .dense(2, Activation::Identity);
    let p = chain.init_params(&mut NnRng::seed_from_u64(7));
    let p32: Vec<f32> = p.iter().map(|&v| v as f32).collect();
    let y64 = chain.apply(&p, &[0.4, -1.2]);
    let y32 = chain.apply(&p32, &[0.4f32, -1.2]);
    for (a, b) in y64.iter().zip(&y32) {
        assert!((a - *b as f64).abs() < 1e-5);
    }
}

#[test]
fn initialisation_is_seeded_and_scaled() {
    let layer = Dense::new(100, 50, Activation::Tanh);
    let a = layer.init_params(&mut NnRng::seed_from_u64(1));
    let b = layer.init_params(&mut NnRng::seed_from_u64(1));
    assert_eq!(a, b);
    let bound = (6.0_f64 / 150.0).sqrt();
    assert!(a[..5000].iter().all(|w| w.abs() <= bound));
    assert!(a[5000..].iter().all(|&w| w == 0.0));
    let var = a[..5000].iter().map(|w| w * w).sum::<f64>() / 5000.0;
    assert!((var - bound * bound / 3.0).abs() < 0.1 * bound * bound / 3.0);
}
