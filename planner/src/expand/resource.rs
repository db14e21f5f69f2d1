//! Expanding one `resource` or `data` block in one module instance: its provider
//! configuration, its instances, and each instance's checked configuration value.

use std::collections::BTreeMap;

use fleetform_sdk::schema::did_you_mean;
use fleetform_sdk::{Diagnostic, Diagnostics, Value};

use super::hook::{Hook, InstanceRequest};
use super::repeat::{Keys, Mode};
use super::scope::{InstanceScope, Repetition};
use super::{Expansion, ProviderConfigAddr, ResourceInstance};
use crate::addrs::{AbsResourceInstance, InstanceKey, ModuleInstance, Resource, ResourceMode};
use crate::config::{IgnoreChanges, ResourceBlock};
use crate::providers::Providers;

/// The evaluated instances of one resource block in one module instance, waiting for the
/// hook to turn their configurations into the values dependents see.
pub(super) struct Pending<'c> {
    module: ModuleInstance,
    addr: Resource,
    mode: Mode,
    /// Checked for diagnostics only: keys unknown, or inside a placeholder module.
    checked_only: bool,
    provider: ProviderConfigAddr,
    schema: &'c fleetform_sdk::Schema,
    values: Vec<(InstanceKey, Value)>,
    /// `each`/`count` of each instance, in the order of `values`.
    reps: Vec<Repetition>,
}

impl<'c> Expansion<'c> {
    /// Expands one resource block in every instance of its module: evaluates every
    /// instance's configuration, hands the batch to the hook, and records what it returns.
    pub(super) fn resource(
        &mut self,
        instances: &[ModuleInstance],
        addr: &Resource,
        hook: &mut dyn Hook,
        diags: &mut Diagnostics,
    ) {
        let mut pending: Vec<Pending<'c>> = instances
            .iter()
            .filter_map(|m| self.resource_configs(m, addr, diags))
            .collect();
        let config = self.config;
        let mut requests = Vec::new();
        // Configurations move into the requests and the hook's results move back: no copies.
        for p in pending.iter_mut().filter(|p| !p.checked_only) {
            let block = &config.modules[&p.module.path()].resources[&p.addr];
            for (key, value) in p.values.iter_mut() {
                requests.push(InstanceRequest {
                    addr: AbsResourceInstance {
                        module: p.module.clone(),
                        resource: p.addr.instance(key.clone()),
                    },
                    provider: p.provider.clone(),
                    schema: p.schema,
                    block,
                    config: std::mem::take(value),
                    provider_config: self
                        .provider_values
                        .get(&p.provider)
                        .cloned()
                        .unwrap_or_default(),
                });
            }
        }
        let mut results = if requests.is_empty() {
            Vec::new()
        } else {
            hook.instances(requests, diags)
        }
        .into_iter();
        for mut p in pending {
            if !p.checked_only {
                for (_, value) in p.values.iter_mut() {
                    *value = results.next().unwrap_or(Value::Unknown);
                }
                self.postconditions(&p, diags);
            }
            self.store(p);
        }
    }

    /// Checks `lifecycle { postcondition }` against each instance's value as the hook
    /// returned it (planned, or applied), with `self` bound to it; conditions on values not
    /// known yet are checked by the apply walk.
    fn postconditions(&self, p: &Pending<'_>, diags: &mut Diagnostics) {
        let block = &self.config.modules[&p.module.path()].resources[&p.addr];
        for check in &block.lifecycle.postconditions {
            for ((key, value), rep) in p.values.iter().zip(&p.reps) {
                let extra = [("self".to_owned(), value.clone())];
                if let Some(message) = self.check(&p.module, rep, &extra, check, diags) {
                    let addr = AbsResourceInstance {
                        module: p.module.clone(),
                        resource: p.addr.instance(key.clone()),
                    };
                    diags.push(
                        Diagnostic::error("Resource postcondition failed", message)
                            .at(Some(self.config.range(&check.condition.loc())))
                            .address(addr.to_string()),
                    );
                }
            }
        }
    }

