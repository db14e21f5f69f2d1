//! The `preflight` block's checks, like kubeadm's: run before anything is installed on a
//! host, at plan time, so a host that cannot run Kubernetes fails the plan, not half an
//! apply.

use fleetform_sdk::Value;

use crate::facts::Report;
use crate::shell::{Invocation, Shell};
use crate::ssh::{Connection, SessionError};

/// Every failed check of `preflight` against the host's report, one line each; empty
/// when the host passes. `missing` lists the required binaries not found on PATH.
pub(crate) fn failures(preflight: &Value, report: &Report, missing: &[String]) -> Vec<String> {
    let mut failed = Vec::new();
    let number = |name: &str| {
        preflight
            .get(name)
            .as_i64()
            .and_then(|n| u64::try_from(n).ok())
    };
    if let Some(min) = number("min_memory_mb")
        && report.memory_mb < min
    {
        failed.push(format!(
            "memory is {} MiB, at least {min} MiB is required",
            report.memory_mb
        ));
    }
    if let Some(min) = number("min_cpus")
        && report.cpus < min
    {
        failed.push(format!("{} CPUs, at least {min} are required", report.cpus));
    }
    if preflight.get("swap_off").as_bool() == Some(true) && report.swap_devices > 0 {
        failed.push(format!(
            "swap is on ({} device(s)); kubelet expects it off (swapoff -a)",
            report.swap_devices
        ));
    }
    for module in preflight.get("kernel_modules").strings() {
        if !report.modules.contains(&module) {
            failed.push(format!(
                "kernel module {module:?} is not loaded (modprobe {module})"
            ));
        }
    }
    for port in preflight.get("ports_free").as_list().unwrap_or_default() {
        let port = port
            .as_i64()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        if report.listening_ports.iter().any(|p| u64::from(*p) == port) {
            failed.push(format!("port {port} is already in use"));
        }
    }
    for binary in missing {
        failed.push(format!("{binary:?} is not on PATH"));
    }
    failed
}

/// The binaries `preflight.binaries` requires that the host lacks.
pub(crate) fn missing_binaries(
    connection: &mut Connection,
    shell: Shell,
    preflight: &Value,
) -> Result<Vec<String>, SessionError> {
    let wanted = preflight.get("binaries").strings();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let invocation = match shell {
        Shell::Posix => {
            // The names arrive as positional parameters, never as code.
            let script =
                "for b in \"$@\"; do command -v -- \"$b\" >/dev/null 2>&1 || echo \"$b\"; done";
            let mut argv = vec![
                "/bin/sh".to_owned(),
                "-c".to_owned(),
                script.to_owned(),
                "sh".to_owned(),
            ];
            argv.extend(wanted.iter().cloned());
            Invocation {
                argv,
                ..Invocation::default()
            }
        }
        Shell::PowerShell => Invocation {
            script: Some(
                wanted
                    .iter()
                    .map(|b| {
                        format!(
                            "if (-not (Get-Command {} -ErrorAction SilentlyContinue)) {{ {} }}\n",
                            crate::shell::ps_quote(b),
                            crate::shell::ps_quote(b)
                        )
                    })
                    .collect(),
            ),
            ..Invocation::default()
        },
    };
    let output = shell.run(
        connection,
        &invocation,
        &[],
        std::time::Duration::from_secs(30),
    )?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_failed_check() {
        let report = Report {
            memory_mb: 1024,
            cpus: 1,
            swap_devices: 1,
            modules: vec!["overlay".into()],
            listening_ports: vec![22, 6443],
            ..Report::default()
        };
        let preflight = Value::object([
            ("min_memory_mb", Value::Number(2048.into())),
            ("min_cpus", Value::Number(2.into())),
            ("swap_off", Value::Bool(true)),
            (
                "kernel_modules",
                Value::List(vec!["overlay".into(), "br_netfilter".into()]),
            ),
            (
                "ports_free",
                Value::List(vec![
                    Value::Number(6443.into()),
                    Value::Number(10250.into()),
                ]),
            ),
        ]);
        let failed = failures(&preflight, &report, &["conntrack".to_owned()]);
        assert_eq!(failed.len(), 6, "{failed:#?}");
        assert!(failed[0].contains("1024 MiB"));
        assert!(failed.iter().any(|f| f.contains("br_netfilter")));
        assert!(failed.iter().any(|f| f.contains("6443")));
        assert!(!failed.iter().any(|f| f.contains("10250")));
        assert!(failures(&Value::Null, &report, &[]).is_empty());
    }
}
