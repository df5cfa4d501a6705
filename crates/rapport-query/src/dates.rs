//! Date values (§4, §5, §9): words, calendar dates and months, and relative ages, resolved
//! against one `now` in the caller's time zone.

use std::ops::Bound;

use chrono::{DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, TimeZone, Utc};

use crate::ast::Op;
use crate::filter::DateRange;

/// `now` and the caller's time zone; days and weeks (from Monday) begin at local midnight.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub now: DateTime<Utc>,
    pub tz: FixedOffset,
}

/// Why a date value was refused: the message and a hint.
#[derive(Debug, PartialEq)]
pub(crate) struct DateError {
    pub message: String,
    pub hint: String,
}

const ACCEPTED: &str = "use today, yesterday, \"this week\", \"last week\", \"this month\", \"last month\", \
\"this year\", a day (2024-05-01), a month (2024-05) or an age (\"3 days ago\")";

/// Turns `X-TZ-Offset` hours into a fixed offset.
pub(crate) fn tz_from_hours(hours: f64) -> Option<FixedOffset> {
    if !hours.is_finite() || hours.abs() >= 24.0 {
        return None;
    }
    FixedOffset::east_opt((hours * 3600.0).round() as i32)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum AgeUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// A date value as written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DateValue {
    /// Local calendar days `first..end` (end excluded).
    Days { first: NaiveDate, end: NaiveDate },
    /// The instant that long before now.
    Ago(DateTime<Utc>),
}

