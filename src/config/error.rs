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
            field: None,
            message: err.message().trim().to_string(),
        }
    }
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
