//! What the seed's parameter-fitting demos share: train four parameters
//! with ADAM so that a model's rabbits stay at one, collecting frames of the
//! fit for an animation, then report and write the GIF and the loss curve.

use std::path::Path;
use std::time::Instant;

use neurode::Error;
use neurode::optim::Adam;
use neurode::plot::{Chart, plot_loss, save_gif};
use neurode::train::{Control, TrainOptions, train};

/// The seed's starting parameters.
pub const P0: [f64; 4] = [2.2, 1.0, 2.0, 0.4];

/// A model to fit: its loss with gradient, a picture at some parameters,
/// and how far its rabbits stray from one.
pub trait FitProblem {
    /// The loss at `p` and its gradient.
    fn loss_and_gradient(&self, p: &[f64]) -> Result<(f64, Vec<f64>), Error>;
    /// A frame of the animation at `p`.
    fn frame(&self, p: &[f64], title: String) -> Result<Chart, Error>;
    /// The loss at `p` and `max_t |x(t) − 1|`.
    fn assess(&self, p: &[f64]) -> Result<(f64, f64), Error>;
}

/// What a fit reached.
pub struct FitOutcome {
    /// The loss at each iteration, and after the last.
    pub losses: Vec<f64>,
    /// The fitted parameters.
    pub params: Vec<f64>,
    /// `max_t |x(t) − 1|` at the fitted parameters.
    pub worst_deviation: f64,
    /// Frames of the fit as training goes.
    pub frames: Vec<Chart>,
    /// Wall time of the training.
    pub seconds: f64,
}

/// The seed's "keep the rabbits at 1" measures of a solution: the loss
/// Σ (x(t) − 1)² over its saved points and the largest |x(t) − 1|.
pub fn rabbits_at_one(sol: &neurode::Solution) -> (f64, f64) {
    use neurode::sensitivity::{Loss, SumOfSquares};
    let loss =
        SumOfSquares::towards_constant(0, 1.0).value(&sol.t, sol.u_flat(), sol.u_end().len());
    let worst = sol
        .component(0)
        .iter()
        .map(|x| (x - 1.0).abs())
        .fold(0.0, f64::max);
    (loss, worst)
}

/// ADAM(0.1) from [`P0`] for `iterations`, with a frame every `frame_every`
/// iterations when asked.
pub fn fit(
    model: &impl FitProblem,
    iterations: usize,
    frame_every: Option<usize>,
    progress: bool,
) -> Result<FitOutcome, Box<dyn std::error::Error>> {
    let mut params = P0.to_vec();
    let mut frames = Vec::new();
    if frame_every.is_some() {
        frames.push(model.frame(&params, "iteration 0".into())?);
    }
    let start = Instant::now();
    let report = train(
        &mut |p: &[f64], g: &mut [f64], _: usize| {
            let (l, dp) = model.loss_and_gradient(p)?;
            g.copy_from_slice(&dp);
            Ok(l)
        },
        &mut params,
        &mut Adam::new(0.1),
        &TrainOptions::new(iterations).progress(progress),
        |s| {
            if let Some(every) = frame_every
                && (s.iteration + 1) % every == 0
                && let Ok(f) = model.frame(
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
    let (last, worst_deviation) = model.assess(&params)?;
    let mut losses = report.losses;
    losses.push(last);
    Ok(FitOutcome {
        losses,
        params,
        worst_deviation,
        frames,
        seconds,
    })
}

/// Trains for 100 iterations with frames every 5, prints what it reached,
/// and writes `<name>.gif` and `<name>_loss.png` into `out`.
pub fn run_and_report(
    model: &impl FitProblem,
    out: &Path,
    name: &str,
    title: &str,
    deviation_label: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let o = fit(model, 100, Some(5), true)?;
    let (first, last) = (o.losses[0], *o.losses.last().unwrap_or(&f64::NAN));
    println!(
        "loss {first:.3} → {last:.4} ({:.2}% of the start) in 100 iterations ({:.0} ms); \
         p = ({:.4}, {:.4}, {:.4}, {:.4}); {deviation_label} = {:.4}",
        100.0 * last / first,
        o.seconds * 1e3,
        o.params[0],
        o.params[1],
        o.params[2],
        o.params[3],
        o.worst_deviation
    );
    let gif = out.join(format!("{name}.gif"));
    let png = out.join(format!("{name}_loss.png"));
    save_gif(&gif, &o.frames, 150)?;
    plot_loss(&png, title, &o.losses)?;
    println!("wrote {}", gif.display());
    println!("wrote {}", png.display());
    Ok(())
}
