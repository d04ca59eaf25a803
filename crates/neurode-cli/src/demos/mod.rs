//! The demos `neurode demo <name>` runs, each a function writing into a folder.

mod lotka_volterra;

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
pub const ALL: &[Demo] = &[Demo {
    name: "lotka-volterra",
    about: "solve the Lotka–Volterra predator–prey model, print a table, plot it",
    run: lotka_volterra::run,
}];
