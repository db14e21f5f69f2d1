//! The on-disk form of state: versioned JSON, shaped like Terraform's so operators can read
//! it. This is the only place that knows serde for state data; the model in [`super`] stays
//! free of it, and each format version is a separate mirror ([`v1`]).
//!
//! Sensitive marks are stored as paths beside the unmarked values
//! (`"sensitive_attributes": [["password"], ["labels", "token"]]`, a string step names an
//! attribute or map key, a number a list index) and decoding puts them back.
//!
//! The journal's lines and the lock file's contents are encoded here too, with the same
//! mirrors.

mod v1;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::State;
use super::backend::LockInfo;
use super::journal::JournalEntry;

/// The state format version this fleetform writes (and the newest it reads). Version 2
/// records each instance's dependencies as resources (`host.node`) where version 1 listed
/// instances; both are read by the same mirror.
pub const FORMAT_VERSION: u64 = 2;
/// The `tool` written into state.
pub const TOOL: &str = "fleetform";
/// The `tool_version` written into state.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why bytes are not a state this fleetform can read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// Malformed or inconsistent: what is wrong, and where (a JSON path such as
    /// `resources[2].instances[0].index_key`, empty for the whole document).
    #[error("{}", at(path, message))]
    Invalid {
        /// The JSON path of the offending value; empty for the document itself.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Written by a newer fleetform, in a format this one does not know.
    #[error(
        "it was written by a newer fleetform (format version {version}); fleetform \
         {TOOL_VERSION} reads format version {FORMAT_VERSION} and older: upgrade fleetform"
    )]
    NewerFormat {
        /// The version found.
        version: u64,
    },
}

fn at(path: &str, message: &str) -> String {
    if path.is_empty() {
        message.to_owned()
    } else {
        format!("at {path}: {message}")
    }
}

pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> DecodeError {
    DecodeError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// Encodes `state` as pretty-printed JSON (what the local backend writes).
///
/// Unknown values cannot be stored: encoding one is a bug in the caller, asserted in debug
/// builds and written as `null` otherwise.
pub fn encode(state: &State) -> Vec<u8> {
    let mut bytes = to_vec(&v1::encode_state(state), true);
    bytes.push(b'\n');
    bytes
}

/// Decodes a state written by this or an older fleetform.
pub fn decode(bytes: &[u8]) -> Result<State, DecodeError> {
    let header = probe(bytes)?;
    match header.format_version {
        1 | 2 => v1::decode_state(from_slice(bytes)?),
        version => Err(DecodeError::NewerFormat { version }),
    }
}

/// The identity of a state: what a journal is bound to and what a write must follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub lineage: String,
    pub serial: u64,
}

impl Header {
    pub(crate) fn of(state: &State) -> Header {
        Header {
            lineage: state.lineage.clone(),
            serial: state.serial,
        }
    }
}

/// Reads only the lineage and serial of an encoded state (checking its version).
pub(crate) fn header(bytes: &[u8]) -> Result<Header, DecodeError> {
    let probe = probe(bytes)?;
    Ok(Header {
        lineage: probe.lineage,
        serial: probe.serial,
    })
}

struct Probed {
    format_version: u64,
    lineage: String,
    serial: u64,
}

/// Checks the format version (before anything whose shape a newer version may change) and
/// reads the lineage and serial.
fn probe(bytes: &[u8]) -> Result<Probed, DecodeError> {
    #[derive(Deserialize)]
    #[serde(expecting = "a fleetform state (a JSON object)")]
    struct Probe {
        format_version: Option<serde_json::Value>,
        lineage: Option<serde_json::Value>,
        serial: Option<serde_json::Value>,
    }
    let probe: Probe = from_slice(bytes)?;
    let format_version = match &probe.format_version {
        None => {
            return Err(invalid(
                "",
                "format_version is missing: this is not a fleetform state",
            ));
        }
        Some(v) => match v.as_u64() {
            Some(version @ 1..=FORMAT_VERSION) => version,
            Some(version) if version > FORMAT_VERSION => {
                return Err(DecodeError::NewerFormat { version });
            }
            _ => {
                return Err(invalid(
                    "format_version",
                    format!("unsupported format version {v}"),
                ));
            }
        },
    };
    let lineage = match probe.lineage {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s,
        Some(serde_json::Value::String(_)) => return Err(invalid("lineage", "lineage is empty")),
        Some(_) => return Err(invalid("lineage", "lineage must be a string")),
        None => return Err(invalid("", "missing field `lineage`")),
    };
    let serial = match probe.serial {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| invalid("serial", "serial must be a whole number"))?,
        None => return Err(invalid("", "missing field `serial`")),
    };
    Ok(Probed {
        format_version,
        lineage,
        serial,
    })
}

