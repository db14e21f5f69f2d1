//! The `host` resource: one machine of the fleet. Creating it connects, verifies the
//! pinned host key, runs the preflight checks and records the host's facts; it installs
//! nothing. Other resources refer to it by `id`.

use std::collections::BTreeMap;

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, Attribute, Block, Diagnostic, Diagnostics, NestedBlock, Nesting,
    PlanRequest, PlanResponse, ProviderError, Schema, Type, Value,
};

use crate::config::Defaults;
use crate::connection::{DEFAULT_PORT, host_id, target};
use crate::facts::Report;
use crate::fleet::{Fleet, HostError, Rerun};
use crate::shell::Shell;
use crate::ssh::Target;
use crate::ssh::host_key::HostKeyPin;

use crate::connection::with_connection;
use crate::facts::with_facts;

/// The schema of `resource "host"`.
pub fn schema() -> Schema {
    let block = Block::new()
        .describe("A machine of the fleet reached over SSH: connection, pinned host key, preflight checks and facts.")
        .attr(
            "address",
            Attribute::required(Type::String)
                .force_new()
                .describe("IP address or DNS name the host is reached at over SSH."),
        )
        .attr(
            "labels",
            Attribute::optional(Type::map(Type::String))
                .describe("Free-form labels for selecting hosts in configuration, e.g. { role = \"worker\" }."),
        )
        .attr(
            "os_family",
            Attribute::optional_computed(Type::String).describe(
                "\"linux\" or \"windows\": which shell runs commands on the host (sh or PowerShell). \
                 Default \"linux\".",
            ),
        )
        .attr(
            "connect_timeout",
            Attribute::optional(Type::String)
                .describe("How long to wait to connect, e.g. \"30s\"; defaults to the provider's."),
        )
        .block("bastion", NestedBlock::new(Nesting::Single, bastion()))
        .block("preflight", NestedBlock::new(Nesting::Single, preflight()));
    Schema::new(with_facts(with_connection(block, "the host")))
}

/// A jump host the connection goes through, like `ssh -J`.
fn bastion() -> Block {
    let block = Block::new()
        .describe("A jump host the SSH connection to the host goes through (like `ssh -J`).")
        .attr(
            "address",
            Attribute::required(Type::String).describe("IP address or DNS name of the bastion."),
        );
    with_connection(block, "the bastion")
}

/// Checks run before anything is installed; a failed check fails the host's apply with
/// every failed check listed.
fn preflight() -> Block {
    Block::new()
        .describe("Checks the host must pass before anything is installed on it, like kubeadm's preflight.")
        .attr(
            "min_memory_mb",
            Attribute::optional(Type::Number).describe("Least total memory in MiB."),
        )
        .attr(
            "min_cpus",
            Attribute::optional(Type::Number).describe("Least number of logical CPUs."),
        )
        .attr(
            "swap_off",
            Attribute::optional(Type::Bool).describe("Require swap to be disabled, as kubelet expects by default."),
        )
        .attr(
            "kernel_modules",
            Attribute::optional(Type::list(Type::String))
                .describe("Kernel modules that must be loaded, e.g. [\"overlay\", \"br_netfilter\"]."),
        )
        .attr(
            "ports_free",
            Attribute::optional(Type::list(Type::Number))
                .describe("TCP ports nothing may listen on yet, e.g. [6443, 10250]."),
        )
        .attr(
            "binaries",
            Attribute::optional(Type::list(Type::String))
                .describe("Programs that must be on PATH, e.g. [\"iptables\", \"conntrack\"]."),
        )
}

/// The shell a host's `os_family` implies.
pub(crate) fn shell_of(object: &Value) -> Shell {
    match object.get("os_family").as_str() {
        Some("windows") => Shell::PowerShell,
        _ => Shell::Posix,
    }
}

/// Checks what the schema cannot: the os family, the port, a parseable pin.
pub(crate) fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if let Some(family) = config.get("os_family").as_str()
        && !["linux", "windows"].contains(&family)
    {
        diags.push(Diagnostic::error(
            "Invalid value for \"os_family\"",
            format!("{family:?} is not an OS family: use \"linux\" or \"windows\"."),
        ));
    }
    for (block, prefix) in [(config, ""), (config.get("bastion"), "bastion.")] {
        if let Some(pin) = block.get("host_key").as_str()
            && let Err(e) = HostKeyPin::parse(pin)
        {
            diags.push(Diagnostic::error(
                format!("Invalid value for \"{prefix}host_key\""),
                format!("{e}."),
            ));
        }
    }
    diags
}

/// The object a configuration describes: defaults filled in, facts from `prior` when the
/// host is the same machine (unknown until apply otherwise).
fn desired(
    config: &Value,
    prior: Option<&Value>,
    defaults: &Defaults,
) -> Result<(Value, Option<Target>), ProviderError> {
    let mut object = config.as_object().cloned().unwrap_or_default();
    let fill = |object: &mut BTreeMap<String, Value>, name: &str, default: Value| {
        if object.get(name).is_none_or(Value::is_null) {
            object.insert(name.into(), default);
        }
    };
    fill(&mut object, "port", Value::Number(DEFAULT_PORT.into()));
    fill(&mut object, "user", Value::from(defaults.user.as_str()));
    fill(&mut object, "os_family", Value::from("linux"));
    let known = config.get("address").is_wholly_known() && config.get("bastion").is_wholly_known();
    let target = if known {
        Some(
            target(&Value::Object(object.clone().into()), defaults)
                .map_err(ProviderError::permanent)?,
        )
    } else {
        None
    };
    // An id made from a sensitive address (or port, or jump host) is as secret as it is.
    let id = target
        .as_ref()
        .map_or(Value::Unknown, |t| Value::from(host_id(t)))
        .derived_from(["address", "port", "bastion"].map(|name| config.get(name)));
    let same_machine = prior.is_some_and(|p| p.get("id").unmark().0 == id.unmark().0);
    for name in crate::facts::NAMES {
        let fact = match prior {
            Some(p) if same_machine => p.get(name).clone(),
            _ => Value::Unknown,
        };
        object.insert(name.into(), fact);
    }
    object.insert("id".into(), id);
    Ok((Value::Object(object.into()), target))
}

