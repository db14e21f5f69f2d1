//! Reading a directory tree of `*.hcl` files into a [`Config`].

use std::path::{Path, PathBuf};

use fleetform_sdk::{Diagnostic, Diagnostics, schema::did_you_mean};
use hcl::edit::Span;
use hcl::edit::structure::{Body, Structure};

use super::decode::Decoder;
use super::{Config, FileId, Loc, Module, Sources};
use crate::addrs::{ModulePath, ResourceMode};

/// Files ending in this are variable value files (like `terraform.tfvars`), not
/// configuration: `lab.auto.hcl` in the root directory is read as inputs.
pub const VAR_FILE_SUFFIX: &str = ".auto.hcl";

const TOP_LEVEL_BLOCKS: &[&str] = &[
    "fleet", "variable", "locals", "output", "module", "resource", "data", "provider", "moved",
    "import", "rollout",
];

/// Loads the configuration rooted at `dir` and every local module it calls.
///
/// Never fails outright: problems are diagnostics, and whatever could be read is returned.
pub fn load(dir: &Path) -> (Config, Diagnostics) {
    let mut config = Config::default();
    let mut diags = Diagnostics::new();
    let mut stack = Vec::new();
    load_module(
        &mut config,
        &mut diags,
        dir,
        ModulePath::root(),
        None,
        &mut stack,
    );
    (config, diags)
}

/// Loads a configuration of one in-memory file, for tests and fuzzing.
pub fn load_source(name: &str, text: &str) -> (Config, Diagnostics) {
    let mut config = Config::default();
    let mut diags = Diagnostics::new();
    let mut module = Module {
        dir: PathBuf::from("."),
        ..Module::default()
    };
    let file = config.sources.add(name, text);
    parse_file(&mut config.sources, &mut diags, &mut module, file, true);
    config.modules.insert(ModulePath::root(), module);
    (config, diags)
}

fn config_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| display_path(&e.path())))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".hcl")
                && !name.ends_with(VAR_FILE_SUFFIX)
                && !name.starts_with('.')
                && p.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}

/// `./modules/../x/./main.hcl` is shown as `modules/../x/main.hcl`: without `.` steps, the
/// way users name files. `..` steps are kept, since links make them meaningful.
pub(crate) fn display_path(path: &Path) -> PathBuf {
    let cleaned: PathBuf = path
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    if cleaned.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cleaned
    }
}

fn load_module(
    config: &mut Config,
    diags: &mut Diagnostics,
    dir: &Path,
    path: ModulePath,
    called_from: Option<Loc>,
    stack: &mut Vec<PathBuf>,
) {
    let at = |config: &Config| called_from.as_ref().map(|l| config.range(l));
    let files = match config_files(dir) {
        Ok(files) => files,
        Err(e) => {
            let (summary, detail) = if called_from.is_some() {
                (
                    "Unreadable module directory",
                    format!("The directory {} could not be read: {e}.", dir.display()),
                )
            } else {
                (
                    "Unreadable configuration directory",
                    format!("The directory {} could not be read: {e}.", dir.display()),
                )
            };
            diags.push(Diagnostic::error(summary, detail).at(at(config)));
            return;
        }
    };
    if files.is_empty() {
        let detail = format!(
            "The directory {} contains no configuration files (*.hcl, other than *{VAR_FILE_SUFFIX} variable files).",
            dir.display()
        );
        diags.push(Diagnostic::error("No configuration files", detail).at(at(config)));
        return;
    }
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    stack.push(canonical);
    let mut module = Module {
        path: path.clone(),
        dir: dir.to_path_buf(),
        ..Module::default()
    };
    for file_path in files {
        let limit = crate::lang::limits::limits().max_config_bytes;
        let size = std::fs::metadata(&file_path).map_or(0, |m| m.len() as usize);
        let total = config.sources.total_bytes().saturating_add(size);
        if total > limit {
            diags.push(Diagnostic::error(
                "Configuration too large",
                format!(
                    "With {} ({size} bytes), the configuration's files come to {total} bytes, more than the limit of {limit} bytes. Set {} to allow more.",
                    file_path.display(),
                    crate::lang::limits::CONFIG_VAR
                ),
            ));
            return;
        }
        let text = match std::fs::read_to_string(&file_path) {
            Ok(text) => text,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Unreadable configuration file",
                    format!("The file {} could not be read: {e}.", file_path.display()),
                ));
                continue;
            }
        };
        let file = config.sources.add(file_path, text);
        parse_file(
            &mut config.sources,
            diags,
            &mut module,
            file,
            path.0.is_empty(),
        );
    }
    let calls: Vec<_> = module
        .module_calls
        .values()
        .map(|c| (c.name.clone(), c.source.clone(), c.source_loc.clone()))
        .collect();
    config.modules.insert(path.clone(), module);
    for (name, source, source_loc) in calls {
        if !(source.starts_with("./") || source.starts_with("../")) {
            diags.push(
                Diagnostic::error(
                    "Invalid module source address",
                    format!("The module source {source:?} is not a local path. fleetform reads modules from local directories: the source must start with \"./\" or \"../\"."),
                )
                .at(Some(config.range(&source_loc)))
                .label("not a local path"),
            );
            continue;
        }
        let child_dir = display_path(&dir.join(&source));
        let canonical = child_dir
            .canonicalize()
            .unwrap_or_else(|_| child_dir.clone());
        if stack.contains(&canonical) {
            diags.push(
                Diagnostic::error(
                    "Module call cycle",
                    format!("The module {source:?} calls itself, directly or through other modules; a module tree must be finite."),
                )
                .at(Some(config.range(&source_loc))),
            );
            continue;
        }
        if !child_dir.is_dir() {
            diags.push(
                Diagnostic::error(
                    "Unreadable module directory",
                    format!(
                        "The module directory {} does not exist.",
                        child_dir.display()
                    ),
                )
                .at(Some(config.range(&source_loc)))
                .label("no such directory"),
            );
            continue;
        }
        load_module(
            config,
            diags,
            &child_dir,
            path.child(&name),
            Some(source_loc),
            stack,
        );
    }
    stack.pop();
}

