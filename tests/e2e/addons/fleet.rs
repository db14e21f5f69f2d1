//! Add-ons on lab clusters, through plan files: one apply from empty state creates a
//! highly available cluster behind a kube-vip virtual IP and installs its essential
//! add-ons, a pod network, MetalLB from the upstream manifest (served by a local source
//! server, pinned by sha256) with fleetform-rendered pools, and cert-manager with a
//! ClusterIssuer whose CA comes from the cluster's PKI. Overlapping pools are refused at
//! plan; with the first control-plane host cut off, the virtual IP moves and addons still
//! plan and apply; with the source server stopped, a second cluster installs from the
//! cache; destroy leaves nothing. Needs root (the lab).

use std::process::Command;
use std::time::{Duration, Instant};

use fleetform_tests::lab::{Lab, LabSpec, SourceServer};
use fleetform_tests::{output_text as text, shared_dir};

use super::{Fleet, sha256};

const FLEET: &str = r#"
variable "lab" {
  type = object({
    client_key  = string
    hosts       = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump        = string
    virtual_ips = list(string)
  })
}
variable "sources" {
  type = map(object({ url = string, sha256 = string }))
}
variable "dc_pool" {
  type = list(string)
}
variable "clinic" {
  type    = bool
  default = false
}
variable "clinic_pool" {
  type    = list(string)
  default = []
}
variable "apps" {
  type = string
}

provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "3s"
}
provider "kubernetes" {
  wait_timeout = "120s"
}

locals {
  names = sort(keys(var.lab.hosts))
}

resource "host" "all" {
  for_each = var.lab.hosts
  address  = each.value.address
  port     = each.value.port
  host_key = each.value.host_key
}

resource "cluster" "dc" {
  name                      = "datacenter"
  kubernetes_version        = "1.31.2"
  control_plane_hosts       = [for k in slice(local.names, 0, 3) : host.all[k].id]
  endpoint_address          = var.lab.virtual_ips[0]
  install_runtime           = false
  control_plane_schedulable = true

  kube_vip {}
}

resource "addon" "network" {
  cluster     = cluster.dc.id
  name        = "network"
  pod_network = true
  source      = var.sources.network
  wait        = false
}

resource "addon" "metallb" {
  cluster       = cluster.dc.id
  name          = "metallb"
  namespace     = "metallb-system"
  source        = var.sources.metallb
  exclude       = ["ValidatingWebhookConfiguration/metallb-webhook-configuration"]
  address_pools = { default = var.dc_pool }
  wait          = false
}

resource "addon" "cert_manager" {
  cluster   = cluster.dc.id
  name      = "cert-manager"
  namespace = "cert-manager"
  source    = var.sources.cert_manager
  wait      = false

  cluster_issuer {
    name = "cluster-ca"
  }
}

resource "addon" "apps" {
  cluster   = cluster.dc.id
  name      = "apps"
  namespace = "apps"
  manifests = [var.apps]
  wait      = false
}

resource "cluster" "clinic" {
  count                     = var.clinic ? 1 : 0
  name                      = "clinic"
  kubernetes_version        = "1.31.2"
  control_plane_hosts       = [host.all[local.names[3]].id]
  install_runtime           = false
  control_plane_schedulable = true
}

resource "addon" "clinic_metallb" {
  count         = var.clinic ? 1 : 0
  cluster       = cluster.clinic[0].id
  name          = "metallb"
  namespace     = "metallb-system"
  source        = var.sources.metallb
  exclude       = ["ValidatingWebhookConfiguration/metallb-webhook-configuration"]
  address_pools = { default = var.clinic_pool }
  wait          = false
}

output "admin_kubeconfig" {
  value     = cluster.dc.admin_kubeconfig
  sensitive = true
}
"#;

const APPS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: portal}\n\
spec:\n  selector: {matchLabels: {app: portal}}\n  template:\n    metadata: {labels: {app: portal}}\n\
    spec: {nodeSelector: {kubernetes.io/os: linux}, containers: [{name: portal, image: nginx}]}\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: records}\n\
spec:\n  selector: {matchLabels: {app: records}}\n  template:\n    metadata: {labels: {app: records}}\n\
    spec: {nodeSelector: {kubernetes.io/os: windows}, containers: [{name: records, image: mcr.microsoft.com/windows/servercore/iis}]}\n";

