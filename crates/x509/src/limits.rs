//! The longest validity a publicly trusted server certificate may have, by
//! date (CA/Browser Forum ballot SC-081): 398 days until 2026-03-15, then
//! 200, 100 from 2027-03-15, 47 from 2029-03-15. The planner plans with
//! it and the checker judges served certificates by it. And the longest
//! any certificate from a private CA may have for Apple's clients.

use time::macros::date;
use time::Date;

/// Apple platforms (iOS 13, macOS 10.15 and later) refuse a TLS server
/// certificate valid for more than 825 days, even from a root the user
/// trusts by hand; phones are mail clients, so nothing mailcert plans or
/// signs goes past it without a warning.
pub const APPLE_MAX_DAYS: u32 = 825;

/// From each date on, the longest validity in days.
const PUBLIC_STEPS: [(Date, u32); 3] = [
    (date!(2026 - 03 - 15), 200),
    (date!(2027 - 03 - 15), 100),
    (date!(2029 - 03 - 15), 47),
];
const PUBLIC_BEFORE_2026: u32 = 398;

/// The longest validity, in days, a public CA may give a certificate
/// issued on `date`.
pub fn public_max_validity_days(date: Date) -> u32 {
    PUBLIC_STEPS
        .iter()
        .filter(|(from, _)| date >= *from)
        .map(|(_, days)| *days)
        .next_back()
        .unwrap_or(PUBLIC_BEFORE_2026)
}

/// The next date the public limit shrinks after `date`, and the new limit.
pub fn next_public_step(date: Date) -> Option<(Date, u32)> {
    PUBLIC_STEPS.iter().copied().find(|(from, _)| *from > date)
}
