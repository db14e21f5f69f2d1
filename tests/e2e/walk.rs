//! The instance-level walk on the lab's real sshd hosts: a slow site holds back only its
//! own work; instances that fail the same way are reported one by one; an unchanged fleet
//! plans no changes however often it is planned. Changes go the way pipelines make them:
//! `plan -out`, then `apply PLANFILE` in another process. Needs root (the lab).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use fleetform_tests::lab::{Lab, LabSpec};
use fleetform_tests::output_text as text;
use fleetform_tests::run_in;

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run_in(dir, args);
    assert!(
        out.status.success(),
        "fleetform {args:?} failed:\n{}",
        text(&out)
    );
    text(&out)
}

/// One module instance per lab host, as a fleet of sites is written: the host, a file on
/// it and a command that runs when the release changes.
fn sites(dir: &Path, lab: &Lab) {
    std::fs::create_dir_all(dir.join("modules/site")).unwrap();
    std::fs::write(dir.join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    std::fs::write(
        dir.join("main.hcl"),
        r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}
variable "release" {
  type    = string
  default = "1"
}

provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "5s"
}

module "site" {
  for_each = var.lab.hosts
  source   = "./modules/site"
  name     = each.key
  address  = each.value.address
  port     = each.value.port
  host_key = each.value.host_key
  release  = var.release
}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("modules/site/main.hcl"),
        r#"
variable "name" { type = string }
variable "address" { type = string }
variable "port" { type = number }
variable "host_key" { type = string }
variable "release" { type = string }

resource "host" "this" {
  address  = var.address
  port     = var.port
  host_key = var.host_key
}

resource "host_file" "config" {
  host    = host.this.id
  path    = "/etc/kubernetes/fleet/site.conf"
  content = "site: ${var.name}\nrelease: ${var.release}\n"
}

resource "host_command" "install" {
  host       = host.this.id
  command    = ["sh", "-c", "echo \"install $1\" >> /etc/kubernetes/fleet/installs", "sh", var.release]
  triggers   = { release = var.release }
  depends_on = [host_file.config]
}
"#,
    )
    .unwrap();
}

/// Plans a change of the release and applies the saved plan with the `-json` UI; returns
/// for each site how long after the first event its last change completed.
fn timed_release(dir: &Path, release: &str) -> BTreeMap<String, Duration> {
    let var = format!("-var=release={release}");
    ok(dir, &["plan", "-input=false", &var, "-out=release.plan"]);
    let out = run_in(dir, &["apply", "-input=false", "-json", "release.plan"]);
    assert!(
        out.status.success(),
        "apply of the saved plan:\n{}",
        text(&out)
    );
    let mut first = None;
    let mut done: BTreeMap<String, Duration> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let at = message["@timestamp"]
            .as_str()
            .and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .expect("every message has an RFC 3339 @timestamp");
        let first = *first.get_or_insert(at);
        if message["type"] != "apply_complete" {
            continue;
        }
        let addr = message["hook"]["resource"]["addr"]
            .as_str()
            .unwrap_or_default();
        // module.site["lab-2"].host_file.config -> lab-2
        let Some(site) = addr
            .strip_prefix("module.site[\"")
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        let elapsed: Duration = (at - first).try_into().unwrap_or_default();
        let entry = done.entry(site.to_owned()).or_default();
        *entry = (*entry).max(elapsed);
    }
    done
}

/// Makes every command the host's sshd runs start `seconds` late, as a slow WAN link to
/// a site would: inside the host's own mount namespace, root's shell becomes a wrapper
/// that sleeps first.
fn slow_down(lab: &Lab, name: &str, seconds: u32, scratch: &Path) {
    let bash = scratch.join("real-bash");
    std::fs::copy("/bin/bash", &bash).expect("copy bash");
    let wrapper = scratch.join("slow-bash");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nsleep {seconds}\nexec {} \"$@\"\n",
            bash.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let out = lab.exec(
        name,
        &["mount", "--bind", &wrapper.to_string_lossy(), "/bin/bash"],
    );
    assert!(out.status.success(), "slow down {name}: {}", text(&out));
}

#[test]
fn a_slow_site_holds_back_only_its_own_changes() {
    let lab = Lab::start_with(LabSpec {
        hosts: 3,
        private: 0,
    })
    .expect("lab");
    let dir = tempfile::tempdir().unwrap();
    sites(dir.path(), &lab);
    ok(dir.path(), &["init", "-input=false"]);
    ok(dir.path(), &["plan", "-input=false", "-out=first.plan"]);
    ok(dir.path(), &["apply", "-input=false", "first.plan"]);

    // Each site alone: how long a release takes when nothing is slow.
    let alone = timed_release(dir.path(), "2");
    assert_eq!(alone.len(), 3, "every site changed: {alone:?}");

    let slow = "lab-3";
    let scratch = tempfile::tempdir().unwrap();
    slow_down(&lab, slow, 10, scratch.path());
    let together = timed_release(dir.path(), "3");
    println!("alone: {alone:?}\nwith {slow} slow: {together:?}");
    assert!(
        together[slow] >= Duration::from_secs(10),
        "the slow site is slow: {together:?}"
    );
    for (site, took) in &together {
        if site == slow {
            continue;
        }
        assert!(
            *took <= alone[site] + Duration::from_secs(3),
            "{site} finished in {took:?} with {slow} slow, {:?} alone: it waited for the slow site",
            alone[site]
        );
    }
    // Every site got the release once.
    for host in lab.hosts() {
        let out = lab.exec(&host.name, &["cat", "/etc/kubernetes/fleet/installs"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "install 1\ninstall 2\ninstall 3\n",
            "{}",
            host.name
        );
    }
}

#[test]
fn instances_failing_the_same_way_are_reported_one_by_one_and_an_unchanged_fleet_stays_unchanged() {
    let lab = Lab::start_with(LabSpec {
        hosts: 2,
        private: 0,
    })
    .expect("lab");
    let dir = tempfile::tempdir().unwrap();
    sites(dir.path(), &lab);
    ok(dir.path(), &["apply", "-auto-approve"]);

    // Ten plans in a row of what was just applied: nothing changes, facts included.
    for round in 0..10 {
        let out = run_in(dir.path(), &["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "plan {round} of an unchanged fleet:\n{}",
            text(&out)
        );
    }

    // Both hosts fail the same preflight: two errors, each naming its instance.
    let module = std::fs::read_to_string(dir.path().join("modules/site/main.hcl")).unwrap();
    std::fs::write(
        dir.path().join("modules/site/main.hcl"),
        module.replace(
            "  host_key = var.host_key\n}",
            "  host_key = var.host_key\n\n  preflight {\n    min_memory_mb = 100000000\n  }\n}",
        ),
    )
    .unwrap();
    let out = run_in(dir.path(), &["plan", "-no-color"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors = stderr.matches("Error planning resource").count();
    assert_eq!(errors, 2, "one error per failing host:\n{stderr}");
    for host in lab.hosts() {
        let addr = format!("module.site[\"{}\"].host.this", host.name);
        assert!(stderr.contains(&addr), "{addr} is named:\n{stderr}");
    }
}
