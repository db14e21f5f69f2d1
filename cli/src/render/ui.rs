//! The machine-readable UI of `plan -json` and `apply -json`: one JSON object per line, in
//! Terraform's shapes (its "machine-readable UI", version 1.2), each with `@level`,
//! `@message`, `@module` (`fleetform.ui`), `@timestamp` and `type`.
//!
//! Values never appear except output values that are not sensitive, as in Terraform.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleetform_planner::addrs::{AbsResourceInstance, InstanceKey, ResourceMode};
use fleetform_planner::apply::progress::{Progress, RolloutEvent};
use fleetform_planner::config::Config;
use fleetform_planner::plan::{Action, Mode, Plan, Reason, ResourceChange};
use fleetform_planner::state::State;
use fleetform_sdk::{Diagnostics, Severity};
use serde_json::{Value, json};

use super::json::{self, TERRAFORM_VERSION, VERSION, key_json, output_action};
use super::progress::{Counts, Flights, InFlight, STILL_RUNNING, Ticker, due, words};
use super::term::{Sink, go_duration, rounded_seconds};

/// The version of the UI message format.
pub const UI_VERSION: &str = "1.2";

/// Streams UI messages to stdout. Creating one prints the `version` message; it is also
/// the apply's [`Progress`], streaming `apply_start`, `apply_progress`, `apply_complete` and
/// `apply_errored`.
pub struct JsonUi {
    inner: Arc<Inner>,
    ticker: Mutex<Option<Ticker>>,
}

struct Inner {
    sink: Sink,
    period: Duration,
    flights: Flights,
    counts: Mutex<Counts>,
}

impl Default for JsonUi {
    fn default() -> JsonUi {
        JsonUi::new()
    }
}

impl JsonUi {
    /// A stream on stdout, starting with the `version` message.
    pub fn new() -> JsonUi {
        let ui = JsonUi::with_sink(Sink::Stdout, STILL_RUNNING);
        ui.version();
        ui
    }

    fn with_sink(sink: Sink, period: Duration) -> JsonUi {
        JsonUi {
            inner: Arc::new(Inner {
                sink,
                period,
                flights: Mutex::new(BTreeMap::new()),
                counts: Mutex::new(Counts::default()),
            }),
            ticker: Mutex::new(None),
        }
    }

    /// A stream into a buffer (no `version` message), reporting still-running changes
    /// every `period`.
    #[cfg(test)]
    pub(crate) fn buffered(period: Duration) -> JsonUi {
        JsonUi::with_sink(Sink::Buffer(Mutex::new(String::new())), period)
    }

    /// The messages written so far (buffered only).
    #[cfg(test)]
    pub(crate) fn output(&self) -> String {
        self.inner.sink.contents()
    }

    /// `version`: `{"terraform": "1.11.0", "fleetform": "0.1.0", "ui": "1.2"}`: the
    /// Terraform version whose messages these are (code written for Terraform reads that
    /// key) beside fleetform's own.
    pub fn version(&self) {
        self.inner.emit(
            "info",
            format!("fleetform {VERSION}"),
            "version",
            [
                ("terraform", json!(TERRAFORM_VERSION)),
                ("fleetform", json!(VERSION)),
                ("ui", json!(UI_VERSION)),
            ],
        );
    }

    /// One `diagnostic` message per diagnostic, at level `error` or `warn`.
    pub fn diagnostics(&self, config: &Config, diags: &Diagnostics) {
        for d in diags {
            let (level, word) = match d.severity {
                Severity::Error => ("error", "Error"),
                Severity::Warning => ("warn", "Warning"),
            };
            self.inner.emit(
                level,
                format!("{word}: {}", d.summary),
                "diagnostic",
                [("diagnostic", json::diagnostic(config, d))],
            );
        }
    }

