//! The `local_file` resource, like hashicorp/local's `local_file`: a file on the machine
//! running fleetform, from exactly one of `content`, `sensitive_content` or
//! `content_base64`. Its `id` is the hex SHA-1 of the content, as in hashicorp/local.
//!
//! The file I/O lives here rather than in a `client.rs`: it is this resource's whole job.
//! Writes are atomic: the content goes to a temporary file in the target's directory,
//! created with the final mode (so secret content is never readable by more people than
//! the final file allows), synced, then renamed over the target, so a reader sees the old
//! file or the new one, never half of one. A temporary left by a killed run is removed by
//! the next write or delete of the same file. Errors name the path (unless it is
//! sensitive) and the OS error and never include content.
//!
//! Files of `sensitive_content` are private by default (0600, new directories 0700); other
//! files default to 0644 and 0755 less the umask. Permissions the user sets are exact.

use fleetform_sdk::Object;
use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fleetform_sdk::{
    ApplyRequest, ApplyResponse, Attribute, Block, Diagnostic, Diagnostics, PlanRequest,
    PlanResponse, ProviderError, Schema, Type, Value,
};
use sha1::Digest as _;

/// The resource type name.
pub const TYPE: &str = "local_file";

/// The arguments that give the content; exactly one is set.
const CONTENT_ATTRS: [&str; 3] = ["content", "sensitive_content", "content_base64"];

const DEFAULT_FILE_PERMISSION: u32 = 0o644;
const DEFAULT_DIRECTORY_PERMISSION: u32 = 0o755;
const SECRET_FILE_PERMISSION: u32 = 0o600;
const SECRET_DIRECTORY_PERMISSION: u32 = 0o700;
/// What temporary files end with; see [`write_file`].
const TEMP_SUFFIX: &str = ".fleetform-tmp";

/// The schema of `resource "local_file"`.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .describe(
                "A file on the machine running fleetform, like hashicorp/local's local_file. Set \
                 exactly one of `content`, `sensitive_content` or `content_base64`.",
            )
            .attr(
                "filename",
                Attribute::required(Type::String).force_new().describe(
                    "Path of the file to write, relative to the working directory unless absolute; \
                     missing parent directories are created.",
                ),
            )
            .attr(
                "content",
                Attribute::optional(Type::String)
                    .force_new()
                    .describe("The file's content as UTF-8 text, shown in plans."),
            )
            .attr(
                "sensitive_content",
                Attribute::optional(Type::String)
                    .sensitive()
                    .force_new()
                    .describe(
                        "The file's content when it is secret; never shown in plans or logs.",
                    ),
            )
            .attr(
                "content_base64",
                Attribute::optional(Type::String)
                    .force_new()
                    .describe("The file's content as standard base64, for binary files."),
            )
            .attr(
                "file_permission",
                Attribute::optional_computed(Type::String)
                    .force_new()
                    .describe(
                        "The file's permissions in octal, as a string, set exactly (default \"0600\" \
                         for sensitive_content, otherwise \"0644\" less the umask).",
                    ),
            )
            .attr(
                "directory_permission",
                Attribute::optional_computed(Type::String)
                    .force_new()
                    .describe(
                        "Permissions in octal, as a string, of parent directories that have to be \
                     created (default \"0700\" for sensitive_content, otherwise \"0755\" less the umask).",
                    ),
            )
            .attr(
                "id",
                Attribute::computed(Type::String)
                    .describe("The hex SHA-1 of the content, as in hashicorp/local."),
            )
            .attr(
                "content_sha256",
                Attribute::computed(Type::String).describe("The hex SHA-256 of the content."),
            ),
    )
}

/// Checks what the schema cannot: exactly one content argument (counting only known
/// values), valid base64, and 3-4 digit octal permissions.
pub(crate) fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();

    let mut set: Vec<&str> = CONTENT_ATTRS
        .into_iter()
        .filter(|name| {
            let v = config.get(name);
            !v.is_null() && !v.is_unknown()
        })
        .collect();
    set.sort_unstable();
    let unknown = CONTENT_ATTRS
        .iter()
        .any(|name| config.get(name).is_unknown());
    let mut all = CONTENT_ATTRS;
    all.sort_unstable();
    let all = all.join(",");
    if set.len() > 1 {
        diags.push(Diagnostic::error(
            "Invalid combination of arguments",
            format!(
                "\"{}\": only one of `{all}` can be specified, but `{}` were specified.",
                set[0],
                set.join(","),
            ),
        ));
    } else if set.is_empty() && !unknown {
        diags.push(Diagnostic::error(
            "Invalid combination of arguments",
            format!("\"content\": one of `{all}` must be specified."),
        ));
    }

    if let Some(Err(err)) = config
        .get("content_base64")
        .as_str()
        .map(|s| BASE64.decode(s))
    {
        diags.push(Diagnostic::error(
            "Invalid value for \"content_base64\"",
            format!(
                "The value is not valid standard base64: {}.",
                base64_problem(&err)
            ),
        ));
    }

    for name in ["file_permission", "directory_permission"] {
        if let Some(Err(detail)) = config.get(name).as_str().map(parse_mode) {
            let detail = if config.get(name).unmark().1 {
                "bad mode for file (the value is sensitive, so it is not shown)".into()
            } else {
                detail
            };
            diags.push(Diagnostic::error(
                format!("Invalid value for \"{name}\""),
                format!("{detail}. A permission is 3 or 4 octal digits, such as \"0644\"."),
            ));
        }
    }
    diags
}

