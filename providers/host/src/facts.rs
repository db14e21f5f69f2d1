//! The facts gathered from a host, shared by the `host` resource and the `host_facts`
//! data source so both expose them under the same names.

use fleetform_sdk::{Attribute, Block, Type};

/// Adds the computed facts of a host to `block`.
pub(crate) fn with_facts(block: Block) -> Block {
    let fact = |ty: Type, description: &str| Attribute::computed(ty).describe(description);
    block
        .attr("id", fact(Type::String, "Identifier of the host in state (its address and port)."))
        .attr("hostname", fact(Type::String, "The host's name, as `hostname` reports it."))
        .attr(
            "os_id",
            fact(Type::String, "Operating system ID, e.g. \"debian\" (os-release `ID`) or \"windows\"."),
        )
        .attr(
            "os_version",
            fact(Type::String, "Operating system version, e.g. \"12\" (os-release `VERSION_ID`)."),
        )
        .attr("kernel", fact(Type::String, "Kernel release, as `uname -r` reports it."))
        .attr(
            "architecture",
            fact(Type::String, "CPU architecture in Go/Kubernetes terms: \"amd64\" or \"arm64\"."),
        )
        .attr("cpus", fact(Type::Number, "Number of logical CPUs."))
        .attr("memory_mb", fact(Type::Number, "Total memory in MiB."))
        .attr(
            "addresses",
            fact(Type::list(Type::String), "IP addresses of the host's interfaces, loopback excluded."),
        )
        .attr(
            "time_offset_ms",
            fact(
                Type::Number,
                "Host clock minus the local clock in milliseconds; large skews break certificates.",
            ),
        )
        .attr(
            "container_runtime",
            fact(
                Type::String,
                "Installed container runtime and version, e.g. \"containerd 1.7.24\"; null when none.",
            ),
        )
        .attr(
            "kubelet_version",
            fact(Type::String, "Installed kubelet version, e.g. \"1.31.2\"; null when none."),
        )
        .attr(
            "host_key_fingerprint",
            fact(Type::String, "SHA256 fingerprint of the host key the host presented."),
        )
}
