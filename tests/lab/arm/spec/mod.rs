//! The Azure REST specs (../shared/specs/azure) as the lab's judge: which operation a
//! request is, which api-version it must carry, and whether its body is valid. The
//! validation follows `validate_example.py` beside the specs, rule for rule (AutoRest's
//! conventions): `$ref`s resolved across files with keywords beside a `$ref` winning,
//! `allOf` flattened, required properties, JSON types, enums, patterns, lengths, ranges,
//! int32/int64, date-time and uuid formats, `additionalProperties`, readOnly properties
//! refused in requests, and `x-ms-mutability` (create for PUT and POST, update for PATCH).
//! The e2e tests check this port against the script on the specs' own examples.

mod validator;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use validator::Validator;

/// The spec files the lab serves, relative to the specs folder.
pub const SPEC_FILES: &[&str] = &[
    "hybridkubernetes/resource-manager/Microsoft.Kubernetes/stable/2024-01-01/connectedClusters.json",
    "kubernetesconfiguration/resource-manager/Microsoft.KubernetesConfiguration/extensions/stable/2025-03-01/extensions.json",
    "kubernetesconfiguration/resource-manager/Microsoft.KubernetesConfiguration/fluxConfigurations/stable/2025-04-01/fluxconfiguration.json",
];

/// How bad an issue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The body is invalid.
    Error,
    /// Suspicious (null on a non-nullable property, a secret echoed in a response...).
    Warning,
}

/// One problem found in a body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Issue {
    /// Error or warning.
    pub severity: Severity,
    /// Where, as `$.properties.scope`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// What a body is validated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A PUT or POST request body.
    Create,
    /// A PATCH request body.
    Update,
    /// A response body.
    Response,
}

impl Mode {
    pub(crate) fn is_request(self) -> bool {
        matches!(self, Mode::Create | Mode::Update)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Create => "create",
            Mode::Update => "update",
            Mode::Response => "response",
        }
    }
}

/// One operation of a spec: a method on a path template.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The spec file.
    pub spec: PathBuf,
    /// `put`, `get`, ...
    pub method: String,
    /// The operationId, e.g. `ConnectedCluster_Create`.
    pub id: String,
    /// The spec's api-version (its `info.version`).
    pub api_version: String,
    template: Vec<Segment>,
    /// The template's parameters, by name, as the request filled them.
    pub params: BTreeMap<String, String>,
    object: Value,
    path_parameters: Vec<Value>,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Param(String),
}

/// The loaded specs.
pub struct Specs {
    docs: HashMap<PathBuf, Value>,
    operations: Vec<Operation>,
}

/// A schema and the file its `$ref`s are relative to.
pub(crate) type Resolved = (Value, PathBuf);

