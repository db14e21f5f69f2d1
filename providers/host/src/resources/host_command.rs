//! The `host_command` resource: a command run on a host once, and again only when its
//! arguments or `triggers` change. Guards (`creates`, `unless`) make it idempotent the
//! way Ansible's command module is. Commands are argument vectors, never shell strings;
//! shell code goes in `script`, so quoting is always explicit.

use fleetform_sdk::{Attribute, Block, Schema, Type};

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