    /// A plan: `resource_drift` and `planned_change` messages, the `change_summary`
    /// (operation `plan`), and the `outputs` that change.
    pub fn plan(&self, plan: &Plan) {
        for d in plan
            .drift
            .iter()
            .filter(|d| d.action != Action::NoOp || plan.mode == Mode::RefreshOnly)
        {
            let change = change_json(d);
            let action = change["action"].as_str().unwrap_or_default().to_owned();
            self.inner.emit(
                "info",
                format!("{}: Drift detected ({action})", d.addr),
                "resource_drift",
                [("change", change)],
            );
        }
        let (mut add, mut change, mut remove, mut import) = (0, 0, 0, 0);
        for c in &plan.changes {
            if c.action == Action::Delete && c.addr.resource.resource.mode == ResourceMode::Data {
                continue;
            }
            if c.importing.is_some() {
                import += 1;
            }
            match c.action {
                Action::Create => add += 1,
                Action::Update => change += 1,
                Action::Delete => remove += 1,
                Action::DeleteThenCreate | Action::CreateThenDelete => {
                    add += 1;
                    remove += 1;
                }
                Action::NoOp | Action::Read => {}
            }
            let moved = c.previous_addr.as_ref().is_some_and(|p| *p != c.addr);
            if c.action != Action::NoOp || moved || c.importing.is_some() {
                let cj = change_json(c);
                let action = cj["action"].as_str().unwrap_or_default().to_owned();
                self.inner.emit(
                    "info",
                    format!("{}: Plan to {action}", c.addr),
                    "planned_change",
                    [("change", cj)],
                );
            }
        }
        self.change_summary(add, change, remove, import, "plan");
        if !plan.outputs.is_empty() {
            let outputs: serde_json::Map<String, Value> = plan
                .outputs
                .iter()
                .map(|(name, oc)| {
                    let sensitive = oc.sensitive || [&oc.before, &oc.after].into_iter().flatten().any(fleetform_sdk::Value::contains_sensitive);
                    (name.clone(), json!({ "sensitive": sensitive, "action": action_word(output_action(oc), false, false) }))
                })
                .collect();
            self.inner.emit(
                "info",
                format!("Outputs: {}", outputs.len()),
                "outputs",
                [("outputs", Value::Object(outputs))],
            );
        }
    }

    /// The end of an apply: the `change_summary` of what was applied (counted from this
    /// stream's progress events; operation `apply`, or `destroy` for a destroy plan) and the
    /// `outputs` now in the state, values left out where sensitive.
    pub fn applied(&self, plan: &Plan, state: &State) {
        let c = self.inner.counts.lock().map(|c| *c).unwrap_or_default();
        let import = plan
            .changes
            .iter()
            .filter(|c| c.importing.is_some())
            .count();
        let operation = if plan.mode == Mode::Destroy {
            "destroy"
        } else {
            "apply"
        };
        self.change_summary(c.added, c.changed, c.removed, import, operation);
        let outputs: serde_json::Map<String, Value> = state
            .outputs
            .iter()
            .map(|(name, o)| {
                let sensitive = o.sensitive || o.value.contains_sensitive();
                let mut out = serde_json::Map::new();
                out.insert("sensitive".into(), json!(sensitive));
                out.insert("type".into(), json::type_json(&o.value));
                if !sensitive {
                    out.insert("value".into(), o.value.to_json());
                }
                (name.clone(), Value::Object(out))
            })
            .collect();
        self.inner.emit(
            "info",
            format!("Outputs: {}", outputs.len()),
            "outputs",
            [("outputs", Value::Object(outputs))],
        );
    }