fn parse_file(
    sources: &mut Sources,
    diags: &mut Diagnostics,
    module: &mut Module,
    file: FileId,
    is_root: bool,
) {
    let text = sources.get(file).text().clone();
    let body = match crate::lang::syntax::parse_body(&text) {
        Ok(body) => body,
        Err(e) => {
            diags.push(syntax_error(sources, file, &text, &e));
            return;
        }
    };
    decode_body(sources, diags, module, file, &body, is_root);
}

/// A parse error as a diagnostic, in Terraform's words where the parser's are vague.
fn syntax_error(
    sources: &Sources,
    file: FileId,
    text: &str,
    e: &hcl::edit::parser::Error,
) -> Diagnostic {
    let mut offset = e.location().offset().min(text.len());
    // The parser's offset may fall inside a multibyte character.
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let message = e.message();
    let (summary, detail) = if message.contains("redefined attribute") {
        let name: String = text[offset..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        (
            "Attribute redefined",
            format!(
                "The argument {name:?} was set more than once in this block. Each argument may be set only once."
            ),
        )
    } else if message.contains("heredoc") {
        ("Unterminated heredoc", "No line holding only the heredoc's closing marker ends it before the end of the file; the marker must match the one after << exactly.".to_owned())
    } else if text[offset..].trim().is_empty() && !text.trim().is_empty() {
        ("Unclosed configuration block", "The file ends inside a block, string or expression: there is no closing brace, bracket, quote or heredoc marker before the end of the file. This may be caused by incorrect nesting elsewhere in this file.".to_owned())
    } else {
        if message.contains("escape") {
            // The parser stops after the bad escape; point at its backslash.
            if let Some(back) = text[..offset].rfind('\\').filter(|b| offset - b <= 3) {
                offset = back;
            }
        }
        ("Invalid syntax", capitalize(message))
    };
    Diagnostic::error(summary, detail)
        .at(Some(sources.range_of(file, offset..offset + 1)))
        .label(message.to_owned())
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect::<String>() + ".",
        None => "The file could not be parsed.".into(),
    }
}

