//! The `host_facts` data source: reads the facts of a host already in the fleet without
//! managing it, e.g. to size a node pool from `memory_mb`.

use fleetform_sdk::{Attribute, Block, Schema, Type};

use crate::facts::with_facts;

/// The schema of `data "host_facts"`.
pub fn schema() -> Schema {
    let block = Block::new()
        .describe("Facts read from a host: OS, kernel, CPUs, memory, addresses, installed runtime.")
        .attr(
            "host",
            Attribute::required(Type::String)
                .describe("The host to read: a `host` resource's id, e.g. host.node1.id."),
        );
    Schema::new(with_facts(block))
}
