//! Schemas: what a provider declares about the arguments and nested blocks of its provider
//! block, resource types and data sources. The engine validates configuration against them
//! before any provider code runs.

use std::collections::BTreeMap;

use crate::types::Type;

/// Whether the user sets an attribute, the provider does, or either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// The user must set it.
    Required,
    /// The user may set it; unset means null.
    Optional,
    /// Only the provider sets it; setting it in configuration is an error.
    Computed,
    /// The user may set it; when unset the provider chooses the value.
    OptionalComputed,
}

/// One attribute of a block.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The attribute's type.
    pub ty: Type,
    /// Who sets it.
    pub presence: Presence,
    /// Never shown in plans, logs or errors.
    pub sensitive: bool,
    /// A change to it cannot be made in place: the object is replaced.
    pub force_new: bool,
    /// A sentence for documentation and `did you mean` help.
    pub description: String,
}

impl Attribute {
    fn new(ty: Type, presence: Presence) -> Attribute {
        Attribute {
            ty,
            presence,
            sensitive: false,
            force_new: false,
            description: String::new(),
        }
    }

    /// An attribute the user must set.
    pub fn required(ty: Type) -> Attribute {
        Attribute::new(ty, Presence::Required)
    }

    /// An attribute the user may set.
    pub fn optional(ty: Type) -> Attribute {
        Attribute::new(ty, Presence::Optional)
    }

    /// An attribute only the provider sets.
    pub fn computed(ty: Type) -> Attribute {
        Attribute::new(ty, Presence::Computed)
    }

    /// An attribute the user may set and the provider fills in otherwise.
    pub fn optional_computed(ty: Type) -> Attribute {
        Attribute::new(ty, Presence::OptionalComputed)
    }

    /// Marks it sensitive.
    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }

    /// Marks it as forcing replacement when changed.
    pub fn force_new(mut self) -> Attribute {
        self.force_new = true;
        self
    }

    /// Describes it.
    pub fn describe(mut self, description: impl Into<String>) -> Attribute {
        self.description = description.into();
        self
    }

    /// True when configuration may set it.
    pub fn settable(&self) -> bool {
        self.presence != Presence::Computed
    }
}

/// How a nested block repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most one; its value is an object.
    Single,
    /// Any number, in order; its value is a list of objects.
    List,
    /// Any number, unordered; its value is a set of objects.
    Set,
    /// Any number, each with one label; its value is a map of objects by label.
    Map,
}

/// A nested block type.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedBlock {
    /// How it repeats.
    pub nesting: Nesting,
    /// Its contents.
    pub block: Block,
    /// The fewest blocks allowed (1 makes a `Single` block required).
    pub min_items: usize,
    /// The most blocks allowed; `None` for no limit.
    pub max_items: Option<usize>,
}

impl NestedBlock {
    /// A block of the given nesting with no count limits.
    pub fn new(nesting: Nesting, block: Block) -> NestedBlock {
        let max_items = (nesting == Nesting::Single).then_some(1);
        NestedBlock {
            nesting,
            block,
            min_items: 0,
            max_items,
        }
    }

    /// Sets the count limits.
    pub fn items(mut self, min: usize, max: Option<usize>) -> NestedBlock {
        self.min_items = min;
        self.max_items = max;
        self
    }
}

/// The body of a block: attributes and nested blocks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    /// Attributes by name.
    pub attributes: BTreeMap<String, Attribute>,
    /// Nested block types by name.
    pub blocks: BTreeMap<String, NestedBlock>,
    /// A sentence for documentation.
    pub description: String,
}

impl Block {
    /// An empty block.
    pub fn new() -> Block {
        Block::default()
    }

    /// Adds an attribute.
    pub fn attr(mut self, name: &str, attribute: Attribute) -> Block {
        self.attributes.insert(name.to_owned(), attribute);
        self
    }

    /// Adds a nested block type.
    pub fn block(mut self, name: &str, nested: NestedBlock) -> Block {
        self.blocks.insert(name.to_owned(), nested);
        self
    }

    /// Describes it.
    pub fn describe(mut self, description: impl Into<String>) -> Block {
        self.description = description.into();
        self
    }

    /// Every name that may appear in the block, for "did you mean" suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.attributes
            .keys()
            .chain(self.blocks.keys())
            .map(String::as_str)
    }
}

/// The schema of a resource type or data source.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    /// Bumped when the stored shape changes, so state written by an older provider can be
    /// upgraded.
    pub version: u64,
    /// The top-level block.
    pub block: Block,
}

impl Schema {
    /// A version-0 schema.
    pub fn new(block: Block) -> Schema {
        Schema { version: 0, block }
    }
}

/// Everything a provider declares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderSchema {
    /// The `provider "NAME" {}` block.
    pub provider: Block,
    /// Managed resource types by type name.
    pub resources: BTreeMap<String, Schema>,
    /// Data sources by type name.
    pub data_sources: BTreeMap<String, Schema>,
}

/// Suggests the closest of `candidates` to `name`, if one is close enough to be a typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_and_ignore_strangers() {
        let names = ["address", "port", "user"];
        assert_eq!(did_you_mean("adress", names), Some("address"));
        assert_eq!(did_you_mean("kubeconfig", names), None);
    }
}
