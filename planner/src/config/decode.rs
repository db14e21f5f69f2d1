//! Decoding blocks into the configuration model: which arguments and nested blocks each
//! block accepts, labels, names, literals, and Terraform's diagnostics for each mistake.

use fleetform_sdk::{Diagnostic, Diagnostics, Type, Value, schema::did_you_mean};
use hcl::edit::Span;
use hcl::edit::expr::{Expression, TraversalOperator};
use hcl::edit::structure::{Attribute, Block, Body, Structure};
use indexmap::IndexMap;

use super::{
    Backend, Check, Expr, FileId, FleetBlock, IgnoreChanges, Import, Lifecycle, Loc, Local,
    ModuleCall, ModuleInput, Moved, Output, ProviderBlock, ProviderRef, ResourceBlock, Sources,
    Variable,
};
use crate::addrs::Resource;
use crate::lang::{eval_const, type_constraint};

/// What decoding needs at hand: the file being read, the source texts, and the sink.
pub(super) struct Decoder<'a> {
    pub file: FileId,
    pub sources: &'a Sources,
    pub diags: &'a mut Diagnostics,
}

/// The arguments and blocks of a body, checked against what is allowed.
pub(super) struct Content<'b> {
    pub attrs: IndexMap<&'b str, &'b Attribute>,
    pub blocks: Vec<&'b Block>,
}

impl Content<'_> {
    pub fn take(&mut self, name: &str) -> Option<&Attribute> {
        self.attrs.shift_remove(name)
    }
}

pub(super) fn span_of(s: &impl Span) -> std::ops::Range<usize> {
    s.span().unwrap_or(0..0)
}

/// Names must start with a letter or underscore and hold letters, digits, `_` and `-`.
pub(super) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

impl<'a> Decoder<'a> {
    pub fn loc(&self, span: std::ops::Range<usize>) -> Loc {
        Loc {
            file: self.file,
            span,
        }
    }

    fn range(&self, span: std::ops::Range<usize>) -> Option<fleetform_sdk::SourceRange> {
        Some(self.sources.range_of(self.file, span))
    }

    pub fn error(&mut self, span: std::ops::Range<usize>, summary: &str, detail: String) {
        let range = self.range(span);
        self.diags
            .push(Diagnostic::error(summary, detail).at(range));
    }

    pub fn expr(&self, attr: &Attribute) -> Expr {
        Expr {
            file: self.file,
            expr: attr.value.clone(),
        }
    }

