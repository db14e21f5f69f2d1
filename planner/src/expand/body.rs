//! Checking and evaluating a block body against a provider schema: unknown arguments and
//! blocks (with "did you mean"), missing required arguments, computed arguments set by the
//! user, type mismatches, block counts, and `dynamic` blocks. The result is the object
//! value of the configuration: every schema attribute present, null where unset.

use std::collections::BTreeMap;

use fleetform_sdk::schema::did_you_mean;
use fleetform_sdk::{Block, Diagnostic, Diagnostics, Nesting, Presence, Value};
use hcl::edit::Span;
use hcl::edit::structure::{Body, Structure};

use super::scope::InstanceScope;
use crate::config::{FileId, Loc};
use crate::lang::eval;

/// One nested block occurrence, after `dynamic` expansion.
struct BlockValue {
    labels: Vec<String>,
    value: Value,
    loc: Loc,
}

/// Evaluates `body` against `schema`; `header` is the block header, where problems
/// with the block as a whole are reported.
pub(super) fn evaluate(
    scope: &InstanceScope<'_>,
    schema: &Block,
    body: &Body,
    file: FileId,
    header: &Loc,
    diags: &mut Diagnostics,
) -> Value {
    let sources = &scope.exp.config.sources;
    let range = |span: Option<std::ops::Range<usize>>| {
        Some(sources.range_of(file, span.unwrap_or(header.span.clone())))
    };
    let mut attrs: BTreeMap<String, Value> = BTreeMap::new();
    let mut seen: BTreeMap<String, std::ops::Range<usize>> = BTreeMap::new();
    let mut blocks: BTreeMap<String, Vec<BlockValue>> = BTreeMap::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                let name = attr.key.as_str();
                let key_span = attr.key.span();
                let Some(spec) = schema.attributes.get(name) else {
                    let mut detail = format!("An argument named {name:?} is not expected here.");
                    if schema.blocks.contains_key(name) {
                        detail.push_str(&format!(
                            " Did you mean to define a block of type {name:?}?"
                        ));
                    } else if let Some(s) =
                        did_you_mean(name, schema.attributes.keys().map(String::as_str))
                    {
                        detail.push_str(&format!(" Did you mean {s:?}?"));
                    }
                    diags.push(
                        Diagnostic::error("Unsupported argument", detail).at(range(key_span)),
                    );
                    continue;
                };
                if let Some(previous) = seen.get(name) {
                    let prev = sources.range_of(file, previous.clone());
                    diags.push(Diagnostic::error("Attribute redefined", format!("The argument {name:?} was already set at {prev}. Each argument may be set only once.")).at(range(key_span)));
                    continue;
                }
                seen.insert(name.to_owned(), key_span.clone().unwrap_or_default());
                if spec.presence == Presence::Computed {
                    diags.push(Diagnostic::error("Value for unconfigurable attribute", format!("Can't configure a value for {name:?}: its value will be decided automatically based on the result of applying this configuration.")).at(range(key_span)));
                    continue;
                }
                let value = match eval(&attr.value, scope) {
                    Ok(v) => v,
                    Err(e) => {
                        diags.push(
                            Diagnostic::error(e.summary, e.detail)
                                .at(range(e.span.or(attr.value.span()))),
                        );
                        Value::Unknown
                    }
                };
                let value = match spec.ty.convert(&value) {
                    Ok(v) => v,
                    Err(e) => {
                        diags.push(
                            Diagnostic::error(
                                "Incorrect attribute value type",
                                format!("Inappropriate value for attribute {name:?}: {e}."),
                            )
                            .at(range(attr.value.span())),
                        );
                        Value::Unknown
                    }
                };
                attrs.insert(name.to_owned(), value.mark_if(spec.sensitive));
            }
            Structure::Block(block) if block.ident.as_str() == "dynamic" => {
                for b in dynamic(scope, schema, block, file, diags) {
                    blocks.entry(b.0).or_default().push(b.1);
                }
            }
            Structure::Block(block) => {
                let name = block.ident.as_str();
                let ident_span = block.ident.span();
                let Some(spec) = schema.blocks.get(name) else {
                    let mut detail = format!("Blocks of type {name:?} are not expected here.");
                    if schema.attributes.contains_key(name) {
                        detail.push_str(&format!(" Did you mean to define argument {name:?}? If so, use the equals sign to assign it a value."));
                    } else if let Some(s) =
                        did_you_mean(name, schema.blocks.keys().map(String::as_str))
                    {
                        detail.push_str(&format!(" Did you mean {s:?}?"));
                    }
                    diags.push(
                        Diagnostic::error("Unsupported block type", detail).at(range(ident_span)),
                    );
                    continue;
                };
                let want_labels = usize::from(spec.nesting == Nesting::Map);
                if block.labels.len() != want_labels {
                    let detail = if want_labels == 1 {
                        format!(
                            "A {name:?} block needs one label, its key: {name} \"KEY\" {{ ... }}."
                        )
                    } else {
                        format!("A {name:?} block takes no labels.")
                    };
                    diags.push(
                        Diagnostic::error(
                            if want_labels == 1 {
                                "Missing block label"
                            } else {
                                "Extraneous label"
                            },
                            detail,
                        )
                        .at(range(ident_span)),
                    );
                    continue;
                }
                let loc = Loc {
                    file,
                    span: ident_span.clone().unwrap_or_default(),
                };
                let value = evaluate(scope, &spec.block, &block.body, file, &loc, diags);
                let labels = block.labels.iter().map(|l| l.as_str().to_owned()).collect();
                blocks
                    .entry(name.to_owned())
                    .or_default()
                    .push(BlockValue { labels, value, loc });
            }
        }
    }
    let mut object = BTreeMap::new();
    for (name, spec) in &schema.attributes {
        let value = match (attrs.remove(name), spec.presence) {
            (Some(v), _) => v,
            (None, Presence::Required) => {
                diags.push(
                    Diagnostic::error(
                        "Missing required argument",
                        format!("The argument {name:?} is required, but no definition was found."),
                    )
                    .at(range(Some(header.span.clone()))),
                );
                Value::Unknown
            }
            // Unset means null in a configuration, as in Terraform; what an unset computed
            // attribute becomes is the plan's business (unknown, or the prior value).
            (None, Presence::Optional) => Value::Null,
            (None, Presence::Computed | Presence::OptionalComputed) => Value::Null,
        };
        object.insert(name.clone(), value);
    }
    for (name, spec) in &schema.blocks {
        let found = blocks.remove(name).unwrap_or_default();
        if let Some(max) = spec.max_items
            && found.len() > max
        {
            let extra = &found[max];
            let detail = if max == 1 {
                format!("No more than 1 {name:?} block is allowed.")
            } else {
                format!("No more than {max} {name:?} blocks are allowed.")
            };
            diags.push(
                Diagnostic::error(format!("Too many {name:?} blocks"), detail)
                    .at(Some(sources.range(&extra.loc))),
            );
        }
        if found.len() < spec.min_items {
            let min = spec.min_items;
            let detail = if min == 1 {
                format!("At least 1 {name:?} block is required.")
            } else {
                format!("At least {min} {name:?} blocks are required.")
            };
            diags.push(
                Diagnostic::error(format!("Insufficient {name:?} blocks"), detail)
                    .at(range(Some(header.span.clone()))),
            );
        }
        let value = match spec.nesting {
            Nesting::Single => found
                .into_iter()
                .next()
                .map(|b| b.value)
                .unwrap_or(Value::Null),
            Nesting::List => Value::List(found.into_iter().map(|b| b.value).collect()),
            Nesting::Set => {
                let mut items: Vec<Value> = found.into_iter().map(|b| b.value).collect();
                fleetform_sdk::types::make_set(&mut items);
                Value::List(items)
            }
            Nesting::Map => {
                let mut map = BTreeMap::new();
                for b in found {
                    let key = b.labels.into_iter().next().unwrap_or_default();
                    if map.contains_key(&key) {
                        diags.push(Diagnostic::error(format!("Duplicate {name:?} block"), format!("A {name:?} block with the key {key:?} was already defined; keys must be unique.")).at(Some(sources.range(&b.loc))));
                        continue;
                    }
                    map.insert(key, b.value);
                }
                Value::Object(map.into())
            }
        };
        object.insert(name.clone(), value);
    }
    Value::Object(object.into())
}