/// Plans a create (or a replacement: every argument forces one): the configuration with
/// default permissions, and `id`/`content_sha256` computed from the content when it is
/// known (unknown otherwise), so an unchanged file plans exactly its prior object.
pub(crate) fn plan(request: &PlanRequest) -> Result<PlanResponse, ProviderError> {
    Ok(PlanResponse::new(desired(settable_source(
        &request.config,
        &request.proposed,
    ))?))
}

/// Writes the file (create or replace), or removes it (delete).
pub(crate) fn apply(request: ApplyRequest) -> ApplyResponse {
    let ApplyRequest {
        prior,
        planned,
        config,
        ..
    } = request;
    let Some(planned) = planned else {
        return delete(prior);
    };
    let fail = |prior: Option<Value>, message: String| ApplyResponse {
        new_state: prior,
        error: Some(ProviderError::permanent(message)),
    };

    let state = match desired(settable_source(&config, &planned)) {
        Ok(state) if state.is_wholly_known() => state,
        Ok(_) => {
            return fail(
                prior,
                "local_file cannot be applied while its configuration is still unknown".into(),
            );
        }
        Err(err) => return fail(prior, err.message),
    };
    let filename = state.get("filename").as_str().unwrap_or_default();
    // How messages name the file: its path, unless that is sensitive.
    let shown = state.get("filename").to_string();
    let (Ok(Content::Known(bytes)), Ok(file_mode), Ok(dir_mode)) = (
        content_bytes(&state),
        parse_mode(state.get("file_permission").as_str().unwrap_or_default()),
        parse_mode(
            state
                .get("directory_permission")
                .as_str()
                .unwrap_or_default(),
        ),
    ) else {
        return fail(
            prior,
            format!("could not write local_file {shown}: the configuration is not valid"),
        );
    };

    if let Err(message) = write_file(Path::new(filename), &shown, &bytes, file_mode, dir_mode) {
        // The rename is atomic, so whatever was there before is still there.
        return fail(prior, message);
    }

    // Should the engine ever hand a replacement to one call, the old file must not stay.
    let old = prior.as_ref().map(|p| p.get("filename"));
    if let Some(old) = old.filter(|old| old.as_str().is_some_and(|o| o != filename))
        && let Err(err) = remove_if_present(Path::new(old.as_str().unwrap_or_default()))
    {
        let message =
            format!("wrote local_file {shown} but could not remove the previous file {old}: {err}");
        return fail(Some(state), message);
    }

    ApplyResponse {
        new_state: Some(state),
        error: None,
    }
}

/// Refreshes from disk: `None` when the file is gone; otherwise the state with the content
/// argument in use, `id`, `content_sha256` and `file_permission` taken from the file, so
/// edits and mode changes show as changes.
pub(crate) fn read(current: &Value) -> Result<Option<Value>, ProviderError> {
    let filename = current
        .get("filename")
        .as_str()
        .ok_or_else(|| ProviderError::permanent("the local_file state has no filename"))?;
    let Some(disk) = read_disk(Path::new(filename), &current.get("filename").to_string())? else {
        return Ok(None);
    };

    let mut state = current.as_object().cloned().unwrap_or_default();
    let recorded = match content_bytes(current) {
        Ok(Content::Known(bytes)) => Some(bytes),
        _ => None,
    };
    if recorded.as_deref() != Some(&disk.bytes[..]) {
        let attr = CONTENT_ATTRS
            .into_iter()
            .find(|name| !current.get(name).is_null())
            .unwrap_or("content");
        let text = match attr {
            "content_base64" => BASE64.encode(&disk.bytes),
            _ => String::from_utf8_lossy(&disk.bytes).into_owned(),
        };
        let sensitive = attr == "sensitive_content" || current.get(attr).unmark().1;
        state.insert(attr.into(), Value::from(text).mark_if(sensitive));
    }
    let (id, sha256) = digests(&disk.bytes);
    state.insert("id".into(), id.into());
    state.insert("content_sha256".into(), sha256.into());
    // "644" and "0644" are the same mode: keep the user's spelling unless the mode differs.
    let recorded_mode = current
        .get("file_permission")
        .as_str()
        .and_then(|s| parse_mode(s).ok());
    if recorded_mode != Some(disk.mode) {
        state.insert("file_permission".into(), format_mode(disk.mode).into());
    }
    Ok(Some(Value::Object(state.into())))
}

