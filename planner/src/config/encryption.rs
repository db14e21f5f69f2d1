//! Decoding `fleet { encryption { ... } }`: which blocks and arguments it accepts. The
//! arguments stay unevaluated (see [`super::EncryptionBlock`]); `crate::encryption` checks
//! their values when a run opens its state.

use hcl::edit::structure::{Block, Structure};
use indexmap::IndexMap;

use super::decode::{Decoder, span_of};
use super::{EncryptionBlock, EncryptionItem, EncryptionTarget};

impl Decoder<'_> {
    pub fn encryption(&mut self, block: &Block) -> Option<EncryptionBlock> {
        self.labels(block, &[])?;
        let c = self.content(
            &block.body,
            "in an encryption block",
            &[],
            &["key_provider", "method", "state", "plan"],
        );
        let mut out = EncryptionBlock {
            key_providers: Vec::new(),
            methods: Vec::new(),
            state: None,
            plan: None,
            loc: self.loc(span_of(&block.ident)),
        };
        for b in &c.blocks {
            match b.ident.as_str() {
                "key_provider" | "method" => {
                    let Some(labels) = self.labels(b, &["type", "name"]) else {
                        continue;
                    };
                    let (kind, kind_loc) = labels[0].clone();
                    let (name, name_loc) = labels[1].clone();
                    let mut attributes = IndexMap::new();
                    for structure in b.body.iter() {
                        match structure {
                            Structure::Attribute(attr) => {
                                let loc =
                                    self.loc(span_of(&attr.key).start..span_of(&attr.value).end);
                                attributes
                                    .insert(attr.key.as_str().to_owned(), (self.expr(attr), loc));
                            }
                            Structure::Block(inner) => self.error(
                                span_of(&inner.ident),
                                "Unsupported block type",
                                format!("A {} block takes arguments only.", b.ident.as_str()),
                            ),
                        }
                    }
                    let item = EncryptionItem {
                        kind: kind.to_owned(),
                        name: name.to_owned(),
                        attributes,
                        loc: self.loc(kind_loc.span.start..name_loc.span.end),
                    };
                    let list = if b.ident.as_str() == "method" {
                        &mut out.methods
                    } else {
                        &mut out.key_providers
                    };
                    if list
                        .iter()
                        .any(|other| other.kind == item.kind && other.name == item.name)
                    {
                        self.error(
                            span_of(&b.ident),
                            "Duplicate encryption block",
                            format!(
                                "A {} {:?} {:?} was already declared.",
                                b.ident.as_str(),
                                item.kind,
                                item.name
                            ),
                        );
                        continue;
                    }
                    list.push(item);
                }
                target => {
                    let slot_taken = match target {
                        "state" => out.state.is_some(),
                        _ => out.plan.is_some(),
                    };
                    if slot_taken {
                        self.error(
                            span_of(&b.ident),
                            "Duplicate encryption block",
                            format!("An encryption block may declare only one {target} block."),
                        );
                        continue;
                    }
                    let decoded = self.encryption_target(b);
                    match target {
                        "state" => out.state = decoded,
                        _ => out.plan = decoded,
                    }
                }
            }
        }
        Some(out)
    }

    fn encryption_target(&mut self, block: &Block) -> Option<EncryptionTarget> {
        self.labels(block, &[])?;
        let mut c = self.content(
            &block.body,
            "in an encryption target block",
            &["method", "enforced"],
            &["fallback"],
        );
        let method = c.take("method").map(|a| {
            let loc = self.loc(span_of(&a.key).start..span_of(&a.value).end);
            (self.expr(a), loc)
        });
        let enforced = match c.take("enforced") {
            Some(a) => self.constant_bool(a).unwrap_or(false),
            None => false,
        };
        let mut fallback = None;
        for b in &c.blocks {
            if fallback.is_some() {
                self.error(
                    span_of(&b.ident),
                    "Duplicate fallback block",
                    "A target takes one fallback block.".into(),
                );
                continue;
            }
            if self.labels(b, &[]).is_none() {
                continue;
            }
            let mut inner = self.content(&b.body, "in a fallback block", &["method"], &[]);
            match inner.take("method") {
                Some(a) => {
                    let loc = self.loc(span_of(&a.key).start..span_of(&a.value).end);
                    fallback = Some((self.expr(a), loc));
                }
                None => self.error(
                    span_of(&b.ident),
                    "Missing required argument",
                    "The argument \"method\" is required, but no definition was found.".into(),
                ),
            }
        }
        Some(EncryptionTarget {
            method,
            fallback,
            enforced,
            loc: self.loc(span_of(&block.ident)),
        })
    }
}
