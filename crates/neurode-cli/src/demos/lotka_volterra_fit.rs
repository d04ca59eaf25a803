//! The seed's first training: fit the four Lotka–Volterra parameters so the
//! rabbits stay at one, `Σ_{t=0:0.1:10} (x(t) - 1)²`, from p = (2.2, 1, 2,
//! 0.4) with ADAM(0.1) for 100 iterations; an animation of the solution
//! flattening towards 1.

use std::path::Path;
use std::time::Instant;

use neurode::optim::Adam;
use neurode::plot::{Chart, plot_loss, save_gif, solution_series};
use neurode::prelude::*;
use neurode::train::{Control, TrainOptions, train};

use super::lotka_volterra::LotkaVolterra;

/// The seed's starting parameters.
pub const P0: [f64; 4] = [2.2, 1.0, 2.0, 0.4];

fn problem(p: &[f64]) -> Result<OdeProblem<LotkaVolterra>, Error> {
    OdeProblem::new(LotkaVolterra, vec![1.0, 1.0], (0.0, 10.0), p.to_vec())
}

fn options() -> SolveOptions {
    SolveOptions::default()
        .tolerances(1e-6, 1e-6)
        .saveat_step(0.1)
}

/// What the fit reached.
pub struct FitOutcome {
    /// The loss at each iteration, and after the last.
    pub losses: Vec<f64>,
    /// The fitted parameters.
    pub params: Vec<f64>,
    /// `max_t |x(t) - 1|` at the fitted parameters (on the save grid).
    pub worst_deviation: f64,
    /// Frames of the solution as training goes.
    pub frames: Vec<Chart>,
    /// Wall time of the training.
    pub seconds: f64,
}

fn frame(p: &[f64], title: String) -> Result<Chart, Error> {
    let sol = problem(p)?.solve(
        Tsit5,
        &SolveOptions::default().tolerances(1e-6, 1e-6).dense(true),
    )?;
    let mut chart = Chart::new(title, "t", "population").with_bounds((0.0, 10.0), (0.0, 6.0));
    chart.series = solution_series(&sol, &["x (rabbits)", "y (wolves)"], 300);
    Ok(chart)
}

/// Runs the fit, with frames every `frame_every` iterations when asked.
pub fn fit(
    iterations: usize,
    frame_every: Option<usize>,
    progress: bool,
) -> Result<FitOutcome, Box<dyn std::error::Error>> {
    let loss = SumOfSquares::towards_constant(0, 1.0);
    let mut params = P0.to_vec();
    let mut frames = Vec::new();
    if frame_every.is_some() {
        frames.push(frame(&params, "iteration 0".into())?);
    }
    let start = Instant::now();
    let report = train(
        &mut |p: &[f64], g: &mut [f64], _: usize| {
            let (l, dp) = problem(p)?.loss_and_gradient(Tsit5, &options(), &loss, ForwardMode)?;
            g.copy_from_slice(&dp);
            Ok(l)
        },
        &mut params,
        &mut Adam::new(0.1),
        &TrainOptions::new(iterations).progress(progress),
        |s| {
            if let Some(every) = frame_every
                && (s.iteration + 1) % every == 0
                && let Ok(f) = frame(
                    s.params,
                    format!("iteration {}, loss {:.3}", s.iteration + 1, s.loss),
                )
            {
                frames.push(f);
            }
            Control::Continue
        },
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let sol = problem(&params)?.solve(Tsit5, &options())?;
    let mut losses = report.losses;
    losses.push(loss.value(&sol.t, sol.u_flat(), 2));
    let worst_deviation = sol
        .component(0)
        .iter()
        .map(|x| (x - 1.0).abs())
        .fold(0.0, f64::max);
    Ok(FitOutcome {
        losses,
        params,
        worst_deviation,
        frames,
        seconds,
    })
}

/// Fits for 100 iterations and writes `lotka_volterra_fit.gif` and
/// `lotka_volterra_fit_loss.png`.
pub fn run(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "Lotka–Volterra fit: keep the rabbits at 1, loss Σ (x(t) - 1)² over t = 0:0.1:10, \
         from p = (2.2, 1, 2, 0.4), ADAM(0.1), forward-mode gradients"
    );
    let o = fit(100, Some(5), true)?;
    let (first, last) = (o.losses[0], *o.losses.last().unwrap_or(&f64::NAN));
    println!(
        "loss {first:.3} → {last:.4} ({:.2}% of the start) in 100 iterations ({:.0} ms); \
         p = ({:.4}, {:.4}, {:.4}, {:.4}); max |x(t) - 1| = {:.4}",
        100.0 * last / first,
        o.seconds * 1e3,
        o.params[0],
        o.params[1],
        o.params[2],
        o.params[3],
        o.worst_deviation
    );
    save_gif(out.join("lotka_volterra_fit.gif"), &o.frames, 150)?;
    plot_loss(
        out.join("lotka_volterra_fit_loss.png"),
        "Lotka–Volterra fit loss",
        &o.losses,
    )?;
    println!("wrote {}", out.join("lotka_volterra_fit.gif").display());
    println!(
        "wrote {}",
        out.join("lotka_volterra_fit_loss.png").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hundred_iterations_keep_the_rabbits_near_one() {
        let o = fit(100, None, false).unwrap();
        let ratio = o.losses.last().unwrap() / o.losses[0];
        eprintln!(
            "Lotka–Volterra fit: {:.3} → {:.4} ({:.2}%), max |x - 1| = {:.4}",
            o.losses[0],
            o.losses.last().unwrap(),
            100.0 * ratio,
            o.worst_deviation
        );
        assert!(ratio < 0.05, "{ratio}");
        assert!(o.worst_deviation < 0.1, "{}", o.worst_deviation);
    }
}
