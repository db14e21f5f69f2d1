//! The cluster provider against the lab: three lab hosts become a highly available
//! control plane with stacked etcd (real etcd, started by the node agents from the static
//! pods fleetform wrote), answer through kubectl and the kube crate with the admin
//! kubeconfig, renew their certificates while serving, and upgrade member by member. Bad
//! configurations are refused at plan time with spans. Needs root (the lab).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fleetform_tests::lab::{Lab, LabSpec};
use fleetform_tests::output_text as text;
use fleetform_tests::{plan_then_apply, run_in};

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run_in(dir, args);
    assert!(
        out.status.success(),
        "fleetform {args:?} failed:\n{}",
        text(&out)
    );
    text(&out)
}

const FLEET: &str = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}
variable "kubernetes_version" {
  type    = string
  default = "1.30.5"
}
variable "renew_before" {
  type    = string
  default = "720h"
}

provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "3s"
}
provider "kubernetes" {
  wait_timeout = "90s"
}

resource "host" "all" {
  for_each = { for k, h in var.lab.hosts : k => h if !h.private }
  address  = each.value.address
  port     = each.value.port
  host_key = each.value.host_key
}

locals {
  names = sort(keys(var.lab.hosts))
}

resource "cluster" "dc" {
  name                = "datacenter"
  kubernetes_version  = var.kubernetes_version
  control_plane_hosts = [for k in slice(local.names, 0, 3) : host.all[k].id]
  install_runtime     = false
  registry_mirrors    = { "docker.io" = ["https://mirror.dc.lan"] }

  certificates {
    renew_before = var.renew_before
  }
}

resource "node_pool" "workers" {
  cluster = cluster.dc.id
  name    = "workers"
  hosts   = [host.all[local.names[3]].id]
  labels  = { tier = "general" }
}

output "admin_kubeconfig" {
  value     = cluster.dc.admin_kubeconfig
  sensitive = true
}
output "ca_certificate" {
  value = cluster.dc.ca_certificate
}
output "endpoint" {
  value = cluster.dc.endpoint
}
"#;

struct Cluster {
    lab: Lab,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Cluster {
    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--request-timeout", "10s"])
            .args(args)
            .output()
            .expect("kubectl runs")
    }

