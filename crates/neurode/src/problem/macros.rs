//! `ode_system!`: a right-hand side as brief as a closure, with named states
//! and parameters (in the spirit of Julia's `@ode_def`).

/// Defines a unit struct implementing [`OdeFunction`](crate::OdeFunction)
/// from equations over named time, states and parameters.
///
/// The signature reads `fn rhs<T>(time; states...; params...) -> (derivatives...)`.
/// Inside the body every name is a `T: Scalar`; constants are written
/// `T::cst(2.0)`. Each derivative must be assigned exactly once (the compiler
/// checks it). The struct also reports its state and parameter counts, so
/// problems built from it are length-checked, and its state names, used in
/// tables and plot legends.
///
/// ```
/// use neurode::prelude::*;
///
/// ode_system! {
///     /// The Lotka–Volterra predator–prey model.
///     pub struct LotkaVolterra;
///     fn rhs<T>(t; x, y; a, b, c, d) -> (dx, dy) {
///         dx = a * x - b * x * y;
///         dy = -c * y + d * x * y;
///     }
/// }
///
/// let prob = OdeProblem::new(LotkaVolterra, vec![1.0, 1.0], (0.0, 10.0), vec![1.5, 1.0, 3.0, 1.0]).unwrap();
/// assert_eq!(LotkaVolterra.state_names(), &["x", "y"]);
/// let sol = prob.solve(Tsit5, &SolveOptions::default()).unwrap();
/// assert!(sol.retcode.is_success());
/// // A wrong number of parameters is a typed error, not a panic:
/// assert!(OdeProblem::new(LotkaVolterra, vec![1.0, 1.0], (0.0, 1.0), vec![1.0]).is_err());
/// ```
#[macro_export]
macro_rules! ode_system {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident;
        fn rhs<$T:ident>($t:ident; $($s:ident),+ $(,)?; $($p:ident),* $(,)?) -> ($($ds:ident),+ $(,)?)
        $body:block
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        $vis struct $name;

        impl $crate::OdeFunction for $name {
            #[inline(always)]
            #[allow(unused_variables, clippy::let_and_return)]
            fn rhs<$T: $crate::Scalar>(&self, du: &mut [$T], u: &[$T], p: &[$T], $t: $T) {
                $crate::ode_system!(@bind u, 0usize; $($s),+);
                $crate::ode_system!(@bind p, 0usize; $($p),*);
                $(let $ds: $T;)+
                $body
                $crate::ode_system!(@store du, 0usize; $($ds),+);
            }
            fn num_states(&self) -> Option<usize> {
                Some([$(stringify!($s)),+].len())
            }
            fn num_params(&self) -> Option<usize> {
                let names: &[&str] = &[$(stringify!($p)),*];
                Some(names.len())
            }
            fn state_names(&self) -> &[&str] {
                &[$(stringify!($s)),+]
            }
        }
    };
    (@bind $arr:ident, $idx:expr;) => {};
    (@bind $arr:ident, $idx:expr; $first:ident $(, $rest:ident)*) => {
        let $first = $arr[$idx];
        $crate::ode_system!(@bind $arr, $idx + 1; $($rest),*);
    };
    (@store $arr:ident, $idx:expr;) => {};
    (@store $arr:ident, $idx:expr; $first:ident $(, $rest:ident)*) => {
        $arr[$idx] = $first;
        $crate::ode_system!(@store $arr, $idx + 1; $($rest),*);
    };
}
