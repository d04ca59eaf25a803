//! Jacobian sparsity: patterns, automatic detection by tracing, and column
//! colouring so a sparse Jacobian costs one dual evaluation per colour.

use std::cell::RefCell;
use std::fmt;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::problem::OdeFunction;
use crate::scalar::Scalar;

/// Which entries of an `n × n` Jacobian may be nonzero, column by column
/// (compressed sparse column structure, rows sorted within each column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparsityPattern {
    n: usize,
    col_ptr: Vec<usize>,
    row_idx: Vec<usize>,
}

impl SparsityPattern {
    /// A pattern from `(row, column)` pairs (duplicates allowed; rows and
    /// columns must be below `n`).
    pub fn from_entries(n: usize, entries: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut cols: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, j) in entries {
            assert!(i < n && j < n, "entry ({i}, {j}) outside a {n}×{n} pattern");
            cols[j].push(i);
        }
        let mut col_ptr = Vec::with_capacity(n + 1);
        let mut row_idx = Vec::new();
        col_ptr.push(0);
        for mut c in cols {
            c.sort_unstable();
            c.dedup();
            row_idx.extend(c);
            col_ptr.push(row_idx.len());
        }
        Self {
            n,
            col_ptr,
            row_idx,
        }
    }

    /// The dense pattern (every entry).
    pub fn dense(n: usize) -> Self {
        Self::from_entries(n, (0..n).flat_map(|j| (0..n).map(move |i| (i, j))))
    }

    /// Finds the pattern of `∂f/∂u` by evaluating `f` once on tracing numbers
    /// that record which inputs each value depends on. Branches follow the
    /// values at `(u, p, t)`, so a branch not taken there is not seen; the
    /// diagonal is always included (implicit methods need it).
    pub fn detect<F: OdeFunction>(f: &F, u: &[f64], p: &[f64], t: f64) -> Self {
        TRACE.with(|sets| {
            let mut sets = sets.borrow_mut();
            sets.clear();
            sets.extend((0..u.len()).map(|i| vec![i as u32]));
        });
        let u_tr: Vec<Tracer> = u
            .iter()
            .enumerate()
            .map(|(i, &v)| Tracer {
                val: v,
                deps: i as u32,
            })
            .collect();
        let p_tr: Vec<Tracer> = p.iter().map(|&v| Tracer::cst(v)).collect();
        let mut du = vec![Tracer::cst(0.0); u.len()];
        f.rhs(&mut du, &u_tr, &p_tr, Tracer::cst(t));
        let entries: Vec<(usize, usize)> = TRACE.with(|sets| {
            let sets = sets.borrow();
            du.iter()
                .enumerate()
                .flat_map(|(i, d)| {
                    let deps: &[u32] = if d.deps == NO_DEPS {
                        &[]
                    } else {
                        &sets[d.deps as usize]
                    };
                    deps.iter()
                        .map(move |&j| (i, j as usize))
                        .collect::<Vec<_>>()
                })
                .collect()
        });
        TRACE.with(|sets| sets.borrow_mut().clear());
        Self::from_entries(
            u.len(),
            entries.into_iter().chain((0..u.len()).map(|i| (i, i))),
        )
    }

    /// The size `n`.
    pub fn size(&self) -> usize {
        self.n
    }
    /// The number of structurally nonzero entries.
    pub fn nnz(&self) -> usize {
        self.row_idx.len()
    }
    /// Rows of the entries of column `j`.
    pub fn rows(&self, j: usize) -> &[usize] {
        &self.row_idx[self.col_ptr[j]..self.col_ptr[j + 1]]
    }
    /// Column starts into [`row_indices`](Self::row_indices) (length `n + 1`).
    pub fn col_ptr(&self) -> &[usize] {
        &self.col_ptr
    }
    /// Row of every entry, column by column.
    pub fn row_indices(&self) -> &[usize] {
        &self.row_idx
    }
    /// Position of entry `(i, j)` in the value array, if it is in the pattern.
    pub fn position(&self, i: usize, j: usize) -> Option<usize> {
        let rows = self.rows(j);
        rows.binary_search(&i).ok().map(|k| self.col_ptr[j] + k)
    }
    /// Whether `(i, j)` is in the pattern.
    pub fn contains(&self, i: usize, j: usize) -> bool {
        self.position(i, j).is_some()
    }
    /// The union with another pattern of the same size.
    pub fn union(&self, other: &SparsityPattern) -> SparsityPattern {
        assert_eq!(self.n, other.n);
        let entries = (0..self.n).flat_map(|j| {
            self.rows(j)
                .iter()
                .chain(other.rows(j))
                .map(move |&i| (i, j))
                .collect::<Vec<_>>()
        });
        Self::from_entries(self.n, entries)
    }

    /// Colours the columns so that no two columns of one colour share a row
    /// (greedy, largest columns first). Perturbing every column of a colour
    /// at once then recovers each of them from a single evaluation.
    pub fn color_columns(&self) -> ColumnColoring {
        let n = self.n;
        // Columns having an entry in each row.
        let mut row_cols: Vec<Vec<usize>> = vec![Vec::new(); n];
        for j in 0..n {
            for &i in self.rows(j) {
                row_cols[i].push(j);
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&j| std::cmp::Reverse(self.rows(j).len()));
        let mut color = vec![usize::MAX; n];
        let mut forbidden_by = vec![usize::MAX; n + 1];
        let mut count = 0;
        for &j in &order {
            for &i in self.rows(j) {
                for &other in &row_cols[i] {
                    if color[other] != usize::MAX {
                        forbidden_by[color[other]] = j;
                    }
                }
            }
            let c = (0..).find(|&c| forbidden_by[c] != j).unwrap_or(0);
            color[j] = c;
            count = count.max(c + 1);
        }
        ColumnColoring { color, count }
    }
}

