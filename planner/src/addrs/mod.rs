//! Addresses: immutable values naming modules, resources and their instances, printed in
//! HCL traversal syntax (`module.clinic["north"].cluster.this[0]`) everywhere: in plans,
//! state, diagnostics, logs and the graph. [`parse`] reads them back from text.

pub mod parse;

use std::fmt;

pub use parse::{
    AddrError, parse_abs_resource, parse_abs_resource_instance, parse_module_instance,
};

/// The key of one instance of a resource or module with `count` or `for_each`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceKey {
    /// A block with neither `count` nor `for_each`.
    None,
    /// `count.index`.
    Int(i64),
    /// `each.key`.
    Str(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::None => Ok(()),
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", quote(s)),
        }
    }
}

/// Quotes a string key the way HCL writes it.
fn quote(s: &str) -> String {
    // serde_json's escaping is HCL's for the characters keys contain.
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// One step of a module instance path: `module.NAME[KEY]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleInstanceStep {
    /// The module call's name.
    pub name: String,
    /// The instance's key.
    pub key: InstanceKey,
}

/// An instance of a module in the expanded tree; empty for the root module.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ModuleInstance(pub Vec<ModuleInstanceStep>);

impl ModuleInstance {
    /// The root module.
    pub fn root() -> ModuleInstance {
        ModuleInstance(Vec::new())
    }

    /// True for the root module.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The instance of child call `name` with `key` inside this one.
    pub fn child(&self, name: &str, key: InstanceKey) -> ModuleInstance {
        let mut steps = self.0.clone();
        steps.push(ModuleInstanceStep {
            name: name.to_owned(),
            key,
        });
        ModuleInstance(steps)
    }

    /// The static module path (call names without keys).
    pub fn path(&self) -> ModulePath {
        ModulePath(self.0.iter().map(|s| s.name.clone()).collect())
    }
}

impl fmt::Display for ModuleInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "module.{}{}", step.name, step.key)?;
        }
        Ok(())
    }
}

/// A module in the configuration tree, before expansion: the chain of call names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ModulePath(pub Vec<String>);

impl ModulePath {
    /// The root module.
    pub fn root() -> ModulePath {
        ModulePath(Vec::new())
    }

    /// The path of child call `name`.
    pub fn child(&self, name: &str) -> ModulePath {
        let mut steps = self.0.clone();
        steps.push(name.to_owned());
        ModulePath(steps)
    }
}

impl fmt::Display for ModulePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "module.{name}")?;
        }
        Ok(())
    }
}

/// Managed resources and data sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceMode {
    /// `resource "TYPE" "NAME"`.
    Managed,
    /// `data "TYPE" "NAME"`.
    Data,
}

/// A resource block within a module: `host.web` or `data.host_facts.web`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource {
    /// Managed or data.
    pub mode: ResourceMode,
    /// The resource type.
    pub ty: String,
    /// The block's name.
    pub name: String,
}

impl Resource {
    /// A managed resource address.
    pub fn managed(ty: &str, name: &str) -> Resource {
        Resource {
            mode: ResourceMode::Managed,
            ty: ty.to_owned(),
            name: name.to_owned(),
        }
    }

    /// A data resource address.
    pub fn data(ty: &str, name: &str) -> Resource {
        Resource {
            mode: ResourceMode::Data,
            ..Resource::managed(ty, name)
        }
    }

    /// The instance of this resource with `key`.
    pub fn instance(&self, key: InstanceKey) -> ResourceInstance {
        ResourceInstance {
            resource: self.clone(),
            key,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mode == ResourceMode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.ty, self.name)
    }
}

/// One instance of a resource within a module: `host.web["a"]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceInstance {
    /// The resource.
    pub resource: Resource,
    /// The instance key.
    pub key: InstanceKey,
}

impl fmt::Display for ResourceInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.resource, self.key)
    }
}

/// A resource in a module instance, before its own expansion: `module.clinic["n"].host.web`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbsResource {
    /// The module instance.
    pub module: ModuleInstance,
    /// The resource.
    pub resource: Resource,
}

impl fmt::Display for AbsResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.module.is_root() {
            write!(f, "{}.", self.module)?;
        }
        write!(f, "{}", self.resource)
    }
}

/// The absolute address of one resource instance, the key of plans and state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbsResourceInstance {
    /// The module instance.
    pub module: ModuleInstance,
    /// The resource instance.
    pub resource: ResourceInstance,
}

impl AbsResourceInstance {
    /// The resource this is an instance of.
    pub fn abs_resource(&self) -> AbsResource {
        AbsResource {
            module: self.module.clone(),
            resource: self.resource.resource.clone(),
        }
    }
}

impl fmt::Display for AbsResourceInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.module.is_root() {
            write!(f, "{}.", self.module)?;
        }
        write!(f, "{}", self.resource)
    }
}

/// An address that selects resource instances, as `-target`, `-exclude` and the `state`
/// commands take it: one instance (`host.web["a"]`), every instance of a resource
/// (`host.web`), or everything in a module instance (`module.clinic["north"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// One instance.
    Instance(AbsResourceInstance),
    /// Every instance of a resource.
    Resource(AbsResource),
    /// Everything in a module instance and the modules it calls.
    Module(ModuleInstance),
}

impl Selector {
    /// Reads a selector from its address text.
    pub fn parse(text: &str) -> Result<Selector, AddrError> {
        if let Ok(m) = parse_module_instance(text) {
            return Ok(Selector::Module(m));
        }
        match parse_abs_resource_instance(text) {
            Ok(a) if a.resource.key != InstanceKey::None => Ok(Selector::Instance(a)),
            _ => parse_abs_resource(text).map(Selector::Resource),
        }
    }

    /// True when `addr` is selected.
    pub fn matches(&self, addr: &AbsResourceInstance) -> bool {
        match self {
            Selector::Instance(i) => i == addr,
            Selector::Resource(r) => addr.abs_resource() == *r,
            Selector::Module(m) => addr.module.0.starts_with(&m.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_print_in_hcl_syntax() {
        let module = ModuleInstance::root()
            .child("clinic", InstanceKey::Str("north".into()))
            .child("net", InstanceKey::Int(2));
        let addr = AbsResourceInstance {
            module,
            resource: Resource::managed("cluster", "this").instance(InstanceKey::Int(0)),
        };
        assert_eq!(
            addr.to_string(),
            r#"module.clinic["north"].module.net[2].cluster.this[0]"#
        );
        let data = Resource::data("host_facts", "web").instance(InstanceKey::None);
        assert_eq!(data.to_string(), "data.host_facts.web");
    }
}
