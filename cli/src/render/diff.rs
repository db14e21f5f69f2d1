//! The structured diff behind the human plan, after Terraform's `jsonformat` package: a
//! differ turns a before and an after value (with the resource type's schema when there is
//! one) into a tree of [`Diff`]s, each with its own action, and the renderers print that
//! tree exactly as Terraform does: `+`/`-`/`~` per line, keys aligned on `=`, unchanged
//! children counted, `(known after apply)`, `(sensitive value)`, `# forces replacement`.
//!
//! **Secrets:** a value under a sensitive mark (or in an attribute the schema declares
//! sensitive) becomes a [`Kind::Sensitive`] leaf holding only booleans and an action; its
//! content is never copied into the tree, so no renderer can print it.

use std::collections::{BTreeMap, BTreeSet};

use fleetform_planner::plan::diff::values_equal;
use fleetform_sdk::{Block, Nesting, ObjectAttribute, Path, PathStep, Type, Value};

use super::term::{Paint, attribute_name, quote};

/// The action of one node of a diff (replacement exists only at the resource level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    NoOp,
    Create,
    Update,
    Delete,
}

/// Terraform's `CompareActions`: `current` unless `next` is a different change.
fn compare(current: Act, next: Act) -> Act {
    if next == Act::NoOp {
        current
    } else if current != next {
        Act::Update
    } else {
        current
    }
}

/// The three-character symbol of an action.
pub(crate) fn symbol(act: Act, p: Paint) -> String {
    match act {
        Act::NoOp => "   ".into(),
        Act::Create => format!("  {}", p.green("+")),
        Act::Update => format!("  {}", p.yellow("~")),
        Act::Delete => format!("  {}", p.red("-")),
    }
}

/// One node of a diff.
#[derive(Debug)]
pub(crate) struct Diff {
    pub kind: Kind,
    pub action: Act,
    /// This path is one of the change's `replace_paths`.
    pub replace: bool,
}

#[derive(Debug)]
pub(crate) enum Kind {
    /// A string, number, bool or null (`None`); never a sensitive value.
    Primitive {
        before: Option<Value>,
        after: Option<Value>,
    },
    /// Known after apply; `before` is the old value as a deletion.
    Unknown { before: Option<Box<Diff>> },
    /// A sensitive value: only whether each side was sensitive and what changed.
    Sensitive {
        before: bool,
        after: bool,
        inner: Act,
    },
    /// A nested block that is (or was) sensitive.
    SensitiveBlock,
    /// An object: keys printed bare when they are identifiers.
    Object {
        attrs: BTreeMap<String, Diff>,
        override_null: bool,
    },
    /// A map: keys always quoted.
    Map { elems: BTreeMap<String, Diff> },
    /// A list or tuple; `context` shows the unchanged neighbours of each change.
    List { elems: Vec<Diff>, context: bool },
    /// A set.
    Set { elems: Vec<Diff> },
    /// A block: attributes, then nested blocks.
    Block {
        attrs: BTreeMap<String, Diff>,
        blocks: Vec<BlockGroup>,
    },
    /// A value that changes type (dynamic values only).
    TypeChange { before: Box<Diff>, after: Box<Diff> },
}

/// The nested blocks of one type within a block.
#[derive(Debug)]
pub(crate) struct BlockGroup {
    name: String,
    /// Each block with its label (` "key"` for map nesting, empty otherwise).
    entries: Vec<(String, Diff)>,
    replace: bool,
}

/// One side of a change at one node: the value without its outermost sensitive mark
/// (`None` for null or absent), whether it was present explicitly (a key of its parent
/// object), and whether it was marked sensitive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Side<'v> {
    value: Option<&'v Value>,
    explicit: bool,
    sensitive: bool,
}

impl<'v> Side<'v> {
    pub fn of(value: Option<&'v Value>, explicit: bool) -> Side<'v> {
        match value {
            None => Side {
                value: None,
                explicit,
                sensitive: false,
            },
            Some(v) => {
                let (inner, marked) = v.unmark();
                Side {
                    value: (!matches!(inner, Value::Null)).then_some(inner),
                    explicit,
                    sensitive: marked,
                }
            }
        }
    }

    const NONE: Side<'static> = Side {
        value: None,
        explicit: false,
        sensitive: false,
    };

    /// Marks this side sensitive (outputs declared `sensitive`).
    pub fn sensitive(mut self, sensitive: bool) -> Side<'v> {
        self.sensitive |= sensitive;
        self
    }

    fn is_unknown(&self) -> bool {
        matches!(self.value, Some(Value::Unknown))
    }

    fn object(&self) -> Option<&'v BTreeMap<String, Value>> {
        match self.value {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        }
    }

    fn list(&self) -> Option<&'v [Value]> {
        match self.value {
            Some(Value::List(l)) => Some(l),
            _ => None,
        }
    }

    /// The side of attribute or key `key` of this object.
    fn child(&self, key: &str) -> Side<'v> {
        match self.object() {
            Some(m) => Side::of(m.get(key), m.contains_key(key)),
            None => Side::NONE,
        }
    }

    /// The side of element `i` of this list.
    fn element(&self, i: Option<usize>) -> Side<'v> {
        match (self.list(), i) {
            (Some(l), Some(i)) if i < l.len() => Side::of(Some(&l[i]), true),
            _ => Side::NONE,
        }
    }
}

/// Terraform's `CalculateAction` for a leaf.
fn calculate(b: Side, a: Side) -> Act {
    let b_missing = b.value.is_none() && !b.explicit;
    let a_missing = a.value.is_none() && !a.explicit;
    if b_missing && !a_missing {
        Act::Create
    } else if a_missing && !b_missing {
        Act::Delete
    } else if same(b.value, a.value) && b.explicit == a.explicit {
        Act::NoOp
    } else {
        Act::Update
    }
}

fn same(b: Option<&Value>, a: Option<&Value>) -> bool {
    match (b, a) {
        (None, None) => true,
        (Some(b), Some(a)) => values_equal(b, a) && b.is_wholly_known() == a.is_wholly_known(),
        _ => false,
    }
}

