//! Numbers and dates as order-preserving `u64`s, indexed at four precisions (a trie, as
//! Lucene's numeric fields do) so that a range is a few hundred terms whatever its width.

use std::ops::Bound;

use chrono::{DateTime, NaiveDate, Utc};

/// Bits dropped per precision level.
pub const STEP: u32 = 16;
/// Levels 0 (full precision) to 3.
pub const LEVELS: u32 = 4;

pub fn number(n: f64) -> u64 {
    // -0.0 and 0.0 are equal to the evaluator.
    let n = if n == 0.0 { 0.0 } else { n };
    let bits = n.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

pub fn signed(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

pub fn instant(t: DateTime<Utc>) -> u64 {
    let nanos = t
        .timestamp_nanos_opt()
        .unwrap_or(if t.timestamp() < 0 { i64::MIN } else { i64::MAX });
    signed(nanos)
}

pub fn day(d: NaiveDate) -> u64 {
    signed(i64::from(d.num_days_from_ce()))
}

use chrono::Datelike;

/// The term of a value's prefix at one level: `{key}{suffix}\x1f{level}{hex}`.
pub struct TrieTerm<'a> {
    pub key: &'a str,
    /// `@` for instants, `/` for days, empty for numbers.
    pub suffix: &'a str,
    pub level: u32,
    /// The value shifted right by `level * STEP` bits.
    pub shifted: u64,
}

impl std::fmt::Display for TrieTerm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}\u{1f}{}{:016x}",
            self.key, self.suffix, self.level, self.shifted
        )
    }
}

/// An inclusive range of `u64`s from bounds, `None` when empty.
pub fn inclusive(start: Bound<u64>, end: Bound<u64>) -> Option<(u64, u64)> {
    let lo = match start {
        Bound::Included(v) => v,
        Bound::Excluded(v) => v.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let hi = match end {
        Bound::Included(v) => v,
        Bound::Excluded(v) => v.checked_sub(1)?,
        Bound::Unbounded => u64::MAX,
    };
    (lo <= hi).then_some((lo, hi))
}

/// Splits `[lo, hi]` into ranges of terms per level, coarsest where whole blocks fit:
/// `(level, first, last)` in that level's shifted values, inclusive.
pub fn split_range(lo: u64, hi: u64) -> Vec<(u32, u64, u64)> {
    let mut out = Vec::new();
    let (mut lo, mut hi) = (u128::from(lo), u128::from(hi));
    let mask: u128 = (1 << STEP) - 1;
    for level in 0..LEVELS {
        if level == LEVELS - 1 {
            out.push((level, lo as u64, hi as u64));
            break;
        }
        // The whole blocks of the next level inside [lo, hi].
        let block_lo = (lo + mask) & !mask;
        let block_hi_end = (hi + 1) & !mask; // exclusive
        if block_lo >= block_hi_end {
            out.push((level, lo as u64, hi as u64));
            break;
        }
        if lo < block_lo {
            out.push((level, lo as u64, (block_lo - 1) as u64));
        }
        if block_hi_end <= hi {
            out.push((level, block_hi_end as u64, hi as u64));
        }
        lo = block_lo >> STEP;
        hi = (block_hi_end >> STEP) - 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(lo: u64, hi: u64, v: u64) -> bool {
        split_range(lo, hi)
            .iter()
            .any(|&(level, a, b)| (a..=b).contains(&(v >> (level * STEP))))
    }

    #[test]
    fn numbers_keep_their_order() {
        let values = [-1e300, -5.5, -1.0, 0.0, 1e-9, 1.0, 2.5, 1e300];
        for pair in values.windows(2) {
            assert!(number(pair[0]) < number(pair[1]), "{pair:?}");
        }
        assert_eq!(number(-0.0), number(0.0));
        assert!(signed(-3) < signed(4));
    }

    #[test]
    fn a_split_range_covers_exactly_its_values() {
        let cases = [
            (0, u64::MAX),
            (5, 5),
            (65_535, 65_536),
            (1 << 40, (1 << 40) + 70_000),
            (123_456_789, 987_654_321_012),
            (u64::MAX - 3, u64::MAX),
        ];
        for (lo, hi) in cases {
            for v in [
                lo,
                hi,
                lo.wrapping_sub(1),
                hi.wrapping_add(1),
                lo / 2 + hi / 2,
                0,
                u64::MAX,
            ] {
                assert_eq!(covered(lo, hi, v), (lo..=hi).contains(&v), "[{lo}, {hi}] {v}");
            }
            // Pieces never overlap, so no value is counted twice.
            let pieces = split_range(lo, hi);
            assert!(pieces.len() <= 2 * LEVELS as usize, "{pieces:?}");
        }
    }
}
