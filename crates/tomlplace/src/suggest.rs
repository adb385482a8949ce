//! "Did you mean ...?" for the keys and values serde refuses: its
//! messages list what it expected (`unknown field `nmae`, expected one of
//! `name`, `protocol``), and the closest of those by edit distance is
//! most often what the administrator meant to type.

/// A key or value serde did not know, with what it would have taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub kind: UnknownKind,
    /// What was written.
    pub written: String,
    /// What is valid there, in serde's order.
    pub expected: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownKind {
    /// A key (`unknown field`).
    Key,
    /// A value of a fixed set (`unknown variant`).
    Value,
}

impl Unknown {
    /// Reads serde's `unknown field` / `unknown variant` message.
    pub fn from_message(message: &str) -> Option<Unknown> {
        let (kind, rest) = if let Some(rest) = message.strip_prefix("unknown field `") {
            (UnknownKind::Key, rest)
        } else if let Some(rest) = message.strip_prefix("unknown variant `") {
            (UnknownKind::Value, rest)
        } else {
            return None;
        };
        let (written, rest) = rest.split_once('`')?;
        let expected = rest
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        Some(Unknown {
            kind,
            written: written.to_string(),
            expected,
        })
    }

    /// The expected word closest to what was written, when it is close
    /// enough to be a slip: three edits for a key, two for a value.
    pub fn closest(&self) -> Option<&str> {
        let reach = match self.kind {
            UnknownKind::Key => 3,
            UnknownKind::Value => 2,
        };
        closest(
            &self.written,
            self.expected.iter().map(String::as_str),
            reach,
        )
    }
}

/// The candidate closest to `written`, if at most `reach` edits away.
pub fn closest<'a>(
    written: &str,
    candidates: impl Iterator<Item = &'a str>,
    reach: usize,
) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(written, c), c))
        .filter(|(d, _)| *d <= reach)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_are_read() {
        let u = Unknown::from_message(
            "unknown field `nmae`, expected one of `name`, `protocol`, `tls`",
        )
        .unwrap();
        assert_eq!(u.kind, UnknownKind::Key);
        assert_eq!(u.written, "nmae");
        assert_eq!(u.expected, ["name", "protocol", "tls"]);
        assert_eq!(u.closest(), Some("name"));
        let u = Unknown::from_message(
            "unknown variant `implict`, expected one of `implicit`, `starttls`, `starttls-required`",
        )
        .unwrap();
        assert_eq!(u.kind, UnknownKind::Value);
        assert_eq!(u.closest(), Some("implicit"));
        let u = Unknown::from_message("unknown field `colour`, expected `name`").unwrap();
        assert_eq!(u.expected, ["name"]);
        assert_eq!(u.closest(), None);
        assert_eq!(Unknown::from_message("invalid type: string"), None);
    }

    #[test]
    fn only_slips_are_suggested() {
        let keys = ["interent_facing", "internet_facing", "max_names"];
        assert_eq!(
            closest("interent_facing", keys[1..].iter().copied(), 3),
            Some("internet_facing")
        );
        assert_eq!(closest("colour", ["protocol", "tls"].into_iter(), 3), None);
        assert_eq!(closest("tsl", ["tls", "bind"].into_iter(), 2), Some("tls"));
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("interent_facing", "internet_facing"), 2);
    }
}