/// The action of a collection before looking at its elements.
fn default_action(b: Side, a: Side) -> Act {
    match (b.value, a.value) {
        (None, None) => Act::NoOp,
        (None, Some(_)) => Act::Create,
        (Some(_), None) => Act::Delete,
        _ => Act::NoOp,
    }
}

fn same_step(a: &PathStep, b: &PathStep) -> bool {
    match (a, b) {
        (PathStep::Attr(x) | PathStep::Key(x), PathStep::Attr(y) | PathStep::Key(y)) => x == y,
        (PathStep::Index(x), PathStep::Index(y)) => x == y,
        _ => false,
    }
}

/// Computes diffs, knowing which paths force the replacement.
pub(crate) struct Differ<'a> {
    pub replace_paths: &'a [Path],
}

impl Differ<'_> {
    fn forces(&self, path: &[PathStep]) -> bool {
        self.replace_paths
            .iter()
            .any(|p| p.len() == path.len() && p.iter().zip(path).all(|(x, y)| same_step(x, y)))
    }

    fn sensitive(
        &self,
        b: Side,
        a: Side,
        schema_sensitive: bool,
        block: bool,
        path: &[PathStep],
    ) -> Option<Diff> {
        let bs = b.sensitive || (schema_sensitive && b.value.is_some());
        let as_ = a.sensitive || (schema_sensitive && a.value.is_some());
        if !bs && !as_ {
            return None;
        }
        let inner = calculate(b, a);
        let action = if inner == Act::NoOp && bs != as_ {
            Act::Update
        } else {
            inner
        };
        let kind = if block {
            Kind::SensitiveBlock
        } else {
            Kind::Sensitive {
                before: bs,
                after: as_,
                inner,
            }
        };
        Some(Diff {
            kind,
            action,
            replace: self.forces(path),
        })
    }

    fn unknown(
        &self,
        b: Side,
        a: Side,
        path: &[PathStep],
        before: impl FnOnce(Side) -> Diff,
    ) -> Option<Diff> {
        if !a.is_unknown() {
            return None;
        }
        let (action, before) = match b.value {
            None => (Act::Create, None),
            Some(_) => (Act::Update, Some(Box::new(before(b)))),
        };
        Some(Diff {
            kind: Kind::Unknown { before },
            action,
            replace: self.forces(path),
        })
    }

    /// An attribute of type `ty`.
    fn attr(
        &self,
        b: Side,
        a: Side,
        ty: &Type,
        schema_sensitive: bool,
        path: &mut Vec<PathStep>,
    ) -> Diff {
        if let Some(d) = self.sensitive(b, a, schema_sensitive, false, path) {
            return d;
        }
        if let Some(d) = self.unknown(b, a, path, |b| {
            let mut p = path.clone();
            self.attr(b, Side::NONE, ty, false, &mut p)
        }) {
            return d;
        }
        let lists = b.value.is_none_or(|v| matches!(v, Value::List(_)))
            && a.value.is_none_or(|v| matches!(v, Value::List(_)));
        let objects = b.value.is_none_or(|v| matches!(v, Value::Object(_)))
            && a.value.is_none_or(|v| matches!(v, Value::Object(_)));
        let primitives = b.value.is_none_or(is_primitive) && a.value.is_none_or(is_primitive);
        match ty {
            Type::String | Type::Number | Type::Bool if primitives => self.primitive(b, a, path),
            Type::List(elem) if lists => self.list(b, a, Some(elem), path),
            Type::Tuple(elems) if lists => self.tuple(b, a, elems, path),
            Type::Set(elem) if lists => self.set(b, a, elem, path),
            Type::Map(elem) if objects => self.map(b, a, elem, path),
            Type::Object(attrs) if objects => self.object(b, a, Some(attrs), path),
            _ => self.dynamic(b, a, path),
        }
    }

    fn primitive(&self, b: Side, a: Side, path: &[PathStep]) -> Diff {
        Diff {
            kind: Kind::Primitive {
                before: b.value.cloned(),
                after: a.value.cloned(),
            },
            action: calculate(b, a),
            replace: self.forces(path),
        }
    }

    /// A value without a type: outputs, `any` attributes, resources without a schema, and
    /// JSON inside strings (Terraform's JSON differ).
    pub fn dynamic(&self, b: Side, a: Side, path: &mut Vec<PathStep>) -> Diff {
        if let Some(d) = self.sensitive(b, a, false, false, path) {
            return d;
        }
        if let Some(d) = self.unknown(b, a, path, |b| {
            let mut p = path.clone();
            self.dynamic(b, Side::NONE, &mut p)
        }) {
            return d;
        }
        let (bt, at) = (json_type(b.value), json_type(a.value));
        let deleted = at == JsonType::Null && !a.explicit;
        let created = bt == JsonType::Null && !b.explicit;
        if bt == at || created || deleted {
            let target = if bt != JsonType::Null { bt } else { at };
            return self.dynamic_as(b, a, target, path);
        }
        let before = self.dynamic_as(b, Side::NONE, bt, path);
        let after = self.dynamic_as(Side::NONE, a, at, path);
        Diff {
            kind: Kind::TypeChange {
                before: Box::new(before),
                after: Box::new(after),
            },
            action: Act::Update,
            replace: self.forces(path),
        }
    }

    fn dynamic_as(&self, b: Side, a: Side, target: JsonType, path: &mut Vec<PathStep>) -> Diff {
        match target {
            JsonType::Object => self.object(b, a, None, path),
            JsonType::Array => self.list(b, a, None, path),
            _ => {
                let b_missing = b.value.is_none() && !b.explicit;
                let a_missing = a.value.is_none() && !a.explicit;
                let action = if b_missing && !a_missing {
                    Act::Create
                } else if !b_missing && a_missing {
                    Act::Delete
                } else if same(b.value, a.value) {
                    Act::NoOp
                } else {
                    Act::Update
                };
                Diff {
                    kind: Kind::Primitive {
                        before: b.value.cloned(),
                        after: a.value.cloned(),
                    },
                    action,
                    replace: self.forces(path),
                }
            }
        }
    }

    /// An object; `attrs` is its type when known (keys are taken from the values).
    fn object(
        &self,
        b: Side,
        a: Side,
        attrs: Option<&BTreeMap<String, ObjectAttribute>>,
        path: &mut Vec<PathStep>,
    ) -> Diff {
        let mut action = default_action(b, a);
        let keys: BTreeSet<&String> = b
            .object()
            .into_iter()
            .flat_map(|m| m.keys())
            .chain(a.object().into_iter().flat_map(|m| m.keys()))
            .collect();
        let mut out = BTreeMap::new();
        for key in keys {
            path.push(PathStep::Attr(key.clone()));
            let (cb, ca) = (b.child(key), a.child(key));
            let d = match attrs.and_then(|t| t.get(key)) {
                Some(t) => self.attr(cb, ca, &t.ty, false, path),
                None => self.dynamic(cb, ca, path),
            };
            path.pop();
            action = compare(action, d.action);
            out.insert(key.clone(), d);
        }
        Diff {
            kind: Kind::Object {
                attrs: out,
                override_null: true,
            },
            action,
            replace: self.forces(path),
        }
    }

    fn map(&self, b: Side, a: Side, elem: &Type, path: &mut Vec<PathStep>) -> Diff {
        let mut action = default_action(b, a);
        let keys: BTreeSet<&String> = b
            .object()
            .into_iter()
            .flat_map(|m| m.keys())
            .chain(a.object().into_iter().flat_map(|m| m.keys()))
            .collect();
        let mut out = BTreeMap::new();
        for key in keys {
            path.push(PathStep::Key(key.clone()));
            let d = self.attr(b.child(key), a.child(key), elem, false, path);
            path.pop();
            action = compare(action, d.action);
            out.insert(key.clone(), d);
        }
        Diff {
            kind: Kind::Map { elems: out },
            action,
            replace: self.forces(path),
        }
    }

    /// A list, matched by longest common subsequence; `elem` is its element type when known.
    fn list(&self, b: Side, a: Side, elem: Option<&Type>, path: &mut Vec<PathStep>) -> Diff {
        let mut action = default_action(b, a);
        let (bl, al) = (b.list().unwrap_or(&[]), a.list().unwrap_or(&[]));
        let is_obj = |v: &Value| match elem {
            Some(t) => matches!(t, Type::Object(_)),
            None => matches!(v.unmark().0, Value::Object(_)),
        };
        let mut pairs = Vec::new();
        process_slice(bl, al, is_obj, |bi, ai| pairs.push((bi, ai)));
        let mut elems = Vec::new();
        for (bi, ai) in pairs {
            path.push(PathStep::Index(ai.or(bi).unwrap_or(0)));
            let (cb, ca) = (b.element(bi), a.element(ai));
            let d = match elem {
                Some(t) => self.attr(cb, ca, t, false, path),
                None => self.dynamic(cb, ca, path),
            };
            path.pop();
            action = compare(action, d.action);
            elems.push(d);
        }
        Diff {
            kind: Kind::List {
                elems,
                context: true,
            },
            action,
            replace: self.forces(path),
        }
    }

    fn tuple(&self, b: Side, a: Side, types: &[Type], path: &mut Vec<PathStep>) -> Diff {
        let mut action = default_action(b, a);
        let n = b
            .list()
            .map_or(0, <[Value]>::len)
            .max(a.list().map_or(0, <[Value]>::len));
        let mut elems = Vec::new();
        for i in 0..n {
            path.push(PathStep::Index(i));
            let (cb, ca) = (b.element(Some(i)), a.element(Some(i)));
            let d = match types.get(i) {
                Some(t) => self.attr(cb, ca, t, false, path),
                None => self.dynamic(cb, ca, path),
            };
            path.pop();
            action = compare(action, d.action);
            elems.push(d);
        }
        Diff {
            kind: Kind::List {
                elems,
                context: true,
            },
            action,
            replace: self.forces(path),
        }
    }

    fn set(&self, b: Side, a: Side, elem: &Type, path: &mut Vec<PathStep>) -> Diff {
        let mut action = default_action(b, a);
        let mut elems = Vec::new();
        for (bi, ai) in match_set(b.list().unwrap_or(&[]), a.list().unwrap_or(&[])) {
            path.push(PathStep::Index(ai.or(bi).unwrap_or(0)));
            let d = self.attr(b.element(bi), a.element(ai), elem, false, path);
            path.pop();
            action = compare(action, d.action);
            elems.push(d);
        }
        Diff {
            kind: Kind::Set { elems },
            action,
            replace: self.forces(path),
        }
    }

    /// A block, with its schema when there is one (attributes are otherwise the values'
    /// keys, each of any type).
    pub fn block(
        &self,
        b: Side,
        a: Side,
        schema: Option<&Block>,
        path: &mut Vec<PathStep>,
    ) -> Diff {
        if let Some(d) = self.sensitive(b, a, false, true, path) {
            return d;
        }
        if let Some(d) = self.unknown(b, a, path, |b| {
            let mut p = path.clone();
            self.block(b, Side::NONE, schema, &mut p)
        }) {
            return d;
        }
        let mut action = default_action(b, a);
        let nested = |k: &str| schema.is_some_and(|s| s.blocks.contains_key(k));
        let mut names: BTreeSet<&str> = b
            .object()
            .into_iter()
            .flat_map(|m| m.keys())
            .chain(a.object().into_iter().flat_map(|m| m.keys()))
            .map(String::as_str)
            .filter(|k| !nested(k))
            .collect();
        if let Some(s) = schema {
            names.extend(s.attributes.keys().map(String::as_str));
        }
        let mut attrs = BTreeMap::new();
        for name in names {
            // Attributes of blocks are never "explicit": a null one is simply not shown.
            let (cb, ca) = (b.child(name), a.child(name));
            let (cb, ca) = (
                Side {
                    explicit: false,
                    ..cb
                },
                Side {
                    explicit: false,
                    ..ca
                },
            );
            path.push(PathStep::Attr(name.to_owned()));
            let d = match schema.and_then(|s| s.attributes.get(name)) {
                Some(attr) => self.attr(cb, ca, &attr.ty, attr.sensitive, path),
                None => self.dynamic(cb, ca, path),
            };
            path.pop();
            if d.action == Act::NoOp && cb.value.is_none() && ca.value.is_none() {
                continue;
            }
            action = compare(action, d.action);
            attrs.insert(name.to_owned(), d);
        }
        let mut blocks = Vec::new();
        for (name, nb) in schema.map(|s| &s.blocks).into_iter().flatten() {
            let (cb, ca) = (
                Side {
                    explicit: false,
                    ..b.child(name)
                },
                Side {
                    explicit: false,
                    ..a.child(name)
                },
            );
            path.push(PathStep::Attr(name.clone()));
            let replace = self.forces(path);
            let (entries, group_action) = self.nested_blocks(cb, ca, nb.nesting, &nb.block, path);
            path.pop();
            if group_action == Act::NoOp && cb.value.is_none() && ca.value.is_none() {
                continue;
            }
            action = compare(action, group_action);
            let (bs, as_) = (cb.sensitive, ca.sensitive);
            let entries = entries
                .into_iter()
                .map(|(label, d)| {
                    let hidden = match d.action {
                        Act::Create => as_,
                        Act::Delete => bs,
                        Act::Update | Act::NoOp => as_ || bs,
                    };
                    if hidden && !matches!(d.kind, Kind::SensitiveBlock) {
                        let action = if d.action == Act::NoOp && bs != as_ {
                            Act::Update
                        } else {
                            d.action
                        };
                        (
                            label,
                            Diff {
                                kind: Kind::SensitiveBlock,
                                action,
                                replace: d.replace,
                            },
                        )
                    } else {
                        (label, d)
                    }
                })
                .collect();
            blocks.push(BlockGroup {
                name: name.clone(),
                entries,
                replace,
            });
        }
        Diff {
            kind: Kind::Block { attrs, blocks },
            action,
            replace: self.forces(path),
        }
    }

    fn nested_blocks(
        &self,
        b: Side,
        a: Side,
        nesting: Nesting,
        block: &Block,
        path: &mut Vec<PathStep>,
    ) -> (Vec<(String, Diff)>, Act) {
        if nesting == Nesting::Single || b.is_unknown() || a.is_unknown() {
            let d = self.block(b, a, Some(block), path);
            let action = d.action;
            return (vec![(String::new(), d)], action);
        }
        // The group's sensitivity is applied by the caller; the elements are plain.
        let b = Side {
            sensitive: false,
            ..b
        };
        let a = Side {
            sensitive: false,
            ..a
        };
        let mut action = default_action(b, a);
        let mut out = Vec::new();
        match nesting {
            Nesting::Map => {
                let keys: BTreeSet<&String> = b
                    .object()
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .chain(a.object().into_iter().flat_map(|m| m.keys()))
                    .collect();
                for key in keys {
                    path.push(PathStep::Key(key.clone()));
                    let d = self.block(b.child(key), a.child(key), Some(block), path);
                    path.pop();
                    action = compare(action, d.action);
                    out.push((format!(" {}", quote(key)), d));
                }
            }
            Nesting::Set => {
                for (bi, ai) in match_set(b.list().unwrap_or(&[]), a.list().unwrap_or(&[])) {
                    path.push(PathStep::Index(ai.or(bi).unwrap_or(0)));
                    let d = self.block(b.element(bi), a.element(ai), Some(block), path);
                    path.pop();
                    action = compare(action, d.action);
                    out.push((String::new(), d));
                }
            }
            _ => {
                let n = b
                    .list()
                    .map_or(0, <[Value]>::len)
                    .max(a.list().map_or(0, <[Value]>::len));
                for i in 0..n {
                    path.push(PathStep::Index(i));
                    let d = self.block(b.element(Some(i)), a.element(Some(i)), Some(block), path);
                    path.pop();
                    action = compare(action, d.action);
                    out.push((String::new(), d));
                }
            }
        }
        (out, action)
    }
}