/// Adopts an existing file by its filename: `content` holds what is on disk (or
/// `content_base64` when it is not UTF-8), `file_permission` its mode.
pub(crate) fn import(filename: &str) -> Result<Value, ProviderError> {
    let Some(disk) = read_disk(Path::new(filename), &format!("{filename:?}"))? else {
        return Err(ProviderError::permanent(format!(
            "Cannot import non-existent remote object: there is no file at {filename:?}"
        )));
    };
    let (id, sha256) = digests(&disk.bytes);
    let (content, content_base64) = match String::from_utf8(disk.bytes) {
        Ok(text) => (Value::from(text), Value::Null),
        Err(err) => (Value::Null, Value::from(BASE64.encode(err.as_bytes()))),
    };
    Ok(Value::Object(Object::from(BTreeMap::from([
        ("filename".to_owned(), Value::from(filename)),
        ("content".to_owned(), content),
        ("sensitive_content".to_owned(), Value::Null),
        ("content_base64".to_owned(), content_base64),
        ("file_permission".to_owned(), format_mode(disk.mode).into()),
        (
            "directory_permission".to_owned(),
            format_mode(DEFAULT_DIRECTORY_PERMISSION & !umask()).into(),
        ),
        ("id".to_owned(), id.into()),
        ("content_sha256".to_owned(), sha256.into()),
    ]))))
}

/// Removes the file; one already gone is success.
fn delete(prior: Option<Value>) -> ApplyResponse {
    let Some((filename, shown)) = prior.as_ref().and_then(|p| {
        let name = p.get("filename");
        Some((name.as_str()?.to_owned(), name.to_string()))
    }) else {
        return ApplyResponse {
            new_state: None,
            error: None,
        };
    };
    remove_leftovers(Path::new(&filename));
    match remove_if_present(Path::new(&filename)) {
        Ok(()) => ApplyResponse {
            new_state: None,
            error: None,
        },
        Err(err) => ApplyResponse {
            new_state: prior,
            error: Some(ProviderError::permanent(format!(
                "could not delete local_file {shown}: {err}"
            ))),
        },
    }
}

/// The configuration holds every argument as written (with nulls for unset ones), which
/// is what defaults apply to; without one, fall back to the engine's proposal or plan.
fn settable_source<'a>(config: &'a Value, fallback: &'a Value) -> &'a Value {
    if config.as_object().is_some() {
        config
    } else {
        fallback
    }
}

/// The whole object for a configuration: its arguments, default permissions and the
/// content digests (unknown while the content is).
fn desired(source: &Value) -> Result<Value, ProviderError> {
    let mut state = BTreeMap::new();
    state.insert("filename".to_owned(), source.get("filename").clone());
    for name in CONTENT_ATTRS {
        let value = source.get(name).clone();
        let sensitive = name == "sensitive_content" && !value.is_null();
        state.insert(name.to_owned(), value.mark_if(sensitive));
    }
    // Secrets are private unless the user says otherwise; other files follow the umask.
    let (file_default, dir_default) = if source.get("sensitive_content").is_null() {
        let umask = umask();
        (
            DEFAULT_FILE_PERMISSION & !umask,
            DEFAULT_DIRECTORY_PERMISSION & !umask,
        )
    } else {
        (SECRET_FILE_PERMISSION, SECRET_DIRECTORY_PERMISSION)
    };
    for (name, default) in [
        ("file_permission", file_default),
        ("directory_permission", dir_default),
    ] {
        let value = source.get(name);
        let value = if value.is_null() {
            Value::from(format_mode(default))
        } else {
            value.clone()
        };
        state.insert(name.to_owned(), value);
    }
    let (id, sha256) = match content_bytes(source)? {
        Content::Known(bytes) => {
            let (id, sha256) = digests(&bytes);
            (Value::from(id), Value::from(sha256))
        }
        Content::Unknown => (Value::Unknown, Value::Unknown),
    };
    state.insert("id".to_owned(), id);
    state.insert("content_sha256".to_owned(), sha256);
    Ok(Value::Object(state.into()))
}

/// The file's bytes, as far as they are known at this point.
enum Content {
    Known(Vec<u8>),
    Unknown,
}

