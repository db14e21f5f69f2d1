//! The validation rules of `validate_example.py`, on schemas the specs resolve.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::{Issue, Mode, Severity, Specs};

static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
        .expect("constant regex")
});
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        .expect("constant regex")
});

const COPY_KEYS: &[&str] = &[
    "type",
    "enum",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "items",
    "readOnly",
    "x-nullable",
    "x-ms-secret",
    "x-ms-mutability",
];

/// A schema with `allOf` flattened.
struct Flat {
    kw: Map<String, Value>,
    props: Vec<(String, Value, PathBuf)>,
    required: HashSet<String>,
    additional: Option<(Value, PathBuf)>,
}

impl Flat {
    fn new(specs: &Specs, schema: &Value, base: &Path) -> Flat {
        let mut flat = Flat {
            kw: Map::new(),
            props: Vec::new(),
            required: HashSet::new(),
            additional: None,
        };
        flat.collect(specs, schema, base, &mut HashSet::new());
        flat
    }

    fn collect(
        &mut self,
        specs: &Specs,
        schema: &Value,
        base: &Path,
        seen: &mut HashSet<(PathBuf, String)>,
    ) {
        for key in COPY_KEYS {
            if let Some(v) = schema.get(*key)
                && !self.kw.contains_key(*key)
            {
                self.kw.insert((*key).to_owned(), v.clone());
            }
        }
        for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
            if !self.props.iter().any(|(n, _, _)| n == name) {
                self.props
                    .push((name.clone(), prop.clone(), base.to_path_buf()));
            }
        }
        for name in schema["required"].as_array().into_iter().flatten() {
            if let Some(name) = name.as_str() {
                self.required.insert(name.to_owned());
            }
        }
        if let Some(additional) = schema.get("additionalProperties")
            && self.additional.is_none()
        {
            self.additional = Some((additional.clone(), base.to_path_buf()));
        }
        for sub in schema["allOf"].as_array().into_iter().flatten() {
            let marker = (
                base.to_path_buf(),
                sub.get("$ref")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            );
            if !marker.1.is_empty() && !seen.insert(marker) {
                continue;
            }
            if let Ok((sub, sub_base)) = specs.resolve(sub, base) {
                self.collect(specs, &sub, &sub_base, seen);
            }
        }
    }

    fn json_type(&self) -> Option<&str> {
        if let Some(t) = self.kw.get("type").and_then(Value::as_str) {
            return Some(t);
        }
        (!self.props.is_empty() || self.additional.is_some()).then_some("object")
    }
}

pub(super) struct Validator<'s> {
    specs: &'s Specs,
    pub(super) issues: Vec<Issue>,
}

