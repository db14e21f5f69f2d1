//! `fleetform fmt [-check] [-recursive] [-diff] [-list=false] [-write=false] [PATH...]`:
//! rewrites `*.hcl` files in canonical style, as `terraform fmt` does for `*.tf` files.
//!
//! Each PATH is a directory (its `*.hcl` files, including `*.auto.hcl`; subdirectories
//! too with `-recursive`) or a file; the default is the current directory, and `-` reads
//! standard input and writes the result to standard output. Changed files are rewritten
//! in place (atomically, keeping their mode) and their names listed. `-check` writes
//! nothing and exits 3 when a file is not formatted. A file that does not parse is
//! reported as a diagnostic, exit 1, and the other files are still processed.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use clap::{ArgAction, Args};
use fleetform_planner::config::{Config, format_source};
use fleetform_sdk::{Diagnostic, Diagnostics};

use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `fmt`.
#[derive(Args)]
pub struct FmtArgs {
    /// Check whether the files are formatted: list those that are not, write nothing, and
    /// exit with status 3 if there are any.
    #[arg(long)]
    check: bool,
    /// Also process the files in subdirectories.
    #[arg(long)]
    recursive: bool,
    /// Print the changes as unified diffs.
    #[arg(long)]
    diff: bool,
    /// List the files whose formatting differs: -list=false turns this off.
    #[arg(long, action = ArgAction::Set, value_name = "BOOL", num_args = 0..=1,
          require_equals = true, default_value_t = true, default_missing_value = "true")]
    list: bool,
    /// Write the result to the files: -write=false turns this off.
    #[arg(long, action = ArgAction::Set, value_name = "BOOL", num_args = 0..=1,
          require_equals = true, default_value_t = true, default_missing_value = "true")]
    write: bool,
    /// Do not color the output.
    #[arg(long)]
    no_color: bool,
    /// Files or directories to format (default: the current directory); `-` formats
    /// standard input to standard output.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// What to do with each file.
struct Mode {
    list: bool,
    write: bool,
    diff: bool,
    /// Print every result: nothing else was asked for (`-list=false -write=false`).
    print: bool,
}

/// What happened to the files.
#[derive(Default)]
struct Run {
    diags: Diagnostics,
    /// The files that did not parse, for the diagnostics' snippets.
    config: Config,
    /// Some file was not formatted.
    changed: bool,
}

pub fn run(args: FmtArgs) -> miette::Result<Outcome> {
    let color = Color::choose(args.no_color);
    let stdin = args.paths.iter().any(|p| p.as_os_str() == "-");
    if stdin && args.paths.len() > 1 {
        return Err(miette::miette!(
            "`-` (standard input) cannot be combined with other paths"
        ));
    }
    let mut run = Run::default();
    if stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| miette::miette!("cannot read standard input: {e}"))?;
        // Standard input is never listed or written back; without -check or -diff the
        // result goes to standard output.
        let mode = Mode {
            list: false,
            write: false,
            diff: args.diff,
            print: !args.check && !args.diff,
        };
        run.file(Path::new("<stdin>"), &text, &mode, None)?;
    } else {
        let write = args.write && !args.check;
        let mode = Mode {
            list: args.list,
            write,
            diff: args.diff,
            print: !args.check && !args.list && !write && !args.diff,
        };
        let paths = if args.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.paths.clone()
        };
        for path in &paths {
            run.path(path, &mode, args.recursive)?;
        }
    }
    render::human::diagnostics(&run.config, &run.diags, color);
    Ok(if run.diags.has_errors() {
        Outcome::Failure
    } else if args.check && run.changed {
        Outcome::NeedsFormatting
    } else {
        Outcome::Success
    })
}

impl Run {
    /// A path from the command line: a directory or a file.
    fn path(&mut self, path: &Path, mode: &Mode, recursive: bool) -> miette::Result<()> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => self.dir(path, mode, recursive),
            Ok(_) => self.read(path, mode),
            Err(e) => {
                self.diags.push(Diagnostic::error(
                    "No file or directory",
                    format!("There is no file or directory at {}: {e}.", path.display()),
                ));
                Ok(())
            }
        }
    }

    /// The `*.hcl` files of a directory in name order, and with `recursive` its
    /// subdirectories as they come. Hidden entries (`.git`, `.terraform`) are skipped.
    fn dir(&mut self, dir: &Path, mode: &Mode, recursive: bool) -> miette::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                self.diags.push(Diagnostic::error(
                    "Unreadable directory",
                    format!("The directory {} could not be read: {e}.", dir.display()),
                ));
                return Ok(());
            }
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            // Links to directories are not followed: they could loop.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if recursive {
                    self.dir(&path, mode, recursive)?;
                }
            } else if name.ends_with(".hcl") && path.is_file() {
                self.read(&path, mode)?;
            }
        }
        Ok(())
    }

    fn read(&mut self, path: &Path, mode: &Mode) -> miette::Result<()> {
        let path = display_path(path);
        match std::fs::read_to_string(&path) {
            Ok(text) => self.file(&path, &text, mode, Some(&path)),
            Err(e) => {
                self.diags.push(Diagnostic::error(
                    "Unreadable file",
                    format!("The file {} could not be read: {e}.", path.display()),
                ));
                Ok(())
            }
        }
    }

    /// Formats one file's text; `target` is where to write the result back, if anywhere.
    fn file(
        &mut self,
        name: &Path,
        text: &str,
        mode: &Mode,
        target: Option<&Path>,
    ) -> miette::Result<()> {
        let formatted = match format_source(text) {
            Ok(formatted) => formatted,
            Err(e) => {
                let file = self.config.sources.add(name, text);
                let offset = e.location().offset().min(text.len());
                let message = e.message();
                self.diags.push(
                    Diagnostic::error("Invalid syntax", sentence(message))
                        .at(Some(self.config.sources.range_of(file, offset..offset + 1)))
                        .label(message.to_owned()),
                );
                return Ok(());
            }
        };
        let output = |text: &str| {
            render::stdout(text).map_err(|e| miette::miette!("cannot write output: {e}"))
        };
        if formatted != text {
            self.changed = true;
            if mode.list {
                output(&format!("{}\n", name.display()))?;
            }
            if mode.write
                && let Some(target) = target
                && let Err(e) = write_atomically(target, &formatted)
            {
                self.diags.push(Diagnostic::error(
                    "Cannot write file",
                    format!("The file {} could not be written: {e}.", target.display()),
                ));
            }
            if mode.diff {
                let name = name.display().to_string();
                let diff = similar::TextDiff::from_lines(text, &formatted)
                    .unified_diff()
                    .header(&format!("old/{name}"), &format!("new/{name}"))
                    .to_string();
                output(&diff)?;
            }
        }
        if mode.print {
            output(&formatted)?;
        }
        Ok(())
    }
}

/// `./a/./b.hcl` as `a/b.hcl`, the way the file is named in listings and diagnostics.
fn display_path(path: &Path) -> PathBuf {
    let cleaned: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if cleaned.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cleaned
    }
}

/// The parser's message as a sentence.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => "The file could not be parsed.".to_owned(),
    }
}

/// Replaces a file's contents through a temporary file in the same directory and a
/// rename, so that a reader never sees half a file; keeps the file's permissions and, for
/// a symbolic link, writes the file it points to.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let target = std::fs::canonicalize(path)?;
    let permissions = std::fs::metadata(&target)?.permissions();
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".fleetform-fmt-")
        .tempfile_in(dir)?;
    temp.write_all(text.as_bytes())?;
    temp.as_file().sync_all()?;
    std::fs::set_permissions(temp.path(), permissions)?;
    temp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}
