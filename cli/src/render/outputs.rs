//! Root module outputs for people: after apply and from `fleetform output`.

use std::fmt::Write;

use fleetform_planner::state::State;
use fleetform_sdk::Value;

use super::Color;

/// `Outputs:` and one `name = value` line per output, sensitive ones redacted.
pub fn human(state: &State, color: Color) -> String {
    if state.outputs.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let title = if color == Color::On {
        "\x1b[1m\x1b[32mOutputs:\x1b[0m"
    } else {
        "Outputs:"
    };
    let _ = writeln!(out, "\n{title}\n");
    for (name, output) in &state.outputs {
        let _ = writeln!(out, "{name} = {}", shown(&output.value, output.sensitive));
    }
    out
}

/// A value as `output` shows it: HCL syntax, `<sensitive>` when declared sensitive.
pub fn shown(value: &Value, sensitive: bool) -> String {
    if sensitive || matches!(value, Value::Sensitive(_)) {
        return "<sensitive>".into();
    }
    value.to_string()
}

/// `output -raw`: strings, numbers and bools without quotes; `None` for other types.
pub fn raw(value: &Value) -> Option<String> {
    match value.unmark_deep() {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
