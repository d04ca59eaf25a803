//! The `neurode` command: runs the toolkit's demos.
//!
//! `neurode demo` runs the main demo; `neurode demo --list` lists them all.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use neurode_cli::demos;

/// Differentiable differential-equation solvers: demos.
#[derive(Parser)]
#[command(name = "neurode", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a demo: it prints a table and writes its figures.
    Demo {
        /// Which demo (default: the main one).
        name: Option<String>,
        /// Folder for the figures.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// List the demos and exit.
        #[arg(long)]
        list: bool,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo { name, out, list } => {
            if list {
                for d in demos::ALL {
                    println!("{:<20} {}", d.name, d.about);
                }
                return ExitCode::SUCCESS;
            }
            let name = name.unwrap_or_else(|| demos::ALL[0].name.to_string());
            let Some(demo) = demos::ALL.iter().find(|d| d.name == name) else {
                eprintln!("neurode: no demo named {name:?}; `neurode demo --list` shows them");
                return ExitCode::FAILURE;
            };
            if let Err(e) = std::fs::create_dir_all(&out) {
                eprintln!("neurode: cannot create {}: {e}", out.display());
                return ExitCode::FAILURE;
            }
            match (demo.run)(&out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("neurode: demo {name} failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
