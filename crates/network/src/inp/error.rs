//! Located input errors: file, line, section, field and what was expected.

use std::fmt;

/// One problem in an `.inp` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InpError {
    pub file: String,
    /// 1-based line number; 0 when the problem is not on one line.
    pub line: usize,
    pub section: Option<String>,
    /// The field (column name) at fault, when one is.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for InpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        write!(f, ":")?;
        if let Some(s) = &self.section {
            write!(f, " [{s}]")?;
        }
        if let Some(fl) = &self.field {
            write!(f, " {fl}:")?;
        }
        write!(f, " {}", self.message)
    }
}

/// All the problems found in one pass over a file (at most [`MAX_ERRORS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InpErrors {
    pub errors: Vec<InpError>,
    /// True when more errors were found than are listed.
    pub truncated: bool,
}

/// How many errors one read reports before it stops listing them.
pub const MAX_ERRORS: usize = 50;

impl fmt::Display for InpErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        if self.truncated {
            write!(
                f,
                "\n(more errors not shown; the first {MAX_ERRORS} are listed)"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for InpErrors {}
