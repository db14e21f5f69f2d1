//! The text of every file the run read, so that any diagnostic can show its snippet.

use std::ops::Range;
use std::path::PathBuf;

use fleetform_sdk::{SourceFile, SourceRange};

use super::Loc;

/// An index into [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// Every file read in a run.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Adds a file and returns its id.
    pub fn add(
        &mut self,
        path: impl Into<PathBuf>,
        text: impl Into<std::sync::Arc<str>>,
    ) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile::new(path, text));
        id
    }

    /// The file with `id`.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// The bytes of every file added so far.
    pub fn total_bytes(&self) -> usize {
        self.files.iter().map(|f| f.text().len()).sum()
    }

    /// Every file, in the order read.
    pub fn iter(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter()
    }

    /// A range of a file.
    pub fn range(&self, loc: &Loc) -> SourceRange {
        self.get(loc.file).range(loc.span.clone())
    }

    /// A range from a file and span.
    pub fn range_of(&self, file: FileId, span: Range<usize>) -> SourceRange {
        self.get(file).range(span)
    }

    /// The text of a location.
    pub fn text(&self, loc: &Loc) -> &str {
        let text = self.get(loc.file).text();
        text.get(loc.span.clone()).unwrap_or("")
    }
}