impl Specs {
    /// Loads `files` (relative to `root`) and every file their `$ref`s reach.
    pub fn load(root: &Path, files: &[&str]) -> Result<Specs, String> {
        let mut specs = Specs {
            docs: HashMap::new(),
            operations: Vec::new(),
        };
        for file in files {
            let path = normalize(&root.join(file));
            let doc = specs.doc(&path)?.clone();
            let api_version = doc["info"]["version"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            for (template, item) in doc["paths"].as_object().into_iter().flatten() {
                let path_parameters = item["parameters"].as_array().cloned().unwrap_or_default();
                for (method, object) in item.as_object().into_iter().flatten() {
                    if !["get", "put", "post", "patch", "delete", "head"].contains(&method.as_str())
                    {
                        continue;
                    }
                    specs.operations.push(Operation {
                        spec: path.clone(),
                        method: method.clone(),
                        id: object["operationId"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        api_version: api_version.clone(),
                        template: parse_template(template),
                        params: BTreeMap::new(),
                        object: object.clone(),
                        path_parameters: path_parameters.clone(),
                    });
                }
            }
        }
        Ok(specs)
    }

    fn doc(&mut self, path: &Path) -> Result<&Value, String> {
        let path = normalize(path);
        if !self.docs.contains_key(&path) {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let value: Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            // Inserted first, so that files referring to each other load once.
            self.docs.insert(path.clone(), value.clone());
            self.preload_refs(&value, &path)?;
        }
        Ok(&self.docs[&path])
    }

    /// Loads every file `value`'s `$ref`s name, so validation never touches the disk.
    fn preload_refs(&mut self, value: &Value, base: &Path) -> Result<(), String> {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let file = r.split('#').next().unwrap_or_default();
                    if !file.is_empty() && !file.contains("examples/") {
                        let target = normalize(&base.parent().unwrap_or(Path::new("/")).join(file));
                        if !self.docs.contains_key(&target) {
                            self.doc(&target)?;
                        }
                    }
                }
                for v in map.values() {
                    self.preload_refs(v, base)?;
                }
            }
            Value::Array(items) => {
                for v in items {
                    self.preload_refs(v, base)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The operation `method path` is, with its path parameters; segments match
    /// case-insensitively, as ARM matches them.
    pub fn find(&self, method: &str, path: &str) -> Option<Operation> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method))
            .find_map(|op| {
                if op.template.len() != segments.len() {
                    return None;
                }
                let mut params = BTreeMap::new();
                for (segment, actual) in op.template.iter().zip(&segments) {
                    match segment {
                        Segment::Literal(l) if l.eq_ignore_ascii_case(actual) => {}
                        Segment::Param(name) if !actual.is_empty() => {
                            params.insert(name.clone(), (*actual).to_owned());
                        }
                        _ => return None,
                    }
                }
                let mut found = op.clone();
                found.params = params;
                Some(found)
            })
    }

    /// Validates the body of a request to `operation`: every issue, errors and warnings.
    pub fn validate_request(&self, operation: &Operation, body: Option<&Value>) -> Vec<Issue> {
        let mut v = Validator::new(self);
        let mode = if operation.method == "patch" {
            Mode::Update
        } else {
            Mode::Create
        };
        let parameters = operation.path_parameters.iter().chain(
            operation.object["parameters"]
                .as_array()
                .into_iter()
                .flatten(),
        );
        for parameter in parameters {
            let Ok((parameter, base)) = self.resolve(parameter, &operation.spec) else {
                continue;
            };
            if parameter["in"] != "body" {
                continue;
            }
            match body {
                Some(body) => v.check(body, &parameter["schema"], &base, "$", mode),
                None if parameter["required"] == true => v.add(
                    Severity::Error,
                    "$",
                    "required body parameter missing".into(),
                ),
                None => {}
            }
        }
        v.issues
    }

    /// Validates a response body of `operation` for `status` (warnings only, unless the
    /// shape is wrong).
    pub fn validate_response(
        &self,
        operation: &Operation,
        status: u16,
        body: &Value,
    ) -> Vec<Issue> {
        let responses = &operation.object["responses"];
        let declared = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"));
        let Some(declared) = declared else {
            return vec![Issue {
                severity: Severity::Error,
                path: "$".into(),
                message: format!("status {status} not declared for {}", operation.id),
            }];
        };
        let Ok((declared, base)) = self.resolve(declared, &operation.spec) else {
            return Vec::new();
        };
        let mut v = Validator::new(self);
        if !declared["schema"].is_null() {
            v.check(body, &declared["schema"], &base, "$", Mode::Response);
        }
        v.issues
    }

    /// Validates `instance` against a named definition of `spec`.
    pub fn validate_definition(
        &self,
        spec: &Path,
        definition: &str,
        instance: &Value,
        mode: Mode,
    ) -> Vec<Issue> {
        let mut v = Validator::new(self);
        let reference = serde_json::json!({"$ref": format!("#/definitions/{definition}")});
        v.check(instance, &reference, &normalize(spec), "$", mode);
        v.issues
    }

