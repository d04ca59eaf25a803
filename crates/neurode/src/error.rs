//! Typed errors for bad input. A solve that starts but cannot finish is not an
//! error: it returns its partial [`Solution`](crate::Solution) with a
//! [`ReturnCode`](crate::ReturnCode) that says why.

use thiserror::Error;

/// Why a problem, its options or a query on a solution were rejected.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A gradient method was asked to differentiate through callbacks it
    /// cannot handle.
    #[error(
        "{method} cannot differentiate through events or callbacks; use ForwardMode or Discrete"
    )]
    CallbacksUnsupported {
        /// The gradient method.
        method: &'static str,
    },
    /// A vector has the wrong number of entries.
    #[error("{what} has length {got}, expected {expected}")]
    WrongLength {
        /// Which input.
        what: &'static str,
        /// Length given.
        got: usize,
        /// Length required.
        expected: usize,
    },
    /// A value is NaN or infinite.
    #[error("{what}[{index}] is not finite ({value})")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Position of the offending entry (0 for scalars).
        index: usize,
        /// The value.
        value: f64,
    },
    /// The initial state has no components.
    #[error("u0 is empty: a problem needs at least one state")]
    EmptyState,
    /// The time span has zero length.
    #[error("the time span is empty: t0 = t1 = {0}")]
    EmptySpan(f64),
    /// A tolerance is negative or not finite, or both tolerances are zero.
    #[error("bad tolerance: {0}")]
    BadTolerance(String),
    /// A step size (`dt`, `dtmin`, `dtmax`, `saveat` spacing) is not positive and finite.
    #[error("bad step size: {0}")]
    BadStepSize(String),
    /// A requested time lies outside the solved span.
    #[error("{what} t = {t} lies outside the span [{lo}, {hi}]")]
    OutsideSpan {
        /// Which input.
        what: &'static str,
        /// The time.
        t: f64,
        /// Lower end of the span.
        lo: f64,
        /// Upper end of the span.
        hi: f64,
    },
    /// The method has no error estimate, so it cannot choose its own steps.
    #[error("{method} is a fixed-step method: set a step with SolveOptions::fixed_dt")]
    NeedsFixedStep {
        /// The method's name.
        method: &'static str,
    },
    /// The solution was computed without dense output.
    #[error("this solution has no dense output: solve with SolveOptions::dense(true)")]
    NoDenseOutput,
    /// The problem has a mass matrix and the method cannot use one.
    #[error("{method} cannot solve M u' = f with a mass matrix: use a Rosenbrock or BDF method")]
    MassMatrixUnsupported {
        /// The method's name.
        method: &'static str,
    },
    /// No algebraic variables satisfy the algebraic equations near `u0`.
    #[error("could not make the algebraic variables consistent with u0: {0}")]
    InconsistentInitialCondition(String),
    /// `maxiters` is zero.
    #[error("maxiters must be at least 1")]
    ZeroMaxIters,
    /// A solve needed for a gradient stopped early, so the loss of the
    /// requested span is not defined.
    #[error("the {stage} solve with {method} stopped at t = {t} ({retcode:?}): no gradient")]
    SolveFailed {
        /// Which solve: "forward" or "adjoint".
        stage: &'static str,
        /// The method's name.
        method: &'static str,
        /// Why it stopped.
        retcode: crate::ReturnCode,
        /// Where it stopped.
        t: f64,
    },
    /// Reading or writing a file failed.
    #[error("i/o: {0}")]
    Io(String),
    /// The requested combination is not available (for example, the
    /// discrete adjoint of a method without a tableau).
    #[error("not supported: {0}")]
    Unsupported(String),
}

/// Checks that every entry of `v` is finite.
pub(crate) fn check_finite<T: crate::Scalar>(what: &'static str, v: &[T]) -> Result<(), Error> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            what,
            index,
            value: v[index].real(),
        }),
        None => Ok(()),
    }
}

/// Checks that `v` has `expected` entries.
pub(crate) fn check_len<T>(what: &'static str, v: &[T], expected: usize) -> Result<(), Error> {
    if v.len() == expected {
        Ok(())
    } else {
        Err(Error::WrongLength {
            what,
            got: v.len(),
            expected,
        })
    }
}

/// The checks every initial-value problem makes: a state of the function's
/// size (when it knows it), parameters of its count, everything finite and a
/// non-empty span.
pub(crate) fn check_initial_value<T: crate::Scalar>(
    u0: &[T],
    p: &[T],
    tspan: (T, T),
    (states, params): (Option<usize>, Option<usize>),
) -> Result<(), Error> {
    if u0.is_empty() {
        return Err(Error::EmptyState);
    }
    if let Some(n) = states {
        check_len("u0", u0, n)?;
    }
    if let Some(np) = params {
        check_len("p", p, np)?;
    }
    check_finite("u0", u0)?;
    check_finite("p", p)?;
    check_finite("tspan", &[tspan.0, tspan.1])?;
    if tspan.0.real() == tspan.1.real() {
        return Err(Error::EmptySpan(tspan.0.real()));
    }
    Ok(())
}
