//! The stepping of a fixed-step loop outside the ODE integrator (SDE and
//! symplectic solvers): constant steps that land exactly on save times and
//! on the end of the span.

use super::integrator::save_grid;
use super::options::SaveAt;

/// Steps land on a target when they would overshoot it by only rounding.
const STRETCH: f64 = 1.0 + 1e-10;

/// Where a fixed-step loop stands: the save times left and the step size.
pub(crate) struct FixedGrid {
    saves: Vec<f64>,
    every: bool,
    next_save: usize,
    t1: f64,
    dir: f64,
    dt: f64,
}

/// The next step: its signed size, whether it lands on the target, and
/// whether the point reached is to be saved.
pub(crate) struct NextStep {
    pub h: f64,
    pub target: f64,
    pub lands: bool,
}

impl FixedGrid {
    /// Steps of `dt` over `(t0, t1)` saving as `saveat` says.
    pub(crate) fn new(saveat: &SaveAt, t0: f64, t1: f64, dt: f64) -> Self {
        let dir = if t1 > t0 { 1.0 } else { -1.0 };
        Self {
            saves: save_grid(saveat, t0, t1, dir),
            every: matches!(saveat, SaveAt::EveryStep),
            next_save: 0,
            t1,
            dir,
            dt,
        }
    }

    /// True when the start point is saved (and marks it done).
    pub(crate) fn saves_start(&mut self, t0: f64) -> bool {
        if self.every {
            return true;
        }
        if self.saves.first() == Some(&t0) {
            self.next_save = 1;
            return true;
        }
        false
    }

    /// How many points will be saved (for reserving).
    pub(crate) fn save_count(&self, t0: f64) -> usize {
        if self.every {
            ((self.t1 - t0).abs() / self.dt) as usize + 2
        } else {
            self.saves.len()
        }
    }

    /// The step from `t`, or `None` when the span is done.
    pub(crate) fn next(&self, t: f64) -> Option<NextStep> {
        let target = if self.every {
            self.t1
        } else {
            self.saves.get(self.next_save).copied().unwrap_or(self.t1)
        };
        let dist = (target - t) * self.dir;
        if dist <= 0.0 {
            return None;
        }
        let lands = self.dt * STRETCH >= dist;
        let h = if lands {
            target - t
        } else {
            self.dir * self.dt
        };
        Some(NextStep { h, target, lands })
    }

    /// After taking `step`: whether to save the point reached, and whether
    /// the span is done.
    pub(crate) fn after(&mut self, step: &NextStep) -> (bool, bool) {
        let done = step.lands && step.target == self.t1;
        if self.every {
            return (true, done);
        }
        let save = step.lands
            && self.next_save < self.saves.len()
            && step.target == self.saves[self.next_save];
        if save {
            self.next_save += 1;
        }
        (save, done)
    }
}
