//! Initial weights, drawn from a seeded generator so a run is reproducible.

use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The random generator layers are initialised from:
/// `Xoshiro256PlusPlus::seed_from_u64(seed)`.
pub type NnRng = Xoshiro256PlusPlus;

/// How a dense layer's weights start (biases start at zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Init {
    /// Uniform on `±√(6 / (fan_in + fan_out))` (Flux's and PyTorch's usual
    /// choice for tanh networks).
    #[default]
    GlorotUniform,
    /// Normal with standard deviation `√(2 / (fan_in + fan_out))`.
    GlorotNormal,
    /// Normal with standard deviation `√(2 / fan_in)` (for ReLU networks).
    He,
    /// All zeros.
    Zeros,
}

impl Init {
    /// Fills `w` (a `fan_out × fan_in` matrix) with initial weights.
    pub fn fill(self, rng: &mut NnRng, fan_in: usize, fan_out: usize, w: &mut [f64]) {
        let (fi, fo) = (fan_in as f64, fan_out as f64);
        match self {
            Init::GlorotUniform => {
                let a = (6.0 / (fi + fo)).sqrt();
                w.iter_mut().for_each(|x| *x = rng.random_range(-a..a));
            }
            Init::GlorotNormal => normal(rng, (2.0 / (fi + fo)).sqrt(), w),
            Init::He => normal(rng, (2.0 / fi).sqrt(), w),
            Init::Zeros => w.fill(0.0),
        }
    }
}

fn normal(rng: &mut NnRng, std: f64, w: &mut [f64]) {
    for x in w {
        let z: f64 = StandardNormal.sample(rng);
        *x = std * z;
    }
}
