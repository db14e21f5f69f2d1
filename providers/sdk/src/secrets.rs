//! Keeping secrets out of what providers build: results derived from sensitive inputs
//! carry the sensitive mark ([`Value::derived_from`]), and messages never quote a
//! sensitive value ([`Secrets::redact`], [`ProviderError::redact`]).
//!
//! The engine redacts every provider error against the instance's configuration and
//! recorded object as a last line of defence; providers use the same helpers for what they
//! build themselves (a command's captured output, an id made from an address).

use crate::provider::ProviderError;
use crate::value::Value;

/// What a sensitive value is replaced with in a message.
pub const REDACTED: &str = "(sensitive value)";

/// What stands for output that may hold a secret, as Terraform prints for provisioners.
pub const SUPPRESSED: &str = "(output suppressed due to sensitive value in config)";

/// Secrets shorter than this are not searched for in messages: replacing every `1` or `ok`
/// would garble each message and hide nothing that could not be guessed.
const MIN_SECRET_LEN: usize = 4;

/// Lines of a multi-line secret (a private key) at least this long are searched for on
/// their own, so a message quoting one line of the secret does not leak it.
const MIN_LINE_LEN: usize = 16;

/// The texts of the sensitive values inside some values, longest first.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    texts: Vec<String>,
}

impl Secrets {
    /// The sensitive texts inside `value` (strings and numbers under a sensitive mark).
    pub fn of(value: &Value) -> Secrets {
        let mut secrets = Secrets::default();
        secrets.add(value);
        secrets
    }

    /// Adds the sensitive texts inside `value`.
    pub fn add(&mut self, value: &Value) {
        collect(value, false, &mut self.texts);
        self.texts
            .sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        self.texts.dedup();
    }

    /// True when there is no secret to hide.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// `text` with every secret replaced by `(sensitive value)`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.texts {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

fn collect(value: &Value, sensitive: bool, out: &mut Vec<String>) {
    match value {
        Value::Sensitive(inner) => collect(inner, true, out),
        Value::List(items) => items.iter().for_each(|v| collect(v, sensitive, out)),
        Value::Object(map) => map.values().for_each(|v| collect(v, sensitive, out)),
        Value::String(s) if sensitive => push_secret(s, out),
        Value::Number(n) if sensitive => push_secret(&n.to_string(), out),
        _ => {}
    }
}

fn push_secret(text: &str, out: &mut Vec<String>) {
    if text.len() >= MIN_SECRET_LEN {
        out.push(text.to_owned());
    }
    if text.contains('\n') {
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| l.len() >= MIN_LINE_LEN)
                .map(str::to_owned),
        );
    }
}

impl Value {
    /// Marks `self` sensitive when any of `inputs` holds a sensitive value: a result a
    /// provider computes from sensitive inputs is as secret as they are.
    pub fn derived_from<'a>(self, inputs: impl IntoIterator<Item = &'a Value>) -> Value {
        let sensitive = inputs.into_iter().any(Value::holds_secret);
        self.mark_if(sensitive)
    }

    /// True when a sensitive mark inside the value wraps something other than null (an
    /// unset sensitive argument is no secret).
    pub fn holds_secret(&self) -> bool {
        match self {
            Value::Sensitive(inner) => !inner.is_null(),
            Value::List(items) => items.iter().any(Value::holds_secret),
            Value::Object(map) => map.values().any(Value::holds_secret),
            _ => false,
        }
    }
}

impl ProviderError {
    /// The error with every secret in its message replaced by `(sensitive value)`.
    pub fn redact(mut self, secrets: &Secrets) -> ProviderError {
        if !secrets.is_empty() {
            self.message = secrets.redact(&self.message);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_inside_values_are_redacted_from_messages_longest_first() {
        let config = Value::object([
            (
                "path",
                Value::from("/srv/canary-1234/file").into_sensitive(),
            ),
            ("part", Value::from("canary-1234").into_sensitive()),
            ("port", Value::from(2222).into_sensitive()),
            ("short", Value::from("ok").into_sensitive()),
            ("plain", Value::from("visible")),
        ]);
        let secrets = Secrets::of(&config);
        assert_eq!(
            secrets.redact("cannot open /srv/canary-1234/file (canary-1234) on 2222: ok, visible"),
            "cannot open (sensitive value) ((sensitive value)) on (sensitive value): ok, visible"
        );
        let e = ProviderError::permanent("no such file canary-1234").redact(&secrets);
        assert_eq!(e.message, "no such file (sensitive value)");
    }

    #[test]
    fn a_line_of_a_multi_line_secret_is_redacted_on_its_own() {
        let key = "-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\n-----END KEY-----\n";
        let secrets = Secrets::of(&Value::from(key).into_sensitive());
        assert!(
            !secrets
                .redact("bad line AAAAB3NzaC1yc2EAAAADAQABAAABAQ")
                .contains("AAAAB3")
        );
    }

    #[test]
    fn results_derived_from_sensitive_inputs_are_sensitive() {
        let secret = Value::List(vec![Value::from("echo"), Value::from("x").into_sensitive()]);
        let plain = Value::from("y");
        assert!(matches!(
            Value::from("out").derived_from([&plain, &secret]),
            Value::Sensitive(_)
        ));
        assert_eq!(
            Value::from("out").derived_from([&plain]),
            Value::from("out")
        );
    }
}
