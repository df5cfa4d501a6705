//! Times travel as ISO 8601; the API answers in UTC with an explicit offset and
//! microseconds (`2013-02-01T00:54:52.950000+00:00`), as Close does. Stored in the same
//! fixed-width form, so text order is time order.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

pub type Timestamp = DateTime<Utc>;

pub fn now() -> Timestamp {
    Utc::now()
}

/// The canonical text of a timestamp: UTC, microseconds, `+00:00`.
pub fn format(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// A time given in milliseconds since the epoch (`None` when out of range).
pub fn from_epoch_ms(ms: i64) -> Option<Timestamp> {
    DateTime::from_timestamp_millis(ms)
}

/// `t` plus `n` microseconds, as canonical text: objects made together in one write get
/// distinct creation times, so their order is their creation order.
pub fn format_after(t: &str, n: usize) -> String {
    match parse_datetime(t) {
        Some(base) => format(base + chrono::Duration::microseconds(n as i64)),
        None => t.to_string(),
    }
}

/// Parses an ISO 8601 date-time. A value without an offset is taken as UTC; a bare date
/// is midnight UTC of that day.
pub fn parse_datetime(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = DateTime::<FixedOffset>::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    parse_date(s).map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

/// Parses a calendar date `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_closes_shape_and_round_trips() {
        let t = parse_datetime("2013-02-01T00:54:52.95Z").unwrap();
        assert_eq!(format(t), "2013-02-01T00:54:52.950000+00:00");
        assert_eq!(parse_datetime(&format(t)), Some(t));
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let t = parse_datetime("2024-05-01T10:00:00+02:00").unwrap();
        assert_eq!(format(t), "2024-05-01T08:00:00.000000+00:00");
    }

    #[test]
    fn bare_dates_and_naive_times_are_utc() {
        assert_eq!(
            format(parse_datetime("2024-05-01").unwrap()),
            "2024-05-01T00:00:00.000000+00:00"
        );
        assert_eq!(
            format(parse_datetime("2024-05-01 12:30:00").unwrap()),
            "2024-05-01T12:30:00.000000+00:00"
        );
        assert_eq!(parse_datetime("yesterday"), None);
        assert_eq!(parse_datetime("2024-13-01"), None);
    }
}
