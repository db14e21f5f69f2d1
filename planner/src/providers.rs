//! The providers known to a run, registered by name. The engine asks each for its schema
//! once and maps every resource type and data source to the provider that declares it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use fleetform_sdk::{Block, Provider, Schema};

use crate::addrs::ResourceMode;

/// The registered providers and their schemas.
#[derive(Default)]
pub struct Providers {
    providers: BTreeMap<String, Arc<dyn Provider>>,
    configs: BTreeMap<String, Block>,
    types: HashMap<(ResourceMode, String), (String, Schema)>,
}

/// Two providers declared the same resource type or data source.
#[derive(Debug, thiserror::Error)]
#[error("providers {first:?} and {second:?} both declare {kind} {ty:?}")]
pub struct DuplicateType {
    /// The type name.
    pub ty: String,
    /// "resource type" or "data source".
    pub kind: &'static str,
    /// The provider registered first.
    pub first: String,
    /// The provider registered second.
    pub second: String,
}

impl Providers {
    /// No providers.
    pub fn new() -> Providers {
        Providers::default()
    }

    /// Registers `provider` under `name` and indexes its schema.
    pub fn register(
        &mut self,
        name: &str,
        provider: Arc<dyn Provider>,
    ) -> Result<(), DuplicateType> {
        let schema = provider.schema();
        for (mode, kind, types) in [
            (ResourceMode::Managed, "resource type", schema.resources),
            (ResourceMode::Data, "data source", schema.data_sources),
        ] {
            for (ty, s) in types {
                if let Some((first, _)) = self.types.get(&(mode, ty.clone())) {
                    return Err(DuplicateType {
                        ty,
                        kind,
                        first: first.clone(),
                        second: name.to_owned(),
                    });
                }
                self.types.insert((mode, ty), (name.to_owned(), s));
            }
        }
        self.configs.insert(name.to_owned(), schema.provider);
        self.providers.insert(name.to_owned(), provider);
        Ok(())
    }

    /// The provider and schema of a resource type or data source.
    pub fn resource_type(&self, mode: ResourceMode, ty: &str) -> Option<(&str, &Schema)> {
        self.types
            .get(&(mode, ty.to_owned()))
            .map(|(p, s)| (p.as_str(), s))
    }

    /// The schema of a provider's own configuration block.
    pub fn config_schema(&self, name: &str) -> Option<&Block> {
        self.configs.get(name)
    }

    /// A provider by name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// Shows the provider `name` the recorded objects of its types (`Provider::observe`),
    /// so that objects a run leaves unchanged are still known to it.
    pub fn observe(&self, name: &str, state: &crate::state::State) {
        let Some(provider) = self.providers.get(name) else {
            return;
        };
        for (addr, instance) in &state.resources {
            let ty = &addr.resource.resource.ty;
            if self
                .resource_type(addr.resource.resource.mode, ty)
                .is_some_and(|(owner, _)| owner == name)
            {
                provider.observe(ty, &instance.value);
            }
        }
    }

    /// Every provider's warnings about the plan as a whole (`Provider::plan_diagnostics`),
    /// asked once the plan's instances are all planned.
    pub fn plan_diagnostics(&self) -> fleetform_sdk::Diagnostics {
        let mut all = fleetform_sdk::Diagnostics::new();
        for provider in self.providers.values() {
            all.extend(provider.plan_diagnostics().into_vec());
        }
        all
    }

    /// Every provider name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Every resource type (or data source) name of a mode, for suggestions.
    pub fn type_names(&self, mode: ResourceMode) -> impl Iterator<Item = &str> {
        self.types
            .keys()
            .filter(move |(m, _)| *m == mode)
            .map(|(_, t)| t.as_str())
    }
}
