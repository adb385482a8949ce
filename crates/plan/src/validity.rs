//! The longest validity an issuer may give, at a date.
//!
//! - Public CAs follow the CA/Browser Forum (ballot SC-081): 398 days until
//!   2026-03-15, then 200, 100 from 2027-03-15, 47 from 2029-03-15.
//! - A private CA is not bound by those limits, but Apple platforms (iOS 13,
//!   macOS 10.15 and later) refuse any TLS server certificate valid for more
//!   than 825 days, even from a root the user trusts by hand. Phones are
//!   mail clients, so the planner caps private certificates at 825 days.
//! - Self-signed certificates get 5 years (1826 days): the secure-by-default
//!   certificate is meant to be replaced, not renewed often.

use time::{Date, Month};

use crate::input::IssuerKind;

/// Longest validity of a private-CA certificate that Apple clients accept.
pub const PRIVATE_MAX_DAYS: u32 = 825;
/// Validity of a self-signed certificate: 5 years.
pub const SELF_SIGNED_DAYS: u32 = 1826;

/// The public CA limits: from each date on, the longest validity.
const PUBLIC_STEPS: [(i32, Month, u8, u32); 3] = [
    (2026, Month::March, 15, 200),
    (2027, Month::March, 15, 100),
    (2029, Month::March, 15, 47),
];
const PUBLIC_BEFORE_2026: u32 = 398;

fn step_date(step: &(i32, Month, u8, u32)) -> Option<Date> {
    Date::from_calendar_date(step.0, step.1, step.2).ok()
}

/// The longest validity, in days, the issuer may give to a certificate
/// issued on `date`.
pub fn max_validity_days(issuer: IssuerKind, date: Date) -> u32 {
    match issuer {
        IssuerKind::Public => PUBLIC_STEPS
            .iter()
            .filter(|s| step_date(s).is_some_and(|d| date >= d))
            .map(|s| s.3)
            .next_back()
            .unwrap_or(PUBLIC_BEFORE_2026),
        IssuerKind::Private => PRIVATE_MAX_DAYS,
        IssuerKind::SelfSigned => SELF_SIGNED_DAYS,
    }
}

/// The next date the public limit shrinks after `date`, and the new limit.
pub fn next_public_step(date: Date) -> Option<(Date, u32)> {
    PUBLIC_STEPS
        .iter()
        .filter_map(|s| step_date(s).map(|d| (d, s.3)))
        .find(|(d, _)| *d > date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn public_steps_fall_on_their_dates() {
        let p = IssuerKind::Public;
        assert_eq!(max_validity_days(p, date!(2025 - 01 - 01)), 398);
        assert_eq!(max_validity_days(p, date!(2026 - 03 - 14)), 398);
        assert_eq!(max_validity_days(p, date!(2026 - 03 - 15)), 200);
        assert_eq!(max_validity_days(p, date!(2027 - 03 - 14)), 200);
        assert_eq!(max_validity_days(p, date!(2027 - 03 - 15)), 100);
        assert_eq!(max_validity_days(p, date!(2029 - 03 - 14)), 100);
        assert_eq!(max_validity_days(p, date!(2029 - 03 - 15)), 47);
        assert_eq!(max_validity_days(p, date!(2040 - 01 - 01)), 47);
        assert_eq!(
            max_validity_days(IssuerKind::Private, date!(2030 - 01 - 01)),
            825
        );
        assert_eq!(
            max_validity_days(IssuerKind::SelfSigned, date!(2030 - 01 - 01)),
            1826
        );
    }

    #[test]
    fn next_step() {
        assert_eq!(
            next_public_step(date!(2026 - 01 - 01)),
            Some((date!(2026 - 03 - 15), 200))
        );
        assert_eq!(
            next_public_step(date!(2026 - 03 - 15)),
            Some((date!(2027 - 03 - 15), 100))
        );
        assert_eq!(next_public_step(date!(2029 - 03 - 15)), None);
    }
}