/// Plans a host: defaults, its id, and the preflight checks when the host is new or its
/// checks changed. An unreachable host only warns, so the rest of the fleet plans.
pub(crate) async fn plan(
    fleet: &Fleet,
    defaults: &Defaults,
    request: &PlanRequest,
) -> Result<PlanResponse, ProviderError> {
    let (planned, target) = desired(&request.config, request.prior.as_ref(), defaults)?;
    let mut response = PlanResponse::new(planned);
    if let Some(target) = &target {
        // Known from the plan on, so that other providers' plans (a cluster on this host)
        // can check what kind of host it is.
        fleet.register(
            &host_id(target),
            target.clone(),
            shell_of(&response.planned),
        );
    }
    let preflight = request.config.get("preflight").clone();
    let checks_changed = request
        .prior
        .as_ref()
        .is_none_or(|p| p.get("preflight") != &preflight);
    if let Some(target) = target.filter(|_| !preflight.is_null() && checks_changed) {
        let shell = shell_of(&response.planned);
        let described = target.describe();
        match examine(fleet, target, shell, preflight)
            .await
            .map(|(_, failed)| failed)
        {
            Ok(failed) if failed.is_empty() => {}
            Ok(failed) => {
                return Err(ProviderError::permanent(format!(
                    "preflight checks failed on {described}:\n  - {}",
                    failed.join("\n  - ")
                )));
            }
            Err(e) if e.is_unreachable() => response
                .warnings
                .push(format!("preflight checks could not run: {e}")),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(response)
}

/// The host's facts and every preflight check it fails.
async fn examine(
    fleet: &Fleet,
    target: Target,
    shell: Shell,
    preflight: Value,
) -> Result<(Report, Vec<String>), HostError> {
    fleet
        .run_on(target, Rerun::Safe, move |c| {
            let report = crate::facts::gather(c, shell)?;
            let missing = crate::preflight::missing_binaries(c, shell, &preflight)?;
            let failed = crate::preflight::failures(&preflight, &report, &missing);
            Ok((report, failed))
        })
        .await
}

/// Connects (verifying the host key and logging in), runs the preflight checks again and
/// records the facts. A delete forgets the host; nothing on it changes.
pub(crate) async fn apply(
    fleet: &Fleet,
    defaults: &Defaults,
    request: ApplyRequest,
) -> ApplyResponse {
    let Some(planned) = request.planned.as_ref() else {
        return ApplyResponse {
            new_state: None,
            error: None,
        };
    };
    let fail = |e: ProviderError| ApplyResponse {
        new_state: request.prior.clone(),
        error: Some(e),
    };
    let (object, target) = match desired(&request.config, None, defaults) {
        Ok((object, Some(target))) => (object, target),
        Ok((_, None)) => return fail(ProviderError::permanent("the host's address is not known")),
        Err(e) => return fail(e),
    };
    let shell = shell_of(planned);
    let preflight = request.config.get("preflight").clone();
    match examine(fleet, target.clone(), shell, preflight).await {
        Ok((_, failed)) if !failed.is_empty() => fail(ProviderError::permanent(format!(
            "preflight checks failed on {}:\n  - {}",
            target.describe(),
            failed.join("\n  - ")
        ))),
        Ok((report, _)) => {
            let id = host_id(&target);
            fleet.register(&id, target, shell);
            let mut state = object.as_object().cloned().unwrap_or_default();
            report.insert_into(&mut state);
            ApplyResponse {
                new_state: Some(Value::Object(state.into())),
                error: None,
            }
        }
        Err(e) => fail(e.into()),
    }
}

/// Refreshes the facts. Unreachable hosts report it, so the plan keeps their recorded
/// facts and goes on.
pub(crate) async fn read(
    fleet: &Fleet,
    defaults: &Defaults,
    current: Value,
) -> Result<Option<Value>, ProviderError> {
    let target = target(&current, defaults).map_err(ProviderError::permanent)?;
    let shell = shell_of(&current);
    fleet.register(&host_id(&target), target.clone(), shell);
    let mut report = fleet
        .run_on(target, Rerun::Safe, move |c| crate::facts::gather(c, shell))
        .await?;
    let recorded_offset = current.get("time_offset_ms").as_i64();
    report.keep_offset_within_tolerance(recorded_offset);
    let mut state = current.as_object().cloned().unwrap_or_default();
    report.insert_into(&mut state);
    Ok(Some(Value::Object(state.into())))
}

/// Makes a recorded host known to the fleet, so that files and commands on it can run
/// even when the host itself does not change.
pub(crate) fn observe(fleet: &Fleet, defaults: &Defaults, state: &Value) {
    if let Ok(target) = target(state, defaults) {
        fleet.register(&host_id(&target), target, shell_of(state));
    }
}