/// The journal's first line, binding it to the state it extends.
pub(crate) fn encode_journal_header(base: &Header) -> Vec<u8> {
    to_vec(&v1::journal_header(base), false)
}

/// Reads a journal's first line.
pub(crate) fn decode_journal_header(line: &[u8]) -> Result<Header, DecodeError> {
    #[derive(Deserialize)]
    #[serde(expecting = "a fleetform journal header (a JSON object)")]
    struct Probe {
        journal_version: Option<serde_json::Value>,
    }
    let probe: Probe = from_slice(line)?;
    match probe.journal_version.as_ref().map(|v| (v, v.as_u64())) {
        Some((_, Some(1))) => v1::decode_journal_header(from_slice(line)?),
        Some((_, Some(version))) if version > 1 => Err(DecodeError::NewerFormat { version }),
        Some((v, _)) => Err(invalid(
            "journal_version",
            format!("unsupported journal version {v}"),
        )),
        None => Err(invalid(
            "",
            "journal_version is missing: this is not a fleetform journal",
        )),
    }
}

/// One journal line (without its newline).
pub(crate) fn encode_journal_entry(entry: &JournalEntry) -> Vec<u8> {
    to_vec(&v1::journal_line(entry), false)
}

/// Reads one journal line.
pub(crate) fn decode_journal_entry(line: &[u8]) -> Result<JournalEntry, DecodeError> {
    v1::decode_journal_line(from_slice(line)?)
}

/// The lock file's contents.
pub(crate) fn encode_lock_info(info: &LockInfo) -> Vec<u8> {
    to_vec(&v1::lock_info(info), false)
}

/// Reads the lock file's contents.
pub(crate) fn decode_lock_info(bytes: &[u8]) -> Result<LockInfo, DecodeError> {
    from_slice(bytes).map(v1::decode_lock_info)
}

fn to_vec<T: serde::Serialize>(value: &T, pretty: bool) -> Vec<u8> {
    let result = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    };
    // The mirrors hold strings, numbers and `serde_json::Value`s under string keys, which
    // always serialize.
    result.expect("state mirrors always serialize")
}

/// Deserializes with the JSON path of the failure in the error. The path-tracking decoder
/// is several times slower, so it runs only to explain a failure.
fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // `?` stands for a step serde could not name (e.g. in a syntax error); `.` is the root.
        let path = e.path().to_string().replace(".?", "").replace('?', "");
        let path = if path == "." { String::new() } else { path };
        invalid(path, e.into_inner().to_string())
    })?;
    de.end().map_err(|e| invalid("", e.to_string()))?;
    Ok(value)
}

#[cfg(test)]
pub(crate) mod tests {
    use fleetform_sdk::Value;

    use super::*;
    use crate::addrs::parse_abs_resource_instance;
    use crate::state::{InstanceState, InstanceStatus, OutputState};

    fn addr(text: &str) -> crate::addrs::AbsResourceInstance {
        parse_abs_resource_instance(text).unwrap()
    }

    fn n(x: f64) -> Value {
        Value::Number(fleetform_sdk::value::Number::from_f64(x).unwrap())
    }