fn variables(base: &str, dc_pool: &str, clinic: Option<&str>, apps: &str) -> String {
    let pin = |path: &std::path::Path| sha256(&std::fs::read(path).unwrap());
    let shared = shared_dir().join("mirror/metallb/v0.16.1/metallb-native.yaml");
    let lab_sources = fleetform_tests::workspace().join("examples/clinic-fleet/lab-sources");
    let source = |name: &str, url: String, sha: String| {
        format!("  {name} = {{ url = \"{url}\", sha256 = \"{sha}\" }}\n")
    };
    let mut out = String::from("sources = {\n");
    out.push_str(&source(
        "metallb",
        format!("{base}metallb-native.yaml"),
        pin(&shared),
    ));
    out.push_str(&source(
        "cert_manager",
        format!("{base}cert-manager-lab.yaml"),
        pin(&lab_sources.join("cert-manager-lab.yaml")),
    ));
    out.push_str(&source(
        "network",
        format!("{base}pod-network-lab.yaml"),
        pin(&lab_sources.join("pod-network-lab.yaml")),
    ));
    out.push_str("}\n");
    out.push_str(&format!("dc_pool = [\"{dc_pool}\"]\n"));
    if let Some(pool) = clinic {
        out.push_str(&format!("clinic = true\nclinic_pool = [\"{pool}\"]\n"));
    }
    out.push_str(&format!(
        "apps = {}\n",
        serde_json::to_string(apps).unwrap()
    ));
    out
}

