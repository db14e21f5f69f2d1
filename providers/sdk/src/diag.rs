//! Diagnostics: problems in the user's files (and later, at the engine boundary, failures
//! of operations) as plain values that can be collected, carried and rendered.
//!
//! A diagnostic points at a [`SourceRange`] with byte offsets and 1-based line/column, the
//! shape of Terraform's JSON diagnostics. Rendering (miette, JSON) happens at the edge, in the
//! CLI; nothing here prints.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Something the user should look at; does not stop the run.
    Warning,
    /// The run cannot go on.
    Error,
}

/// A position in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// 0-based byte offset.
    pub byte: usize,
}

/// A range of a source file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceRange {
    /// The file, as the user named it (relative to the working directory where possible).
    pub file: Arc<Path>,
    /// First character of the range.
    pub start: Pos,
    /// One past the last character of the range.
    pub end: Pos,
}

impl SourceRange {
    /// The byte range, for slicing the file's text.
    pub fn bytes(&self) -> std::ops::Range<usize> {
        self.start.byte..self.end.byte
    }
}

/// Prints `file:line:column`, the way compilers and editors link to a place.
impl fmt::Display for SourceRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.file.display(),
            self.start.line,
            self.start.column
        )
    }
}

/// A secondary place a diagnostic points at, with what to say there.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Where.
    pub range: SourceRange,
    /// What to say there.
    pub message: String,
}

/// One problem.
///
/// Messages follow Terraform's shape: a short `summary` ("Unsupported argument"), a `detail`
/// sentence or two, and a `subject` range whose snippet is shown with the `label` text.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A short title.
    pub summary: String,
    /// The explanation.
    pub detail: String,
    /// The place the problem is at.
    pub subject: Option<SourceRange>,
    /// What to say at the subject, shown under the snippet.
    pub label: Option<String>,
    /// Other places that explain the problem (the other end of a duplicate, the steps of a
    /// cycle).
    pub related: Vec<Label>,
    /// A suggestion for fixing it.
    pub help: Option<String>,
    /// The attribute of the resource's block the problem is in, as a dotted path
    /// ("pod_cidr", "certificates.renew_before"), for providers that have no source ranges:
    /// the engine points `subject` at that attribute.
    pub attribute: Option<String>,
    /// The resource or module instance the problem belongs to, in address syntax.
    pub address: Option<String>,
}

impl Diagnostic {
    /// An error with a summary and detail.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            subject: None,
            label: None,
            related: Vec::new(),
            help: None,
            address: None,
            attribute: None,
        }
    }

    /// A warning with a summary and detail.
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(summary, detail)
        }
    }

    /// Points the diagnostic at `range`.
    pub fn at(mut self, range: Option<SourceRange>) -> Diagnostic {
        self.subject = range;
        self
    }

    /// Sets the text shown at the subject.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Adds a secondary place.
    pub fn related(mut self, range: Option<SourceRange>, message: impl Into<String>) -> Diagnostic {
        if let Some(range) = range {
            self.related.push(Label {
                range,
                message: message.into(),
            });
        }
        self
    }

    /// Adds a suggestion.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Names the attribute (a dotted path into the resource's block) the problem is in.
    pub fn attribute(mut self, path: impl Into<String>) -> Diagnostic {
        self.attribute = Some(path.into());
        self
    }

    /// Names the resource or module instance concerned.
    pub fn address(mut self, address: impl Into<String>) -> Diagnostic {
        self.address = Some(address.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Prints `file:line:col: summary: detail`, a one-line form for logs and tests.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(subject) = &self.subject {
            write!(f, "{subject}: ")?;
        }
        f.write_str(&self.summary)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// An ordered collection of diagnostics, as returned beside a result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Diagnostics {
        Diagnostics(Vec::new())
    }

    /// Adds one.
    pub fn push(&mut self, diag: Diagnostic) {
        self.0.push(diag);
    }

    /// Adds all of `other`.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }

    /// True when at least one is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// How many errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    /// How many warnings.
    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Iterates in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Sorts by file and position so output is stable whatever order checks ran in, and drops
    /// repeats (the same problem found through two instances of one module call, or by two
    /// checks).
    pub fn sort_and_dedup(&mut self) {
        self.0.sort_by(|a, b| {
            let key = |d: &Diagnostic| {
                (
                    d.subject
                        .as_ref()
                        .map(|s| (s.file.to_path_buf(), s.start.byte, d.summary.clone())),
                    d.address.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        // The same problem at the same place for the same instance is one problem, however
        // it was worded: the first report wins. Instances failing the same way are reported
        // one by one, each with its address.
        self.0.dedup_by(|a, b| {
            a.summary == b.summary && a.subject == b.subject && a.address == b.address
        });
    }

    /// The diagnostics as a vector.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diag: Diagnostic) -> Diagnostics {
        Diagnostics(vec![diag])
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Diagnostics {
        Diagnostics(iter.into_iter().collect())
    }
}

/// One loaded source file, able to turn byte spans into [`SourceRange`]s.
#[derive(Debug, Clone)]
pub struct SourceFile {
    path: Arc<Path>,
    text: Arc<str>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps a file's text.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> SourceFile {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path: Arc::from(path.into()),
            text,
            line_starts,
        }
    }

    /// The path.
    pub fn path(&self) -> &Arc<Path> {
        &self.path
    }

    /// The text.
    pub fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// The position of a byte offset (clamped to the text and to a character boundary).
    pub fn pos(&self, byte: usize) -> Pos {
        let mut byte = byte.min(self.text.len());
        while !self.text.is_char_boundary(byte) {
            byte -= 1;
        }
        let line_index = self.line_starts.partition_point(|&start| start <= byte) - 1;
        let line_start = self.line_starts[line_index];
        Pos {
            line: line_index + 1,
            column: self.text[line_start..byte].chars().count() + 1,
            byte,
        }
    }

    /// The range of a byte span.
    pub fn range(&self, span: std::ops::Range<usize>) -> SourceRange {
        SourceRange {
            file: self.path.clone(),
            start: self.pos(span.start),
            end: self.pos(span.end.max(span.start)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let file = SourceFile::new("main.hcl", "a = 1\nbé = \"x\"\n");
        let r = file.range(10..13);
        assert_eq!((r.start.line, r.start.column), (2, 4));
        assert_eq!(r.to_string(), "main.hcl:2:4");
        assert_eq!(file.pos(999).line, 3);
    }
}
