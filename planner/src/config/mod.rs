//! The configuration as written: every block of every module, with source locations, and
//! expressions kept as unevaluated HCL (hcl-edit) until the walk needs them. Nothing here
//! evaluates; [`crate::lang`] does.
//!
//! [`load`] reads a root directory and the local modules it calls into a [`Config`], the
//! flat map of module paths to [`Module`]s, with diagnostics for everything malformed.

mod decode;
mod encryption;
mod format;
mod load;
mod rollout;
mod sources;

use std::ops::Range;
use std::path::PathBuf;

use fleetform_sdk::{SourceRange, Type, Value};
use hcl::edit::Span;
use hcl::edit::expr::Expression;
use hcl::edit::structure::Body;
use indexmap::IndexMap;

use crate::addrs::{ModulePath, Resource};

pub use format::format_source;
pub(crate) use load::display_path;
pub use load::{VAR_FILE_SUFFIX, load, load_source};
pub use rollout::{BatchSize, DEFAULT_GATE_TIMEOUT, Rollout, SiteSelector, Stage};
pub use sources::{FileId, Sources};

/// A place in a source file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Loc {
    /// The file.
    pub file: FileId,
    /// The byte range.
    pub span: Range<usize>,
}

/// An unevaluated expression and the file it is in.
#[derive(Debug, Clone)]
pub struct Expr {
    /// The file.
    pub file: FileId,
    /// The expression, with spans into the file.
    pub expr: Expression,
}

impl Expr {
    /// Where the expression is.
    pub fn loc(&self) -> Loc {
        Loc {
            file: self.file,
            span: self.expr.span().unwrap_or(0..0),
        }
    }
}

/// The whole configuration: every module of the tree, keyed by its path from the root.
#[derive(Debug, Default)]
pub struct Config {
    /// The text of every file read, for diagnostics.
    pub sources: Sources,
    /// Every module, the root at the empty path.
    pub modules: IndexMap<ModulePath, Module>,
}

impl Config {
    /// The root module.
    pub fn root(&self) -> Option<&Module> {
        self.modules.get(&ModulePath::root())
    }

    /// Turns a location into a range with lines and columns.
    pub fn range(&self, loc: &Loc) -> SourceRange {
        self.sources.range(loc)
    }
}

/// One module: the blocks of the `*.hcl` files of one directory.
#[derive(Debug, Default)]
pub struct Module {
    /// The module's path in the tree.
    pub path: ModulePath,
    /// The directory, as given (relative to the working directory where it was relative).
    pub dir: PathBuf,
    /// The `fleet {}` settings block (root module only).
    pub fleet: Option<FleetBlock>,
    /// `variable` blocks by name.
    pub variables: IndexMap<String, Variable>,
    /// Local values by name.
    pub locals: IndexMap<String, Local>,
    /// `output` blocks by name.
    pub outputs: IndexMap<String, Output>,
    /// `module` calls by name.
    pub module_calls: IndexMap<String, ModuleCall>,
    /// `resource` and `data` blocks by address.
    pub resources: IndexMap<Resource, ResourceBlock>,
    /// `provider` blocks by (name, alias).
    pub providers: IndexMap<(String, Option<String>), ProviderBlock>,
    /// `moved` blocks.
    pub moved: Vec<Moved>,
    /// `import` blocks.
    pub imports: Vec<Import>,
    /// `rollout` blocks by name (root module only).
    pub rollouts: IndexMap<String, Rollout>,
}

/// `fleet { backend "local" { ... } }`.
#[derive(Debug, Clone)]
pub struct FleetBlock {
    /// Where it is.
    pub loc: Loc,
    /// The state backend, when one is set.
    pub backend: Option<Backend>,
    /// `parallelism = N` for apply.
    pub parallelism: Option<u64>,
    /// `encryption {}`: how state, journal and saved plans are encrypted at rest.
    pub encryption: Option<EncryptionBlock>,
    /// `partitions {}`: keep the state in partitions, each with its own serial and lock.
    pub partitions: Option<PartitionsBlock>,
}

