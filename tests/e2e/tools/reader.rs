//! A reader of Terraform's JSON formats, derived field by field from Terraform's documented
//! "JSON Output Format" (plan and state representations, `validate -json`) and
//! "Machine-Readable UI" (the `-json` stream): every object is a struct that refuses
//! fields the format does not define, with each field's documented type. The one addition
//! fleetform makes, `fleetform_version` beside `terraform_version`, is declared here too.
//!
//! Deserializing fleetform's output into these types is the check: a missing required
//! field, a field of the wrong type or an undocumented field fails it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format_version: String,
    pub terraform_version: String,
    pub fleetform_version: String,
    #[serde(default)]
    pub variables: BTreeMap<String, PlanVariable>,
    pub planned_values: Values,
    #[serde(default)]
    pub resource_drift: Vec<ResourceChange>,
    #[serde(default)]
    pub resource_changes: Vec<ResourceChange>,
    #[serde(default)]
    pub output_changes: BTreeMap<String, Change>,
    pub prior_state: Option<State>,
    pub configuration: Configuration,
    #[serde(default)]
    pub relevant_attributes: Vec<RelevantAttribute>,
    #[serde(default)]
    pub checks: Vec<CheckObject>,
    pub timestamp: String,
    pub applyable: bool,
    pub complete: bool,
    pub errored: bool,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PlanVariable {
    pub value: Value,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub format_version: String,
    pub terraform_version: String,
    pub fleetform_version: String,
    pub values: Option<Values>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Values {
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputValue>,
    pub root_module: Module,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct OutputValue {
    pub sensitive: bool,
    #[serde(rename = "type")]
    pub ty: Option<Value>,
    pub value: Option<Value>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Module {
    #[serde(default)]
    pub resources: Vec<Resource>,
    pub address: Option<String>,
    #[serde(default)]
    pub child_modules: Vec<Module>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub address: String,
    pub mode: Mode,
    #[serde(rename = "type")]
    pub ty: String,
    pub name: String,
    pub index: Option<Value>,
    pub provider_name: String,
    pub schema_version: u64,
    pub values: Value,
    pub sensitive_values: Value,
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub tainted: Option<bool>,
    pub deposed_key: Option<String>,
}

#[derive(Deserialize, Debug, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Managed,
    Data,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ResourceChange {
    pub address: String,
    pub previous_address: Option<String>,
    pub module_address: Option<String>,
    pub mode: Mode,
    #[serde(rename = "type")]
    pub ty: String,
    pub name: String,
    pub index: Option<Value>,
    pub deposed: Option<String>,
    pub provider_name: String,
    pub change: Change,
    pub action_reason: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub actions: Vec<ActionWord>,
    pub before: Value,
    pub after: Value,
    pub after_unknown: Value,
    pub before_sensitive: Value,
    pub after_sensitive: Value,
    #[serde(default)]
    pub replace_paths: Vec<Vec<Value>>,
    pub importing: Option<Importing>,
}

#[derive(Deserialize, Debug, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub enum ActionWord {
    NoOp,
    Create,
    Read,
    Update,
    Delete,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Importing {
    pub id: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    #[serde(default)]
    pub provider_config: BTreeMap<String, ProviderConfig>,
    pub root_module: ConfigModule,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: String,
    pub full_name: String,
    pub alias: Option<String>,
    pub module_address: Option<String>,
    pub version_constraint: Option<String>,
    pub expressions: Option<BTreeMap<String, Value>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConfigModule {
    #[serde(default)]
    pub outputs: BTreeMap<String, ConfigOutput>,
    #[serde(default)]
    pub resources: Vec<ConfigResource>,
    #[serde(default)]
    pub module_calls: BTreeMap<String, ModuleCall>,
    #[serde(default)]
    pub variables: BTreeMap<String, ConfigVariable>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConfigOutput {
    pub expression: Expression,
    pub sensitive: Option<bool>,
    pub description: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConfigResource {
    pub address: String,
    pub mode: Mode,
    #[serde(rename = "type")]
    pub ty: String,
    pub name: String,
    pub provider_config_key: String,
    /// Attribute name to an expression, or to a list of nested blocks' expressions.
    pub expressions: BTreeMap<String, Value>,
    pub schema_version: u64,
    pub count_expression: Option<Expression>,
    pub for_each_expression: Option<Expression>,
    #[serde(default)]
    pub depends_on: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ModuleCall {
    pub source: String,
    #[serde(default)]
    pub expressions: BTreeMap<String, Expression>,
    pub count_expression: Option<Expression>,
    pub for_each_expression: Option<Expression>,
    pub module: ConfigModule,
    pub version_constraint: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConfigVariable {
    pub default: Option<Value>,
    pub description: Option<String>,
    pub sensitive: Option<bool>,
}

/// `{"constant_value": ...}`, `{"references": [...]}`, or `{}` (neither could be given).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Expression {
    pub constant_value: Option<Value>,
    pub references: Option<Vec<String>>,
}

impl Expression {
    /// Reads a value of a resource's `expressions` map: an expression, or a nested block
    /// list whose every element is itself a map of expressions.
    pub fn check_nested(v: &Value) -> Result<(), String> {
        match v {
            Value::Array(blocks) => blocks.iter().try_for_each(|b| {
                b.as_object()
                    .ok_or_else(|| format!("a nested block is not an object: {b}"))?
                    .values()
                    .try_for_each(Expression::check_nested)
            }),
            other => serde_json::from_value::<Expression>(other.clone())
                .map(|_| ())
                .map_err(|e| format!("{e}: {other}")),
        }
    }
}

#[derive(Deserialize, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RelevantAttribute {
    pub resource: String,
    pub attribute: Vec<Value>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CheckObject {
    pub address: CheckAddress,
    pub status: CheckStatus,
    #[serde(default)]
    pub instances: Vec<CheckInstance>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CheckAddress {
    pub kind: String,
    pub mode: Option<Mode>,
    #[serde(rename = "type")]
    pub ty: Option<String>,
    pub name: String,
    pub module: Option<String>,
    pub to_display: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CheckInstance {
    pub address: CheckInstanceAddress,
    pub status: CheckStatus,
    #[serde(default)]
    pub problems: Vec<Value>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CheckInstanceAddress {
    pub to_display: String,
    pub module: Option<String>,
    pub instance_key: Option<Value>,
}

#[derive(Deserialize, Debug, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Fail,
    Error,
    Unknown,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Validate {
    pub format_version: String,
    pub valid: bool,
    pub error_count: u64,
    pub warning_count: u64,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub address: Option<String>,
    pub range: Option<Range>,
    pub snippet: Option<Snippet>,
}

#[derive(Deserialize, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub filename: String,
    pub start: Pos,
    pub end: Pos,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
    pub byte: u64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Snippet {
    pub context: Option<String>,
    pub code: String,
    pub start_line: u64,
    pub highlight_start_offset: u64,
    pub highlight_end_offset: u64,
    pub values: Vec<Value>,
}

/// One message of the `-json` UI stream: the common `@` fields, `type`, and the fields of
/// that type, each type's fields read by [`UiMessage::body`].
#[derive(Deserialize, Debug)]
pub struct UiMessage {
    #[serde(rename = "@level")]
    pub level: String,
    #[serde(rename = "@message")]
    pub message: String,
    #[serde(rename = "@module")]
    pub module: String,
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

/// The fields of each message type.
#[derive(Debug)]
pub enum UiBody {
    Version(VersionBody),
    Diagnostic(Diagnostic),
    PlannedChange(UiChange),
    ResourceDrift(UiChange),
    ChangeSummary(ChangeSummary),
    Outputs(BTreeMap<String, UiOutput>),
    Hook(Hook),
    Log,
}

impl UiMessage {
    /// Reads the type-specific fields, refusing unknown types and undocumented fields.
    pub fn body(&self) -> Result<UiBody, String> {
        let rest = Value::Object(self.rest.clone());
        let field = |name: &str| -> Result<Value, String> {
            if self.rest.len() != 1 {
                return Err(format!(
                    "{} has fields other than {name:?}: {rest}",
                    self.ty
                ));
            }
            self.rest
                .get(name)
                .cloned()
                .ok_or_else(|| format!("{} lacks {name:?}", self.ty))
        };
        let read = |v: Value| -> Result<UiBody, String> {
            Ok(match self.ty.as_str() {
                "version" => UiBody::Version(from(v)?),
                "diagnostic" => UiBody::Diagnostic(from(v)?),
                "planned_change" => UiBody::PlannedChange(from(v)?),
                "resource_drift" => UiBody::ResourceDrift(from(v)?),
                "change_summary" => UiBody::ChangeSummary(from(v)?),
                "outputs" => UiBody::Outputs(from(v)?),
                "apply_start" | "apply_progress" | "apply_complete" | "apply_errored"
                | "refresh_start" | "refresh_complete" => UiBody::Hook(from(v)?),
                "log" => UiBody::Log,
                other => return Err(format!("unknown message type {other:?}")),
            })
        };
        match self.ty.as_str() {
            "version" => read(rest),
            "diagnostic" => read(field("diagnostic")?),
            "planned_change" | "resource_drift" => read(field("change")?),
            "change_summary" => read(field("changes")?),
            "outputs" => read(field("outputs")?),
            "log" if self.rest.is_empty() => read(Value::Null),
            "log" => Err(format!("log has extra fields: {rest}")),
            _ => read(field("hook")?),
        }
    }
}

fn from<T: for<'de> Deserialize<'de>>(v: Value) -> Result<T, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("{e}: {v}"))
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct VersionBody {
    pub terraform: String,
    pub ui: String,
    pub fleetform: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct UiChange {
    pub resource: UiResource,
    pub previous_resource: Option<UiResource>,
    pub action: String,
    pub reason: Option<String>,
    pub importing: Option<Importing>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct UiResource {
    pub addr: String,
    pub module: String,
    pub resource: String,
    pub implied_provider: String,
    pub resource_type: String,
    pub resource_name: String,
    pub resource_key: Value,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ChangeSummary {
    pub add: u64,
    pub change: u64,
    pub import: u64,
    pub remove: u64,
    pub operation: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct UiOutput {
    pub sensitive: bool,
    #[serde(rename = "type")]
    pub ty: Option<Value>,
    pub value: Option<Value>,
    pub action: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    pub resource: UiResource,
    pub action: Option<String>,
    pub id_key: Option<String>,
    pub id_value: Option<String>,
    pub elapsed_seconds: Option<u64>,
}