fn is_primitive(v: &Value) -> bool {
    matches!(
        v,
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    Null,
    Bool,
    Number,
    String,
    Object,
    Array,
}

fn json_type(v: Option<&Value>) -> JsonType {
    match v.map(|v| v.unmark().0) {
        None | Some(Value::Null | Value::Unknown | Value::Sensitive(_)) => JsonType::Null,
        Some(Value::Bool(_)) => JsonType::Bool,
        Some(Value::Number(_)) => JsonType::Number,
        Some(Value::String(_)) => JsonType::String,
        Some(Value::Object(_)) => JsonType::Object,
        Some(Value::List(_) | Value::Set(_)) => JsonType::Array,
    }
}

/// Terraform's `ProcessSlice`: walks two lists along their longest common subsequence,
/// calling `f(before, after)` for each element: `(Some, None)` deleted, `(None, Some)`
/// created, `(Some, Some)` kept (or, for objects facing each other, updated).
fn process_slice(
    before: &[Value],
    after: &[Value],
    is_obj: impl Fn(&Value) -> bool,
    mut f: impl FnMut(Option<usize>, Option<usize>),
) {
    let lcs = lcs(before, after);
    let (mut bi, mut ai, mut li) = (0, 0, 0);
    while bi < before.len() || ai < after.len() || li < lcs.len() {
        while bi < before.len() && (li >= lcs.len() || !values_equal(&before[bi], lcs[li])) {
            let object_diff = is_obj(&before[bi])
                && ai < after.len()
                && is_obj(&after[ai])
                && (li >= lcs.len() || !values_equal(&after[ai], lcs[li]));
            if object_diff {
                f(Some(bi), Some(ai));
                bi += 1;
                ai += 1;
                continue;
            }
            f(Some(bi), None);
            bi += 1;
        }
        while ai < after.len() && (li >= lcs.len() || !values_equal(&after[ai], lcs[li])) {
            f(None, Some(ai));
            ai += 1;
        }
        if li < lcs.len() {
            f(Some(bi), Some(ai));
            bi += 1;
            ai += 1;
            li += 1;
        }
    }
}

/// The longest common subsequence of two lists, as Terraform computes it.
fn lcs<'v>(xs: &'v [Value], ys: &[Value]) -> Vec<&'v Value> {
    if xs.is_empty() || ys.is_empty() {
        return Vec::new();
    }
    let w = xs.len();
    let mut c = vec![0usize; xs.len() * ys.len()];
    let mut eqs = vec![false; xs.len() * ys.len()];
    for y in 0..ys.len() {
        for x in 0..xs.len() {
            if values_equal(&xs[x], &ys[y]) {
                eqs[w * y + x] = true;
                c[w * y + x] = if x == 0 || y == 0 {
                    1
                } else {
                    c[w * (y - 1) + (x - 1)] + 1
                };
            } else {
                let l = if x > 0 { c[w * y + (x - 1)] } else { 0 };
                let u = if y > 0 { c[w * (y - 1) + x] } else { 0 };
                c[w * y + x] = l.max(u);
            }
        }
    }
    let mut seq = Vec::with_capacity(c[c.len() - 1]);
    let (mut x, mut y) = (xs.len() as isize - 1, ys.len() as isize - 1);
    while x > -1 && y > -1 {
        let (ux, uy) = (x as usize, y as usize);
        if eqs[w * uy + ux] {
            seq.push(&xs[ux]);
            x -= 1;
            y -= 1;
        } else {
            let l = if x > 0 { c[w * uy + (ux - 1)] } else { 0 };
            let u = if y > 0 { c[w * (uy - 1) + ux] } else { 0 };
            if l > u {
                x -= 1;
            } else {
                y -= 1;
            }
        }
    }
    seq.reverse();
    seq
}

