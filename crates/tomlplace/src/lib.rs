//! Where a byte offset of a TOML file is, in the terms an administrator
//! looks for: the line, the column and the field (`server[2].site`).
//!
//! The `toml` crate gives its errors a byte span. For a shape error
//! (unknown key, wrong type, missing field) the file is valid TOML and the
//! span points at the key, value or table concerned. For a syntax error the
//! span is where the parser gave up, which may be lines after the construct
//! that is broken: an array left unclosed on line 2 is only noticed at the
//! key on line 3. [`locate`] reads the text up to the offset with a small
//! TOML lexer — everything before the offset was accepted by the parser, so
//! that reading can be trusted — and reports the field there and the
//! construct still open (string, key/value, table header) with where it
//! started. It never reads values and never rejects anything: the `toml`
//! crate is the judge of what is valid; this only says where.
//!
//! Also here, for the same errors: [`Unknown`] reads serde's "unknown
//! field" and "unknown variant" messages and finds the closest valid word
//! ("did you mean `name`?"), so that plan and the front end's
//! configuration suggest alike.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt::Write as _;

mod suggest;
pub use suggest::{closest, edit_distance, Unknown, UnknownKind};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    /// The entry of an array of tables (`[[server]]`), counted from 0.
    Index(usize),
}

/// A place in the text, lines and columns counted from 1 (columns in
/// characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

/// What kind of construct was still open at the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenKind {
    /// A `[table]` or `[[array]]` header.
    Header,
    /// A `key = value` line, its value included (arrays and inline tables
    /// may span lines).
    KeyValue,
    /// A quoted string.
    String,
}

/// The construct a syntax error belongs to: the innermost string when the
/// offset is inside one (an unclosed quote), else the outermost key/value
/// or header (an unclosed array is the key's business, not the next line's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub kind: OpenKind,
    pub start: Position,
    /// The field the construct belongs to.
    pub path: Vec<Segment>,
}

/// Where an offset is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The offset itself.
    pub at: Position,
    /// The field at the offset: the table, then the keys of the key/value
    /// (inline tables included). Empty at the top level outside any key.
    pub path: Vec<Segment>,
    /// What was being read at the offset, when anything was.
    pub open: Option<Open>,
    /// The header of the table the offset is in, if any: for a table of an
    /// array, callers look there for the entry's `name`.
    pub table_header: Option<Position>,
}

impl Place {
    /// Where to report a syntax error found at this offset: the start of
    /// the construct that is open there and its field, else the offset and
    /// the table it is in.
    pub fn syntax(&self) -> (Position, &[Segment]) {
        match &self.open {
            Some(open) => (open.start, &open.path),
            None => (self.at, &self.path),
        }
    }
}

/// Reads `text` up to `offset` and says where that is.
pub fn locate(text: &str, offset: usize) -> Place {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let mut scanner = Scanner {
        s: text.as_bytes(),
        pos: 0,
        limit: offset,
        table: Vec::new(),
        table_header: None,
        arrays: HashMap::new(),
        stack: Vec::new(),
    };
    // Every path of the scanner ends at the limit (the end of the text is
    // past or at it), so the result is always the state there.
    let Err(Stop) = scanner.document();
    scanner.place(text, offset)
}

/// Renders a path as people write it: `server[2].site` with
/// `first_index = 1`, `listener[0].tls` with 0; keys that are not bare are
/// quoted (`autodiscover_by_domain."fabrikam.com"`).
pub fn dotted(path: &[Segment], first_index: usize) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if !key.is_empty() && key.bytes().all(is_bare) {
                    out.push_str(key);
                } else {
                    let _ = write!(out, "{key:?}");
                }
            }
            Segment::Index(i) => {
                let _ = write!(out, "[{}]", i + first_index);
            }
        }
    }
    out
}

/// The scanner reached the limit.
struct Stop;

type Step = Result<(), Stop>;

#[derive(Debug, Clone)]
enum Frame {
    Header {
        start: usize,
        keys: Vec<String>,
        array: bool,
    },
    KeyValue {
        start: usize,
        keys: Vec<String>,
    },
    Array,
    InlineTable,
    Str {
        start: usize,
    },
}

struct Scanner<'a> {
    s: &'a [u8],
    pos: usize,
    limit: usize,
    table: Vec<Segment>,
    table_header: Option<usize>,
    /// Entries seen per array of tables, keyed by its rendered path.
    arrays: HashMap<String, usize>,
    stack: Vec<Frame>,
}