fn readyz(kubeconfig: &std::path::Path) -> bool {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--request-timeout", "3s", "get", "--raw", "/readyz"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_fleet_gets_its_addons_in_one_apply_and_keeps_them_through_a_member_outage() {
    let mut lab = Lab::start_with(LabSpec {
        hosts: 4,
        private: 0,
    })
    .expect("lab starts");
    let vip = lab.lease_virtual_ip().unwrap();
    let served = tempfile::tempdir().unwrap();
    std::fs::copy(
        shared_dir().join("mirror/metallb/v0.16.1/metallb-native.yaml"),
        served.path().join("metallb-native.yaml"),
    )
    .unwrap();
    for file in ["cert-manager-lab.yaml", "pod-network-lab.yaml"] {
        std::fs::copy(
            fleetform_tests::workspace()
                .join("examples/clinic-fleet/lab-sources")
                .join(file),
            served.path().join(file),
        )
        .unwrap();
    }
    let mut server = SourceServer::serve(served.path()).unwrap();
    let base = server.url("");
    let dir = tempfile::tempdir().unwrap();
    let fleet = Fleet {
        kubeconfig: dir.path().join("admin.conf"),
        dir,
    };
    std::fs::write(fleet.path().join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    fleet.write(FLEET);
    let vars = |dc_pool: &str, clinic: Option<&str>, apps: &str| {
        std::fs::write(
            fleet.path().join("inputs.auto.hcl"),
            variables(&base, dc_pool, clinic, apps),
        )
        .unwrap();
    };
    let dc_pool = "169.254.100.240-169.254.100.244";
    vars(dc_pool, None, APPS);
    let init = fleet.ok(&["init", "-input=false", "-no-color"]);
    assert_eq!(init.matches("sha256 verified").count(), 3, "{init}");

    // A clinic pool that overlaps the datacenter's is refused at plan, at the attribute.
    vars(dc_pool, Some("169.254.100.244/30"), APPS);
    let out = fleet.run(&["plan", "-no-color", "-json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let diagnostic = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| m["diagnostic"]["summary"] == "Address pool overlaps another cluster's")
        .unwrap_or_else(|| panic!("no overlap diagnostic:\n{}", text(&out)));
    let range = &diagnostic["diagnostic"]["range"];
    let line = FLEET
        .lines()
        .nth(range["start"]["line"].as_u64().unwrap() as usize - 1)
        .unwrap();
    assert!(
        line.trim_start().starts_with("address_pools"),
        "{diagnostic}"
    );

    // One apply from empty state: the cluster and everything on it.
    vars(dc_pool, None, APPS);
    let started = Instant::now();
    let (_, plan) = fleet.plan();
    assert!(
        !fleetform_tests::one_line(&plan).contains("No pod network"),
        "the new cluster gets a pod network from an addon: {plan}"
    );
    fleet.ok(&["apply", "-no-color", "tfplan"]);
    eprintln!("cluster and add-ons applied in {:?}", started.elapsed());
    let raw = fleet.ok(&["output", "-raw", "admin_kubeconfig"]);
    std::fs::write(&fleet.kubeconfig, raw).unwrap();
    assert!(
        std::fs::read_to_string(&fleet.kubeconfig)
            .unwrap()
            .contains(&format!("server: https://{vip}:6443"))
    );
    assert!(readyz(&fleet.kubeconfig), "kubectl through the virtual IP");
    for object in [
        ["daemonset", "kube-proxy", "kube-system"],
        ["deployment", "coredns", "kube-system"],
        ["service", "kube-dns", "kube-system"],
        ["configmap", "kubeadm-config", "kube-system"],
        ["configmap", "cluster-info", "kube-public"],
        ["daemonset", "lab-cni", "kube-system"],
        ["deployment", "controller", "metallb-system"],
        ["ipaddresspools.metallb.io", "default", "metallb-system"],
        ["l2advertisements.metallb.io", "default", "metallb-system"],
        ["secret", "cluster-ca", "cert-manager"],
        ["deployment", "records", "apps"],
    ] {
        fleet.kubectl_ok(&["get", object[0], object[1], "-n", object[2]]);
    }
    let pool = fleet.kubectl_ok(&[
        "get",
        "ipaddresspools.metallb.io",
        "default",
        "-n",
        "metallb-system",
        "-o",
        "jsonpath={.spec.addresses}",
    ]);
    assert_eq!(pool, format!("[\"{dc_pool}\"]"));
    fleet.kubectl_ok(&["get", "clusterissuers.cert-manager.io", "cluster-ca"]);
    // The issuer's CA chains to the cluster CA.
    let issuer_ca = fleet.kubectl_ok(&[
        "get",
        "secret",
        "cluster-ca",
        "-n",
        "cert-manager",
        "-o",
        "jsonpath={.data.tls\\.crt}",
    ]);
    let pem = String::from_utf8(base64_decode(&issuer_ca)).unwrap();
    let first = pem
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .unwrap();
    std::fs::write(fleet.path().join("issuer.crt"), first).unwrap();
    let cluster_ca = fleet.state("cluster.dc")["ca_certificate"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(fleet.path().join("ca.crt"), cluster_ca).unwrap();
    let verify = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(fleet.path().join("ca.crt"))
        .arg(fleet.path().join("issuer.crt"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
    let expiry = fleet.state("addon.cert_manager")["certificate_expiry"]["cluster-ca"].clone();
    assert!(
        expiry.as_str().is_some_and(|t| t.ends_with('Z')),
        "{expiry}"
    );
    let (code, plan) = fleet.plan();
    assert_eq!(code, 0, "a second plan changes nothing:\n{plan}");
    assert!(
        !fleetform_tests::one_line(&plan).contains("no pod network runs"),
        "{plan}"
    );

    // The first control-plane host goes away: an addon still plans and applies, over
    // the members that answer.
    let first = lab.hosts()[0].name.clone();
    lab.cut(&first).unwrap();
    let more = format!(
        "{APPS}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: portal}}\ndata: {{greeting: hello}}\n"
    );
    vars(dc_pool, None, &more);
    let (code, plan) = fleet.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.contains("unreachable"),
        "the cut host is reported:\n{plan}"
    );
    let out = fleet.run(&["apply", "-no-color", "tfplan"]);
    assert!(out.status.success(), "{}", text(&out));
    let cut_at = Instant::now();
    while !readyz(&fleet.kubeconfig) {
        assert!(
            cut_at.elapsed() < Duration::from_secs(90),
            "the virtual IP never answered"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        fleet.kubectl_ok(&[
            "get",
            "configmap",
            "portal",
            "-n",
            "apps",
            "-o",
            "jsonpath={.data.greeting}"
        ]),
        "hello"
    );
    lab.heal(&first).unwrap();

    // The member serving the virtual IP goes away: another takes the address over.
    let leader = || {
        fleet.kubectl_ok(&[
            "get",
            "lease",
            "plndr-cp-lock",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
    };
    let holder = leader();
    let holder_host = lab
        .hosts()
        .iter()
        .find(|h| {
            String::from_utf8_lossy(&lab.exec(&h.name, &["uname", "-n"]).stdout).trim() == holder
        })
        .map(|h| h.name.clone())
        .unwrap_or_else(|| panic!("no lab host is {holder:?}"));
    lab.cut(&holder_host).unwrap();
    let cut_at = Instant::now();
    while !(readyz(&fleet.kubeconfig) && leader() != holder) {
        assert!(
            cut_at.elapsed() < Duration::from_secs(90),
            "the virtual IP never moved from {holder}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "the virtual IP moved from {holder} in {:?}",
        cut_at.elapsed()
    );
    lab.heal(&holder_host).unwrap();

    // The source server goes away: a second cluster gets MetalLB from the cache.
    server.stop();
    vars(dc_pool, Some("169.254.100.248/30"), &more);
    let (code, plan) = fleet.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(
        fleetform_tests::one_line(&plan).contains(
            "cluster \"clinic\" is created by this plan, and no addon with pod_network = true targets it"
        ),
        "a new cluster without a pod network is a warning: {plan}"
    );
    let out = fleet.run(&["apply", "-no-color", "tfplan"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        fleet.state("addon.clinic_metallb[0]")["inventory"]
            .as_array()
            .is_some_and(|i| i.len() > 10)
    );

    // Destroy leaves nothing.
    fleet.ok(&["destroy", "-auto-approve", "-no-color"]);
    let left = fleet.ok(&["state", "list"]);
    assert!(left.trim().is_empty(), "{left}");
    for host in lab.hosts() {
        let out = lab.exec(
            &host.name,
            &[
                "sh",
                "-c",
                "ls /etc/kubernetes/manifests 2>/dev/null | wc -l",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "0",
            "{}: {}",
            host.name,
            text(&out)
        );
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap()
}