/// Pairs the equal elements of two sets; the rest are deleted or created.
fn match_set(before: &[Value], after: &[Value]) -> Vec<(Option<usize>, Option<usize>)> {
    let mut taken = vec![false; after.len()];
    let mut out = Vec::new();
    for (i, b) in before.iter().enumerate() {
        let found = (0..after.len()).find(|&j| {
            !taken[j]
                && after[j].is_wholly_known()
                && values_equal(b, &after[j])
                && b.contains_sensitive() == after[j].contains_sensitive()
        });
        match found {
            Some(j) => {
                taken[j] = true;
                out.push((Some(i), Some(j)));
            }
            None => out.push((Some(i), None)),
        }
    }
    out.extend(
        (0..after.len())
            .filter(|&j| !taken[j])
            .map(|j| (None, Some(j))),
    );
    out
}

/// How to render a node (Terraform's `RenderHumanOpts`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Opts {
    pub override_null: bool,
    pub force_replace: bool,
    pub forbid_replace: bool,
    pub show_unchanged: bool,
}

impl Opts {
    /// Options for children: the replacement overrides do not cascade.
    fn child(self) -> Opts {
        Opts {
            force_replace: false,
            forbid_replace: false,
            ..self
        }
    }
}

fn indent(n: usize) -> String {
    "    ".repeat(n)
}

