//! Azure Arc for clusters the same fleet builds, on the lab (real OpenSSH hosts, the lab's
//! node agents and API server) and the lab's Azure, through the user's workflow (`init`,
//! `plan -out`, `apply PLANFILE`): a cluster created in the same apply is connected, with
//! two extensions and a Flux configuration, and a second plan is empty; its identity
//! certificate's deadlines show in plans and an expired one plans the re-onboarding;
//! destroy removes everything in order; and a site cut off from the network has its
//! in-cluster work deferred, then finished by the first apply after it heals; a rollout
//! gated on `arc_connected` waits for each site's agents to report. Needs root (the lab).

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use fleetform_tests::cluster_sites;
use fleetform_tests::lab::arm::fleet::ArcFleet;
use fleetform_tests::lab::arm::{Application, ArmLab};
use fleetform_tests::lab::{Lab, LabSpec};
use serde_json::Value;

const TENANT: &str = "8f2d5e61-3c1b-4a7e-9d02-6b5a4c3e2f10";
const SUBSCRIPTION: &str = "4b7c9e21-5d3f-4a8b-b6c0-1e2f3a4b5c6d";
const CLIENT: &str = "6e5d4c3b-2a19-4f08-8e7d-6c5b4a392817";
const CLIENT_SECRET: &str = "canary-fleet-secret-4c2e";
const WORKSPACE_KEY: &str = "canary-workspace-key-8d31";
const GIT_TOKEN: &str = "canary-git-token-17ab";

const FLEET: &str = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}
variable "bundle" {
  type = object({ url = string, sha256 = string })
}
variable "workspace_key" {
  type      = string
  sensitive = true
}
variable "git_token" {
  type      = string
  sensitive = true
}

provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "3s"
}
provider "kubernetes" {
  wait_timeout = "120s"
}

locals {
  sites = toset(sort([for k, h in var.lab.hosts : k if !h.private]))
}

resource "host" "site" {
  for_each = local.sites
  address  = var.lab.hosts[each.key].address
  port     = var.lab.hosts[each.key].port
  host_key = var.lab.hosts[each.key].host_key
}

resource "cluster" "site" {
  for_each            = local.sites
  name                = each.key
  kubernetes_version  = "1.30.5"
  control_plane_hosts = [host.site[each.key].id]
  install_runtime     = false
}
"#;

const ARC: &str = r#"
resource "arc_connected_cluster" "site" {
  for_each            = local.sites
  name                = "clinic-${each.key}"
  resource_group_name = "clinics"
  location            = "westeurope"
  kubeconfig          = cluster.site[each.key].admin_kubeconfig
  tags                = { site = each.key }

  aad_profile {
    enable_azure_rbac      = true
    admin_group_object_ids = ["6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"]
  }

  proxy {
    https_proxy = "http://proxy.clinic.example:3128"
    no_proxy    = "10.96.0.0/12,.svc,.cluster.local"
  }

  agent_bundle {
    url     = var.bundle.url
    sha256  = var.bundle.sha256
    version = "1.21.10"
  }
}

resource "arc_extension" "flux" {
  for_each          = local.sites
  cluster_id        = arc_connected_cluster.site[each.key].id
  name              = "flux"
  extension_type    = "microsoft.flux"
  release_namespace = "flux-system"
}

resource "arc_extension" "monitor" {
  for_each                         = local.sites
  cluster_id                       = arc_connected_cluster.site[each.key].id
  name                             = "azuremonitor-containers"
  extension_type                   = "Microsoft.AzureMonitor.Containers"
  version                          = "3.1.24"
  auto_upgrade_minor_version       = false
  configuration_protected_settings = { "omsagent.secret.key" = var.workspace_key }
}

resource "gitops_configuration" "apps" {
  for_each   = local.sites
  cluster_id = arc_connected_cluster.site[each.key].id
  name       = "clinic-apps"
  depends_on = [arc_extension.flux]

  git_repository {
    url        = "https://git.health.example/fleet/clinic-apps"
    branch     = "main"
    https_user = "flux"
    https_key  = var.git_token
  }

  kustomization "infra" {
    path  = "./infra"
    prune = true
  }

  kustomization "apps" {
    path       = "./apps"
    depends_on = ["infra"]
  }
}
"#;

