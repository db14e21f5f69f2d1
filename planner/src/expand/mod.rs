//! Expansion: evaluates the configuration in dependency order, expanding `count` and
//! `for_each` on modules and resources into instances, converting and validating input
//! variables, and checking every resource body against its provider's schema. The order
//! is a dataflow ([`walk`]): each instance is handed to the [`Hook`] as soon as what it
//! refers to is done.
//!
//! The result lists every module and resource instance with its evaluated (possibly
//! unknown) value, which the graph and the plan are built from.

mod body;
pub mod hook;
mod moves;
mod order;
mod repeat;
mod resource;
mod scope;
mod subject;
mod walk;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use fleetform_sdk::{Diagnostic, Diagnostics, Value};
use indexmap::IndexMap;

pub use hook::{Hook, InstanceRequest, Outcome, ProviderValidateHook, ValidateHook};
pub use order::{ConfigNode, Dep, Item, Order, order, read_from_outside};
use repeat::Keys;
use scope::{InstanceScope, Repetition};
pub use subject::{Subject, subject};
pub use walk::WalkOptions;

use crate::addrs::{
    AbsResource, AbsResourceInstance, InstanceKey, ModuleInstance, ModulePath, Resource,
};
use crate::config::{Check, Config, Expr, Loc};
use crate::inputs::{InputSource, InputValue};
use crate::lang::{EvalError, eval};
use crate::plan::{CheckResult, CheckStatus, Checked};
use crate::providers::Providers;

/// Settings for an expansion.
pub struct Options {
    /// The workspace, for `fleet.workspace`.
    pub workspace: String,
    /// Whether a value for every required root variable was given. When some is missing
    /// (a `validate` without inputs), unknown `count`/`for_each` are not errors: their
    /// blocks are checked once with unknown keys instead.
    pub inputs_complete: bool,
}

/// One resource instance found by expansion.
#[derive(Debug, Clone)]
pub struct ResourceInstance {
    /// Its address.
    pub addr: AbsResourceInstance,
    /// The provider configuration that manages it: (module instance, name, alias).
    pub provider: ProviderConfigAddr,
}

/// A provider configuration: `provider.arc.west` in a module instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderConfigAddr {
    /// The module instance whose block (or implied block) it is.
    pub module: ModuleInstance,
    /// The provider's name.
    pub name: String,
    /// The alias.
    pub alias: Option<String>,
}

impl std::fmt::Display for ProviderConfigAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.module.is_root() {
            write!(f, "{}.", self.module)?;
        }
        match &self.alias {
            Some(a) => write!(f, "provider.{}.{a}", self.name),
            None => write!(f, "provider.{}", self.name),
        }
    }
}

/// What is known about one module instance during expansion.
#[derive(Debug, Default)]
pub struct InstanceData {
    /// `each`/`count` of this module instance, from its call.
    pub rep: Repetition,
    /// Stands for instances whose keys are unknown: evaluated for diagnostics only.
    pub placeholder: bool,
    /// Input variable values.
    pub vars: BTreeMap<String, Value>,
    /// Local values.
    pub locals: BTreeMap<String, Value>,
    /// Resource values: an object, or a list/map of them for count/for_each.
    pub resources: HashMap<Resource, Value>,
    /// Output values.
    pub outputs: BTreeMap<String, Value>,
    /// Child module instances per call, and how the call repeats.
    pub children: HashMap<String, (repeat::Mode, Vec<(InstanceKey, ModuleInstance)>)>,
}