const IMPORTANT: [&str; 3] = ["id", "name", "tags"];

/// Renders diffs with one palette.
pub(crate) struct Renderer {
    pub paint: Paint,
}

impl Renderer {
    fn forces(&self, replace: bool, opts: Opts) -> String {
        if (replace || opts.force_replace) && !opts.forbid_replace {
            format!(" {}", self.paint.red("# forces replacement"))
        } else {
            String::new()
        }
    }

    fn null_suffix(&self, action: Act, opts: Opts) -> String {
        if !opts.override_null && action == Act::Delete {
            format!(" {}", self.paint.dark_gray("-> null"))
        } else {
            String::new()
        }
    }

    fn unchanged(&self, what: &str, n: usize) -> String {
        let s = if n == 1 { "" } else { "s" };
        self.paint
            .dark_gray(&format!("# ({n} unchanged {what}{s} hidden)"))
    }

    fn arrow(&self) -> String {
        self.paint.yellow("->")
    }

    /// Warning lines printed before a node (sensitivity changes).
    pub fn warnings(&self, diff: &Diff, ind: usize) -> Vec<String> {
        let (before, after, inner, what) = match &diff.kind {
            Kind::Sensitive {
                before,
                after,
                inner,
            } => (*before, *after, *inner, "attribute value"),
            _ => return Vec::new(),
        };
        if before == after || matches!(inner, Act::Create | Act::Delete) {
            return Vec::new();
        }
        let warning = self.paint.yellow("Warning");
        let mut text = if before {
            format!(
                "  # {warning}: this {what} will no longer be marked as sensitive\n{}  # after applying this change.",
                indent(ind)
            )
        } else {
            format!(
                "  # {warning}: this {what} will be marked as sensitive and will not\n{}  # display in UI output after applying this change.",
                indent(ind)
            )
        };
        if inner == Act::NoOp {
            text.push_str(" The value is unchanged.");
        }
        vec![text]
    }

