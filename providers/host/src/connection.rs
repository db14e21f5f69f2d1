//! Connection and authentication arguments shared by the `host` resource and its
//! `bastion` block, so both read the same way.

use std::path::PathBuf;

use fleetform_sdk::{Attribute, Block, Type, Value, parse_duration};

use crate::config::Defaults;
use crate::ssh::host_key::HostKeyPin;
use crate::ssh::{Auth, Target};

/// Adds `port`, `user`, the authentication arguments and host key pinning to `block`.
/// `target` names the machine in descriptions ("the host", "the bastion").
pub(crate) fn with_connection(block: Block, target: &str) -> Block {
    block
        .attr(
            "port",
            Attribute::optional_computed(Type::Number)
                .describe(format!("SSH port of {target} (default 22).")),
        )
        .attr(
            "user",
            Attribute::optional_computed(Type::String).describe(format!(
                "Login user on {target}; defaults to the provider's `user`, then \"root\"."
            )),
        )
        .attr(
            "private_key",
            Attribute::optional(Type::String)
                .sensitive()
                .describe(format!(
                    "OpenSSH private key (PEM text) used to log in to {target}."
                )),
        )
        .attr(
            "private_key_file",
            Attribute::optional(Type::String).describe(format!(
                "Path of an OpenSSH private key file used to log in to {target}."
            )),
        )
        .attr(
            "private_key_passphrase",
            Attribute::optional(Type::String)
                .sensitive()
                .describe("Passphrase of an encrypted `private_key` or `private_key_file`."),
        )
        .attr(
            "use_agent",
            Attribute::optional(Type::Bool).describe(format!(
                "Try the keys of the running ssh-agent when logging in to {target}."
            )),
        )
        .attr(
            "password",
            Attribute::optional(Type::String)
                .sensitive()
                .describe(format!(
                    "Password for {target}, when key authentication is not possible."
                )),
        )
        .attr(
            "host_key",
            Attribute::optional(Type::String).describe(format!(
                "Pinned host key of {target}: an OpenSSH public key line (\"ssh-ed25519 AAAA...\") \
                 or a \"SHA256:...\" fingerprint. Connections presenting another key are refused."
            )),
        )
        .attr(
            "known_hosts_file",
            Attribute::optional(Type::String).describe(format!(
                "known_hosts file used to verify {target} when `host_key` is not set."
            )),
        )
}

/// The default SSH port.
pub(crate) const DEFAULT_PORT: u16 = 22;

/// How to reach the machine `block` describes (a `host` or its `bastion`), with the
/// provider's defaults for what it leaves unset. Errors name the argument, never a value.
pub(crate) fn target(block: &Value, defaults: &Defaults) -> Result<Target, String> {
    let address = block
        .get("address")
        .as_str()
        .ok_or("address is not known yet")?
        .to_owned();
    let port = match block.get("port") {
        p if p.is_null() => DEFAULT_PORT,
        p => p
            .as_i64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or("port must be between 1 and 65535")?,
    };
    let text = |name: &str| block.get(name).as_str().map(str::to_owned);
    let user = text("user").unwrap_or_else(|| defaults.user.clone());
    let auth = Auth {
        private_key: text("private_key"),
        private_key_file: text("private_key_file")
            .map(PathBuf::from)
            .or_else(|| defaults.private_key_file.clone()),
        passphrase: text("private_key_passphrase"),
        use_agent: block
            .get("use_agent")
            .as_bool()
            .unwrap_or(defaults.use_agent),
        password: text("password"),
    };
    let host_key = match (text("host_key"), text("known_hosts_file")) {
        (Some(pin), _) => HostKeyPin::parse(&pin).map_err(|e| format!("host_key: {e}"))?,
        (None, Some(file)) => HostKeyPin::KnownHosts(file.into()),
        (None, None) => match &defaults.known_hosts_file {
            Some(file) => HostKeyPin::KnownHosts(file.clone()),
            None => {
                return Err(format!(
                    "no host key is pinned for {address}: set `host_key` (an OpenSSH public key \
                     line or a SHA256 fingerprint) or a `known_hosts_file`; fleetform never \
                     trusts a host key on first use"
                ));
            }
        },
    };
    let connect_timeout = match text("connect_timeout") {
        Some(t) => parse_duration(&t).map_err(|e| format!("connect_timeout: {e}"))?,
        None => defaults.connect_timeout,
    };
    let bastion = match block.get("bastion") {
        b if b.is_null() => None,
        b => Some(Box::new(
            target(b, defaults).map_err(|e| format!("bastion: {e}"))?,
        )),
    };
    Ok(Target {
        address,
        port,
        user,
        auth,
        host_key,
        connect_timeout,
        bastion,
    })
}

/// A host's id: its address and port, and its jump host's when it has one, so that two
/// clinics' machines with the same private address stay apart.
pub(crate) fn host_id(target: &Target) -> String {
    match &target.bastion {
        Some(b) => format!("{}:{} via {}", target.address, target.port, host_id(b)),
        None => format!("{}:{}", target.address, target.port),
    }
}