struct Site {
    lab: Lab,
    fleet: ArcFleet,
}

/// The lab's Azure with the test's application, and a fleet directory using it.
fn lab_azure() -> ArcFleet {
    let mut config = ArmLab::config(TENANT, SUBSCRIPTION);
    config.applications = vec![Application {
        client_id: CLIENT.into(),
        secrets: vec![CLIENT_SECRET.into()],
        ..Application::default()
    }];
    ArcFleet::new(ArmLab::start(config).expect("the lab's Azure starts"))
}

fn start(hosts: usize, with_arc: bool) -> Site {
    let lab = Lab::start_with(LabSpec { hosts, private: 0 }).expect("the lab starts");
    let fleet = lab_azure();
    fleet.write("lab.auto.hcl", &lab.to_hcl());
    fleet.write(
        "inputs.auto.hcl",
        &format!(
            "bundle = {{ url = {:?}, sha256 = {:?} }}\nworkspace_key = {WORKSPACE_KEY:?}\ngit_token = {GIT_TOKEN:?}\n",
            fleet.bundle_url, fleet.bundle_sha256
        ),
    );
    fleet.write("main.hcl", FLEET);
    fleet.write("provider.hcl", &fleet.provider_block(CLIENT, CLIENT_SECRET));
    if with_arc {
        fleet.write("arc.hcl", ARC);
    }
    fleet.ok(&["init", "-input=false"]);
    Site { lab, fleet }
}

fn resources(state: &Value) -> Vec<Value> {
    state["values"]["root_module"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn values<'a>(state: &'a Value, address: &str) -> &'a Value {
    state["values"]["root_module"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["address"] == address)
        .map(|r| &r["values"])
        .unwrap_or_else(|| panic!("{address} is not in the state"))
}

/// An attribute of `TYPE.site[KEY]` as the state itself records it (`show -json` leaves
/// sensitive values out).
fn recorded(fleet: &ArcFleet, ty: &str, key: &str, attribute: &str) -> Value {
    let state = fleet.pulled_state();
    state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["type"] == ty && r["name"] == "site")
        .flat_map(|r| r["instances"].as_array().cloned().unwrap_or_default())
        .find(|i| i["index_key"] == key)
        .map(|i| i["attributes"][attribute].clone())
        .unwrap_or_else(|| panic!("{ty}.site[{key:?}] is not in the state"))
}

/// Writes the site's admin kubeconfig (0600) from the state.
fn kubeconfig(fleet: &ArcFleet, site: &str) -> PathBuf {
    let text = recorded(fleet, "cluster", site, "admin_kubeconfig")
        .as_str()
        .expect("the cluster's admin kubeconfig")
        .to_owned();
    let path = fleet.path(&format!("{site}.kubeconfig"));
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--request-timeout", "10s"])
        .args(args)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The agent's private key, as the cluster holds it.
fn agent_key(kubeconfig: &Path) -> String {
    let encoded = kubectl(
        kubeconfig,
        &[
            "get",
            "secret",
            "azure-arc-connect-privatekey",
            "-n",
            "azure-arc",
            "-o",
            "jsonpath={.data.privateKey}",
        ],
    );
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .expect("base64 secret data"),
    )
    .unwrap()
}