/// Expands `dynamic "NAME" { for_each = ..., iterator = it, content { ... } }`.
fn dynamic(
    scope: &InstanceScope<'_>,
    schema: &Block,
    block: &hcl::edit::structure::Block,
    file: FileId,
    diags: &mut Diagnostics,
) -> Vec<(String, BlockValue)> {
    let sources = &scope.exp.config.sources;
    let at = |span: Option<std::ops::Range<usize>>| {
        Some(sources.range_of(file, span.unwrap_or_default()))
    };
    let [label] = &block.labels[..] else {
        diags.push(
            Diagnostic::error(
                "Invalid dynamic block",
                "A dynamic block takes one label: the type of the blocks it generates.",
            )
            .at(at(block.ident.span())),
        );
        return Vec::new();
    };
    let name = label.as_str();
    let Some(spec) = schema.blocks.get(name) else {
        let mut detail = format!("Blocks of type {name:?} are not expected here.");
        if let Some(s) = did_you_mean(name, schema.blocks.keys().map(String::as_str)) {
            detail.push_str(&format!(" Did you mean {s:?}?"));
        }
        diags.push(Diagnostic::error("Unsupported block type", detail).at(at(label.span())));
        return Vec::new();
    };
    let mut iterator = name.to_owned();
    let mut for_each = None;
    let mut content = None;
    let mut labels_expr = None;
    for s in block.body.iter() {
        match s {
            Structure::Attribute(a) if a.key.as_str() == "for_each" => for_each = Some(&a.value),
            Structure::Attribute(a) if a.key.as_str() == "labels" => labels_expr = Some(&a.value),
            Structure::Attribute(a) if a.key.as_str() == "iterator" => match &a.value {
                hcl::edit::expr::Expression::Variable(v) => iterator = v.as_str().to_owned(),
                other => diags.push(Diagnostic::error("Invalid dynamic iterator name", "The iterator must be a bare name, such as iterator = mirror.").at(at(other.span()))),
            },
            Structure::Block(b) if b.ident.as_str() == "content" => content = Some(b),
            Structure::Attribute(a) => diags.push(Diagnostic::error("Unsupported argument", format!("An argument named {:?} is not expected in a dynamic block; it takes for_each, iterator, labels and a content block.", a.key.as_str())).at(at(a.key.span()))),
            Structure::Block(b) => diags.push(Diagnostic::error("Unsupported block type", format!("Blocks of type {:?} are not expected in a dynamic block; only content is.", b.ident.as_str())).at(at(b.ident.span()))),
        }
    }
    let (Some(for_each), Some(content)) = (for_each, content) else {
        diags.push(
            Diagnostic::error(
                "Invalid dynamic block",
                "A dynamic block needs a for_each argument and a content block.",
            )
            .at(at(block.ident.span())),
        );
        return Vec::new();
    };
    let collection = match eval(for_each, scope) {
        Ok(v) => v,
        Err(e) => {
            diags.push(Diagnostic::error(e.summary, e.detail).at(at(e.span.or(for_each.span()))));
            return Vec::new();
        }
    };
    let items: Vec<(Value, Value)> = match collection.unmark().0 {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
            .collect(),
        Value::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Value::from(i as i64), v.clone()))
            .collect(),
        // A set's elements have no index: the key is the element itself.
        Value::Set(items) => items.iter().map(|v| (v.clone(), v.clone())).collect(),
        Value::Null => Vec::new(),
        Value::Unknown => {
            // Unknown repetitions: check the content once with an unknown iterator.
            vec![(Value::Unknown, Value::Unknown)]
        }
        other => {
            diags.push(
                Diagnostic::error(
                    "Invalid dynamic for_each value",
                    format!(
                        "Cannot use a {} value in for_each. An iterable collection is required.",
                        other.kind_name()
                    ),
                )
                .at(at(for_each.span())),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (key, value) in items {
        let mut extra = scope.extra.to_vec();
        extra.push((
            iterator.clone(),
            Value::object([("key", key), ("value", value)]),
        ));
        let inner = InstanceScope {
            exp: scope.exp,
            module: scope.module,
            data: scope.data,
            rep: scope.rep,
            extra: &extra,
        };
        let loc = Loc {
            file,
            span: content.ident.span().unwrap_or_default(),
        };
        let value = evaluate(&inner, &spec.block, &content.body, file, &loc, diags);
        let labels = match labels_expr.map(|e| eval(e, &inner)) {
            Some(Ok(Value::List(ls) | Value::Set(ls))) => ls
                .iter()
                .map(|l| l.as_str().unwrap_or_default().to_owned())
                .collect(),
            Some(Ok(_)) | None => Vec::new(),
            Some(Err(e)) => {
                diags.push(Diagnostic::error(e.summary, e.detail).at(at(e.span)));
                Vec::new()
            }
        };
        if spec.nesting == Nesting::Map && labels.len() != 1 {
            diags.push(Diagnostic::error("Missing block label", format!("Blocks of type {name:?} need one label: set labels = [KEY] in the dynamic block.")).at(at(block.ident.span())));
            continue;
        }
        out.push((name.to_owned(), BlockValue { labels, value, loc }));
    }
    out
}
