//! Connection and authentication arguments shared by the `host` resource and its
//! `bastion` block, so both read the same way.

use fleetform_sdk::{Attribute, Block, Type};

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
