//! Golden tests of the human plan: each expectation is what Terraform prints for the same
//! plan (its `jsonformat` renderer with color off), with "fleetform" for "Terraform".

use std::collections::BTreeMap;
use std::sync::LazyLock;

use fleetform_planner::addrs::{AbsResourceInstance, ResourceMode, parse_abs_resource_instance};
use fleetform_planner::plan::{Action, Mode, OutputChange, Plan, Reason, ResourceChange};
use fleetform_sdk::{Attribute, Block, NestedBlock, Nesting, PathStep, Schema, Type, Value};

use super::render;
use crate::render::Color;

static HOST: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new(
        Block::new()
            .attr("id", Attribute::computed(Type::String))
            .attr("name", Attribute::required(Type::String))
            .attr("address", Attribute::required(Type::String).force_new())
            .attr("labels", Attribute::optional(Type::map(Type::String)))
            .attr("password", Attribute::optional(Type::String).sensitive())
            .attr("ports", Attribute::optional(Type::list(Type::Number)))
            .attr("user_data", Attribute::optional(Type::String))
            .block(
                "disk",
                NestedBlock::new(
                    Nesting::List,
                    Block::new()
                        .attr("size", Attribute::required(Type::Number))
                        .attr("label", Attribute::optional(Type::String)),
                ),
            ),
    )
});

static FACTS: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new(
        Block::new()
            .attr("id", Attribute::computed(Type::String))
            .attr("name", Attribute::required(Type::String))
            .attr("os", Attribute::computed(Type::String)),
    )
});

pub(crate) fn schemas_for_tests(mode: ResourceMode, ty: &str) -> Option<&'static Schema> {
    schemas(mode, ty)
}

fn schemas(mode: ResourceMode, ty: &str) -> Option<&'static Schema> {
    match (mode, ty) {
        (ResourceMode::Managed, "host") => Some(&HOST),
        (ResourceMode::Data, "host_facts") => Some(&FACTS),
        _ => None,
    }
}

pub(crate) fn show(plan: &Plan) -> String {
    render(plan, Color::Off, &schemas)
}

pub(crate) fn addr(s: &str) -> AbsResourceInstance {
    parse_abs_resource_instance(s).unwrap()
}

pub(crate) fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::object(pairs.iter().cloned())
}

pub(crate) fn s(v: &str) -> Value {
    Value::from(v)
}

pub(crate) fn n(v: i64) -> Value {
    Value::from(v)
}

pub(crate) fn secret(v: Value) -> Value {
    v.into_sensitive()
}

pub(crate) fn change(
    address: &str,
    action: Action,
    before: Option<Value>,
    after: Option<Value>,
) -> ResourceChange {
    ResourceChange {
        before,
        after,
        ..ResourceChange::new(addr(address), "provider.host".into(), action)
    }
}

pub(crate) fn plan_of(changes: Vec<ResourceChange>) -> Plan {
    Plan {
        mode: Mode::Normal,
        changes,
        drift: Vec::new(),
        outputs: BTreeMap::new(),
        lineage: "lineage".into(),
        serial: 1,
        variables: BTreeMap::new(),
        interrupted: Vec::new(),
        deposed: Vec::new(),
        timestamp: std::time::UNIX_EPOCH,
        complete: true,
        checks: Vec::new(),
        partitions: BTreeMap::new(),
        rollouts: Vec::new(),
        deferred: BTreeMap::new(),
    }
}

pub(crate) fn web() -> Value {
    obj(&[
        ("id", s("h-1")),
        ("name", s("web")),
        ("address", s("10.0.0.5")),
    ])
}