    /// Renders a node at `ind` (lines after the first are indented by it).
    pub fn render(&self, diff: &Diff, ind: usize, opts: Opts) -> String {
        match &diff.kind {
            Kind::Primitive { before, after } => {
                self.primitive(diff, before.as_ref(), after.as_ref(), ind, opts)
            }
            Kind::Unknown { before } => match before {
                Some(before) if diff.action != Act::Create => {
                    let before_opts = Opts {
                        override_null: true,
                        forbid_replace: diff.replace,
                        ..opts.child()
                    };
                    format!(
                        "{} -> (known after apply){}",
                        self.render(before, ind, before_opts),
                        self.forces(diff.replace, opts)
                    )
                }
                _ => format!("(known after apply){}", self.forces(diff.replace, opts)),
            },
            Kind::Sensitive { .. } => format!(
                "(sensitive value){}{}",
                self.null_suffix(diff.action, opts),
                self.forces(diff.replace, opts)
            ),
            Kind::SensitiveBlock => {
                let prefix = format!("{}    ", indent(ind));
                format!(
                    "{{{}\n{prefix}  # At least one attribute in this block is (or was) sensitive,\n{prefix}  # so its contents will not be displayed.\n{prefix}}}",
                    self.forces(diff.replace, opts)
                )
            }
            Kind::TypeChange { before, after } => {
                let o = Opts {
                    override_null: true,
                    ..opts
                };
                format!(
                    "{} {} {}",
                    self.render(before, ind, o),
                    self.arrow(),
                    self.render(after, ind, o)
                )
            }
            Kind::Object {
                attrs,
                override_null,
            } => self.object(diff, attrs, *override_null, ind, opts),
            Kind::Map { elems } => self.map(diff, elems, ind, opts),
            Kind::List { elems, context } => self.list(diff, elems, *context, ind, opts),
            Kind::Set { elems } => self.set(diff, elems, ind, opts),
            Kind::Block { attrs, blocks } => self.block(diff, attrs, blocks, ind, opts),
        }
    }

    fn primitive(
        &self,
        diff: &Diff,
        before: Option<&Value>,
        after: Option<&Value>,
        ind: usize,
        opts: Opts,
    ) -> String {
        if matches!(before, Some(Value::String(_))) || matches!(after, Some(Value::String(_))) {
            return self.string(diff, before, after, ind, opts);
        }
        let fr = self.forces(diff.replace, opts);
        let (b, a) = (self.scalar(before), self.scalar(after));
        match diff.action {
            Act::Create => format!("{a}{fr}"),
            Act::Delete => format!("{b}{}{fr}", self.null_suffix(diff.action, opts)),
            Act::NoOp => format!("{b}{fr}"),
            Act::Update => format!("{b} {} {a}{fr}", self.arrow()),
        }
    }

    /// A non-string primitive. (Anything else is printed through `Value`'s `Display`, which
    /// redacts sensitive parts; the differ never puts such values here.)
    fn scalar(&self, v: Option<&Value>) -> String {
        match v {
            None | Some(Value::Null) => self.paint.dark_gray("null"),
            Some(Value::Sensitive(_)) => "(sensitive value)".into(),
            Some(Value::String(s)) => quote(s),
            Some(other) => other.to_string(),
        }
    }

    fn string(
        &self,
        diff: &Diff,
        before: Option<&Value>,
        after: Option<&Value>,
        ind: usize,
        opts: Opts,
    ) -> String {
        let fr = self.forces(diff.replace, opts);
        let noop_prefix = format!("{}    ", indent(ind + 1));
        let lines: Vec<String> = match diff.action {
            Act::Create | Act::NoOp | Act::Delete => {
                let (v, suffix) = if diff.action == Act::Delete {
                    (before, self.null_suffix(diff.action, opts))
                } else {
                    (after, String::new())
                };
                match evaluate(v) {
                    Eval::Json(j) => {
                        let (b, a) = match diff.action {
                            Act::NoOp => (Some(j.clone()), Some(j)),
                            Act::Create => (None, Some(j)),
                            _ => (Some(j), None),
                        };
                        return self.json_string(diff, b, a, ind, opts);
                    }
                    Eval::Multiline(s) => {
                        s.split('\n').map(|l| format!("{noop_prefix}{l}")).collect()
                    }
                    Eval::Plain(s) => return format!("{}{suffix}{fr}", quote(&s)),
                    Eval::Null => return format!("{}{suffix}{fr}", self.paint.dark_gray("null")),
                }
            }
            Act::Update => {
                let (b, a) = (evaluate(before), evaluate(after));
                match (b, a) {
                    (Eval::Json(b), Eval::Json(a)) => {
                        return self.json_string(diff, Some(b), Some(a), ind, opts);
                    }
                    (Eval::Json(_), _) | (_, Eval::Json(_)) => {
                        let before_diff = Diff {
                            kind: Kind::Primitive {
                                before: before.cloned(),
                                after: None,
                            },
                            action: Act::Delete,
                            replace: false,
                        };
                        let after_diff = Diff {
                            kind: Kind::Primitive {
                                before: None,
                                after: after.cloned(),
                            },
                            action: Act::Create,
                            replace: false,
                        };
                        let change = Diff {
                            kind: Kind::TypeChange {
                                before: Box::new(before_diff),
                                after: Box::new(after_diff),
                            },
                            action: diff.action,
                            replace: diff.replace,
                        };
                        return self.render(&change, ind, opts);
                    }
                    (b @ Eval::Multiline(_), a) | (b, a @ Eval::Multiline(_)) => {
                        self.line_diff(&b.text(), &a.text(), ind)
                    }
                    (b, a) => {
                        return format!(
                            "{} {} {}{fr}",
                            self.eval_text(&b),
                            self.arrow(),
                            self.eval_text(&a)
                        );
                    }
                }
            }
        };
        format!(
            "<<-EOT{fr}\n{}\n{}    EOT{}",
            lines.join("\n"),
            indent(ind),
            self.null_suffix(diff.action, opts)
        )
    }

    fn eval_text(&self, e: &Eval) -> String {
        match e {
            Eval::Null => self.paint.dark_gray("null"),
            Eval::Plain(s) | Eval::Multiline(s) => quote(s),
            Eval::Json(_) => String::new(),
        }
    }

