//! `providers schema -json`: Terraform's provider schema representation (format 1.0), so
//! editors and linters written for Terraform read fleetform's built-in providers' schemas.

use fleetform_sdk::{Block, Nesting, Presence, ProviderSchema, Schema, Type};
use serde_json::{Map, Value, json};

use super::json::provider_address;

/// `{"format_version": "1.0", "provider_schemas": {ADDRESS: {...}}}`.
pub fn providers<'a>(schemas: impl IntoIterator<Item = (&'a str, ProviderSchema)>) -> Value {
    let all: Map<String, Value> = schemas
        .into_iter()
        .map(|(name, s)| (provider_address(name), provider(&s)))
        .collect();
    json!({ "format_version": "1.0", "provider_schemas": all })
}

fn provider(s: &ProviderSchema) -> Value {
    let schemas = |list: &std::collections::BTreeMap<String, Schema>| -> Value {
        Value::Object(
            list.iter()
                .map(|(name, s)| {
                    (
                        name.clone(),
                        json!({ "version": s.version, "block": block(&s.block) }),
                    )
                })
                .collect(),
        )
    };
    json!({
        "provider": { "version": 0, "block": block(&s.provider) },
        "resource_schemas": schemas(&s.resources),
        "data_source_schemas": schemas(&s.data_sources),
    })
}

fn block(b: &Block) -> Value {
    let mut out = Map::new();
    if !b.attributes.is_empty() {
        let attributes: Map<String, Value> = b
            .attributes
            .iter()
            .map(|(name, a)| {
                let mut v = Map::new();
                v.insert("type".into(), type_json(&a.ty));
                if !a.description.is_empty() {
                    v.insert("description".into(), json!(a.description));
                    v.insert("description_kind".into(), json!("plain"));
                }
                match a.presence {
                    Presence::Required => v.insert("required".into(), json!(true)),
                    Presence::Optional => v.insert("optional".into(), json!(true)),
                    Presence::Computed => v.insert("computed".into(), json!(true)),
                    Presence::OptionalComputed => {
                        v.insert("optional".into(), json!(true));
                        v.insert("computed".into(), json!(true))
                    }
                };
                if a.sensitive {
                    v.insert("sensitive".into(), json!(true));
                }
                (name.clone(), Value::Object(v))
            })
            .collect();
        out.insert("attributes".into(), Value::Object(attributes));
    }
    if !b.blocks.is_empty() {
        let blocks: Map<String, Value> = b
            .blocks
            .iter()
            .map(|(name, n)| {
                let mut v = Map::new();
                let nesting = match n.nesting {
                    Nesting::Single => "single",
                    Nesting::List => "list",
                    Nesting::Set => "set",
                    Nesting::Map => "map",
                };
                v.insert("nesting_mode".into(), json!(nesting));
                v.insert("block".into(), block(&n.block));
                if n.min_items > 0 {
                    v.insert("min_items".into(), json!(n.min_items));
                }
                if let Some(max) = n.max_items {
                    v.insert("max_items".into(), json!(max));
                }
                (name.clone(), Value::Object(v))
            })
            .collect();
        out.insert("block_types".into(), Value::Object(blocks));
    }
    if !b.description.is_empty() {
        out.insert("description".into(), json!(b.description));
    }
    out.insert("description_kind".into(), json!("plain"));
    Value::Object(out)
}

/// A type in cty's JSON notation: `"string"`, `["list","string"]`, `["object",{...}]`.
pub fn type_json(t: &Type) -> Value {
    match t {
        Type::Any => json!("dynamic"),
        Type::String => json!("string"),
        Type::Number => json!("number"),
        Type::Bool => json!("bool"),
        Type::List(e) => json!(["list", type_json(e)]),
        Type::Set(e) => json!(["set", type_json(e)]),
        Type::Map(e) => json!(["map", type_json(e)]),
        Type::Tuple(items) => json!(["tuple", items.iter().map(type_json).collect::<Vec<_>>()]),
        Type::Object(attrs) => {
            let types: Map<String, Value> = attrs
                .iter()
                .map(|(k, a)| (k.clone(), type_json(&a.ty)))
                .collect();
            let optional: Vec<&String> = attrs
                .iter()
                .filter(|(_, a)| a.optional)
                .map(|(k, _)| k)
                .collect();
            if optional.is_empty() {
                json!(["object", types])
            } else {
                json!(["object", types, optional])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_in_cty_notation() {
        assert_eq!(
            type_json(&Type::map(Type::String)),
            json!(["map", "string"])
        );
        assert_eq!(type_json(&Type::Any), json!("dynamic"));
        assert_eq!(
            type_json(&Type::List(Box::new(Type::Number))),
            json!(["list", "number"])
        );
    }

    #[test]
    fn every_builtin_provider_has_its_schemas() {
        let providers = crate::providers::builtin().unwrap();
        let names: Vec<&str> = providers.names().collect();
        let doc = super::providers(
            names
                .iter()
                .map(|n| (*n, providers.get(n).unwrap().schema())),
        );
        let host = &doc["provider_schemas"]["fleetform.io/builtin/host"];
        let address = &host["resource_schemas"]["host"]["block"]["attributes"]["address"];
        assert_eq!(address["type"], "string");
        assert_eq!(address["required"], true);
        assert_eq!(
            host["resource_schemas"]["host_file"]["block"]["attributes"]["sensitive_content"]["sensitive"],
            true
        );
        assert!(host["data_source_schemas"]["host_facts"].is_object());
        assert_eq!(doc["format_version"], "1.0");
    }
}
