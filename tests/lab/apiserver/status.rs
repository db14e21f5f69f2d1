//! Failures as kube-apiserver reports them: a `Status` body with kube's reason, code and
//! wording, which kubectl prints as `Error from server (Reason): message` and kube-rs
//! turns into an `ErrorResponse`.

use serde_json::{Map, Value, json};

use super::resources::ResourceType;

/// A failed request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

/// `details` as kube fills it: name, group and kind (the resource), leaving out empty ones.
fn details(name: &str, group: &str, kind: &str) -> Option<Value> {
    let mut d = Map::new();
    if !name.is_empty() {
        d.insert("name".into(), name.into());
    }
    if !group.is_empty() {
        d.insert("group".into(), group.into());
    }
    if !kind.is_empty() {
        d.insert("kind".into(), kind.into());
    }
    Some(Value::Object(d))
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// `nodes "n1" not found`.
    pub fn not_found(resource: &ResourceType, name: &str) -> ApiError {
        ApiError {
            details: details(name, resource.group, resource.plural),
            ..ApiError::new(
                404,
                "NotFound",
                format!("{} {name:?} not found", resource.qualified()),
            )
        }
    }

    /// A path no resource is served at.
    pub fn no_such_resource() -> ApiError {
        ApiError {
            details: Some(json!({})),
            ..ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
        }
    }

    /// `nodes "n1" already exists`.
    pub fn already_exists(resource: &ResourceType, name: &str) -> ApiError {
        ApiError {
            details: details(name, resource.group, resource.plural),
            ..ApiError::new(
                409,
                "AlreadyExists",
                format!("{} {name:?} already exists", resource.qualified()),
            )
        }
    }

    /// An update based on an old resourceVersion.
    pub fn conflict(resource: &ResourceType, name: &str, why: &str) -> ApiError {
        ApiError {
            details: details(name, resource.group, resource.plural),
            ..ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} {name:?}: {why}",
                    resource.qualified()
                ),
            )
        }
    }

    /// The usual reason of [`ApiError::conflict`].
    pub const MODIFIED: &str = "the object has been modified; please apply your changes to the latest version and try again";

    /// `nodes is forbidden: User "x" cannot list resource "nodes" ...`; `resource` is `None`
    /// for non-resource URLs.
    pub fn forbidden(resource: Option<(&str, &str)>, name: &str, why: &str) -> ApiError {
        let (message, details) = match resource {
            None => (format!("forbidden: {why}"), details(name, "", "")),
            Some((group, plural)) => {
                let qualified = if group.is_empty() {
                    plural.to_owned()
                } else {
                    format!("{plural}.{group}")
                };
                let message = if name.is_empty() {
                    format!("{qualified} is forbidden: {why}")
                } else {
                    format!("{qualified} {name:?} is forbidden: {why}")
                };
                (message, details(name, group, plural))
            }
        };
        ApiError {
            details,
            ..ApiError::new(403, "Forbidden", message)
        }
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// `Kind "name" is invalid: field: problem`, with one cause per problem.
    pub fn invalid(resource: &ResourceType, name: &str, causes: &[(&str, String)]) -> ApiError {
        let summary: Vec<String> = causes
            .iter()
            .map(|(field, message)| format!("{field}: {message}"))
            .collect();
        let summary = if summary.len() == 1 {
            summary[0].clone()
        } else {
            format!("[{}]", summary.join(", "))
        };
        let mut d = details(name, resource.group, resource.kind).unwrap_or_default();
        d["causes"] = causes
            .iter()
            .map(|(field, message)| {
                let reason = if message.starts_with("Required value") {
                    "FieldValueRequired"
                } else {
                    "FieldValueInvalid"
                };
                json!({"reason": reason, "message": message, "field": field})
            })
            .collect();
        ApiError {
            details: Some(d),
            ..ApiError::new(
                422,
                "Invalid",
                format!("{} {name:?} is invalid: {summary}", resource.kind),
            )
        }
    }

    /// A 422 without field causes (e.g. a JSON patch that does not apply).
    pub fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::new(422, "Invalid", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    pub fn not_acceptable(message: impl Into<String>) -> ApiError {
        ApiError::new(406, "NotAcceptable", message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> ApiError {
        ApiError::new(415, "UnsupportedMediaType", message)
    }

    pub fn too_large() -> ApiError {
        ApiError::new(413, "RequestEntityTooLarge", "Request entity too large")
    }

    pub fn too_many_requests(message: impl Into<String>, details: Value) -> ApiError {
        ApiError {
            details: Some(details),
            ..ApiError::new(429, "TooManyRequests", message)
        }
    }

    /// The store failed: kube's `Internal error occurred: ...`.
    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError {
            details: Some(json!({"causes": [{"message": message.to_string()}]})),
            ..ApiError::new(
                500,
                "InternalError",
                format!("Internal error occurred: {message}"),
            )
        }
    }

    /// The `Status` body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl From<super::store::StoreError> for ApiError {
    fn from(error: super::store::StoreError) -> ApiError {
        ApiError::internal(error)
    }
}

/// A `Status` for success, as eviction and some deletes answer.
pub fn success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}