fn arm_resource(fleet: &ArcFleet, suffix: &str) -> Option<Value> {
    fleet.arm.resources().into_iter().find(|r| {
        r["id"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase()
            .ends_with(&suffix.to_ascii_lowercase())
    })
}

/// Plays the agents of site `site`'s cluster, whose admin kubeconfig is `kubeconfig`: a
/// heartbeat signed with the private key the cluster holds, which the lab's Azure checks
/// against the public half it was given. Returns the connected cluster's id.
fn play_agents(fleet: &ArcFleet, site: &str, kubeconfig: &Path) -> String {
    let cluster = arm_resource(fleet, &format!("/connectedClusters/clinic-{site}"))
        .unwrap_or_else(|| panic!("clinic-{site} is not in Azure"));
    let id = cluster["id"].as_str().unwrap().to_owned();
    let key = agent_key(kubeconfig);
    assert!(
        key.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "the agent key is PKCS#1 PEM"
    );
    let answer = fleet
        .arm
        .heartbeat(&id, &key, "1.21.10")
        .expect("the agents' heartbeat signs");
    assert_eq!(answer["properties"]["connectivityStatus"], "Connected");
    id
}

/// The connected cluster in Azure holds the public half of the key the cluster holds,
/// and its agents can prove it: the lab's heartbeat checks their signature.
fn assert_connected(fleet: &ArcFleet, site: &str) -> String {
    let kubeconfig = kubeconfig(fleet, site);
    let id = play_agents(fleet, site, &kubeconfig);
    let config = kubectl(
        &kubeconfig,
        &[
            "get",
            "configmap",
            "azure-clusterconfig",
            "-n",
            "azure-arc",
            "-o",
            "jsonpath={.data.AZURE_RESOURCE_NAME} {.data.AZURE_SUBSCRIPTION_ID}",
        ],
    );
    assert_eq!(config.trim(), format!("clinic-{site} {SUBSCRIPTION}"));
    let deployments = kubectl(
        &kubeconfig,
        &["get", "deployments", "-n", "azure-arc", "-o", "name"],
    );
    for agent in [
        "clusterconnect-agent",
        "config-agent",
        "cluster-metadata-operator",
    ] {
        assert!(
            deployments.contains(agent),
            "{agent} from the bundle: {deployments}"
        );
    }
    id
}

#[test]
fn a_cluster_created_in_the_same_apply_is_connected_and_kept_to_its_deadlines() {
    let Site { lab, fleet } = start(1, true);
    let (plan, apply) = fleet.plan_and_apply();
    assert!(plan.contains("6 to add"), "{plan}");
    assert!(
        apply.contains("Apply complete! Resources: 6 added"),
        "{apply}"
    );
    for suffix in [
        "/connectedClusters/clinic-lab-1",
        "/extensions/flux",
        "/extensions/azuremonitor-containers",
        "/fluxConfigurations/clinic-apps",
    ] {
        let found =
            arm_resource(&fleet, suffix).unwrap_or_else(|| panic!("{suffix} is not in Azure"));
        assert_eq!(
            found["body"]["properties"]["provisioningState"], "Succeeded",
            "{suffix}"
        );
    }
    let id = assert_connected(&fleet, "lab-1");
    let (code, text) = fleet.detailed_plan();
    assert_eq!(code, 0, "a second plan is empty:\n{text}");

    // Entra ID integration in Azure; the agents' proxy in the cluster.
    let connected = arm_resource(&fleet, "/connectedClusters/clinic-lab-1").unwrap();
    let aad = &connected["body"]["properties"]["aadProfile"];
    assert_eq!(aad["enableAzureRBAC"], true, "{connected}");
    assert_eq!(
        aad["adminGroupObjectIDs"],
        serde_json::json!(["6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"]),
        "{connected}"
    );
    assert_eq!(aad["tenantID"], TENANT, "{connected}");
    let proxy = kubectl(
        &kubeconfig(&fleet, "lab-1"),
        &[
            "get",
            "configmap",
            "azure-clusterconfig",
            "-n",
            "azure-arc",
            "-o",
            "jsonpath={.data.HTTPS_PROXY} {.data.NO_PROXY}",
        ],
    );
    assert_eq!(
        proxy.trim(),
        "http://proxy.clinic.example:3128 10.96.0.0/12,.svc,.cluster.local"
    );

    // What the agents report reaches the state at refresh.
    fleet.ok(&["refresh", "-input=false"]);
    let state = fleet.state();
    let connected = values(&state, "arc_connected_cluster.site[\"lab-1\"]");
    assert_eq!(connected["connectivity_status"], "Connected");
    assert_eq!(connected["agent_version"], "1.21.10");
    assert_eq!(connected["in_cluster_state"], "Installed");
    assert!(
        recorded(
            &fleet,
            "arc_connected_cluster",
            "lab-1",
            "pending_agent_key"
        )
        .is_null(),
        "the private key is not kept in state"
    );
    let monitor = values(&state, "arc_extension.monitor[\"lab-1\"]");
    assert_eq!(monitor["current_version"], "3.1.24");

    // Day 2: another tag on the connected cluster and a newer extension version are
    // updates in place, sent as PATCH requests whose bodies the specs accept.
    fleet.write(
        "arc.hcl",
        &ARC.replace(
            "{ site = each.key }",
            "{ site = each.key, tier = \"clinic\" }",
        )
        .replace("\"3.1.24\"", "\"3.1.25\""),
    );
    fleet.arm.clear_requests();
    let (plan, _) = fleet.plan_and_apply();
    assert!(
        plan.contains("0 to add, 2 to change, 0 to destroy"),
        "{plan}"
    );
    let changed: Vec<String> = fleet
        .arm
        .requests()
        .into_iter()
        .filter(|r| r.kind == "arm" && matches!(r.method.as_str(), "PUT" | "PATCH" | "DELETE"))
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.path.rsplit('/').next().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        changed.iter().filter(|c| !c.starts_with("PATCH ")).count(),
        0,
        "updates are PATCHes only: {changed:?}"
    );
    for patched in ["PATCH clinic-lab-1", "PATCH azuremonitor-containers"] {
        assert!(
            changed.iter().any(|c| c == patched),
            "{patched}: {changed:?}"
        );
    }
    fleet.arm.assert_all_bodies_valid();
    let cluster = arm_resource(&fleet, "/connectedClusters/clinic-lab-1").unwrap();
    assert_eq!(cluster["body"]["tags"]["tier"], "clinic", "{cluster}");
    let extension = arm_resource(&fleet, "/extensions/azuremonitor-containers").unwrap();
    assert_eq!(
        extension["body"]["properties"]["version"], "3.1.25",
        "{extension}"
    );
    let (code, text) = fleet.detailed_plan();
    assert_eq!(code, 0, "after the update, a plan is empty:\n{text}");

    // Ten days before the identity certificate expires, every plan says so.
    fleet.arm.set_identity_expiry(&id, 10 * 86400);
    let (code, text) = fleet.detailed_plan();
    assert_eq!(code, 0, "a deadline is a warning, not a change:\n{text}");
    assert!(text.contains("identity certificate expires at"), "{text}");
    assert!(text.contains("in 10 days"), "{text}");

    // Expired: the plan is the re-onboarding, the extensions and the Flux configuration
    // that the deletion removes re-created with it.
    fleet.arm.set_identity_expiry(&id, -3600);
    let plan = fleet.ok_report(&[
        "plan",
        "-input=false",
        "-no-color",
        "-out",
        "reonboard.plan",
    ]);
    assert!(plan.contains("re-onboarded"), "{plan}");
    for address in [
        "arc_connected_cluster.site[\"lab-1\"]",
        "arc_extension.flux[\"lab-1\"]",
        "arc_extension.monitor[\"lab-1\"]",
        "gitops_configuration.apps[\"lab-1\"]",
    ] {
        assert!(
            plan.contains(&format!("{address} must be replaced")),
            "{address}:\n{plan}"
        );
    }
    assert!(
        plan.contains("4 to add, 0 to change, 4 to destroy"),
        "{plan}"
    );
    let old_key = arm_resource(&fleet, "/connectedClusters/clinic-lab-1").unwrap()["body"]["properties"]["agentPublicKeyCertificate"].clone();
    fleet.arm.clear_requests();
    fleet.ok(&["apply", "-input=false", "reonboard.plan"]);
    let order: Vec<String> = fleet
        .arm
        .requests()
        .into_iter()
        .filter(|r| {
            r.kind == "arm" && matches!(r.method.as_str(), "PUT" | "DELETE") && r.status < 300
        })
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.path.rsplit('/').take(2).collect::<Vec<_>>().join("<")
            )
        })
        .collect();
    let position = |needle: &str| {
        order
            .iter()
            .position(|o| o == needle)
            .unwrap_or_else(|| panic!("{needle} not in {order:#?}"))
    };
    assert!(
        position("DELETE clinic-lab-1<connectedClusters")
            < position("PUT clinic-lab-1<connectedClusters")
    );
    for child in [
        "flux<extensions",
        "azuremonitor-containers<extensions",
        "clinic-apps<fluxConfigurations",
    ] {
        assert!(
            position("PUT clinic-lab-1<connectedClusters") < position(&format!("PUT {child}")),
            "{order:#?}"
        );
    }
    let new_key = arm_resource(&fleet, "/connectedClusters/clinic-lab-1").unwrap()["body"]["properties"]["agentPublicKeyCertificate"].clone();
    assert_ne!(
        old_key, new_key,
        "a re-onboarded cluster has a new agent key"
    );
    assert_connected(&fleet, "lab-1");
    let (code, text) = fleet.detailed_plan();
    assert_eq!(
        code, 0,
        "after the re-onboarding, nothing is left to do:\n{text}"
    );

    // Destroy: Flux configuration and extensions before their cluster, Arc before the
    // Kubernetes cluster it runs in.
    fleet.arm.clear_requests();
    fleet.ok(&["destroy", "-auto-approve", "-input=false"]);
    let deletes: Vec<String> = fleet
        .arm
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE" && r.kind == "arm")
        .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        deletes.last().map(String::as_str),
        Some("clinic-lab-1"),
        "{deletes:?}"
    );
    assert_eq!(deletes.len(), 4, "{deletes:?}");
    assert!(fleet.arm.resources().is_empty(), "nothing is left in Azure");
    assert!(resources(&fleet.state()).is_empty());

    fleet.ok(&["show", "-no-color"]);
    fleet.arm.assert_all_bodies_valid();
    fleet.assert_no_secrets(&[
        CLIENT_SECRET,
        WORKSPACE_KEY,
        GIT_TOKEN,
        "BEGIN RSA PRIVATE KEY",
    ]);
    drop(lab);
}