    /// Splits a body into allowed arguments and blocks, reporting the rest.
    pub fn content<'b>(
        &mut self,
        body: &'b Body,
        where_: &str,
        attrs: &[&str],
        blocks: &[&str],
    ) -> Content<'b> {
        let mut content = Content {
            attrs: IndexMap::new(),
            blocks: Vec::new(),
        };
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let name = attr.key.as_str();
                    if !attrs.contains(&name) {
                        let mut detail =
                            format!("An argument named {name:?} is not expected here.");
                        if let Some(s) = did_you_mean(name, attrs.iter().copied()) {
                            detail.push_str(&format!(" Did you mean {s:?}?"));
                        } else if blocks.contains(&name) {
                            detail.push_str(&format!(
                                " Did you mean to define a block of type {name:?}?"
                            ));
                        }
                        self.error(span_of(&attr.key), "Unsupported argument", detail);
                        continue;
                    }
                    if let Some(previous) = content.attrs.get(name) {
                        let prev = self.sources.range_of(self.file, span_of(&previous.key));
                        self.error(
                            span_of(&attr.key),
                            "Attribute redefined",
                            format!("The argument {name:?} was already set at {prev}. Each argument may be set only once."),
                        );
                        continue;
                    }
                    content.attrs.insert(name, attr);
                }
                Structure::Block(block) => {
                    let name = block.ident.as_str();
                    if !blocks.contains(&name) {
                        let mut detail =
                            format!("Blocks of type {name:?} are not expected {where_}.");
                        if let Some(s) = did_you_mean(name, blocks.iter().copied()) {
                            detail.push_str(&format!(" Did you mean {s:?}?"));
                        } else if attrs.contains(&name) {
                            detail.push_str(&format!(
                                " Did you mean to define argument {name:?}? If so, use the equals sign to assign it a value."
                            ));
                        }
                        self.error(span_of(&block.ident), "Unsupported block type", detail);
                        continue;
                    }
                    content.blocks.push(block);
                }
            }
        }
        content
    }

    /// Checks the label count of a block; `names` describes each label for messages.
    pub fn labels<'b>(&mut self, block: &'b Block, names: &[&str]) -> Option<Vec<(&'b str, Loc)>> {
        let kind = block.ident.as_str();
        let want = names.len();
        let have = block.labels.len();
        let described = names.join(", ");
        if have < want {
            self.error(
                span_of(&block.ident),
                &format!("Missing name for {kind}"),
                format!("All {kind} blocks must have {want} labels ({described})."),
            );
            return None;
        }
        if have > want {
            let extra = &block.labels[want];
            self.error(
                span_of(extra),
                &format!("Extraneous label for {kind}"),
                if want == 0 {
                    format!("No labels are expected for {kind} blocks.")
                } else {
                    format!("Only {want} labels ({described}) are expected for {kind} blocks.")
                },
            );
            return None;
        }
        let mut out = Vec::with_capacity(want);
        for label in &block.labels {
            let name = label.as_str();
            if !valid_name(name) {
                self.error(
                    span_of(label),
                    &format!("Invalid {kind} name"),
                    "A name must start with a letter or underscore and may contain only letters, digits, underscores, and dashes.".into(),
                );
                return None;
            }
            out.push((name, self.loc(span_of(label))));
        }
        Some(out)
    }

    /// Evaluates an argument that must be a constant (no references).
    pub fn constant(&mut self, attr: &Attribute) -> Option<Value> {
        match eval_const(&attr.value) {
            Ok(v) => Some(v),
            Err(e) => {
                let span = e.span.clone().unwrap_or_else(|| span_of(&attr.value));
                self.error(span, &e.summary, e.detail);
                None
            }
        }
    }

    pub fn constant_bool(&mut self, attr: &Attribute) -> Option<bool> {
        let value = self.constant(attr)?;
        match Type::Bool.convert(&value) {
            Ok(Value::Bool(b)) => Some(b),
            _ => {
                self.error(
                    span_of(&attr.value),
                    "Invalid value",
                    format!(
                        "The argument {:?} must be true or false.",
                        attr.key.as_str()
                    ),
                );
                None
            }
        }
    }

    pub fn constant_string(&mut self, attr: &Attribute) -> Option<String> {
        let value = self.constant(attr)?;
        match Type::String.convert(&value) {
            Ok(Value::String(s)) => Some(s),
            _ => {
                self.error(
                    span_of(&attr.value),
                    "Invalid value",
                    format!("The argument {:?} must be a string.", attr.key.as_str()),
                );
                None
            }
        }
    }

    /// Reads `[a.b, c]` as a list of expressions (for `depends_on`, `ignore_changes`, ...).
    pub fn expr_list(&mut self, attr: &Attribute) -> Vec<Expr> {
        match &attr.value {
            Expression::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for e in items.iter() {
                    // Terraform takes only references here: a string such as
                    // "module.other" would otherwise be a silent no-op.
                    if attr.key.as_str() == "depends_on" && !is_static_reference(e) {
                        self.error(
                            span_of(e),
                            "Invalid expression",
                            "A single static variable reference is required: only attribute access and indexing with constant keys. No calculations, function calls, template expressions, etc are allowed here.".to_owned(),
                        );
                        continue;
                    }
                    out.push(Expr {
                        file: self.file,
                        expr: e.clone(),
                    });
                }
                out
            }
            other => {
                self.error(
                    span_of(other),
                    "Invalid expression",
                    format!(
                        "The argument {:?} must be a list of references, written [a.b, c.d].",
                        attr.key.as_str()
                    ),
                );
                Vec::new()
            }
        }
    }

    /// Reads a provider reference: `arc` or `arc.west`.
    pub fn provider_ref(&mut self, expr: &Expression) -> Option<ProviderRef> {
        let loc = self.loc(span_of(expr));
        match expr {
            Expression::Variable(name) => Some(ProviderRef {
                name: name.as_str().to_owned(),
                alias: None,
                loc,
            }),
            Expression::Traversal(t) => match (&t.expr, t.operators.as_slice()) {
                (Expression::Variable(name), [op]) => match op.value() {
                    TraversalOperator::GetAttr(alias) => Some(ProviderRef {
                        name: name.as_str().to_owned(),
                        alias: Some(alias.as_str().to_owned()),
                        loc,
                    }),
                    _ => self.bad_provider_ref(expr),
                },
                _ => self.bad_provider_ref(expr),
            },
            _ => self.bad_provider_ref(expr),
        }
    }

    fn bad_provider_ref(&mut self, expr: &Expression) -> Option<ProviderRef> {
        self.error(
            span_of(expr),
            "Invalid provider reference",
            "A provider configuration reference must be the provider's name, optionally followed by a dot and an alias: arc or arc.west.".into(),
        );
        None
    }

    fn check(&mut self, block: &Block) -> Option<Check> {
        let mut c = self.content(&block.body, "here", &["condition", "error_message"], &[]);
        let condition = c.take("condition").map(|a| self.expr(a));
        let error_message = c.take("error_message").map(|a| self.expr(a));
        let kind = block.ident.as_str();
        match (condition, error_message) {
            (Some(condition), Some(error_message)) => Some(Check {
                condition,
                error_message,
                loc: self.loc(span_of(block)),
            }),
            (condition, _) => {
                let missing = if condition.is_none() {
                    "condition"
                } else {
                    "error_message"
                };
                self.error(
                    span_of(&block.ident),
                    "Missing required argument",
                    format!("The argument {missing:?} is required in a {kind} block, but no definition was found."),
                );
                None
            }
        }
    }

    pub fn variable(&mut self, block: &Block) -> Option<Variable> {
        let labels = self.labels(block, &["name"])?;
        let (name, name_loc) = labels[0].clone();
        const RESERVED: &[&str] = &[
            "source",
            "version",
            "providers",
            "count",
            "for_each",
            "lifecycle",
            "depends_on",
            "locals",
        ];
        if RESERVED.contains(&name) {
            self.error(
                name_loc.span.clone(),
                "Invalid variable name",
                format!("The variable name {name:?} is reserved due to its special meaning inside module blocks."),
            );
            return None;
        }
        let mut c = self.content(
            &block.body,
            "in a variable block",
            &[
                "type",
                "default",
                "description",
                "sensitive",
                "nullable",
                "ephemeral",
            ],
            &["validation"],
        );
        let (ty, type_loc) = match c.take("type") {
            Some(attr) => match type_constraint(&attr.value) {
                Ok(ty) => (ty, Some(self.loc(span_of(&attr.value)))),
                Err(e) => {
                    self.error(
                        e.span.unwrap_or_else(|| span_of(&attr.value)),
                        &e.summary,
                        e.detail,
                    );
                    (Type::Any, None)
                }
            },
            None => (Type::Any, None),
        };
        let description = c.take("description").and_then(|a| self.constant_string(a));
        let sensitive = c
            .take("sensitive")
            .and_then(|a| self.constant_bool(a))
            .unwrap_or(false);
        let nullable = c
            .take("nullable")
            .and_then(|a| self.constant_bool(a))
            .unwrap_or(true);
        let _ephemeral = c.take("ephemeral").and_then(|a| self.constant_bool(a));
        let mut default = None;
        if let Some(attr) = c.take("default")
            && let Some(value) = self.constant(attr)
        {
            if value.is_null() && !nullable {
                self.error(
                    span_of(&attr.value),
                    "Invalid default value for variable",
                    "A null default value is not valid when nullable=false.".into(),
                );
            } else {
                match ty.convert(&value) {
                        Ok(v) => default = Some(v.mark_if(sensitive)),
                        Err(e) => self.error(
                            span_of(&attr.value),
                            "Invalid default value for variable",
                            format!("This default value is not compatible with the variable's type constraint: {e}."),
                        ),
                    }
            }
        }
        let validations = c
            .blocks
            .iter()
            .filter_map(|b| {
                self.labels(b, &[])?;
                self.check(b)
            })
            .collect();
        Some(Variable {
            name: name.to_owned(),
            loc: self.loc(span_of(&block.ident).start..name_loc.span.end + 1),
            ty,
            type_loc,
            default,
            description,
            sensitive,
            nullable,
            validations,
        })
    }

    pub fn locals(&mut self, block: &Block) -> Vec<Local> {
        if self.labels(block, &[]).is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let name = attr.key.as_str();
                    out.push(Local {
                        name: name.to_owned(),
                        expr: self.expr(attr),
                        loc: self.loc(span_of(&attr.key)),
                    });
                }
                Structure::Block(b) => self.error(
                    span_of(&b.ident),
                    "Unsupported block type",
                    "Blocks are not allowed inside a locals block: each entry is name = expression.".into(),
                ),
            }
        }
        out
    }

    pub fn output(&mut self, block: &Block) -> Option<Output> {
        let labels = self.labels(block, &["name"])?;
        let (name, name_loc) = labels[0].clone();
        let mut c = self.content(
            &block.body,
            "in an output block",
            &[
                "value",
                "sensitive",
                "description",
                "depends_on",
                "ephemeral",
            ],
            &["precondition"],
        );
        let Some(value) = c.take("value").map(|a| self.expr(a)) else {
            self.error(
                name_loc.span.clone(),
                "Missing required argument",
                "The argument \"value\" is required, but no definition was found.".into(),
            );
            return None;
        };
        let sensitive = c
            .take("sensitive")
            .and_then(|a| self.constant_bool(a))
            .unwrap_or(false);
        let description = c.take("description").and_then(|a| self.constant_string(a));
        let depends_on = c
            .take("depends_on")
            .map(|a| self.expr_list(a))
            .unwrap_or_default();
        let _ = c.take("ephemeral");
        let preconditions = c.blocks.iter().filter_map(|b| self.check(b)).collect();
        Some(Output {
            name: name.to_owned(),
            value,
            sensitive,
            description,
            depends_on,
            preconditions,
            loc: self.loc(span_of(&block.ident).start..name_loc.span.end + 1),
        })
    }

    pub fn module_call(&mut self, block: &Block) -> Option<ModuleCall> {
        let labels = self.labels(block, &["name"])?;
        let (name, name_loc) = labels[0].clone();
        let header = self.loc(span_of(&block.ident).start..name_loc.span.end + 1);
        let mut inputs = IndexMap::new();
        let (mut source, mut count, mut for_each) = (None, None, None);
        let (mut depends_on, mut providers) = (Vec::new(), Vec::new());
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) => match attr.key.as_str() {
                    "source" => {
                        source = self
                            .constant_string(attr)
                            .map(|s| (s, self.loc(span_of(&attr.value))))
                    }
                    "version" => self.error(
                        span_of(&attr.key),
                        "Unsupported argument",
                        "Modules are read from local paths, which have no version; remove \"version\".".into(),
                    ),
                    "count" => count = Some(self.expr(attr)),
                    "for_each" => for_each = Some(self.expr(attr)),
                    "depends_on" => depends_on = self.expr_list(attr),
                    "providers" => providers = self.provider_map(attr),
                    other => {
                        if inputs.contains_key(other) {
                            self.error(
                                span_of(&attr.key),
                                "Attribute redefined",
                                format!("The argument {other:?} was already set. Each argument may be set only once."),
                            );
                        } else {
                            let input = ModuleInput { name_loc: self.loc(span_of(&attr.key)), value: self.expr(attr) };
                            inputs.insert(other.to_owned(), input);
                        }
                    }
                },
                Structure::Block(b) => self.error(
                    span_of(&b.ident),
                    "Unsupported block type",
                    format!("Blocks of type {:?} are not expected in a module block.", b.ident.as_str()),
                ),
            }
        }
        if count.is_some() && for_each.is_some() {
            let span = count.as_ref().map(|c: &Expr| c.loc().span).unwrap_or(0..0);
            self.error(
                span,
                "Invalid combination of \"count\" and \"for_each\"",
                "The \"count\" and \"for_each\" meta-arguments are mutually-exclusive, only one should be used to be explicit about the number of instances to create.".into(),
            );
            return None;
        }
        let Some((source, source_loc)) = source else {
            self.error(
                header.span.clone(),
                "Missing required argument",
                "The argument \"source\" is required, but no definition was found.".into(),
            );
            return None;
        };
        Some(ModuleCall {
            name: name.to_owned(),
            source,
            source_loc,
            inputs,
            count,
            for_each,
            depends_on,
            providers,
            loc: header,
        })
    }

    fn provider_map(&mut self, attr: &Attribute) -> Vec<(String, ProviderRef)> {
        let Expression::Object(obj) = &attr.value else {
            self.error(
                span_of(&attr.value),
                "Invalid providers argument",
                "The providers argument maps the module's provider names to configurations: providers = { arc = arc.west }.".into(),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in obj.iter() {
            let key_name = match key {
                hcl::edit::expr::ObjectKey::Ident(id) => id.as_str().to_owned(),
                hcl::edit::expr::ObjectKey::Expression(e) => match self.provider_ref(e) {
                    Some(r) => r.name,
                    None => continue,
                },
            };
            if let Some(r) = self.provider_ref(value.expr()) {
                out.push((key_name, r));
            }
        }
        out
    }

    pub fn resource(&mut self, block: &Block, data: bool) -> Option<ResourceBlock> {
        let labels = self.labels(block, &["type", "name"])?;
        let (ty, type_loc) = labels[0].clone();
        let (name, name_loc) = labels[1].clone();
        let addr = if data {
            Resource::data(ty, name)
        } else {
            Resource::managed(ty, name)
        };
        let mut body = Body::new();
        let (mut count, mut for_each, mut provider) = (None, None, None);
        let mut depends_on = Vec::new();
        let mut lifecycle = Lifecycle::default();
        let mut seen_lifecycle = false;
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) => match attr.key.as_str() {
                    "count" => count = Some(self.expr(attr)),
                    "for_each" => for_each = Some(self.expr(attr)),
                    "depends_on" => depends_on = self.expr_list(attr),
                    "provider" => provider = self.provider_ref(&attr.value),
                    _ => body.push(attr.clone()),
                },
                Structure::Block(b) => match b.ident.as_str() {
                    "lifecycle" if seen_lifecycle => self.error(
                        span_of(&b.ident),
                        "Duplicate lifecycle block",
                        "At most one lifecycle block is allowed for each resource.".into(),
                    ),
                    "lifecycle" => {
                        seen_lifecycle = true;
                        if let Some(l) = self.lifecycle(b, data) {
                            lifecycle = l;
                        }
                    }
                    "provisioner" | "connection" => self.error(
                        span_of(&b.ident),
                        "Unsupported block type",
                        format!("Blocks of type {:?} are not supported: use host_command resources to run commands on hosts.", b.ident.as_str()),
                    ),
                    _ => body.push(b.clone()),
                },
            }
        }
        if count.is_some() && for_each.is_some() {
            let span = count.as_ref().map(|c: &Expr| c.loc().span).unwrap_or(0..0);
            self.error(
                span,
                "Invalid combination of \"count\" and \"for_each\"",
                "The \"count\" and \"for_each\" meta-arguments are mutually-exclusive, only one should be used to be explicit about the number of resources to be created.".into(),
            );
            return None;
        }
        Some(ResourceBlock {
            addr,
            loc: self.loc(span_of(&block.ident).start..name_loc.span.end),
            type_loc,
            count,
            for_each,
            depends_on,
            provider,
            lifecycle,
            body,
            file: self.file,
        })
    }

    fn lifecycle(&mut self, block: &Block, data: bool) -> Option<Lifecycle> {
        self.labels(block, &[])?;
        let (attrs, blocks): (&[&str], &[&str]) = if data {
            (&[], &["precondition", "postcondition"])
        } else {
            (
                &[
                    "prevent_destroy",
                    "create_before_destroy",
                    "ignore_changes",
                    "replace_triggered_by",
                ],
                &["precondition", "postcondition"],
            )
        };
        let mut c = self.content(&block.body, "in a lifecycle block", attrs, blocks);
        let mut l = Lifecycle {
            prevent_destroy: c
                .take("prevent_destroy")
                .and_then(|a| self.constant_bool(a))
                .unwrap_or(false),
            create_before_destroy: c
                .take("create_before_destroy")
                .and_then(|a| self.constant_bool(a))
                .unwrap_or(false),
            ..Lifecycle::default()
        };
        if let Some(attr) = c.take("ignore_changes") {
            l.ignore_changes = match &attr.value {
                Expression::Variable(v) if v.as_str() == "all" => IgnoreChanges::All,
                _ => IgnoreChanges::Attributes(self.expr_list(attr)),
            };
        }
        if let Some(attr) = c.take("replace_triggered_by") {
            l.replace_triggered_by = self.expr_list(attr);
        }
        for b in &c.blocks {
            let Some(check) = self.check(b) else { continue };
            if b.ident.as_str() == "precondition" {
                l.preconditions.push(check);
            } else {
                l.postconditions.push(check);
            }
        }
        Some(l)
    }

    pub fn provider(&mut self, block: &Block) -> Option<ProviderBlock> {
        let labels = self.labels(block, &["name"])?;
        let (name, name_loc) = labels[0].clone();
        let mut body = Body::new();
        let mut alias = None;
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) if attr.key.as_str() == "alias" => {
                    alias = self.constant_string(attr);
                    if let Some(a) = &alias
                        && !valid_name(a) {
                            self.error(
                                span_of(&attr.value),
                                "Invalid provider configuration alias",
                                "An alias must be a valid name: it must start with a letter or underscore and may contain only letters, digits, underscores, and dashes.".into(),
                            );
                        }
                }
                Structure::Attribute(attr) if attr.key.as_str() == "version" => self.error(
                    span_of(&attr.key),
                    "Unsupported argument",
                    "Providers are built into fleetform and have no separate version; remove \"version\".".into(),
                ),
                other => body.push(other.clone()),
            }
        }
        Some(ProviderBlock {
            name: name.to_owned(),
            alias,
            body,
            file: self.file,
            loc: self.loc(span_of(&block.ident).start..name_loc.span.end),
        })
    }

    pub fn moved(&mut self, block: &Block) -> Option<Moved> {
        self.labels(block, &[])?;
        let mut c = self.content(&block.body, "in a moved block", &["from", "to"], &[]);
        let from = c.take("from").map(|a| self.expr(a));
        let to = c.take("to").map(|a| self.expr(a));
        match (from, to) {
            (Some(from), Some(to)) => Some(Moved {
                from,
                to,
                loc: self.loc(span_of(block)),
            }),
            (from, _) => {
                let missing = if from.is_none() { "from" } else { "to" };
                self.error(
                    span_of(&block.ident),
                    "Missing required argument",
                    format!("The argument {missing:?} is required, but no definition was found."),
                );
                None
            }
        }
    }

    pub fn import(&mut self, block: &Block) -> Option<Import> {
        self.labels(block, &[])?;
        let mut c = self.content(
            &block.body,
            "in an import block",
            &["to", "id", "provider"],
            &[],
        );
        let to = c.take("to").map(|a| self.expr(a));
        let id = c.take("id").map(|a| self.expr(a));
        let provider = c.take("provider").map(|a| a.value.clone());
        let provider = provider.and_then(|e| self.provider_ref(&e));
        match (to, id) {
            (Some(to), Some(id)) => Some(Import {
                to,
                id,
                provider,
                loc: self.loc(span_of(block)),
            }),
            (to, _) => {
                let missing = if to.is_none() { "to" } else { "id" };
                self.error(
                    span_of(&block.ident),
                    "Missing required argument",
                    format!("The argument {missing:?} is required, but no definition was found."),
                );
                None
            }
        }
    }

    pub fn fleet(&mut self, block: &Block) -> Option<FleetBlock> {
        self.labels(block, &[])?;
        let mut c = self.content(
            &block.body,
            "in a fleet block",
            &["parallelism", "required_version"],
            &["backend", "encryption", "partitions"],
        );
        let parallelism = c.take("parallelism").and_then(|a| {
            let v = self.constant(a)?;
            match v.as_number().and_then(|n| n.as_u64()) {
                Some(n) if n > 0 => Some(n),
                _ => {
                    self.error(
                        span_of(&a.value),
                        "Invalid value",
                        "parallelism must be a whole number of at least 1.".into(),
                    );
                    None
                }
            }
        });
        let _ = c.take("required_version");
        let mut backend = None;
        let mut encryption: Option<super::EncryptionBlock> = None;
        let mut partitions: Option<super::PartitionsBlock> = None;
        for b in &c.blocks {
            if b.ident.as_str() == "partitions" {
                if partitions.is_some() {
                    self.error(
                        span_of(&b.ident),
                        "Duplicate partitions configuration",
                        "A fleet block may declare only one partitions block.".into(),
                    );
                } else {
                    partitions = self.partitions(b);
                }
                continue;
            }
            if b.ident.as_str() == "encryption" {
                if encryption.is_some() {
                    self.error(
                        span_of(&b.ident),
                        "Duplicate encryption configuration",
                        "A fleet block may declare only one encryption block.".into(),
                    );
                } else {
                    encryption = self.encryption(b);
                }
                continue;
            }
            let Some(labels) = self.labels(b, &["type"]) else {
                continue;
            };
            let (kind, kind_loc) = labels[0].clone();
            const KINDS: &[&str] = &["local", "postgres", "azurerm"];
            if !KINDS.contains(&kind) {
                let mut detail = format!(
                    "There is no backend type named {kind:?}; fleetform keeps state in \"local\", \"postgres\" or \"azurerm\"."
                );
                if let Some(s) = did_you_mean(kind, KINDS.iter().copied()) {
                    detail.push_str(&format!(" Did you mean {s:?}?"));
                }
                self.error(kind_loc.span, "Unsupported backend type", detail);
                continue;
            }
            if backend.is_some() {
                self.error(
                    span_of(&b.ident),
                    "Duplicate backend configuration",
                    "A fleet block may declare only one backend.".into(),
                );
                continue;
            }
            let mut settings = IndexMap::new();
            let mut setting_locs = IndexMap::new();
            for structure in b.body.iter() {
                match structure {
                    Structure::Attribute(attr) => {
                        if let Some(v) = self.constant(attr) {
                            settings.insert(attr.key.as_str().to_owned(), v);
                            setting_locs.insert(
                                attr.key.as_str().to_owned(),
                                self.loc(span_of(&attr.key).start..span_of(&attr.value).end),
                            );
                        }
                    }
                    Structure::Block(inner) => self.error(
                        span_of(&inner.ident),
                        "Unsupported block type",
                        "Backend settings are arguments, not blocks.".into(),
                    ),
                }
            }
            backend = Some(Backend {
                kind: kind.to_owned(),
                settings,
                setting_locs,
                loc: self.loc(span_of(&b.ident).start..kind_loc.span.end),
            });
        }
        Some(FleetBlock {
            loc: self.loc(span_of(&block.ident)),
            backend,
            parallelism,
            encryption,
            partitions,
        })
    }

    /// `partitions { by = ["module.NAME", ...] }`: module call paths, as strings.
    fn partitions(&mut self, block: &Block) -> Option<super::PartitionsBlock> {
        self.labels(block, &[])?;
        let mut c = self.content(&block.body, "in a partitions block", &["by"], &[]);
        let by = c.take("by").and_then(|a| {
            let value = self.constant(a)?;
            let at = self.loc(span_of(&a.value));
            let Ok(Value::List(items)) = Type::List(Box::new(Type::String)).convert(&value)
            else {
                self.error(
                    span_of(&a.value),
                    "Invalid value",
                    "by must be a list of module call addresses, such as [\"module.clinic\"].".into(),
                );
                return None;
            };
            let mut paths = Vec::new();
            for item in items {
                let text = item.as_str().unwrap_or_default().to_owned();
                match module_call_path(&text) {
                    Some(path) => paths.push((path, at.clone())),
                    None => self.error(
                        span_of(&a.value),
                        "Invalid module call address",
                        format!("{text:?} is not a module call address: write module.NAME, or module.NAME.module.CHILD for a call inside a module, without instance keys."),
                    ),
                }
            }
            Some(paths)
        });
        Some(super::PartitionsBlock {
            by,
            loc: self.loc(span_of(&block.ident)),
        })
    }
}

/// `module.a.module.b` as `["a", "b"]`; `None` when it is not such an address.
fn module_call_path(text: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || !parts.len().is_multiple_of(2) {
        return None;
    }
    let mut path = Vec::new();
    for pair in parts.chunks(2) {
        let name = pair[1];
        let valid = pair[0] == "module"
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return None;
        }
        path.push(name.to_owned());
    }
    Some(path)
}

/// A reference with only attribute steps and constant keys: `module.x`, `a.b["k"]`.
fn is_static_reference(e: &Expression) -> bool {
    use hcl::edit::expr::TraversalOperator as Op;
    match e {
        Expression::Variable(_) => true,
        Expression::Traversal(t) => {
            matches!(t.expr, Expression::Variable(_))
                && t.operators.iter().all(|op| match op.value() {
                    Op::GetAttr(_) | Op::LegacyIndex(_) => true,
                    Op::Index(k) => matches!(k, Expression::String(_) | Expression::Number(_)),
                    Op::AttrSplat(_) | Op::FullSplat(_) => false,
                })
        }
        _ => false,
    }
}
