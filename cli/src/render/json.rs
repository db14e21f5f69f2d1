//! Machine-readable output in Terraform's JSON shapes, so tools written for Terraform read
//! ours unchanged.

use fleetform_planner::config::Config;
use fleetform_sdk::{Diagnostic, Diagnostics, Pos, Severity, SourceRange};
use serde_json::{Value, json};

/// `validate -json`: `{format_version, valid, error_count, warning_count, diagnostics}`.
pub fn validate(config: &Config, diags: &Diagnostics) -> Value {
    json!({
        "format_version": "1.0",
        "valid": !diags.has_errors(),
        "error_count": diags.error_count(),
        "warning_count": diags.warning_count(),
        "diagnostics": diags.iter().map(|d| diagnostic(config, d)).collect::<Vec<_>>(),
    })
}

fn pos(p: &Pos) -> Value {
    json!({ "line": p.line, "column": p.column, "byte": p.byte })
}

fn range(r: &SourceRange) -> Value {
    json!({ "filename": r.file.display().to_string(), "start": pos(&r.start), "end": pos(&r.end) })
}

/// One diagnostic, as in Terraform's JSON output: severity, summary, detail, range and a
/// snippet of the first line of the range.
pub fn diagnostic(config: &Config, d: &Diagnostic) -> Value {
    // Terraform's JSON has no separate help: suggestions are part of the detail.
    let detail = match &d.help {
        Some(help) => format!("{}\n\n{}", d.detail, capitalize(help)),
        None => d.detail.clone(),
    };
    let mut out = json!({
        "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "summary": d.summary,
        "detail": detail,
    });
    if let Some(subject) = &d.subject {
        out["range"] = range(subject);
        if let Some(snippet) = snippet(config, subject) {
            out["snippet"] = snippet;
        }
    }
    if let Some(addr) = &d.address {
        out["address"] = json!(addr);
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect::<String>() + ".")
        .unwrap_or_default()
}

fn snippet(config: &Config, r: &SourceRange) -> Option<Value> {
    let file = config
        .sources
        .iter()
        .find(|f| f.path().as_ref() == r.file.as_ref())?;
    let text = file.text();
    let line_start = text[..r.start.byte.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line_end = text[r.start.byte.min(text.len())..]
        .find('\n')
        .map_or(text.len(), |i| r.start.byte + i);
    let code = &text[line_start..line_end];
    let highlight_start = r.start.byte - line_start;
    let highlight_end = (r.end.byte.min(line_end)).max(r.start.byte) - line_start;
    Some(json!({
        "context": Value::Null,
        "code": code,
        "start_line": r.start.line,
        "highlight_start_offset": highlight_start,
        "highlight_end_offset": highlight_end,
        "values": [],
    }))
}
