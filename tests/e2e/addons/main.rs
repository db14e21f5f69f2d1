//! The `addon` resource through the user's workflow (`init -input=false`, `plan -out`,
//! `apply PLANFILE` in new processes) against the lab API server: sources fetched at init
//! and pinned by sha256, server-side apply with an inventory, drift from hand edits shown
//! and undone, other managers' fields left alone, prune, CRDs before their objects,
//! readiness waits, failover across API servers, and destroy. The cluster tests run the
//! same on lab hosts.

#[path = "../apiserver/cluster.rs"]
#[allow(dead_code)]
mod cluster;

mod fleet;
mod gates;
mod waits;

use std::path::{Path, PathBuf};
use std::process::Output;

use cluster::Cluster;
use fleetform_tests::lab::SourceServer;
use fleetform_tests::{output_text as text, run_in};
use serde_json::Value;

/// A fleet directory with a kubeconfig for the lab API server.
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl Fleet {
    pub fn new(cluster: &Cluster) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("admin.conf");
        std::fs::copy(cluster.kubeconfig("super-admin.conf", 0), &kubeconfig).unwrap();
        Fleet { dir, kubeconfig }
    }

    pub fn write(&self, main: &str) {
        std::fs::write(self.dir.path().join("main.hcl"), main).unwrap();
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run_in(self.dir.path(), args)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "fleetform {args:?}:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `plan -detailed-exitcode -out tfplan`: the exit code and the output, runs of
    /// spaces squeezed to one (the plan aligns its `=` signs).
    pub fn plan(&self) -> (i32, String) {
        let out = self.run(&["plan", "-detailed-exitcode", "-out", "tfplan", "-no-color"]);
        let code = out.status.code().unwrap_or(-1);
        assert!(code == 0 || code == 2, "plan failed:\n{}", text(&out));
        let mut squeezed = String::new();
        for c in text(&out).chars() {
            if !(c == ' ' && squeezed.ends_with(' ')) {
                squeezed.push(c);
            }
        }
        (code, squeezed)
    }

    /// Plans with -out, then applies the saved plan in another process.
    pub fn apply(&self) -> String {
        self.plan();
        self.ok(&["apply", "-no-color", "tfplan"])
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        std::process::Command::new("kubectl")
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    }

    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The addon's state, from `show -json`.
    pub fn state(&self, address: &str) -> Value {
        let json: Value = serde_json::from_str(&self.ok(&["show", "-json"])).unwrap();
        json["values"]["root_module"]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["address"] == address)
            .map(|r| r["values"].clone())
            .unwrap_or(Value::Null)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// An app bundle: a namespace, settings, a service account; `extra` is appended.
fn app_yaml(color: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop}}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: shop}}\n\
         data: {{color: {color}, size: m}}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: shop, namespace: shop}}\n{extra}"
    )
}

const CRD_AND_CR: &str = r#"apiVersion: lab.fleetform.io/v1
kind: Pool
metadata: {name: first, namespace: shop}
spec: {addresses: ["10.0.0.1"]}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: pools.lab.fleetform.io}
spec:
  group: lab.fleetform.io
  scope: Namespaced
  names: {plural: pools, singular: pool, kind: Pool}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

fn fleet_hcl(kubeconfig: &Path, url: &str, sha256: &str, extra_manifests: &str) -> String {
    format!(
        r#"
provider "addons" {{
  kubeconfig_path = "{kubeconfig}"
}}

resource "addon" "shop" {{
  name      = "shop"
  namespace = "shop"
  source    = {{ url = "{url}", sha256 = "{sha256}" }}
  manifests = [{extra_manifests}]
  wait      = false
}}
"#,
        kubeconfig = kubeconfig.display(),
    )
}

fn sha256(bytes: &[u8]) -> String {
    fleetform_provider_addons::sources::sha256_hex(bytes)
}

fn heredoc(text: &str) -> String {
    format!("<<-EOT\n{text}\nEOT\n")
}