#[test]
fn create() {
    let after = obj(&[
        ("id", Value::Unknown),
        ("name", s("web")),
        ("address", s("10.0.0.5")),
        ("labels", obj(&[("site", s("north")), ("tier", s("app"))])),
        ("password", Value::Null),
        ("ports", Value::List(vec![n(22), n(443)])),
        ("user_data", Value::Null),
        (
            "disk",
            Value::List(vec![obj(&[("size", n(20)), ("label", s("root"))])]),
        ),
    ]);
    let plan = plan_of(vec![change("host.web", Action::Create, None, Some(after))]);
    assert_eq!(
        show(&plan),
        r#"
fleetform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  + create

fleetform will perform the following actions:

  # host.web will be created
  + resource "host" "web" {
      + address = "10.0.0.5"
      + id      = (known after apply)
      + labels  = {
          + "site" = "north"
          + "tier" = "app"
        }
      + name    = "web"
      + ports   = [
          + 22,
          + 443,
        ]

      + disk {
          + label = "root"
          + size  = 20
        }
    }

Plan: 1 to add, 0 to change, 0 to destroy.
"#
    );
}

#[test]
fn update_with_nested_map_list_and_block_changes() {
    let before = obj(&[
        ("id", s("h-1")),
        ("name", s("web")),
        ("address", s("10.0.0.5")),
        (
            "labels",
            obj(&[("site", s("south")), ("tier", s("app")), ("old", s("x"))]),
        ),
        ("ports", Value::List(vec![n(22), n(80), n(443)])),
        (
            "disk",
            Value::List(vec![obj(&[("size", n(20)), ("label", s("root"))])]),
        ),
    ]);
    let after = obj(&[
        ("id", s("h-1")),
        ("name", s("web")),
        ("address", s("10.0.0.5")),
        (
            "labels",
            obj(&[("site", s("north")), ("tier", s("app")), ("zone", s("a"))]),
        ),
        ("ports", Value::List(vec![n(22), n(8080), n(443)])),
        (
            "disk",
            Value::List(vec![obj(&[("size", n(40)), ("label", s("root"))])]),
        ),
    ]);
    let plan = plan_of(vec![change(
        "host.web",
        Action::Update,
        Some(before),
        Some(after),
    )]);
    assert_eq!(
        show(&plan),
        r#"
fleetform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  ~ update in-place

fleetform will perform the following actions:

  # host.web will be updated in-place
  ~ resource "host" "web" {
        id      = "h-1"
      ~ labels  = {
          - "old"  = "x" -> null
          ~ "site" = "south" -> "north"
          + "zone" = "a"
            # (1 unchanged element hidden)
        }
        name    = "web"
      ~ ports   = [
            22,
          - 80,
          + 8080,
            443,
        ]
        # (1 unchanged attribute hidden)

      ~ disk {
          ~ size  = 20 -> 40
            # (1 unchanged attribute hidden)
        }
    }

Plan: 0 to add, 1 to change, 0 to destroy.
"#
    );
}

#[test]
fn multiline_strings_diff_by_line() {
    let mut before = web();
    let mut after = web();
    if let (Value::Object(b), Value::Object(a)) = (&mut before, &mut after) {
        b.insert("user_data".into(), s("#!/bin/sh\necho one\necho two\n"));
        a.insert("user_data".into(), s("#!/bin/sh\necho 1\necho two\n"));
    }
    let plan = plan_of(vec![change(
        "host.web",
        Action::Update,
        Some(before),
        Some(after),
    )]);
    let out = show(&plan);
    assert!(
        out.contains(
            r#"
      ~ user_data = <<-EOT
            #!/bin/sh
          - echo one
          + echo 1
            echo two
        EOT
"#
        ),
        "{out}"
    );
}