    fn line_diff(&self, before: &str, after: &str, ind: usize) -> Vec<String> {
        let b: Vec<Value> = before.split('\n').map(Value::from).collect();
        let a: Vec<Value> = after.split('\n').map(Value::from).collect();
        let mut out = Vec::new();
        process_slice(
            &b,
            &a,
            |_| false,
            |bi, ai| {
                let (act, line) = match (bi, ai) {
                    (Some(i), None) => (Act::Delete, &b[i]),
                    (None, Some(j)) => (Act::Create, &a[j]),
                    (Some(i), Some(_)) => (Act::NoOp, &b[i]),
                    (None, None) => return,
                };
                out.push(format!(
                    "{}{} {}",
                    indent(ind + 1),
                    symbol(act, self.paint),
                    line.as_str().unwrap_or_default()
                ));
            },
        );
        out
    }

    fn json_string(
        &self,
        diff: &Diff,
        before: Option<Value>,
        after: Option<Value>,
        ind: usize,
        opts: Opts,
    ) -> String {
        let differ = Differ { replace_paths: &[] };
        let json = differ.dynamic(
            Side::of(before.as_ref(), false),
            Side::of(after.as_ref(), false),
            &mut Vec::new(),
        );
        let mut action = diff.action;
        let mut json_opts = opts.child();
        let (mut whitespace, mut replace) = (String::new(), String::new());
        if json.action == Act::NoOp && diff.action == Act::Update {
            whitespace = if diff.replace {
                " # whitespace changes force replacement".into()
            } else {
                " # whitespace changes".into()
            };
            json_opts.show_unchanged = true;
            action = Act::NoOp;
        } else {
            replace = self.forces(diff.replace, opts);
        }
        let rendered = self.render(&json, ind + 1, json_opts);
        if matches!(diff.action, Act::Create | Act::Delete) {
            action = Act::NoOp;
        }
        if rendered.contains('\n') {
            format!(
                "jsonencode({whitespace}\n{}{} {rendered}{replace}\n{})",
                indent(ind + 1),
                symbol(action, self.paint),
                indent(ind + 1)
            )
        } else {
            format!("jsonencode({rendered}){whitespace}{replace}")
        }
    }

    fn object(
        &self,
        diff: &Diff,
        attrs: &BTreeMap<String, Diff>,
        override_null: bool,
        ind: usize,
        opts: Opts,
    ) -> String {
        if attrs.is_empty() {
            return format!(
                "{{}}{}{}",
                self.null_suffix(diff.action, opts),
                self.forces(diff.replace, opts)
            );
        }
        let attr_opts = Opts {
            override_null,
            ..opts.child()
        };
        let mut out = format!("{{{}\n", self.forces(diff.replace, opts));
        self.attribute_lines(&mut out, attrs, ind, attr_opts, opts);
        out.push_str(&format!(
            "{}    }}{}",
            indent(ind),
            self.null_suffix(diff.action, opts)
        ));
        out
    }

    /// One `SYMBOL KEY = VALUE` line, after its warnings.
    /// The attribute lines of an object or block body, aligned on `=`; unchanged ones are
    /// counted in a "hidden" line unless they identify the object (`IMPORTANT`).
    fn attribute_lines(
        &self,
        out: &mut String,
        attrs: &BTreeMap<String, Diff>,
        ind: usize,
        attr_opts: Opts,
        opts: Opts,
    ) {
        let width = attrs
            .keys()
            .map(|k| attribute_name(k).chars().count())
            .max()
            .unwrap_or(0);
        let mut unchanged = 0;
        for (key, attr) in attrs {
            let o = if IMPORTANT.contains(&key.as_str()) {
                Opts {
                    show_unchanged: true,
                    ..attr_opts
                }
            } else if attr.action == Act::NoOp && !opts.show_unchanged {
                unchanged += 1;
                continue;
            } else {
                attr_opts
            };
            self.line(out, attr, ind, &pad(&attribute_name(key), width), o);
        }
        if unchanged > 0 {
            out.push_str(&format!(
                "{}    {}\n",
                indent(ind + 1),
                self.unchanged("attribute", unchanged)
            ));
        }
    }

    fn line(&self, out: &mut String, d: &Diff, ind: usize, key: &str, opts: Opts) {
        for w in self.warnings(d, ind + 1) {
            out.push_str(&format!("{}{w}\n", indent(ind + 1)));
        }
        out.push_str(&format!(
            "{}{} {key} = {}\n",
            indent(ind + 1),
            symbol(d.action, self.paint),
            self.render(d, ind + 1, opts)
        ));
    }

    fn map(&self, diff: &Diff, elems: &BTreeMap<String, Diff>, ind: usize, opts: Opts) -> String {
        if elems.is_empty() {
            return format!(
                "{{}}{}{}",
                self.null_suffix(diff.action, opts),
                self.forces(diff.replace, opts)
            );
        }
        let width = elems.keys().map(|k| k.chars().count()).max().unwrap_or(0) + 2;
        let elem_opts = Opts {
            override_null: diff.action == Act::Delete,
            ..opts.child()
        };
        let mut out = format!("{{{}\n", self.forces(diff.replace, opts));
        let mut unchanged = 0;
        for (key, elem) in elems {
            if elem.action == Act::NoOp && !opts.show_unchanged {
                unchanged += 1;
                continue;
            }
            for w in self.warnings(elem, ind + 1) {
                out.push_str(&format!("{}{w}\n", indent(ind + 1)));
            }
            let comma = if matches!(elem.kind, Kind::Object { .. }) {
                ","
            } else {
                ""
            };
            out.push_str(&format!(
                "{}{} {} = {}{comma}\n",
                indent(ind + 1),
                symbol(elem.action, self.paint),
                pad(&quote(key), width),
                self.render(elem, ind + 1, elem_opts)
            ));
        }
        if unchanged > 0 {
            out.push_str(&format!(
                "{}    {}\n",
                indent(ind + 1),
                self.unchanged("element", unchanged)
            ));
        }
        out.push_str(&format!(
            "{}    }}{}",
            indent(ind),
            self.null_suffix(diff.action, opts)
        ));
        out
    }

