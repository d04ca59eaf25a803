//! The training loop: loss and gradient, an optimizer step, a schedule,
//! clipping, callbacks that watch and may stop, a progress bar (feature
//! `progress`), and clean handling of a loss that goes NaN or infinite.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::error::Error;
use crate::nn::NnRng;
use crate::optim::{Optimizer, Schedule, clip_norm};

/// Something to minimise: writes the gradient at `params` into `grad` and
/// returns the loss. `iteration` lets it pick a minibatch.
pub trait Objective {
    /// The loss and its gradient at `params`.
    fn evaluate(
        &mut self,
        params: &[f64],
        grad: &mut [f64],
        iteration: usize,
    ) -> Result<f64, Error>;
}

impl<F> Objective for F
where
    F: FnMut(&[f64], &mut [f64], usize) -> Result<f64, Error>,
{
    fn evaluate(
        &mut self,
        params: &[f64],
        grad: &mut [f64],
        iteration: usize,
    ) -> Result<f64, Error> {
        self(params, grad, iteration)
    }
}

/// Settings of [`train`].
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    /// Optimizer steps to take.
    pub iterations: usize,
    /// Learning rate over the iterations (from the optimizer's initial rate).
    pub schedule: Schedule,
    /// Clip the gradient to this Euclidean norm.
    pub clip: Option<f64>,
    /// Show a progress bar (with the `progress` feature; ignored without).
    pub progress: bool,
    /// How many failed evaluations (non-finite loss or gradient, or a solve
    /// that stopped early) in a row to tolerate: each returns to the last
    /// good parameters and halves the learning rate; one more stops training.
    pub max_failures: usize,
}

impl TrainOptions {
    /// `iterations` steps, constant rate, no clipping, no progress bar.
    pub fn new(iterations: usize) -> Self {
        Self {
            iterations,
            schedule: Schedule::Constant,
            clip: None,
            progress: false,
            max_failures: 3,
        }
    }
    /// With a learning-rate schedule.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }
    /// With gradient clipping.
    pub fn clip(mut self, max_norm: f64) -> Self {
        self.clip = Some(max_norm);
        self
    }
    /// With (or without) a progress bar.
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }
}

/// What a callback sees after each step.
#[derive(Debug)]
pub struct TrainState<'a> {
    /// The step just taken (from 0).
    pub iteration: usize,
    /// The loss at the parameters before this step.
    pub loss: f64,
    /// The gradient norm there (before clipping).
    pub grad_norm: f64,
    /// The parameters after the step.
    pub params: &'a [f64],
    /// Time since training started.
    pub elapsed: Duration,
}

/// A callback's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop after this step.
    Stop,
}

/// Why training ended.
#[derive(Clone, Debug, PartialEq)]
pub enum StopReason {
    /// All iterations done.
    Finished,
    /// A callback asked.
    Callback,
    /// Evaluations kept failing; the parameters are the last good ones.
    Failed {
        /// The iteration of the last failure.
        iteration: usize,
        /// What went wrong.
        why: String,
    },
}

/// How training went.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// The loss at each step (before its update).
    pub losses: Vec<f64>,
    /// Why it ended.
    pub stopped: StopReason,
    /// Failed evaluations that were skipped.
    pub failures: usize,
    /// Wall time.
    pub elapsed: Duration,
}

impl TrainReport {
    /// The first loss.
    pub fn initial_loss(&self) -> f64 {
        self.losses.first().copied().unwrap_or(f64::NAN)
    }
    /// The last loss.
    pub fn final_loss(&self) -> f64 {
        self.losses.last().copied().unwrap_or(f64::NAN)
    }
}

