//! What an operation did, in sentences for the administrator. A module of
//! its own because the operations and the parts that explain a change
//! (`served`) both write reports, and neither should depend on the other
//! for it.

/// What an operation did, in sentences for the administrator.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub thumbprint: Option<String>,
    /// Further certificates the same change stored (one answer that
    /// completed several pending requests).
    pub also: Vec<String>,
    pub lines: Vec<String>,
    pub changed: bool,
}

impl Report {
    pub fn say(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }
}

/// " on listener L on node N": where a binding applies, as the sentences
/// of a report say it (nothing for a binding of the whole service).
pub(crate) fn scope_words_on(listener: Option<&str>, node: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(l) = listener {
        out.push_str(&format!(" on listener {l}"));
    }
    if let Some(n) = node {
        out.push_str(&format!(" on node {n}"));
    }
    out
}