    /// Records the instances and makes their values visible to references, moving each
    /// value (no copies: at 10,000 instances, copies are most of the cost).
    fn store(&mut self, p: Pending<'_>) {
        if !p.checked_only {
            for (key, _) in &p.values {
                self.resources.push(ResourceInstance {
                    addr: AbsResourceInstance {
                        module: p.module.clone(),
                        resource: p.addr.instance(key.clone()),
                    },
                    provider: p.provider.clone(),
                });
            }
        }
        let combined = match p.mode {
            Mode::Single => p
                .values
                .into_iter()
                .next()
                .map(|(_, v)| v)
                .unwrap_or(Value::Unknown),
            Mode::Count => Value::List(p.values.into_iter().map(|(_, v)| v).collect()),
            Mode::ForEach => Value::Object(
                p.values
                    .into_iter()
                    .map(|(k, v)| match k {
                        InstanceKey::Str(s) => (s, v),
                        other => (other.to_string(), v),
                    })
                    .collect::<BTreeMap<_, _>>(),
            ),
            Mode::Unknown => Value::Unknown,
        };
        self.data
            .entry(p.module)
            .or_default()
            .resources
            .insert(p.addr, combined);
    }

    fn resource_configs(
        &mut self,
        m: &ModuleInstance,
        addr: &Resource,
        diags: &mut Diagnostics,
    ) -> Option<Pending<'c>> {
        let config = self.config;
        let providers: &'c Providers = self.providers;
        let rb = &config.modules[&m.path()].resources[addr];
        let Some((provider_name, schema)) = providers.resource_type(addr.mode, &addr.ty) else {
            let (summary, kind) = match addr.mode {
                ResourceMode::Managed => ("Invalid resource type", "resource type"),
                ResourceMode::Data => ("Invalid data source", "data source"),
            };
            let mut detail = format!("No provider supplies a {kind} named {:?}.", addr.ty);
            if let Some(s) = did_you_mean(&addr.ty, self.providers.type_names(addr.mode)) {
                detail.push_str(&format!(" Did you mean {s:?}?"));
            }
            self.once(
                "type",
                &rb.type_loc,
                diags,
                Diagnostic::error(summary, detail).at(Some(config.range(&rb.type_loc))),
            );
            self.data
                .entry(m.clone())
                .or_default()
                .resources
                .insert(addr.clone(), Value::Unknown);
            return None;
        };

