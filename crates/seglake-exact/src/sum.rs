//! [`ExactSum`]: a fixed-point accumulator that holds any sum of doubles
//! (or of their exact squares) without rounding.
//!
//! Every finite double is an integer times a power of two (`m × 2^e`,
//! `m < 2^53`), so a sum of doubles is an integer on a fine enough scale.
//! Most values a feature view sums (money amounts, counts, ratios) and
//! their squares lie on one scale: multiples of `2^-128` below `2^63`.
//! An `ExactSum` keeps their total in a fixed 192-bit two's-complement
//! integer of that scale ([`Window`]): a value is added with one carry
//! chain over three words, and the state is 32 bytes with no allocation,
//! so a grouped aggregation's states stay small and in cache. A value
//! outside the window (too small, too large, or one whose addition would
//! overflow it), and NaN and the infinities, go to a [`LimbSum`] that grows
//! to any range, allocated only when needed.
//!
//! The total is the window plus the spill, an exact integer either way:
//! integer addition is associative, so the total, and the double it is
//! rounded to at the end, do not depend on the order of the values, on
//! which of them spilled, or on how they were split between partial sums
//! that are then merged.

use num_bigint::BigInt;
use smallvec::SmallVec;

use crate::limbs::{LimbSum, NonFinite, decompose};
use crate::round::{round_big, round_small};

/// The window's weight of its lowest bit: `2^-128`. A multiple of the
/// spill's 32-bit limbs, so the window converts to limbs digit for digit.
const WINDOW_LOWEST_EXPONENT: i32 = -128;
const WINDOW_WORDS: usize = 3;
/// An addend is placed only if it is below `2^190`: with the window's
/// value in `-2^191..2^191`, one addition can overflow it only by
/// crossing the sign, which is then detected.
const ADDEND_BITS: u32 = 190;
/// A window as bytes: see [`ExactSum::to_bytes`].
const WINDOW_BYTES: usize = 8 * WINDOW_WORDS;

/// A 192-bit two's-complement integer, least significant word first, in
/// units of `2^WINDOW_LOWEST_EXPONENT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Window([u64; WINDOW_WORDS]);

impl Window {
    #[inline]
    fn is_negative(&self) -> bool {
        (self.0[2] as i64) < 0
    }

    /// `significand × 2^exponent` as window words, or `None` if it is not
    /// a multiple of the window's unit or not below `2^ADDEND_BITS` units.
    #[inline]
    fn place(significand: u128, exponent: i32) -> Option<[u64; WINDOW_WORDS]> {
        let position = exponent - WINDOW_LOWEST_EXPONENT;
        let bits = 128 - significand.leading_zeros();
        if position < 0 || position as u32 + bits > ADDEND_BITS {
            return None;
        }
        let word = (position / 64) as usize;
        let shift = (position % 64) as u32;
        let (low, high) = (significand as u64, (significand >> 64) as u64);
        // `x >> (64 - shift)` without a shift by 64 when `shift` is 0.
        let spill_over = |x: u64| (x >> 1) >> (63 - shift);
        let spread = [
            low << shift,
            (high << shift) | spill_over(low),
            spill_over(high),
        ];
        let mut words = [0; WINDOW_WORDS];
        for (i, part) in spread.into_iter().enumerate() {
            if let Some(slot) = words.get_mut(word + i) {
                *slot = part;
            }
        }
        Some(words)
    }

    /// Adds (or subtracts, if `negative`) a placed magnitude; `false`, with
    /// the window unchanged, if the result would overflow it.
    #[inline]
    fn try_add(&mut self, negative: bool, magnitude: [u64; WINDOW_WORDS]) -> bool {
        let low = |w: &[u64; WINDOW_WORDS]| u128::from(w[0]) | (u128::from(w[1]) << 64);
        let (ours, theirs) = (low(&self.0), low(&magnitude));
        let (low_sum, top) = if negative {
            let (difference, borrow) = ours.overflowing_sub(theirs);
            let top = self.0[2]
                .wrapping_sub(magnitude[2])
                .wrapping_sub(u64::from(borrow));
            (difference, top)
        } else {
            let (sum, carry) = ours.overflowing_add(theirs);
            let top = self.0[2]
                .wrapping_add(magnitude[2])
                .wrapping_add(u64::from(carry));
            (sum, top)
        };
        // A magnitude below 2^190 overflows a window in -2^191..2^191 only
        // when both go the same way, and then the result crosses the sign.
        let was_negative = self.is_negative();
        let is_negative = (top as i64) < 0;
        if was_negative == negative && is_negative != was_negative {
            return false;
        }
        self.0 = [low_sum as u64, (low_sum >> 64) as u64, top];
        true
    }

    /// Adds another window; `false`, with this one unchanged, on overflow.
    fn try_merge(&mut self, other: &Window) -> bool {
        let mut sum = self.0;
        let mut carry = false;
        for (word, theirs) in sum.iter_mut().zip(other.0) {
            let (value, c1) = word.overflowing_add(theirs);
            let (value, c2) = value.overflowing_add(u64::from(carry));
            *word = value;
            carry = c1 || c2;
        }
        let sum = Window(sum);
        let same_sign = self.is_negative() == other.is_negative();
        if same_sign && sum.is_negative() != self.is_negative() {
            return false;
        }
        *self = sum;
        true
    }

