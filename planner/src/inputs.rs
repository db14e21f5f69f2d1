//! Values for the root module's input variables, from every source Terraform users know,
//! lowest precedence first: the variable's default, `FLEETFORM_VAR_name` environment
//! variables, `*.auto.hcl` files of the root directory in name order, then `-var` and
//! `-var-file` options in the order given.

use std::path::{Path, PathBuf};

use fleetform_sdk::{Diagnostic, Diagnostics, Type, Value};
use hcl::edit::Span;
use hcl::edit::structure::Structure;
use indexmap::IndexMap;

use crate::config::{Config, Loc, VAR_FILE_SUFFIX};
use crate::lang::eval_const;

/// The prefix of environment variables that set input variables.
pub const ENV_PREFIX: &str = "FLEETFORM_VAR_";

/// A `-var` or `-var-file` option, in command-line order.
#[derive(Debug, Clone)]
pub enum VarArg {
    /// `-var NAME=VALUE`
    Var(String),
    /// `-var-file FILE`
    File(PathBuf),
}

/// Where a variable's value came from, for messages.
#[derive(Debug, Clone, PartialEq)]
pub enum InputSource {
    /// The `default` in its declaration.
    Default,
    /// An environment variable.
    Env(String),
    /// A variable file, at the assignment.
    File(Loc),
    /// A `-var` option.
    CommandLine,
    /// A module call argument.
    ModuleCall(Loc),
    /// The values recorded in a saved plan.
    SavedPlan,
}

impl InputSource {
    /// A phrase naming the source: "from -var on the command line".
    pub fn describe(&self, config: &Config) -> String {
        match self {
            InputSource::Default => "from its default".into(),
            InputSource::Env(name) => format!("from the environment variable {name}"),
            InputSource::File(loc) => format!("from {}", config.range(loc)),
            InputSource::CommandLine => "from a -var option on the command line".into(),
            InputSource::ModuleCall(loc) => {
                format!("from the module call argument at {}", config.range(loc))
            }
            InputSource::SavedPlan => "from the saved plan".into(),
        }
    }

    /// The place to point at, when the source is in a file.
    pub fn loc(&self) -> Option<&Loc> {
        match self {
            InputSource::File(l) | InputSource::ModuleCall(l) => Some(l),
            _ => None,
        }
    }
}

/// A raw input value and its source, before conversion to the variable's type.
#[derive(Debug, Clone)]
pub struct InputValue {
    /// The value.
    pub value: Value,
    /// Where it came from.
    pub source: InputSource,
}

/// Gathers values for the root module's variables. Files read are added to
/// `config.sources` so that diagnostics can show them.
pub fn gather(
    config: &mut Config,
    root_dir: &Path,
    args: &[VarArg],
    env: &[(String, String)],
) -> (IndexMap<String, InputValue>, Diagnostics) {
    let mut diags = Diagnostics::new();
    // Every source is gathered first and only each variable's winning value is parsed,
    // so a bad value that a later source overrides is no error, as in Terraform.
    let mut pending: IndexMap<String, Pending> = IndexMap::new();
    let declared = |config: &Config, name: &str| {
        config
            .root()
            .is_some_and(|m| m.variables.contains_key(name))
    };
    for (key, raw) in env {
        let Some(name) = key.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        // Like Terraform, values for undeclared variables from the environment are ignored.
        if declared(config, name) {
            pending.insert(
                name.to_owned(),
                Pending::Text(raw.clone(), InputSource::Env(key.clone())),
            );
        }
    }
    let mut auto_files: Vec<PathBuf> = std::fs::read_dir(root_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| crate::config::display_path(&e.path())))
                .collect()
        })
        .unwrap_or_default();
    auto_files.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(VAR_FILE_SUFFIX))
            && p.is_file()
    });
    auto_files.sort();
    let from_file = |config: &mut Config,
                     path: &Path,
                     pending: &mut IndexMap<String, Pending>,
                     diags: &mut Diagnostics| {
        let mut values = IndexMap::new();
        read_var_file(config, path, &mut values, diags);
        for (name, value) in values {
            pending.insert(name, Pending::Ready(value));
        }
    };
    for file in auto_files {
        from_file(config, &file, &mut pending, &mut diags);
    }
    for arg in args {
        match arg {
            VarArg::File(path) => {
                if !path.is_file() {
                    diags.push(Diagnostic::error(
                        "Failed to read variables file",
                        format!("Given variables file {} does not exist.", path.display()),
                    ));
                    continue;
                }
                from_file(config, path, &mut pending, &mut diags);
            }
            VarArg::Var(assignment) => {
                let Some((name, raw)) = assignment.split_once('=') else {
                    diags.push(Diagnostic::error("Invalid -var option", format!("The given -var option {assignment:?} is not correctly specified. It must be a variable name and value separated by an equals sign, like -var=\"key=value\".")));
                    continue;
                };
                let name = name.trim();
                if !declared(config, name) {
                    diags.push(Diagnostic::error("Value for undeclared variable", format!("A variable named {name:?} was assigned on the command line, but the root module does not declare a variable of that name. To use this value, add a \"variable\" block to the configuration.")));
                    continue;
                }
                pending.insert(
                    name.to_owned(),
                    Pending::Text(raw.to_owned(), InputSource::CommandLine),
                );
            }
        }
    }
    let mut values = IndexMap::new();
    for (name, p) in pending {
        match p {
            Pending::Ready(v) => {
                values.insert(name, v);
            }
            Pending::Text(raw, source) => {
                let Some(var) = config.root().and_then(|m| m.variables.get(&name)) else {
                    continue;
                };
                match parse_raw(&raw, &var.ty, var.type_loc.is_none()) {
                    Ok(value) => {
                        values.insert(name, InputValue { value, source });
                    }
                    Err(detail) => {
                        let at = Some(config.range(&var.loc));
                        let (origin, secret) = (source.describe(config), var.sensitive);
                        let detail = if secret {
                            format!(
                                "The value for variable {name:?} ({origin}) is not a valid HCL expression; it is sensitive, so it is not shown."
                            )
                        } else {
                            format!(
                                "The value for variable {name:?} ({origin}) is not a valid HCL expression: {detail}"
                            )
                        };
                        diags.push(
                            Diagnostic::error("Invalid value for input variable", detail).at(at),
                        );
                    }
                }
            }
        }
    }
    (values, diags)
}

