//! The `provider "host" {}` block: connection defaults for every host of the fleet and
//! the bounds on how much SSH work runs at once.

use std::path::PathBuf;
use std::time::Duration;

use fleetform_sdk::{Attribute, Block, Type, Value, parse_duration};

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
            "parallelism",
            Attribute::optional(Type::Number)
                .describe("Most hosts worked on at once by this provider (default 32)."),
        )
}

/// The provider block's settings, with their defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub user: String,
    pub private_key_file: Option<PathBuf>,
    pub use_agent: bool,
    pub known_hosts_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub parallelism: usize,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            user: "root".into(),
            private_key_file: None,
            use_agent: false,
            known_hosts_file: None,
            connect_timeout: Duration::from_secs(10),
            parallelism: 32,
        }
    }
}

impl Defaults {
    /// Reads the evaluated provider block.
    pub fn from_config(config: &Value) -> Result<Defaults, String> {
        let mut d = Defaults::default();
        if let Some(user) = config.get("user").as_str() {
            d.user = user.to_owned();
        }
        d.private_key_file = config.get("private_key_file").as_str().map(PathBuf::from);
        d.use_agent = config.get("use_agent").as_bool().unwrap_or(false);
        d.known_hosts_file = config.get("known_hosts_file").as_str().map(PathBuf::from);
        if let Some(t) = config.get("connect_timeout").as_str() {
            d.connect_timeout = parse_duration(t).map_err(|e| format!("connect_timeout: {e}"))?;
        }
        if !config.get("parallelism").is_null() {
            d.parallelism = config
                .get("parallelism")
                .as_i64()
                .filter(|n| *n >= 1)
                .ok_or("parallelism must be a whole number of at least 1")?
                as usize;
        }
        Ok(d)
    }
}
