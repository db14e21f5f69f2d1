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
    let mut values: IndexMap<String, InputValue> = IndexMap::new();
    let declared = |config: &Config, name: &str| -> Option<Type> {
        config
            .root()
            .and_then(|m| m.variables.get(name))
            .map(|v| v.ty.clone())
    };
    for (key, raw) in env {
        let Some(name) = key.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        // Like Terraform, values for undeclared variables from the environment are ignored.
        let Some(ty) = declared(config, name) else {
            continue;
        };
        match parse_raw(raw, &ty) {
            Ok(value) => {
                values.insert(name.to_owned(), InputValue { value, source: InputSource::Env(key.clone()) });
            }
            Err(detail) => diags.push(Diagnostic::error("Invalid value for input variable", format!("The environment variable {key} does not contain a valid value for variable {name:?}: {detail}"))),
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
    for file in auto_files {
        read_var_file(config, &file, &mut values, &mut diags);
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
                read_var_file(config, path, &mut values, &mut diags);
            }
            VarArg::Var(assignment) => {
                let Some((name, raw)) = assignment.split_once('=') else {
                    diags.push(Diagnostic::error("Invalid -var option", format!("The given -var option {assignment:?} is not correctly specified. It must be a variable name and value separated by an equals sign, like -var=\"key=value\".")));
                    continue;
                };
                let name = name.trim();
                let Some(ty) = declared(config, name) else {
                    diags.push(Diagnostic::error("Value for undeclared variable", format!("A variable named {name:?} was assigned on the command line, but the root module does not declare a variable of that name. To use this value, add a \"variable\" block to the configuration.")));
                    continue;
                };
                match parse_raw(raw, &ty) {
                    Ok(value) => {
                        values.insert(
                            name.to_owned(),
                            InputValue {
                                value,
                                source: InputSource::CommandLine,
                            },
                        );
                    }
                    Err(detail) => {
                        let at = config
                            .root()
                            .and_then(|m| m.variables.get(name))
                            .map(|v| config.range(&v.loc));
                        let detail = format!(
                            "The value given by -var for variable {name:?} is not a valid HCL expression: {detail}"
                        );
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

/// Command-line and environment values are strings for string variables and HCL
/// expressions for every other type, as in Terraform.
fn parse_raw(raw: &str, ty: &Type) -> Result<Value, String> {
    // Primitive (and untyped) values are taken as the raw string and converted to the
    // variable's type later, so that `-var count=three` fails as a type error.
    if matches!(ty, Type::String | Type::Number | Type::Bool | Type::Any) {
        return Ok(Value::from(raw));
    }
    let expr =
        hcl::edit::parser::parse_expr(raw).map_err(|e| format!("{}.", capitalized(e.message())))?;
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
    let body = match hcl::edit::parser::parse_body(&text) {
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
