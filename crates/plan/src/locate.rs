//! From a byte offset in the TOML text to what an administrator looks for:
//! the line, the column and the field (`server[2].internet_facing`).
//!
//! This reads the text line by line as people write these files (one key
//! per line, `[table]` and `[[array]]` headers); for anything more exotic
//! it still gives the right line, and the best field it can.

use std::collections::HashMap;

/// Where an offset is, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub line: usize,
    pub column: usize,
    pub field: String,
}

pub(crate) fn locate(text: &str, offset: usize) -> Location {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before
        .get(line_start..)
        .map_or(1, |s| s.chars().count() + 1);

    let mut table = String::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut key: Option<String> = None;
    let lines: Vec<&str> = text.split('\n').collect();
    for (index, raw) in lines.iter().enumerate().take(line) {
        let current = index + 1 == line;
        let content = strip_comment(raw).trim();
        if let Some(name) = content
            .strip_prefix("[[")
            .and_then(|s| s.strip_suffix("]]"))
        {
            let name = name.trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            *n += 1;
            table = format!("{name}[{n}]");
            key = None;
        } else if let Some(name) = content.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            table = name.trim().to_string();
            key = None;
        } else if let Some((k, _)) = content.split_once('=') {
            let k = k.trim().trim_matches('"').trim_matches('\'');
            if !k.is_empty() && !k.contains(char::is_whitespace) {
                key = Some(k.to_string());
            }
        }
        if current {
            break;
        }
    }
    let field = match (table.is_empty(), key) {
        (true, None) => "(top level)".to_string(),
        (true, Some(k)) => k,
        (false, None) => table,
        (false, Some(k)) => format!("{table}.{k}"),
    };
    Location {
        line,
        column,
        field,
    }
}

/// The line without a trailing `# comment` (outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut in_string: Option<char> = None;
    for (i, c) in line.char_indices() {
        match in_string {
            Some(q) if c == q => in_string = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => in_string = Some(c),
            None if c == '#' => return &line[..i],
            None => {}
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_line_column_and_field() {
        let text = "[organization]\nissuer = \"public\"\n\n[[server]]\nname = \"a\"\n\n[[server]]\nname = \"b\"\nsite = 3 # here\n";
        let at = text.find("3 #").unwrap();
        let loc = locate(text, at);
        assert_eq!(loc.line, 9);
        assert_eq!(loc.column, 8);
        assert_eq!(loc.field, "server[2].site");
        let at = text.find("\"public\"").unwrap();
        assert_eq!(locate(text, at).field, "organization.issuer");
        assert_eq!(locate(text, 0).field, "organization");
    }

    #[test]
    fn multi_line_arrays_keep_their_key() {
        let text = "[namespaces]\nclient_access = [\n  \"a\",\n  7,\n]\n";
        let at = text.find('7').unwrap();
        let loc = locate(text, at);
        assert_eq!(loc.line, 4);
        assert_eq!(loc.field, "namespaces.client_access");
    }
}
