//! The laws of TOML error locations, as properties over generated
//! documents: the field at the start of any value is that value's key
//! under its table (arrays of tables counted per entry, quoted keys kept
//! whole), and a value broken anywhere in a valid document is reported, at
//! the offset where the `toml` crate itself gives up, on the line and
//! field of that value.

use mailcert_tomlplace::{dotted, locate, position, Segment};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Value {
    Int(i64),
    Bool(bool),
    Basic(String),
    Literal(String),
    Array(Vec<i64>, bool),
    Inline(Vec<i64>),
}

#[derive(Debug, Clone)]
struct Table {
    name: String,
    array: bool,
    entries: Vec<(String, Value, bool)>,
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<bool>().prop_map(Value::Bool),
        "[a-zA-Z0-9 #=\\[\\]{},.:'\"\\\\-]{0,12}".prop_map(Value::Basic),
        "[a-zA-Z0-9 #=\\[\\]{},.:\"-]{0,12}".prop_map(Value::Literal),
        (prop::collection::vec(-99i64..99, 0..4), any::<bool>())
            .prop_map(|(v, m)| Value::Array(v, m)),
        prop::collection::vec(-99i64..99, 0..3).prop_map(Value::Inline),
    ]
}

/// Keys: bare, or quoted with the characters that would split them.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-z][a-z0-9_-]{0,6}", 1 => "[a-z]{1,3}[.= #][a-z]{1,3}"]
}

/// Tables (upper-case names, so they never meet a key of the top level),
/// the first of which may be the top level (no header).
fn tables() -> impl Strategy<Value = Vec<Table>> {
    let entries = prop::collection::vec((key(), value(), any::<bool>()), 1..4);
    let top = any::<bool>();
    (
        top,
        prop::collection::vec(("[A-Z]{1,3}", any::<bool>(), entries), 1..5),
    )
        .prop_map(|(top, raw)| {
            raw.into_iter()
                .enumerate()
                .map(|(t, (name, array, entries))| Table {
                    // Plain tables must be unique; arrays of tables repeat.
                    name: if top && t == 0 {
                        String::new()
                    } else if array {
                        name
                    } else {
                        format!("{name}{t}")
                    },
                    array: array && !(top && t == 0),
                    entries: entries
                        .into_iter()
                        .enumerate()
                        .map(|(i, (k, v, comment))| (format!("{k}{i}"), v, comment))
                        .collect(),
                })
                .collect()
        })
}

fn render_key(key: &str) -> String {
    if key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        key.to_string()
    } else {
        format!("\"{key}\"")
    }
}

fn render_value(value: &Value) -> String {
    match value {
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Basic(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        Value::Literal(s) => format!("'{s}'"),
        Value::Array(items, false) => format!(
            "[{}]",
            items
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(items, true) => {
            let mut out = String::from("[\n");
            for i in items {
                out.push_str(&format!("  {i}, # item = [x]\n"));
            }
            out.push(']');
            out
        }
        Value::Inline(items) => {
            let fields: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(n, i)| format!("f{n} = {i}"))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
    }
}

/// One key/value of a rendered document: where its line and value start,
/// and the field it is.
struct Placed {
    line_start: usize,
    value_start: usize,
    line: usize,
    path: Vec<Segment>,
}

fn render(tables: &[Table]) -> (String, Vec<Placed>) {
    let mut text = String::from("# generated\n");
    let mut placed = Vec::new();
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for table in tables {
        let mut path = vec![Segment::Key(table.name.clone())];
        if table.name.is_empty() {
            path.clear();
        } else if table.array {
            let n = counts.entry(table.name.clone()).or_insert(0);
            path.push(Segment::Index(*n));
            *n += 1;
            text.push_str(&format!("\n[[{}]]\n", table.name));
        } else {
            text.push_str(&format!("\n[{}] # the {} table\n", table.name, table.name));
        }
        for (key, value, comment) in &table.entries {
            let line_start = text.len();
            text.push_str(&render_key(key));
            text.push_str(" = ");
            let value_start = text.len();
            text.push_str(&render_value(value));
            if *comment {
                text.push_str("  # key = \"value\" [x]");
            }
            text.push('\n');
            let mut field = path.clone();
            field.push(Segment::Key(key.clone()));
            placed.push(Placed {
                line_start,
                value_start,
                line: position(&text, line_start).line,
                path: field,
            });
        }
    }
    (text, placed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// At the first character of any value, the field is that value's
    /// key under its table, and line and column are where it is.
    #[test]
    fn every_value_is_located_at_its_field(tables in tables()) {
        let (text, placed) = render(&tables);
        prop_assert!(text.parse::<toml::Table>().is_ok(), "the generator writes valid TOML:\n{}", text);
        for p in &placed {
            let place = locate(&text, p.value_start);
            prop_assert_eq!(
                dotted(&place.path, 1),
                dotted(&p.path, 1),
                "at {} in\n{}", p.value_start, text
            );
            prop_assert_eq!(place.at.line, p.line);
            prop_assert!(place.open.is_none() || place.open.as_ref().is_some_and(|o| o.start.offset <= p.value_start));
        }
    }

    /// A value broken in place (an unclosed string, an unclosed array, a
    /// missing value) is reported where the `toml` crate stops, on the
    /// line and field of that value, however much valid text follows.
    #[test]
    fn a_broken_value_is_reported_on_its_own_line_and_field(
        tables in tables(),
        pick in any::<prop::sample::Index>(),
        breakage in prop_oneof![Just("\"unclosed"), Just("[1, 2"), Just("'open"), Just("")],
    ) {
        let (text, placed) = render(&tables);
        prop_assume!(!placed.is_empty());
        let p = &placed[pick.index(placed.len())];
        let line_end = p.value_start + text[p.value_start..].find('\n').unwrap_or(text.len() - p.value_start);
        // A multi-line array spans lines: break the whole value.
        let value_end = if text[p.value_start..].starts_with("[\n") {
            p.value_start + text[p.value_start..].find("\n]").map_or(0, |i| i + 2)
        } else {
            line_end
        };
        let broken = format!("{}{}{}", &text[..p.value_start], breakage, &text[value_end..]);
        let error = broken.parse::<toml::Table>().expect_err("the value is broken");
        let span = error.span().expect("syntax errors have a span");
        let place = locate(&broken, span.start);
        let (start, path) = place.syntax();
        prop_assert_eq!(
            (start.line, dotted(path, 1)),
            (p.line, dotted(&p.path, 1)),
            "{} at {:?} in\n{}", error.message(), span, broken
        );
        prop_assert!(start.offset >= p.line_start);
    }

    /// Line and column of any offset, inside characters or past the end.
    #[test]
    fn positions_count_lines_and_characters(text in "(\\PC|\n){0,40}", offset in 0usize..200) {
        let at = position(&text, offset);
        let clamped = at.offset;
        prop_assert!(clamped <= offset.min(text.len()));
        prop_assert!(text.is_char_boundary(clamped));
        let before = &text[..clamped];
        prop_assert_eq!(at.line, before.matches('\n').count() + 1);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        prop_assert_eq!(at.column, before[line_start..].chars().count() + 1);
        prop_assert_eq!(locate(&text, offset).at, at);
    }
}
