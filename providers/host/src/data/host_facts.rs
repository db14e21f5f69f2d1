//! The `host_facts` data source: reads the facts of a host already in the fleet without
//! managing it, e.g. to size a node pool from `memory_mb`.

use fleetform_sdk::{Attribute, Block, ProviderError, Schema, Type, Value};

use crate::fleet::{Fleet, Rerun};

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

/// Reads the facts of a host the run knows.
pub(crate) async fn read(fleet: &Fleet, config: Value) -> Result<Value, ProviderError> {
    let host = config.get("host").as_str().unwrap_or_default().to_owned();
    let (target, shell) = fleet.host(&host)?;
    let report = fleet
        .run_on(target, Rerun::Safe, move |c| crate::facts::gather(c, shell))
        .await?;
    let mut object = config.as_object().cloned().unwrap_or_default();
    report.insert_into(&mut object);
    object.insert("id".into(), Value::from(host));
    Ok(Value::Object(object.into()))
}