impl Clock {
    pub fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.tz).date_naive()
    }

    /// The instant the local day begins.
    pub fn start_of(&self, day: NaiveDate) -> DateTime<Utc> {
        let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        match self.tz.from_local_datetime(&midnight).single() {
            Some(t) => t.with_timezone(&Utc),
            None => midnight.and_utc(),
        }
    }

    fn local_day(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// Resolves `OP value` for a date field. `Ok((range, outside))`: the field must lie
    /// in the range, or outside it for `!=`.
    pub fn resolve(&self, op: Op, value: &str) -> Result<(DateRange, bool), DateError> {
        let value = self.parse(value)?;
        let day_range = |first: NaiveDate, end: NaiveDate| DateRange {
            start: Bound::Included(self.start_of(first)),
            end: Bound::Excluded(self.start_of(end)),
            start_day: Bound::Included(first),
            end_day: Bound::Excluded(end),
        };
        let unbounded = DateRange {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            start_day: Bound::Unbounded,
            end_day: Bound::Unbounded,
        };
        Ok(match value {
            DateValue::Days { first, end } => match op {
                Op::Matches | Op::Eq => (day_range(first, end), false),
                Op::Ne => (day_range(first, end), true),
                // Before the range starts.
                Op::Lt => (
                    DateRange {
                        end: Bound::Excluded(self.start_of(first)),
                        end_day: Bound::Excluded(first),
                        ..unbounded
                    },
                    false,
                ),
                // Before the range ends.
                Op::Le => (
                    DateRange {
                        end: Bound::Excluded(self.start_of(end)),
                        end_day: Bound::Excluded(end),
                        ..unbounded
                    },
                    false,
                ),
                // After the range ends.
                Op::Gt => (
                    DateRange {
                        start: Bound::Included(self.start_of(end)),
                        start_day: Bound::Included(end),
                        ..unbounded
                    },
                    false,
                ),
                // At or after its start.
                Op::Ge => (
                    DateRange {
                        start: Bound::Included(self.start_of(first)),
                        start_day: Bound::Included(first),
                        ..unbounded
                    },
                    false,
                ),
            },
            DateValue::Ago(instant) => {
                let day = self.local_day(instant);
                let next_day = day.succ_opt().unwrap_or(day);
                match op {
                    // `:` with an age is that calendar day.
                    Op::Matches | Op::Eq => (day_range(day, next_day), false),
                    Op::Ne => (day_range(day, next_day), true),
                    // Comparisons compare the time elapsed: `< "3 days ago"` is less than
                    // three days ago, i.e. after that instant.
                    Op::Lt => (
                        DateRange {
                            start: Bound::Excluded(instant),
                            start_day: Bound::Excluded(day),
                            ..unbounded
                        },
                        false,
                    ),
                    Op::Le => (
                        DateRange {
                            start: Bound::Included(instant),
                            start_day: Bound::Included(day),
                            ..unbounded
                        },
                        false,
                    ),
                    Op::Gt => (
                        DateRange {
                            end: Bound::Excluded(instant),
                            end_day: Bound::Excluded(day),
                            ..unbounded
                        },
                        false,
                    ),
                    Op::Ge => (
                        DateRange {
                            end: Bound::Included(instant),
                            end_day: Bound::Included(day),
                            ..unbounded
                        },
                        false,
                    ),
                }
            }
        })
    }

    fn parse(&self, raw: &str) -> Result<DateValue, DateError> {
        let normalized = raw.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        let today = self.today();
        let days = |first: NaiveDate, end: NaiveDate| Ok(DateValue::Days { first, end });
        let overflow = || DateError {
            message: format!("`{raw}` is too far from today"),
            hint: ACCEPTED.to_string(),
        };
        // Checked throughout: `now` comes from the caller and may be at the calendar's edge.
        let shift = |d: NaiveDate, n: i64| d.checked_add_signed(Duration::days(n)).ok_or_else(overflow);
        let add_months = |d: NaiveDate, n: u32| d.checked_add_months(Months::new(n)).ok_or_else(overflow);
        let week_start = shift(today, -i64::from(today.weekday().num_days_from_monday()))?;
        let month_start = today.with_day(1).unwrap_or(today);
        let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
        match normalized.as_str() {
            "today" => return days(today, shift(today, 1)?),
            "yesterday" => return days(shift(today, -1)?, today),
            "this week" => return days(week_start, shift(week_start, 7)?),
            "last week" => return days(shift(week_start, -7)?, week_start),
            "this month" => return days(month_start, add_months(month_start, 1)?),
            "last month" => {
                let first = month_start.checked_sub_months(Months::new(1)).ok_or_else(overflow)?;
                return days(first, month_start);
            }
            "this year" => return days(year_start, add_months(year_start, 12)?),
            _ => {}
        }
        if let Some(day) = parse_ymd(&normalized) {
            let next = day.succ_opt().ok_or_else(overflow)?;
            return days(day, next);
        }
        if let Some(first) = parse_ym(&normalized) {
            return days(first, add_months(first, 1)?);
        }
        if let Some(instant) = self.parse_age(&normalized) {
            return instant.map(DateValue::Ago).ok_or_else(overflow);
        }
        Err(refusal(raw, &normalized))
    }

    /// `N unit ago`; `Some(None)` when it is an age but too far back to represent.
    fn parse_age(&self, s: &str) -> Option<Option<DateTime<Utc>>> {
        let rest = s.strip_suffix(" ago")?;
        let (amount, unit) = rest.split_once(' ')?;
        let amount: u32 = match amount {
            "a" | "an" => 1,
            // All digits but too many to count is an age, just too far back.
            n if n.chars().all(|c| c.is_ascii_digit()) => match n.parse() {
                Ok(n) => n,
                Err(_) => return Some(None),
            },
            _ => return None,
        };
        let unit = match unit.strip_suffix('s').unwrap_or(unit) {
            "minute" => AgeUnit::Minute,
            "hour" => AgeUnit::Hour,
            "day" => AgeUnit::Day,
            "week" => AgeUnit::Week,
            "month" => AgeUnit::Month,
            "year" => AgeUnit::Year,
            _ => return None,
        };
        let n = i64::from(amount);
        let elapsed = match unit {
            AgeUnit::Minute => Duration::try_minutes(n),
            AgeUnit::Hour => Duration::try_hours(n),
            AgeUnit::Day => Duration::try_days(n),
            AgeUnit::Week => Duration::try_weeks(n),
            AgeUnit::Month | AgeUnit::Year => {
                // Calendar months and years, clamped to the month's end (Mar 31 − 1 month
                // is Feb 29 or 28), counted on the local calendar.
                let months = if unit == AgeUnit::Year {
                    amount.checked_mul(12)
                } else {
                    Some(amount)
                };
                let local = self.now.with_timezone(&self.tz).naive_local();
                let earlier = local.checked_sub_months(Months::new(months?));
                return Some(
                    earlier
                        .and_then(|t| self.tz.from_local_datetime(&t).single())
                        .map(|t| t.to_utc()),
                );
            }
        };
        Some(elapsed.and_then(|d| self.now.checked_sub_signed(d)))
    }
}