    /// The window as the spill's 32-bit limbs: the limb position of the
    /// lowest one, and six digits (the top one signed).
    fn limbs(&self) -> (i32, [i64; 2 * WINDOW_WORDS]) {
        let mut digits = [0; 2 * WINDOW_WORDS];
        for (i, digit) in digits.iter_mut().enumerate() {
            *digit = ((self.0[i / 2] >> (32 * (i % 2))) & 0xffff_ffff) as i64;
        }
        digits[2 * WINDOW_WORDS - 1] = (self.0[WINDOW_WORDS - 1] as i64) >> 32;
        (WINDOW_LOWEST_EXPONENT / 32, digits)
    }

    fn to_big(self) -> BigInt {
        let bytes: Vec<u8> = self.0.iter().flat_map(|w| w.to_le_bytes()).collect();
        BigInt::from_signed_bytes_le(&bytes)
    }
}

/// An exact sum of doubles. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct ExactSum {
    window: Window,
    /// What the window could not hold. Boxed: most sums never spill.
    spill: Option<Box<LimbSum>>,
}

impl ExactSum {
    /// Adds `x`. NaN and infinities are counted apart.
    #[inline]
    pub fn add(&mut self, x: f64) {
        self.add_value(x, false);
    }

    /// Takes `x` back out (for sliding windows): the exact inverse of
    /// [`ExactSum::add`].
    pub fn remove(&mut self, x: f64) {
        self.add_value(x, true);
    }

    /// Adds `x²`, exactly (a 106-bit product; no overflow or underflow).
    #[inline]
    pub fn add_square(&mut self, x: f64) {
        self.add_square_of(x, false);
    }

    /// Takes `x²` back out.
    pub fn remove_square(&mut self, x: f64) {
        self.add_square_of(x, true);
    }

    #[inline]
    fn add_value(&mut self, x: f64, take_out: bool) {
        match decompose(x) {
            Some((negative, significand, exponent)) => {
                self.add_finite(negative != take_out, significand, exponent)
            }
            None => self.count_non_finite(x, take_out),
        }
    }

    #[inline]
    fn add_square_of(&mut self, x: f64, take_out: bool) {
        match decompose(x) {
            Some((_, significand, exponent)) => {
                self.add_finite_square(take_out, significand, exponent)
            }
            None => self.count_non_finite(x.abs(), take_out),
        }
    }

    /// Adds `±significand × 2^exponent` (a decomposed finite double).
    #[inline]
    pub(crate) fn add_finite(&mut self, negative: bool, significand: u64, exponent: i32) {
        if significand == 0 {
            return;
        }
        let placed = Window::place(u128::from(significand), exponent);
        if !placed.is_some_and(|words| self.window.try_add(negative, words)) {
            self.spill_finite(negative, significand, exponent);
        }
    }

    /// Adds (or takes out) the square of `significand × 2^exponent`.
    #[inline]
    pub(crate) fn add_finite_square(&mut self, take_out: bool, significand: u64, exponent: i32) {
        if significand == 0 {
            return;
        }
        let square = u128::from(significand) * u128::from(significand);
        let placed = Window::place(square, 2 * exponent);
        if !placed.is_some_and(|words| self.window.try_add(take_out, words)) {
            self.spill_square(take_out, square, 2 * exponent);
        }
    }

    // The spill paths, rare, kept out of the inlined hot path.

    #[cold]
    #[inline(never)]
    fn spill_finite(&mut self, negative: bool, significand: u64, exponent: i32) {
        self.spill().add_double(negative, significand, exponent);
    }

    #[cold]
    #[inline(never)]
    fn spill_square(&mut self, take_out: bool, square: u128, exponent: i32) {
        self.spill().add_scaled(take_out, square, exponent);
    }

    #[cold]
    #[inline(never)]
    fn count_non_finite(&mut self, x: f64, take_out: bool) {
        self.spill()
            .count_non_finite(x, if take_out { -1 } else { 1 });
    }

    fn spill(&mut self) -> &mut LimbSum {
        self.spill.get_or_insert_with(Box::default)
    }

    /// Adds another sum into this one, exactly.
    pub fn merge(&mut self, other: &ExactSum) {
        if !self.window.try_merge(&other.window) {
            let (base, digits) = other.window.limbs();
            self.spill().add_digits(base, &digits);
        }
        if let Some(theirs) = &other.spill {
            self.spill().merge(theirs);
        }
    }

    /// The NaN and infinity counts, if any were added.
    pub fn non_finite(&self) -> Option<&NonFinite> {
        self.spill.as_ref().and_then(|s| s.non_finite())
    }

    /// The exact finite total as `value × 2^exponent`.
    pub fn to_big(&self) -> (BigInt, i64) {
        let window = (self.window.to_big(), i64::from(WINDOW_LOWEST_EXPONENT));
        let Some(spill) = &self.spill else {
            return window;
        };
        let spilled = spill.to_big();
        // On the finer of the two scales.
        let exponent = window.1.min(spilled.1);
        let value = (window.0 << (window.1 - exponent) as u64)
            + (spilled.0 << (spilled.1 - exponent) as u64);
        (value, exponent)
    }