#[test]
fn a_cut_off_site_has_its_in_cluster_work_deferred_and_finished_after_heal() {
    let Site { lab, fleet } = start(2, false);
    fleet.plan_and_apply();
    lab.cut("lab-2").expect("cut lab-2");
    fleet.write("arc.hcl", ARC);
    let (plan, apply) = fleet.plan_and_apply();
    assert!(plan.contains("8 to add"), "{plan}");
    assert!(
        apply.contains("Apply complete! Resources: 8 added"),
        "the rest of the fleet completes:\n{apply}"
    );
    let state = fleet.state();
    let north = values(&state, "arc_connected_cluster.site[\"lab-1\"]");
    assert_eq!(north["in_cluster_state"], "Installed");
    let south = values(&state, "arc_connected_cluster.site[\"lab-2\"]");
    assert_eq!(south["in_cluster_state"], "Deferred", "{south:#}");
    assert!(south["deferred_since"].is_string());
    assert!(
        south["deferred_reason"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{}",
        south["deferred_reason"]
    );
    for suffix in [
        "/connectedClusters/clinic-lab-2",
        "/connectedClusters/clinic-lab-2/providers/Microsoft.KubernetesConfiguration/extensions/flux",
    ] {
        assert!(
            arm_resource(&fleet, suffix).is_some(),
            "Azure's side of the cut site is done: {suffix}"
        );
    }
    assert_connected(&fleet, "lab-1");
    let (code, text) = fleet.detailed_plan();
    assert_eq!(code, 2, "the deferred work is a pending change:\n{text}");
    assert!(text.contains("deferred since"), "{text}");

    lab.heal("lab-2").expect("heal lab-2");
    let (_, apply) = fleet.plan_and_apply();
    assert!(apply.contains("Apply complete!"), "{apply}");
    let state = fleet.state();
    let south = values(&state, "arc_connected_cluster.site[\"lab-2\"]");
    assert_eq!(south["in_cluster_state"], "Installed", "{south:#}");
    assert!(south["deferred_since"].is_null());
    assert!(
        recorded(
            &fleet,
            "arc_connected_cluster",
            "lab-2",
            "pending_agent_key"
        )
        .is_null()
    );
    assert_connected(&fleet, "lab-2");
    let (code, text) = fleet.detailed_plan();
    assert_eq!(code, 0, "then a plan is empty:\n{text}");
    fleet.arm.assert_all_bodies_valid();
    fleet.ok(&["show", "-no-color"]);
    fleet.assert_no_secrets(&[
        CLIENT_SECRET,
        WORKSPACE_KEY,
        GIT_TOKEN,
        "BEGIN RSA PRIVATE KEY",
    ]);
}

/// A clinic whose one machine is reachable only through its gateway: the cluster is
/// built through the jump host, and so is the Arc agents' installation.
const BEHIND_A_JUMP_HOST: &str = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}
variable "bundle" {
  type = object({ url = string, sha256 = string })
}
variable "workspace_key" {
  type      = string
  sensitive = true
}
variable "git_token" {
  type      = string
  sensitive = true
}

provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "3s"
}
provider "kubernetes" {
  wait_timeout = "120s"
}

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
  kubernetes_version        = "1.30.5"
  control_plane_hosts       = [for h in host.clinic : h.id]
  control_plane_schedulable = true
  install_runtime           = false
}

resource "arc_connected_cluster" "clinic" {
  name                = "clinic-gated"
  resource_group_name = "clinics"
  location            = "westeurope"
  kubeconfig          = cluster.clinic.admin_kubeconfig

  agent_bundle {
    url     = var.bundle.url
    sha256  = var.bundle.sha256
    version = "1.21.10"
  }
}
"#;

#[test]
fn a_cluster_behind_a_jump_host_gets_its_agents_through_it() {
    let lab = Lab::start_with(LabSpec {
        hosts: 1,
        private: 1,
    })
    .expect("the lab starts");
    let private = lab.hosts().iter().find(|h| h.private).unwrap().name.clone();
    let fleet = lab_azure();
    fleet.write("lab.auto.hcl", &lab.to_hcl());
    fleet.write(
        "inputs.auto.hcl",
        &format!(
            "bundle = {{ url = {:?}, sha256 = {:?} }}\nworkspace_key = {WORKSPACE_KEY:?}\ngit_token = {GIT_TOKEN:?}\n",
            fleet.bundle_url, fleet.bundle_sha256
        ),
    );
    fleet.write("main.hcl", BEHIND_A_JUMP_HOST);
    fleet.write("provider.hcl", &fleet.provider_block(CLIENT, CLIENT_SECRET));
    fleet.ok(&["init", "-input=false"]);
    let (_, apply) = fleet.plan_and_apply();
    assert!(apply.contains("Apply complete!"), "{apply}");
    let state = fleet.state();
    let connected = resources(&state)
        .into_iter()
        .find(|r| r["type"] == "arc_connected_cluster")
        .expect("the connected cluster is in state");
    assert_eq!(
        connected["values"]["in_cluster_state"], "Installed",
        "the agents were installed through the gateway, not deferred: {connected}"
    );
    // In the clinic's cluster (asked from the clinic's own machine): the agents' key.
    let pulled = fleet.pulled_state();
    let admin = pulled["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "cluster")
        .and_then(|r| r["instances"][0]["attributes"]["admin_kubeconfig"].as_str())
        .expect("the cluster's admin kubeconfig")
        .to_owned();
    let kubeconfig = fleet.path("clinic.kubeconfig");
    std::fs::write(&kubeconfig, admin).unwrap();
    let out = lab.exec(
        &private,
        &[
            "kubectl",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "get",
            "secret",
            "azure-arc-connect-privatekey",
            "-n",
            "azure-arc",
            "-o",
            "name",
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("azure-arc-connect-privatekey"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, text) = fleet.detailed_plan();
    assert_eq!(code, 0, "a second plan is empty:\n{text}");
}

/// The rollout of the test's two sites (`tests/cluster_sites.rs`, connected to Arc): the
/// canary lab-1, then the rest, each held until Azure sees it Connected.
const ARC_ROLLOUT: &str = r#"
rollout "arc" {
  health_gates = ["arc_connected"]
  gate_timeout = "10s"

  stage "canary" {
    sites = [module.site["lab-1"]]
  }
  stage "rest" {
    sites = [module.site]
  }
}
"#;

/// The admin kubeconfig of `module.site[SITE]`'s cluster, written 0600.
fn site_kubeconfig(fleet: &ArcFleet, site: &str) -> PathBuf {
    let state = fleet.pulled_state();
    let module = format!("module.site[\"{site}\"]");
    let text = state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["type"] == "cluster" && r["module"] == module.as_str())
        .and_then(|r| r["instances"][0]["attributes"]["admin_kubeconfig"].as_str())
        .unwrap_or_else(|| panic!("{module}.cluster.this is not in the state"))
        .to_owned();
    let path = fleet.path(&format!("{site}.kubeconfig"));
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path
}

#[test]
fn a_rollout_gated_on_arc_waits_for_each_site_to_be_connected() {
    let lab = Lab::start_with(LabSpec {
        hosts: 2,
        private: 0,
    })
    .expect("the lab starts");
    let fleet = lab_azure();
    cluster_sites::write(
        fleet.dir(),
        &lab,
        &[("lab-1", "lab-1"), ("lab-2", "lab-2")],
        0,
    );
    fleet.write(
        "arc.auto.hcl",
        &format!(
            "arc_bundle = {{ url = {:?}, sha256 = {:?} }}\n",
            fleet.bundle_url, fleet.bundle_sha256
        ),
    );
    fleet.write("rollout.hcl", ARC_ROLLOUT);
    fleet.write("provider.hcl", &fleet.provider_block(CLIENT, CLIENT_SECRET));
    fleet.ok(&["init", "-input=false"]);
    // The plan, then the exit code and output of applying it.
    let plan_then_apply = || {
        let plan = fleet.ok(&["plan", "-input=false", "-no-color", "-out", "change.plan"]);
        let out = fleet.run(&["apply", "-input=false", "-no-color", "change.plan"]);
        (plan, out.status.code(), fleetform_tests::output_text(&out))
    };
    let in_azure = |site: &str| arm_resource(&fleet, &format!("/connectedClusters/clinic-{site}"));

    // The canary is connected in Azure, but no agent has reported from it yet: Azure says
    // Connecting, the gate does not pass, and the other site is not started.
    let (_, code, halted) = plan_then_apply();
    assert_eq!(code, Some(1), "{halted}");
    assert!(halted.contains("Rollout halted"), "{halted}");
    assert!(
        halted.contains("module.site[\"lab-1\"] failed: ")
            && halted.contains("arc_connected")
            && halted.contains("clinic-lab-1 is Connecting"),
        "{halted}"
    );
    assert!(in_azure("lab-1").is_some());
    assert!(in_azure("lab-2").is_none(), "lab-2 was not started");

    // Its agents report: the next apply resumes, the canary passes, lab-2 is connected and
    // waits for its own agents in turn.
    play_agents(&fleet, "lab-1", &site_kubeconfig(&fleet, "lab-1"));
    let (plan, code, second) = plan_then_apply();
    assert!(
        plan.contains("resumes the rollout halted in stage \"canary\""),
        "{plan}"
    );
    assert_eq!(code, Some(1), "{second}");
    assert!(
        second.contains("module.site[\"lab-2\"] failed: ")
            && second.contains("clinic-lab-2 is Connecting")
            && !second.contains("module.site[\"lab-1\"] failed: "),
        "{second}"
    );
    assert!(in_azure("lab-2").is_some());

    // Both connected: the rollout completes.
    play_agents(&fleet, "lab-2", &site_kubeconfig(&fleet, "lab-2"));
    let (_, code, done) = plan_then_apply();
    assert_eq!(code, Some(0), "{done}");
    assert_eq!(
        fleet.pulled_state()["rollouts"]["arc"]["status"],
        "completed",
        "{done}"
    );
}