    /// `change_summary`, with Terraform's message (`Plan: 1 to add, ...`,
    /// `Apply complete! Resources: ...`, `Destroy complete! Resources: ...`).
    pub fn change_summary(
        &self,
        add: usize,
        change: usize,
        remove: usize,
        import: usize,
        operation: &str,
    ) {
        let imported = |verb: &str| {
            if import > 0 {
                format!("{import} {verb}, ")
            } else {
                String::new()
            }
        };
        let message = match operation {
            "apply" => format!(
                "Apply complete! Resources: {}{add} added, {change} changed, {remove} destroyed.",
                imported("imported")
            ),
            "destroy" => format!("Destroy complete! Resources: {remove} destroyed."),
            "plan" => format!(
                "Plan: {}{add} to add, {change} to change, {remove} to destroy.",
                imported("to import")
            ),
            other => format!("{other}: {add} add, {change} change, {remove} destroy"),
        };
        let changes = json!({ "add": add, "change": change, "import": import, "remove": remove, "operation": operation });
        self.inner
            .emit("info", message, "change_summary", [("changes", changes)]);
    }

    fn ensure_ticker(&self) {
        let Ok(mut t) = self.ticker.lock() else {
            return;
        };
        if t.is_none() {
            let inner = Arc::clone(&self.inner);
            let interval = (self.inner.period / 20)
                .clamp(Duration::from_millis(5), Duration::from_millis(250));
            *t = Some(Ticker::start(interval, move || inner.still_running()));
        }
    }
}

impl Drop for JsonUi {
    fn drop(&mut self) {
        if let Ok(mut t) = self.ticker.lock() {
            t.take();
        }
    }
}

impl Inner {
    /// Writes one message: the `@` fields, then `extra`, then `type`, keys in the sorted
    /// order Terraform's logger writes them.
    fn emit<const N: usize>(
        &self,
        level: &str,
        message: String,
        ty: &str,
        extra: [(&str, Value); N],
    ) {
        let mut fields: BTreeMap<String, Value> = BTreeMap::new();
        fields.insert("@level".into(), json!(level));
        fields.insert("@message".into(), json!(message));
        fields.insert("@module".into(), json!("fleetform.ui"));
        fields.insert("@timestamp".into(), json!(timestamp()));
        fields.insert("type".into(), json!(ty));
        for (k, v) in extra {
            fields.insert(k.into(), v);
        }
        let object: serde_json::Map<String, Value> = fields.into_iter().collect();
        let line = serde_json::to_string(&Value::Object(object)).unwrap_or_default();
        self.sink.write(&format!("{line}\n"));
    }

    fn hook(&self, ty: &str, message: String, hook: Value) {
        self.emit("info", message, ty, [("hook", hook)]);
    }

    fn still_running(&self) {
        for (addr, action, elapsed) in due(&self.flights, self.period) {
            let secs = rounded_seconds(elapsed);
            let (_, still, _) = words(action);
            let hook = json!({ "resource": resource_addr(&addr), "action": action_word(action, false, false), "elapsed_seconds": secs });
            self.hook(
                "apply_progress",
                format!("{addr}: Still {still}... [{} elapsed]", go_duration(secs)),
                hook,
            );
        }
    }

    fn finish(&self, addr: &AbsResourceInstance) -> Option<InFlight> {
        self.flights.lock().ok().and_then(|mut f| f.remove(addr))
    }

    /// `apply_start` of one step (a whole change, or one half of a replacement).
    fn start_step(&self, addr: &AbsResourceInstance, step: Action) {
        if let Ok(mut f) = self.flights.lock() {
            f.insert(
                addr.clone(),
                InFlight {
                    action: step,
                    started: Instant::now(),
                    reports: 0,
                },
            );
        }
        let (verb, _, _) = words(step);
        let hook =
            json!({ "resource": resource_addr(addr), "action": action_word(step, false, false) });
        self.hook("apply_start", format!("{addr}: {verb}..."), hook);
    }
}

/// The step a change starts with: a replacement's first half, else the change itself.
fn first_step(action: Action) -> Action {
    match action {
        Action::DeleteThenCreate => Action::Delete,
        Action::CreateThenDelete => Action::Create,
        other => other,
    }
}

impl Progress for JsonUi {
    /// A replacement streams as Terraform applies one: its two halves in order (delete
    /// then create, or create then delete for `create_before_destroy`), each with its own
    /// start and completion.
    fn start(&self, addr: &AbsResourceInstance, action: Action) {
        self.inner.start_step(addr, first_step(action));
        self.ensure_ticker();
    }

