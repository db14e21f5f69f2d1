//! The `fleetform_data` resource, like Terraform's `terraform_data`: it stores `input`,
//! repeats it as `output` and has a random `id`; a change to `triggers_replace` replaces
//! it (a new `id`). Nothing outside fleetform backs it, so it cannot drift.

use fleetform_sdk::Object;
use std::collections::BTreeMap;

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, Attribute, Block, PlanRequest, PlanResponse, ProviderError,
    Schema, Type, Value,
};

/// The resource type name.
pub const TYPE: &str = "fleetform_data";

/// The schema of `resource "fleetform_data"`.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .describe(
                "A value kept in state, like terraform_data: `output` repeats `input`, and a change \
                 to `triggers_replace` replaces the resource.",
            )
            .attr(
                "input",
                Attribute::optional(Type::Any)
                    .describe("A value to store; it is repeated in `output` after apply."),
            )
            .attr(
                "triggers_replace",
                Attribute::optional(Type::Any)
                    .force_new()
                    .describe("A value whose change replaces the resource (a new `id`)."),
            )
            .attr(
                "output",
                Attribute::computed(Type::Any).describe("The value of `input` as last applied."),
            )
            .attr(
                "id",
                Attribute::computed(Type::String)
                    .describe("A random UUID, new each time the resource is created or replaced."),
            ),
    )
}

/// Plans a create or update: the proposal with `output` = `input` and `id` kept from the
/// prior object (unknown when creating, or when `triggers_replace` changed and the object
/// is to be replaced).
pub(crate) fn plan(request: &PlanRequest) -> PlanResponse {
    let proposed = &request.proposed;
    let input = proposed.get("input").clone();
    let triggers = proposed.get("triggers_replace").clone();
    let id = match &request.prior {
        Some(prior)
            if prior.get("triggers_replace").unmark_deep() == triggers.unmark_deep()
                && !prior.get("id").is_null() =>
        {
            prior.get("id").clone()
        }
        _ => Value::Unknown,
    };
    PlanResponse::new(state(id, input, triggers))
}

/// Makes a planned change: a create draws a new UUID, an update keeps the id, a delete
/// leaves nothing.
pub(crate) fn apply(request: ApplyRequest) -> ApplyResponse {
    let Some(planned) = &request.planned else {
        return ApplyResponse {
            new_state: None,
            error: None,
        };
    };
    // The configuration is wholly known at apply time, while the plan may still hold
    // unknowns that depended on other resources: take the user's values from it.
    let settable = |name: &str| match request.config.as_object() {
        Some(config) => config.get(name).cloned().unwrap_or(Value::Null),
        None => planned.get(name).clone(),
    };
    let input = settable("input");
    let triggers = settable("triggers_replace");
    if !input.is_wholly_known() || !triggers.is_wholly_known() {
        return ApplyResponse {
            new_state: request.prior,
            error: Some(ProviderError::permanent(
                "fleetform_data cannot be applied while input or triggers_replace is still unknown",
            )),
        };
    }
    let id = match planned.get("id").as_str() {
        Some(id) => Value::from(id),
        None => Value::from(uuid::Uuid::new_v4().to_string()),
    };
    ApplyResponse {
        new_state: Some(state(id, input, triggers)),
        error: None,
    }
}

/// There is nothing outside fleetform to compare with: the object is as recorded.
pub(crate) fn read(current: Value) -> Option<Value> {
    Some(current)
}

/// Adopts an object by id, with nothing stored yet.
pub(crate) fn import(id: &str) -> Value {
    state(Value::from(id), Value::Null, Value::Null)
}

fn state(id: Value, input: Value, triggers: Value) -> Value {
    Value::Object(Object::from(BTreeMap::from([
        ("id".to_owned(), id),
        ("output".to_owned(), input.clone()),
        ("input".to_owned(), input),
        ("triggers_replace".to_owned(), triggers),
    ])))
}

#[cfg(test)]
mod tests {
    use fleetform_sdk::{CancellationToken, ImportRequest, Presence, Provider, ReadRequest, Value};

    use super::*;
    use crate::FleetformProvider;

    fn config(input: Value, triggers: Value) -> Value {
        Value::object([("input", input), ("triggers_replace", triggers)])
    }

    /// The engine's proposal: the configuration plus computed attributes from `prior`
    /// (unknown when creating).
    fn proposed(config: &Value, prior: Option<&Value>) -> Value {
        let mut map = config.as_object().unwrap().clone();
        for name in ["id", "output"] {
            let v = prior.map_or(Value::Unknown, |p| p.get(name).clone());
            map.insert(name.into(), v);
        }
        Value::Object(map.into())
    }

    async fn plan(prior: Option<&Value>, config: &Value) -> Value {
        let response = FleetformProvider
            .plan(PlanRequest {
                type_name: TYPE.into(),
                prior: prior.cloned(),
                config: config.clone(),
                proposed: proposed(config, prior),
                cancel: CancellationToken::new(),
            })
            .await
            .unwrap();
        assert!(response.requires_replace.is_empty());
        response.planned
    }

