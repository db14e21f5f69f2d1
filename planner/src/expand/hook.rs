//! The hook the walk calls for each resource instance: it turns the evaluated
//! configuration into the value dependents see. `validate` keeps the configuration;
//! planning asks providers for planned values; applying makes the changes.

use fleetform_sdk::{Block, Diagnostic, Schema, Value};
use futures::FutureExt;
use futures::future::LocalBoxFuture;

use super::ProviderConfigAddr;
use crate::addrs::{AbsResource, AbsResourceInstance, ResourceMode};
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
    /// The resources it depends on (through variables, locals, outputs and module
    /// boundaries), recorded for the order of later destroys.
    pub dependencies: Vec<AbsResource>,
    /// A failed instance it depends on, directly or not: apply skips it.
    pub blocked_by: Option<String>,
}

/// What the hook made of one instance.
pub struct Outcome {
    /// What references to the instance see.
    pub value: Value,
    /// Problems found.
    pub diags: Vec<Diagnostic>,
    /// The instance failed (or was skipped): what depends on it is skipped too.
    pub failed: bool,
}

impl Outcome {
    /// A value with nothing to report.
    pub fn value(value: Value) -> Outcome {
        Outcome {
            value,
            diags: Vec::new(),
            failed: false,
        }
    }
}

/// Turns each instance's evaluated configuration into the value its dependents see:
/// `validate` keeps the configuration, planning asks providers for planned values,
/// applying makes the changes. The walk calls it once per instance, as soon as what the
/// instance refers to is done, and runs the futures concurrently.
pub trait Hook {
    /// Plans, applies or checks one instance.
    fn instance<'a>(&'a self, request: InstanceRequest<'a>) -> LocalBoxFuture<'a, Outcome>;

    /// True when the walk applies: `timestamp()` is then known.
    fn applying(&self) -> bool {
        false
    }

    /// Asked before an instance starts: a future that resolves when it may (a rollout's
    /// batch reached its site), or `None` to start it at once. A waiting instance takes no
    /// parallelism slot.
    fn admission(&self, addr: &AbsResourceInstance) -> Option<LocalBoxFuture<'_, ()>> {
        let _ = addr;
        None
    }

    /// Work of the hook's own that runs beside the instances (a rollout's gates and soak
    /// times); the walk ends when it is done too.
    fn background(&self) -> Option<LocalBoxFuture<'_, ()>> {
        None
    }

    /// Nothing is running or ready in the walk: instances still waiting for admission wait
    /// on something that will never finish on its own.
    fn stalled(&self) {}

    /// The value of an instance the walk does not evaluate (`WalkOptions::frozen`): what
    /// the state recorded for it, unknown when nothing was.
    fn recorded(&self, addr: &AbsResourceInstance) -> Value {
        let _ = addr;
        Value::Unknown
    }
}

/// The hook of `validate`: what a first plan would show, with every attribute the
/// provider sets unknown (all of a data source's results, which are read later).
pub struct ValidateHook;

impl ValidateHook {
    fn value(request: InstanceRequest<'_>) -> Value {
        let data = request.addr.resource.resource.mode == ResourceMode::Data;
        unknown_computed(request.config, &request.schema.block, data)
    }
}

impl Hook for ValidateHook {
    fn instance<'a>(&'a self, request: InstanceRequest<'a>) -> LocalBoxFuture<'a, Outcome> {
        futures::future::ready(Outcome::value(ValidateHook::value(request))).boxed_local()
    }
}

/// [`ValidateHook`] that also asks each resource's provider to check its configuration
/// (`Provider::validate_resource`), as `fleetform validate` does.
pub struct ProviderValidateHook<'a> {
    pub config: &'a Config,
    pub providers: &'a crate::providers::Providers,
}

impl Hook for ProviderValidateHook<'_> {
    fn instance<'a>(&'a self, request: InstanceRequest<'a>) -> LocalBoxFuture<'a, Outcome> {
        let mut diags = Vec::new();
        if request.addr.resource.resource.mode == ResourceMode::Managed
            && let Some(provider) = self.providers.get(&request.provider.name)
        {
            let problems = provider.validate_resource(&fleetform_sdk::ValidateRequest {
                type_name: request.addr.resource.resource.ty.clone(),
                config: request.config.clone(),
            });
            diags.extend(
                problems
                    .into_vec()
                    .into_iter()
                    .map(|problem| locate(self.config, &request, problem)),
            );
        }
        let outcome = Outcome {
            value: ValidateHook::value(request),
            diags,
            failed: false,
        };
        futures::future::ready(outcome).boxed_local()
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
    // A provider's check never quotes a secret of the configuration it checked.
    let secrets = fleetform_sdk::Secrets::of(&request.config);
    let mut diag = diag;
    diag.summary = secrets.redact(&diag.summary);
    diag.detail = secrets.redact(&diag.detail);
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
                Value::Set(items) => Value::Set(
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