/// `fleet { partitions { by = ["module.clinic"] } }`: the state is stored in partitions
/// (on a backend that can), one per instance of the named module calls, the rest of the
/// fleet one more. Without `by`, each instance of a root module call with `for_each` is a
/// partition.
#[derive(Debug, Clone)]
pub struct PartitionsBlock {
    /// The module calls whose instances are partitions, each as the names of its calls
    /// from the root (`module.region.module.site` is `["region", "site"]`), with where it
    /// is written.
    pub by: Option<Vec<(Vec<String>, Loc)>>,
    /// The block.
    pub loc: Loc,
}

/// `fleet { encryption { ... } }`, shaped like OpenTofu's: named key providers, methods that
/// use them, and the targets (`state`, `plan`) that name a method and a fallback. Attribute
/// expressions stay unevaluated: they may refer to root variables (`var.passphrase`) and to
/// each other (`key_provider.argon2.main`), and are resolved when a run opens its state.
#[derive(Debug, Clone)]
pub struct EncryptionBlock {
    /// `key_provider "KIND" "NAME" {}` blocks.
    pub key_providers: Vec<EncryptionItem>,
    /// `method "KIND" "NAME" {}` blocks.
    pub methods: Vec<EncryptionItem>,
    /// `state {}`: state, its backup and its journal.
    pub state: Option<EncryptionTarget>,
    /// `plan {}`: saved plan files.
    pub plan: Option<EncryptionTarget>,
    /// The `encryption` keyword.
    pub loc: Loc,
}

/// A labelled block of an `encryption` block: a key provider or a method.
#[derive(Debug, Clone)]
pub struct EncryptionItem {
    /// Its kind (first label): `argon2`, `key`, `aes_gcm`, `unencrypted`.
    pub kind: String,
    /// Its name (second label).
    pub name: String,
    /// Its arguments, unevaluated, with where each is.
    pub attributes: IndexMap<String, (Expr, Loc)>,
    /// The block's labels.
    pub loc: Loc,
}

/// `state {}` or `plan {}` in an `encryption` block.
#[derive(Debug, Clone)]
pub struct EncryptionTarget {
    /// `method = method.KIND.NAME`: what writes use.
    pub method: Option<(Expr, Loc)>,
    /// `fallback { method = ... }`: also accepted when reading (key rotation, migration).
    pub fallback: Option<(Expr, Loc)>,
    /// `enforced = true`: refuse an unencrypted method.
    pub enforced: bool,
    /// The block.
    pub loc: Loc,
}

/// A state backend setting.
#[derive(Debug, Clone)]
pub struct Backend {
    /// `local`, `postgres` or `azurerm`.
    pub kind: String,
    /// Its literal settings.
    pub settings: IndexMap<String, Value>,
    /// Where each setting is.
    pub setting_locs: IndexMap<String, Loc>,
    /// Where it is.
    pub loc: Loc,
}

/// A `validation`, `precondition` or `postcondition` block.
#[derive(Debug, Clone)]
pub struct Check {
    /// Must be true.
    pub condition: Expr,
    /// Shown when it is not.
    pub error_message: Expr,
    /// The block.
    pub loc: Loc,
}

/// A `variable "NAME" {}` block.
#[derive(Debug, Clone)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// The block header.
    pub loc: Loc,
    /// The `type` constraint; `any` when absent.
    pub ty: Type,
    /// Where the type was given, if it was.
    pub type_loc: Option<Loc>,
    /// The default, already converted to the type.
    pub default: Option<Value>,
    /// The description.
    pub description: Option<String>,
    /// Never shown.
    pub sensitive: bool,
    /// May be set to null.
    pub nullable: bool,
    /// `validation` blocks.
    pub validations: Vec<Check>,
}

/// One entry of a `locals {}` block.
#[derive(Debug, Clone)]
pub struct Local {
    /// Its name.
    pub name: String,
    /// Its expression.
    pub expr: Expr,
    /// The attribute.
    pub loc: Loc,
}

/// An `output "NAME" {}` block.
#[derive(Debug, Clone)]
pub struct Output {
    /// Its name.
    pub name: String,
    /// The value.
    pub value: Expr,
    /// Never shown.
    pub sensitive: bool,
    /// The description.
    pub description: Option<String>,
    /// Extra dependencies.
    pub depends_on: Vec<Expr>,
    /// `precondition` blocks.
    pub preconditions: Vec<Check>,
    /// The block header.
    pub loc: Loc,
}

