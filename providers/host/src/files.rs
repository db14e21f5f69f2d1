//! Files on hosts, converged the one way fleetform does it: inspect what is there (mode,
//! owners, SHA-256), then install over SFTP and an atomic rename. `host_file` and the
//! cluster provider both go through here.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::shell::quote;
use crate::ssh::{Connection, SessionError};

/// Longest a single file operation may take.
pub const FILE_TIMEOUT: Duration = Duration::from_secs(300);

/// What `stat` and `sha256sum` say about the file on the host; `None` when it is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnHost {
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub sha256: String,
}

pub fn inspect(connection: &mut Connection, path: &str) -> Result<Option<OnHost>, SessionError> {
    let p = quote(path);
    let command = format!(
        "if [ -e {p} ]; then stat -c '%a %U %G' -- {p} && sha256sum < {p}; else echo absent; fi"
    );
    let output = connection.exec(&command, None, FILE_TIMEOUT)?;
    let text = String::from_utf8_lossy(&output.stdout);
    if output.exit_code != 0 {
        return Err(SessionError::Refused(format!(
            "cannot inspect {path:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    if first == "absent" {
        return Ok(None);
    }
    let fields: Vec<&str> = first.split_whitespace().collect();
    let sha256 = lines
        .next()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_default();
    match fields[..] {
        [mode, owner, group] => Ok(Some(OnHost {
            mode: u32::from_str_radix(mode, 8).unwrap_or(0),
            owner: owner.to_owned(),
            group: group.to_owned(),
            sha256: sha256.to_owned(),
        })),
        _ => Err(SessionError::Refused(format!(
            "unexpected stat output for {path:?}"
        ))),
    }
}

/// What is at each of `paths` (absent ones are `None`), in one command.
pub fn inspect_all(
    connection: &mut Connection,
    paths: &[String],
) -> Result<BTreeMap<String, Option<OnHost>>, SessionError> {
    let mut out = BTreeMap::new();
    if paths.is_empty() {
        return Ok(out);
    }
    // The paths arrive as positional parameters: nothing in them is interpreted.
    // The content goes through standard input: sha256sum escapes a name holding a
    // backslash or a newline and marks its digest with a backslash.
    let script = "for p in \"$@\"; do if [ -e \"$p\" ]; then stat -c '%a %U %G' -- \"$p\" && sha256sum < \"$p\" | cut -d' ' -f1; else echo absent; fi; done";
    let mut command = format!("sh -c {} sh", quote(script));
    for path in paths {
        command.push(' ');
        command.push_str(&quote(path));
    }
    let output = connection.exec(&command, None, FILE_TIMEOUT)?;
    if output.exit_code != 0 {
        return Err(SessionError::Refused(format!(
            "cannot inspect files: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    for path in paths {
        let first = lines.next().unwrap_or_default();
        if first == "absent" {
            out.insert(path.clone(), None);
            continue;
        }
        let fields: Vec<&str> = first.split_whitespace().collect();
        let sha256 = lines.next().unwrap_or_default().trim().to_owned();
        let [mode, owner, group] = fields[..] else {
            return Err(SessionError::Refused(format!(
                "unexpected stat output for {path:?}"
            )));
        };
        out.insert(
            path.clone(),
            Some(OnHost {
                mode: u32::from_str_radix(mode, 8).unwrap_or(0),
                owner: owner.to_owned(),
                group: group.to_owned(),
                sha256,
            }),
        );
    }
    Ok(out)
}

/// SFTP to a temporary file beside the target, created readable by its owner only; then
/// owner, group and mode; then a rename over the target, so readers see the old file or
/// the new one and a secret is never readable by more people than the final mode allows.
/// Returns the file's owner and group.
pub fn install(
    connection: &mut Connection,
    path: &str,
    bytes: &[u8],
    mode: u32,
    owner: Option<&str>,
    group: Option<&str>,
) -> Result<(String, String), SessionError> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let dir = if dir.is_empty() { "/" } else { dir };
    let temp = format!("{dir}/.{name}.fleetform-{}", crate::resources::unique());
    let first = connection.upload(&temp, bytes, 0o600, FILE_TIMEOUT);
    if let Err(SessionError::Refused(_)) = first {
        // Most likely a missing directory: create it, then try once more.
        let mkdir = format!("mkdir -p -- {}", quote(dir));
        let out = connection.exec(&mkdir, None, FILE_TIMEOUT)?;
        if out.exit_code != 0 {
            return Err(SessionError::Refused(format!(
                "cannot create directory {dir:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        connection.upload(&temp, bytes, 0o600, FILE_TIMEOUT)?;
    } else {
        first?;
    }
    let (t, p) = (quote(&temp), quote(path));
    let ownership = match (owner, group) {
        (Some(o), Some(g)) => format!("chown -- {} {t} && ", quote(&format!("{o}:{g}"))),
        (Some(o), None) => format!("chown -- {} {t} && ", quote(o)),
        (None, Some(g)) => format!("chgrp -- {} {t} && ", quote(g)),
        (None, None) => String::new(),
    };
    let command = format!(
        "{{ {ownership}chmod {mode:04o} {t} && mv -f -- {t} {p}; }} || {{ rc=$?; rm -f -- {t}; exit $rc; }}; \
         stat -c '%a %U %G' -- {p}"
    );
    let out = connection.exec(&command, None, FILE_TIMEOUT)?;
    if out.exit_code != 0 {
        return Err(SessionError::Refused(format!(
            "cannot install {path:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let owner = fields.get(1).copied().unwrap_or_default().to_owned();
    let group = fields.get(2).copied().unwrap_or_default().to_owned();
    Ok((owner, group))
}

/// A file to install with [`install_all`].
pub struct Install<'a> {
    pub path: &'a str,
    pub bytes: &'a [u8],
    pub mode: u32,
}

/// Installs many files the way [`install`] installs one (SFTP to 0600 temporary files
/// beside their targets, then owner, group, mode and an atomic rename each), with two
/// commands in all rather than two per file: one creates the directories, one moves every
/// file into place. A file that fails to move leaves its target as it was.
pub fn install_all(
    connection: &mut Connection,
    files: &[Install<'_>],
    owner: &str,
    group: &str,
) -> Result<(), SessionError> {
    if files.is_empty() {
        return Ok(());
    }
    let dir_of = |path: &str| match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_owned(),
        Some((dir, _)) => dir.to_owned(),
    };
    let dirs: std::collections::BTreeSet<String> = files.iter().map(|f| dir_of(f.path)).collect();
    let mut mkdir = String::from("mkdir -p --");
    for dir in &dirs {
        mkdir.push(' ');
        mkdir.push_str(&quote(dir));
    }
    let out = connection.exec(&mkdir, None, FILE_TIMEOUT)?;
    if out.exit_code != 0 {
        return Err(SessionError::Refused(format!(
            "cannot create directories: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let ownership = quote(&format!("{owner}:{group}"));
    let mut script = String::from("rc=0; ");
    for file in files {
        let (_, name) = file.path.rsplit_once('/').unwrap_or(("", file.path));
        let temp = format!(
            "{}/.{name}.fleetform-{}",
            dir_of(file.path).trim_end_matches('/'),
            crate::resources::unique()
        );
        connection.upload(&temp, file.bytes, 0o600, FILE_TIMEOUT)?;
        let (t, p) = (quote(&temp), quote(file.path));
        script.push_str(&format!(
            "{{ chown -- {ownership} {t} && chmod {:04o} {t} && mv -f -- {t} {p}; }} || {{ rm -f -- {t}; echo \"cannot install \"{p} >&2; rc=1; }}; ",
            file.mode
        ));
    }
    script.push_str("exit $rc");
    let out = connection.exec(&script, None, FILE_TIMEOUT)?;
    if out.exit_code != 0 {
        return Err(SessionError::Refused(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    Ok(())
}

/// The SHA-256 of `bytes` in lowercase hexadecimal, as `sha256sum` prints it.
pub fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
