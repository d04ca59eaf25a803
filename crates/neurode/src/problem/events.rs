//! Events and callbacks: hybrid systems whose state jumps when a condition
//! crosses zero (a ball hits the floor), after every step, or at preset
//! times (a dose is given).
//!
//! Callbacks ride on the right-hand side: [`OdeProblem::with_events`] wraps
//! the function in a [`Hybrid`], so every solver, every solve entry point and
//! forward-mode gradients see them with no change to their signatures.

use super::ode::{OdeFunction, OdeProblem};
use crate::error::Error;
use crate::scalar::Scalar;

/// Which zero crossings of an event condition count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Crossing {
    /// Either direction.
    #[default]
    Both,
    /// From negative to positive.
    Up,
    /// From positive to negative.
    Down,
}

impl Crossing {
    /// True when going from `before` to `after` is a crossing of this kind
    /// (a condition that starts exactly at zero has not crossed).
    pub fn crossed(self, before: f64, after: f64) -> bool {
        let up = before < 0.0 && after >= 0.0;
        let down = before > 0.0 && after <= 0.0;
        match self {
            Crossing::Both => up || down,
            Crossing::Up => up,
            Crossing::Down => down,
        }
    }
}

/// What the solve does after a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EventAction {
    /// Carry on from the (possibly changed) state.
    #[default]
    Continue,
    /// Stop here; the solution ends at this time with
    /// [`ReturnCode::Terminated`](crate::ReturnCode::Terminated).
    Terminate,
}

/// Callbacks of a hybrid system, written once for every scalar type (so
/// event times carry derivatives under forward mode).
///
/// - **Continuous callbacks** (vector-valued): `conditions` gives
///   [`count`](Self::count) functions of the state; when one crosses zero
///   (in the direction [`crossing`](Self::crossing) allows) within a step, the
///   crossing time is located by root finding on the step's dense output,
///   the step is cut there and [`affect`](Self::affect) may change the state.
/// - **Discrete callbacks**: [`after_step`](Self::after_step) sees the state
///   after every accepted step.
/// - **Preset-time callbacks**: the solver steps exactly onto each of
///   [`preset_times`](Self::preset_times) and calls
///   [`at_preset_time`](Self::at_preset_time) there.
///
/// ```
/// use neurode::prelude::*;
/// use neurode::{Crossing, EventAction, Events};
///
/// ode_system! {
///     struct Fall;
///     fn rhs<T>(t; x, v; g) -> (dx, dv) {
///         dx = v;
///         dv = -g;
///     }
/// }
/// /// A ball that bounces, keeping 90% of its speed.
/// struct Floor;
/// impl Events for Floor {
///     fn count(&self) -> usize { 1 }
///     fn conditions<T: Scalar>(&self, out: &mut [T], u: &[T], _p: &[T], _t: T) {
///         out[0] = u[0];
///     }
///     fn crossing(&self, _i: usize) -> Crossing { Crossing::Down }
///     fn affect<T: Scalar>(&self, _i: usize, u: &mut [T], _p: &[T], _t: T) -> EventAction {
///         u[1] = -u[1].scaled(0.9);
///         EventAction::Continue
///     }
/// }
/// let prob = OdeProblem::new(Fall, vec![1.0, 0.0], (0.0, 1.0), vec![9.81])
///     .unwrap()
///     .with_events(Floor);
/// let sol = prob.solve(Tsit5, &SolveOptions::default()).unwrap();
/// let first = (2.0_f64 / 9.81).sqrt();
/// assert!((sol.events[0].t - first).abs() < 1e-9);
/// ```
pub trait Events {
    /// The number of continuous conditions.
    fn count(&self) -> usize {
        0
    }
    /// The conditions at `(u, t)`, into `out` (`count` numbers).
    fn conditions<T: Scalar>(&self, out: &mut [T], u: &[T], p: &[T], t: T) {
        let _ = (out, u, p, t);
    }
    /// Which crossings of condition `i` are events.
    fn crossing(&self, i: usize) -> Crossing {
        let _ = i;
        Crossing::Both
    }
    /// True when the conditions only mark where steps must end — points of
    /// the mesh, such as the derivative jumps a delay equation carries
    /// forward — rather than events of the model. Their times are then held
    /// fixed under differentiation, as step sizes are (where the solver cuts
    /// a step does not change the solution it approximates); `affect` must
    /// leave the state as it is. False, the default, differentiates each
    /// event time by the implicit function theorem.
    fn marks_mesh_only(&self) -> bool {
        false
    }
    /// Condition `i` crossed zero at `t`: change `u` as the event demands.
    fn affect<T: Scalar>(&self, i: usize, u: &mut [T], p: &[T], t: T) -> EventAction {
        let _ = (i, u, p, t);
        EventAction::Continue
    }
    /// A discrete callback after every accepted step: change `u` and return
    /// `Some` when it fires, `None` (the default) when it does not.
    fn after_step<T: Scalar>(&self, u: &mut [T], p: &[T], t: T) -> Option<EventAction> {
        let _ = (u, p, t);
        None
    }
    /// Times at which [`at_preset_time`](Self::at_preset_time) runs.
    fn preset_times(&self) -> Vec<f64> {
        Vec::new()
    }
    /// The callback at one of the preset times.
    fn at_preset_time<T: Scalar>(&self, u: &mut [T], p: &[T], t: T) -> EventAction {
        let _ = (u, p, t);
        EventAction::Continue
    }
}