fn is_bare(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

fn is_key_start(c: u8) -> bool {
    is_bare(c) || c == b'"' || c == b'\''
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn starts_with(&self, what: &[u8]) -> bool {
        self.s.get(self.pos..).is_some_and(|r| r.starts_with(what))
    }

    /// Stops at the limit. Called before consuming anything that could be
    /// where the error is.
    fn check(&self) -> Step {
        if self.pos >= self.limit {
            Err(Stop)
        } else {
            Ok(())
        }
    }

    fn skip_blanks(&mut self) -> Step {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.check()?;
            self.pos += 1;
        }
        Ok(())
    }

    fn skip_comment(&mut self) -> Step {
        while !matches!(self.peek(), None | Some(b'\n')) {
            self.check()?;
            self.pos += 1;
        }
        Ok(())
    }

    fn document(&mut self) -> Result<std::convert::Infallible, Stop> {
        loop {
            self.skip_blanks()?;
            match self.peek() {
                None => return Err(Stop),
                // Headers and keys are read whole before the limit is looked
                // at: an error pointing at their start is about them.
                Some(b'[') => self.header()?,
                Some(c) if is_key_start(c) => self.key_value(true)?,
                Some(b'#') => self.skip_comment()?,
                Some(_) => {
                    self.check()?;
                    self.pos += 1;
                }
            }
        }
    }

    /// A dotted key, read whole and without regard to the limit: keys are
    /// short and on one line.
    fn keys(&mut self) -> Vec<String> {
        let mut keys = Vec::new();
        loop {
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.pos += 1;
            }
            let key = match self.peek() {
                Some(q @ (b'"' | b'\'')) => {
                    self.pos += 1;
                    let mut key = Vec::new();
                    while let Some(c) = self.peek() {
                        if c == q || c == b'\n' {
                            break;
                        }
                        if c == b'\\' && q == b'"' {
                            self.pos += 1;
                            match self.peek() {
                                Some(b'\n') | None => break,
                                Some(e) => key.push(e),
                            }
                        } else {
                            key.push(c);
                        }
                        self.pos += 1;
                    }
                    if self.peek() == Some(q) {
                        self.pos += 1;
                    }
                    String::from_utf8_lossy(&key).into_owned()
                }
                Some(c) if is_bare(c) => {
                    let start = self.pos;
                    while self.peek().is_some_and(is_bare) {
                        self.pos += 1;
                    }
                    String::from_utf8_lossy(&self.s[start..self.pos]).into_owned()
                }
                _ => break,
            };
            keys.push(key);
            let before_dot = self.pos;
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.pos += 1;
            }
            if self.peek() == Some(b'.') {
                self.pos += 1;
            } else {
                self.pos = before_dot;
                break;
            }
        }
        keys
    }

    fn header(&mut self) -> Step {
        let start = self.pos;
        let array = self.starts_with(b"[[");
        self.pos += if array { 2 } else { 1 };
        let keys = self.keys();
        self.stack.push(Frame::Header {
            start,
            keys: keys.clone(),
            array,
        });
        self.skip_blanks()?;
        self.check()?;
        let close: &[u8] = if array { b"]]" } else { b"]" };
        if self.starts_with(close) {
            // A "]]" that the offset cuts in two leaves the header open:
            // the scanner never reads past the limit (found by the
            // toml_locate fuzz target: `[[a]][` at the second bracket
            // reported the `[` after it as the construct in error).
            if self.pos + close.len() > self.limit {
                self.pos = self.limit;
                return Err(Stop);
            }
            self.pos += close.len();
        }
        self.table = self.resolve(&keys, array, true);
        self.table_header = Some(start);
        self.stack.pop();
        Ok(())
    }

    /// The full path of a header, the entries of enclosing arrays of
    /// tables included. `commit` counts a new `[[array]]` entry.
    fn resolve(&mut self, keys: &[String], array: bool, commit: bool) -> Vec<Segment> {
        let mut path = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            path.push(Segment::Key(key.clone()));
            let id = dotted(&path, 0);
            if array && i + 1 == keys.len() {
                let seen = self.arrays.entry(id).or_insert(0);
                path.push(Segment::Index(*seen));
                if commit {
                    *seen += 1;
                }
            } else if let Some(&seen) = self.arrays.get(&id) {
                path.push(Segment::Index(seen.saturating_sub(1)));
            }
        }
        path
    }

    fn key_value(&mut self, top: bool) -> Step {
        let start = self.pos;
        let keys = self.keys();
        self.stack.push(Frame::KeyValue { start, keys });
        self.skip_blanks()?;
        self.check()?;
        if self.peek() == Some(b'=') {
            self.pos += 1;
            self.skip_blanks()?;
            self.check()?;
            if !matches!(self.peek(), Some(b'\n' | b'#' | b',' | b'}') | None) {
                self.value()?;
            }
        }
        if top {
            // The rest of the line belongs to the key: text after a value is
            // an error about that key.
            loop {
                self.skip_blanks()?;
                match self.peek() {
                    None => break,
                    Some(b'#') => self.skip_comment()?,
                    Some(b'\n') => {
                        self.check()?;
                        self.pos += 1;
                        break;
                    }
                    Some(_) => {
                        self.check()?;
                        self.pos += 1;
                    }
                }
            }
        }
        self.stack.pop();
        Ok(())
    }

    fn value(&mut self) -> Step {
        self.check()?;
        match self.peek() {
            Some(b'"') if self.starts_with(b"\"\"\"") => self.multi_line_string(b"\"\"\"", true),
            Some(b'\'') if self.starts_with(b"'''") => self.multi_line_string(b"'''", false),
            Some(b'"') => self.string(true),
            Some(b'\'') => self.string(false),
            Some(b'[') => self.array(),
            Some(b'{') => self.inline_table(),
            _ => {
                // Numbers, booleans, dates: nothing in them opens anything.
                let start = self.pos;
                while !matches!(
                    self.peek(),
                    None | Some(b' ' | b'\t' | b'\r' | b'\n' | b',' | b']' | b'}' | b'#')
                ) {
                    self.check()?;
                    self.pos += 1;
                }
                if self.pos == start {
                    self.pos += 1;
                }
                Ok(())
            }
        }
    }

    fn string(&mut self, escapes: bool) -> Step {
        let quote = self.s[self.pos];
        self.stack.push(Frame::Str { start: self.pos });
        self.pos += 1;
        loop {
            self.check()?;
            match self.peek() {
                None | Some(b'\n') => break,
                Some(b'\\') if escapes => {
                    self.pos += 1;
                    self.check()?;
                    self.pos += 1;
                }
                Some(c) => {
                    self.pos += 1;
                    if c == quote {
                        break;
                    }
                }
            }
        }
        self.stack.pop();
        Ok(())
    }

    fn multi_line_string(&mut self, delimiter: &[u8], escapes: bool) -> Step {
        self.stack.push(Frame::Str { start: self.pos });
        self.pos += delimiter.len();
        loop {
            self.check()?;
            if self.starts_with(delimiter) {
                self.pos += delimiter.len();
                // Up to two quotes of the content may touch the delimiter.
                for _ in 0..2 {
                    if self.peek() == Some(delimiter[0]) {
                        self.pos += 1;
                    }
                }
                break;
            }
            if escapes && self.peek() == Some(b'\\') {
                self.pos += 1;
                self.check()?;
            }
            self.pos += 1;
        }
        self.stack.pop();
        Ok(())
    }

    fn array(&mut self) -> Step {
        self.stack.push(Frame::Array);
        self.pos += 1;
        loop {
            self.check()?;
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                Some(b' ' | b'\t' | b'\r' | b'\n' | b',') => self.pos += 1,
                Some(b'#') => self.skip_comment()?,
                _ => self.value()?,
            }
        }
        self.stack.pop();
        Ok(())
    }

    fn inline_table(&mut self) -> Step {
        self.stack.push(Frame::InlineTable);
        self.pos += 1;
        loop {
            self.check()?;
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(c) if is_key_start(c) => self.key_value(false)?,
                _ => self.pos += 1,
            }
        }
        self.stack.pop();
        Ok(())
    }

    fn place(&mut self, text: &str, offset: usize) -> Place {
        let stack = std::mem::take(&mut self.stack);
        let mut table = self.table.clone();
        let mut table_header = self.table_header;
        let mut path = table.clone();
        let mut outermost: Option<(OpenKind, usize, Vec<Segment>)> = None;
        let mut innermost_string = None;
        for frame in &stack {
            match frame {
                Frame::Header { start, keys, array } => {
                    table = self.resolve(keys, *array, false);
                    table_header = Some(*start);
                    path = table.clone();
                    outermost.get_or_insert((OpenKind::Header, *start, path.clone()));
                }
                Frame::KeyValue { start, keys } => {
                    path.extend(keys.iter().cloned().map(Segment::Key));
                    outermost.get_or_insert((OpenKind::KeyValue, *start, path.clone()));
                }
                Frame::Array | Frame::InlineTable => {}
                Frame::Str { start } => innermost_string = Some(*start),
            }
        }
        let open = match (stack.last(), innermost_string, outermost) {
            (Some(Frame::Str { .. }), Some(start), _) => Some(Open {
                kind: OpenKind::String,
                start: position(text, start),
                path: path.clone(),
            }),
            (_, _, Some((kind, start, path))) => Some(Open {
                kind,
                start: position(text, start),
                path,
            }),
            _ => None,
        };
        Place {
            at: position(text, offset),
            path,
            open,
            table_header: table_header.map(|o| position(text, o)),
        }
    }
}

/// Line and column (both 1-based) of a byte offset into `text`.
pub fn position(text: &str, offset: usize) -> Position {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        offset,
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests;