#[test]
fn replace_with_forces_replacement() {
    let after = obj(&[
        ("id", Value::Unknown),
        ("name", s("web")),
        ("address", s("10.0.0.6")),
    ]);
    let mut c = change(
        "host.web",
        Action::DeleteThenCreate,
        Some(web()),
        Some(after),
    );
    c.reason = Some(Reason::ReplaceBecauseCannotUpdate);
    c.replace_paths = vec![vec![PathStep::Attr("address".into())]];
    let mut tainted = change(
        "host.db",
        Action::CreateThenDelete,
        Some(obj(&[("id", s("h-2")), ("name", s("db"))])),
        Some(obj(&[("id", Value::Unknown), ("name", s("db"))])),
    );
    tainted.reason = Some(Reason::ReplaceBecauseTainted);
    let mut requested = change(
        "host.app",
        Action::DeleteThenCreate,
        Some(obj(&[("id", s("h-3"))])),
        Some(obj(&[("id", Value::Unknown)])),
    );
    requested.reason = Some(Reason::ReplaceByRequest);
    let mut triggered = change(
        "host.lb",
        Action::DeleteThenCreate,
        Some(obj(&[("id", s("h-4"))])),
        Some(obj(&[("id", Value::Unknown)])),
    );
    triggered.reason = Some(Reason::ReplaceByTriggers("host.web.id".into()));
    let plan = plan_of(vec![requested, tainted, triggered, c]);
    assert_eq!(
        show(&plan),
        r#"
fleetform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
-/+ destroy and then create replacement
+/- create replacement and then destroy

fleetform will perform the following actions:

  # host.app will be replaced, as requested
-/+ resource "host" "app" {
      ~ id = "h-3" -> (known after apply)
    }

  # host.db is tainted, so must be replaced
+/- resource "host" "db" {
      ~ id   = "h-2" -> (known after apply)
        name = "db"
    }

  # host.lb will be replaced due to changes in replace_triggered_by
-/+ resource "host" "lb" {
      ~ id = "h-4" -> (known after apply)
    }

  # host.web must be replaced
-/+ resource "host" "web" {
      ~ address = "10.0.0.5" -> "10.0.0.6" # forces replacement
      ~ id      = "h-1" -> (known after apply)
        name    = "web"
    }

Plan: 4 to add, 0 to change, 4 to destroy.
"#
    );
}

#[test]
fn delete_with_each_reason() {
    let gone = |a: &str, reason: Option<Reason>| {
        let mut c = change(
            a,
            Action::Delete,
            Some(obj(&[("id", s("h-9")), ("name", s("old"))])),
            None,
        );
        c.reason = reason;
        c
    };
    let plan = plan_of(vec![
        gone("host.each[\"x\"]", Some(Reason::DeleteBecauseNoInstance)),
        gone("host.old", Some(Reason::DeleteBecauseNoResourceConfig)),
        gone("host.single", Some(Reason::DeleteBecauseNoInstance)),
        gone("host.web[2]", Some(Reason::DeleteBecauseNoInstance)),
        gone(
            "module.gone[\"a\"].host.x",
            Some(Reason::DeleteBecauseNoModule),
        ),
        gone("module.kept.host.y", Some(Reason::DeleteBecauseDestroyMode)),
    ]);
    assert_eq!(
        show(&plan),
        r#"
fleetform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  - destroy

fleetform will perform the following actions:

  # host.each["x"] will be destroyed
  # (because key ["x"] is not in for_each map)
  - resource "host" "each" {
      - id   = "h-9" -> null
      - name = "old" -> null
    }

  # host.old will be destroyed
  # (because host.old is not in configuration)
  - resource "host" "old" {
      - id   = "h-9" -> null
      - name = "old" -> null
    }

  # host.single will be destroyed
  # (because resource uses count or for_each)
  - resource "host" "single" {
      - id   = "h-9" -> null
      - name = "old" -> null
    }

  # host.web[2] will be destroyed
  # (because index [2] is out of range for count)
  - resource "host" "web" {
      - id   = "h-9" -> null
      - name = "old" -> null
    }

  # module.gone["a"].host.x will be destroyed
  # (because module.gone["a"] is not in configuration)
  - resource "host" "x" {
      - id   = "h-9" -> null
      - name = "old" -> null
    }

  # module.kept.host.y will be destroyed
  - resource "host" "y" {
      - id   = "h-9" -> null
      - name = "old" -> null
    }

Plan: 0 to add, 0 to change, 6 to destroy.
"#
    );
}

