//! What a solve should do: tolerances, step limits, what to save.

use crate::error::Error;
use crate::linalg::jacobian::JacobianMethod;

/// A tolerance for every component, or one per component.
#[derive(Clone, Debug, PartialEq)]
pub enum Tolerance {
    /// The same tolerance for every component.
    Scalar(f64),
    /// One tolerance per component.
    PerComponent(Vec<f64>),
}

impl Tolerance {
    /// The tolerance of component `i` (callers have checked the length).
    #[inline(always)]
    pub(crate) fn at(&self, i: usize) -> f64 {
        match self {
            Tolerance::Scalar(x) => *x,
            Tolerance::PerComponent(v) => v[i],
        }
    }

    fn validate(&self, what: &str, n: usize) -> Result<(), Error> {
        let check = |x: f64| {
            if x.is_finite() && x >= 0.0 {
                Ok(())
            } else {
                Err(Error::BadTolerance(format!(
                    "{what} = {x} must be finite and non-negative"
                )))
            }
        };
        match self {
            Tolerance::Scalar(x) => check(*x),
            Tolerance::PerComponent(v) => {
                if v.len() != n {
                    return Err(Error::WrongLength {
                        what: if what == "rtol" { "rtol" } else { "atol" },
                        got: v.len(),
                        expected: n,
                    });
                }
                v.iter().try_for_each(|&x| check(x))
            }
        }
    }
}

impl From<f64> for Tolerance {
    fn from(x: f64) -> Self {
        Tolerance::Scalar(x)
    }
}

impl From<Vec<f64>> for Tolerance {
    fn from(v: Vec<f64>) -> Self {
        Tolerance::PerComponent(v)
    }
}

/// Which states a solution keeps.
#[derive(Clone, Debug, PartialEq)]
pub enum SaveAt {
    /// The start and every accepted step (the default).
    EveryStep,
    /// `t0, t0 ± dt, t0 ± 2dt, …` up to and including `t1`, read from the
    /// interpolant (the steps themselves are chosen by the error control).
    Every(f64),
    /// Exactly these times (sorted for you), read from the interpolant.
    Times(Vec<f64>),
}

/// How the step size is chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Stepping {
    /// Error-controlled steps; an optional first step (otherwise Hairer's
    /// initial-step algorithm picks it).
    Adaptive {
        /// First step size, or `None` to estimate it.
        dt0: Option<f64>,
    },
    /// Every step has this size (the last one is shortened to land on `t1`).
    Fixed(f64),
}

/// The step-size controller's constants (a PI controller after Hairer and
/// Gustafsson). `None` exponents are derived from the method's order `k`:
/// `beta1 = 7/(10k)`, `beta2 = 2/(5k)`, as OrdinaryDiffEq.jl does.
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerOptions {
    /// Exponent on the current error.
    pub beta1: Option<f64>,
    /// Exponent on the previous error (0 gives the classic I controller).
    pub beta2: Option<f64>,
    /// Safety factor.
    pub gamma: f64,
    /// Smallest step-size ratio `dt_new / dt`.
    pub qmin: f64,
    /// Largest step-size ratio `dt_new / dt`.
    pub qmax: f64,
    /// Keep the step size when the proposed ratio falls in this band, so
    /// implicit methods can reuse their factorisations. `None`: `(1, 1.2)`
    /// for methods that reuse them (OrdinaryDiffEq's choice), none otherwise.
    pub qsteady: Option<(f64, f64)>,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        Self {
            beta1: None,
            beta2: None,
            gamma: 0.9,
            qmin: 0.2,
            qmax: 10.0,
            qsteady: None,
        }
    }
}

/// Where the state must stay: a step that leaves it is rejected and
/// retried smaller (DifferentialEquations.jl's `isoutofdomain`, CVODE's
/// constraints). For quantities that cannot go negative, such as
/// concentrations, where a loose tolerance would otherwise let a tiny
/// component cross zero onto an unstable branch.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Domain {
    /// Anywhere (the default).
    #[default]
    Any,
    /// Every component `≥ 0`.
    NonNegative,
    /// These components `≥ 0`.
    NonNegativeAt(Vec<usize>),
}

