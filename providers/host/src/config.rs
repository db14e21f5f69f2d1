//! The `provider "host" {}` block: connection defaults for every host of the fleet and
//! the bounds on how much SSH work runs at once.

use fleetform_sdk::{Attribute, Block, Type};

/// The schema of the `provider "host" {}` block.
pub fn schema() -> Block {
    Block::new()
        .describe("Defaults for SSH connections to hosts; a host's own settings win.")
        .attr(
            "user",
            Attribute::optional(Type::String)
                .describe("Default SSH login user for hosts that do not set `user` (default \"root\")."),
        )
        .attr(
            "private_key_file",
            Attribute::optional(Type::String)
                .describe("Default path of an OpenSSH private key file used to authenticate."),
        )
        .attr(
            "use_agent",
            Attribute::optional(Type::Bool)
                .describe("Default for authenticating with the keys of the running ssh-agent (SSH_AUTH_SOCK)."),
        )
        .attr(
            "known_hosts_file",
            Attribute::optional(Type::String).describe(
                "Default known_hosts file checked for hosts that pin no `host_key`.",
            ),
        )
        .attr(
            "connect_timeout",
            Attribute::optional(Type::String)
                .describe("How long to wait for a TCP connection and SSH handshake, e.g. \"10s\" (default \"10s\")."),
        )
        .attr(
            "max_connections_per_host",
            Attribute::optional(Type::Number).describe(
                "Most concurrent SSH sessions opened on one host's connection (default 4).",
            ),
        )
        .attr(
            "parallelism",
            Attribute::optional(Type::Number)
                .describe("Most hosts worked on at once by this provider (default 32)."),
        )
}
