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

use time::Date;

use crate::input::IssuerKind;

pub use mailcert_x509::limits::next_public_step;

/// Longest validity of a private-CA certificate that Apple clients accept.
pub const PRIVATE_MAX_DAYS: u32 = mailcert_x509::limits::APPLE_MAX_DAYS;
/// Validity of a self-signed certificate: 5 years.
pub const SELF_SIGNED_DAYS: u32 = 1826;

/// The longest validity, in days, the issuer may give to a certificate
/// issued on `date`.
pub fn max_validity_days(issuer: IssuerKind, date: Date) -> u32 {
    match issuer {
        IssuerKind::Public => mailcert_x509::limits::public_max_validity_days(date),
        IssuerKind::Private => PRIVATE_MAX_DAYS,
        IssuerKind::SelfSigned => SELF_SIGNED_DAYS,
    }
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