    /// The total as the nearest double: NaN or an infinity if such values
    /// were added; overflow gives an infinity; an exact zero is `0.0`.
    pub fn value(&self) -> f64 {
        if let Some(special) = self.non_finite().and_then(|n| n.total()) {
            return special;
        }
        if let Some((negative, magnitude, exponent)) = self.as_small() {
            return round_small(negative, magnitude, exponent);
        }
        let (value, exponent) = self.to_big();
        round_big(&value, exponent)
    }

    /// Heap bytes held beyond `size_of::<ExactSum>()` (for memory
    /// accounting).
    pub fn heap_bytes(&self) -> usize {
        self.spill
            .as_ref()
            .map_or(0, |s| size_of::<LimbSum>() + s.heap_bytes())
    }

    /// The sum as bytes, for the partial states a query moves between
    /// partitions and processes: a sum that never spilled is its window's
    /// three words, little-endian (24 bytes, no allocation); any other is
    /// the non-finite counts, the position of the lowest limb and the
    /// 32-bit limbs of the whole total (28 bytes and more, see
    /// [`LimbSum::to_bytes`]).
    pub fn to_bytes(&self) -> SmallVec<[u8; WINDOW_BYTES]> {
        let Some(spill) = &self.spill else {
            return self.window.0.iter().flat_map(|w| w.to_le_bytes()).collect();
        };
        let mut total = spill.as_ref().clone();
        let (base, digits) = self.window.limbs();
        total.add_digits(base, &digits);
        SmallVec::from_vec(total.to_bytes())
    }

    /// Reads what [`ExactSum::to_bytes`] wrote; `None` if the bytes are not
    /// such a sum. A total the window can hold is read into it.
    pub fn from_bytes(bytes: &[u8]) -> Option<ExactSum> {
        if let Ok(window) = <[u8; WINDOW_BYTES]>::try_from(bytes) {
            let word =
                |i: usize| u64::from_le_bytes(window[8 * i..8 * i + 8].try_into().expect("8"));
            return Some(ExactSum {
                window: Window([word(0), word(1), word(2)]),
                spill: None,
            });
        }
        let total = LimbSum::from_bytes(bytes)?;
        Some(match Self::window_of(&total) {
            Some(window) => ExactSum {
                window,
                spill: None,
            },
            None => ExactSum {
                window: Window::default(),
                spill: Some(Box::new(total)),
            },
        })
    }

    /// The total as sign, 192-bit magnitude (least significant word first)
    /// and the exponent of its lowest bit, if nothing spilled.
    pub(crate) fn as_window(&self) -> Option<(bool, [u64; WINDOW_WORDS], i32)> {
        if self.spill.is_some() {
            return None;
        }
        let negative = self.window.is_negative();
        let magnitude = if negative {
            let mut zero = Window::default();
            zero.try_add(true, self.window.0).then_some(zero)?
        } else {
            self.window
        };
        Some((negative, magnitude.0, WINDOW_LOWEST_EXPONENT))
    }

    /// The total as sign, odd (or zero) magnitude and binary exponent, if
    /// nothing spilled and the magnitude fits 128 bits: what the rounding
    /// fast paths take. Money amounts' sums do (their bits span some 90
    /// positions of the window's 192).
    pub(crate) fn as_small(&self) -> Option<(bool, u128, i32)> {
        let (negative, [low, middle, high], _) = self.as_window()?;
        let wide = (u128::from(high), u128::from(middle) << 64 | u128::from(low));
        let zeros = if wide.1 == 0 {
            128 + wide.0.trailing_zeros().min(64)
        } else {
            wide.1.trailing_zeros()
        };
        if zeros >= 192 {
            return Some((false, 0, 0));
        }
        // Shift the 192-bit magnitude right by `zeros`; it must then fit.
        let shifted_low = if zeros >= 128 {
            wide.0 >> (zeros - 128)
        } else if zeros == 0 {
            if wide.0 != 0 {
                return None;
            }
            wide.1
        } else {
            if wide.0 >> zeros != 0 {
                return None;
            }
            (wide.1 >> zeros) | (wide.0 << (128 - zeros))
        };
        Some((negative, shifted_low, WINDOW_LOWEST_EXPONENT + zeros as i32))
    }

    /// The window holding a carried limb sum exactly, if there is one.
    fn window_of(total: &LimbSum) -> Option<Window> {
        if total.non_finite().is_some() {
            return None;
        }
        let (base, limbs) = total.carried_limbs()?;
        let mut window = Window::default();
        for (i, &limb) in limbs.iter().enumerate() {
            if limb == 0 {
                continue;
            }
            let exponent = 32 * (base + i as i32);
            let placed = Window::place(u128::from(limb.unsigned_abs()), exponent)?;
            if !window.try_add(limb < 0, placed) {
                return None;
            }
        }
        Some(window)
    }
}

#[cfg(test)]
mod tests;
