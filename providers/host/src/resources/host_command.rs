//! The `host_command` resource: a command run on a host once, and again only when its
//! arguments or `triggers` change. Guards (`creates`, `unless`) make it idempotent the
//! way Ansible's command module is. Commands are argument vectors, never shell strings;
//! shell code goes in `script`, so quoting is always explicit.

use std::collections::BTreeMap;
use std::time::Duration;

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, Attribute, Block, Diagnostic, Diagnostics, Path, PathStep,
    PendingAction, PlanRequest, PlanResponse, ProviderError, Resume, ResumeRequest, Schema, Type,
    Value, parse_duration, secrets,
};

use crate::fleet::{Fleet, Rerun};
use crate::shell::{Invocation, Shell, ps_quote, valid_env_name};
use crate::ssh::{Connection, SessionError};

/// The schema of `resource "host_command"`.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .describe("A command run on a host. Set exactly one of `command` or `script`.")
            .attr(
                "host",
                Attribute::required(Type::String)
                    .force_new()
                    .describe("The host to run on: a `host` resource's id, e.g. host.node1.id."),
            )
            .attr(
                "command",
                Attribute::optional(Type::list(Type::String)).describe(
                    "Argument vector run without a shell, e.g. [\"systemctl\", \"restart\", \"containerd\"].",
                ),
            )
            .attr(
                "script",
                Attribute::optional(Type::String).describe(
                    "Script text fed to `interpreter`: sh on Linux hosts, PowerShell on Windows hosts.",
                ),
            )
            .attr(
                "interpreter",
                Attribute::optional_computed(Type::list(Type::String)).describe(
                    "Program and arguments that run `script` from stdin; default [\"/bin/sh\", \"-eu\"] \
                     or [\"powershell.exe\", \"-NoProfile\", \"-Command\", \"-\"].",
                ),
            )
            .attr(
                "working_dir",
                Attribute::optional(Type::String).describe("Directory to run in (default: the login user's home)."),
            )
            .attr(
                "environment",
                Attribute::optional(Type::map(Type::String)).describe("Environment variables for the command."),
            )
            .attr(
                "sensitive_environment",
                Attribute::optional(Type::map(Type::String))
                    .sensitive()
                    .describe("Environment variables holding secrets (tokens, passwords); never shown."),
            )
            .attr(
                "triggers",
                Attribute::optional(Type::map(Type::String))
                    .force_new()
                    .describe("Arbitrary values; any change replaces the resource and runs the command again."),
            )
            .attr(
                "creates",
                Attribute::optional(Type::String)
                    .describe("Path on the host; when it exists the command is not run."),
            )
            .attr(
                "unless",
                Attribute::optional(Type::list(Type::String))
                    .describe("Guard argument vector; when it exits 0 the command is not run."),
            )
            .attr(
                "timeout",
                Attribute::optional_computed(Type::String)
                    .describe("Longest the command may run, e.g. \"5m\" (default \"10m\")."),
            )
            .attr(
                "expected_exit_codes",
                Attribute::optional_computed(Type::list(Type::Number))
                    .describe("Exit codes that count as success (default [0])."),
            )
            .attr(
                "exit_code",
                Attribute::computed(Type::Number).describe("Exit code of the last run."),
            )
            .attr(
                "stdout",
                Attribute::computed(Type::String).describe("Standard output of the last run (truncated to 64 KiB)."),
            )
            .attr(
                "stderr",
                Attribute::computed(Type::String).describe("Standard error of the last run (truncated to 64 KiB)."),
            )
            .attr(
                "id",
                Attribute::computed(Type::String).describe("Identifier in state, unique per run."),
            ),
    )
}

/// Changing any of these changes what runs, so the command runs again (a replacement).
const RERUN_ON: [&str; 6] = [
    "command",
    "script",
    "interpreter",
    "environment",
    "sensitive_environment",
    "working_dir",
];
const DEFAULT_TIMEOUT: &str = "10m";
/// Captured output beyond this is cut, keeping the end, where errors usually are.
const OUTPUT_LIMIT: usize = 64 * 1024;

/// Checks what the schema cannot: one of command or script, identifier environment names,
/// a duration.
pub(crate) fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let command = config.get("command");
    let script = config.get("script");
    if !command.is_unknown() && !script.is_unknown() && command.is_null() == script.is_null() {
        diags.push(Diagnostic::error(
            "Invalid combination of arguments",
            "Set exactly one of `command` (an argument vector) or `script` (text for the interpreter).",
        ));
    }
    if command.as_list().is_some_and(<[Value]>::is_empty) {
        diags.push(Diagnostic::error(
            "Invalid value for \"command\"",
            "The argument vector is empty: the first element is the program to run.",
        ));
    }
    for attr in ["environment", "sensitive_environment"] {
        for name in config
            .get(attr)
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
        {
            if !valid_env_name(name) {
                diags.push(Diagnostic::error(
                    format!("Invalid value for \"{attr}\""),
                    format!("{name:?} is not a valid environment variable name (letters, digits and _, not starting with a digit)."),
                ));
            }
        }
    }
    if let Some(Err(e)) = config.get("timeout").as_str().map(parse_duration) {
        diags.push(Diagnostic::error(
            "Invalid value for \"timeout\"",
            format!("{e}."),
        ));
    }
    diags
}

