//! What went wrong in a configuration, where, and what was expected.
//!
//! Every problem is one [`Diagnostic`]; loading collects all of them (in
//! the order of the file) into one [`ConfigError`]. A diagnostic's message
//! names the key's full path, the value found and what was expected:
//!
//! ```text
//! config error: mptcp.limits.subflows = 12: expected an integer from 0 to 8 (Linux's limit)
//!   --> serve.toml:14:12
//!    |
//! 14 | subflows = 12
//!    |            ^^
//! ```

use std::fmt;
use std::path::PathBuf;

/// The kind of a [`Diagnostic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// The text is not TOML (the message is toml's, with line and column).
    Syntax,
    /// A key that the schema does not have at that level.
    UnknownKey,
    /// A value of the wrong type, out of range, or malformed.
    InvalidValue,
    /// A required key is absent.
    Missing,
    /// Two or more settings that cannot hold together.
    Conflict,
    /// An override (`--set PATH=VALUE`) whose path cannot be used.
    BadOverride,
}

/// Where a diagnostic points in a configuration text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file the text came from (`None` for a string).
    pub file: Option<PathBuf>,
    /// Line, counted from 1.
    pub line: usize,
    /// Column in characters, counted from 1.
    pub column: usize,
    /// The whole text of that line.
    pub line_text: String,
    /// How many characters to underline, at least 1.
    pub width: usize,
}

impl Location {
    /// The location of byte range `span` of `text`.
    pub(crate) fn of(file: Option<PathBuf>, text: &str, span: std::ops::Range<usize>) -> Location {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let end = floor_char_boundary(text, span.end.clamp(start, text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        let line_text = text[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        let width = text[start..end.min(line_end).max(start)]
            .chars()
            .count()
            .max(1);
        Location {
            file,
            line,
            column,
            line_text,
            width,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Location {
    /// Renders `--> file:line:column`, then the line with the value underlined.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gutter = self.line.to_string().len();
        let pad = " ".repeat(gutter);
        match &self.file {
            Some(file) => writeln!(
                f,
                "{pad}--> {}:{}:{}",
                file.display(),
                self.line,
                self.column
            )?,
            None => writeln!(f, "{pad}--> line {}, column {}", self.line, self.column)?,
        }
        writeln!(f, "{pad} |")?;
        writeln!(f, "{} | {}", self.line, self.line_text)?;
        write!(
            f,
            "{pad} | {}{}",
            " ".repeat(self.column - 1),
            "^".repeat(self.width)
        )
    }
}

/// One problem in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    kind: ErrorKind,
    message: String,
    location: Option<Location>,
}

impl Diagnostic {
    pub(crate) fn new(kind: ErrorKind, message: String, location: Option<Location>) -> Self {
        Diagnostic {
            kind,
            message,
            location,
        }
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the `config error: ` prefix and without the
    /// location, e.g. `tcp.mss = 20: expected an integer from 88 to 9176`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where in the text the problem is, when it came from a text (not
    /// from an override or a value built in code).
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config error: {}", self.message)?;
        if let Some(loc) = &self.location {
            write!(f, "\n{loc}")?;
        }
        Ok(())
    }
}

/// Everything wrong with a configuration: one or more [`Diagnostic`]s, in
/// the order of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    /// An error of one diagnostic.
    pub(crate) fn one(kind: ErrorKind, message: String) -> Self {
        ConfigError {
            diagnostics: vec![Diagnostic::new(kind, message, None)],
        }
    }

    /// `diagnostics` must not be empty.
    pub(crate) fn from_diagnostics(diagnostics: Vec<Diagnostic>) -> Self {
        debug_assert!(!diagnostics.is_empty());
        ConfigError { diagnostics }
    }

    /// All problems found (never empty).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The kind of the first problem.
    pub fn kind(&self) -> ErrorKind {
        self.diagnostics[0].kind
    }

    /// The message of the first problem (see [`Diagnostic::message`]).
    pub fn message(&self) -> &str {
        &self.diagnostics[0].message
    }

    /// The messages of all problems.
    pub fn messages(&self) -> Vec<&str> {
        self.diagnostics.iter().map(|d| d.message()).collect()
    }
}

impl fmt::Display for ConfigError {
    /// Each diagnostic as `config error: MESSAGE` followed by its location
    /// (if any); diagnostics are separated by a line break.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