    fn replacement_step(&self, addr: &AbsResourceInstance, finished: Action, elapsed: Duration) {
        self.inner.finish(addr);
        let (_, _, noun) = words(finished);
        let secs = rounded_seconds(elapsed);
        let hook = json!({ "resource": resource_addr(addr), "action": action_word(finished, false, false), "elapsed_seconds": secs });
        self.inner.hook(
            "apply_complete",
            format!("{addr}: {noun} complete after {}", go_duration(secs)),
            hook,
        );
        let next = if finished == Action::Delete {
            Action::Create
        } else {
            Action::Delete
        };
        self.inner.start_step(addr, next);
    }

    fn rollout(&self, event: &RolloutEvent<'_>) {
        let level = match event {
            RolloutEvent::SiteFailed { .. } | RolloutEvent::Halted { .. } => "error",
            _ => "info",
        };
        self.inner
            .emit(level, super::progress::rollout_line(event), "rollout", []);
    }

    fn refresh_start(&self, addr: &AbsResourceInstance) {
        self.inner.emit(
            "info",
            format!("{addr}: Refreshing state..."),
            "refresh_start",
            [("hook", json!({ "resource": resource_addr(addr) }))],
        );
    }

    fn refresh_complete(&self, addr: &AbsResourceInstance, id: Option<&str>) {
        let mut hook = serde_json::Map::new();
        hook.insert("resource".into(), resource_addr(addr));
        let mut suffix = String::new();
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            hook.insert("id_key".into(), json!("id"));
            hook.insert("id_value".into(), json!(id));
            suffix = format!(" [id={id}]");
        }
        self.inner.emit(
            "info",
            format!("{addr}: Refresh complete{suffix}"),
            "refresh_complete",
            [("hook", Value::Object(hook))],
        );
    }

    fn complete(
        &self,
        addr: &AbsResourceInstance,
        action: Action,
        elapsed: Duration,
        id: Option<&str>,
    ) {
        // For a replacement, the second half's own time and action.
        let (step, elapsed) = match self.inner.finish(addr) {
            Some(f) if action.is_replace() => (f.action, f.started.elapsed()),
            _ => (action, elapsed),
        };
        if let Ok(mut c) = self.inner.counts.lock() {
            c.record(action);
        }
        let secs = rounded_seconds(elapsed);
        let (_, _, noun) = words(step);
        let mut hook = serde_json::Map::new();
        hook.insert("resource".into(), resource_addr(addr));
        hook.insert("action".into(), json!(action_word(step, false, false)));
        let mut suffix = String::new();
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            hook.insert("id_key".into(), json!("id"));
            hook.insert("id_value".into(), json!(id));
            suffix = format!(" [id={id}]");
        }
        hook.insert("elapsed_seconds".into(), json!(secs));
        self.inner.hook(
            "apply_complete",
            format!(
                "{addr}: {noun} complete after {}{suffix}",
                go_duration(secs)
            ),
            Value::Object(hook),
        );
    }

    fn errored(&self, addr: &AbsResourceInstance, action: Action, _message: &str) {
        // The error itself follows as a diagnostic, as in Terraform.
        let flight = self.inner.finish(addr);
        let secs = flight
            .as_ref()
            .map_or(0, |f| rounded_seconds(f.started.elapsed()));
        let action = flight.map_or(action, |f| f.action);
        if let Ok(mut c) = self.inner.counts.lock() {
            c.failed += 1;
        }
        let (_, _, noun) = words(action);
        let hook = json!({ "resource": resource_addr(addr), "action": action_word(action, false, false), "elapsed_seconds": secs });
        self.inner.hook(
            "apply_errored",
            format!("{addr}: {noun} errored after {}", go_duration(secs)),
            hook,
        );
    }

    fn skipped(&self, addr: &AbsResourceInstance, action: Action, why: &str) {
        self.inner.finish(addr);
        if let Ok(mut c) = self.inner.counts.lock() {
            c.skipped += 1;
        }
        // Terraform has no message for this; a `log` message says it without a new type.
        let _ = action;
        self.inner
            .emit("info", format!("{addr}: Skipped ({why})"), "log", []);
    }
}