/// A gathered value: text from the command line or environment, parsed once it wins.
enum Pending {
    Text(String, InputSource),
    Ready(InputValue),
}

/// Command-line and environment values are strings for string variables and HCL
/// expressions for every other type, as in Terraform.
fn parse_raw(raw: &str, ty: &Type, untyped: bool) -> Result<Value, String> {
    // Primitive and untyped values are taken as the raw string and converted to the
    // variable's type later, so that `-var count=three` fails as a type error; `any` and
    // collection types are HCL expressions.
    if untyped || matches!(ty, Type::String | Type::Number | Type::Bool) {
        return Ok(Value::from(raw));
    }
    let expr = crate::lang::syntax::parse_expr(raw)
        .map_err(|e| format!("{}.", capitalized(e.message())))?;
    eval_const(&expr).map_err(|e| e.detail)
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn read_var_file(
    config: &mut Config,
    path: &Path,
    values: &mut IndexMap<String, InputValue>,
    diags: &mut Diagnostics,
) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::error(
                "Failed to read variables file",
                format!("The file {} could not be read: {e}.", path.display()),
            ));
            return;
        }
    };
    let file = config.sources.add(path, text);
    let text = config.sources.get(file).text().clone();
    let body = match crate::lang::syntax::parse_body(&text) {
        Ok(b) => b,
        Err(e) => {
            let offset = e.location().offset();
            diags.push(
                Diagnostic::error("Invalid syntax", format!("{}.", e.message()))
                    .at(Some(config.sources.range_of(file, offset..offset + 1))),
            );
            return;
        }
    };
    for structure in body.iter() {
        match structure {
            Structure::Block(b) => diags.push(
                Diagnostic::error("Unexpected block", "A variables file holds only assignments of the form name = value; blocks belong in configuration files.")
                    .at(Some(config.sources.range_of(file, b.ident.span().unwrap_or(0..0)))),
            ),
            Structure::Attribute(attr) => {
                let name = attr.key.as_str();
                let key_span = attr.key.span().unwrap_or(0..0);
                if config.root().is_some_and(|m| !m.variables.contains_key(name)) {
                    diags.push(
                        Diagnostic::warning("Value for undeclared variable", format!("The root module does not declare a variable named {name:?} but a value was found in file {}. To use this value, add a \"variable\" block to the configuration.", path.display()))
                            .at(Some(config.sources.range_of(file, key_span))),
                    );
                    continue;
                }
                match eval_const(&attr.value) {
                    Ok(value) => {
                        let span = attr.value.span().unwrap_or(key_span);
                        values.insert(name.to_owned(), InputValue { value, source: InputSource::File(Loc { file, span }) });
                    }
                    Err(e) => diags.push(Diagnostic::error(e.summary, e.detail).at(Some(config.sources.range_of(file, e.span.unwrap_or(key_span))))),
                }
            }
        }
    }
}
