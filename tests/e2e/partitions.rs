//! Issue 18's acceptance, through the binary on a real PostgreSQL: a fleet whose state is
//! kept in partitions (`fleet { partitions {} }`, one per site) applied by 20 runners at
//! once, each a share of the sites (`apply -partitions=K/20`), ends equal to one
//! sequential apply; two runs on one partition wait or fail naming the holder and never
//! lose an update; a runner killed with 5 partitions releases them at once, the others
//! finish, and the next run replays its journal; saved plans refuse a partition that
//! moved; migration between one state and partitions keeps the state.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Output, Stdio};

use std::time::{Duration, Instant};

use fleetform_tests::output_text;
use fleetform_tests::remote_state::{Kind, Remote};
use fleetform_tests::services::postgres;

fn ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what}:\n{}", output_text(out));
}

fn pulled(remote: &Remote, dir: &Path) -> serde_json::Value {
    let out = remote.run(dir, &["state", "pull"]);
    ok(&out, "state pull");
    serde_json::from_slice(&out.stdout).expect("state pull prints JSON")
}

/// Every instance of a pulled state by address, with generated ids masked so that two
/// applies of one configuration compare equal.
fn instances(state: &serde_json::Value) -> BTreeMap<String, String> {
    let uuid =
        regex::Regex::new("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let mut out = BTreeMap::new();
    for r in state["resources"].as_array().expect("resources") {
        let module = r["module"]
            .as_str()
            .map(|m| format!("{m}."))
            .unwrap_or_default();
        let base = format!(
            "{module}{}.{}",
            r["type"].as_str().unwrap(),
            r["name"].as_str().unwrap()
        );
        for i in r["instances"].as_array().expect("instances") {
            let key = match &i["index_key"] {
                serde_json::Value::Null => String::new(),
                k => format!("[{k}]"),
            };
            let text = i["attributes"].to_string();
            out.insert(
                format!("{base}{key}"),
                uuid.replace_all(&text, "ID").into_owned(),
            );
        }
    }
    out
}

/// The stored serial of each partition.
fn serials(schema: &str) -> BTreeMap<String, u64> {
    postgres::shared()
        .psql(&format!(
            "SELECT partition || '=' || serial FROM {schema}.states WHERE workspace = 'default' ORDER BY 1"
        ))
        .lines()
        .filter_map(|l| l.rsplit_once('='))
        .map(|(p, s)| (p.to_owned(), s.parse().unwrap()))
        .collect()
}

/// A fleet of `sites` sites of `per_site` instances, changed by `generation`.
fn small_fleet(dir: &Path, remote: &Remote, sites: usize, per_site: usize) {
    fleet_of_sites(dir, remote, sites, per_site, true);
}

/// [`small_fleet`], with or without the root output that reads every site: without it,
/// nothing outside a site reads it (a sealed fleet: runs read only the partitions they
/// select).
fn fleet_of_sites(dir: &Path, remote: &Remote, sites: usize, per_site: usize, root_reads: bool) {
    std::fs::create_dir_all(dir.join("modules/site")).unwrap();
    let output = if root_reads {
        "output \"sites\" {\n  value = length(module.site)\n}\n"
    } else {
        ""
    };
    let names: Vec<String> = (0..sites).map(|i| format!("\"site-{i}\"")).collect();
    std::fs::write(
        dir.join("main.hcl"),
        format!(
            r#"{}
variable "generation" {{
  type    = number
  default = 1
}}

resource "fleetform_data" "core" {{
  input = {{ name = "datacenter", generation = var.generation }}
}}

module "site" {{
  for_each   = toset([{}])
  source     = "./modules/site"
  name       = each.key
  core       = fleetform_data.core.output.name
  generation = var.generation
}}

{}"#,
            remote.fleet_block("partitions {}"),
            names.join(", "),
            output
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("modules/site/main.hcl"),
        format!(
            r#"
variable "name" {{ type = string }}
variable "core" {{ type = string }}
variable "generation" {{ type = number }}

resource "fleetform_data" "node" {{
  count = {per_site}
  input = {{ site = var.name, index = count.index, core = var.core, generation = var.generation }}
}}
"#
        ),
    )
    .unwrap();
}

/// `apply -auto-approve -target=partition:PARTITION` (with `extra` arguments), which must
/// succeed.
fn apply_partition(remote: &Remote, dir: &Path, partition: &str, extra: &[&str], what: &str) {
    let target = format!("-target=partition:{partition}");
    let mut args = vec!["apply", "-auto-approve", "-no-color"];
    args.extend_from_slice(extra);
    args.push(&target);
    ok(&remote.run(dir, &args), what);
}

/// `init` and a first apply of the whole fleet in `dir`: its instances then.
fn init_and_apply(remote: &Remote, dir: &Path) -> BTreeMap<String, String> {
    ok(&remote.init(dir, &[]), "init");
    ok(
        &remote.run(dir, &["apply", "-auto-approve", "-no-color"]),
        "first apply",
    );
    instances(&pulled(remote, dir))
}

/// A saved plan (`site0.plan`) of site-0's partition alone, at generation 2.
fn plan_site0_at_generation_2(remote: &Remote, dir: &Path) -> Output {
    remote.run(
        dir,
        &[
            "plan",
            "-no-color",
            "-var",
            "generation=2",
            "-target=partition:module.site[\"site-0\"]",
            "-out",
            "site0.plan",
        ],
    )
}

/// A run in the background, its output going to files (a pipe nobody reads while it runs
/// would stop it once full).
struct Run {
    child: Child,
    out: tempfile::NamedTempFile,
    err: tempfile::NamedTempFile,
}

impl Run {
    fn wait_with_output(mut self) -> std::io::Result<Output> {
        let status = self.child.wait()?;
        Ok(Output {
            status,
            stdout: std::fs::read(self.out.path())?,
            stderr: std::fs::read(self.err.path())?,
        })
    }
}

fn spawn(remote: &Remote, dir: &Path, args: &[&str]) -> Run {
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    let child = remote
        .command(dir)
        .args(args)
        .stdout(Stdio::from(out.reopen().unwrap()))
        .stderr(Stdio::from(err.reopen().unwrap()))
        .spawn()
        .expect("start fleetform");
    Run { child, out, err }
}

#[test]
fn twenty_runners_apply_disjoint_shares_of_a_2000_site_fleet() {
    let sequential = Remote::new(Kind::Postgres, "parts_sequential");
    let parallel = Remote::new(Kind::Postgres, "parts_parallel");
    let one = tempfile::tempdir().unwrap();
    let many = tempfile::tempdir().unwrap();
    fleetform_tests::fleet_shapes::module_sites(
        one.path(),
        2000,
        &sequential.fleet_block("partitions {}"),
    );
    fleetform_tests::fleet_shapes::module_sites(
        many.path(),
        2000,
        &parallel.fleet_block("partitions {}"),
    );
    ok(&sequential.init(one.path(), &[]), "init");
    ok(&parallel.init(many.path(), &[]), "init");

    let start = Instant::now();
    ok(
        &sequential.run(one.path(), &["apply", "-auto-approve", "-no-color"]),
        "one sequential apply",
    );
    let sequential_time = start.elapsed();

    let start = Instant::now();
    let runners: Vec<Run> = (1..=20)
        .map(|k| {
            let share = format!("-partitions={k}/20");
            spawn(
                &parallel,
                many.path(),
                &[
                    "apply",
                    "-auto-approve",
                    "-no-color",
                    "-lock-timeout=300s",
                    &share,
                ],
            )
        })
        .collect();
    for (k, runner) in runners.into_iter().enumerate() {
        let out = runner.wait_with_output().unwrap();
        ok(&out, &format!("runner {}/20", k + 1));
        assert!(
            output_text(&out).contains("Resources: 1000 added"),
            "runner {} applies its 100 sites of 10 instances:\n{}",
            k + 1,
            output_text(&out)
        );
    }
    let parallel_time = start.elapsed();
    eprintln!(
        "2,000 sites (20,000 instances): one sequential apply {sequential_time:.1?}, 20 runners at once {parallel_time:.1?}"
    );

    let expected = instances(&pulled(&sequential, one.path()));
    let got = instances(&pulled(&parallel, many.path()));
    assert_eq!(got.len(), 20_000);
    assert_eq!(expected.len(), got.len());
    assert!(
        expected == got,
        "the shares together make what one apply makes"
    );
    let stored = serials("parts_parallel");
    assert_eq!(stored.len(), 2001, "a row per site and one for the rest");
    assert!(
        stored
            .iter()
            .filter(|(p, _)| *p != "root")
            .all(|(_, s)| *s == 1),
        "each site written once, by its runner"
    );
    let out = parallel.run(
        many.path(),
        &[
            "plan",
            "-detailed-exitcode",
            "-no-color",
            "-partitions=7/20",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

#[test]
fn two_runs_on_one_partition_wait_or_fail_naming_the_holder_and_lose_no_update() {
    let remote = Remote::new(Kind::Postgres, "parts_contention");
    let dir = tempfile::tempdir().unwrap();
    small_fleet(dir.path(), &remote, 3, 20);
    ok(&remote.init(dir.path(), &[]), "init");
    let target = "-target=partition:module.site[\"site-1\"]";
    // A site reads the datacenter, which nothing applied yet.
    let out = remote.run(dir.path(), &["apply", "-auto-approve", "-no-color", target]);
    assert!(
        !out.status.success()
            && output_text(&out).contains("Partition read before it was applied")
            && output_text(&out).contains("-target=partition:root"),
        "{}",
        output_text(&out)
    );
    ok(
        &remote.run(dir.path(), &["apply", "-auto-approve", "-no-color"]),
        "first apply",
    );
    let before = serials("parts_contention")["module.site[\"site-1\"]"];
    let mut applied = 0;
    let mut refused = 0;
    for attempt in 0..50 {
        let wait = if attempt % 2 == 0 {
            "-lock-timeout=0s"
        } else {
            "-lock-timeout=60s"
        };
        let runs: Vec<Run> = (0..2)
            .map(|i| {
                let var = format!("generation={}", 10 + attempt * 2 + i);
                spawn(
                    &remote,
                    dir.path(),
                    &[
                        "apply",
                        "-auto-approve",
                        "-no-color",
                        wait,
                        target,
                        "-var",
                        &var,
                    ],
                )
            })
            .collect();
        for run in runs {
            let out = run.wait_with_output().unwrap();
            let text = output_text(&out);
            if out.status.success() {
                applied += 1;
            } else {
                assert_eq!(
                    wait, "-lock-timeout=0s",
                    "a waiting run gets the lock:\n{text}"
                );
                assert!(
                    text.contains("is locked by another run")
                        && text.contains("partition module.site[\"site-1\"]")
                        && text.contains("OperationTypeApply"),
                    "a refused run names the partition and its holder:\n{text}"
                );
                refused += 1;
            }
        }
    }
    let after = serials("parts_contention");
    assert_eq!(
        after["module.site[\"site-1\"]"],
        before + applied,
        "every successful run's write is there ({applied} applied, {refused} refused)"
    );
    assert_eq!(after["module.site[\"site-0\"]"], 1, "other sites untouched");
    assert!(applied >= 50, "runs that wait all apply: {applied}");
    eprintln!("50 pairs on one partition: {applied} applied, {refused} refused naming the holder");
}

#[test]
fn a_killed_runner_releases_its_five_partitions_and_its_journal_is_replayed() {
    killed_runner("parts_kill", true);
}

#[test]
fn in_a_sealed_fleet_a_killed_runners_journal_is_replayed_by_a_run_reading_only_its_partitions() {
    killed_runner("parts_kill_sealed", false);
}

/// A runner applying 5 of 9 sites killed while the 4 others apply theirs (`schema`, in a
/// fleet whose root reads every site when `root_reads`).
fn killed_runner(schema: &str, root_reads: bool) {
    let remote = Remote::new(Kind::Postgres, schema);
    let dir = tempfile::tempdir().unwrap();
    fleet_of_sites(dir.path(), &remote, 9, 300, root_reads);
    ok(&remote.init(dir.path(), &[]), "init");
    apply_partition(
        &remote,
        dir.path(),
        "root",
        &[],
        "the rest of the fleet first: every site reads it",
    );
    let mine: Vec<String> = (0..5)
        .map(|i| format!("-target=partition:module.site[\"site-{i}\"]"))
        .collect();
    let mut args: Vec<&str> = vec!["apply", "-auto-approve", "-no-color", "-parallelism=2"];
    args.extend(mine.iter().map(String::as_str));
    let mut victim = spawn(&remote, dir.path(), &args);
    let others: Vec<Run> = (5..9)
        .map(|i| {
            let target = format!("-target=partition:module.site[\"site-{i}\"]");
            spawn(
                &remote,
                dir.path(),
                &[
                    "apply",
                    "-auto-approve",
                    "-no-color",
                    "-lock-timeout=60s",
                    &target,
                ],
            )
        })
        .collect();
    let pg = postgres::shared();
    let recorded = || -> usize {
        pg.psql(
            &format!("SELECT count(*) FROM {schema}.journal WHERE partition LIKE 'module.site[\"site-_\"]' \
             AND partition < 'module.site[\"site-5\"]' AND convert_from(record, 'UTF8') LIKE '{{\"set\"%'"),
        )
        .parse()
        .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while recorded() < 50 {
        assert!(
            Instant::now() < deadline,
            "the runner never recorded a change"
        );
        assert!(
            victim.child.try_wait().unwrap().is_none(),
            "the runner ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    let kept = recorded();
    assert!(kept < 1500, "killed before it finished: {kept}");
    // The database released its locks with its session: a run may take them at once.
    let locks = pg.psql(&format!(
        "SELECT count(*) FROM pg_locks l JOIN {schema}.locks k ON k.backend_pid = l.pid \
         WHERE k.partition LIKE 'module.site%' AND k.partition < 'module.site[\"site-5\"]'"
    ));
    assert_eq!(locks, "0", "no lock of the killed runner survives");
    for (i, other) in others.into_iter().enumerate() {
        let out = other.wait_with_output().unwrap();
        ok(&out, &format!("runner of site-{}", i + 5));
    }
    let listed = remote.run(dir.path(), &["state", "list"]);
    ok(&listed, "state list");
    let mine_listed = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| (0..5).any(|i| l.starts_with(&format!("module.site[\"site-{i}\"]"))))
        .count();
    assert_eq!(
        mine_listed, kept,
        "reading replays the killed runner's journal"
    );
    let mut again: Vec<&str> = vec!["apply", "-auto-approve", "-no-color", "-lock-timeout=0s"];
    again.extend(mine.iter().map(String::as_str));
    let out = remote.run(dir.path(), &again);
    ok(&out, "the next run on the killed runner's partitions");
    assert!(
        output_text(&out).contains(&format!("Resources: {} added", 1500 - kept)),
        "it creates only what the journal did not record ({kept} recorded):\n{}",
        output_text(&out)
    );
    let out = remote.run(dir.path(), &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "converged: {}",
        output_text(&out)
    );
    let total = pg.psql(&format!("SELECT count(*) FROM {schema}.journal"));
    assert_eq!(total, "0", "journals compacted into their partitions");
}

#[test]
fn cross_partition_reads_saved_plans_and_migration() {
    let remote = Remote::new(Kind::Postgres, "parts_reads");
    let dir = tempfile::tempdir().unwrap();
    small_fleet(dir.path(), &remote, 3, 2);
    // Start whole (no partitions block), as a state of an earlier fleetform would be.
    let text = std::fs::read_to_string(dir.path().join("main.hcl")).unwrap();
    std::fs::write(
        dir.path().join("main.hcl"),
        text.replace("partitions {}", ""),
    )
    .unwrap();
    ok(&remote.init(dir.path(), &[]), "init");
    ok(
        &remote.run(dir.path(), &["apply", "-auto-approve", "-no-color"]),
        "apply whole",
    );
    let whole = pulled(&remote, dir.path());
    assert_eq!(serials("parts_reads").keys().collect::<Vec<_>>(), [""]);
    // Declaring partitions asks for the migration, which splits the state.
    std::fs::write(dir.path().join("main.hcl"), &text).unwrap();
    let out = remote.run(dir.path(), &["plan", "-no-color"]);
    assert!(
        !out.status.success() && output_text(&out).contains("init -migrate-state"),
        "{}",
        output_text(&out)
    );
    let out = remote.init(dir.path(), &["-migrate-state"]);
    ok(&out, "init -migrate-state");
    assert!(
        output_text(&out).contains("split into 4 partitions"),
        "{}",
        output_text(&out)
    );
    let split = pulled(&remote, dir.path());
    assert_eq!(split["lineage"], whole["lineage"]);
    assert_eq!(instances(&split), instances(&whole));
    assert_eq!(split["outputs"], whole["outputs"]);
    assert!(split["serial"].as_u64() > whole["serial"].as_u64());
    let list = remote.run(dir.path(), &["partitions", "-json"]);
    ok(&list, "partitions -json");
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let names: Vec<&str> = listed["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "module.site[\"site-0\"]",
            "module.site[\"site-1\"]",
            "module.site[\"site-2\"]",
            "root"
        ]
    );
    assert_eq!(listed["partitions"][0]["instances"], 2);

    // A site reads the datacenter's value as its partition last committed it.
    let site0 = "-target=partition:module.site[\"site-0\"]";
    let out = plan_site0_at_generation_2(&remote, dir.path());
    ok(&out, "plan site-0");
    assert!(
        output_text(&out).contains("2 to change")
            && !output_text(&out).contains("fleetform_data.core"),
        "{}",
        output_text(&out)
    );
    // The datacenter moves on under the saved plan, which read it.
    apply_partition(
        &remote,
        dir.path(),
        "root",
        &["-var", "generation=2"],
        "apply the rest of the fleet",
    );
    let out = remote.run(dir.path(), &["apply", "-no-color", "site0.plan"]);
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("Saved plan is stale")
            && output_text(&out).contains("partition root"),
        "{}",
        output_text(&out)
    );
    // Applied now, site-0 records the serial of the datacenter value it read; when the
    // datacenter moves on, the next plan of site-0 says so.
    ok(
        &remote.run(
            dir.path(),
            &[
                "apply",
                "-auto-approve",
                "-no-color",
                "-var",
                "generation=2",
                site0,
            ],
        ),
        "apply site-0",
    );
    apply_partition(
        &remote,
        dir.path(),
        "root",
        &["-var", "generation=3"],
        "apply the rest of the fleet again",
    );
    let out = remote.run(
        dir.path(),
        &["plan", "-no-color", "-var", "generation=3", site0],
    );
    ok(&out, "plan site-0 again");
    assert!(
        output_text(&out).contains("Values read from other partitions changed")
            && output_text(&out)
                .contains("module.site[\"site-0\"] was last applied with values of partition root"),
        "{}",
        output_text(&out)
    );
    // Show and state pull read every partition into one document.
    let out = remote.run(dir.path(), &["show", "-json"]);
    ok(&out, "show -json");
    assert!(String::from_utf8_lossy(&out.stdout).contains("module.site[\\\"site-2\\\"]"));
    // A state edit writes only the partition it changes.
    let before = serials("parts_reads");
    ok(
        &remote.run(
            dir.path(),
            &[
                "state",
                "rm",
                "module.site[\"site-2\"].fleetform_data.node[1]",
            ],
        ),
        "state rm",
    );
    let after = serials("parts_reads");
    assert_eq!(
        after["module.site[\"site-2\"]"],
        before["module.site[\"site-2\"]"] + 1
    );
    assert_eq!(
        after["module.site[\"site-1\"]"],
        before["module.site[\"site-1\"]"]
    );
    // And back to one state.
    let joined_from = pulled(&remote, dir.path());
    std::fs::write(
        dir.path().join("main.hcl"),
        text.replace("partitions {}", ""),
    )
    .unwrap();
    let out = remote.init(dir.path(), &["-migrate-state"]);
    ok(&out, "init -migrate-state back");
    assert!(
        output_text(&out).contains("joined"),
        "{}",
        output_text(&out)
    );
    assert_eq!(serials("parts_reads").keys().collect::<Vec<_>>(), [""]);
    let joined = pulled(&remote, dir.path());
    assert_eq!(joined["lineage"], whole["lineage"]);
    assert_eq!(instances(&joined), instances(&joined_from));
}

#[test]
fn a_run_over_some_partitions_evaluates_only_those_and_reads_the_others_as_recorded() {
    let remote = Remote::new(Kind::Postgres, "parts_frozen");
    let dir = tempfile::tempdir().unwrap();
    small_fleet(dir.path(), &remote, 3, 2);
    let before = init_and_apply(&remote, dir.path());
    // site-2's configuration now fails to evaluate: only runs that evaluate it may say so.
    let module = dir.path().join("modules/site/main.hcl");
    let text = std::fs::read_to_string(&module).unwrap();
    std::fs::write(
        &module,
        text.replace(
            "generation = var.generation }",
            "generation = var.generation, notes = var.name == \"site-2\" ? file(\"${path.module}/missing\") : \"\" }",
        ),
    )
    .unwrap();
    let whole = remote.run(dir.path(), &["plan", "-no-color"]);
    assert!(
        !whole.status.success() && output_text(&whole).contains("missing"),
        "a plan of the whole fleet evaluates site-2:\n{}",
        output_text(&whole)
    );
    let out = plan_site0_at_generation_2(&remote, dir.path());
    ok(&out, "plan of site-0 alone");
    assert!(
        output_text(&out).contains("2 to change, 0 to destroy"),
        "{}",
        output_text(&out)
    );
    ok(
        &remote.run(dir.path(), &["apply", "-no-color", "site0.plan"]),
        "apply the saved plan of site-0",
    );
    let after = instances(&pulled(&remote, dir.path()));
    for (addr, value) in &after {
        if addr.contains("site-0") {
            assert!(value.contains("\"generation\":2"), "{addr}: {value}");
        } else {
            assert_eq!(Some(value), before.get(addr), "{addr} is as recorded");
        }
    }
    assert_eq!(after.len(), before.len());
}

#[test]
fn a_run_over_some_partitions_of_a_sealed_fleet_reads_only_those() {
    // Nothing outside a site reads it: a run over some sites needs only theirs and `root`.
    let remote = Remote::new(Kind::Postgres, "parts_sealed");
    let dir = tempfile::tempdir().unwrap();
    fleetform_tests::fleet_shapes::module_sites(
        dir.path(),
        6,
        &remote.fleet_block("partitions {}"),
    );
    let before = init_and_apply(&remote, dir.path());
    let vars = dir.path().join("sites.auto.hcl");
    let text = std::fs::read_to_string(&vars).unwrap();
    std::fs::write(
        &vars,
        text.replace("site-0003 = \"region-3\"", "site-0003 = \"moved-3\"")
            .replace("site-0004 = \"region-4\"", "site-0004 = \"moved-4\""),
    )
    .unwrap();
    let site3 = "-target=partition:module.site[\"site-0003\"]";
    let mut plan = remote.command(dir.path());
    plan.env("FLEETFORM_LOG", "debug").args([
        "plan",
        "-no-color",
        "-detailed-exitcode",
        "-out=site3.plan",
        site3,
    ]);
    let out = plan.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reads: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("read partitions") || l.contains("read every partition"))
        .collect();
    assert_eq!(reads.len(), 1, "one read after the selection: {reads:?}");
    assert!(
        reads[0].ends_with("read partitions module.site[\"site-0003\"]"),
        "{reads:?}"
    );
    // Another run writes site-0004 between the plan and its apply: the saved plan of
    // site-0003 neither read it nor needs it.
    apply_partition(
        &remote,
        dir.path(),
        "module.site[\"site-0004\"]",
        &[],
        "apply site-0004",
    );
    ok(
        &remote.run(dir.path(), &["apply", "-no-color", "site3.plan"]),
        "apply the saved plan of site-0003",
    );
    let after = instances(&pulled(&remote, dir.path()));
    assert_eq!(after.len(), before.len());
    for (addr, value) in &after {
        let moved = addr.contains("site-0003") || addr.contains("site-0004");
        if moved && addr.contains(".host[") {
            assert!(value.contains("moved-"), "{addr}: {value}");
        } else if !moved {
            assert_eq!(Some(value), before.get(addr), "{addr} is as recorded");
        }
    }
    let out = remote.run(dir.path(), &["plan", "-no-color", "-detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}
