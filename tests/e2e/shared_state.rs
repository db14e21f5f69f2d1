//! Issue 14's acceptance, through the binary as pipelines use it, against real servers:
//! `init -input=false` with `-backend-config`, `plan -out`, `apply FILE` in another process;
//! 50 applies at once; kill -9 of a lock holder; 30 kill -9 at random moments during a
//! 500-resource apply; the journal replayed by the next run. Per backend: PostgreSQL
//! (the database releases a killed run's lock at once) and Azure Blob Storage on Azurite
//! (a killed run's lease ends within its duration).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use fleetform_tests::kill::{KillMoments, files_on_disk, forgotten_files};
use fleetform_tests::output_text;
use fleetform_tests::remote_state::{Kind, Remote};
use fleetform_tests::services::postgres;

fn ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what}:\n{}", output_text(out));
}

/// `count` fleetform_data nodes and `files` local files, all changed by `generation`.
fn fleet(remote: &Remote, count: usize, files: usize, generation: usize) -> String {
    format!(
        r#"{}
variable "generation" {{
  type    = number
  default = {generation}
}}

resource "fleetform_data" "node" {{
  count = {count}
  input = {{ index = count.index, generation = var.generation }}
}}

resource "local_file" "node" {{
  count    = {files}
  filename = "${{path.module}}/out/${{count.index}}.txt"
  content  = "node ${{count.index}} of generation ${{var.generation}}\n"
}}

output "generation" {{
  value = var.generation
}}
"#,
        remote.fleet_block("")
    )
}

fn pulled(remote: &Remote, dir: &Path) -> serde_json::Value {
    let out = remote.run(dir, &["state", "pull"]);
    ok(&out, "state pull");
    serde_json::from_slice(&out.stdout).expect("state pull prints JSON")
}

