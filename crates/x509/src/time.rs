//! Dates as the CLI reads and writes them (`--at`, JSON fields).

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

use crate::error::CertError;

/// RFC 3339 in UTC with a `Z`, whole seconds: `2031-11-25T14:40:00Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
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
}