/// Minimises `objective` from `params` with `optimizer`, calling `callback`
/// after every step.
///
/// A failed evaluation (non-finite loss or gradient, or an error such as a
/// solve that stopped early) does not update anything: the parameters go
/// back to the last ones with a finite loss and the learning rate halves;
/// after `max_failures` in a row, training stops with
/// [`StopReason::Failed`] and those last good parameters.
///
/// ```
/// use neurode::optim::Adam;
/// use neurode::train::{train, Control, TrainOptions};
/// let mut p = vec![3.0, -2.0];
/// let report = train(
///     &mut |p: &[f64], g: &mut [f64], _it: usize| {
///         g[0] = 2.0 * p[0];
///         g[1] = 2.0 * p[1];
///         Ok(p[0] * p[0] + p[1] * p[1])
///     },
///     &mut p,
///     &mut Adam::new(0.1),
///     &TrainOptions::new(300),
///     |_| Control::Continue,
/// )?;
/// assert!(report.final_loss() < 1e-3 * report.initial_loss());
/// # Ok::<(), neurode::Error>(())
/// ```
pub fn train<O: Objective, Opt: Optimizer>(
    objective: &mut O,
    params: &mut [f64],
    optimizer: &mut Opt,
    opts: &TrainOptions,
    mut callback: impl FnMut(&TrainState) -> Control,
) -> Result<TrainReport, Error> {
    let start = Instant::now();
    let lr0 = optimizer.learning_rate();
    let mut grad = vec![0.0; params.len()];
    let mut last_good = params.to_vec();
    let mut report = TrainReport {
        losses: Vec::with_capacity(opts.iterations),
        stopped: StopReason::Finished,
        failures: 0,
        elapsed: Duration::ZERO,
    };
    let mut in_a_row = 0;
    let mut lr_scale = 1.0;
    let bar = ProgressBar::new(opts.progress, opts.iterations);
    for iteration in 0..opts.iterations {
        let outcome = objective.evaluate(params, &mut grad, iteration);
        let failure = match &outcome {
            Ok(l) if !l.is_finite() => Some(format!("loss is {l}")),
            Ok(_) if grad.iter().any(|g| !g.is_finite()) => Some("gradient is not finite".into()),
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = failure {
            report.failures += 1;
            in_a_row += 1;
            params.copy_from_slice(&last_good);
            if in_a_row > opts.max_failures {
                report.stopped = StopReason::Failed { iteration, why };
                break;
            }
            lr_scale *= 0.5;
            continue;
        }
        in_a_row = 0;
        let loss = outcome?;
        last_good.copy_from_slice(params);
        report.losses.push(loss);
        let grad_norm = match opts.clip {
            Some(max) => clip_norm(&mut grad, max),
            None => grad.iter().map(|g| g * g).sum::<f64>().sqrt(),
        };
        optimizer.set_learning_rate(lr_scale * opts.schedule.at(lr0, iteration));
        optimizer.step(params, &grad);
        bar.update(iteration, loss, start.elapsed());
        let state = TrainState {
            iteration,
            loss,
            grad_norm,
            params,
            elapsed: start.elapsed(),
        };
        if callback(&state) == Control::Stop {
            report.stopped = StopReason::Callback;
            break;
        }
    }
    bar.finish();
    optimizer.set_learning_rate(lr0);
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Indices `0..n` in shuffled minibatches, reshuffled every epoch from a
/// seeded generator.
#[derive(Clone, Debug)]
pub struct MiniBatches {
    order: Vec<usize>,
    size: usize,
    rng: NnRng,
    epoch: usize,
}

impl MiniBatches {
    /// Batches of `size` (the last of an epoch may be smaller) over `n` samples.
    pub fn new(n: usize, size: usize, seed: u64) -> Self {
        let mut me = Self {
            order: (0..n).collect(),
            size: size.clamp(1, n.max(1)),
            rng: NnRng::seed_from_u64(seed),
            epoch: usize::MAX,
        };
        me.order.shuffle(&mut me.rng);
        me.epoch = 0;
        me
    }

    /// Batches per epoch.
    pub fn per_epoch(&self) -> usize {
        self.order.len().div_ceil(self.size)
    }

    /// The batch for `iteration` (iterations must come in order).
    pub fn batch(&mut self, iteration: usize) -> &[usize] {
        let per = self.per_epoch().max(1);
        let epoch = iteration / per;
        while self.epoch < epoch {
            self.order.shuffle(&mut self.rng);
            self.epoch += 1;
        }
        let k = iteration % per;
        let end = ((k + 1) * self.size).min(self.order.len());
        &self.order[k * self.size..end]
    }
}

/// A progress bar when the `progress` feature is on and one was asked for.
struct ProgressBar {
    #[cfg(feature = "progress")]
    bar: Option<indicatif::ProgressBar>,
}

impl ProgressBar {
    fn new(show: bool, total: usize) -> Self {
        #[cfg(feature = "progress")]
        {
            let bar = show.then(|| {
                let bar = indicatif::ProgressBar::new(total as u64);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} [{elapsed_precise}] {msg}",
                ) {
                    bar.set_style(style);
                }
                bar
            });
            Self { bar }
        }
        #[cfg(not(feature = "progress"))]
        {
            let _ = (show, total);
            Self {}
        }
    }

    fn update(&self, iteration: usize, loss: f64, elapsed: Duration) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            let rate = (iteration + 1) as f64 / elapsed.as_secs_f64().max(1e-9);
            bar.set_position(iteration as u64 + 1);
            bar.set_message(format!("loss {loss:.4e}  {rate:.1} it/s"));
        }
        #[cfg(not(feature = "progress"))]
        let _ = (iteration, loss, elapsed);
    }

    fn finish(&self) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Adam;

    #[test]
    fn a_nan_loss_keeps_the_last_good_parameters_and_says_so() {
        let mut p = vec![1.0];
        let report = train(
            &mut |p: &[f64], g: &mut [f64], it: usize| {
                g[0] = 1.0;
                Ok(if it >= 5 { f64::NAN } else { p[0] })
            },
            &mut p,
            &mut Adam::new(0.1),
            &TrainOptions::new(100),
            |_| Control::Continue,
        )
        .unwrap();
        assert_eq!(report.losses.len(), 5);
        assert!(matches!(report.stopped, StopReason::Failed { .. }));
        assert_eq!(report.failures, 4);
        // The parameters of the last finite loss: four Adam steps of 0.1
        // from 1.0 (the fifth step's parameters gave NaN).
        assert!((p[0] - 0.6).abs() < 1e-6, "{}", p[0]);
    }

    #[test]
    fn a_callback_can_stop_training() {
        let mut p = vec![1.0];
        let report = train(
            &mut |p: &[f64], g: &mut [f64], _: usize| {
                g[0] = 2.0 * p[0];
                Ok(p[0] * p[0])
            },
            &mut p,
            &mut Adam::new(0.01),
            &TrainOptions::new(1000),
            |s| {
                if s.iteration == 9 {
                    Control::Stop
                } else {
                    Control::Continue
                }
            },
        )
        .unwrap();
        assert_eq!(report.losses.len(), 10);
        assert_eq!(report.stopped, StopReason::Callback);
    }

    #[test]
    fn minibatches_cover_every_sample_each_epoch() {
        let mut mb = MiniBatches::new(10, 4, 3);
        assert_eq!(mb.per_epoch(), 3);
        for epoch in 0..3 {
            let mut seen: Vec<usize> = (0..3)
                .flat_map(|k| mb.batch(epoch * 3 + k).to_vec())
                .collect();
            seen.sort();
            assert_eq!(seen, (0..10).collect::<Vec<_>>());
        }
    }
}