fn listed(remote: &Remote, dir: &Path) -> Vec<String> {
    let out = remote.run(dir, &["state", "list"]);
    ok(&out, "state list after a kill: the state must read");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Journal records stored now (the kill tests wait for some).
/// How many instances the journal records as set (each change also records that it
/// starts, as a pending operation, before its outcome).
fn journal_records(remote: &Remote, name: &str) -> usize {
    match remote.kind {
        Kind::Postgres => postgres::shared()
            .psql(&format!(
                "SELECT count(*) FROM {name}.journal WHERE convert_from(record, 'UTF8') LIKE '{{\"set\"%'"
            ))
            .parse()
            .unwrap_or(0),
        Kind::Azurerm => fleetform_tests::remote_state::blob(name, "fleet.state.journal")
            .map(|b| {
                b.split(|c| *c == b'\n')
                    .filter(|line| line.starts_with(b"{\"set\""))
                    .count()
            })
            .unwrap_or(0),
        Kind::Local => 0,
    }
}

fn pipeline(kind: Kind, name: &str) {
    let remote = Remote::new(kind, name);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.hcl"), fleet(&remote, 3, 2, 1)).unwrap();
    // Without init, a run refuses to guess where the state is.
    let out = remote.run(dir.path(), &["plan", "-no-color"]);
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("Backend initialization required"),
        "{}",
        output_text(&out)
    );
    ok(&remote.init(dir.path(), &[]), "init");
    let saved = dir.path().join(".fleetform/backend.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "the saved backend configuration may hold secrets"
        );
    }
    ok(
        &remote.run(
            dir.path(),
            &["plan", "-input=false", "-no-color", "-out", "plan.bin"],
        ),
        "plan -out",
    );
    ok(
        &remote.run(
            dir.path(),
            &["apply", "-input=false", "-no-color", "plan.bin"],
        ),
        "apply plan.bin",
    );
    assert!(
        !dir.path().join("fleet.state").exists(),
        "the state is in the backend, not a local file"
    );
    let list = listed(&remote, dir.path());
    assert_eq!(list.len(), 5, "{list:?}");
    let out = remote.run(dir.path(), &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "converged: {}",
        output_text(&out)
    );
    let out = remote.run(dir.path(), &["state", "lock-info"]);
    ok(&out, "lock-info");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is not locked"),
        "{}",
        output_text(&out)
    );
    // state push: a pulled copy is not newer, so only -force pushes it (as a new serial).
    let out = remote.run(dir.path(), &["state", "pull"]);
    std::fs::write(dir.path().join("pulled.json"), &out.stdout).unwrap();
    let serial = pulled(&remote, dir.path())["serial"].as_u64().unwrap();
    let out = remote.run(dir.path(), &["state", "push", "pulled.json"]);
    assert!(
        !out.status.success() && output_text(&out).contains("not newer"),
        "{}",
        output_text(&out)
    );
    ok(
        &remote.run(dir.path(), &["state", "push", "-force", "pulled.json"]),
        "state push -force",
    );
    assert_eq!(
        pulled(&remote, dir.path())["serial"].as_u64().unwrap(),
        serial + 1
    );
    // A second workspace is a separate state.
    ok(
        &remote.run(dir.path(), &["workspace", "new", "staging"]),
        "workspace new",
    );
    ok(
        &remote.run(
            dir.path(),
            &[
                "apply",
                "-auto-approve",
                "-no-color",
                "-var",
                "generation=2",
            ],
        ),
        "apply in staging",
    );
    let out = remote.run(dir.path(), &["workspace", "list"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("  default") && text.contains("* staging"),
        "{text}"
    );
    if kind == Kind::Postgres {
        let rows =
            postgres::shared().psql(&format!("SELECT workspace FROM {name}.states ORDER BY 1"));
        assert_eq!(rows, "default\nstaging", "one row per workspace");
    }
    if kind == Kind::Azurerm {
        assert!(
            fleetform_tests::remote_state::blob(name, "fleet.stateenv:staging").is_some(),
            "Terraform's workspace blob name"
        );
    }
    // A changed backend block is noticed rather than silently starting a new state.
    let text = std::fs::read_to_string(dir.path().join("main.hcl")).unwrap();
    let changed = match kind {
        Kind::Postgres => text.replace(
            &format!("schema_name = \"{name}\""),
            "schema_name = \"elsewhere\"",
        ),
        _ => text.replace("\"fleet.state\"", "\"other.state\""),
    };
    assert_ne!(changed, text);
    std::fs::write(dir.path().join("main.hcl"), changed).unwrap();
    let out = remote.run(dir.path(), &["plan", "-no-color"]);
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("Backend configuration changed"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn postgres_pipeline_init_plan_out_apply_file() {
    pipeline(Kind::Postgres, "pipeline");
}

#[test]
fn azurerm_pipeline_init_plan_out_apply_file() {
    pipeline(Kind::Azurerm, "pipeline");
}

fn fifty_at_once(kind: Kind, name: &str) {
    let remote = Remote::new(kind, name);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.hcl"), fleet(&remote, 1, 0, 0)).unwrap();
    ok(&remote.init(dir.path(), &[]), "init");
    ok(
        &remote.run(dir.path(), &["apply", "-auto-approve", "-no-color"]),
        "first apply",
    );
    let before = pulled(&remote, dir.path())["serial"].as_u64().unwrap();
    let children: Vec<Child> = (1..=50)
        .map(|i| {
            remote
                .command(dir.path())
                .args(["apply", "-auto-approve", "-no-color"])
                // Half give up at once (the holder named), half wait for their turn.
                .arg(if i % 2 == 0 {
                    "-lock-timeout=20s"
                } else {
                    "-lock-timeout=0s"
                })
                .arg(format!("-var=generation={i}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut applied = 0u64;
    let mut refused = 0u64;
    for child in children {
        let out = child.wait_with_output().unwrap();
        // Diagnostics wrap at the terminal's width: compare words.
        let text = output_text(&out)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if out.status.success() {
            assert!(
                text.contains("Apply complete! Resources: 0 added, 1 changed"),
                "{text}"
            );
            applied += 1;
        } else {
            // Refused on the lock, with the holder named (its ID, operation and who).
            assert!(text.contains("locked by another run"), "{text}");
            assert!(text.contains("operation OperationTypeApply, by "), "{text}");
            refused += 1;
        }
    }
    let after = pulled(&remote, dir.path())["serial"].as_u64().unwrap();
    println!(
        "{kind:?}: {applied} applied, {refused} refused on the lock; serial {before} -> {after}"
    );
    assert!(applied >= 1);
    assert_eq!(applied + refused, 50);
    assert_eq!(
        after,
        before + applied,
        "one write per successful apply: no lost update"
    );
    let out = remote.run(dir.path(), &["state", "lock-info"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is not locked"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn postgres_fifty_applies_at_once_lose_no_update() {
    fifty_at_once(Kind::Postgres, "fifty");
}

#[test]
fn azurerm_fifty_applies_at_once_lose_no_update() {
    fifty_at_once(Kind::Azurerm, "fifty");
}

/// Starts an apply of `count` resources and kills it (SIGKILL) once at least `records`
/// changes are in the journal; returns how many were.
fn kill_when_journaled(
    remote: &Remote,
    dir: &Path,
    name: &str,
    records: usize,
    args: &[&str],
) -> usize {
    let mut child = remote
        .command(dir)
        .args(["apply", "-auto-approve", "-no-color", "-parallelism=4"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn apply");
    let start = Instant::now();
    let seen = loop {
        let n = journal_records(remote, name);
        if n >= records {
            break n;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the apply ended before {records} records ({n} seen)"
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no journal records appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    seen
}

fn killed_holder(kind: Kind, name: &str) {
    let remote = Remote::new(kind, name);
    let dir = tempfile::tempdir().unwrap();
    const NODES: usize = 2000;
    std::fs::write(dir.path().join("main.hcl"), fleet(&remote, NODES, 0, 0)).unwrap();
    ok(&remote.init(dir.path(), &[]), "init");
    let seen = kill_when_journaled(&remote, dir.path(), name, 40, &[]);
    assert!(
        seen < NODES,
        "the kill came after the apply had finished ({seen} records)"
    );
    let killed = Instant::now();
    match kind {
        Kind::Postgres => {
            // The database ended the session, and its advisory lock with it.
            let out = remote.run(dir.path(), &["plan", "-lock-timeout=0s", "-no-color"]);
            ok(&out, "a plan right after the kill gets the lock");
        }
        _ => {
            let out = remote.run(dir.path(), &["plan", "-lock-timeout=0s", "-no-color"]);
            assert!(
                output_text(&out).contains("locked by another run"),
                "the lease outlives the kill for a while: {}",
                output_text(&out)
            );
            let out = remote.run(dir.path(), &["plan", "-lock-timeout=40s", "-no-color"]);
            ok(&out, "the lease expires");
            let waited = killed.elapsed();
            // What the plan itself takes (the lock is free now), so that a slow machine
            // does not count as a long lease.
            let timed = Instant::now();
            ok(
                &remote.run(dir.path(), &["plan", "-lock-timeout=0s", "-no-color"]),
                "a plan with the lock free",
            );
            let lease = waited.saturating_sub(timed.elapsed());
            println!("lease ended {lease:?} after the kill ({waited:?} with the plan)");
            assert!(
                lease <= Duration::from_secs(15 + 5),
                "the lease lasts at most its 15 s: {lease:?} ({waited:?} with the plan)"
            );
        }
    }
    // The journal is replayed: everything recorded before the kill is in the state.
    let list = listed(&remote, dir.path());
    assert!(
        list.len() >= seen,
        "{} in state, {seen} journaled before the kill",
        list.len()
    );
    ok(
        &remote.run(dir.path(), &["apply", "-auto-approve", "-no-color"]),
        "the next run finishes",
    );
    let out = remote.run(dir.path(), &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert_eq!(listed(&remote, dir.path()).len(), NODES);
}

#[test]
fn postgres_releases_a_killed_runs_lock_at_once_and_replays_its_journal() {
    killed_holder(Kind::Postgres, "killed");
}

#[test]
fn azurerm_lease_of_a_killed_run_expires_and_its_journal_is_replayed() {
    killed_holder(Kind::Azurerm, "killed");
}

fn files_in_state(list: &[String]) -> BTreeSet<String> {
    list.iter()
        .filter_map(|l| {
            l.strip_prefix("local_file.node[")
                .and_then(|r| r.strip_suffix(']'))
        })
        .map(|i| format!("{i}.txt"))
        .collect()
}

/// A lease left by a killed run is cleared the way an operator would: force-unlock with
/// the ID `state lock-info` shows.
fn clear_lease(remote: &Remote, dir: &Path) {
    let out = remote.run(dir, &["state", "lock-info"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if let Some(id) = text.lines().find_map(|l| l.trim().strip_prefix("ID:")) {
        ok(
            &remote.run(dir, &["force-unlock", "-force", id.trim()]),
            "force-unlock",
        );
    }
}

fn thirty_kills(kind: Kind, name: &str) {
    const DATA: usize = 250;
    const FILES: usize = 250;
    let remote = Remote::new(kind, name);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.hcl"), fleet(&remote, DATA, FILES, 0)).unwrap();
    ok(&remote.init(dir.path(), &[]), "init");
    let started = Instant::now();
    ok(
        &remote.run(dir.path(), &["apply", "-auto-approve", "-no-color"]),
        "calibration apply",
    );
    let full = started.elapsed().max(Duration::from_millis(100));
    let mut moments = KillMoments::new(0x5EED + kind as u64, full, Duration::from_millis(100));
    let (mut kills, mut round) = (0, 0);
    // Rounds whose apply finished before its kill moment do not count: 30 kills in all.
    while kills < 30 {
        assert!(
            round < 90,
            "only {kills} of {round} rounds were killed mid-apply (moments now drawn below {:?})",
            moments.span()
        );
        let (data, files) = if round % 3 == 2 {
            (DATA / 2, FILES / 2)
        } else {
            (DATA, FILES)
        };
        std::fs::write(
            dir.path().join("main.hcl"),
            fleet(&remote, data, files, round + 1),
        )
        .unwrap();
        let mut child = remote
            .command(dir.path())
            .args(["apply", "-auto-approve", "-no-color", "-lock-timeout=30s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn apply");
        if moments.kill(&mut child) {
            kills += 1;
        }
        let list = listed(&remote, dir.path());
        let recorded = files_in_state(&list);
        let on_disk = files_on_disk(dir.path());
        let ghosts: Vec<&String> = recorded.difference(&on_disk).collect();
        // A file recorded in state exists, except one whose delete was in flight.
        assert!(
            ghosts.len() <= 10,
            "round {round}: state records files that are gone: {ghosts:?}"
        );
        let pulled = remote.run(dir.path(), &["state", "pull"]);
        ok(&pulled, "state pull after a kill");
        let pulled: serde_json::Value = serde_json::from_slice(&pulled.stdout).unwrap();
        let forgotten = forgotten_files(dir.path(), &pulled);
        assert!(
            forgotten.is_empty(),
            "round {round}: files created but neither recorded nor pending: {forgotten:?}"
        );
        if kind == Kind::Azurerm {
            clear_lease(&remote, dir.path());
        }
        round += 1;
    }
    println!("{kind:?}: {kills} of {round} applies killed mid-run (a full apply took {full:?})");
    std::fs::write(dir.path().join("main.hcl"), fleet(&remote, DATA, FILES, 99)).unwrap();
    ok(
        &remote.run(dir.path(), &["apply", "-auto-approve", "-no-color"]),
        "the re-apply after the kills",
    );
    let out = remote.run(dir.path(), &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "converged to no changes: {}",
        output_text(&out)
    );
    let expected: BTreeSet<String> = (0..FILES).map(|i| format!("{i}.txt")).collect();
    assert_eq!(
        files_on_disk(dir.path()),
        expected,
        "exactly the configured files exist"
    );
    let list = listed(&remote, dir.path());
    assert_eq!(files_in_state(&list), expected, "and each is recorded once");
    assert_eq!(list.len(), DATA + FILES);
}

#[test]
fn postgres_thirty_kills_during_a_500_resource_apply_lose_nothing() {
    thirty_kills(Kind::Postgres, "kills");
}

#[test]
fn azurerm_thirty_kills_during_a_500_resource_apply_lose_nothing() {
    thirty_kills(Kind::Azurerm, "kills");
}

/// With every log on, neither a sensitive value (as text or as the bytes a driver would
/// print) nor a credential reaches the logs, even with the state unencrypted.
fn trace_logs(kind: Kind, name: &str) {
    let remote = Remote::new(kind, name);
    let dir = tempfile::tempdir().unwrap();
    let canary = format!("canary{}", uuid_like());
    let text = format!(
        "{}\nvariable \"secret\" {{\n  type      = string\n  sensitive = true\n}}\n\nresource \"fleetform_data\" \"s\" {{\n  input = var.secret\n}}\n",
        remote.fleet_block("")
    );
    std::fs::write(dir.path().join("main.hcl"), text).unwrap();
    ok(&remote.init(dir.path(), &[]), "init");
    let mut cmd = remote.command(dir.path());
    cmd.args(["apply", "-auto-approve", "-no-color"])
        .env("FLEETFORM_LOG", "trace,fleetform=trace")
        .env("FLEETFORM_VAR_secret", &canary);
    let out = cmd.output().unwrap();
    ok(&out, "apply with trace logs");
    let logs = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(logs.len() > 1000, "trace logs were written");
    let as_bytes = canary
        .bytes()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    for needle in [
        canary.as_str(),
        as_bytes.as_str(),
        fleetform_tests::services::azurite::ACCOUNT_KEY,
    ] {
        if let Some(at) = logs.find(needle) {
            let line_start = logs[..at].rfind('\n').map_or(0, |i| i + 1);
            panic!(
                "the logs hold {needle:?}: {}",
                &logs[line_start..(at + 80).min(logs.len())]
                    .chars()
                    .take(400)
                    .collect::<String>()
            );
        }
    }
    let mut cmd = remote.command(dir.path());
    cmd.args(["state", "list"])
        .env("FLEETFORM_LOG", "trace,fleetform=trace");
    let out = cmd.output().unwrap();
    ok(&out, "state list with trace logs");
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&as_bytes));
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[test]
fn postgres_trace_logs_hold_no_secret() {
    trace_logs(Kind::Postgres, "logs");
}

#[test]
fn azurerm_trace_logs_hold_no_secret() {
    trace_logs(Kind::Azurerm, "logs");
}

#[test]
fn reconfigure_uses_the_new_backend_and_leaves_the_old_state_alone() {
    let local = Remote::new(Kind::Local, "");
    let pg = Remote::new(Kind::Postgres, "reconfigured");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.hcl"), fleet(&local, 2, 0, 1)).unwrap();
    ok(&local.init(dir.path(), &[]), "init");
    ok(
        &local.run(dir.path(), &["apply", "-auto-approve", "-no-color"]),
        "apply",
    );
    let local_state = std::fs::read(dir.path().join("fleet.state")).unwrap();
    std::fs::write(dir.path().join("main.hcl"), fleet(&pg, 2, 0, 1)).unwrap();
    let out = pg.run(dir.path(), &["plan", "-no-color"]);
    assert!(
        output_text(&out).contains("Backend configuration changed"),
        "{}",
        output_text(&out)
    );
    ok(&pg.init(dir.path(), &["-reconfigure"]), "init -reconfigure");
    // The new backend starts empty: the plan creates everything again.
    let out = pg.run(dir.path(), &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert_eq!(
        std::fs::read(dir.path().join("fleet.state")).unwrap(),
        local_state
    );
    // -backend=false leaves the saved choice as it is.
    ok(
        &pg.run(dir.path(), &["init", "-backend=false", "-no-color"]),
        "init -backend=false",
    );
    ok(
        &pg.run(dir.path(), &["plan", "-no-color"]),
        "still the new backend",
    );
}