#[test]
fn read_during_apply() {
    let mut c = change(
        "data.host_facts.web",
        Action::Read,
        None,
        Some(obj(&[
            ("id", Value::Unknown),
            ("name", s("web")),
            ("os", Value::Unknown),
        ])),
    );
    c.reason = Some(Reason::ReadBecauseConfigUnknown);
    let gone = change(
        "data.host_facts.old",
        Action::Delete,
        Some(obj(&[("id", s("f"))])),
        None,
    );
    let plan = plan_of(vec![gone, c]);
    assert_eq!(
        show(&plan),
        r#"
fleetform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
 <= read (data resources)

fleetform will perform the following actions:

  # data.host_facts.web will be read during apply
  # (config refers to values not yet known)
 <= data "host_facts" "web" {
      + id   = (known after apply)
      + name = "web"
      + os   = (known after apply)
    }

Plan: 0 to add, 0 to change, 0 to destroy.
"#
    );
}

#[test]
fn move_and_move_with_update() {
    let mut moved = change("host.web", Action::NoOp, Some(web()), Some(web()));
    moved.previous_addr = Some(addr("host.old"));
    let mut after = web();
    if let Value::Object(m) = &mut after {
        m.insert("name".into(), s("api"));
    }
    let mut updated = change(
        "module.a.host.api",
        Action::Update,
        Some(web()),
        Some(after),
    );
    updated.previous_addr = Some(addr("host.api"));
    let plan = plan_of(vec![moved, updated]);
    assert_eq!(
        show(&plan),
        r#"
fleetform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  ~ update in-place

fleetform will perform the following actions:

  # host.old has moved to host.web
    resource "host" "web" {
        id      = "h-1"
        name    = "web"
        # (1 unchanged attribute hidden)
    }

  # module.a.host.api will be updated in-place
  # (moved from host.api)
  ~ resource "host" "api" {
        id      = "h-1"
      ~ name    = "web" -> "api"
        # (1 unchanged attribute hidden)
    }

Plan: 0 to add, 1 to change, 0 to destroy.
"#
    );
}

#[test]
fn import() {
    let mut imported = change("host.web", Action::NoOp, Some(web()), Some(web()));
    imported.importing = Some("h-1".into());
    let mut replaced = change(
        "host.db",
        Action::CreateThenDelete,
        Some(obj(&[("id", s("h-2"))])),
        Some(obj(&[("id", Value::Unknown)])),
    );
    replaced.importing = Some("h-2".into());
    let plan = plan_of(vec![replaced, imported]);
    assert_eq!(
        show(&plan),
        r#"
fleetform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
+/- create replacement and then destroy

fleetform will perform the following actions:

  # host.db must be replaced
  # (imported from "h-2")
  # Warning: this will destroy the imported resource
+/- resource "host" "db" {
      ~ id = "h-2" -> (known after apply)
    }

  # host.web will be imported
    resource "host" "web" {
        address = "10.0.0.5"
        id      = "h-1"
        name    = "web"
    }

Plan: 2 to import, 1 to add, 0 to change, 1 to destroy.
"#
    );
}

fn output(before: Option<Value>, after: Option<Value>, sensitive: bool) -> OutputChange {
    OutputChange {
        before,
        after,
        sensitive,
    }
}

#[test]
fn outputs() {
    let mut plan = plan_of(vec![change(
        "host.web",
        Action::Create,
        None,
        Some(obj(&[("id", Value::Unknown), ("name", s("web"))])),
    )]);
    plan.outputs
        .insert("ip".into(), output(None, Some(Value::Unknown), false));
    plan.outputs
        .insert("name".into(), output(Some(s("a")), Some(s("b")), false));
    plan.outputs
        .insert("old".into(), output(Some(s("x")), None, false));
    plan.outputs
        .insert("same".into(), output(Some(s("v")), Some(s("v")), false));
    plan.outputs
        .insert("token".into(), output(None, Some(s("s3cr3t-canary")), true));
    plan.outputs.insert(
        "site".into(),
        output(
            None,
            Some(obj(&[
                ("region", s("north")),
                ("hosts", Value::List(vec![s("a")])),
            ])),
            false,
        ),
    );
    assert_eq!(
        show(&plan),
        r#"
fleetform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  + create

fleetform will perform the following actions:

  # host.web will be created
  + resource "host" "web" {
      + id   = (known after apply)
      + name = "web"
    }

Plan: 1 to add, 0 to change, 0 to destroy.

Changes to Outputs:
  + ip    = (known after apply)
  ~ name  = "a" -> "b"
  - old   = "x" -> null
  + site  = {
      + hosts  = [
          + "a",
        ]
      + region = "north"
    }
  + token = (sensitive value)
"#
    );
}