        let provider = self.provider_for(m, rb, provider_name, diags);
        self.check_ignore_changes(rb, &schema.block, diags);
        let keys = self.keys(
            m,
            rb.count.as_ref(),
            rb.for_each.as_ref(),
            &addr.to_string(),
            diags,
        );
        let placeholder = self.data.get(m).is_some_and(|d| d.placeholder);
        let (mode, entries) = match keys {
            Keys::Known(mode, entries) => (mode, entries),
            Keys::Unknown => (
                Mode::Unknown,
                vec![(
                    InstanceKey::None,
                    Repetition {
                        each: Some((Value::Unknown, Value::Unknown)),
                        count: Some(Value::Unknown),
                    },
                )],
            ),
            Keys::Invalid => {
                self.data
                    .entry(m.clone())
                    .or_default()
                    .resources
                    .insert(addr.clone(), Value::Unknown);
                return None;
            }
        };
        let mut values = Vec::with_capacity(entries.len());
        let mut reps = Vec::with_capacity(entries.len());
        {
            let data = self.data.get(m).expect("module instance exists");
            for (key, rep) in &entries {
                let scope = InstanceScope {
                    exp: self,
                    module: m,
                    data,
                    rep,
                    extra: &[],
                };
                let value =
                    super::body::evaluate(&scope, &schema.block, &rb.body, rb.file, &rb.loc, diags);
                for check in &rb.lifecycle.preconditions {
                    if let Some(message) = self.check(m, rep, &[], check, diags) {
                        diags.push(
                            Diagnostic::error("Resource precondition failed", message)
                                .at(Some(config.range(&check.condition.loc())))
                                .address(
                                    AbsResourceInstance {
                                        module: m.clone(),
                                        resource: addr.instance(key.clone()),
                                    }
                                    .to_string(),
                                ),
                        );
                    }
                }
                values.push((key.clone(), value));
                reps.push(rep.clone());
            }
        }
        Some(Pending {
            module: m.clone(),
            addr: addr.clone(),
            mode,
            checked_only: placeholder || mode == Mode::Unknown,
            provider,
            schema,
            values,
            reps,
        })
    }

    /// The provider configuration for a resource: its `provider` argument, or the default
    /// configuration of its provider in this module or the nearest calling module, passing
    /// through `providers = {}` maps of module calls; the root's implied empty
    /// configuration when none is declared.
    fn provider_for(
        &mut self,
        m: &ModuleInstance,
        rb: &ResourceBlock,
        provider_name: &str,
        diags: &mut Diagnostics,
    ) -> ProviderConfigAddr {
        let config = self.config;
        let (mut name, mut alias) = (provider_name.to_owned(), None);
        if let Some(r) = &rb.provider {
            if r.name != provider_name {
                let detail = format!(
                    "The resource type {:?} belongs to the provider {provider_name:?}, so it cannot use the {:?} provider configuration {}.",
                    rb.addr.ty, r.name, r
                );
                self.once(
                    "provider-ref",
                    &r.loc,
                    diags,
                    Diagnostic::error("Invalid provider configuration reference", detail)
                        .at(Some(config.range(&r.loc))),
                );
            }
            alias = r.alias.clone();
            name = provider_name.to_owned();
        }
        let mut current = m.clone();
        loop {
            let module = &config.modules[&current.path()];
            if module
                .providers
                .contains_key(&(name.clone(), alias.clone()))
            {
                return ProviderConfigAddr {
                    module: current,
                    name,
                    alias,
                };
            }
            if current.is_root() {
                break;
            }
            let (parent, call_name) = super::parent_of(&current);
            let call = &config.modules[&parent.path()].module_calls[&call_name];
            let wanted = match &alias {
                Some(a) => format!("{name}.{a}"),
                None => name.clone(),
            };
            if let Some((_, passed)) = call
                .providers
                .iter()
                .find(|(child, _)| *child == wanted || *child == name && alias.is_none())
            {
                name = passed.name.clone();
                alias = passed.alias.clone();
            } else if alias.is_some() {
                break;
            }
            current = parent;
        }
        if let (Some(a), Some(r)) = (&alias, &rb.provider) {
            let detail = format!(
                "No provider {name:?} block with alias {a:?} is declared for {}; declare it, or pass one with the module's providers argument.",
                rb.addr
            );
            self.once(
                "provider-missing",
                &r.loc,
                diags,
                Diagnostic::error("Provider configuration not present", detail)
                    .at(Some(config.range(&r.loc))),
            );
        }
        let implied = ProviderConfigAddr {
            module: ModuleInstance::root(),
            name,
            alias: None,
        };
        if !self.provider_configs.contains(&implied) {
            self.provider_configs.push(implied.clone());
        }
        implied
    }

    fn check_ignore_changes(
        &mut self,
        rb: &ResourceBlock,
        schema: &fleetform_sdk::Block,
        diags: &mut Diagnostics,
    ) {
        let IgnoreChanges::Attributes(list) = &rb.lifecycle.ignore_changes else {
            return;
        };
        for expr in list {
            let name = match &expr.expr {
                hcl::edit::expr::Expression::Variable(v) => Some(v.as_str().to_owned()),
                hcl::edit::expr::Expression::Traversal(t) => match &t.expr {
                    hcl::edit::expr::Expression::Variable(v) => Some(v.as_str().to_owned()),
                    _ => None,
                },
                _ => None,
            };
            let loc = expr.loc();
            match name {
                Some(n) if schema.attributes.contains_key(&n) || schema.blocks.contains_key(&n) => {}
                Some(n) => {
                    let mut detail = format!("The resource type {:?} has no attribute named {n:?}.", rb.addr.ty);
                    if let Some(s) = did_you_mean(&n, schema.names()) {
                        detail.push_str(&format!(" Did you mean {s:?}?"));
                    }
                    self.once("ignore", &loc, diags, Diagnostic::error("Unsupported attribute", detail).at(Some(self.config.range(&loc))));
                }
                None => self.once("ignore", &loc, diags, Diagnostic::error("Invalid ignore_changes", "Each ignore_changes entry is an attribute name or path, such as labels or labels[\"site\"].").at(Some(self.config.range(&loc)))),
            }
        }
    }
}
