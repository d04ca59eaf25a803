//! The demos `neurode demo <name>` runs, each a function writing into a folder.

pub mod bouncing_ball;
pub mod dde_lotka_volterra;
pub mod fit;
pub mod lotka_volterra;
pub mod lotka_volterra_fit;
pub mod neural_sde;
pub mod ode_in_mlp;
pub mod sde_lotka_volterra;
pub mod spiral;

use std::path::Path;

/// A runnable demo.
pub struct Demo {
    /// Name on the command line.
    pub name: &'static str,
    /// One line about it.
    pub about: &'static str,
    /// Runs it, writing figures into the folder.
    pub run: fn(&Path) -> Result<(), Box<dyn std::error::Error>>,
}

/// Every demo; the first is the main one.
pub const ALL: &[Demo] = &[
    Demo {
        name: "spiral",
        about: "train the Neural ODE paper's spiral model; GIF of the fit converging",
        run: spiral::run,
    },
    Demo {
        name: "lotka-volterra-fit",
        about: "fit Lotka–Volterra's parameters so the rabbits stay at 1; GIF of the solution flattening",
        run: lotka_volterra_fit::run,
    },
    Demo {
        name: "ode-in-mlp",
        about: "classify two rings with Dense → NeuralOde → Dense",
        run: ode_in_mlp::run,
    },
    Demo {
        name: "dde-lotka-volterra",
        about: "train delayed Lotka–Volterra (lag 0.1) so the rabbits stay at 1; GIF",
        run: dde_lotka_volterra::run,
    },
    Demo {
        name: "sde-lotka-volterra",
        about: "train stochastic Lotka–Volterra (noise 0.1·u) so the mean rabbits stay at 1; GIF",
        run: sde_lotka_volterra::run,
    },
    Demo {
        name: "neural-sde",
        about: "fit a neural SDE's drift and diffusion to the mean and spread of data paths",
        run: neural_sde::run,
    },
    Demo {
        name: "bouncing-ball",
        about: "a ball bouncing on the floor: events located on the dense output, differentiable",
        run: bouncing_ball::run,
    },
    Demo {
        name: "lotka-volterra",
        about: "solve the Lotka–Volterra predator–prey model, print a table, plot it",
        run: lotka_volterra::run,
    },
];

#[cfg(test)]
mod tests {
    /// The README promises every demo is also an example
    /// (`cargo run --release -p neurode-cli --example <name>`); a stop once
    /// deleted them all without anything failing.
    #[test]
    fn every_demo_is_also_an_example() {
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        for demo in super::ALL {
            let file = match demo.name {
                // `lotka_volterra` is the library's own example's name.
                "lotka-volterra" => "lotka_volterra_demo".to_string(),
                name => name.replace('-', "_"),
            };
            let path = format!("{examples}/{file}.rs");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("demo {}: {path}: {e}", demo.name));
            let module = demo.name.replace('-', "_");
            assert!(
                text.contains(&format!("demos::{module}::run")),
                "{path} does not run demo {}",
                demo.name
            );
        }
    }
}
