//! The `host` resource: one machine of the fleet. Creating it connects, verifies the
//! pinned host key, runs the preflight checks and records the host's facts; it installs
//! nothing. Other resources refer to it by `id`.

use fleetform_sdk::{Attribute, Block, NestedBlock, Nesting, Schema, Type};

use crate::connection::with_connection;
use crate::facts::with_facts;

/// The schema of `resource "host"`.
pub fn schema() -> Schema {
    let block = Block::new()
        .describe("A machine of the fleet reached over SSH: connection, pinned host key, preflight checks and facts.")
        .attr(
            "address",
            Attribute::required(Type::String)
                .force_new()
                .describe("IP address or DNS name the host is reached at over SSH."),
        )
        .attr(
            "labels",
            Attribute::optional(Type::map(Type::String))
                .describe("Free-form labels for selecting hosts in configuration, e.g. { role = \"worker\" }."),
        )
        .attr(
            "os_family",
            Attribute::optional_computed(Type::String).describe(
                "\"linux\" or \"windows\": which shell runs commands on the host (sh or PowerShell). \
                 Default \"linux\".",
            ),
        )
        .attr(
            "connect_timeout",
            Attribute::optional(Type::String)
                .describe("How long to wait to connect, e.g. \"30s\"; defaults to the provider's."),
        )
        .block("bastion", NestedBlock::new(Nesting::Single, bastion()))
        .block("preflight", NestedBlock::new(Nesting::Single, preflight()));
    Schema::new(with_facts(with_connection(block, "the host")))
}

/// A jump host the connection goes through, like `ssh -J`.
fn bastion() -> Block {
    let block = Block::new()
        .describe("A jump host the SSH connection to the host goes through (like `ssh -J`).")
        .attr(
            "address",
            Attribute::required(Type::String).describe("IP address or DNS name of the bastion."),
        );
    with_connection(block, "the bastion")
}

/// Checks run before anything is installed; a failed check fails the host's apply with
/// every failed check listed.
fn preflight() -> Block {
    Block::new()
        .describe("Checks the host must pass before anything is installed on it, like kubeadm's preflight.")
        .attr(
            "min_memory_mb",
            Attribute::optional(Type::Number).describe("Least total memory in MiB."),
        )
        .attr(
            "min_cpus",
            Attribute::optional(Type::Number).describe("Least number of logical CPUs."),
        )
        .attr(
            "swap_off",
            Attribute::optional(Type::Bool).describe("Require swap to be disabled, as kubelet expects by default."),
        )
        .attr(
            "kernel_modules",
            Attribute::optional(Type::list(Type::String))
                .describe("Kernel modules that must be loaded, e.g. [\"overlay\", \"br_netfilter\"]."),
        )
        .attr(
            "ports_free",
            Attribute::optional(Type::list(Type::Number))
                .describe("TCP ports nothing may listen on yet, e.g. [6443, 10250]."),
        )
        .attr(
            "binaries",
            Attribute::optional(Type::list(Type::String))
                .describe("Programs that must be on PATH, e.g. [\"iptables\", \"conntrack\"]."),
        )
}
