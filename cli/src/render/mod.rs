//! Output. The only place that writes to the terminal: diagnostics for people (miette)
//! and for machines (Terraform's JSON shapes).

pub mod console;
mod diff;
pub mod human;
pub mod json;
mod json_checks;
mod json_config;
pub mod outputs;
pub mod plan;
pub mod progress;
pub mod schema;
pub mod state;
pub mod status;
pub mod status_json;
mod term;
mod ui;

use std::io::IsTerminal;

/// Writes command output to stdout. A reader that closed the pipe (`| head`) ends the
/// output normally rather than as an error, as ripgrep does.
pub fn stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Whether to use color.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// ANSI colors.
    On,
    /// Plain text.
    Off,
}

impl Color {
    /// Color unless `-no-color` was given, `NO_COLOR` is set, or stderr is not a terminal.
    pub fn choose(no_color: bool) -> Color {
        if no_color || std::env::var_os("NO_COLOR").is_some() || !std::io::stderr().is_terminal() {
            Color::Off
        } else {
            Color::On
        }
    }

    /// Color unless `-no-color` was given, `NO_COLOR` is set, or stdout is not a terminal:
    /// for commands whose output itself is coloured.
    pub fn for_stdout(no_color: bool) -> Color {
        if no_color || std::env::var_os("NO_COLOR").is_some() || !std::io::stdout().is_terminal() {
            Color::Off
        } else {
            Color::On
        }
    }
}