#[test]
fn outputs_only() {
    let mut plan = plan_of(vec![change(
        "host.web",
        Action::NoOp,
        Some(web()),
        Some(web()),
    )]);
    plan.outputs
        .insert("name".into(), output(None, Some(s("web")), false));
    assert_eq!(
        show(&plan),
        r#"
Changes to Outputs:
  + name = "web"

You can apply this plan to save these new output values to the fleetform
state, without changing any real infrastructure.
"#
    );
}

#[test]
fn no_changes() {
    let mut plan = plan_of(vec![change(
        "host.web",
        Action::NoOp,
        Some(web()),
        Some(web()),
    )]);
    plan.outputs
        .insert("same".into(), output(Some(s("v")), Some(s("v")), false));
    assert_eq!(
        show(&plan),
        r#"
No changes. Your infrastructure matches the configuration.

fleetform has compared your real infrastructure against your configuration
and found no differences, so no changes are needed.
"#
    );
    plan.mode = Mode::RefreshOnly;
    assert_eq!(
        show(&plan),
        r#"
No changes. Your infrastructure still matches the configuration.

fleetform has checked that the real remote objects still match the result of
your most recent changes, and found no differences.
"#
    );
    plan.mode = Mode::Destroy;
    assert_eq!(
        show(&plan),
        r#"
No changes. No objects need to be destroyed.

Either you have not created any objects yet or the existing objects were
already deleted outside of fleetform.
"#
    );
}

#[test]
fn drift_then_changes() {
    let before = obj(&[
        ("id", s("h-1")),
        ("name", s("web")),
        ("address", s("10.0.0.5")),
        ("labels", obj(&[])),
    ]);
    let now = obj(&[
        ("id", s("h-1")),
        ("name", s("web")),
        ("address", s("10.0.0.5")),
        ("labels", obj(&[("site", s("north"))])),
    ]);
    let mut plan = plan_of(vec![change(
        "host.web",
        Action::Update,
        Some(now.clone()),
        Some(before.clone()),
    )]);
    plan.drift = vec![
        change(
            "host.gone",
            Action::Delete,
            Some(obj(&[("id", s("h-2"))])),
            None,
        ),
        change("host.web", Action::Update, Some(before), Some(now)),
    ];
    assert_eq!(
        show(&plan),
        r#"
Note: Objects have changed outside of fleetform

fleetform detected the following changes made outside of fleetform since the
last "fleetform apply" which may have affected this plan:

  # host.gone has been deleted
  - resource "host" "gone" {
      - id = "h-2" -> null
    }

  # host.web has changed
  ~ resource "host" "web" {
        id      = "h-1"
      ~ labels  = {
          + "site" = "north"
        }
        name    = "web"
        # (1 unchanged attribute hidden)
    }


Unless you have made equivalent changes to your configuration, or ignored the
relevant attributes using ignore_changes, the following plan may include
actions to undo or respond to these changes.

─────────────────────────────────────────────────────────────────────────────

fleetform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  ~ update in-place

fleetform will perform the following actions:

  # host.web will be updated in-place
  ~ resource "host" "web" {
        id      = "h-1"
      ~ labels  = {
          - "site" = "north" -> null
        }
        name    = "web"
        # (1 unchanged attribute hidden)
    }

Plan: 0 to add, 1 to change, 0 to destroy.
"#
    );
}

