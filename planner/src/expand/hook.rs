//! The hook expansion calls for each resource block: it turns the evaluated configurations
//! of the block's instances into the values their dependents see. `validate` keeps the
//! configurations; planning asks providers for planned values; applying makes the changes.

use fleetform_sdk::{Block, Diagnostics, Schema, Value};

use super::ProviderConfigAddr;
use crate::addrs::{AbsResourceInstance, ResourceMode};
use crate::config::ResourceBlock;

/// One resource or data instance, evaluated and checked against its schema.
pub struct InstanceRequest<'a> {
    /// Its address.
    pub addr: AbsResourceInstance,
    /// The provider configuration that manages it.
    pub provider: ProviderConfigAddr,
    /// Its type's schema.
    pub schema: &'a Schema,
    /// Its block: lifecycle, depends_on, where it is.
    pub block: &'a ResourceBlock,
    /// The evaluated configuration: every schema attribute present, computed ones unknown.
    pub config: Value,
    /// The evaluated provider block (null for an implied, empty one), for `configure`.
    pub provider_config: std::sync::Arc<Value>,
}

/// Called once per resource block with all of its instances (across module instances).
pub trait Hook {
    /// Returns one value per request, in order: what references to that instance see.
    fn instances(&mut self, batch: Vec<InstanceRequest<'_>>, diags: &mut Diagnostics)
    -> Vec<Value>;
}

/// The hook of `validate`: what a first plan would show, with every attribute the
/// provider sets unknown (all of a data source's results, which are read later).
pub struct ValidateHook;

impl Hook for ValidateHook {
    fn instances(
        &mut self,
        batch: Vec<InstanceRequest<'_>>,
        _diags: &mut Diagnostics,
    ) -> Vec<Value> {
        batch
            .into_iter()
            .map(|r| {
                let data = r.addr.resource.resource.mode == ResourceMode::Data;
                unknown_computed(r.config, &r.schema.block, data)
            })
            .collect()
    }
}

/// The value with every attribute the provider will set made unknown: computed ones, unset
/// optional-computed ones, and (for data sources, `all_computed`) every computed one even
/// if configured.
pub fn unknown_computed(value: Value, schema: &Block, all_computed: bool) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    for (name, attr) in &schema.attributes {
        use fleetform_sdk::Presence;
        let unset = map.get(name).is_none_or(Value::is_null);
        let provider_sets = match attr.presence {
            Presence::Computed => true,
            Presence::OptionalComputed => unset || all_computed,
            Presence::Required | Presence::Optional => false,
        };
        if provider_sets {
            map.insert(name.clone(), Value::Unknown.mark_if(attr.sensitive));
        }
    }
    for (name, nested) in &schema.blocks {
        if let Some(v) = map.remove(name) {
            let v = match v {
                Value::Object(_) if nested.nesting == fleetform_sdk::Nesting::Single => {
                    unknown_computed(v, &nested.block, all_computed)
                }
                Value::List(items) => Value::List(
                    items
                        .into_iter()
                        .map(|i| unknown_computed(i, &nested.block, all_computed))
                        .collect(),
                ),
                Value::Object(m) if nested.nesting == fleetform_sdk::Nesting::Map => Value::Object(
                    m.into_iter()
                        .map(|(k, i)| (k, unknown_computed(i, &nested.block, all_computed)))
                        .collect(),
                ),
                other => other,
            };
            map.insert(name.clone(), v);
        }
    }
    Value::Object(map)
}