impl Domain {
    /// True when `u` (real parts) lies in the domain.
    #[inline]
    pub(crate) fn contains<T: crate::scalar::Scalar>(&self, u: &[T]) -> bool {
        match self {
            Domain::Any => true,
            Domain::NonNegative => u.iter().all(|x| x.real() >= 0.0),
            Domain::NonNegativeAt(idx) => idx
                .iter()
                .all(|&i| u.get(i).is_none_or(|x| x.real() >= 0.0)),
        }
    }
}

/// Options for a solve, built fluently from the defaults.
///
/// ```
/// use neurode::prelude::*;
/// let opts = SolveOptions::default().tolerances(1e-8, 1e-10).saveat_step(0.1).maxiters(10_000);
/// assert_eq!(opts.rtol, Tolerance::Scalar(1e-8));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SolveOptions {
    /// Relative tolerance (default 1e-3, as in DifferentialEquations.jl).
    pub rtol: Tolerance,
    /// Absolute tolerance (default 1e-6).
    pub atol: Tolerance,
    /// Adaptive or fixed steps.
    pub stepping: Stepping,
    /// Smallest step size allowed before giving up with `DtLessThanMin`
    /// (default 0: only the floating-point limit applies).
    pub dtmin: f64,
    /// Largest step size (default: the whole span).
    pub dtmax: Option<f64>,
    /// Most step attempts (accepted and rejected) before `MaxIters`.
    pub maxiters: usize,
    /// Which states to keep.
    pub saveat: SaveAt,
    /// Keep dense output so [`Solution::u_at`](crate::Solution::u_at) works
    /// anywhere. `None`: on exactly when `saveat` is `EveryStep`.
    pub dense: Option<bool>,
    /// Times the integrator must step onto exactly (discontinuities, forcing changes).
    pub tstops: Vec<f64>,
    /// Step-size controller constants.
    pub controller: ControllerOptions,
    /// How implicit methods compute Jacobians.
    pub jacobian: JacobianMethod,
    /// Where the state must stay (steps leaving it are rejected).
    pub domain: Domain,
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            rtol: Tolerance::Scalar(1e-3),
            atol: Tolerance::Scalar(1e-6),
            stepping: Stepping::Adaptive { dt0: None },
            dtmin: 0.0,
            dtmax: None,
            maxiters: 100_000,
            saveat: SaveAt::EveryStep,
            dense: None,
            tstops: Vec::new(),
            controller: ControllerOptions::default(),
            jacobian: JacobianMethod::Auto,
            domain: Domain::Any,
        }
    }
}

impl SolveOptions {
    /// Keeps every component non-negative: steps that would take one below
    /// zero are rejected and retried smaller.
    pub fn nonnegative(mut self) -> Self {
        self.domain = Domain::NonNegative;
        self
    }

    /// Where the state must stay.
    pub fn domain(mut self, domain: Domain) -> Self {
        self.domain = domain;
        self
    }

    /// Sets the relative tolerance.
    pub fn rtol(mut self, rtol: impl Into<Tolerance>) -> Self {
        self.rtol = rtol.into();
        self
    }
    /// Sets the absolute tolerance.
    pub fn atol(mut self, atol: impl Into<Tolerance>) -> Self {
        self.atol = atol.into();
        self
    }
    /// Sets both tolerances.
    pub fn tolerances(self, rtol: impl Into<Tolerance>, atol: impl Into<Tolerance>) -> Self {
        self.rtol(rtol).atol(atol)
    }
    /// Adaptive steps starting from `dt0`.
    pub fn dt0(mut self, dt0: f64) -> Self {
        self.stepping = Stepping::Adaptive { dt0: Some(dt0) };
        self
    }
    /// Fixed steps of size `dt` (no error control).
    pub fn fixed_dt(mut self, dt: f64) -> Self {
        self.stepping = Stepping::Fixed(dt);
        self
    }
    /// Sets the smallest allowed step size.
    pub fn dtmin(mut self, dtmin: f64) -> Self {
        self.dtmin = dtmin;
        self
    }
    /// Sets the largest allowed step size.
    pub fn dtmax(mut self, dtmax: f64) -> Self {
        self.dtmax = Some(dtmax);
        self
    }
    /// Sets the most step attempts.
    pub fn maxiters(mut self, maxiters: usize) -> Self {
        self.maxiters = maxiters;
        self
    }
    /// Saves every `dt` from `t0` through `t1`.
    pub fn saveat_step(mut self, dt: f64) -> Self {
        self.saveat = SaveAt::Every(dt);
        self
    }
    /// Saves exactly at `times`.
    pub fn saveat(mut self, times: impl Into<Vec<f64>>) -> Self {
        self.saveat = SaveAt::Times(times.into());
        self
    }
    /// Saves the start and every accepted step.
    pub fn save_everystep(mut self) -> Self {
        self.saveat = SaveAt::EveryStep;
        self
    }
    /// Keeps (or drops) dense output.
    pub fn dense(mut self, dense: bool) -> Self {
        self.dense = Some(dense);
        self
    }
    /// Times to step onto exactly.
    pub fn tstops(mut self, tstops: impl Into<Vec<f64>>) -> Self {
        self.tstops = tstops.into();
        self
    }
    /// How implicit methods compute Jacobians.
    pub fn jacobian(mut self, method: JacobianMethod) -> Self {
        self.jacobian = method;
        self
    }
    /// Sets the controller constants.
    pub fn controller(mut self, controller: ControllerOptions) -> Self {
        self.controller = controller;
        self
    }

