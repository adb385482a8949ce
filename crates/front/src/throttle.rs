//! A warning that can repeat many times a second (accept failing at the
//! descriptor limit, connections refused over the limit) is logged at most
//! once per interval, with the count of the ones left out, so that the log
//! says what happens without filling the disk.

use std::time::{Duration, Instant};

/// How often a repeated warning is logged at most.
pub const INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct Throttle {
    last: Option<Instant>,
    left_out: u64,
}

impl Throttle {
    /// Whether to log now; `Some(n)`: log, saying `n` were left out since
    /// the last one.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < INTERVAL => {
                self.left_out += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.left_out))
            }
        }
    }
}

/// " (and N more in the last 10 s)", or nothing.
pub fn more(left_out: u64) -> String {
    if left_out == 0 {
        String::new()
    } else {
        format!(" (and {left_out} more like it since the last one logged)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_with_the_count_left_out() {
        let start = Instant::now();
        let mut throttle = Throttle::default();
        assert_eq!(throttle.allow(start), Some(0));
        for i in 1..=20 {
            assert_eq!(throttle.allow(start + Duration::from_millis(i * 50)), None);
        }
        assert_eq!(throttle.allow(start + INTERVAL), Some(20));
        assert_eq!(
            throttle.allow(start + INTERVAL + Duration::from_secs(1)),
            None
        );
    }
}
