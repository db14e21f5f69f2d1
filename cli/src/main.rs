//! The `fleetform` binary: parses the command line, runs one command, and maps the outcome
//! to an exit code in one place.

use std::process::ExitCode;

use clap::Parser;
use fleetform_cli::{Outcome, commands, terraform_style};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    init_logging();
    // One TLS crypto provider for every client in the process (kube, reqwest): with two
    // linked, rustls cannot pick one by itself.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match commands::Cli::try_parse_from(terraform_style(std::env::args_os())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match commands::run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(1),
        Ok(Outcome::Changes) => ExitCode::from(2),
        Ok(Outcome::NeedsFormatting) => ExitCode::from(3),
        Err(e) => {
            eprintln!("Error: {e:?}");
            ExitCode::from(1)
        }
    }
}

/// `FLEETFORM_LOG=debug` (or `trace`, ...) turns on fleetform's logs on stderr: its own
/// crates at that level, plus one line per Kubernetes API request (method, path, status,
/// time) when it completes; libraries' own chatter stays at warnings. Any other value is
/// a full tracing filter (`FLEETFORM_LOG=hyper=debug,fleetform=trace`).
fn init_logging() {
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer, filter::filter_fn, fmt};

    let Ok(setting) = std::env::var("FLEETFORM_LOG") else {
        return;
    };
    let level = setting.trim().to_ascii_lowercase();
    let (events, requests) = match level.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" => (
            format!("warn,fleetform={level}"),
            Some(format!("kube_client={level}")),
        ),
        _ => (setting.clone(), None),
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let events = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_filter(EnvFilter::new(events));
    // kube's client opens an "HTTP" span per request and records the status on it; its
    // close line carries method, URL, status and time.
    let requests = requests.map(|directives| {
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .with_span_events(FmtSpan::CLOSE)
            .with_filter(EnvFilter::new(directives))
            .with_filter(filter_fn(|m| m.is_span() && m.name() == "HTTP"))
    });
    let _ = tracing_subscriber::registry()
        .with(events)
        .with(requests)
        .try_init();
}