#[test]
fn bundles_apply_drift_prune_and_destroy_through_plan_files() {
    let cluster = Cluster::in_memory();
    let fleet = Fleet::new(&cluster);
    let served = tempfile::tempdir().unwrap();
    let mut server = SourceServer::serve(served.path()).unwrap();
    let app = app_yaml("red", "");
    std::fs::write(served.path().join("app.yaml"), &app).unwrap();
    let url = server.url("app.yaml");

    // A wrong pin fails at init and at plan with both hashes, and applies nothing.
    let wrong = "0".repeat(64);
    fleet.write(&fleet_hcl(&fleet.kubeconfig, &url, &wrong, ""));
    let out = fleet.run(&["init", "-input=false", "-no-color"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let actual = sha256(app.as_bytes());
    for out in [out, fleet.run(&["plan", "-no-color"])] {
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let shown = text(&out).replace(['\n', ' '], "");
        assert!(
            shown.contains(&format!(
                "theconfigurationsays{wrong},thecontenthas{actual}"
            )),
            "{}",
            text(&out)
        );
    }
    let nothing = fleet.kubectl(&["get", "namespace", "shop"]);
    assert!(!nothing.status.success(), "nothing was applied");

    // The right pin: fetched at init, applied from the plan file, then nothing to do.
    let crd = heredoc(CRD_AND_CR);
    fleet.write(&fleet_hcl(
        &fleet.kubeconfig,
        &url,
        &sha256(app.as_bytes()),
        &crd,
    ));
    let init = fleet.ok(&["init", "-input=false", "-no-color"]);
    assert!(init.contains("sha256 verified"), "{init}");
    let fetches = server.requests();
    let (code, plan) = fleet.plan();
    assert_eq!(code, 2);
    assert!(plan.contains("\"/ConfigMap/shop/settings\""), "{plan}");
    assert!(
        plan.contains("\"lab.fleetform.io/Pool/shop/first\" = (known after apply)"),
        "{plan}"
    );
    fleet.ok(&["apply", "-no-color", "tfplan"]);
    assert_eq!(
        server.requests(),
        fetches,
        "plans and applies never download"
    );
    let pool = fleet.kubectl_ok(&[
        "get",
        "pools.lab.fleetform.io",
        "first",
        "-n",
        "shop",
        "-o",
        "jsonpath={.spec.addresses}",
    ]);
    assert_eq!(pool, "[\"10.0.0.1\"]");
    let (code, plan) = fleet.plan();
    assert_eq!(code, 0, "a second plan changes nothing:\n{plan}");
    let state = fleet.state("addon.shop");
    let inventory: Vec<String> = state["inventory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}/{}/{}/{}",
                e["group"].as_str().unwrap(),
                e["kind"].as_str().unwrap(),
                e["namespace"].as_str().unwrap(),
                e["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        inventory,
        [
            "/Namespace//shop",
            "apiextensions.k8s.io/CustomResourceDefinition//pools.lab.fleetform.io",
            "/ServiceAccount/shop/shop",
            "/ConfigMap/shop/settings",
            "lab.fleetform.io/Pool/shop/first",
        ]
    );
    assert!(
        state["inventory"][0]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );

    // An edit by hand of a field fleetform manages is drift: shown, then undone.
    let edit = fleet.path().join("edit.sh");
    std::fs::write(
        &edit,
        "#!/bin/sh\nsed -i 's/color: red/color: blue/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&edit, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = std::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", fleet.kubeconfig.display()))
        .args(["edit", "configmap", "settings", "-n", "shop"])
        .env("KUBE_EDITOR", &edit)
        .output()
        .unwrap();
    assert!(out.status.success(), "kubectl edit: {}", text(&out));
    // Another manager's field is left alone and reported as not owned.
    fleet.kubectl_ok(&["label", "configmap", "settings", "-n", "shop", "team=ops"]);
    let (code, plan) = fleet.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("~ color = \"blue\" -> \"red\""), "{plan}");
    // The label shows as another manager's field, never as a change of fleetform's.
    assert!(
        plan.contains("\"ConfigMap shop/settings .metadata.labels.team (kubectl-label)\","),
        "{plan}"
    );
    assert!(
        !plan.contains("labels = "),
        "the label is not fleetform's to change:\n{plan}"
    );
    fleet.ok(&["apply", "-no-color", "tfplan"]);
    let color = fleet.kubectl_ok(&[
        "get",
        "configmap",
        "settings",
        "-n",
        "shop",
        "-o",
        "jsonpath={.data.color}/{.metadata.labels.team}",
    ]);
    assert_eq!(color, "red/ops");
    let state = fleet.state("addon.shop");
    assert!(
        state["not_owned"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "ConfigMap shop/settings .metadata.labels.team (kubectl-label)"),
        "{}",
        state["not_owned"]
    );
    assert_eq!(fleet.plan().0, 0);

    // With the source server gone, a bundle from the same source still plans and
    // applies from the cache; the custom resource dropped from the bundle is pruned.
    server.stop();
    fleet.write(&fleet_hcl(
        &fleet.kubeconfig,
        &url,
        &sha256(app.as_bytes()),
        "",
    ));
    let (code, plan) = fleet.plan();
    assert_eq!(code, 2);
    assert!(
        plan.contains("- \"lab.fleetform.io/Pool/shop/first\""),
        "{plan}"
    );
    fleet.ok(&["apply", "-no-color", "tfplan"]);
    let gone = fleet.kubectl(&["get", "pools.lab.fleetform.io", "first", "-n", "shop"]);
    assert!(!gone.status.success());

    // An air-gapped site: the cache exported as a mirror, which init reads instead of
    // the (gone) server, checked against the same pin.
    let mirror = fleet.path().join("mirror");
    let out = fleet.ok(&["sources", "mirror", &mirror.display().to_string()]);
    assert!(out.contains("Copied 1 source(s)"), "{out}");
    let site = Fleet::new(&cluster);
    site.write(&format!(
        "provider \"addons\" {{\n  source_mirror = \"{}\"\n}}\n{}",
        mirror.display(),
        fleet_hcl(&site.kubeconfig, &url, &sha256(app.as_bytes()), "")
            .replace("provider \"addons\" {", "locals {")
            .replace("kubeconfig_path =", "unused =")
            .replace(
                "resource \"addon\" \"shop\" {",
                &format!(
                    "resource \"addon\" \"shop\" {{\n  kubeconfig = file(\"{}\")",
                    site.kubeconfig.display()
                )
            )
    ));
    let init = site.ok(&["init", "-input=false", "-no-color"]);
    assert!(
        init.contains(&format!("from {}/sha256/", mirror.display())),
        "{init}"
    );
    // A new state: it plans to adopt the objects the first fleet applied.
    let (code, plan) = site.plan();
    assert_eq!(code, 2);
    assert!(plan.contains("+ resource \"addon\" \"shop\""), "{plan}");

    // Destroy leaves nothing.
    fleet.ok(&["destroy", "-auto-approve", "-no-color"]);
    for object in [
        ["namespace", "shop"],
        ["customresourcedefinition", "pools.lab.fleetform.io"],
    ] {
        let out = fleet.kubectl(&["get", object[0], object[1]]);
        assert!(!out.status.success(), "{object:?} is left: {}", text(&out));
    }
}