/// Plans the command: defaults, and a replacement (the command runs again) when what runs
/// changed. Changing only guards, timeout or accepted exit codes runs nothing.
pub(crate) fn plan(fleet: &Fleet, request: &PlanRequest) -> PlanResponse {
    let mut object = request.proposed.as_object().cloned().unwrap_or_default();
    let host = request.config.get("host").as_str();
    if request.config.get("interpreter").is_null() {
        let interpreter = match host.map(|h| fleet.host(h)) {
            Some(Ok((_, shell))) => Value::List(
                shell
                    .default_interpreter()
                    .into_iter()
                    .map(Value::from)
                    .collect(),
            ),
            _ => Value::Unknown,
        };
        object.insert("interpreter".into(), interpreter);
    }
    // Unset computed arguments arrive unknown: the defaults are known now.
    if request.config.get("timeout").is_null() {
        object.insert("timeout".into(), DEFAULT_TIMEOUT.into());
    }
    if request.config.get("expected_exit_codes").is_null() {
        object.insert(
            "expected_exit_codes".into(),
            Value::List(vec![Value::Number(0.into())]),
        );
    }
    let rerun: Vec<Path> = match &request.prior {
        Some(prior) => RERUN_ON
            .into_iter()
            .filter(|name| prior.get(name) != object.get(*name).unwrap_or(&Value::Null))
            .map(|name| vec![PathStep::Attr(name.into())])
            .collect(),
        None => Vec::new(),
    };
    if request.prior.is_none() || !rerun.is_empty() {
        object.insert("exit_code".into(), Value::Unknown);
        for name in ["stdout", "stderr"] {
            object.insert(name.into(), output_value(Value::Unknown, &request.config));
        }
        let id = Value::Unknown.derived_from([request.config.get("host")]);
        object.insert("id".into(), id);
    }
    let mut response = PlanResponse::new(Value::Object(object.into()));
    response.requires_replace = rerun;
    response
}

