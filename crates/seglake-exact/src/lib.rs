//! Exact, order-independent sums of doubles, rounded once.
//!
//! A floating-point sum depends on the order of its terms: `(a + b) + c`
//! and `a + (b + c)` differ in the last bits, so a query engine that splits
//! rows into a different number of partitions, or receives them in a
//! different order, publishes different numbers. seglake promises that a
//! run reproduces bit for bit on any machine, so its `SUM`, `AVG`,
//! `VAR_*` and `STDDEV_*` over doubles are built on this crate instead:
//!
//! - [`ExactSum`] holds a sum of doubles (or of their squares) exactly, as
//!   a fixed-point integer (192 bits inline, growing to any width only for
//!   values outside that window); partial sums merge exactly; the total is
//!   rounded to the nearest double once, at the end (so it is also the
//!   correctly rounded sum, the value of Python's `math.fsum`);
//! - [`Moments`] keeps count, `Σx` and `Σx²` exactly and derives the
//!   variance and standard deviation from them exactly, rounding once;
//!   [`mean`] does the same for the average.
//!
//! NaN and infinities follow IEEE arithmetic: any NaN, or both infinities,
//! give NaN; one infinity gives itself (the variance of a set with an
//! infinity is NaN). A finite total beyond the double range rounds to an
//! infinity. An exact zero is `+0.0`.
//!
//! The crate knows nothing of query engines: seglake-features wraps these
//! types in DataFusion aggregate functions.

mod limbs;
mod moments;
mod round;
mod spread;
mod sum;

pub use limbs::NonFinite;
pub use moments::{Moments, Spread, mean};
pub use sum::ExactSum;