/// A colouring of Jacobian columns (see [`SparsityPattern::color_columns`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnColoring {
    /// Colour of each column.
    pub color: Vec<usize>,
    /// Number of colours.
    pub count: usize,
}

// ---------------------------------------------------------------------------
// Tracing numbers.

/// Marks a value that depends on no input.
const NO_DEPS: u32 = u32::MAX;

thread_local! {
    /// Dependency sets of the values of the trace in progress (sorted input
    /// indices); a [`Tracer`] holds an index into it.
    static TRACE: RefCell<Vec<Vec<u32>>> = const { RefCell::new(Vec::new()) };
}

/// A number that records which inputs it depends on, for
/// [`SparsityPattern::detect`]. It also carries its ordinary value, so the
/// traced function takes the same branches it would at that point.
#[derive(Clone, Copy, Debug)]
pub struct Tracer {
    val: f64,
    deps: u32,
}

impl Tracer {
    fn union(a: Tracer, b: Tracer, val: f64) -> Tracer {
        let deps = if a.deps == NO_DEPS || a.deps == b.deps {
            b.deps
        } else if b.deps == NO_DEPS {
            a.deps
        } else {
            TRACE.with(|sets| {
                let mut sets = sets.borrow_mut();
                let (x, y) = (&sets[a.deps as usize], &sets[b.deps as usize]);
                let mut merged = Vec::with_capacity(x.len() + y.len());
                let (mut i, mut j) = (0, 0);
                while i < x.len() || j < y.len() {
                    let next = match (x.get(i), y.get(j)) {
                        (Some(&p), Some(&q)) if p == q => {
                            i += 1;
                            j += 1;
                            p
                        }
                        (Some(&p), Some(&q)) if p < q => {
                            i += 1;
                            p
                        }
                        (Some(_), Some(&q)) => {
                            j += 1;
                            q
                        }
                        (Some(&p), None) => {
                            i += 1;
                            p
                        }
                        (None, Some(&q)) => {
                            j += 1;
                            q
                        }
                        (None, None) => unreachable!(),
                    };
                    merged.push(next);
                }
                sets.push(merged);
                (sets.len() - 1) as u32
            })
        };
        Tracer { val, deps }
    }

    fn map(self, val: f64) -> Tracer {
        Tracer {
            val,
            deps: self.deps,
        }
    }
}

impl fmt::Display for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.val)
    }
}

impl PartialEq for Tracer {
    fn eq(&self, other: &Self) -> bool {
        self.val == other.val
    }
}

impl PartialOrd for Tracer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.val.partial_cmp(&other.val)
    }
}