#[test]
fn refresh_only_drift() {
    let mut plan = plan_of(vec![change(
        "host.web",
        Action::NoOp,
        Some(web()),
        Some(web()),
    )]);
    plan.mode = Mode::RefreshOnly;
    plan.drift = vec![change(
        "host.gone",
        Action::Delete,
        Some(obj(&[("id", s("h-2"))])),
        None,
    )];
    assert_eq!(
        show(&plan),
        r#"
Note: Objects have changed outside of fleetform

fleetform detected the following changes made outside of fleetform since the
last "fleetform apply" which may have affected this plan:

  # host.gone has been deleted
  - resource "host" "gone" {
      - id = "h-2" -> null
    }


This is a refresh-only plan, so fleetform will not take any actions to undo
these. If you were expecting these changes then you can apply this plan to
record the updated values in the fleetform state without changing any remote
objects.
"#
    );
}

#[test]
fn resources_without_a_schema_render_as_dynamic_values() {
    let after = obj(&[
        ("id", Value::Unknown),
        ("spec", obj(&[("replicas", n(3)), ("dns:name", s("a"))])),
        ("empty", Value::Null),
    ]);
    let plan = plan_of(vec![change(
        "cluster.main",
        Action::Create,
        None,
        Some(after),
    )]);
    let out = show(&plan);
    assert!(
        out.contains(
            r#"
  + resource "cluster" "main" {
      + id   = (known after apply)
      + spec = {
          + "dns:name" = "a"
          + replicas   = 3
        }
    }
"#
        ),
        "{out}"
    );
}

