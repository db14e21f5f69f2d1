//! The `host_file` resource: a file converged on a host, from inline content or a local
//! file. Like Terraform's local_file / local_sensitive_file, secret content goes in
//! `sensitive_content` so plans never show it.

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, Attribute, Block, Diagnostic, Diagnostics, PlanRequest,
    PlanResponse, ProviderError, Schema, Type, Value,
};

use crate::files::{FILE_TIMEOUT, hex_sha256, inspect, install};
use crate::fleet::{Fleet, Rerun};
use crate::shell::{Shell, quote};

/// The schema of `resource "host_file"`.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .describe(
                "A file on a host. Set exactly one of `content`, `sensitive_content` or `source`.",
            )
            .attr(
                "host",
                Attribute::required(Type::String).force_new().describe(
                    "The host the file lives on: a `host` resource's id, e.g. host.node1.id.",
                ),
            )
            .attr(
                "path",
                Attribute::required(Type::String)
                    .force_new()
                    .describe("Absolute path of the file on the host."),
            )
            .attr(
                "content",
                Attribute::optional(Type::String).describe("The file's content, shown in plans."),
            )
            .attr(
                "sensitive_content",
                Attribute::optional(Type::String).sensitive().describe(
                    "The file's content when it is secret; never shown in plans or logs.",
                ),
            )
            .attr(
                "source",
                Attribute::optional(Type::String)
                    .describe("Path of a local file to upload, relative to the working directory."),
            )
            .attr(
                "mode",
                Attribute::optional_computed(Type::String).describe(
                    "Permissions in octal, as a string, e.g. \"0600\" (default \"0644\").",
                ),
            )
            .attr(
                "owner",
                Attribute::optional_computed(Type::String)
                    .describe("Owning user name; defaults to the login user."),
            )
            .attr(
                "group",
                Attribute::optional_computed(Type::String)
                    .describe("Owning group name; defaults to the login user's primary group."),
            )
            .attr(
                "sha256",
                Attribute::computed(Type::String).describe(
                    "Hex SHA-256 of the content on the host; drift shows up as a change.",
                ),
            )
            .attr(
                "id",
                Attribute::computed(Type::String)
                    .describe("Identifier in state: the host id and path."),
            ),
    )
}

/// The arguments that give the content; exactly one is set.
const CONTENT_ATTRS: [&str; 3] = ["content", "sensitive_content", "source"];
const DEFAULT_MODE: &str = "0644";

/// Checks what the schema cannot: one content argument, an absolute path, an octal mode.
pub(crate) fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let set: Vec<&str> = CONTENT_ATTRS
        .into_iter()
        .filter(|n| !config.get(n).is_null())
        .collect();
    if set.len() != 1 && !CONTENT_ATTRS.iter().any(|n| config.get(n).is_unknown()) {
        diags.push(Diagnostic::error(
            "Invalid combination of arguments",
            format!(
                "Set exactly one of `content`, `sensitive_content` or `source`{}.",
                if set.is_empty() {
                    String::new()
                } else {
                    format!(", not `{}`", set.join("`, `"))
                }
            ),
        ));
    }
    if let Some(path) = config.get("path").as_str()
        && !path.starts_with('/')
    {
        diags.push(Diagnostic::error(
            "Invalid value for \"path\"",
            format!("{path:?} is not an absolute path."),
        ));
    }
    if let Some(Err(e)) = config.get("mode").as_str().map(parse_mode) {
        diags.push(Diagnostic::error(
            "Invalid value for \"mode\"",
            format!("{e}."),
        ));
    }
    diags
}

