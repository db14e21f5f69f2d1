//! Expanding one `resource` or `data` block in one module instance: its provider
//! configuration, its instances, and each instance's checked configuration value.

use fleetform_sdk::schema::did_you_mean;
use fleetform_sdk::{Diagnostic, Diagnostics, Value};

use super::repeat::{Keys, Mode};
use super::scope::{InstanceScope, Repetition};
use super::{Expansion, ProviderConfigAddr};
use crate::addrs::{AbsResourceInstance, InstanceKey, ModuleInstance, Resource, ResourceMode};
use crate::config::{IgnoreChanges, ResourceBlock};
use crate::plan::Checked;
use crate::providers::Providers;

/// A resource block in one module instance, its keys known.
pub(super) struct ExpandedResource<'c> {
    pub mode: Mode,
    /// Checked for diagnostics only: keys unknown, or inside a placeholder module.
    pub checked_only: bool,
    pub provider: ProviderConfigAddr,
    pub schema: &'c fleetform_sdk::Schema,
    /// Each instance's key with its `each`/`count`.
    pub entries: Vec<(InstanceKey, Repetition)>,
}

impl<'c> Expansion<'c> {
    /// Expands one resource block in one module instance: its provider configuration and
    /// its instance keys. Until its instances are done, references see unknown values in
    /// their places. `None` when the block cannot be expanded (an error was reported).
    pub(super) fn expand_resource(
        &mut self,
        m: &ModuleInstance,
        addr: &Resource,
        diags: &mut Diagnostics,
    ) -> Option<ExpandedResource<'c>> {
        let config = self.config;
        let providers: &'c Providers = self.providers;
        let rb = &config.modules[&m.path()].resources[addr];
        let unknown = |exp: &mut Self| {
            exp.data
                .entry(m.clone())
                .or_default()
                .resources
                .insert(addr.clone(), Value::Unknown);
        };
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
            unknown(self);
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
                unknown(self);
                return None;
            }
        };
        let combined = match mode {
            Mode::Single | Mode::Unknown => Value::Unknown,
            Mode::Count => Value::List(vec![Value::Unknown; entries.len()]),
            Mode::ForEach => Value::Object(
                entries
                    .iter()
                    .map(|(k, _)| (key_string(k), Value::Unknown))
                    .collect(),
            ),
        };
        self.data
            .entry(m.clone())
            .or_default()
            .resources
            .insert(addr.clone(), combined);
        Some(ExpandedResource {
            mode,
            checked_only: placeholder || mode == Mode::Unknown,
            provider,
            schema,
            entries,
        })
    }

    /// Evaluates one instance's configuration against its schema and checks its
    /// preconditions.
    pub(super) fn instance_config(
        &self,
        m: &ModuleInstance,
        addr: &Resource,
        key: &InstanceKey,
        rep: &Repetition,
        schema: &fleetform_sdk::Schema,
        diags: &mut Diagnostics,
    ) -> Value {
        let config = self.config;
        let rb = &config.modules[&m.path()].resources[addr];
        let data = self.data.get(m).expect("module instance exists");
        let scope = InstanceScope {
            exp: self,
            module: m,
            data,
            rep,
            extra: &[],
        };
        let value = super::body::evaluate(&scope, &schema.block, &rb.body, rb.file, &rb.loc, diags);
        for check in &rb.lifecycle.preconditions {
            let instance = AbsResourceInstance {
                module: m.clone(),
                resource: addr.instance(key.clone()),
            };
            let object = Checked::Resource(instance.clone());
            if let Some(message) = self.check(object, m, rep, &[], check, diags) {
                diags.push(
                    Diagnostic::error("Resource precondition failed", message)
                        .at(Some(config.range(&check.condition.loc())))
                        .address(instance.to_string()),
                );
            }
        }
        value
    }

    /// Checks `lifecycle { postcondition }` against an instance's value as the hook
    /// returned it (planned, or applied), with `self` bound to it; conditions on values not
    /// known yet are checked by the apply walk.
    pub(super) fn postconditions(
        &self,
        m: &ModuleInstance,
        addr: &Resource,
        key: &InstanceKey,
        rep: &Repetition,
        value: &Value,
        diags: &mut Diagnostics,
    ) {
        let block = &self.config.modules[&m.path()].resources[addr];
        for check in &block.lifecycle.postconditions {
            let extra = [("self".to_owned(), value.clone())];
            let instance = AbsResourceInstance {
                module: m.clone(),
                resource: addr.instance(key.clone()),
            };
            let object = Checked::Resource(instance.clone());
            if let Some(message) = self.check(object, m, rep, &extra, check, diags) {
                diags.push(
                    Diagnostic::error("Resource postcondition failed", message)
                        .at(Some(self.config.range(&check.condition.loc())))
                        .address(instance.to_string()),
                );
            }
        }
    }

    /// Puts an instance's value in its place, where references see it.
    pub(super) fn store_instance(
        &mut self,
        m: &ModuleInstance,
        addr: &Resource,
        mode: Mode,
        key: &InstanceKey,
        value: Value,
    ) {
        let Some(slot) = self.data.get_mut(m).and_then(|d| d.resources.get_mut(addr)) else {
            return;
        };
        match (mode, slot, key) {
            (Mode::Single, slot, _) => *slot = value,
            (Mode::Count, Value::List(items), InstanceKey::Int(i)) => {
                if let Some(item) = usize::try_from(*i).ok().and_then(|i| items.get_mut(i)) {
                    *item = value;
                }
            }
            (Mode::ForEach, Value::Object(map), k) => {
                map.insert(key_string(k), value);
            }
            _ => {}
        }
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

/// A for_each key as the object key references see.
fn key_string(key: &InstanceKey) -> String {
    match key {
        InstanceKey::Str(s) => s.clone(),
        other => other.to_string(),
    }
}