    /// Validates an `x-ms-examples` file of a loaded spec (its request body parameters
    /// and every response body), as `validate_example.py --example` does.
    pub fn validate_example(&self, example_path: &Path) -> Result<Vec<Issue>, String> {
        let example: Value = serde_json::from_str(
            &std::fs::read_to_string(example_path)
                .map_err(|e| format!("{}: {e}", example_path.display()))?,
        )
        .map_err(|e| format!("{}: {e}", example_path.display()))?;
        let name = example_path.file_name().unwrap_or_default();
        let operation = self
            .operations
            .iter()
            .find(|op| {
                op.object["x-ms-examples"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(_, e)| e["$ref"].as_str())
                    .any(|r| Path::new(r).file_name() == Some(name))
            })
            .ok_or_else(|| format!("no operation names {}", example_path.display()))?;
        let mut v = Validator::new(self);
        let mode = if operation.method == "patch" {
            Mode::Update
        } else {
            Mode::Create
        };
        let parameters = operation.path_parameters.iter().chain(
            operation.object["parameters"]
                .as_array()
                .into_iter()
                .flatten(),
        );
        for parameter in parameters {
            let (parameter, base) = self.resolve(parameter, &operation.spec)?;
            if parameter["in"] != "body" {
                continue;
            }
            let name = parameter["name"].as_str().unwrap_or_default();
            match example["parameters"].get(name) {
                Some(body) => v.check(
                    body,
                    &parameter["schema"],
                    &base,
                    &format!("parameters.{name}"),
                    mode,
                ),
                None if parameter["required"] == true => v.add(
                    Severity::Error,
                    &format!("parameters.{name}"),
                    "required body parameter missing".into(),
                ),
                None => {}
            }
        }
        for (code, response) in example["responses"].as_object().into_iter().flatten() {
            let path = format!("responses.{code}");
            let declared = match operation.object["responses"].get(code) {
                Some(d) => d.clone(),
                None => {
                    v.add(
                        Severity::Error,
                        &path,
                        format!("status code not declared for {}", operation.id),
                    );
                    operation.object["responses"]["default"].clone()
                }
            };
            let (declared, base) = self.resolve(&declared, &operation.spec)?;
            if let Some(body) = response.get("body") {
                if declared.get("schema").is_some() {
                    v.check(
                        body,
                        &declared["schema"],
                        &base,
                        &format!("{path}.body"),
                        Mode::Response,
                    );
                } else {
                    v.add(
                        Severity::Warning,
                        &format!("{path}.body"),
                        "example has a body but the spec declares no schema".into(),
                    );
                }
            }
        }
        Ok(v.issues)
    }

    fn reference(&self, reference: &str, base: &Path) -> Result<Resolved, String> {
        let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let target = if file.is_empty() {
            base.to_path_buf()
        } else {
            normalize(&base.parent().unwrap_or(Path::new("/")).join(file))
        };
        let mut node = self
            .docs
            .get(&target)
            .ok_or_else(|| format!("unresolvable $ref {reference:?} (from {})", base.display()))?;
        for token in pointer.split('/').filter(|t| !t.is_empty()) {
            let token = token.replace("~1", "/").replace("~0", "~");
            node = match node {
                Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                other => other.get(&token),
            }
            .ok_or_else(|| format!("unresolvable $ref {reference:?} (from {})", base.display()))?;
        }
        Ok((node.clone(), target))
    }

    /// Follows a `$ref` chain; keywords beside a `$ref` override its target's.
    pub(crate) fn resolve(&self, schema: &Value, base: &Path) -> Result<Resolved, String> {
        let (mut schema, mut base) = (schema.clone(), base.to_path_buf());
        let mut seen = HashSet::new();
        while let Some(reference) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .map(str::to_owned)
        {
            if !seen.insert((base.clone(), reference.clone())) {
                return Err(format!("circular $ref {reference:?}"));
            }
            let (node, target) = self.reference(&reference, &base)?;
            let siblings: Map<String, Value> = schema
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| !["$ref", "description", "title"].contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            schema = if siblings.is_empty() {
                node
            } else {
                let mut merged = node.as_object().cloned().unwrap_or_default();
                merged.extend(siblings);
                Value::Object(merged)
            };
            base = target;
        }
        Ok((schema, base))
    }
}

fn parse_template(template: &str) -> Vec<Segment> {
    template
        .trim_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Literal(s.to_owned()),
            },
        )
        .collect()
}

/// `a/b/../c` as `a/c`, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// True when `issues` has an error.
pub fn has_errors(issues: &[Issue]) -> bool {
    issues.iter().any(|i| i.severity == Severity::Error)
}
