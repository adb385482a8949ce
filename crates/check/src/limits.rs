//! Public CA limits that clients and root programs enforce (CA/Browser
//! Forum ballot SC-081): the longest validity a publicly trusted server
//! certificate may have, by date.

use time::OffsetDateTime;

/// The longest validity, in days, a public CA may issue at `at`: 398 days
/// before 2026-03-15, 200 from then, 100 from 2027-03-15, 47 from
/// 2029-03-15 (the rule lives in [`mailcert_x509::limits`]).
pub fn public_max_validity_days(at: OffsetDateTime) -> i64 {
    i64::from(mailcert_x509::limits::public_max_validity_days(at.date()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn limits_step_down_on_their_dates() {
        assert_eq!(
            public_max_validity_days(datetime!(2026-03-14 23:59 UTC)),
            398
        );
        assert_eq!(
            public_max_validity_days(datetime!(2026-03-15 00:00 UTC)),
            200
        );
        assert_eq!(
            public_max_validity_days(datetime!(2027-03-15 00:00 UTC)),
            100
        );
        assert_eq!(
            public_max_validity_days(datetime!(2029-03-14 00:00 UTC)),
            100
        );
        assert_eq!(
            public_max_validity_days(datetime!(2029-03-15 00:00 UTC)),
            47
        );
    }
}