    async fn apply(prior: Option<&Value>, planned: Option<&Value>, config: &Value) -> Value {
        let response = FleetformProvider
            .apply(ApplyRequest {
                type_name: TYPE.into(),
                prior: prior.cloned(),
                planned: planned.cloned(),
                config: config.clone(),
                cancel: CancellationToken::new(),
                resume: None,
                checkpoint: Default::default(),
            })
            .await;
        assert_eq!(response.error, None);
        response.new_state.unwrap_or(Value::Null)
    }

    #[tokio::test]
    async fn create_plans_unknown_id_and_output_equal_to_input_then_draws_a_uuid() {
        let cfg = config(Value::from("v1"), Value::Null);
        let planned = plan(None, &cfg).await;
        assert_eq!(planned.get("id"), &Value::Unknown);
        assert_eq!(planned.get("output"), &Value::from("v1"));
        assert_eq!(planned.get("input"), &Value::from("v1"));

        let state = apply(None, Some(&planned), &cfg).await;
        let id = state.get("id").as_str().unwrap();
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(state.get("output"), &Value::from("v1"));
        assert!(state.is_wholly_known());
    }

    #[tokio::test]
    async fn unknown_input_plans_unknown_output_and_apply_takes_the_known_config() {
        let cfg = config(Value::Unknown, Value::Null);
        let planned = plan(None, &cfg).await;
        assert!(planned.get("output").is_unknown());

        let known = config(Value::from(42), Value::Null);
        let state = apply(None, Some(&planned), &known).await;
        assert_eq!(state.get("output"), &Value::from(42));
    }

    #[tokio::test]
    async fn update_keeps_the_id_and_a_trigger_change_plans_a_new_one() {
        let cfg = config(Value::from("v1"), Value::from("t1"));
        let planned = plan(None, &cfg).await;
        let first = apply(None, Some(&planned), &cfg).await;

        // Same configuration: exactly the prior object.
        assert_eq!(plan(Some(&first), &cfg).await, first);

        // Input changes: updated in place, same id.
        let cfg2 = config(Value::from("v2"), Value::from("t1"));
        let planned = plan(Some(&first), &cfg2).await;
        assert_eq!(planned.get("id"), first.get("id"));
        assert_eq!(planned.get("output"), &Value::from("v2"));
        let second = apply(Some(&first), Some(&planned), &cfg2).await;
        assert_eq!(second.get("id"), first.get("id"));
        assert_eq!(second.get("output"), &Value::from("v2"));

        // Trigger changes: a replacement with a new id.
        let cfg3 = config(Value::from("v2"), Value::from("t2"));
        let planned = plan(Some(&second), &cfg3).await;
        assert_eq!(planned.get("id"), &Value::Unknown);
        let third = apply(None, Some(&planned), &cfg3).await;
        assert_ne!(third.get("id"), second.get("id"));
    }

    #[tokio::test]
    async fn delete_leaves_nothing_and_read_changes_nothing() {
        let cfg = config(Value::from("v1"), Value::Null);
        let planned = plan(None, &cfg).await;
        let state = apply(None, Some(&planned), &cfg).await;

        let read = FleetformProvider
            .read(ReadRequest {
                type_name: TYPE.into(),
                current: state.clone(),
                cancel: CancellationToken::new(),
            })
            .await
            .unwrap();
        assert_eq!(read, Some(state.clone()));

        assert_eq!(apply(Some(&state), None, &Value::Null).await, Value::Null);
    }

    #[tokio::test]
    async fn sensitive_input_stays_sensitive_in_output() {
        let cfg = config(Value::from("s3cret").into_sensitive(), Value::Null);
        let planned = plan(None, &cfg).await;
        assert!(planned.get("output").contains_sensitive());
        let state = apply(None, Some(&planned), &cfg).await;
        assert!(state.get("output").contains_sensitive());
    }

    #[tokio::test]
    async fn import_records_the_id_with_nothing_stored() {
        let state = FleetformProvider
            .import(ImportRequest {
                type_name: TYPE.into(),
                id: "abc-123".into(),
                cancel: CancellationToken::new(),
            })
            .await
            .unwrap();
        assert_eq!(
            state,
            Value::object([
                ("id", Value::from("abc-123")),
                ("input", Value::Null),
                ("output", Value::Null),
                ("triggers_replace", Value::Null),
            ])
        );
    }

    #[test]
    fn schema_matches_terraform_data() {
        let block = schema().block;
        let attr = |n: &str| &block.attributes[n];
        assert_eq!(attr("input").presence, Presence::Optional);
        assert!(!attr("input").force_new);
        assert_eq!(attr("triggers_replace").presence, Presence::Optional);
        assert!(attr("triggers_replace").force_new);
        assert_eq!(attr("output").presence, Presence::Computed);
        assert_eq!(attr("id").presence, Presence::Computed);
        assert_eq!(attr("id").ty, Type::String);
        assert_eq!(attr("input").ty, Type::Any);
    }
}