    fn list(&self, diff: &Diff, elems: &[Diff], context: bool, ind: usize, opts: Opts) -> String {
        if elems.is_empty() {
            return format!(
                "[]{}{}",
                self.null_suffix(diff.action, opts),
                self.forces(diff.replace, opts)
            );
        }
        let elem_opts = Opts {
            override_null: true,
            ..opts.child()
        };
        let unchanged_opts = Opts {
            show_unchanged: true,
            ..opts.child()
        };
        let mut unchanged: Vec<&Diff> = Vec::new();
        let mut render_next = false;
        let mut out = format!("[{}\n", self.forces(diff.replace, opts));
        for elem in elems {
            if elem.action == Act::NoOp && !render_next && !opts.show_unchanged {
                unchanged.push(elem);
                continue;
            }
            render_next = false;
            let mut o = elem_opts;
            if context {
                if unchanged.len() > 1 {
                    out.push_str(&format!(
                        "{}    {}\n",
                        indent(ind + 1),
                        self.unchanged("element", unchanged.len() - 1)
                    ));
                }
                if let Some(last) = unchanged.last() {
                    out.push_str(&format!(
                        "{}{} {},\n",
                        indent(ind + 1),
                        symbol(last.action, self.paint),
                        self.render(last, ind + 1, unchanged_opts)
                    ));
                }
                unchanged.clear();
                if elem.action == Act::NoOp {
                    o = unchanged_opts;
                } else {
                    render_next = true;
                }
            }
            for w in self.warnings(elem, ind + 1) {
                out.push_str(&format!("{}{w}\n", indent(ind + 1)));
            }
            out.push_str(&format!(
                "{}{} {},\n",
                indent(ind + 1),
                symbol(elem.action, self.paint),
                self.render(elem, ind + 1, o)
            ));
        }
        if !unchanged.is_empty() {
            out.push_str(&format!(
                "{}    {}\n",
                indent(ind + 1),
                self.unchanged("element", unchanged.len())
            ));
        }
        out.push_str(&format!(
            "{}    ]{}",
            indent(ind),
            self.null_suffix(diff.action, opts)
        ));
        out
    }

    fn set(&self, diff: &Diff, elems: &[Diff], ind: usize, opts: Opts) -> String {
        if elems.is_empty() {
            return format!(
                "[]{}{}",
                self.null_suffix(diff.action, opts),
                self.forces(diff.replace, opts)
            );
        }
        let elem_opts = Opts {
            override_null: true,
            ..opts.child()
        };
        let mut unchanged = 0;
        let mut out = format!("[{}\n", self.forces(diff.replace, opts));
        for elem in elems {
            if elem.action == Act::NoOp && !opts.show_unchanged {
                unchanged += 1;
                continue;
            }
            for w in self.warnings(elem, ind + 1) {
                out.push_str(&format!("{}{w}\n", indent(ind + 1)));
            }
            out.push_str(&format!(
                "{}{} {},\n",
                indent(ind + 1),
                symbol(elem.action, self.paint),
                self.render(elem, ind + 1, elem_opts)
            ));
        }
        if unchanged > 0 {
            out.push_str(&format!(
                "{}    {}\n",
                indent(ind + 1),
                self.unchanged("element", unchanged)
            ));
        }
        out.push_str(&format!(
            "{}    ]{}",
            indent(ind),
            self.null_suffix(diff.action, opts)
        ));
        out
    }

    fn block(
        &self,
        diff: &Diff,
        attrs: &BTreeMap<String, Diff>,
        blocks: &[BlockGroup],
        ind: usize,
        opts: Opts,
    ) -> String {
        if attrs.is_empty() && blocks.iter().all(|g| g.entries.is_empty()) {
            return format!("{{}}{}", self.forces(diff.replace, opts));
        }
        let attr_opts = opts.child();
        let mut out = format!("{{{}\n", self.forces(diff.replace, opts));
        self.attribute_lines(&mut out, attrs, ind, attr_opts, opts);
        let mut unchanged_blocks = 0;
        for group in blocks {
            let mut found_changed = false;
            for (label, entry) in &group.entries {
                if entry.action == Act::NoOp && !opts.show_unchanged {
                    unchanged_blocks += 1;
                    continue;
                }
                if !found_changed && !attrs.is_empty() {
                    out.push('\n');
                }
                found_changed = true;
                let block_opts = Opts {
                    force_replace: group.replace,
                    ..opts.child()
                };
                for w in self.warnings(entry, ind + 1) {
                    out.push_str(&format!("{}{w}\n", indent(ind + 1)));
                }
                out.push_str(&format!(
                    "{}{} {}{label} {}\n",
                    indent(ind + 1),
                    symbol(entry.action, self.paint),
                    attribute_name(&group.name),
                    self.render(entry, ind + 1, block_opts)
                ));
            }
        }
        if unchanged_blocks > 0 {
            out.push_str(&format!(
                "\n{}    {}\n",
                indent(ind + 1),
                self.unchanged("block", unchanged_blocks)
            ));
        }
        out.push_str(&format!("{}    }}", indent(ind)));
        out
    }
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        s.to_owned()
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

/// A string as Terraform's renderer sees it.
enum Eval {
    Null,
    Plain(String),
    Multiline(String),
    Json(Value),
}

impl Eval {
    fn text(&self) -> String {
        match self {
            Eval::Plain(s) | Eval::Multiline(s) => s.clone(),
            Eval::Null | Eval::Json(_) => String::new(),
        }
    }
}

fn evaluate(v: Option<&Value>) -> Eval {
    let s = match v {
        None | Some(Value::Null) => return Eval::Null,
        Some(Value::String(s)) => s,
        Some(other) => return Eval::Plain(other.to_string()),
    };
    let json = (s.starts_with('{') || s.starts_with('['))
        .then(|| serde_json::from_str::<serde_json::Value>(s).ok())
        .flatten();
    if let Some(j) = json {
        return Eval::Json(Value::from(&j));
    }
    if s.contains('\n') {
        return Eval::Multiline(s.trim().to_owned());
    }
    Eval::Plain(s.clone())
}