    /// A state with module addresses, count and for_each keys, data resources, sensitive
    /// marks nested in objects and lists, a tainted instance and outputs.
    pub(crate) fn sample() -> State {
        let mut state = State::new();
        state.serial = 7;
        let host = |id: &str| InstanceState {
            provider: "provider.host".into(),
            schema_version: 2,
            value: Value::object([
                ("id", Value::from(id)),
                ("port", Value::from(22)),
                ("ratio", n(0.5)),
                ("enabled", Value::from(true)),
                ("nothing", Value::Null),
                ("password", Value::from("hunter2").into_sensitive()),
                (
                    "labels",
                    Value::object([
                        ("site", Value::from("north")),
                        ("token", Value::from("t0k3n").into_sensitive()),
                    ]),
                ),
                (
                    "keys",
                    Value::List(vec![
                        Value::from("pub"),
                        Value::object([("private", Value::from("k").into_sensitive())])
                            .into_sensitive(),
                    ]),
                ),
            ]),
            dependencies: vec![
                addr("host.x").abs_resource(),
                addr(r#"module.net[1].data.facts.f["a"]"#).abs_resource(),
            ],
            status: InstanceStatus::Ready,
            create_before_destroy: false,
            prevent_destroy: true,
        };
        state.set(addr(r#"module.clinic["north"].host.web["a"]"#), host("i-a"));
        let mut tainted = host("i-b");
        tainted.status = InstanceStatus::Tainted;
        tainted.create_before_destroy = true;
        tainted.provider = r#"module.clinic["north"].provider.host.west"#.into();
        state.set(addr(r#"module.clinic["north"].host.web["b"]"#), tainted);
        state.set(addr("host.x[0]"), host("x0"));
        let mut incomplete = host("x1");
        incomplete.status = InstanceStatus::Incomplete;
        state.set(addr("host.x[1]"), incomplete);
        state.set(
            addr("data.facts.f"),
            InstanceState {
                provider: "provider.fleetform".into(),
                schema_version: 0,
                value: Value::object([("all", Value::from("x"))]).into_sensitive(),
                dependencies: vec![],
                status: InstanceStatus::Ready,
                create_before_destroy: false,
                prevent_destroy: false,
            },
        );
        state.outputs.insert(
            "password".into(),
            OutputState {
                value: Value::from("hunter2").into_sensitive(),
                sensitive: true,
            },
        );
        state.outputs.insert(
            "ips".into(),
            OutputState {
                value: Value::List(vec![Value::from("10.0.0.1"), Value::from("10.0.0.2")]),
                sensitive: false,
            },
        );
        state
    }

    #[test]
    fn a_state_round_trips() {
        let state = sample();
        let bytes = encode(&state);
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded, state);
        // Stable: encoding the decoded state gives the same bytes.
        assert_eq!(encode(&decoded), bytes);
        // Instances with different providers are separate entries, merged back.
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["resources"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn the_last_apply_round_trips_and_older_states_have_none() {
        let mut state = sample();
        assert_eq!(decode(&encode(&state)).unwrap().last_apply, None);
        state.last_apply = Some(crate::state::LastApply {
            operation: "apply".into(),
            started: "2026-12-07T10:00:00Z".into(),
            finished: "2026-12-07T10:00:42Z".into(),
            outcome: crate::state::ApplyOutcome::Interrupted,
            changes: 3,
            failed: 1,
            version: "0.1.0".into(),
        });
        let bytes = encode(&state);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            json["last_apply"],
            serde_json::json!({
                "operation": "apply",
                "started": "2026-12-07T10:00:00Z",
                "finished": "2026-12-07T10:00:42Z",
                "outcome": "interrupted",
                "changes": 3,
                "failed": 1,
                "fleetform_version": "0.1.0"
            })
        );
        assert_eq!(decode(&bytes).unwrap(), state);
    }

    #[test]
    fn secrets_are_stored_unmarked_with_their_paths() {
        let json: serde_json::Value = serde_json::from_slice(&encode(&sample())).unwrap();
        let web = json["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "web")
            .unwrap();
        assert_eq!(web["module"], r#"module.clinic["north"]"#);
        let inst = &web["instances"][0];
        assert_eq!(inst["attributes"]["password"], "hunter2");
        assert_eq!(
            inst["sensitive_attributes"],
            serde_json::json!([
                ["keys", 1],
                ["keys", 1, "private"],
                ["labels", "token"],
                ["password"]
            ])
        );
        assert_eq!(json["outputs"]["password"]["value"], "hunter2");
        assert_eq!(json["outputs"]["password"]["sensitive"], true);
    }

    #[test]
    fn golden_shape() {
        let mut state = State::new();
        state.lineage = "4d1c1a9e-0000-4000-8000-000000000001".into();
        state.serial = 3;
        state.set(
            addr(r#"module.clinic["north"].host.web["a"]"#),
            InstanceState {
                provider: "provider.host".into(),
                schema_version: 0,
                value: Value::object([
                    ("id", Value::from("i-1")),
                    ("password", Value::from("pw").into_sensitive()),
                    (
                        "labels",
                        Value::object([("token", Value::from("t").into_sensitive())]),
                    ),
                ]),
                dependencies: vec![addr("host.x").abs_resource()],
                status: InstanceStatus::Tainted,
                create_before_destroy: false,
                prevent_destroy: true,
            },
        );
        state.set(
            addr("host.x"),
            InstanceState {
                provider: "provider.host".into(),
                schema_version: 1,
                value: Value::object([("id", Value::from("x"))]),
                dependencies: vec![],
                status: InstanceStatus::Ready,
                create_before_destroy: true,
                prevent_destroy: false,
            },
        );
        state.outputs.insert(
            "name".into(),
            OutputState {
                value: Value::from("north").into_sensitive(),
                sensitive: true,
            },
        );
        let text = String::from_utf8(encode(&state)).unwrap();
        let version = TOOL_VERSION;
        let expected = format!(
            r#"{{
  "format_version": 2,
  "tool": "fleetform",
  "tool_version": "{version}",
  "serial": 3,
  "lineage": "4d1c1a9e-0000-4000-8000-000000000001",
  "outputs": {{
    "name": {{
      "value": "north",
      "sensitive": true,
      "sensitive_attributes": [
        []
      ]
    }}
  }},
  "resources": [
    {{
      "mode": "managed",
      "type": "host",
      "name": "x",
      "provider": "provider.host",
      "instances": [
        {{
          "schema_version": 1,
          "attributes": {{
            "id": "x"
          }},
          "sensitive_attributes": [],
          "dependencies": [],
          "create_before_destroy": true,
          "prevent_destroy": false
        }}
      ]
    }},
    {{
      "module": "module.clinic[\"north\"]",
      "mode": "managed",
      "type": "host",
      "name": "web",
      "provider": "provider.host",
      "instances": [
        {{
          "index_key": "a",
          "schema_version": 0,
          "attributes": {{
            "id": "i-1",
            "labels": {{
              "token": "t"
            }},
            "password": "pw"
          }},
          "sensitive_attributes": [
            [
              "labels",
              "token"
            ],
            [
              "password"
            ]
          ],
          "dependencies": [
            "host.x"
          ],
          "status": "tainted",
          "create_before_destroy": false,
          "prevent_destroy": true
        }}
      ]
    }}
  ]
}}
"#
        );
        assert_eq!(text, expected);
        assert_eq!(decode(text.as_bytes()).unwrap(), state);
    }

    #[test]
    fn format_1_dependencies_on_instances_read_as_resources() {
        let text = r#"{"format_version": 1, "serial": 1, "lineage": "x", "resources": [
          {"mode": "managed", "type": "fleetform_data", "name": "c", "provider": "provider.fleetform",
           "instances": [{"schema_version": 0, "attributes": {"id": "c"},
             "dependencies": ["host.x[0]", "host.x[1]", "module.m[\"a\"].host.y"]}]}]}"#;
        let state = decode(text.as_bytes()).expect("a format 1 state reads");
        let deps: Vec<String> = state.resources[&addr("fleetform_data.c")]
            .dependencies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(deps, ["host.x", r#"module.m["a"].host.y"#]);
    }

    fn error(text: &str) -> String {
        decode(text.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn errors_say_what_is_wrong_and_where() {
        assert_eq!(
            error("{\"format_version\": 1,"),
            "EOF while parsing a value at line 1 column 21"
        );
        assert_eq!(
            error("3"),
            "invalid type: integer `3`, expected a fleetform state (a JSON object) at line 1 column 1"
        );
        assert_eq!(
            error(r#"{"version": 4, "serial": 1, "lineage": "x"}"#),
            "format_version is missing: this is not a fleetform state"
        );
        assert_eq!(
            error(r#"{"format_version": 7, "serial": 1, "lineage": "x"}"#),
            format!(
                "it was written by a newer fleetform (format version 7); fleetform \
                 {TOOL_VERSION} reads format version 2 and older: upgrade fleetform"
            )
        );
        let base = r#"{"format_version": 1, "serial": 1, "lineage": "x", "resources": [
            {"mode": "managed", "type": "host", "name": "web", "provider": "provider.host",
             "instances": [{"attributes": {"a": [1]}, INSTANCE}]}]}"#;
        let bad = |instance: &str| error(&base.replace("INSTANCE", instance));
        assert_eq!(
            bad(r#""schema_version": "one""#),
            "at resources[0].instances[0].schema_version: invalid type: string \"one\", \
             expected u64 at line 3 column 77"
        );
        assert_eq!(
            bad(r#""index_key": 1.5"#),
            "at resources[0].instances[0].index_key: an index key must be a whole number, not 1.5"
        );
        assert_eq!(
            bad(r#""status": "broken""#),
            "at resources[0].instances[0].status: unknown variant `broken`, expected `ready` \
             or `tainted` at line 3 column 72"
        );
        assert_eq!(
            bad(r#""dependencies": ["host"]"#),
            "at resources[0].instances[0].dependencies[0]: invalid address \"host\": a resource \
             address needs a type and a name, such as host.web"
        );
        assert_eq!(
            bad(r#""sensitive_attributes": [["a", 0], ["a", 3]]"#),
            "at resources[0].instances[0].sensitive_attributes[1]: sensitive path [\"a\",3] does \
             not fit the value: there is no element 3 in a list of 1"
        );
        assert_eq!(
            bad(r#""sensitive_attributes": [["b"]]"#),
            "at resources[0].instances[0].sensitive_attributes[0]: sensitive path [\"b\"] does \
             not fit the value: there is no attribute or key \"b\""
        );
        assert_eq!(
            error(
                &base
                    .replace("INSTANCE", r#""index_key": 0"#)
                    .replace("}]}]}", "}, {\"index_key\": 0, \"attributes\": {}}]}]}")
            ),
            "at resources[0].instances[1]: instance host.web[0] appears more than once"
        );
    }
}
