//! Why an organisation description could not be read: always the file, the
//! line and the field, and what to write instead.

use thiserror::Error;

/// Errors of the planner. They are all the administrator's input: the plan
/// itself never fails, it reports problems as findings.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// The file is not valid TOML, or does not have the expected shape
    /// (unknown key, wrong type, missing field). For broken TOML the line
    /// and column are where the broken construct starts (an unclosed `[`
    /// or quote), and the message says where the parser noticed it.
    #[error("{file}, line {line}, column {column}{}: {message}{}", field_suffix(.field), fix_suffix(.fix))]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        /// Dotted path of the field, tables of arrays counted from 1
        /// (`server[2].site`); `None` when the error is outside any table
        /// or key.
        field: Option<String>,
        message: String,
        fix: Option<String>,
    },
    /// The TOML is well-formed but describes something inconsistent
    /// (a server in a site that is not described, no client-access name...).
    #[error("{file}{}, field {field}: {message} Fix: {fix}", line_suffix(*.line))]
    Invalid {
        file: String,
        line: Option<usize>,
        field: String,
        message: String,
        fix: String,
    },
}

impl PlanError {
    /// The field the error is about (`server[2].site`), when one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            PlanError::Syntax { field, .. } => field.as_deref(),
            PlanError::Invalid { field, .. } => Some(field),
        }
    }

    /// The line the error is about, counted from 1, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            PlanError::Syntax { line, .. } => Some(*line),
            PlanError::Invalid { line, .. } => *line,
        }
    }
}

fn field_suffix(field: &Option<String>) -> String {
    match field {
        Some(field) => format!(", field {field}"),
        None => String::new(),
    }
}

fn fix_suffix(fix: &Option<String>) -> String {
    match fix {
        Some(fix) => format!(" Fix: {fix}"),
        None => String::new(),
    }
}

fn line_suffix(line: Option<usize>) -> String {
    match line {
        Some(line) => format!(", line {line}"),
        None => String::new(),
    }
}
