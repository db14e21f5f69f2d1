//! The contract every provider's schema meets, checked by each provider's tests, and
//! helpers for schema tests.

use crate::schema::{Attribute, Block, ProviderSchema};

/// The attribute `name` of `block`; panics naming it when it is missing.
pub fn attribute<'a>(block: &'a Block, name: &str) -> &'a Attribute {
    block
        .attributes
        .get(name)
        .unwrap_or_else(|| panic!("attribute {name} is missing"))
}

/// Every attribute of the provider block, resource types and data sources, with its dotted
/// path (`provider.user`, `host.bastion.password`).
pub fn all_attributes(schema: &ProviderSchema) -> Vec<(String, &Attribute)> {
    fn walk<'a>(prefix: &str, block: &'a Block, out: &mut Vec<(String, &'a Attribute)>) {
        for (name, attribute) in &block.attributes {
            out.push((format!("{prefix}.{name}"), attribute));
        }
        for (name, nested) in &block.blocks {
            walk(&format!("{prefix}.{name}"), &nested.block, out);
        }
    }
    let mut out = Vec::new();
    walk("provider", &schema.provider, &mut out);
    for (name, s) in schema.resources.iter().chain(&schema.data_sources) {
        walk(name, &s.block, &mut out);
    }
    out
}

/// True when an attribute's name says it holds a secret: passwords, private keys, tokens,
/// kubeconfigs, protected settings. Paths to such files and public keys are not secrets.
fn names_a_secret(path: &str) -> bool {
    let name = path.rsplit('.').next().unwrap_or(path);
    if name.ends_with("_file")
        || name.ends_with("_path")
        || name.ends_with("public_key")
        || name == "host_key"
    {
        return false;
    }
    [
        "password",
        "secret",
        "private_key",
        "passphrase",
        "token",
        "kubeconfig",
        "protected",
        "sensitive_",
    ]
    .iter()
    .any(|word| name.contains(word))
        || name.ends_with("_key")
}

/// Checks the schema contract: every attribute is described, and every attribute whose name
/// says it holds a secret is sensitive. Panics listing every violation.
pub fn check_contract(schema: &ProviderSchema) {
    let mut problems = Vec::new();
    for (path, attribute) in all_attributes(schema) {
        if attribute.description.is_empty() {
            problems.push(format!("{path} has no description"));
        }
        if names_a_secret(&path) && !attribute.sensitive {
            problems.push(format!("{path} holds a secret but is not sensitive"));
        }
    }
    assert!(
        problems.is_empty(),
        "schema contract violations:\n{}",
        problems.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Type;
    use crate::schema::Schema;

    fn provider(block: Block) -> ProviderSchema {
        ProviderSchema {
            resources: [("thing".to_owned(), Schema::new(block))]
                .into_iter()
                .collect(),
            ..ProviderSchema::default()
        }
    }

    #[test]
    fn the_contract_names_undescribed_and_unprotected_attributes() {
        let bad = provider(
            Block::new()
                .attr(
                    "password",
                    Attribute::optional(Type::String).describe("The login password."),
                )
                .attr("address", Attribute::required(Type::String)),
        );
        let failure =
            std::panic::catch_unwind(|| check_contract(&bad)).expect_err("the contract must fail");
        let message = failure
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(
            message.contains("thing.address has no description"),
            "{message}"
        );
        assert!(
            message.contains("thing.password holds a secret but is not sensitive"),
            "{message}"
        );
        let good = provider(
            Block::new()
                .attr(
                    "password",
                    Attribute::optional(Type::String)
                        .sensitive()
                        .describe("The login password."),
                )
                .attr(
                    "private_key_file",
                    Attribute::optional(Type::String).describe("Path to the key."),
                )
                .attr(
                    "host_key",
                    Attribute::optional(Type::String).describe("The pinned host key."),
                ),
        );
        check_contract(&good);
    }
}