fn content_bytes(source: &Value) -> Result<Content, ProviderError> {
    let given: Vec<(&str, &Value)> = CONTENT_ATTRS
        .into_iter()
        .map(|name| (name, source.get(name)))
        .filter(|(_, v)| !v.is_null())
        .collect();
    if given.iter().any(|(_, v)| !v.is_wholly_known()) {
        return Ok(Content::Unknown);
    }
    let [(name, value)] = given[..] else {
        return Err(ProviderError::permanent(
            "local_file needs exactly one of content, sensitive_content or content_base64",
        ));
    };
    let text = value
        .as_str()
        .ok_or_else(|| ProviderError::permanent(format!("local_file's {name} must be a string")))?;
    if name == "content_base64" {
        BASE64.decode(text).map(Content::Known).map_err(|err| {
            ProviderError::permanent(format!(
                "local_file's content_base64 is not valid standard base64: {}",
                base64_problem(&err)
            ))
        })
    } else {
        Ok(Content::Known(text.as_bytes().to_vec()))
    }
}

/// Why base64 did not decode, without quoting any of it.
fn base64_problem(err: &base64::DecodeError) -> String {
    match err {
        base64::DecodeError::InvalidByte(offset, _)
        | base64::DecodeError::InvalidLastSymbol(offset, _) => {
            format!("invalid character at offset {offset}")
        }
        base64::DecodeError::InvalidLength(_) => "its length is not valid".into(),
        base64::DecodeError::InvalidPadding => "its padding is not valid".into(),
    }
}

/// `id` (hex SHA-1, as hashicorp/local) and `content_sha256` (hex SHA-256).
fn digests(bytes: &[u8]) -> (String, String) {
    (
        hex(&sha1::Sha1::digest(bytes)),
        hex(&sha2::Sha256::digest(bytes)),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a permission the way hashicorp/local validates it: 3 or 4 octal digits, at most
/// 0777. The error is hashicorp/local's message.
fn parse_mode(mode: &str) -> Result<u32, String> {
    if !(3..=4).contains(&mode.len()) {
        return Err(format!(
            "bad mode for file - string length should be 3 or 4 digits: {mode}"
        ));
    }
    match u32::from_str_radix(mode, 8) {
        Ok(bits) if mode.bytes().all(|b| b.is_ascii_digit()) && bits <= 0o777 => Ok(bits),
        _ => Err(format!(
            "bad mode for file - must be three octal digits: {mode}"
        )),
    }
}

fn format_mode(mode: u32) -> String {
    format!("{mode:04o}")
}

/// A file as found on disk.
struct Disk {
    bytes: Vec<u8>,
    mode: u32,
}

/// The process's umask, read without changing it (setting it to read it would race with
/// other threads creating files); 022 when the kernel does not say.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
        })
        .unwrap_or(0o022)
        & 0o777
}

/// Reads a file; `None` when it does not exist (nor does a parent directory). `shown`
/// names it in errors.
fn read_disk(path: &Path, shown: &str) -> Result<Option<Disk>, ProviderError> {
    let read = || -> io::Result<Disk> {
        let mut file = File::open(path)?;
        let mode = file.metadata()?.permissions().mode() & 0o7777;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(Disk { bytes, mode })
    };
    match read() {
        Ok(disk) => Ok(Some(disk)),
        Err(err) if is_gone(&err) => Ok(None),
        Err(err) => Err(ProviderError::permanent(format!(
            "could not read local_file {shown}: {err}"
        ))),
    }
}

fn is_gone(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if is_gone(&err) => Ok(()),
        other => other,
    }
}