/// Runs the command (create or replacement) unless a guard says it is done; an update
/// only records the new settings; a delete forgets it.
pub(crate) async fn apply(fleet: &Fleet, request: ApplyRequest) -> ApplyResponse {
    let ApplyRequest {
        prior,
        planned,
        config,
        ..
    } = request;
    let Some(planned) = planned else {
        return ApplyResponse {
            new_state: None,
            error: None,
        };
    };
    let fail = |e: ProviderError| ApplyResponse {
        new_state: prior.clone(),
        error: Some(e),
    };
    let mut state = planned.as_object().cloned().unwrap_or_default();
    let runs = state.get("id").is_none_or(Value::is_unknown);
    if !runs {
        return ApplyResponse {
            new_state: Some(Value::Object(state.into())),
            error: None,
        };
    }
    let host = config.get("host").as_str().unwrap_or_default().to_owned();
    let (target, shell) = match fleet.host(&host) {
        Ok(h) => h,
        Err(e) => return fail(e.into()),
    };
    let strings = |v: &Value| -> Vec<String> {
        v.as_list()
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let map = |v: &Value| -> BTreeMap<String, String> {
        v.unmark()
            .0
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect()
    };
    let invocation = Invocation {
        argv: strings(config.get("command")),
        script: config.get("script").as_str().map(str::to_owned),
        working_dir: config.get("working_dir").as_str().map(str::to_owned),
        environment: map(config.get("environment")),
        secret_environment: map(config.get("sensitive_environment")),
    };
    let interpreter = strings(planned.get("interpreter"));
    let timeout = parse_duration(planned.get("timeout").as_str().unwrap_or(DEFAULT_TIMEOUT))
        .unwrap_or(Duration::from_secs(600));
    let creates = config.get("creates").as_str().map(str::to_owned);
    let unless = strings(config.get("unless"));
    let secrets: Vec<String> = invocation
        .secret_environment
        .values()
        .filter(|v| !v.is_empty())
        .cloned()
        .collect();
    let outcome = fleet
        .run_on(target, Rerun::Never, move |c| {
            if guard_says_done(c, shell, creates.as_deref(), &unless)? {
                return Ok(None);
            }
            shell.run(c, &invocation, &interpreter, timeout).map(Some)
        })
        .await;
    let output = match outcome {
        Ok(output) => output,
        Err(e) => return fail(e.into()),
    };
    let id = format!("{host}#{}", super::unique());
    state.insert(
        "id".into(),
        Value::from(id).derived_from([config.get("host")]),
    );
    let Some(output) = output else {
        // A guard said the work is already done: nothing ran.
        state.insert("exit_code".into(), Value::Null);
        state.insert("stdout".into(), output_value("".into(), &config));
        state.insert("stderr".into(), output_value("".into(), &config));
        return ApplyResponse {
            new_state: Some(Value::Object(state.into())),
            error: None,
        };
    };
    let stdout = captured(&output.stdout, &secrets);
    let stderr = captured(&output.stderr, &secrets);
    let expected: Vec<i64> = planned
        .get("expected_exit_codes")
        .as_list()
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    if !expected.contains(&i64::from(output.exit_code)) {
        // Not recorded: the next apply runs it again.
        let suppressed = config.holds_secret();
        let tail: String = stderr
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        return fail(ProviderError::permanent(format!(
            "the command exited with code {} (expected {expected:?}){}",
            output.exit_code,
            if tail.is_empty() {
                String::new()
            } else if suppressed {
                format!("; {}", secrets::SUPPRESSED)
            } else {
                format!("; its stderr ends:\n{tail}")
            }
        )));
    }
    state.insert("exit_code".into(), Value::Number(output.exit_code.into()));
    state.insert("stdout".into(), output_value(stdout.into(), &config));
    state.insert("stderr".into(), output_value(stderr.into(), &config));
    ApplyResponse {
        new_state: Some(Value::Object(state.into())),
        error: None,
    }
}

/// Captured output is as secret as the inputs of the command that printed it: any
/// sensitive argument (a value in `command`, `script`, `environment`, the host) makes it
/// sensitive, as Terraform suppresses provisioner output of sensitive configuration.
fn output_value(value: Value, config: &Value) -> Value {
    value.derived_from([config])
}

/// `creates` exists, or `unless` exits 0: the command's work is already done.
fn guard_says_done(
    connection: &mut Connection,
    shell: Shell,
    creates: Option<&str>,
    unless: &[String],
) -> Result<bool, SessionError> {
    let mut checks = Vec::new();
    if let Some(path) = creates {
        checks.push(match shell {
            Shell::Posix => Invocation {
                argv: vec!["test".into(), "-e".into(), path.into()],
                ..Invocation::default()
            },
            Shell::PowerShell => Invocation {
                script: Some(format!(
                    "if (Test-Path -LiteralPath {}) {{ exit 0 }} else {{ exit 1 }}",
                    ps_quote(path)
                )),
                ..Invocation::default()
            },
        });
    }
    if !unless.is_empty() {
        checks.push(Invocation {
            argv: unless.to_vec(),
            ..Invocation::default()
        });
    }
    for check in &checks {
        if shell
            .run(connection, check, &[], Duration::from_secs(60))?
            .exit_code
            == 0
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Output as text, secrets replaced, cut to the last 64 KiB.
fn captured(bytes: &[u8], secrets: &[String]) -> String {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    for secret in secrets {
        text = text.replace(secret.as_str(), "(sensitive value)");
    }
    if text.len() > OUTPUT_LIMIT {
        let mut cut = text.len() - OUTPUT_LIMIT;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        text = format!("(output cut to the last 64 KiB)\n{}", &text[cut..]);
    }
    text
}

/// What to do about a run of this command that a killed apply started: it may or may not
/// have run. With a `creates` or `unless` guard the next apply asks the host; without one
/// nothing can tell, so the user decides rather than the command running twice.
pub(crate) fn resume(request: &ResumeRequest) -> Resume {
    if request.action != PendingAction::Create {
        // Updates and deletes run nothing on the host.
        return Resume::Continue;
    }
    let planned = request.planned.as_ref().unwrap_or(&Value::Null);
    let guarded = !planned.get("creates").is_null()
        || planned
            .get("unless")
            .as_list()
            .is_some_and(|l| !l.is_empty());
    if guarded {
        Resume::Continue
    } else {
        Resume::Ask(
            "The command may have run, and it has no creates or unless guard that could tell."
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_in_captured_output() {
        let out = captured(b"token=s3cret ok", &["s3cret".to_owned()]);
        assert_eq!(out, "token=(sensitive value) ok");
        let long = vec![b'x'; OUTPUT_LIMIT + 10];
        assert!(captured(&long, &[]).starts_with("(output cut"));
    }

    #[test]
    fn validation_wants_command_or_script_and_identifier_names() {
        let both = Value::object([
            ("command", Value::List(vec!["true".into()])),
            ("script", Value::from("true")),
            ("environment", Value::object([("A-B", Value::from("x"))])),
        ]);
        assert_eq!(validate(&both).len(), 2);
        let none = Value::object([("host", Value::from("h"))]);
        assert_eq!(validate(&none).len(), 1);
    }

    #[test]
    fn an_interrupted_run_is_repeated_only_behind_a_guard() {
        let request = |planned: Value, action| ResumeRequest {
            type_name: "host_command".into(),
            action,
            prior: None,
            planned: Some(planned),
            checkpoint: None,
            cancel: Default::default(),
        };
        let bare = Value::object([("command", Value::List(vec!["true".into()]))]);
        assert!(matches!(
            resume(&request(bare.clone(), PendingAction::Create)),
            Resume::Ask(_)
        ));
        assert_eq!(
            resume(&request(bare, PendingAction::Update)),
            Resume::Continue,
            "an update runs nothing"
        );
        let guarded = Value::object([
            ("command", Value::List(vec!["true".into()])),
            ("creates", Value::from("/opt/done")),
        ]);
        assert_eq!(
            resume(&request(guarded, PendingAction::Create)),
            Resume::Continue
        );
    }
}