fn parse_ymd(s: &str) -> Option<NaiveDate> {
    let bytes = s.as_bytes();
    let shape = s.is_ascii() && bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-';
    if !shape
        || !s
            .chars()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return None;
    }
    NaiveDate::from_ymd_opt(s[0..4].parse().ok()?, s[5..7].parse().ok()?, s[8..10].parse().ok()?)
}

fn parse_ym(s: &str) -> Option<NaiveDate> {
    let bytes = s.as_bytes();
    let shape = s.is_ascii() && bytes.len() == 7 && bytes[4] == b'-';
    if !shape || !s.chars().enumerate().all(|(i, c)| i == 4 || c.is_ascii_digit()) {
        return None;
    }
    NaiveDate::from_ymd_opt(s[0..4].parse().ok()?, s[5..7].parse().ok()?, 1)
}

/// The error for a value that is no date we understand, naming the likely intent.
fn refusal(raw: &str, normalized: &str) -> DateError {
    let looks_like_date =
        |n: usize| normalized.len() == n && normalized.chars().all(|c| c.is_ascii_digit() || c == '-');
    if normalized.len() == 4 && normalized.chars().all(|c| c.is_ascii_digit()) {
        let year: i32 = normalized.parse().unwrap_or(2024);
        return DateError {
            message: format!("`{raw}` is a bare year, which is not a date here"),
            hint: format!("for the whole year write `>= {year}-01-01` and `< {}-01-01`", year + 1),
        };
    }
    if looks_like_date(10) || looks_like_date(7) {
        return DateError {
            message: format!("`{raw}` is not a valid date"),
            hint: "write a day as YYYY-MM-DD (2024-05-01) or a month as YYYY-MM (2024-05)".to_string(),
        };
    }
    if normalized.ends_with(" ago") {
        return DateError {
            message: format!("`{raw}` is not an age this search understands"),
            hint:
                "write a whole number and a unit: \"30 minutes ago\", \"3 hours ago\", \"2 days ago\", \"1 week ago\", \
                   \"6 months ago\", \"1 year ago\""
                    .to_string(),
        };
    }
    DateError {
        message: format!("`{raw}` is not a date this search understands"),
        hint: ACCEPTED.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_calendar_shapes_strictly() {
        assert_eq!(parse_ymd("2024-05-01"), NaiveDate::from_ymd_opt(2024, 5, 1));
        assert_eq!(parse_ymd("2024-5-01"), None);
        assert_eq!(parse_ymd("2024-02-30"), None);
        assert_eq!(parse_ym("2024-05"), NaiveDate::from_ymd_opt(2024, 5, 1));
        assert_eq!(parse_ym("２０２４-05"), None);
    }

    #[test]
    fn offsets_must_be_real_hours() {
        assert_eq!(tz_from_hours(5.5).map(|o| o.local_minus_utc()), Some(19_800));
        assert_eq!(tz_from_hours(-7.0).map(|o| o.local_minus_utc()), Some(-25_200));
        assert_eq!(tz_from_hours(24.0), None);
        assert_eq!(tz_from_hours(f64::NAN), None);
    }
}