impl<'s> Validator<'s> {
    pub(super) fn new(specs: &'s Specs) -> Validator<'s> {
        Validator {
            specs,
            issues: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, severity: Severity, path: &str, message: String) {
        self.issues.push(Issue {
            severity,
            path: path.to_owned(),
            message,
        });
    }

    pub(super) fn check(
        &mut self,
        instance: &Value,
        schema: &Value,
        base: &Path,
        path: &str,
        mode: Mode,
    ) {
        let (schema, base) = match self.specs.resolve(schema, base) {
            Ok(resolved) => resolved,
            Err(e) => return self.add(Severity::Error, path, format!("spec error: {e}")),
        };
        if instance.is_null() {
            if schema["x-nullable"] != true {
                self.add(
                    Severity::Warning,
                    path,
                    "null value but schema is not x-nullable".into(),
                );
            }
            return;
        }
        let flat = Flat::new(self.specs, &schema, &base);
        match flat.json_type() {
            Some("object") => self.object(instance, &flat, path, mode),
            None if instance.is_object() && !flat.props.is_empty() => {
                self.object(instance, &flat, path, mode)
            }
            Some("array") => self.array(instance, &flat, &base, path, mode),
            Some(ty) => {
                let ty = ty.to_owned();
                self.scalar(instance, &flat, &ty, path)
            }
            None => {}
        }
    }

    fn object(&mut self, instance: &Value, flat: &Flat, path: &str, mode: Mode) {
        let Some(map) = instance.as_object() else {
            return self.add(
                Severity::Error,
                path,
                format!("expected object, got {}", kind(instance)),
            );
        };
        for (name, prop, base) in &flat.props {
            let ppath = format!("{path}.{name}");
            let resolved = self
                .specs
                .resolve(prop, base)
                .map(|r| r.0)
                .unwrap_or_default();
            let Some(value) = map.get(name) else {
                if flat.required.contains(name)
                    && !(mode.is_request() && resolved["readOnly"] == true)
                {
                    self.add(Severity::Error, &ppath, "missing required property".into());
                }
                continue;
            };
            if mode.is_request() {
                if resolved["readOnly"] == true {
                    self.add(
                        Severity::Error,
                        &ppath,
                        "readOnly property must not be sent in a request".into(),
                    );
                    continue;
                }
                if let Some(mutability) = resolved["x-ms-mutability"].as_array()
                    && !mutability.iter().any(|m| m == mode.name())
                {
                    self.add(
                        Severity::Error,
                        &ppath,
                        format!(
                            "x-ms-mutability {} does not allow '{}'",
                            Value::Array(mutability.clone()),
                            mode.name()
                        ),
                    );
                }
            } else if !value.is_null()
                && (resolved["x-ms-secret"] == true || resolved["format"] == "password")
            {
                self.add(
                    Severity::Warning,
                    &ppath,
                    "secret (x-ms-secret/password) property returned in a response".into(),
                );
            }
            self.check(value, prop, base, &ppath, mode);
        }
        for name in &flat.required {
            if !flat.props.iter().any(|(n, _, _)| n == name) && !map.contains_key(name) {
                self.add(
                    Severity::Error,
                    &format!("{path}.{name}"),
                    "missing required property".into(),
                );
            }
        }
        let extra: Vec<&String> = map
            .keys()
            .filter(|k| !flat.props.iter().any(|(n, _, _)| n == *k))
            .collect();
        if extra.is_empty() {
            return;
        }
        match &flat.additional {
            None if flat.props.is_empty() => {}
            None => {
                let severity = if mode.is_request() {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                for key in extra {
                    self.add(
                        severity,
                        &format!("{path}.{key}"),
                        "property not declared in the schema".into(),
                    );
                }
            }
            Some((Value::Bool(false), _)) => {
                for key in extra {
                    self.add(
                        Severity::Error,
                        &format!("{path}.{key}"),
                        "additionalProperties is false".into(),
                    );
                }
            }
            Some((schema @ Value::Object(_), base)) => {
                for key in extra {
                    let kpath = format!("{path}[{}]", Value::String(key.clone()));
                    self.check(&map[key], schema, base, &kpath, mode);
                }
            }
            Some(_) => {}
        }
    }

    fn array(&mut self, instance: &Value, flat: &Flat, base: &Path, path: &str, mode: Mode) {
        let Some(items) = instance.as_array() else {
            return self.add(
                Severity::Error,
                path,
                format!("expected array, got {}", kind(instance)),
            );
        };
        if let Some(min) = flat.kw.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            self.add(Severity::Error, path, format!("fewer than minItems={min}"));
        }
        if let Some(max) = flat.kw.get("maxItems").and_then(Value::as_u64)
            && (items.len() as u64) > max
        {
            self.add(Severity::Error, path, format!("more than maxItems={max}"));
        }
        if let Some(schema) = flat.kw.get("items").cloned() {
            for (i, item) in items.iter().enumerate() {
                self.check(item, &schema, base, &format!("{path}[{i}]"), mode);
            }
        }
    }

    fn scalar(&mut self, instance: &Value, flat: &Flat, ty: &str, path: &str) {
        let ok = match ty {
            "string" => instance.is_string(),
            "boolean" => instance.is_boolean(),
            "integer" => instance.is_i64() || instance.is_u64(),
            "number" => instance.is_number(),
            _ => true,
        };
        if !ok {
            let shown: String = instance.to_string().chars().take(60).collect();
            return self.add(
                Severity::Error,
                path,
                format!("expected {ty}, got {} {shown}", kind(instance)),
            );
        }
        let kw = &flat.kw;
        if let Some(allowed) = kw.get("enum").and_then(Value::as_array)
            && !allowed.contains(instance)
        {
            let case_only = instance.as_str().is_some_and(|s| {
                allowed
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|a| a.eq_ignore_ascii_case(s))
            });
            if case_only {
                self.add(
                    Severity::Warning,
                    path,
                    format!(
                        "enum value {instance} differs only in case from {}",
                        Value::Array(allowed.clone())
                    ),
                );
            } else {
                self.add(
                    Severity::Error,
                    path,
                    format!(
                        "value {instance} not in enum {}",
                        Value::Array(allowed.clone())
                    ),
                );
            }
        }
        let format = kw.get("format").and_then(Value::as_str).unwrap_or_default();
        if let Some(s) = instance.as_str() {
            if let Some(pattern) = kw.get("pattern").and_then(Value::as_str)
                && let Ok(re) = Regex::new(pattern)
                && !re.is_match(s)
            {
                self.add(
                    Severity::Error,
                    path,
                    format!("does not match pattern {pattern}"),
                );
            }
            let length = s.chars().count() as u64;
            if let Some(min) = kw.get("minLength").and_then(Value::as_u64)
                && length < min
            {
                self.add(
                    Severity::Error,
                    path,
                    format!("shorter than minLength={min}"),
                );
            }
            if let Some(max) = kw.get("maxLength").and_then(Value::as_u64)
                && length > max
            {
                self.add(
                    Severity::Error,
                    path,
                    format!("longer than maxLength={max}"),
                );
            }
            if format == "date-time" && !DATE_TIME.is_match(s) {
                self.add(
                    Severity::Error,
                    path,
                    format!("not an RFC 3339 date-time: {s:?}"),
                );
            }
            if format == "uuid" && !UUID.is_match(s) {
                self.add(Severity::Error, path, format!("not a uuid: {s:?}"));
            }
        }
        if let Some(n) = instance.as_f64() {
            let range = match format {
                "int32" => Some((f64::from(i32::MIN), f64::from(i32::MAX))),
                "int64" => Some((i64::MIN as f64, i64::MAX as f64)),
                _ => None,
            };
            if let Some((low, high)) = range
                && !(low..=high).contains(&n)
            {
                self.add(Severity::Error, path, format!("out of {format} range"));
            }
            if let Some(min) = kw.get("minimum").and_then(Value::as_f64)
                && (n < min || (kw.get("exclusiveMinimum") == Some(&Value::Bool(true)) && n == min))
            {
                self.add(Severity::Error, path, format!("below minimum {min}"));
            }
            if let Some(max) = kw.get("maximum").and_then(Value::as_f64)
                && (n > max || (kw.get("exclusiveMaximum") == Some(&Value::Bool(true)) && n == max))
            {
                self.add(Severity::Error, path, format!("above maximum {max}"));
            }
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}
