//! The hook expansion calls for each resource block: it turns the evaluated configurations
//! of the block's instances into the values their dependents see. `validate` keeps the
//! configurations; planning asks providers for planned values; applying makes the changes.

use fleetform_sdk::{Block, Diagnostics, Schema, Value};

use super::ProviderConfigAddr;
use crate::addrs::{AbsResourceInstance, ResourceMode};
use crate::config::{Config, ResourceBlock};

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

/// [`ValidateHook`] that also asks each resource's provider to check its configuration
/// (`Provider::validate_resource`), as `fleetform validate` does.
pub struct ProviderValidateHook<'a> {
    pub config: &'a Config,
    pub providers: &'a crate::providers::Providers,
}

impl Hook for ProviderValidateHook<'_> {
    fn instances(
        &mut self,
        batch: Vec<InstanceRequest<'_>>,
        diags: &mut Diagnostics,
    ) -> Vec<Value> {
        for request in &batch {
            if request.addr.resource.resource.mode != ResourceMode::Managed {
                continue;
            }
            let Some(provider) = self.providers.get(&request.provider.name) else {
                continue;
            };
            let problems = provider.validate_resource(&fleetform_sdk::ValidateRequest {
                type_name: request.addr.resource.resource.ty.clone(),
                config: request.config.clone(),
            });
            for problem in problems.into_vec() {
                diags.push(locate(self.config, request, problem));
            }
        }
        ValidateHook.instances(batch, diags)
    }
}

/// Points a provider's diagnostic at the attribute it names (a dotted path into the
/// block), or at the block, and names the instance.
pub fn locate(
    config: &Config,
    request: &InstanceRequest<'_>,
    diag: fleetform_sdk::Diagnostic,
) -> fleetform_sdk::Diagnostic {
    let block = request.block;
    let span = diag
        .attribute
        .as_deref()
        .and_then(|path| attribute_span(&block.body, path));
    let range = match span {
        Some(span) => config.sources.range_of(block.file, span),
        None => config.range(&block.loc),
    };
    let diag = if diag.subject.is_none() {
        diag.at(Some(range))
    } else {
        diag
    };
    diag.address(request.addr.to_string())
}

/// The span of the attribute at a dotted path ("certificates.renew_before") in a block's
/// body, following the first nested block of each name.
fn attribute_span(body: &hcl::edit::structure::Body, path: &str) -> Option<std::ops::Range<usize>> {
    use hcl::edit::Span;
    let (blocks, name) = match path.rsplit_once('.') {
        Some((blocks, name)) => (Some(blocks), name),
        None => (None, path),
    };
    let mut body = body;
    for part in blocks.into_iter().flat_map(|b| b.split('.')) {
        body = &body.get_blocks(part).next()?.body;
    }
    body.get_attribute(name)?.span()
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