/// RFC 3339 with microseconds, in UTC, as Terraform's logger writes `@timestamp`.
fn timestamp() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// Terraform's `resource` object of UI messages.
pub(crate) fn resource_addr(addr: &AbsResourceInstance) -> Value {
    let r = &addr.resource.resource;
    json!({
        "addr": addr.to_string(),
        "module": addr.module.to_string(),
        "resource": addr.resource.to_string(),
        "implied_provider": implied_provider(r.mode, &r.ty),
        "resource_type": r.ty,
        "resource_name": r.name,
        "resource_key": key_json(&addr.resource.key).unwrap_or(Value::Null),
    })
}

/// The provider a resource type belongs to: the built-in provider that declares it, or
/// (as Terraform infers it) the type name up to its first underscore.
fn implied_provider(mode: ResourceMode, ty: &str) -> String {
    super::plan::builtin_provider(mode, ty).map_or_else(
        || ty.split('_').next().unwrap_or(ty).to_owned(),
        str::to_owned,
    )
}

/// The UI's action word: `create`, `update`, `delete`, `replace`, `read`, `noop`, and for a
/// no-op, `move` or `import`.
fn action_word(action: Action, moved: bool, importing: bool) -> &'static str {
    match action {
        Action::NoOp if moved => "move",
        Action::NoOp if importing => "import",
        Action::NoOp => "noop",
        Action::Create => "create",
        Action::Read => "read",
        Action::Update => "update",
        Action::DeleteThenCreate | Action::CreateThenDelete => "replace",
        Action::Delete => "delete",
    }
}

/// The UI's `reason` for a change.
fn reason_word(c: &ResourceChange) -> Option<&'static str> {
    Some(match c.reason.as_ref()? {
        Reason::ReplaceBecauseTainted => "tainted",
        Reason::ReplaceByRequest => "requested",
        Reason::ReplaceBecauseCannotUpdate => "cannot_update",
        Reason::ReplaceByTriggers(_) => "replace_triggered_by",
        Reason::DeleteBecauseNoResourceConfig => "delete_because_no_resource_config",
        Reason::DeleteBecauseNoModule => "delete_because_no_module",
        Reason::DeleteBecauseNoInstance => match c.addr.resource.key {
            InstanceKey::Int(_) => "delete_because_count_index",
            InstanceKey::Str(_) => "delete_because_each_key",
            InstanceKey::None => "delete_because_wrong_repetition",
        },
        Reason::ReadBecauseConfigUnknown => "read_because_config_unknown",
        Reason::DeleteBecauseDestroyMode => return None,
        Reason::DeleteBecauseDeposed => "delete_because_deposed",
    })
}

/// The `change` object of `planned_change` and `resource_drift`.
fn change_json(c: &ResourceChange) -> Value {
    let moved = c.previous_addr.as_ref().filter(|p| **p != c.addr);
    let mut out = serde_json::Map::new();
    out.insert("resource".into(), resource_addr(&c.addr));
    if let Some(prev) = moved {
        out.insert("previous_resource".into(), resource_addr(prev));
    }
    out.insert(
        "action".into(),
        json!(action_word(
            c.action,
            moved.is_some(),
            c.importing.is_some()
        )),
    );
    if let Some(reason) = reason_word(c) {
        out.insert("reason".into(), json!(reason));
    }
    if let Some(id) = &c.importing {
        out.insert("importing".into(), json!({ "id": id }));
    }
    Value::Object(out)
}

#[cfg(test)]
#[path = "ui_tests.rs"]
mod tests;