/// Plans the file: the default mode, and the SHA-256 of the content it should have (read
/// from `source` now, so a changed local file shows in the plan).
pub(crate) fn plan(request: &PlanRequest) -> Result<PlanResponse, ProviderError> {
    let mut object = request.proposed.as_object().cloned().unwrap_or_default();
    if request.config.get("mode").is_null() {
        object.insert("mode".into(), DEFAULT_MODE.into());
    }
    // The digest of secret content is as secret as the content: a short secret could be
    // found from it by trying.
    let secret = !request.config.get("sensitive_content").is_null()
        || request.config.get("content").contains_sensitive();
    let sha256 = match content(&request.config)? {
        Some(bytes) => Value::from(hex_sha256(&bytes)),
        None => Value::Unknown,
    }
    .mark_if(secret);
    // Keep the user's spelling of an unchanged mode ("644" and "0644" are one mode).
    if let (Some(prior), Some(mode)) = (&request.prior, object.get("mode").and_then(Value::as_str))
        && prior.get("mode").as_str().and_then(|m| parse_mode(m).ok()) == parse_mode(mode).ok()
    {
        object.insert("mode".into(), prior.get("mode").clone());
    }
    object.insert("sha256".into(), sha256);
    let id = match (
        request.config.get("host").as_str(),
        request.config.get("path").as_str(),
    ) {
        (Some(host), Some(path)) => Value::from(format!("{host}:{path}")),
        _ => Value::Unknown,
    };
    object.insert("id".into(), id);
    // Only content that is set is marked: a null `sensitive_content` next to `content`
    // is no secret, and marking it would show as a change in every plan.
    if let Some(s) = object.get_mut("sensitive_content")
        && !s.is_null()
    {
        *s = std::mem::take(s).mark_if(true);
    }
    Ok(PlanResponse::new(Value::Object(object.into())))
}

/// The content the configuration gives, `None` while it is unknown.
fn content(config: &Value) -> Result<Option<Vec<u8>>, ProviderError> {
    let inline = ["content", "sensitive_content"]
        .into_iter()
        .map(|n| config.get(n))
        .find(|v| !v.is_null());
    if let Some(v) = inline {
        return Ok(v.as_str().map(|s| s.as_bytes().to_vec()));
    }
    match config.get("source") {
        v if v.is_unknown() => Ok(None),
        v => {
            let path = v.as_str().ok_or_else(|| {
                ProviderError::permanent(
                    "host_file needs one of content, sensitive_content or source",
                )
            })?;
            std::fs::read(path).map(Some).map_err(|e| {
                ProviderError::permanent(format!("cannot read source file {path:?}: {e}"))
            })
        }
    }
}

/// Refreshes from the host: `None` when the file is gone, otherwise its digest, mode and
/// owners as they are, so an edit on the host shows as a change to undo.
pub(crate) async fn read(fleet: &Fleet, current: Value) -> Result<Option<Value>, ProviderError> {
    let host = current.get("host").as_str().unwrap_or_default().to_owned();
    let path = current.get("path").as_str().unwrap_or_default().to_owned();
    let (target, shell) = fleet.host(&host)?;
    posix_only(shell)?;
    let Some(found) = fleet
        .run_on(target, Rerun::Safe, move |c| inspect(c, &path))
        .await?
    else {
        return Ok(None);
    };
    let mut state = current.as_object().cloned().unwrap_or_default();
    let recorded_mode = current
        .get("mode")
        .as_str()
        .and_then(|m| parse_mode(m).ok());
    if recorded_mode != Some(found.mode) {
        state.insert("mode".into(), format!("{:04o}", found.mode).into());
    }
    state.insert("owner".into(), found.owner.into());
    state.insert("group".into(), found.group.into());
    let secret = matches!(current.get("sha256"), Value::Sensitive(_));
    state.insert("sha256".into(), Value::from(found.sha256).mark_if(secret));
    Ok(Some(Value::Object(state.into())))
}

/// Uploads the file (create or update) atomically, or removes it (delete).
pub(crate) async fn apply(fleet: &Fleet, request: ApplyRequest) -> ApplyResponse {
    let ApplyRequest {
        prior,
        planned,
        config,
        ..
    } = request;
    let fail = |prior: Option<Value>, e: ProviderError| ApplyResponse {
        new_state: prior,
        error: Some(e),
    };
    let Some(planned) = planned else {
        return match delete(fleet, prior.as_ref()).await {
            Ok(()) => ApplyResponse {
                new_state: None,
                error: None,
            },
            Err(e) => fail(prior, e),
        };
    };
    let host = planned.get("host").as_str().unwrap_or_default().to_owned();
    let path = planned.get("path").as_str().unwrap_or_default().to_owned();
    let (target, shell) = match fleet.host(&host) {
        Ok(h) => h,
        Err(e) => return fail(prior, e.into()),
    };
    if let Err(e) = posix_only(shell) {
        return fail(prior, e);
    }
    let bytes = match content(&config) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return fail(
                prior,
                ProviderError::permanent("the file's content is not known"),
            );
        }
        Err(e) => return fail(prior, e),
    };
    let mode = parse_mode(planned.get("mode").as_str().unwrap_or(DEFAULT_MODE)).unwrap_or(0o644);
    let owner = config.get("owner").as_str().map(str::to_owned);
    let group = config.get("group").as_str().map(str::to_owned);
    let digest = hex_sha256(&bytes);
    let found = fleet
        .run_on(target, Rerun::Safe, move |c| {
            install(c, &path, &bytes, mode, owner.as_deref(), group.as_deref())
        })
        .await;
    match found {
        Ok((owner, group)) => {
            let mut state = planned.as_object().cloned().unwrap_or_default();
            state.insert("owner".into(), owner.into());
            state.insert("group".into(), group.into());
            // Keeps the plan's mark: the digest of secret content stays sensitive in state.
            let secret = matches!(planned.get("sha256"), Value::Sensitive(_));
            state.insert("sha256".into(), Value::from(digest).mark_if(secret));
            ApplyResponse {
                new_state: Some(Value::Object(state.into())),
                error: None,
            }
        }
        // The rename is atomic: what was on the host before is still there.
        Err(e) => fail(prior, e.into()),
    }
}