fn decode_body(
    sources: &Sources,
    diags: &mut Diagnostics,
    module: &mut Module,
    file: FileId,
    body: &Body,
    is_root: bool,
) {
    let mut d = Decoder {
        file,
        sources,
        diags,
    };
    for structure in body.iter() {
        let block = match structure {
            Structure::Attribute(attr) => {
                let span = attr.key.span().unwrap_or(0..0);
                d.error(
                    span,
                    "Unsupported argument",
                    format!("An argument named {:?} is not expected here. Top-level arguments are variable values, which belong in *{VAR_FILE_SUFFIX} files or -var options.", attr.key.as_str()),
                );
                continue;
            }
            Structure::Block(block) => block,
        };
        let kind = block.ident.as_str();
        match kind {
            "fleet" => {
                if !is_root {
                    d.error(block.ident.span().unwrap_or(0..0), "Unexpected fleet block", "The fleet block holds settings for the whole fleet and belongs in the root module only.".into());
                    continue;
                }
                if let Some(previous) = &module.fleet {
                    let prev = sources.range(&previous.loc);
                    d.error(
                        block.ident.span().unwrap_or(0..0),
                        "Duplicate fleet block",
                        format!(
                            "A fleet block was already declared at {prev}. Only one is allowed."
                        ),
                    );
                    continue;
                }
                module.fleet = d.fleet(block);
            }
            "variable" => {
                let Some(v) = d.variable(block) else { continue };
                if let Some(previous) = module.variables.get(&v.name) {
                    let prev = sources.range(&previous.loc);
                    let detail = format!(
                        "A variable named {:?} was already declared at {prev}. Variable names must be unique within a module.",
                        v.name
                    );
                    d.error(v.loc.span.clone(), "Duplicate variable declaration", detail);
                    continue;
                }
                module.variables.insert(v.name.clone(), v);
            }
            "locals" => {
                for local in d.locals(block) {
                    if let Some(previous) = module.locals.get(&local.name) {
                        let prev = sources.range(&previous.loc);
                        let detail = format!(
                            "A local value named {:?} was already defined at {prev}. Local value names must be unique within a module.",
                            local.name
                        );
                        d.error(
                            local.loc.span.clone(),
                            "Duplicate local value definition",
                            detail,
                        );
                        continue;
                    }
                    module.locals.insert(local.name.clone(), local);
                }
            }
            "output" => {
                let Some(o) = d.output(block) else { continue };
                if let Some(previous) = module.outputs.get(&o.name) {
                    let prev = sources.range(&previous.loc);
                    let detail = format!(
                        "An output named {:?} was already defined at {prev}. Output names must be unique within a module.",
                        o.name
                    );
                    d.error(o.loc.span.clone(), "Duplicate output definition", detail);
                    continue;
                }
                module.outputs.insert(o.name.clone(), o);
            }
            "module" => {
                let Some(m) = d.module_call(block) else {
                    continue;
                };
                if let Some(previous) = module.module_calls.get(&m.name) {
                    let prev = sources.range(&previous.loc);
                    let detail = format!(
                        "A module call named {:?} was already defined at {prev}. Module calls must have unique names within a module.",
                        m.name
                    );
                    d.error(m.loc.span.clone(), "Duplicate module call", detail);
                    continue;
                }
                module.module_calls.insert(m.name.clone(), m);
            }
            "resource" | "data" => {
                let Some(r) = d.resource(block, kind == "data") else {
                    continue;
                };
                if let Some(previous) = module.resources.get(&r.addr) {
                    let prev = sources.range(&previous.loc);
                    let (summary, what) = match r.addr.mode {
                        ResourceMode::Managed => (
                            format!("Duplicate resource {:?} configuration", r.addr.ty),
                            "resource",
                        ),
                        ResourceMode::Data => (
                            format!("Duplicate data {:?} configuration", r.addr.ty),
                            "data source",
                        ),
                    };
                    let detail = format!(
                        "A {} {what} named {:?} was already declared at {prev}. Resource names must be unique per type in each module.",
                        r.addr.ty, r.addr.name
                    );
                    d.error(r.loc.span.clone(), &summary, detail);
                    continue;
                }
                module.resources.insert(r.addr.clone(), r);
            }
            "provider" => {
                let Some(p) = d.provider(block) else { continue };
                let key = (p.name.clone(), p.alias.clone());
                if let Some(previous) = module.providers.get(&key) {
                    let prev = sources.range(&previous.loc);
                    let which = match &p.alias {
                        Some(a) => format!("{}.{a}", p.name),
                        None => p.name.clone(),
                    };
                    d.error(p.loc.span.clone(), "Duplicate provider configuration", format!("A provider configuration for {which:?} was already given at {prev}. Each configuration for the same provider must have a distinct alias."));
                    continue;
                }
                module.providers.insert(key, p);
            }
            "moved" => module.moved.extend(d.moved(block)),
            "import" => {
                if !is_root {
                    d.error(
                        block.ident.span().unwrap_or(0..0),
                        "Invalid import configuration",
                        "An import block is allowed only in the root module.".into(),
                    );
                    continue;
                }
                module.imports.extend(d.import(block));
            }
            "rollout" => {
                if !is_root {
                    d.error(
                        block.ident.span().unwrap_or(0..0),
                        "Unexpected rollout block",
                        "A rollout orders changes across the whole fleet and belongs in the root module only.".into(),
                    );
                    continue;
                }
                let Some(r) = d.rollout(block) else { continue };
                if let Some(previous) = module.rollouts.get(&r.name) {
                    let prev = sources.range(&previous.loc);
                    d.error(
                        r.loc.span.clone(),
                        "Duplicate rollout",
                        format!(
                            "A rollout named {:?} was already declared at {prev}.",
                            r.name
                        ),
                    );
                    continue;
                }
                module.rollouts.insert(r.name.clone(), r);
            }
            other => {
                let mut detail = format!("Blocks of type {other:?} are not expected here.");
                if let Some(s) = did_you_mean(other, TOP_LEVEL_BLOCKS.iter().copied()) {
                    detail.push_str(&format!(" Did you mean {s:?}?"));
                }
                d.error(
                    block.ident.span().unwrap_or(0..0),
                    "Unsupported block type",
                    detail,
                );
            }
        }
    }
}