/// The expanded configuration.
pub struct Expansion<'c> {
    /// The configuration.
    pub config: &'c Config,
    providers: &'c Providers,
    options: Options,
    /// The workspace name.
    pub workspace: String,
    /// Module instances per module path, in creation order.
    pub modules: IndexMap<ModulePath, Vec<ModuleInstance>>,
    /// Per module instance data.
    pub data: HashMap<ModuleInstance, InstanceData>,
    /// Every resource and data instance, sorted by address.
    pub resources: Vec<ResourceInstance>,
    /// The resources each resource instance depends on, for the order of later destroys,
    /// one entry per instance the walk ran.
    pub dependencies: Vec<(AbsResourceInstance, Vec<AbsResource>)>,
    /// Provider configurations in use.
    pub provider_configs: Vec<ProviderConfigAddr>,
    /// The evaluated `provider` blocks, for `Provider::configure`.
    pub provider_values: HashMap<ProviderConfigAddr, std::sync::Arc<Value>>,
    /// Root module output values.
    pub outputs: BTreeMap<String, Value>,
    /// Module instances the walk left out (`WalkOptions::omit_unread`): frozen, and read
    /// by nothing outside them.
    pub omitted: Vec<ModuleInstance>,
    /// The order used, for the graph.
    pub order: Order,
    reported: HashSet<(String, Loc)>,
    /// Every condition checked so far (a mutex since `check` only borrows the expansion).
    checks: std::sync::Mutex<Vec<CheckResult>>,
    /// The walk applies (from the hook): `timestamp()` has its value.
    applying: bool,
}

/// Expands `config`, handing every resource instance to `hook` as soon as what it refers
/// to is done. Returns `None` when the configuration cannot be ordered (a cycle).
pub fn expand<'c>(
    config: &'c Config,
    providers: &'c Providers,
    inputs: &IndexMap<String, InputValue>,
    options: Options,
    hook: &dyn Hook,
    walk_options: WalkOptions<'_>,
    diags: &mut Diagnostics,
) -> Option<Expansion<'c>> {
    moves::check(config, diags);
    let order = order::order(config, diags)?;
    let mut exp = Expansion {
        config,
        providers,
        workspace: options.workspace.clone(),
        options,
        modules: IndexMap::new(),
        data: HashMap::new(),
        resources: Vec::new(),
        dependencies: Vec::new(),
        provider_configs: Vec::new(),
        provider_values: HashMap::new(),
        outputs: BTreeMap::new(),
        omitted: Vec::new(),
        order: Order {
            sequence: Vec::new(),
            deps: HashMap::new(),
            meta_deps: HashMap::new(),
        },
        reported: HashSet::new(),
        checks: Default::default(),
        applying: hook.applying(),
    };
    exp.modules
        .insert(ModulePath::root(), vec![ModuleInstance::root()]);
    exp.data
        .insert(ModuleInstance::root(), InstanceData::default());
    {
        let runtime = walk_options.runtime;
        let mut walk = walk::Walk::new(&mut exp, &order, inputs, hook, walk_options, diags);
        match runtime {
            Some(runtime) => runtime.block_on(walk.run()),
            None => futures::executor::block_on(walk.run()),
        }
    }
    exp.resources.sort_by(|a, b| a.addr.cmp(&b.addr));
    if let Some(root) = exp.data.get(&ModuleInstance::root()) {
        exp.outputs = root.outputs.clone();
    }
    exp.order = order;
    Some(exp)
}

impl<'c> Expansion<'c> {
    /// Evaluates an expression in the root module's scope (its variables, locals, resources,
    /// data sources and module outputs), as `fleetform console` does.
    pub fn evaluate_in_root(&self, expr: &hcl::edit::expr::Expression) -> Result<Value, EvalError> {
        static EMPTY: std::sync::OnceLock<InstanceData> = std::sync::OnceLock::new();
        let root = ModuleInstance::root();
        let data = self
            .data
            .get(&root)
            .unwrap_or_else(|| EMPTY.get_or_init(InstanceData::default));
        let rep = Repetition::default();
        let scope = InstanceScope {
            exp: self,
            module: &root,
            data,
            rep: &rep,
            extra: &[],
        };
        eval(expr, &scope)
    }

    /// The conditions checked, with their outcomes, in evaluation order.
    pub fn take_checks(&self) -> Vec<CheckResult> {
        self.checks
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }

