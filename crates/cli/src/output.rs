//! Printing: JSON for scripts, tables for people.

use std::io::Write;

use serde::Serialize;

pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    // Buffered: stdout is line-buffered, and a big list would otherwise
    // cost a write per line.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

pub fn line(text: impl AsRef<str>) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(out, "{}", text.as_ref())?;
    out.flush()?;
    Ok(())
}

/// Notes about what a command did: on stderr, so stdout stays data.
pub fn note(text: impl AsRef<str>) {
    eprintln!("{}", text.as_ref());
}

/// A warning on stderr, after the data: coloured only when stderr is a
/// terminal (and `NO_COLOR` is not set), so logs and pipes get plain text.
pub fn warning(text: impl AsRef<str>, severe: bool) {
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let text = text.as_ref();
    if colour {
        let code = if severe { "1;31" } else { "33" };
        eprintln!("\x1b[{code}mwarning:\x1b[0m {text}");
    } else {
        eprintln!("warning: {text}");
    }
}

/// The expiry warnings of bound certificates, after a listing.
pub fn expiry_warnings<'a>(views: impl IntoIterator<Item = &'a mailcert_lifecycle::CertView>) {
    for view in views {
        if let Some(text) = view.expiry_warning() {
            let severe = matches!(
                view.expiry,
                Some(mailcert_lifecycle::Expiry::Expired { .. })
            );
            warning(text, severe);
        }
    }
}

/// Left-aligned columns, as `Format-Table` prints them. Hand-written:
/// a general table crate spent 40 % of `list`'s time on 10,000 rows.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::with_capacity((rows.len() + 2) * (widths.iter().sum::<usize>() + 8));
    let mut push_row = |cells: &mut dyn Iterator<Item = &str>| {
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
            }
        }
        out.push('\n');
    };
    push_row(&mut header.iter().copied());
    let rules: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    push_row(&mut rules.iter().map(String::as_str));
    for row in &rows {
        push_row(&mut row.iter().map(String::as_str));
    }
    out
}