/// The directory a path's file lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically with permissions `file_mode`, creating missing
/// parent directories with `dir_mode`. The error names the file as `shown` (its quoted
/// path, or `(sensitive value)`), and the OS error.
fn write_file(
    path: &Path,
    shown: &str,
    bytes: &[u8],
    file_mode: u32,
    dir_mode: u32,
) -> Result<(), String> {
    let dir = parent_dir(path);
    create_dirs(dir, dir_mode).map_err(|(created, err)| {
        if shown == fleetform_sdk::secrets::REDACTED {
            format!("could not create a directory for local_file {shown}: {err}")
        } else {
            format!("could not create directory {created:?} for local_file {shown}: {err}")
        }
    })?;
    let Some(name) = path.file_name() else {
        return Err(format!(
            "could not write local_file {shown}: the filename does not name a file"
        ));
    };
    remove_leftovers(path);
    let temp = dir.join(format!(
        ".{}.{}{TEMP_SUFFIX}",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let mut created = false;
    let mut write = || -> io::Result<()> {
        // Created with the final mode (less the umask), never wider; then set exactly,
        // before any content goes in.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(file_mode)
            .open(&temp)?;
        created = true;
        file.set_permissions(Permissions::from_mode(file_mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    };
    if let Err(err) = write() {
        if created {
            let _ = fs::remove_file(&temp);
        }
        return Err(format!("could not write local_file {shown}: {err}"));
    }
    // Make the rename itself durable; some file systems cannot sync a directory, and the
    // file is written either way.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Removes the temporaries of `path` that killed writes left beside it (named
/// `.NAME.<32 hex digits>.fleetform-tmp`); they may hold the file's secret content.
fn remove_leftovers(path: &Path) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let entry_name = entry.file_name();
        let entry_name = entry_name.to_string_lossy();
        let ours = entry_name
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
            .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        if ours {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Creates `dir` and its missing ancestors with permissions `mode` (set exactly, whatever
/// the umask). Returns the directory that could not be created, with the OS error.
fn create_dirs(dir: &Path, mode: u32) -> Result<(), (std::path::PathBuf, io::Error)> {
    // Walk up to the first thing that exists; if that is not a directory, writing into it
    // fails with the OS's own "Not a directory".
    let mut missing = Vec::new();
    let mut current = dir;
    while !current.as_os_str().is_empty() {
        match fs::symlink_metadata(current) {
            Ok(_) => break,
            Err(err) if is_gone(&err) => missing.push(current),
            Err(err) => return Err((current.to_path_buf(), err)),
        }
        match current.parent() {
            Some(parent) => current = parent,
            None => break,
        }
    }
    for &dir in missing.iter().rev() {
        // Owner access while creating, so a read-only mode does not block the next level.
        match DirBuilder::new().mode(mode | 0o700).create(dir) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(err) => return Err((dir.to_path_buf(), err)),
        }
    }
    for &dir in &missing {
        fs::set_permissions(dir, Permissions::from_mode(mode))
            .map_err(|err| (dir.to_path_buf(), err))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};

    use fleetform_sdk::{
        CancellationToken, ErrorKind, ImportRequest, Presence, Provider, ReadRequest,
        ValidateRequest,
    };

    use super::*;
    use crate::FleetformProvider;

    const HELLO_SHA1: &str = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";
    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    /// A configuration: every argument present, null unless given.
    fn config(filename: &Path, args: &[(&str, Value)]) -> Value {
        let mut map: BTreeMap<String, Value> = [
            "content",
            "sensitive_content",
            "content_base64",
            "file_permission",
            "directory_permission",
        ]
        .into_iter()
        .map(|n| (n.to_owned(), Value::Null))
        .collect();
        map.insert("filename".into(), Value::from(filename.to_str().unwrap()));
        for (name, value) in args {
            map.insert((*name).into(), value.clone());
        }
        Value::Object(map.into())
    }

    /// The engine's proposal: the configuration, with computed attributes the user left
    /// unset taken from the prior object or unknown.
    fn proposed(config: &Value, prior: Option<&Value>) -> Value {
        let mut map = config.as_object().unwrap().clone();
        for name in [
            "file_permission",
            "directory_permission",
            "id",
            "content_sha256",
        ] {
            if map.get(name).is_none_or(Value::is_null) {
                let v = prior.map_or(Value::Unknown, |p| p.get(name).clone());
                map.insert(name.into(), v);
            }
        }
        Value::Object(map.into())
    }

    async fn plan(prior: Option<&Value>, config: &Value) -> Value {
        FleetformProvider
            .plan(PlanRequest {
                type_name: TYPE.into(),
                prior: prior.cloned(),
                config: config.clone(),
                proposed: proposed(config, prior),
                cancel: CancellationToken::new(),
            })
            .await
            .unwrap()
            .planned
    }

    async fn apply(
        prior: Option<&Value>,
        planned: Option<&Value>,
        config: &Value,
    ) -> ApplyResponse {
        FleetformProvider
            .apply(ApplyRequest {
                type_name: TYPE.into(),
                prior: prior.cloned(),
                planned: planned.cloned(),
                config: config.clone(),
                cancel: CancellationToken::new(),
                resume: None,
                checkpoint: Default::default(),
            })
            .await
    }

    /// Plans and applies a create, checking the plan predicted the result exactly.
    async fn create(config: &Value) -> Value {
        let planned = plan(None, config).await;
        let response = apply(None, Some(&planned), config).await;
        assert_eq!(response.error, None);
        let state = response.new_state.unwrap();
        assert_eq!(state, planned, "the plan predicts the new state exactly");
        state
    }

    async fn read(current: &Value) -> Option<Value> {
        FleetformProvider
            .read(ReadRequest {
                type_name: TYPE.into(),
                current: current.clone(),
                cancel: CancellationToken::new(),
            })
            .await
            .unwrap()
    }

    fn validate(config: &Value) -> Vec<String> {
        FleetformProvider
            .validate_resource(&ValidateRequest {
                type_name: TYPE.into(),
                config: config.clone(),
            })
            .iter()
            .map(|d| format!("{}: {}", d.summary, d.detail))
            .collect()
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn create_writes_content_with_the_default_mode_and_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hello.txt");
        let cfg = config(&path, &[("content", Value::from("hello"))]);
        let state = create(&cfg).await;

        assert_eq!(fs::read_to_string(&path).unwrap(), "hello");
        assert_eq!(mode_of(&path), 0o644);
        assert_eq!(state.get("id"), &Value::from(HELLO_SHA1));
        assert_eq!(state.get("content_sha256"), &Value::from(HELLO_SHA256));
        assert_eq!(state.get("file_permission"), &Value::from("0644"));
        assert_eq!(state.get("directory_permission"), &Value::from("0755"));
        // No temporary file is left beside it.
        assert_eq!(entries(dir.path()), std::slice::from_ref(&path));

        // Planning the same configuration again changes nothing.
        assert_eq!(plan(Some(&state), &cfg).await, state);
        assert_eq!(read(&state).await, Some(state));
    }

    #[tokio::test]
    async fn create_sets_the_requested_mode_exactly_and_hides_sensitive_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let cfg = config(
            &path,
            &[
                ("sensitive_content", Value::from("hunter2")),
                ("file_permission", Value::from("0600")),
            ],
        );
        let state = create(&cfg).await;
        assert_eq!(fs::read_to_string(&path).unwrap(), "hunter2");
        assert_eq!(mode_of(&path), 0o600);
        assert!(matches!(
            state.get("sensitive_content"),
            Value::Sensitive(_)
        ));
        assert!(!state.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn sensitive_content_is_private_by_default_in_private_new_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/kubeconfig");
        let cfg = config(&path, &[("sensitive_content", Value::from("hunter2"))]);
        let state = create(&cfg).await;
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(mode_of(&dir.path().join("new")), 0o700);
        assert_eq!(state.get("file_permission"), &Value::from("0600"));
        assert_eq!(state.get("directory_permission"), &Value::from("0700"));
        assert_eq!(plan(Some(&state), &cfg).await, state, "stable once written");
    }

    #[tokio::test]
    async fn a_killed_writes_temporary_is_removed_by_the_next_write_and_by_delete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let leftover = dir
            .path()
            .join(format!(".f.{}{TEMP_SUFFIX}", "ab".repeat(16)));
        let unrelated = dir.path().join(".g.tmp");
        fs::write(&leftover, "secret").unwrap();
        fs::write(&unrelated, "other").unwrap();
        let cfg = config(&path, &[("content", Value::from("hello"))]);
        let state = create(&cfg).await;
        assert!(!leftover.exists() && unrelated.exists());
        fs::write(&leftover, "secret").unwrap();
        apply(Some(&state), None, &cfg).await;
        assert!(!leftover.exists() && !path.exists());
    }

    #[tokio::test]
    async fn errors_never_quote_a_sensitive_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("canary-dir");
        fs::write(&blocker, "a file where a directory should be").unwrap();
        let mut cfg = config(&blocker.join("f"), &[("content", Value::from("x"))]);
        if let Value::Object(map) = &mut cfg {
            let name = map["filename"].clone();
            map.insert("filename".into(), name.into_sensitive());
        }
        let response = FleetformProvider
            .apply(ApplyRequest {
                type_name: TYPE.into(),
                prior: None,
                planned: Some(plan(None, &cfg).await),
                config: cfg,
                cancel: CancellationToken::new(),
                resume: None,
                checkpoint: Default::default(),
            })
            .await;
        let message = response.error.expect("the write fails").message;
        assert!(!message.contains("canary"), "{message}");
        assert!(message.contains("(sensitive value)"), "{message}");
    }

    #[tokio::test]
    async fn create_makes_missing_directories_with_directory_permission() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/out.bin");
        let cfg = config(
            &path,
            &[
                ("content_base64", Value::from("AAEC/w==")),
                ("directory_permission", Value::from("0700")),
                ("file_permission", Value::from("644")),
            ],
        );
        let state = create(&cfg).await;
        assert_eq!(fs::read(&path).unwrap(), [0u8, 1, 2, 255]);
        assert_eq!(mode_of(&dir.path().join("a")), 0o700);
        assert_eq!(mode_of(&dir.path().join("a/b")), 0o700);
        assert_eq!(mode_of(&path), 0o644);
        // "644" is kept as written: reading finds no drift.
        assert_eq!(read(&state).await, Some(state));
    }

    #[tokio::test]
    async fn replacing_an_existing_file_is_atomic_and_takes_the_new_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o666)).unwrap();
        let cfg = config(
            &path,
            &[
                ("content", Value::from("new")),
                ("file_permission", Value::from("0640")),
            ],
        );
        create(&cfg).await;
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode_of(&path), 0o640);
        assert_eq!(entries(dir.path()), [path]);
    }

    #[tokio::test]
    async fn read_reports_content_and_mode_drift_and_a_deleted_file_as_gone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hello.txt");
        let cfg = config(&path, &[("content", Value::from("hello"))]);
        let state = create(&cfg).await;

        fs::write(&path, "edited").unwrap();
        let drifted = read(&state).await.unwrap();
        assert_eq!(drifted.get("content"), &Value::from("edited"));
        assert_ne!(drifted.get("id"), state.get("id"));
        assert_eq!(drifted.get("file_permission"), &Value::from("0644"));
        // The plan now differs from the refreshed state in `content`, which forces a new
        // file.
        assert_ne!(
            plan(Some(&drifted), &cfg).await.get("content"),
            drifted.get("content")
        );

        fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        let drifted = read(&state).await.unwrap();
        assert_eq!(drifted.get("file_permission"), &Value::from("0600"));

        fs::remove_file(&path).unwrap();
        assert_eq!(read(&state).await, None);
    }

    #[tokio::test]
    async fn read_keeps_the_content_argument_in_use_and_its_sensitivity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let cfg = config(&path, &[("sensitive_content", Value::from("a"))]);
        let state = create(&cfg).await;
        fs::write(&path, "b").unwrap();
        let drifted = read(&state).await.unwrap();
        assert_eq!(
            drifted.get("sensitive_content"),
            &Value::from("b").into_sensitive()
        );
        assert_eq!(drifted.get("content"), &Value::Null);

        let path = dir.path().join("bin");
        let cfg = config(&path, &[("content_base64", Value::from("AAE="))]);
        let state = create(&cfg).await;
        fs::write(&path, [9u8, 9]).unwrap();
        let drifted = read(&state).await.unwrap();
        assert_eq!(drifted.get("content_base64"), &Value::from("CQk="));
    }

    #[tokio::test]
    async fn delete_removes_the_file_and_a_missing_file_is_success() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hello.txt");
        let cfg = config(&path, &[("content", Value::from("hello"))]);
        let state = create(&cfg).await;

        let response = apply(Some(&state), None, &Value::Null).await;
        assert_eq!((response.new_state, response.error), (None, None));
        assert!(!path.exists());

        let response = apply(Some(&state), None, &Value::Null).await;
        assert_eq!((response.new_state, response.error), (None, None));
    }

    #[tokio::test]
    async fn a_parent_that_is_a_file_fails_naming_the_path_and_keeps_the_prior_state() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        fs::write(&blocker, "x").unwrap();

        for target in [blocker.join("f.txt"), blocker.join("sub/f.txt")] {
            let cfg = config(&target, &[("content", Value::from("top secret"))]);
            let planned = plan(None, &cfg).await;

            let response = apply(None, Some(&planned), &cfg).await;
            assert_eq!(response.new_state, None);
            let error = response.error.unwrap();
            assert_eq!(error.kind, ErrorKind::Permanent);
            assert!(
                error.message.contains(&format!("{target:?}")),
                "{}",
                error.message
            );
            assert!(
                error.message.contains("Not a directory"),
                "{}",
                error.message
            );
            assert!(!error.message.contains("top secret"));

            // A replacement that fails leaves the prior object as it was.
            let prior_path = dir.path().join("prior.txt");
            let prior = create(&config(&prior_path, &[("content", Value::from("p"))])).await;
            let response = apply(Some(&prior), Some(&planned), &cfg).await;
            assert_eq!(response.new_state, Some(prior));
            assert!(response.error.is_some());
            assert!(prior_path.exists());
        }
        assert_eq!(fs::read_to_string(&blocker).unwrap(), "x");
    }

    #[tokio::test]
    async fn a_replacement_in_one_call_removes_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.txt");
        let new = dir.path().join("new.txt");
        let prior = create(&config(&old, &[("content", Value::from("x"))])).await;
        let cfg = config(&new, &[("content", Value::from("x"))]);
        let planned = plan(Some(&prior), &cfg).await;
        let response = apply(Some(&prior), Some(&planned), &cfg).await;
        assert_eq!(response.error, None);
        assert_eq!(entries(dir.path()), [new]);
    }

    #[tokio::test]
    async fn unknown_content_plans_unknown_digests() {
        let cfg = config(Path::new("/nowhere/f"), &[("content", Value::Unknown)]);
        let planned = plan(None, &cfg).await;
        assert_eq!(planned.get("id"), &Value::Unknown);
        assert_eq!(planned.get("content_sha256"), &Value::Unknown);
        assert_eq!(planned.get("file_permission"), &Value::from("0644"));

        // Apply refuses what it cannot know, and writes nothing.
        let response = apply(None, Some(&planned), &cfg).await;
        assert_eq!(response.new_state, None);
        assert!(response.error.is_some());
    }

    #[tokio::test]
    async fn cancelled_apply_does_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let cfg = config(&path, &[("content", Value::from("x"))]);
        let planned = plan(None, &cfg).await;
        let cancel = CancellationToken::new();
        cancel.cancel();
        let response = FleetformProvider
            .apply(ApplyRequest {
                type_name: TYPE.into(),
                prior: None,
                planned: Some(planned),
                config: cfg,
                cancel,
                resume: None,
                checkpoint: Default::default(),
            })
            .await;
        assert_eq!(response.error.unwrap().kind, ErrorKind::Cancelled);
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn import_reads_the_file_into_a_state_that_plans_no_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("existing.txt");
        fs::write(&path, "hello").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        let import = |id: String| {
            FleetformProvider.import(ImportRequest {
                type_name: TYPE.into(),
                id,
                cancel: CancellationToken::new(),
            })
        };
        let state = import(path.to_str().unwrap().into()).await.unwrap();
        assert_eq!(state.get("content"), &Value::from("hello"));
        assert_eq!(state.get("id"), &Value::from(HELLO_SHA1));
        assert_eq!(state.get("file_permission"), &Value::from("0600"));

        let cfg = config(
            &path,
            &[
                ("content", Value::from("hello")),
                ("file_permission", Value::from("0600")),
            ],
        );
        assert_eq!(plan(Some(&state), &cfg).await, state);

        let missing = import(dir.path().join("nope").to_str().unwrap().into()).await;
        assert!(missing.unwrap_err().message.contains("nope"));
    }

    #[test]
    fn validate_wants_exactly_one_content_argument() {
        let path = Path::new("f");
        assert_eq!(
            validate(&config(path, &[("content", Value::from("a"))])),
            Vec::<String>::new()
        );
        assert_eq!(
            validate(&config(
                path,
                &[
                    ("content", Value::from("a")),
                    ("sensitive_content", Value::from("b").into_sensitive()),
                ]
            )),
            [
                "Invalid combination of arguments: \"content\": only one of \
              `content,content_base64,sensitive_content` can be specified, but \
              `content,sensitive_content` were specified."
            ]
        );
        assert_eq!(
            validate(&config(path, &[])),
            ["Invalid combination of arguments: \"content\": one of \
              `content,content_base64,sensitive_content` must be specified."]
        );
        // Unknown content may turn out either way: nothing to say yet.
        assert!(validate(&config(path, &[("content", Value::Unknown)])).is_empty());
    }

    #[test]
    fn validate_checks_permissions_and_base64() {
        let path = Path::new("f");
        let with = |name: &str, value: &str| {
            validate(&config(
                path,
                &[("content", Value::from("a")), (name, Value::from(value))],
            ))
        };
        for good in ["644", "0644", "0600", "0777", "0755"] {
            assert!(with("file_permission", good).is_empty(), "{good}");
        }
        assert_eq!(
            with("file_permission", "7"),
            [
                "Invalid value for \"file_permission\": bad mode for file - string length should \
              be 3 or 4 digits: 7. A permission is 3 or 4 octal digits, such as \"0644\"."
            ]
        );
        for bad in ["9999", "0abc", "1777", "+644", "-644"] {
            let diags = with("directory_permission", bad);
            assert_eq!(diags.len(), 1, "{bad}");
            assert!(diags[0].contains("must be three octal digits"), "{diags:?}");
        }
        let diags = validate(&config(
            path,
            &[("content_base64", Value::from("not base64!"))],
        ));
        assert_eq!(diags.len(), 1);
        assert!(diags[0].starts_with("Invalid value for \"content_base64\""));
        assert!(!diags[0].contains("not base64!"));
    }

    #[test]
    fn schema_forces_replacement_and_hides_sensitive_content() {
        let block = schema().block;
        let attr = |n: &str| &block.attributes[n];
        assert!(attr("sensitive_content").sensitive);
        assert!(!attr("content").sensitive);
        for name in [
            "filename",
            "content",
            "sensitive_content",
            "content_base64",
            "file_permission",
            "directory_permission",
        ] {
            assert!(attr(name).force_new, "{name}");
        }
        assert_eq!(attr("filename").presence, Presence::Required);
        assert_eq!(attr("file_permission").presence, Presence::OptionalComputed);
        assert_eq!(attr("id").presence, Presence::Computed);
        assert_eq!(attr("content_sha256").presence, Presence::Computed);
    }
}
