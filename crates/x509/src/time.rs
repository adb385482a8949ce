//! Dates as the CLI reads and writes them (`--at`, JSON fields), and the
//! one rule for whether a time is inside a certificate's validity.

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

use crate::error::CertError;

/// RFC 3339 in UTC with a `Z`, whole seconds: `2031-11-25T14:40:00Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Where a time falls against a certificate's validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    NotYetValid,
    Valid,
    Expired,
}

/// `t` without its fraction of a second. Certificates encode their dates
/// in whole seconds (RFC 5280 §4.1.2.5 forbids fractions), so a time
/// belongs to the second it is in: 12:00:00.7 is still 12:00:00 for a
/// certificate that ends then. rustls-webpki, which gives the trust
/// verdict, counts whole seconds since the epoch the same way, and so do
/// the x509-limbo cases (`notbefore-fractional`).
pub fn whole_second(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Whether `at` is within `not_before` through `not_after`, both
/// inclusive (RFC 5280 §4.1.2.5), compared in whole seconds: valid at
/// exactly `not_after` and during that second, expired from the next one.
pub fn validity(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    at: OffsetDateTime,
) -> Validity {
    let at = whole_second(at);
    if at < whole_second(not_before) {
        Validity::NotYetValid
    } else if at > whole_second(not_after) {
        Validity::Expired
    } else {
        Validity::Valid
    }
}

/// The moment nearest to `at` within `from` through `until`; `at` itself
/// when the window is empty (a certificate that ends before it begins,
/// which a hostile server or file may send: no moment fits it).
pub fn nearest_within(
    at: OffsetDateTime,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> OffsetDateTime {
    if from <= until {
        at.clamp(from, until)
    } else {
        at
    }
}

/// Parses `--at`: a date (`2027-06-01`, midnight UTC) or an RFC 3339 time
/// with fractional seconds and offsets allowed.
pub fn parse_at(input: &str) -> Result<OffsetDateTime, CertError> {
    let text = input.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.to_offset(UtcOffset::UTC));
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(text, &date_format) {
        return Ok(d.midnight().assume_utc());
    }
    Err(CertError::BadTime {
        input: input.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_times() {
        assert_eq!(
            rfc3339(parse_at("2027-06-01").unwrap()),
            "2027-06-01T00:00:00Z"
        );
        assert_eq!(
            rfc3339(parse_at("2027-06-01T12:00:00Z").unwrap()),
            "2027-06-01T12:00:00Z"
        );
        assert_eq!(
            rfc3339(parse_at("2027-06-01T12:00:00.5+02:00").unwrap()),
            "2027-06-01T10:00:00Z"
        );
        assert!(parse_at("June 1").is_err());
    }

    /// Found by the validate_chain fuzz target: clamping into the dates of
    /// a certificate whose notAfter is before its notBefore panicked.
    #[test]
    fn an_empty_window_leaves_the_time_alone() {
        let a = parse_at("2027-01-01").unwrap();
        let b = parse_at("2028-01-01").unwrap();
        let at = parse_at("2029-06-01").unwrap();
        assert_eq!(nearest_within(at, a, b), b);
        assert_eq!(nearest_within(at, b, a), at);
        assert_eq!(validity(b, a, at), Validity::Expired);
    }

    #[test]
    fn validity_counts_whole_seconds_with_both_ends_inclusive() {
        let not_before = parse_at("2024-03-01T00:00:01Z").unwrap();
        let not_after = parse_at("2024-04-01T00:00:00Z").unwrap();
        let at = |s: &str| validity(not_before, not_after, parse_at(s).unwrap());
        assert_eq!(at("2024-03-01T00:00:00.999Z"), Validity::NotYetValid);
        assert_eq!(at("2024-03-01T00:00:01Z"), Validity::Valid);
        assert_eq!(at("2024-04-01T00:00:00Z"), Validity::Valid);
        assert_eq!(at("2024-04-01T00:00:00.999999999Z"), Validity::Valid);
        assert_eq!(at("2024-04-01T00:00:01Z"), Validity::Expired);
        // Offsets are the same instants.
        assert_eq!(at("2024-04-01T02:00:00.5+02:00"), Validity::Valid);
        assert_eq!(at("2024-04-01T02:00:01+02:00"), Validity::Expired);
        // Before 1970 too: the second a time is in, not the one after it.
        let old = parse_at("1969-12-31T23:59:59Z").unwrap();
        assert_eq!(
            validity(old, old, parse_at("1969-12-31T23:59:59.5Z").unwrap()),
            Validity::Valid
        );
    }
}