#[test]
fn json_strings_render_as_jsonencode() {
    let before = obj(&[("id", s("h-1")), ("user_data", s(r#"{"a": 1, "b": "x"}"#))]);
    let after = obj(&[("id", s("h-1")), ("user_data", s(r#"{"a": 2, "b": "x"}"#))]);
    let out = show(&plan_of(vec![change(
        "host.web",
        Action::Update,
        Some(before),
        Some(after),
    )]));
    assert!(
        out.contains(
            r#"
      ~ user_data = jsonencode(
          ~ {
              ~ a = 1 -> 2
                # (1 unchanged attribute hidden)
            }
        )
"#
        ),
        "{out}"
    );
}

#[test]
fn sensitivity_changes_warn() {
    let before = obj(&[("id", s("h-1")), ("user_data", s("plain"))]);
    let after = obj(&[("id", s("h-1")), ("user_data", secret(s("plain")))]);
    let out = show(&plan_of(vec![change(
        "host.web",
        Action::Update,
        Some(before),
        Some(after),
    )]));
    assert!(
        out.contains(
            "      # Warning: this attribute value will be marked as sensitive and will not\n      # display in UI output after applying this change. The value is unchanged.\n      ~ user_data = (sensitive value)\n"
        ),
        "{out}"
    );
}

#[test]
fn color_changes_nothing_but_escapes() {
    let mut c = change(
        "host.web",
        Action::DeleteThenCreate,
        Some(web()),
        Some(obj(&[
            ("id", Value::Unknown),
            ("name", s("web")),
            ("address", s("10.0.0.6")),
        ])),
    );
    c.replace_paths = vec![vec![PathStep::Attr("address".into())]];
    let mut plan = plan_of(vec![c]);
    plan.outputs
        .insert("ip".into(), output(None, Some(Value::Unknown), false));
    let colored = render(&plan, Color::On, &schemas);
    assert!(colored.contains("\x1b["));
    assert!(colored.contains("\x1b[31m# forces replacement\x1b[0m"));
    assert_eq!(strip_ansi(&colored), show(&plan));
}

pub(crate) fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The canary plan: secrets everywhere a value can be.
pub(crate) fn canary_plan() -> Plan {
    let before = obj(&[
        ("id", s("h-1")),
        ("name", s("web")),
        ("address", s("10.0.0.5")),
        ("password", secret(s("CANARY-before-attr"))),
        (
            "labels",
            obj(&[
                ("team", s("ops")),
                ("token", secret(s("CANARY-before-map"))),
            ]),
        ),
        ("user_data", s("plain-before")),
    ]);
    let after = obj(&[
        ("id", s("h-1")),
        ("name", s("web")),
        ("address", s("10.0.0.5")),
        ("password", secret(s("CANARY-after-attr"))),
        (
            "labels",
            obj(&[
                ("team", s("ops")),
                ("token", secret(s("CANARY-after-map"))),
                ("new", secret(s("CANARY-new-map"))),
            ]),
        ),
        ("ports", Value::List(vec![n(22), secret(n(31337))])),
        (
            "user_data",
            secret(s("{\"k\": \"CANARY-json\"}\nCANARY-multiline")),
        ),
    ]);
    let created = obj(&[
        ("id", Value::Unknown),
        ("name", s("db")),
        ("address", s("10.0.0.7")),
        ("password", s("CANARY-schema-unmarked")),
        (
            "disk",
            Value::List(vec![obj(&[
                ("size", n(20)),
                ("label", secret(s("CANARY-block"))),
            ])]),
        ),
    ]);
    let nested = obj(&[("spec", obj(&[("key", secret(s("CANARY-dynamic")))]))]);
    let mut plan = plan_of(vec![
        change("cluster.main", Action::Create, None, Some(nested)),
        change("host.db", Action::Create, None, Some(created)),
        change(
            "host.gone",
            Action::Delete,
            Some(obj(&[
                ("id", s("h-9")),
                ("password", secret(s("CANARY-deleted"))),
            ])),
            None,
        ),
        change(
            "host.web",
            Action::Update,
            Some(before.clone()),
            Some(after),
        ),
    ]);
    plan.drift = vec![change(
        "host.web",
        Action::Update,
        Some(obj(&[
            ("id", s("h-1")),
            ("password", secret(s("CANARY-drift-old"))),
        ])),
        Some(before),
    )];
    plan.outputs.insert(
        "declared".into(),
        output(
            Some(s("CANARY-out-before")),
            Some(s("CANARY-out-after")),
            true,
        ),
    );
    plan.outputs.insert(
        "marked".into(),
        output(
            None,
            Some(obj(&[("k", secret(s("CANARY-out-marked")))])),
            false,
        ),
    );
    plan.outputs.insert(
        "gone".into(),
        output(Some(secret(s("CANARY-out-gone"))), None, false),
    );
    plan
}

#[test]
fn canary_secrets_never_appear_in_the_human_plan() {
    let plan = canary_plan();
    for color in [Color::Off, Color::On] {
        let out = render(&plan, color, &schemas);
        assert!(!out.contains("CANARY"), "{out}");
        assert!(!out.contains("31337"), "{out}");
        assert!(out.contains("(sensitive value)"));
    }
    // With the real (built-in) schemas too: nothing depends on the test schema for safety.
    let out = super::plan(&plan, Color::Off);
    assert!(!out.contains("CANARY") && !out.contains("31337"), "{out}");
}

#[test]
fn canary_layout() {
    let out = show(&canary_plan());
    assert!(
        out.contains(
            r#"  # host.web will be updated in-place
  ~ resource "host" "web" {
        id        = "h-1"
      ~ labels    = {
          + "new"   = (sensitive value)
          ~ "token" = (sensitive value)
            # (1 unchanged element hidden)
        }
        name      = "web"
      ~ password  = (sensitive value)
      + ports     = [
          + 22,
          + (sensitive value),
        ]
      # Warning: this attribute value will be marked as sensitive and will not
      # display in UI output after applying this change.
      ~ user_data = (sensitive value)
        # (1 unchanged attribute hidden)
    }
"#
        ),
        "{out}"
    );
    assert!(
        out.contains(
            r#"      + disk {
          + label = (sensitive value)
          + size  = 20
        }
"#
        ),
        "{out}"
    );
    assert!(
        out.contains("  + declared = (sensitive value)\n")
            || out.contains("  ~ declared = (sensitive value)\n"),
        "{out}"
    );
    assert!(
        out.contains("  - gone     = (sensitive value) -> null\n"),
        "{out}"
    );
    assert!(
        out.contains("  + marked   = {\n      + k = (sensitive value)\n    }\n"),
        "{out}"
    );
}
