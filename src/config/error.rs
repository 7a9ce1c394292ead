//! Errors that point at the file, the line and the field.

use std::fmt;
use std::ops::Range;
use std::path::Path;

/// A problem in a config or strategy file: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field (dotted path) the problem is in, when known.
    pub field: Option<String>,
    pub message: String,
}

impl FileError {
    pub fn new(file: &Path, message: impl Into<String>) -> Self {
        FileError { file: file.display().to_string(), line: None, field: None, message: message.into() }
    }

    /// At the field whose value spans `span` in `source`.
    pub fn at(file: &Path, source: &str, span: Range<usize>, field: &str, message: impl Into<String>) -> Self {
        FileError {
            file: file.display().to_string(),
            line: Some(line_of(source, span.start)),
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// From a TOML syntax or shape error (unknown field, wrong type, missing field).
    pub(crate) fn from_toml(file: &Path, source: &str, err: &toml::de::Error) -> Self {
        FileError {
            file: file.display().to_string(),
            line: err.span().map(|s| line_of(source, s.start)),
            field: err.span().and_then(|s| field_at(source, s.start)),
            message: err.message().trim().to_string(),
        }
    }
}

/// The dotted key written at byte `offset`: the key of that line (`per_order = …`) under the
/// nearest table header above it (`[budget]`), as `budget.per_order`. `None` where the line has
/// no `key =`.
pub(crate) fn field_at(source: &str, offset: usize) -> Option<String> {
    let before = source.get(..offset.min(source.len()))?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = source[line_start..].lines().next().unwrap_or("");
    let key = line.split_once('=')?.0.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_start_matches('[').trim_end_matches(']').trim().to_string());
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FileError {}

/// 1-based line number of a byte offset.
pub(crate) fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}