/// A `module "NAME" {}` call.
#[derive(Debug, Clone)]
pub struct ModuleCall {
    /// Its name.
    pub name: String,
    /// The `source` as written.
    pub source: String,
    /// Where `source` is.
    pub source_loc: Loc,
    /// Input variable values by name.
    pub inputs: IndexMap<String, ModuleInput>,
    /// `count`.
    pub count: Option<Expr>,
    /// `for_each`.
    pub for_each: Option<Expr>,
    /// `depends_on`.
    pub depends_on: Vec<Expr>,
    /// `providers = { arc = arc.west }`: child provider name to parent configuration.
    pub providers: Vec<(String, ProviderRef)>,
    /// The block header.
    pub loc: Loc,
}

/// One argument of a module call: a value for the module's input variable.
#[derive(Debug, Clone)]
pub struct ModuleInput {
    /// Where the argument's name is.
    pub name_loc: Loc,
    /// The value.
    pub value: Expr,
}

/// A reference to a provider configuration: `arc` or `arc.west`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderRef {
    /// The provider's name.
    pub name: String,
    /// The alias, for a non-default configuration.
    pub alias: Option<String>,
    /// Where it was written.
    pub loc: Loc,
}

impl std::fmt::Display for ProviderRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.alias {
            Some(alias) => write!(f, "provider.{}.{alias}", self.name),
            None => write!(f, "provider.{}", self.name),
        }
    }
}

/// `ignore_changes`.
#[derive(Debug, Clone, Default)]
pub enum IgnoreChanges {
    /// Nothing is ignored.
    #[default]
    None,
    /// `ignore_changes = all`.
    All,
    /// The listed attribute paths.
    Attributes(Vec<Expr>),
}

/// A `lifecycle {}` block.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    /// Refuse to plan a destroy.
    pub prevent_destroy: bool,
    /// Create the replacement before destroying the old object.
    pub create_before_destroy: bool,
    /// Attributes whose changes are not planned.
    pub ignore_changes: IgnoreChanges,
    /// References whose change replaces this resource.
    pub replace_triggered_by: Vec<Expr>,
    /// Checked before the change.
    pub preconditions: Vec<Check>,
    /// Checked after the change.
    pub postconditions: Vec<Check>,
}

/// A `resource` or `data` block.
#[derive(Debug, Clone)]
pub struct ResourceBlock {
    /// The address within the module.
    pub addr: Resource,
    /// The block header.
    pub loc: Loc,
    /// The type label.
    pub type_loc: Loc,
    /// `count`.
    pub count: Option<Expr>,
    /// `for_each`.
    pub for_each: Option<Expr>,
    /// `depends_on`.
    pub depends_on: Vec<Expr>,
    /// `provider = NAME.ALIAS`.
    pub provider: Option<ProviderRef>,
    /// `lifecycle {}` (managed resources only).
    pub lifecycle: Lifecycle,
    /// The arguments and nested blocks for the provider, meta-arguments removed.
    pub body: Body,
    /// The file the body is in.
    pub file: FileId,
}

/// A `provider "NAME" {}` block.
#[derive(Debug, Clone)]
pub struct ProviderBlock {
    /// The provider's name.
    pub name: String,
    /// `alias`.
    pub alias: Option<String>,
    /// The configuration arguments, `alias` removed.
    pub body: Body,
    /// The file the body is in.
    pub file: FileId,
    /// The block header.
    pub loc: Loc,
}

/// `moved { from = ..., to = ... }`.
#[derive(Debug, Clone)]
pub struct Moved {
    /// The old address.
    pub from: Expr,
    /// The new address.
    pub to: Expr,
    /// The block.
    pub loc: Loc,
}

/// `import { to = ..., id = ... }`.
#[derive(Debug, Clone)]
pub struct Import {
    /// The resource instance to import into.
    pub to: Expr,
    /// The remote object's id.
    pub id: Expr,
    /// The provider configuration to use.
    pub provider: Option<ProviderRef>,
    /// The block.
    pub loc: Loc,
}