    /// Drops the evaluated values on another thread. At 10,000 instances, freeing them
    /// takes a fifth of a validate, and nothing waits for it.
    pub fn discard(mut self) {
        if self.resources.len() < 1000 {
            return;
        }
        let data = std::mem::take(&mut self.data);
        let resources = std::mem::take(&mut self.resources);
        let spawned = std::thread::Builder::new()
            .name("fleetform-drop".into())
            .spawn(move || drop((data, resources)));
        // Without a thread (resource limits), drop here.
        drop(spawned);
    }

    /// The directory of a module instance's source.
    pub fn module_dir(&self, module: &ModuleInstance) -> PathBuf {
        self.config
            .modules
            .get(&module.path())
            .map(|m| m.dir.clone())
            .unwrap_or_default()
    }

    /// The value of `module.CALL` seen from `module`: an object of outputs, or a list or
    /// map of them for a repeated call.
    pub fn module_call_value(&self, module: &ModuleInstance, call: &str) -> Option<Value> {
        let data = self.data.get(module)?;
        let Some((mode, children)) = data.children.get(call) else {
            // Declared but not expanded (its expansion failed): unknown, not undeclared.
            let declared = self
                .config
                .modules
                .get(&module.path())?
                .module_calls
                .contains_key(call);
            return declared.then_some(Value::Unknown);
        };
        let outputs = |m: &ModuleInstance| -> Value {
            let child_path = m.path();
            let declared = self
                .config
                .modules
                .get(&child_path)
                .map(|c| c.outputs.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            let values = self.data.get(m).map(|d| &d.outputs);
            Value::Object(
                declared
                    .into_iter()
                    .map(|o| {
                        let v = values
                            .and_then(|vs| vs.get(&o))
                            .cloned()
                            .unwrap_or(Value::Unknown);
                        (o, v)
                    })
                    .collect(),
            )
        };
        Some(match mode {
            repeat::Mode::Single => children
                .first()
                .map(|(_, m)| outputs(m))
                .unwrap_or(Value::Unknown),
            repeat::Mode::Count => Value::List(children.iter().map(|(_, m)| outputs(m)).collect()),
            repeat::Mode::ForEach => Value::Object(
                children
                    .iter()
                    .map(|(k, m)| {
                        let key = match k {
                            InstanceKey::Str(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (key, outputs(m))
                    })
                    .collect(),
            ),
            repeat::Mode::Unknown => Value::Unknown,
        })
    }

    fn error(&self, e: EvalError, file: crate::config::FileId) -> Diagnostic {
        let range = e.span.map(|s| self.config.sources.range_of(file, s));
        Diagnostic::error(e.summary, e.detail).at(range)
    }

    /// Reports a problem of a configuration block once, however many instances share it.
    fn once(&mut self, key: &str, loc: &Loc, diags: &mut Diagnostics, diag: Diagnostic) {
        if self.reported.insert((key.to_owned(), loc.clone())) {
            diags.push(diag);
        }
    }

    fn eval_in(
        &self,
        module: &ModuleInstance,
        rep: &Repetition,
        extra: &[(String, Value)],
        expr: &Expr,
        diags: &mut Diagnostics,
    ) -> Option<Value> {
        let data = self
            .data
            .get(module)
            .expect("module instance data exists before its items are evaluated");
        let scope = InstanceScope {
            exp: self,
            module,
            data,
            rep,
            extra,
        };
        match eval(&expr.expr, &scope) {
            Ok(v) => Some(v),
            Err(e) => {
                diags.push(self.error(e, expr.file));
                None
            }
        }
    }

    fn local(&mut self, m: &ModuleInstance, name: &str, diags: &mut Diagnostics) {
        let local = &self.config.modules[&m.path()].locals[name];
        let value = self
            .eval_in(m, &Repetition::default(), &[], &local.expr, diags)
            .unwrap_or(Value::Unknown);
        self.data
            .entry(m.clone())
            .or_default()
            .locals
            .insert(name.to_owned(), value);
    }

    fn variable(
        &mut self,
        m: &ModuleInstance,
        name: &str,
        inputs: &IndexMap<String, InputValue>,
        diags: &mut Diagnostics,
    ) {
        let config = self.config;
        let var = &config.modules[&m.path()].variables[name];
        let given: Option<InputValue> = if m.is_root() {
            inputs.get(name).cloned()
        } else {
            let (parent, call_name) = parent_of(m);
            let call = &config.modules[&parent.path()].module_calls[&call_name];
            match call.inputs.get(name).map(|i| &i.value) {
                Some(expr) => {
                    let rep = self.data.get(m).map(|d| d.rep.clone()).unwrap_or_default();
                    let value = self
                        .eval_in(&parent, &rep, &[], expr, diags)
                        .unwrap_or(Value::Unknown);
                    Some(InputValue {
                        value,
                        source: InputSource::ModuleCall(expr.loc()),
                    })
                }
                None => None,
            }
        };
        let declared_at = config.range(&var.loc);
        // A null given to a non-nullable variable means "use the default", as in Terraform.
        let given =
            given.filter(|g| !(g.value.is_null() && !var.nullable && var.default.is_some()));
        let (value, source) = match given {
            Some(InputValue { value, source }) => (value, source),
            None => {
                match &var.default {
                    Some(default) => (default.clone(), InputSource::Default),
                    None if m.is_root() && !self.options.inputs_complete => {
                        (Value::Unknown, InputSource::Default)
                    }
                    None => {
                        let diag = if m.is_root() {
                            Diagnostic::error("No value for required variable", format!("The root module input variable {name:?} is not set, and has no default value. Use a -var or -var-file option, a *.auto.hcl file or the FLEETFORM_VAR_{name} environment variable to provide a value for this variable."))
                            .at(Some(declared_at.clone()))
                        } else {
                            let (parent, call_name) = parent_of(m);
                            let call = &config.modules[&parent.path()].module_calls[&call_name];
                            Diagnostic::error("Missing required argument", format!("The argument {name:?} is required, but no definition was found."))
                            .at(Some(config.range(&call.loc)))
                            .related(Some(declared_at.clone()), "declared here without a default")
                        };
                        let key = format!("missing-var {name}");
                        self.once(&key, &var.loc, diags, diag);
                        (Value::Unknown, InputSource::Default)
                    }
                }
            }
        };
        let at = source
            .loc()
            .map(|l| config.range(l))
            .or(Some(declared_at.clone()));
        let value = if value.is_null() && !var.nullable {
            diags.push(
                Diagnostic::error("Invalid value for input variable", format!("The given value is not suitable for {} declared at {declared_at}: required variable may not be set to null ({}).", var_addr(m, name), source.describe(config)))
                    .at(at.clone()),
            );
            Value::Unknown
        } else {
            match var.ty.convert(&value) {
                Ok(v) => v.mark_if(var.sensitive),
                Err(e) => {
                    // A sensitive variable's value must not appear, even in an error.
                    let why = if var.sensitive || value.contains_sensitive() {
                        format!(
                            "{} required; the value is sensitive, so it is not shown",
                            e.path
                                .iter()
                                .chain(std::iter::once(&var.ty.friendly_name()))
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(": ")
                        )
                    } else {
                        e.to_string()
                    };
                    diags.push(
                        Diagnostic::error("Invalid value for input variable", format!("The given value is not suitable for {} declared at {declared_at}: {why}. The value came {}.", var_addr(m, name), source.describe(config)))
                            .at(at.clone())
                            .related(source.loc().map(|_| declared_at.clone()), format!("{name:?} is declared here with type {}", var.ty)),
                    );
                    Value::Unknown
                }
            }
        };
        self.data
            .entry(m.clone())
            .or_default()
            .vars
            .insert(name.to_owned(), value.clone());
        // Conditions see every variable of the module (Terraform 1.9+); the order puts the
        // variables a condition uses before this one.
        for check in &var.validations {
            let object = Checked::Variable(m.clone(), name.to_owned());
            if let Some(message) = self.check(object, m, &Repetition::default(), &[], check, diags)
            {
                diags.push(
                    // Like type errors: at the value when it is written in a file, else at
                    // the declaration; the other place is shown beside it.
                    Diagnostic::error("Invalid value for variable", format!("{message}\n\nThis was checked by the validation rule at {}. The value came {}.", config.range(&check.loc), source.describe(config)))
                        .at(at.clone())
                        .label(format!("{} failed its validation", var_addr(m, name)))
                        .related(source.loc().map(|_| declared_at.clone()), format!("{name:?} is declared here")),
                );
            }
        }
    }

    /// Evaluates a condition on `object`, recording the outcome; returns the error message
    /// when it is known and false.
    fn check(
        &self,
        object: Checked,
        m: &ModuleInstance,
        rep: &Repetition,
        extra: &[(String, Value)],
        check: &Check,
        diags: &mut Diagnostics,
    ) -> Option<String> {
        let record = |status| {
            if let Ok(mut checks) = self.checks.lock() {
                checks.push(CheckResult {
                    object: object.clone(),
                    status,
                });
            }
        };
        let Some(cond) = self.eval_in(m, rep, extra, &check.condition, diags) else {
            record(CheckStatus::Error);
            return None;
        };
        if cond.is_unknown() {
            record(CheckStatus::Unknown);
            return None;
        }
        record(match cond.as_bool() {
            Some(true) => CheckStatus::Pass,
            Some(false) => CheckStatus::Fail,
            None => CheckStatus::Error,
        });
        match cond.as_bool() {
            Some(true) => None,
            Some(false) => Some(
                match self.eval_in(m, rep, extra, &check.error_message, diags) {
                    Some(v) if v.contains_sensitive() => "(error message is sensitive)".into(),
                    Some(v) if !v.is_wholly_known() => {
                        "(the error message depends on values known only after apply)".into()
                    }
                    Some(v) => v
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string()),
                    None => "(error message could not be evaluated)".into(),
                },
            ),
            None => {
                diags.push(
                    Diagnostic::error(
                        "Invalid condition result",
                        format!(
                            "The condition must return true or false, but it returned a {}.",
                            cond.kind_name()
                        ),
                    )
                    .at(Some(self.config.range(&check.condition.loc()))),
                );
                None
            }
        }
    }

    fn output(&mut self, m: &ModuleInstance, name: &str, diags: &mut Diagnostics) {
        let config = self.config;
        let output = &config.modules[&m.path()].outputs[name];
        for check in &output.preconditions {
            let object = Checked::Output(m.clone(), name.to_owned());
            if let Some(message) = self.check(object, m, &Repetition::default(), &[], check, diags)
            {
                diags.push(
                    Diagnostic::error("Module output value precondition failed", message)
                        .at(Some(config.range(&check.condition.loc()))),
                );
            }
        }
        let mut value = self
            .eval_in(m, &Repetition::default(), &[], &output.value, diags)
            .unwrap_or(Value::Unknown);
        if m.is_root() && value.contains_sensitive() && !output.sensitive {
            let diag = Diagnostic::error(
                "Output refers to sensitive values",
                "To reduce the risk of accidentally exporting sensitive data that was intended to be only internal, fleetform requires that any root module output containing sensitive data be explicitly marked as sensitive, to confirm your intent.",
            )
            .at(Some(config.range(&output.loc)))
            .help("if you do intend to export this data, add `sensitive = true` to the output block");
            diags.push(diag);
        }
        if output.sensitive {
            value = value.into_sensitive();
        }
        self.data
            .entry(m.clone())
            .or_default()
            .outputs
            .insert(name.to_owned(), value);
    }

    fn module_call(&mut self, m: &ModuleInstance, name: &str, diags: &mut Diagnostics) {
        let config = self.config;
        let call = &config.modules[&m.path()].module_calls[name];
        let child_path = m.path().child(name);
        let Some(child) = config.modules.get(&child_path) else {
            return;
        };
        for (arg, input) in &call.inputs {
            if !child.variables.contains_key(arg) {
                let mut detail = format!(
                    "An argument named {arg:?} is not expected here: module {name:?} declares no variable of that name."
                );
                if let Some(s) = fleetform_sdk::schema::did_you_mean(
                    arg,
                    child.variables.keys().map(String::as_str),
                ) {
                    detail.push_str(&format!(" Did you mean {s:?}?"));
                }
                let loc = input.name_loc.clone();
                self.once(
                    "module-arg",
                    &loc,
                    diags,
                    Diagnostic::error("Unsupported argument", detail).at(Some(config.range(&loc))),
                );
            }
        }
        let keys = self.keys(
            m,
            call.count.as_ref(),
            call.for_each.as_ref(),
            &format!("module.{name}"),
            diags,
        );
        let placeholder = self.data.get(m).is_some_and(|d| d.placeholder);
        let (mode, entries) = match keys {
            Keys::Known(mode, entries) => (mode, entries),
            Keys::Unknown => (
                repeat::Mode::Unknown,
                vec![(
                    InstanceKey::Str("*".into()),
                    Repetition {
                        each: Some((Value::Unknown, Value::Unknown)),
                        count: Some(Value::Unknown),
                    },
                )],
            ),
            Keys::Invalid => return,
        };
        let mut children = Vec::new();
        for (key, rep) in entries {
            let instance = m.child(name, key.clone());
            let data = InstanceData {
                rep,
                placeholder: placeholder || mode == repeat::Mode::Unknown,
                ..InstanceData::default()
            };
            self.data.insert(instance.clone(), data);
            self.modules
                .entry(child_path.clone())
                .or_default()
                .push(instance.clone());
            children.push((key, instance));
        }
        self.data
            .entry(m.clone())
            .or_default()
            .children
            .insert(name.to_owned(), (mode, children));
    }

    fn provider(
        &mut self,
        m: &ModuleInstance,
        name: &str,
        alias: Option<String>,
        diags: &mut Diagnostics,
    ) {
        let config = self.config;
        let block = &config.modules[&m.path()].providers[&(name.to_owned(), alias.clone())];
        let Some(schema) = self.providers.config_schema(name) else {
            let mut detail = format!(
                "fleetform has no provider named {name:?}. The built-in providers are: {}.",
                self.providers.names().collect::<Vec<_>>().join(", ")
            );
            if let Some(s) = fleetform_sdk::schema::did_you_mean(name, self.providers.names()) {
                detail.push_str(&format!(" Did you mean {s:?}?"));
            }
            self.once(
                "provider",
                &block.loc,
                diags,
                Diagnostic::error("Unknown provider", detail).at(Some(config.range(&block.loc))),
            );
            return;
        };
        let data = self.data.get(m).expect("module instance exists");
        let scope = InstanceScope {
            exp: self,
            module: m,
            data,
            rep: &Repetition::default(),
            extra: &[],
        };
        let header = Loc {
            file: block.file,
            span: block.loc.span.clone(),
        };
        let value = body::evaluate(&scope, schema, &block.body, block.file, &header, diags);
        let addr = ProviderConfigAddr {
            module: m.clone(),
            name: name.to_owned(),
            alias: alias.clone(),
        };
        self.provider_values
            .insert(addr, std::sync::Arc::new(value));
        self.provider_configs.push(ProviderConfigAddr {
            module: m.clone(),
            name: name.to_owned(),
            alias,
        });
    }
}

/// The parent instance and the call name of a non-root module instance.
fn parent_of(m: &ModuleInstance) -> (ModuleInstance, String) {
    let mut steps = m.0.clone();
    let last = steps.pop().map(|s| s.name).unwrap_or_default();
    (ModuleInstance(steps), last)
}

fn var_addr(m: &ModuleInstance, name: &str) -> String {
    if m.is_root() {
        format!("var.{name}")
    } else {
        format!("{m}.var.{name}")
    }
}