    fn host_file(&self, host: &str, path: &str) -> String {
        let out = self.lab.exec(host, &["cat", path]);
        assert!(out.status.success(), "cat {path} on {host}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    }
}

fn readyz(kubeconfig: &Path, server: Option<&str>) -> Result<String, String> {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(kubeconfig);
    cmd.args(["--request-timeout", "3s"]);
    if let Some(server) = server {
        cmd.args(["--server", server]);
    }
    let out = cmd.args(["get", "--raw", "/readyz"]).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Polls every member until stopped; counts the polls at which no member answered.
fn watch_service(
    kubeconfig: PathBuf,
    servers: Vec<String>,
) -> (
    Arc<AtomicBool>,
    Arc<AtomicUsize>,
    Arc<AtomicUsize>,
    std::thread::JoinHandle<()>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let outages = Arc::new(AtomicUsize::new(0));
    let polls = Arc::new(AtomicUsize::new(0));
    let handle = {
        let (stop, outages, polls) = (stop.clone(), outages.clone(), polls.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let any = servers
                    .iter()
                    .any(|s| readyz(&kubeconfig, Some(s)).is_ok_and(|b| b.trim() == "ok"));
                polls.fetch_add(1, Ordering::SeqCst);
                if !any {
                    outages.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    (stop, outages, polls, handle)
}

fn bring_up() -> Cluster {
    let lab = Lab::start_with(LabSpec {
        hosts: 4,
        private: 0,
    })
    .expect("lab starts");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    std::fs::write(dir.path().join("main.hcl"), FLEET).unwrap();
    let started = Instant::now();
    let out = run_in(dir.path(), &["apply", "-auto-approve"]);
    assert!(
        out.status.success(),
        "apply failed:\n{}\n{}",
        text(&out),
        fleetform_tests::cluster_sites::agent_logs(&lab)
    );
    eprintln!("bootstrap took {:?}", started.elapsed());
    assert!(
        fleetform_tests::one_line(&text(&out))
            .contains("is created by this plan, and no addon with pod_network = true targets it"),
        "a cluster created without a pod network is a plan warning:\n{}",
        text(&out)
    );
    let kubeconfig = dir.path().join("admin.conf");
    let raw = run_in(dir.path(), &["output", "-raw", "admin_kubeconfig"]);
    assert!(raw.status.success(), "{}", text(&raw));
    std::fs::write(&kubeconfig, &raw.stdout).unwrap();
    Cluster {
        lab,
        dir,
        kubeconfig,
    }
}

#[test]
fn three_hosts_become_a_serving_ha_cluster_that_renews_and_upgrades_in_place() {
    let cluster = bring_up();
    let lab = &cluster.lab;
    let dir = cluster.dir.path();
    let mut hosts: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
    hosts.sort();
    let worker = hosts.pop().unwrap();

    // Keys are 0600 on every host; the kubeadm layout is there.
    for host in &hosts {
        for path in [
            "/etc/kubernetes/pki/ca.key",
            "/etc/kubernetes/pki/apiserver.key",
            "/etc/kubernetes/pki/etcd/peer.key",
            "/etc/kubernetes/admin.conf",
            "/etc/kubernetes/kubelet.conf",
        ] {
            let out = lab.exec(host, &["stat", "-c", "%a", path]);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                "600",
                "{path} on {host}: {}",
                text(&out)
            );
        }
        assert!(
            lab.exec(
                host,
                &[
                    "test",
                    "-f",
                    "/etc/kubernetes/manifests/kube-apiserver.yaml"
                ]
            )
            .status
            .success()
        );
    }

    let out = lab.exec(
        &worker,
        &["stat", "-c", "%a", "/etc/kubernetes/kubelet.conf"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "600",
        "{}",
        text(&out)
    );

    // `output -raw` gives a kubeconfig kubectl uses as is.
    assert_eq!(readyz(&cluster.kubeconfig, None).unwrap().trim(), "ok");
    let nodes = cluster.kubectl(&["get", "nodes", "-o", "name"]);
    assert!(nodes.status.success(), "{}", text(&nodes));
    let listed = String::from_utf8_lossy(&nodes.stdout);
    for host in lab.hosts() {
        let hostname = String::from_utf8_lossy(&lab.exec(&host.name, &["uname", "-n"]).stdout)
            .trim()
            .to_owned();
        assert!(listed.contains(&format!("node/{hostname}")), "{listed}");
    }

    // The kube crate reads the same kubeconfig.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let kubeconfig_text = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    let body = runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let parsed = kube::config::Kubeconfig::from_yaml(&kubeconfig_text).unwrap();
        let config = kube::Config::from_custom_kubeconfig(parsed, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let request = http::Request::get("/readyz").body(Vec::new()).unwrap();
        client.request_text(request).await.unwrap()
    });
    assert_eq!(body.trim(), "ok");

    // Stacked etcd: three members, healthy over mTLS with the API server's etcd client
    // certificate.
    let certs = tempfile::tempdir().unwrap();
    let first = &hosts[0];
    for (name, path) in [
        ("ca.crt", "/etc/kubernetes/pki/etcd/ca.crt"),
        (
            "client.crt",
            "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        ),
        (
            "client.key",
            "/etc/kubernetes/pki/apiserver-etcd-client.key",
        ),
    ] {
        std::fs::write(certs.path().join(name), cluster.host_file(first, path)).unwrap();
    }
    let address = |name: &str| lab.host(name).unwrap().address;
    let endpoints: Vec<String> = hosts
        .iter()
        .map(|h| format!("https://{}:2379", address(h)))
        .collect();
    let etcdctl = |args: &[&str]| {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .arg(format!(
                "--cacert={}",
                certs.path().join("ca.crt").display()
            ))
            .arg(format!(
                "--cert={}",
                certs.path().join("client.crt").display()
            ))
            .arg(format!(
                "--key={}",
                certs.path().join("client.key").display()
            ))
            .args(args)
            .output()
            .unwrap()
    };
    let health = etcdctl(&["endpoint", "health"]);
    assert!(health.status.success(), "{}", text(&health));
    let health_text = format!(
        "{}{}",
        String::from_utf8_lossy(&health.stdout),
        String::from_utf8_lossy(&health.stderr)
    );
    assert_eq!(
        health_text.matches("is healthy").count(),
        3,
        "{health_text}"
    );
    let members = etcdctl(&["member", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&members.stdout).lines().count(),
        3,
        "{}",
        text(&members)
    );

    // A client certificate from another CA is refused.
    let foreign = fleetform_provider_kubernetes::pki::issue(
        &fleetform_provider_kubernetes::pki::PkiSpec::new(
            "intruder",
            fleetform_provider_kubernetes::pki::Endpoint {
                host: lab.hosts()[0].address.to_string(),
                port: 6443,
            },
            vec![fleetform_provider_kubernetes::pki::Member {
                name: "intruder".into(),
                address: lab.hosts()[0].address.into(),
            }],
            std::time::SystemTime::now(),
        ),
    )
    .unwrap();
    let foreign_conf = certs.path().join("foreign.conf");
    std::fs::write(&foreign_conf, foreign.admin_kubeconfig()).unwrap();
    // A TLS client that presents its certificate whatever the server asks for (rustls, through
    // the kube crate) is refused at the handshake.
    let foreign_text = foreign.admin_kubeconfig().to_owned();
    let attempt = runtime.block_on(async {
        let parsed = kube::config::Kubeconfig::from_yaml(&foreign_text).unwrap();
        let mut config = kube::Config::from_custom_kubeconfig(parsed, &Default::default())
            .await
            .unwrap();
        config.accept_invalid_certs = true;
        config.default_retry = false;
        let client = kube::Client::try_from(config).unwrap();
        let request = http::Request::get("/api/v1/nodes")
            .body(Vec::new())
            .unwrap();
        client.request_text(request).await
    });
    match attempt {
        Ok(body) => panic!("a foreign client certificate was accepted: {body}"),
        Err(kube::Error::Api(status)) => {
            panic!(
                "refused only after the handshake, as {}: {status:?}",
                status.code
            )
        }
        Err(_) => {}
    }
    // kubectl (Go) does not even offer a certificate the server's CA list does not name, so
    // it arrives anonymous and gets nothing.
    let refused = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&foreign_conf)
        .args([
            "--insecure-skip-tls-verify",
            "--request-timeout",
            "5s",
            "get",
            "nodes",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "{}", text(&refused));

    // Nothing to do on a second plan; no addon installs a pod network in this cluster,
    // and the plan says so.
    let again = run_in(dir, &["plan", "-detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        fleetform_tests::one_line(&text(&again))
            .contains("no addon with pod_network = true has installed one"),
        "{}",
        text(&again)
    );

    // Drift on a host is found at refresh and written back.
    let second = &hosts[1];
    let chmod = lab.exec(
        second,
        &["chmod", "0644", "/etc/kubernetes/pki/apiserver.key"],
    );
    assert!(chmod.status.success(), "{}", text(&chmod));
    let edit = lab.exec(
        second,
        &[
            "sh",
            "-c",
            "echo '# edited' >> /etc/kubernetes/manifests/kube-scheduler.yaml",
        ],
    );
    assert!(edit.status.success(), "{}", text(&edit));
    let drift = run_in(dir, &["plan", "-detailed-exitcode", "-no-color"]);
    let drift_text = text(&drift);
    assert_eq!(drift.status.code(), Some(2), "{drift_text}");
    assert!(
        drift_text.contains("changed outside of fleetform"),
        "{drift_text}"
    );
    assert!(
        drift_text.contains(":/etc/kubernetes/pki/apiserver.key"),
        "{drift_text}"
    );
    assert!(
        drift_text.contains(":/etc/kubernetes/manifests/kube-scheduler.yaml"),
        "{drift_text}"
    );
    let healed = plan_then_apply(dir, &[]);
    assert!(healed.status.success(), "{}", text(&healed));
    let mode = lab.exec(
        second,
        &["stat", "-c", "%a", "/etc/kubernetes/pki/apiserver.key"],
    );
    assert_eq!(String::from_utf8_lossy(&mode.stdout).trim(), "600");
    let healed = run_in(dir, &["plan", "-detailed-exitcode"]);
    assert_eq!(healed.status.code(), Some(0), "{}", text(&healed));

    // Renewal: every leaf is due when renew_before exceeds its validity; the CAs are not.
    let worker_node = String::from_utf8_lossy(&lab.exec(&worker, &["uname", "-n"]).stdout)
        .trim()
        .to_owned();
    let worker_conf_before = cluster.host_file(&worker, "/etc/kubernetes/kubelet.conf");
    let ca_before = ok(dir, &["output", "-raw", "ca_certificate"]);
    let plan = run_in(dir, &["plan", "-var", "renew_before=9000h", "-no-color"]);
    let plan_text = text(&plan);
    assert!(plan.status.success(), "{plan_text}");
    assert!(plan_text.contains("update in-place"), "{plan_text}");
    let worker_leaf = format!("\"{worker_node}/kubelet.conf\"");
    for leaf in [
        "\"apiserver\"",
        "\"admin.conf\"",
        "/etcd-server\"",
        "/kubelet.conf\"",
        &worker_leaf,
    ] {
        assert!(plan_text.contains(leaf), "{leaf} not listed:\n{plan_text}");
    }
    for ca in ["\"ca\"", "\"etcd-ca\"", "\"front-proxy-ca\""] {
        let changed_line = plan_text
            .lines()
            .any(|l| l.contains(ca) && l.contains("->"));
        assert!(!changed_line, "{ca} must not be renewed:\n{plan_text}");
    }
    let servers: Vec<String> = hosts
        .iter()
        .map(|h| format!("https://{}:6443", address(h)))
        .collect();
    let apiserver_cert_before = cluster.host_file(first, "/etc/kubernetes/pki/apiserver.crt");
    let (stop, outages, polls, watcher) =
        watch_service(cluster.kubeconfig.clone(), servers.clone());
    let renew = plan_then_apply(dir, &["-var", "renew_before=9000h"]);
    stop.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    assert!(
        renew.status.success(),
        "{}\n{}",
        text(&renew),
        fleetform_tests::cluster_sites::agent_logs(lab)
    );
    assert_eq!(
        outages.load(Ordering::SeqCst),
        0,
        "no member answered at some point during renewal ({} polls)",
        polls.load(Ordering::SeqCst)
    );
    assert_eq!(
        ok(dir, &["output", "-raw", "ca_certificate"]),
        ca_before,
        "the CA must stay"
    );
    assert_ne!(
        cluster.host_file(first, "/etc/kubernetes/pki/apiserver.crt"),
        apiserver_cert_before
    );
    assert_ne!(
        cluster.host_file(&worker, "/etc/kubernetes/kubelet.conf"),
        worker_conf_before,
        "the worker's kubelet certificate is renewed too"
    );
    // The renewed admin kubeconfig still works, and so does etcd.
    let raw = run_in(dir, &["output", "-raw", "admin_kubeconfig"]);
    std::fs::write(&cluster.kubeconfig, &raw.stdout).unwrap();
    assert_eq!(readyz(&cluster.kubeconfig, None).unwrap().trim(), "ok");
    std::fs::write(
        certs.path().join("client.crt"),
        cluster.host_file(first, "/etc/kubernetes/pki/apiserver-etcd-client.crt"),
    )
    .unwrap();
    std::fs::write(
        certs.path().join("client.key"),
        cluster.host_file(first, "/etc/kubernetes/pki/apiserver-etcd-client.key"),
    )
    .unwrap();
    let health = etcdctl(&["endpoint", "health"]);
    assert!(health.status.success(), "{}", text(&health));

    // A workload on the worker, to be drained by the upgrade.
    let pod = certs.path().join("pod.json");
    std::fs::write(
        &pod,
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": "web", "namespace": "default", "labels": { "app": "web" } },
            "spec": {
                "nodeName": worker_node,
                "containers": [{ "name": "web", "image": "registry.k8s.io/pause:3.10" }]
            }
        })
        .to_string(),
    )
    .unwrap();
    let created = cluster.kubectl(&["create", "--validate=false", "-f", pod.to_str().unwrap()]);
    assert!(created.status.success(), "{}", text(&created));

    // Upgrade: a patch bump is an in-place update, member by member, then the workers
    // node by node with a drain.
    let plan = run_in(
        dir,
        &["plan", "-var", "kubernetes_version=1.30.6", "-no-color"],
    );
    let plan_text = text(&plan);
    assert!(plan.status.success(), "{plan_text}");
    assert!(plan_text.contains("update in-place"), "{plan_text}");
    assert!(!plan_text.contains("must be replaced"), "{plan_text}");
    let step = |i: usize| {
        plan_text
            .find(&format!("{}. control-plane member", i))
            .unwrap_or_else(|| panic!("step {i} missing:\n{plan_text}"))
    };
    assert!(step(1) < step(2) && step(2) < step(3), "{plan_text}");
    let drain = plan_text
        .find(&format!("1. node {worker_node}: cordon, drain"))
        .unwrap_or_else(|| panic!("no drain step for {worker_node}:\n{plan_text}"));
    assert!(
        step(3) < drain,
        "control plane first, then nodes:\n{plan_text}"
    );
    let upgrade = plan_then_apply(dir, &["-var", "kubernetes_version=1.30.6"]);
    assert!(
        upgrade.status.success(),
        "{}\n{}",
        text(&upgrade),
        fleetform_tests::cluster_sites::agent_logs(lab)
    );
    for server in &servers {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .args(["--server", server, "version", "-o", "json"])
            .output()
            .unwrap();
        let version: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
        assert_eq!(
            version["serverVersion"]["gitVersion"], "v1.30.6",
            "{server}"
        );
    }

    let pods = cluster.kubectl(&["get", "pods", "-A", "-o", "name"]);
    assert!(
        !String::from_utf8_lossy(&pods.stdout).contains("pod/web"),
        "the drain evicts the worker's pod:\n{}",
        text(&pods)
    );
    let node = cluster.kubectl(&["get", "node", &worker_node, "-o", "json"]);
    let node: serde_json::Value = serde_json::from_slice(&node.stdout).unwrap();
    assert_ne!(
        node["spec"]["unschedulable"], true,
        "uncordoned after the upgrade"
    );
    assert_eq!(node["metadata"]["labels"]["tier"], "general");

    // A skipped minor is refused at plan time, naming the path.
    let skip = run_in(
        dir,
        &["plan", "-var", "kubernetes_version=1.32.0", "-no-color"],
    );
    let skip_text = text(&skip);
    assert_eq!(skip.status.code(), Some(1), "{skip_text}");
    assert!(skip_text.contains("skips 1.31"), "{skip_text}");
    assert!(skip_text.contains("apply 1.31, then 1.32"), "{skip_text}");

    ok(
        dir,
        &[
            "destroy",
            "-auto-approve",
            "-var",
            "kubernetes_version=1.30.6",
        ],
    );
    for host in &hosts {
        assert!(
            !lab.exec(host, &["test", "-e", "/etc/kubernetes/pki/ca.key"])
                .status
                .success()
        );
    }
}

const BAD: &str = r#"
resource "host" "linux" {
  address  = "169.254.100.201"
  host_key = "SHA256:0000000000000000000000000000000000000000000"
}
resource "host" "windows" {
  address   = "169.254.100.202"
  host_key  = "SHA256:0000000000000000000000000000000000000000000"
  os_family = "windows"
}

resource "cluster" "bad" {
  name                = "bad"
  kubernetes_version  = "1.31.2"
  control_plane_hosts = [host.linux.id, host.windows.id]
  endpoint_address    = "https://api.bad.lan:6443"
  pod_cidr            = "10.96.0.0/16"
  service_cidr        = "10.96.0.0/12"
}
"#;

#[test]
fn bad_clusters_are_refused_at_plan_time_with_spans() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.hcl"), BAD).unwrap();
    let out = run_in(dir.path(), &["plan", "-no-color"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let lines: Vec<&str> = BAD.lines().collect();
    let line_of = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap() + 1;
    for (summary, attribute) in [
        ("Even number of etcd members", "control_plane_hosts"),
        ("Windows host in the control plane", "control_plane_hosts"),
        (
            "Endpoint not coverable by a certificate",
            "endpoint_address",
        ),
        ("Overlapping pod and service networks", "pod_cidr"),
    ] {
        assert!(all.contains(summary), "{summary}:\n{all}");
        let at = format!("main.hcl:{}", line_of(&format!("  {attribute} ")));
        assert!(all.contains(&at), "{summary} should point at {at}:\n{all}");
    }
    // `validate` runs the same checks, as far as values are known without a plan.
    let out = run_in(dir.path(), &["validate", "-no-color"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    for summary in [
        "Even number of etcd members",
        "Endpoint not coverable by a certificate",
        "Overlapping pod and service networks",
    ] {
        assert!(all.contains(summary), "{summary}:\n{all}");
    }
}

const CLINIC: &str = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}

provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "3s"
}

# The clinic's one machine has no route from here: it is reached through the site's
# gateway, and so is its API server.
resource "host" "clinic" {
  for_each = { for k, h in var.lab.hosts : k => h if h.private }
  address  = each.value.address
  port     = each.value.port
  host_key = each.value.host_key

  bastion {
    address  = var.lab.hosts[var.lab.jump].address
    host_key = var.lab.hosts[var.lab.jump].host_key
  }
}

resource "cluster" "clinic" {
  name                      = "clinic"
  kubernetes_version        = "1.31.2"
  control_plane_hosts       = [for h in host.clinic : h.id]
  control_plane_schedulable = true
  install_runtime           = false
}

data "cluster_kubeconfig" "clinic" {
  cluster = cluster.clinic.id
}

# Add-ons reach the API server the same way, through the gateway.
resource "addon" "clinic_settings" {
  cluster   = cluster.clinic.id
  name      = "clinic-settings"
  namespace = "default"
  wait      = false
  manifests = [<<-YAML
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: clinic-settings
    data:
      site: behind-its-gateway
    YAML
  ]
}

output "endpoint" {
  value = data.cluster_kubeconfig.clinic.endpoint
}

output "kubeconfig" {
  value     = data.cluster_kubeconfig.clinic.kubeconfig
  sensitive = true
}
"#;

#[test]
fn a_clinic_behind_its_jump_host_is_bootstrapped_through_it() {
    let lab = Lab::start_with(LabSpec {
        hosts: 1,
        private: 1,
    })
    .expect("lab starts");
    let private = lab.hosts().iter().find(|h| h.private).unwrap().clone();
    // Nothing answers on the clinic's address from here.
    assert!(
        std::net::TcpStream::connect_timeout(
            &(private.address, 22).into(),
            Duration::from_millis(500)
        )
        .is_err()
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    std::fs::write(dir.path().join("main.hcl"), CLINIC).unwrap();
    // With debug logs on, nothing of the cluster's keys reaches the terminal.
    let out = fleetform_tests::fleetform()
        .current_dir(dir.path())
        .env("FLEETFORM_LOG", "debug")
        .args(["apply", "-auto-approve", "-no-color"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apply failed:\n{}\n{}",
        text(&out),
        fleetform_tests::cluster_sites::agent_logs(&lab)
    );
    // Debug logs say what ran on the host and what the API answered.
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("ssh command program=\"uname\" exit_code=0"),
        "{log}"
    );
    assert!(
        log.contains("http.method=GET")
            && log.contains("/readyz")
            && log.contains("http.status_code=200"),
        "{log}"
    );
    let shown = run_in(dir.path(), &["show", "-no-color"]);
    for (what, printed) in [("apply", text(&out)), ("show", text(&shown))] {
        for secret in ["PRIVATE KEY", "client-key-data"] {
            assert!(
                !printed.contains(secret),
                "{what} printed {secret}:\n{printed}"
            );
        }
    }
    // The needle is right: asked for explicitly, the kubeconfig is all there.
    let raw = ok(dir.path(), &["output", "-raw", "kubeconfig"]);
    assert!(raw.contains("client-key-data"), "{raw}");
    let endpoint = ok(dir.path(), &["output", "-raw", "endpoint"]);
    assert!(
        endpoint.contains(&format!("https://{}:6443", private.address)),
        "{endpoint}"
    );
    // The node registered (apply waited for it through the forward) and is the clinic's.
    let nodes = lab.exec(
        &private.name,
        &["cat", "/var/lib/fleetform-lab-node/agent.log"],
    );
    assert!(
        String::from_utf8_lossy(&nodes.stdout).contains("registered"),
        "{}",
        text(&nodes)
    );
    // The add-on's ConfigMap was created in the cluster through the gateway: the
    // inventory holds the uid the API server gave it.
    let pulled: serde_json::Value =
        serde_json::from_slice(&run_in(dir.path(), &["state", "pull"]).stdout).unwrap();
    let addon = pulled["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "addon")
        .expect("the addon is in state");
    let inventory = &addon["instances"][0]["attributes"]["inventory"];
    assert_eq!(inventory[0]["name"], "clinic-settings", "{inventory}");
    assert!(
        inventory[0]["uid"].as_str().is_some_and(|u| !u.is_empty()),
        "{inventory}"
    );
    let again = run_in(dir.path(), &["plan", "-detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    ok(dir.path(), &["destroy", "-auto-approve"]);
}

const TWO_SITES: &str = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}

provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "3s"
}

resource "host" "site" {
  for_each = { north = "lab-1", south = "lab-2" }
  address  = var.lab.hosts[each.value].address
  port     = var.lab.hosts[each.value].port
  host_key = var.lab.hosts[each.value].host_key
}

resource "cluster" "site" {
  for_each                  = host.site
  name                      = each.key
  kubernetes_version        = "1.31.2"
  control_plane_hosts       = [each.value.id]
  control_plane_schedulable = true
  install_runtime           = false
}

output "north" {
  value     = cluster.site["north"].admin_kubeconfig
  sensitive = true
}
output "south" {
  value     = cluster.site["south"].admin_kubeconfig
  sensitive = true
}
"#;

/// Two clusters' admin kubeconfigs merged the usual way (`KUBECONFIG=a:b`): each cluster
/// keeps its own cluster, user and context entries, so kubectl reaches both, each through
/// its own context with its own client certificate.
#[test]
fn merged_kubeconfigs_of_two_clusters_reach_both_with_kubectl() {
    let lab = Lab::start(2).expect("lab starts");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    std::fs::write(d.join("main.hcl"), TWO_SITES).unwrap();
    let out = run_in(d, &["apply", "-auto-approve", "-no-color"]);
    assert!(
        out.status.success(),
        "apply failed:\n{}\n{}",
        text(&out),
        fleetform_tests::cluster_sites::agent_logs(&lab)
    );
    for site in ["north", "south"] {
        let raw = run_in(d, &["output", "-raw", site]);
        assert!(raw.status.success(), "{}", text(&raw));
        std::fs::write(d.join(format!("{site}.conf")), &raw.stdout).unwrap();
    }
    let merged = format!(
        "{}:{}",
        d.join("north.conf").display(),
        d.join("south.conf").display()
    );
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", &merged)
            .args(["--request-timeout", "10s"])
            .args(args)
            .output()
            .expect("kubectl runs");
        assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let contexts = kubectl(&["config", "get-contexts", "-o", "name"]);
    assert_eq!(
        contexts, "kubernetes-admin@north\nkubernetes-admin@south",
        "one context per cluster"
    );
    let users = kubectl(&["config", "view", "-o", "jsonpath={.users[*].name}"]);
    assert_eq!(users, "kubernetes-admin@north kubernetes-admin@south");
    for (site, host) in [("north", "lab-1"), ("south", "lab-2")] {
        let context = format!("kubernetes-admin@{site}");
        let nodes = kubectl(&["--context", &context, "get", "nodes", "-o", "name"]);
        assert_eq!(
            nodes,
            format!("node/{host}"),
            "{context} reaches {site}'s API server with {site}'s credentials"
        );
        let who = kubectl(&["--context", &context, "get", "--raw", "/readyz"]);
        assert_eq!(who, "ok");
    }
    ok(d, &["destroy", "-auto-approve"]);
}

/// A kube-apiserver that exits at once (here: a flag value it cannot parse) fails the
/// bootstrap within a minute, not after `wait_timeout`, and the error quotes the end of
/// that static pod's log from the host.
#[test]
fn a_static_pod_that_exits_at_once_fails_the_bootstrap_quoting_its_log() {
    let lab = Lab::start(1).expect("lab starts");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    let main = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}
provider "host" {
  private_key_file = var.lab.client_key
}
provider "kubernetes" {
  wait_timeout = "8m"
}
resource "host" "one" {
  address  = var.lab.hosts["lab-1"].address
  host_key = var.lab.hosts["lab-1"].host_key
}
resource "cluster" "broken" {
  name                      = "broken"
  kubernetes_version        = "1.31.2"
  control_plane_hosts       = [host.one.id]
  control_plane_schedulable = true
  install_runtime           = false
  apiserver_extra_args      = { "secure-port" = "not-a-port" }
}
"#;
    std::fs::write(d.join("main.hcl"), main).unwrap();
    let started = Instant::now();
    let out = run_in(d, &["apply", "-auto-approve", "-no-color"]);
    let took = started.elapsed();
    let message = text(&out);
    assert_eq!(out.status.code(), Some(1), "{message}");
    assert!(
        took < Duration::from_secs(60),
        "failed after {took:?}, not within a minute:\n{message}"
    );
    assert!(
        message.contains("the kube-apiserver static pod on lab-1 keeps exiting"),
        "{message}"
    );
    assert!(
        message.contains("invalid value \\\"not-a-port\\\" for --secure-port")
            || message.contains("invalid value \"not-a-port\" for --secure-port"),
        "the error quotes the pod's own log:\n{message}"
    );
}

/// A member that runs another kube-apiserver than declared while fleetform's files on it
/// are as written (here: the host's runtime runs a local image retagged over the real one)
/// is a warning in plan, naming the member and both versions, and not a change: rewriting
/// the files would not fix it.
#[test]
fn a_member_serving_another_version_than_declared_is_a_warning_not_a_change() {
    let lab = Lab::start(1).expect("lab starts");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    let main = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}
provider "host" {
  private_key_file = var.lab.client_key
}
provider "kubernetes" {
  wait_timeout = "90s"
}
resource "host" "one" {
  address  = var.lab.hosts["lab-1"].address
  host_key = var.lab.hosts["lab-1"].host_key
}
resource "cluster" "clinic" {
  name                      = "clinic"
  kubernetes_version        = "1.30.5"
  control_plane_hosts       = [host.one.id]
  control_plane_schedulable = true
  install_runtime           = false
}
output "admin_kubeconfig" {
  value     = cluster.clinic.admin_kubeconfig
  sensitive = true
}
"#;
    std::fs::write(d.join("main.hcl"), main).unwrap();
    let out = run_in(d, &["apply", "-auto-approve", "-no-color"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out),
        fleetform_tests::cluster_sites::agent_logs(&lab)
    );
    let served = ok(d, &["state", "show", "cluster.clinic"]);
    assert!(
        served.contains("lab-1/kube-apiserver = \"v1.30.5\"")
            && served.contains("lab-1/kubelet        = \"v1.30.5\""),
        "apply records what the member serves:\n{served}"
    );
    let plan = run_in(d, &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert!(!text(&plan).contains("Warning"), "{}", text(&plan));

    // Another image under the same manifest, then the API server restarted by its kubelet.
    let swap = lab.exec(
        "lab-1",
        &[
            "sh",
            "-c",
            "mkdir -p /var/lib/fleetform-lab-node/images && \
             echo registry.k8s.io/kube-apiserver:v1.30.4 > /var/lib/fleetform-lab-node/images/kube-apiserver && \
             me=$(readlink /proc/self/ns/net) && \
             for p in $(pgrep -f '[-]-etcd-servers'); do \
               [ \"$(readlink /proc/$p/ns/net)\" = \"$me\" ] && kill $p; \
             done; true",
        ],
    );
    assert!(swap.status.success(), "{}", text(&swap));
    let kubeconfig = d.join("admin.conf");
    let raw = run_in(d, &["output", "-raw", "admin_kubeconfig"]);
    std::fs::write(&kubeconfig, &raw.stdout).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--request-timeout", "5s", "version", "-o", "json"])
            .output()
            .expect("kubectl runs");
        if String::from_utf8_lossy(&out.stdout).contains("\"gitVersion\": \"v1.30.4\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the API server did not come back as v1.30.4: {}\n{}",
            text(&out),
            fleetform_tests::cluster_sites::agent_logs(&lab)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let plan = run_in(d, &["plan", "-detailed-exitcode", "-no-color"]);
    let plan_text = text(&plan);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "a warning, not a change:\n{plan_text}"
    );
    assert!(
        plan_text.contains("runs kube-apiserver v1.30.4, not the declared 1.30.5")
            && plan_text.contains("another binary runs on the host"),
        "{plan_text}"
    );
    ok(d, &["destroy", "-auto-approve"]);
}