/// A right-hand side with callbacks (what [`OdeProblem::with_events`]
/// builds). It is the original function in every other respect.
#[derive(Clone, Debug)]
pub struct Hybrid<F, E> {
    f: F,
    events: E,
}

impl<F, E> Hybrid<F, E> {
    /// The right-hand side without its callbacks.
    pub fn inner(&self) -> &F {
        &self.f
    }
    /// The callbacks.
    pub fn events(&self) -> &E {
        &self.events
    }
}

impl<F: OdeFunction, T: Scalar> OdeProblem<F, T> {
    /// The same problem with callbacks: continuous events, a discrete
    /// callback, preset-time callbacks (see [`Events`]).
    pub fn with_events<E: Events>(self, events: E) -> OdeProblem<Hybrid<F, E>, T> {
        self.map_function(|f| Hybrid { f, events })
    }
}

/// The callbacks as the integrator loop reads them from a right-hand side;
/// every [`OdeFunction`] has none unless it is a [`Hybrid`].
impl<F: OdeFunction, E: Events> OdeFunction for Hybrid<F, E> {
    super::ode::forward_rhs_methods!(|s| s.f);
    fn has_callbacks(&self) -> bool {
        true
    }
    fn event_count(&self) -> usize {
        self.events.count()
    }
    fn event_conditions<T: Scalar>(&self, out: &mut [T], u: &[T], p: &[T], t: T) {
        self.events.conditions(out, u, p, t)
    }
    fn event_crossing(&self, i: usize) -> Crossing {
        self.events.crossing(i)
    }
    fn event_marks_mesh_only(&self) -> bool {
        self.events.marks_mesh_only()
    }
    fn event_affect<T: Scalar>(&self, i: usize, u: &mut [T], p: &[T], t: T) -> EventAction {
        self.events.affect(i, u, p, t)
    }
    fn after_step<T: Scalar>(&self, u: &mut [T], p: &[T], t: T) -> Option<EventAction> {
        self.events.after_step(u, p, t)
    }
    fn preset_times(&self) -> Vec<f64> {
        self.events.preset_times()
    }
    fn at_preset_time<T: Scalar>(&self, u: &mut [T], p: &[T], t: T) -> EventAction {
        self.events.at_preset_time(u, p, t)
    }
}

/// A gradient method that cannot differentiate through callbacks says so
/// instead of silently ignoring the jumps.
pub(crate) fn reject_callbacks<F: OdeFunction>(f: &F, method: &'static str) -> Result<(), Error> {
    if f.has_callbacks() {
        Err(Error::CallbacksUnsupported { method })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings_respect_direction_and_ignore_a_start_at_zero() {
        assert!(Crossing::Both.crossed(1.0, -1.0));
        assert!(Crossing::Both.crossed(-1.0, 0.0));
        assert!(Crossing::Down.crossed(1.0, 0.0));
        assert!(!Crossing::Down.crossed(-1.0, 1.0));
        assert!(Crossing::Up.crossed(-1.0, 1.0));
        assert!(!Crossing::Both.crossed(0.0, 1.0));
        assert!(!Crossing::Both.crossed(0.0, -1.0));
    }
}