async fn delete(fleet: &Fleet, prior: Option<&Value>) -> Result<(), ProviderError> {
    let Some(prior) = prior else { return Ok(()) };
    let host = prior.get("host").as_str().unwrap_or_default();
    let path = prior.get("path").as_str().unwrap_or_default().to_owned();
    let (target, shell) = fleet.host(host)?;
    posix_only(shell)?;
    let out = fleet
        .run_on(target, Rerun::Safe, move |c| {
            c.exec(&format!("rm -f -- {}", quote(&path)), None, FILE_TIMEOUT)
        })
        .await?;
    if out.exit_code != 0 {
        return Err(ProviderError::permanent(format!(
            "cannot delete the file: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn posix_only(shell: Shell) -> Result<(), ProviderError> {
    match shell {
        Shell::Posix => Ok(()),
        Shell::PowerShell => Err(ProviderError::permanent(
            "host_file does not manage files on windows hosts yet; use host_command with a PowerShell script",
        )),
    }
}

/// "0644", "644" or "0600" as a mode.
fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim();
    if !(3..=4).contains(&digits.len()) || !digits.chars().all(|c| ('0'..='7').contains(&c)) {
        return Err(format!(
            "{text:?} is not a mode: use 3 or 4 octal digits, such as \"0644\""
        ));
    }
    u32::from_str_radix(digits, 8).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_three_or_four_octal_digits() {
        assert_eq!(parse_mode("0644"), Ok(0o644));
        assert_eq!(parse_mode("600"), Ok(0o600));
        assert!(parse_mode("0999").is_err() && parse_mode("rw-r--r--").is_err());
    }

    #[test]
    fn validation_wants_one_content_and_an_absolute_path() {
        let config = Value::object([
            ("host", Value::from("h:22")),
            ("path", Value::from("etc/x")),
            ("content", Value::from("a")),
            ("source", Value::from("b")),
        ]);
        let diags = validate(&config);
        assert_eq!(diags.len(), 2, "{diags:?}");
    }

    fn planned(config: Value) -> Value {
        plan(&PlanRequest {
            type_name: "host_file".into(),
            prior: None,
            proposed: config.clone(),
            config,
            cancel: Default::default(),
        })
        .unwrap()
        .planned
    }

    #[test]
    fn only_secret_content_and_its_digest_are_sensitive() {
        let base = |content: (&str, Value)| {
            let other = if content.0 == "content" {
                "sensitive_content"
            } else {
                "content"
            };
            Value::object([
                ("host", Value::from("h:22")),
                ("path", Value::from("/etc/x")),
                content,
                (other, Value::Null),
            ])
        };
        let plain = planned(base(("content", Value::from("a"))));
        assert_eq!(
            plain.get("sensitive_content"),
            &Value::Null,
            "no mark on a null"
        );
        assert!(!matches!(plain.get("sha256"), Value::Sensitive(_)));
        let secret = planned(base(("sensitive_content", Value::from("hunter2"))));
        assert!(matches!(
            secret.get("sensitive_content"),
            Value::Sensitive(_)
        ));
        assert!(matches!(secret.get("sha256"), Value::Sensitive(_)));
        let from_sensitive_var = planned(base(("content", Value::from("pw").mark_if(true))));
        assert!(matches!(
            from_sensitive_var.get("sha256"),
            Value::Sensitive(_)
        ));
    }
}
