//! `count` and `for_each`: turning their values into instance keys, with Terraform's rules
//! and messages.

use fleetform_sdk::{Diagnostic, Diagnostics, Value};

use super::Expansion;
use super::scope::Repetition;
use crate::addrs::{InstanceKey, ModuleInstance};
use crate::config::Expr;

/// How a block repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Neither count nor for_each.
    Single,
    /// `count`.
    Count,
    /// `for_each`.
    ForEach,
    /// count or for_each whose value is not known yet.
    Unknown,
}

/// The instances of a block.
pub enum Keys {
    /// Known keys, each with its `each`/`count` values.
    Known(Mode, Vec<(InstanceKey, Repetition)>),
    /// Not known until apply (allowed only while inputs are incomplete).
    Unknown,
    /// The value was invalid; an error was reported.
    Invalid,
}

impl Expansion<'_> {
    /// An unknown count or for_each is an error only when every input was given and
    /// nothing failed before: otherwise the unknown may stand for a missing input or a
    /// value that already failed, and reporting it would only repeat that problem.
    fn tolerate_unknown(&self, diags: &Diagnostics) -> bool {
        !self.options.inputs_complete || diags.has_errors()
    }

    /// The instance keys of a block with the given `count` / `for_each`.
    pub(super) fn keys(
        &self,
        m: &ModuleInstance,
        count: Option<&Expr>,
        for_each: Option<&Expr>,
        what: &str,
        diags: &mut Diagnostics,
    ) -> Keys {
        let module_rep = Repetition::default();
        if let Some(expr) = count {
            let value = match self.eval_in(m, &module_rep, &[], expr, diags) {
                Some(v) => v,
                None => return Keys::Invalid,
            };
            let at = Some(self.config.range(&expr.loc()));
            let invalid =
                |detail: String| Diagnostic::error("Invalid count argument", detail).at(at.clone());
            if matches!(value, Value::Sensitive(_)) {
                diags.push(invalid("Sensitive values, or values derived from sensitive values, cannot be used as count arguments. If used, the sensitive value could be exposed as a resource instance key.".into()));
                return Keys::Invalid;
            }
            if value.is_unknown() {
                if self.tolerate_unknown(diags) {
                    return Keys::Unknown;
                }
                diags.push(invalid(format!("The \"count\" value of {what} depends on resource attributes that cannot be determined until apply, so fleetform cannot predict how many instances will be created. To work around this, use -target to first apply only the resources that the count depends on.")));
                return Keys::Invalid;
            }
            let n = match value.as_number() {
                Some(n) => n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64),
                None if value.is_null() => {
                    diags.push(invalid(
                        "The given \"count\" argument value is null. An integer is required."
                            .into(),
                    ));
                    return Keys::Invalid;
                }
                None => value.as_str().and_then(|s| s.parse::<i64>().ok()),
            };
            return match n {
                Some(n) if n < 0 => {
                    diags.push(invalid("The given \"count\" argument value is unsuitable: must be greater than or equal to zero.".into()));
                    Keys::Invalid
                }
                Some(n) if n as u64 > crate::lang::limits::limits().max_instances as u64 => {
                    diags.push(invalid(format!(
                        "The given \"count\" argument value {n} is more than the limit of {} instances of one block. Set {} to allow more.",
                        crate::lang::limits::limits().max_instances,
                        crate::lang::limits::INSTANCES_VAR
                    )));
                    Keys::Invalid
                }
                Some(n) => Keys::Known(
                    Mode::Count,
                    (0..n)
                        .map(|i| {
                            (
                                InstanceKey::Int(i),
                                Repetition {
                                    each: None,
                                    count: Some(Value::from(i)),
                                },
                            )
                        })
                        .collect(),
                ),
                None => {
                    diags.push(invalid(format!("The given \"count\" argument value is unsuitable: a whole number is required, but this is {}.", value.kind_name())));
                    Keys::Invalid
                }
            };
        }
        let Some(expr) = for_each else {
            return Keys::Known(
                Mode::Single,
                vec![(InstanceKey::None, Repetition::default())],
            );
        };
        let value = match self.eval_in(m, &module_rep, &[], expr, diags) {
            Some(v) => v,
            None => return Keys::Invalid,
        };
        let at = Some(self.config.range(&expr.loc()));
        let invalid =
            |detail: String| Diagnostic::error("Invalid for_each argument", detail).at(at.clone());
        // The keys become instance addresses, so they must not be secret; values inside a
        // map may be (each.value keeps their marks).
        let sensitive_key = match &value {
            Value::Sensitive(_) => true,
            Value::Set(items) => items.iter().any(|i| matches!(i, Value::Sensitive(_))),
            _ => false,
        };
        if sensitive_key {
            diags.push(invalid("Sensitive values, or values derived from sensitive values, cannot be used as for_each arguments. If used, the sensitive value could be exposed as a resource instance key.".into()));
            return Keys::Invalid;
        }
        let unknown_detail = format!(
            "The \"for_each\" value of {what} depends on resource attributes that cannot be determined until apply, so fleetform cannot predict how many instances will be created. When working with unknown values in for_each, it's better to define the map keys statically in your configuration and place apply-time results only in the map values. Alternatively, use -target to first apply only the resources that the for_each value depends on."
        );
        match &value {
            Value::Unknown => {
                if self.tolerate_unknown(diags) {
                    return Keys::Unknown;
                }
                diags.push(invalid(unknown_detail));
                Keys::Invalid
            }
            Value::Null => {
                diags.push(invalid("The given \"for_each\" argument value is unsuitable: the given \"for_each\" argument value is null. A map, or set of strings is allowed.".into()));
                Keys::Invalid
            }
            Value::Object(map) => Keys::Known(
                Mode::ForEach,
                map.iter()
                    .map(|(k, v)| {
                        (
                            InstanceKey::Str(k.clone()),
                            Repetition {
                                each: Some((Value::from(k.as_str()), v.clone())),
                                count: None,
                            },
                        )
                    })
                    .collect(),
            ),
            // A list or tuple is refused, as in Terraform (its order would make the keys
            // change meaning when an element is removed); toset() makes it a set.
            Value::List(_) => {
                let ty = crate::lang::friendly_type_name(&value);
                diags.push(invalid(format!("The given \"for_each\" argument value is unsuitable: the \"for_each\" argument must be a map, or set of strings, and you have provided a value of type {ty}.")));
                Keys::Invalid
            }
            Value::Set(items) => {
                let mut keys = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => keys.push(s.clone()),
                        Value::Unknown if self.tolerate_unknown(diags) => return Keys::Unknown,
                        Value::Unknown => {
                            diags.push(invalid(unknown_detail));
                            return Keys::Invalid;
                        }
                        Value::Null => {
                            diags.push(invalid("The given \"for_each\" argument value is unsuitable: \"for_each\" sets must not contain null values.".into()));
                            return Keys::Invalid;
                        }
                        other => {
                            diags.push(invalid(format!("The given \"for_each\" argument value is unsuitable: the \"for_each\" argument must be a map, or set of strings, and you have provided a collection containing a {}.", other.kind_name())));
                            return Keys::Invalid;
                        }
                    }
                }
                keys.sort();
                keys.dedup();
                Keys::Known(
                    Mode::ForEach,
                    keys.into_iter()
                        .map(|k| {
                            (
                                InstanceKey::Str(k.clone()),
                                Repetition {
                                    each: Some((Value::from(k.as_str()), Value::from(k))),
                                    count: None,
                                },
                            )
                        })
                        .collect(),
                )
            }
            other => {
                diags.push(invalid(format!("The given \"for_each\" argument value is unsuitable: the \"for_each\" argument must be a map, or set of strings, and you have provided a value of type {}.", other.kind_name())));
                Keys::Invalid
            }
        }
    }
}
