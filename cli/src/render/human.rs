//! Diagnostics for people, through miette: the summary, a snippet of the file with the
//! place labelled, the detail, and places in other files as related reports.

use std::fmt;

use fleetform_planner::config::Config;
use fleetform_sdk::{Diagnostic, Diagnostics, Severity, SourceRange};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use super::Color;

/// Prints every diagnostic to stderr.
pub fn diagnostics(config: &Config, diags: &Diagnostics, color: Color) {
    let theme = match color {
        Color::On => GraphicalTheme::unicode(),
        Color::Off => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
    for diag in diags {
        let report = Report::new(config, diag);
        let mut out = String::new();
        if handler.render_report(&mut out, &report).is_err() {
            out = format!("{diag}\n");
        }
        eprintln!("{out}");
    }
}

/// Like [`diagnostics`]; with `compact` (Terraform's `-compact-warnings`), warnings that
/// come without errors are listed by summary and place only.
pub fn diagnostics_with(config: &Config, diags: &Diagnostics, color: Color, compact: bool) {
    if !compact || diags.has_errors() || diags.warning_count() == 0 {
        return diagnostics(config, diags, color);
    }
    let mut out = String::from("\nWarnings:\n\n");
    for d in diags {
        out.push_str(&format!("- {}\n", d.summary));
        if let Some(at) = &d.subject {
            out.push_str(&format!(
                "  on {} line {}\n",
                at.file.display(),
                at.start.line
            ));
        }
    }
    out.push_str("\nTo see the full warning notes, run fleetform without -compact-warnings.\n");
    eprint!("{out}");
}

/// A diagnostic prepared for miette: one source file per report, so places in other files
/// become related reports.
#[derive(Debug)]
struct Report {
    /// None for a related place, which miette shows as advice.
    severity: Option<Severity>,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

fn source_of(config: &Config, range: &SourceRange) -> Option<NamedSource<String>> {
    let file = config
        .sources
        .iter()
        .find(|f| f.path().as_ref() == range.file.as_ref())?;
    Some(
        NamedSource::new(range.file.display().to_string(), file.text().to_string())
            .with_language("hcl"),
    )
}

fn span(range: &SourceRange) -> SourceSpan {
    SourceSpan::new(
        range.start.byte.into(),
        range.end.byte.saturating_sub(range.start.byte),
    )
}

impl Report {
    fn new(config: &Config, diag: &Diagnostic) -> Report {
        let mut help = diag.detail.clone();
        if let Some(h) = &diag.help {
            help = if help.is_empty() {
                h.clone()
            } else {
                format!("{help}\n{h}")
            };
        }
        if let Some(addr) = &diag.address {
            help = format!("{help}\n(while evaluating {addr})");
        }
        let mut labels = Vec::new();
        let mut related = Vec::new();
        let source = diag.subject.as_ref().and_then(|s| source_of(config, s));
        if let Some(subject) = &diag.subject {
            labels.push(LabeledSpan::new_primary_with_span(
                Some(
                    diag.label
                        .clone()
                        .unwrap_or_else(|| diag.summary.to_lowercase()),
                ),
                span(subject),
            ));
        }
        for label in &diag.related {
            let same_file = diag
                .subject
                .as_ref()
                .is_some_and(|s| s.file == label.range.file);
            if same_file {
                labels.push(LabeledSpan::new_with_span(
                    Some(label.message.clone()),
                    span(&label.range),
                ));
            } else {
                related.push(Report {
                    severity: None,
                    message: format!("{}: {}", label.range, label.message),
                    help: None,
                    source: source_of(config, &label.range),
                    labels: vec![LabeledSpan::new_primary_with_span(
                        Some(label.message.clone()),
                        span(&label.range),
                    )],
                    related: Vec::new(),
                });
            }
        }
        let message = match &diag.subject {
            Some(subject) => format!("{}\n  at {subject}", diag.summary),
            None => diag.summary.clone(),
        };
        Report {
            severity: Some(diag.severity),
            message,
            help: (!help.is_empty()).then_some(help),
            source,
            labels,
            related,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Some(Severity::Error) => miette::Severity::Error,
            Some(Severity::Warning) => miette::Severity::Warning,
            None => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.source.is_none() || self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}