    /// Whether dense output is kept.
    pub fn keeps_dense(&self) -> bool {
        self.dense
            .unwrap_or(matches!(self.saveat, SaveAt::EveryStep))
    }

    /// Checks the options for a problem with `n` states on `[t0, t1]`.
    pub fn validate(&self, n: usize, t0: f64, t1: f64) -> Result<(), Error> {
        self.rtol.validate("rtol", n)?;
        self.atol.validate("atol", n)?;
        let all_zero = (0..n).all(|i| self.rtol.at(i) == 0.0 && self.atol.at(i) == 0.0);
        if all_zero && matches!(self.stepping, Stepping::Adaptive { .. }) {
            return Err(Error::BadTolerance("rtol and atol are both zero".into()));
        }
        let positive = |what: &str, x: f64| {
            if x.is_finite() && x > 0.0 {
                Ok(())
            } else {
                Err(Error::BadStepSize(format!(
                    "{what} = {x} must be positive and finite"
                )))
            }
        };
        match self.stepping {
            Stepping::Adaptive { dt0: Some(dt) } => positive("dt0", dt)?,
            Stepping::Fixed(dt) => positive("dt", dt)?,
            Stepping::Adaptive { dt0: None } => {}
        }
        if let Some(dtmax) = self.dtmax {
            positive("dtmax", dtmax)?;
        }
        if !(self.dtmin.is_finite() && self.dtmin >= 0.0) {
            return Err(Error::BadStepSize(format!(
                "dtmin = {} must be finite and non-negative",
                self.dtmin
            )));
        }
        if self.maxiters == 0 {
            return Err(Error::ZeroMaxIters);
        }
        let (lo, hi) = if t0 < t1 { (t0, t1) } else { (t1, t0) };
        let in_span = |what: &'static str, ts: &[f64]| {
            for (i, &t) in ts.iter().enumerate() {
                if !t.is_finite() {
                    return Err(Error::NonFinite {
                        what,
                        index: i,
                        value: t,
                    });
                }
                if t < lo || t > hi {
                    return Err(Error::OutsideSpan { what, t, lo, hi });
                }
            }
            Ok(())
        };
        match &self.saveat {
            SaveAt::Every(dt) => positive("saveat spacing", *dt)?,
            SaveAt::Times(ts) => in_span("saveat", ts)?,
            SaveAt::EveryStep => {}
        }
        in_span("tstops", &self.tstops)?;
        let c = &self.controller;
        let controller_ok = c.gamma > 0.0
            && c.gamma <= 1.0
            && c.qmin > 0.0
            && c.qmin <= 1.0
            && c.qmax >= 1.0
            && c.qmax.is_finite()
            && c.beta1.is_none_or(|b| b.is_finite() && b > 0.0)
            && c.beta2.is_none_or(|b| b.is_finite() && b >= 0.0);
        if !controller_ok {
            return Err(Error::BadStepSize(format!(
                "controller constants out of range: {c:?}"
            )));
        }
        if let Domain::NonNegativeAt(idx) = &self.domain
            && let Some(&i) = idx.iter().find(|&&i| i >= n)
        {
            return Err(Error::WrongLength {
                what: "domain component index (must be below the number of states)",
                got: i,
                expected: n,
            });
        }
        Ok(())
    }
}