macro_rules! tracer_binop {
    ($trait:ident, $method:ident, $assign:ident, $assign_method:ident, $op:tt) => {
        impl $trait for Tracer {
            type Output = Tracer;
            fn $method(self, rhs: Tracer) -> Tracer {
                Tracer::union(self, rhs, self.val $op rhs.val)
            }
        }
        impl $assign for Tracer {
            fn $assign_method(&mut self, rhs: Tracer) {
                *self = *self $op rhs;
            }
        }
    };
}
tracer_binop!(Add, add, AddAssign, add_assign, +);
tracer_binop!(Sub, sub, SubAssign, sub_assign, -);
tracer_binop!(Mul, mul, MulAssign, mul_assign, *);
tracer_binop!(Div, div, DivAssign, div_assign, /);

impl Neg for Tracer {
    type Output = Tracer;
    fn neg(self) -> Tracer {
        self.map(-self.val)
    }
}

macro_rules! tracer_unary {
    ($($name:ident),*) => {$(
        fn $name(self) -> Self {
            self.map(self.val.$name())
        }
    )*};
}

impl Scalar for Tracer {
    // A tracer carries dependency sets, so generic code must keep it whole.
    const PLAIN: bool = false;
    // Tracing needs no derivatives: a tracer's "dual" is a tracer.
    type Dual = Tracer;
    fn dual(re: Self, _eps: Self) -> Tracer {
        re
    }
    fn dual_parts(d: Tracer) -> (Self, Self) {
        (d, Tracer::cst(0.0))
    }
    fn cst(x: f64) -> Self {
        Tracer {
            val: x,
            deps: NO_DEPS,
        }
    }
    fn real(self) -> f64 {
        self.val
    }
    fn scaled(self, c: f64) -> Self {
        self.map(self.val * c)
    }
    fn is_finite(self) -> bool {
        self.val.is_finite()
    }
    tracer_unary!(
        abs, sqrt, cbrt, exp, exp_m1, ln, ln_1p, log10, sin, cos, tan, asin, acos, atan, sinh,
        cosh, tanh, recip
    );
    fn powi(self, n: i32) -> Self {
        self.map(self.val.powi(n))
    }
    fn powf(self, n: f64) -> Self {
        self.map(self.val.powf(n))
    }
    fn pow(self, n: Self) -> Self {
        Tracer::union(self, n, self.val.powf(n.val))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1-D diffusion chain with a reaction on the first state.
    struct Chain;
    impl OdeFunction for Chain {
        fn rhs<T: Scalar>(&self, du: &mut [T], u: &[T], p: &[T], _t: T) {
            let n = u.len();
            for i in 0..n {
                let left = if i > 0 { u[i - 1] } else { T::zero() };
                let right = if i + 1 < n { u[i + 1] } else { T::zero() };
                du[i] = p[0] * (left - u[i] - u[i] + right);
            }
            du[0] += u[0] * u[n - 1];
        }
    }

    #[test]
    fn detects_a_tridiagonal_pattern_plus_a_corner() {
        let n = 6;
        let pat = SparsityPattern::detect(&Chain, &vec![1.0; n], &[1.0], 0.0);
        for i in 0..n {
            for j in 0..n {
                let expected = i.abs_diff(j) <= 1 || (i == 0 && j == n - 1);
                assert_eq!(pat.contains(i, j), expected, "({i}, {j})");
            }
        }
    }

    #[test]
    fn coloring_separates_columns_that_share_a_row() {
        let n = 50;
        let pat = SparsityPattern::from_entries(
            n,
            (0..n).flat_map(|i| [(i, i), (i, (i + 1) % n), ((i + 1) % n, i)]),
        );
        let coloring = pat.color_columns();
        assert!(
            coloring.count <= 5,
            "{} colours for a periodic tridiagonal",
            coloring.count
        );
        for r in 0..n {
            let mut seen = std::collections::HashSet::new();
            for j in 0..n {
                if pat.contains(r, j) {
                    assert!(
                        seen.insert(coloring.color[j]),
                        "row {r} has two columns of one colour"
                    );
                }
            }
        }
    }

    #[test]
    fn constants_carry_no_dependencies() {
        struct Constant;
        impl OdeFunction for Constant {
            fn rhs<T: Scalar>(&self, du: &mut [T], _u: &[T], p: &[T], t: T) {
                du[0] = p[0] * t;
                du[1] = T::cst(2.0);
            }
        }
        let pat = SparsityPattern::detect(&Constant, &[1.0, 2.0], &[3.0], 0.5);
        assert_eq!(pat.nnz(), 2, "only the diagonal");
    }
}
