//! `gitops_configuration` in direct mode (sites without Arc): the Flux objects fleetform
//! applies are valid against Flux's own CRDs (../shared/mirror, pinned by SHA-256), and a
//! site that cannot be reached has them deferred, with since-when and why, through the
//! user's workflow, without any call to Azure; a reachable one (the lab API server) gets
//! them applied, pruned and destroyed.

#[path = "apiserver/cluster.rs"]
#[allow(dead_code)]
mod cluster;

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use fleetform_sdk::Value;
use fleetform_tests::{output_text, run_in, shared_dir};
use serde_json::Value as Json;

const GITREPOSITORY_CRD: (&str, &str) = (
    "mirror/flux-crds/source-controller-v1.9.1/source.toolkit.fluxcd.io_gitrepositories.yaml",
    "39a5a46c81539c992abc53f9be3e5434cd70d50a10d169b1e8a450e0df1c9d09",
);
const KUSTOMIZATION_CRD: (&str, &str) = (
    "mirror/flux-crds/kustomize-controller-v1.9.4/kustomize.toolkit.fluxcd.io_kustomizations.yaml",
    "da23ca0e6b4c80d3d26a91583137491e147ef4ef1e2208aece0d0af4ef851974",
);
const GIT_TOKEN: &str = "canary-direct-git-token-0c4f";

/// The v1 schema of a mirrored CRD, after checking the file is the pinned one.
fn crd_schema((path, sha256): (&str, &str)) -> Json {
    let bytes = std::fs::read(shared_dir().join(path)).expect("the mirrored CRD");
    let digest: String = openssl::sha::sha256(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(digest, sha256, "{path} is not the pinned upstream file");
    let crd: Json = serde_yaml_ng::from_slice(&bytes).expect("the CRD is YAML");
    crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == "v1")
        .map(|v| v["schema"]["openAPIV3Schema"].clone())
        .expect("the CRD serves v1")
}

/// Structural-schema validation as the API server does it for custom objects (types,
/// required fields, enums, patterns, unknown fields pruned, so reported here).
fn check(value: &Json, schema: &Json, path: &str, problems: &mut Vec<String>) {
    if schema["x-kubernetes-int-or-string"] == true {
        if !(value.is_string() || value.is_i64()) {
            problems.push(format!("{path}: not an int or string"));
        }
        return;
    }
    if schema["x-kubernetes-preserve-unknown-fields"] == true && schema["properties"].is_null() {
        return;
    }
    match schema["type"].as_str() {
        Some("object") => {
            let Some(map) = value.as_object() else {
                return problems.push(format!("{path}: not an object"));
            };
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !map.contains_key(name) {
                    problems.push(format!("{path}.{name}: required"));
                }
            }
            for (key, item) in map {
                let child = format!("{path}.{key}");
                if let Some(property) = schema["properties"].get(key) {
                    check(item, property, &child, problems);
                } else if schema["additionalProperties"].is_object() {
                    check(item, &schema["additionalProperties"], &child, problems);
                } else if path != "$.metadata" {
                    problems.push(format!("{child}: unknown field"));
                }
            }
        }
        Some("array") => match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check(item, &schema["items"], &format!("{path}[{i}]"), problems);
                }
            }
            None => problems.push(format!("{path}: not an array")),
        },
        Some("string") => match value.as_str() {
            Some(s) => {
                if let Some(pattern) = schema["pattern"].as_str()
                    && !regex::Regex::new(pattern).unwrap().is_match(s)
                {
                    problems.push(format!("{path}: {s:?} does not match {pattern}"));
                }
                if let Some(allowed) = schema["enum"].as_array()
                    && !allowed.contains(value)
                {
                    problems.push(format!("{path}: {s:?} not in {allowed:?}"));
                }
            }
            None => problems.push(format!("{path}: not a string")),
        },
        Some("boolean") if !value.is_boolean() => problems.push(format!("{path}: not a boolean")),
        Some("integer") if !value.is_i64() => problems.push(format!("{path}: not an integer")),
        _ => {}
    }
}

fn configuration() -> Value {
    Value::object([
        ("name", Value::from("clinic-apps")),
        ("namespace", Value::from("flux-system")),
        ("scope", Value::from("namespace")),
        (
            "git_repository",
            Value::object([
                (
                    "url",
                    Value::from("ssh://git@git.health.example/fleet/clinic-apps"),
                ),
                ("tag", Value::from("v2.4.0")),
                (
                    "ssh_private_key",
                    Value::from("-----BEGIN OPENSSH PRIVATE KEY-----\n...").into_sensitive(),
                ),
                (
                    "ssh_known_hosts",
                    Value::from("git.health.example ssh-ed25519 AAAA..."),
                ),
                ("sync_interval_in_seconds", Value::from(300)),
                ("timeout_in_seconds", Value::from(60)),
            ]),
        ),
        (
            "kustomization",
            Value::object([
                (
                    "infra",
                    Value::object([
                        ("path", Value::from("./infra")),
                        ("prune", Value::from(true)),
                    ]),
                ),
                (
                    "apps",
                    Value::object([
                        ("path", Value::from("./apps")),
                        ("depends_on", Value::List(vec![Value::from("infra")])),
                        ("retry_interval_in_seconds", Value::from(90)),
                    ]),
                ),
            ]),
        ),
    ])
}

#[test]
fn direct_mode_objects_are_valid_against_fluxs_crds() {
    let schemas = [
        ("GitRepository", crd_schema(GITREPOSITORY_CRD)),
        ("Kustomization", crd_schema(KUSTOMIZATION_CRD)),
    ];
    let objects = fleetform_provider_arc::flux::direct_objects(&configuration());
    let mut checked = 0;
    for object in &objects {
        let Some((_, schema)) = schemas.iter().find(|(k, _)| object["kind"] == *k) else {
            continue;
        };
        let mut problems = Vec::new();
        check(object, schema, "$", &mut problems);
        assert!(
            problems.is_empty(),
            "{}: {problems:#?}",
            object["metadata"]["name"]
        );
        checked += 1;
    }
    assert_eq!(checked, 3, "a GitRepository and two Kustomizations");
    let secret = objects
        .iter()
        .find(|o| o["kind"] == "Secret")
        .expect("the SSH credentials");
    let identity = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["identity"].as_str().unwrap())
        .unwrap();
    assert!(identity.starts_with(b"-----BEGIN OPENSSH PRIVATE KEY-----"));

    // The check itself catches what the API server would refuse.
    let mut broken = objects
        .iter()
        .find(|o| o["kind"] == "Kustomization")
        .unwrap()
        .clone();
    broken["spec"]["interval"] = "ten minutes".into();
    broken["spec"].as_object_mut().unwrap().remove("sourceRef");
    let mut problems = Vec::new();
    check(&broken, &schemas[1].1, "$", &mut problems);
    assert_eq!(problems.len(), 2, "{problems:#?}");
}

const FLEET: &str = r#"
variable "git_token" {
  type      = string
  sensitive = true
}

resource "gitops_configuration" "apps" {
  name       = "clinic-apps"
  kubeconfig = file("${path.module}/site.kubeconfig")

  git_repository {
    url        = "https://git.health.example/fleet/clinic-apps"
    branch     = "main"
    https_user = "flux"
    https_key  = var.git_token
  }

  kustomization "apps" {
    path  = "./apps"
    prune = true
  }
}
"#;

fn ok(dir: &Path, args: &[&str]) -> Output {
    let out = fleetform_tests::fleetform()
        .current_dir(dir)
        .args(args)
        .env("FLEETFORM_LOG", "trace")
        .env("ARM_USE_CLI", "false")
        .output()
        .expect("run fleetform");
    assert!(
        out.status.success(),
        "fleetform {args:?}:\n{}",
        output_text(&out)
    );
    out
}

#[test]
fn a_direct_mode_configuration_waits_for_an_unreachable_site() {
    let dir = tempfile::tempdir().unwrap();
    // An API server that refuses connections: the site is offline.
    std::fs::write(
        dir.path().join("site.kubeconfig"),
        "apiVersion: v1\nkind: Config\nclusters:\n- name: site\n  cluster:\n    server: https://127.0.0.1:9\n    insecure-skip-tls-verify: false\nusers:\n- name: admin\n  user:\n    token: canary-direct-kube-token\ncontexts:\n- name: site\n  context:\n    cluster: site\n    user: admin\ncurrent-context: site\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("main.hcl"), FLEET).unwrap();
    std::fs::write(
        dir.path().join("secrets.auto.hcl"),
        format!("git_token = {GIT_TOKEN:?}\n"),
    )
    .unwrap();
    let mut transcript = Vec::new();
    for args in [
        &["init", "-input=false"][..],
        &["plan", "-input=false", "-out", "change.plan"],
        &["apply", "-input=false", "change.plan"],
    ] {
        transcript.push(output_text(&ok(dir.path(), args)));
    }
    let state: Json =
        serde_json::from_slice(&run_in(dir.path(), &["show", "-json"]).stdout).unwrap();
    let values = &state["values"]["root_module"]["resources"][0]["values"];
    assert_eq!(values["in_cluster_state"], "Deferred", "{values:#}");
    assert_eq!(values["id"], "flux-system/clinic-apps");
    assert!(
        values["deferred_reason"]
            .as_str()
            .unwrap()
            .contains("cannot be reached")
    );
    let plan = fleetform_tests::fleetform()
        .current_dir(dir.path())
        .args(["plan", "-input=false", "-no-color", "-detailed-exitcode"])
        .env("FLEETFORM_LOG", "trace")
        .output()
        .unwrap();
    let text = output_text(&plan);
    assert_eq!(plan.status.code(), Some(2), "{text}");
    assert!(text.contains("deferred since"), "{text}");
    transcript.push(text);
    transcript.push(output_text(&run_in(dir.path(), &["show", "-no-color"])));
    for text in transcript {
        assert!(!text.contains(GIT_TOKEN), "the Git token leaked:\n{text}");
        assert!(
            !text.contains("canary-direct-kube-token"),
            "the kube token leaked"
        );
    }
}

/// Flux's CRDs from the mirror as one addon, then a direct-mode configuration of two
/// kustomizations, the second depending on the first.
fn reachable_fleet(kustomizations: &str) -> String {
    let crd = |(path, _): (&str, &str)| shared_dir().join(path).display().to_string();
    format!(
        r#"
variable "git_token" {{
  type      = string
  sensitive = true
}}

resource "addon" "flux" {{
  name       = "flux-crds"
  kubeconfig = file("${{path.module}}/site.kubeconfig")
  manifests  = [file({source:?}), file({kustomize:?})]
}}

resource "gitops_configuration" "apps" {{
  name       = "clinic-apps"
  kubeconfig = file("${{path.module}}/site.kubeconfig")
  depends_on = [addon.flux]

  git_repository {{
    url                      = "https://git.health.example/fleet/clinic-apps"
    branch                   = "main"
    https_user               = "flux"
    https_key                = var.git_token
    sync_interval_in_seconds = 120
  }}
{kustomizations}}}
"#,
        source = crd(GITREPOSITORY_CRD),
        kustomize = crd(KUSTOMIZATION_CRD),
    )
}

const TWO_KUSTOMIZATIONS: &str = r#"
  kustomization "infra" {
    path  = "./infra"
    prune = true
  }

  kustomization "apps" {
    path       = "./apps"
    depends_on = ["infra"]
  }
"#;

const ONE_KUSTOMIZATION: &str = r#"
  kustomization "apps" {
    path = "./apps"
  }
"#;

#[test]
fn a_direct_mode_configuration_is_applied_in_cluster_pruned_and_destroyed() {
    let cluster = cluster::Cluster::in_memory();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("site.kubeconfig");
    std::fs::copy(cluster.kubeconfig("super-admin.conf", 0), &kubeconfig).unwrap();
    let kubectl = |args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap();
        (out.status.success(), out)
    };
    let get = |kind: &str, name: &str| -> Option<Json> {
        let (found, out) = kubectl(&["get", kind, name, "-n", "flux-system", "-o", "json"]);
        found.then(|| serde_json::from_slice(&out.stdout).unwrap())
    };
    std::fs::write(
        dir.path().join("secrets.auto.hcl"),
        format!("git_token = {GIT_TOKEN:?}\n"),
    )
    .unwrap();
    let plan_and_apply = || {
        let plan = ok(dir.path(), &["plan", "-input=false", "-out", "change.plan"]);
        let apply = ok(dir.path(), &["apply", "-input=false", "change.plan"]);
        [output_text(&plan), output_text(&apply)]
    };
    let mut transcript = Vec::new();
    std::fs::write(
        dir.path().join("main.hcl"),
        reachable_fleet(TWO_KUSTOMIZATIONS),
    )
    .unwrap();
    transcript.push(output_text(&ok(dir.path(), &["init", "-input=false"])));
    transcript.extend(plan_and_apply());

    // Flux's objects are in the cluster as the configuration declares them.
    let source = get("gitrepositories.source.toolkit.fluxcd.io", "clinic-apps")
        .expect("the GitRepository is in the cluster");
    assert_eq!(
        source["spec"]["url"],
        "https://git.health.example/fleet/clinic-apps"
    );
    assert_eq!(source["spec"]["ref"]["branch"], "main");
    assert_eq!(source["spec"]["interval"], "120s");
    let secret = source["spec"]["secretRef"]["name"].as_str().unwrap();
    let auth = get("secret", secret).expect("the Git credentials' Secret");
    let password = base64::engine::general_purpose::STANDARD
        .decode(auth["data"]["password"].as_str().unwrap())
        .unwrap();
    assert_eq!(password, GIT_TOKEN.as_bytes());
    let infra = get(
        "kustomizations.kustomize.toolkit.fluxcd.io",
        "clinic-apps-infra",
    )
    .expect("the infra Kustomization");
    assert_eq!(infra["spec"]["path"], "./infra");
    assert_eq!(infra["spec"]["prune"], true);
    assert_eq!(infra["spec"]["sourceRef"]["name"], "clinic-apps");
    let apps = get(
        "kustomizations.kustomize.toolkit.fluxcd.io",
        "clinic-apps-apps",
    )
    .expect("the apps Kustomization");
    assert_eq!(
        apps["spec"]["dependsOn"],
        serde_json::json!([{"name": "clinic-apps-infra"}])
    );
    let state: Json =
        serde_json::from_slice(&run_in(dir.path(), &["show", "-json"]).stdout).unwrap();
    let configuration = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "gitops_configuration.apps")
        .unwrap();
    assert_eq!(
        configuration["values"]["in_cluster_state"], "Installed",
        "{configuration:#}"
    );
    let again = fleetform_tests::fleetform()
        .current_dir(dir.path())
        .args(["plan", "-input=false", "-no-color", "-detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", output_text(&again));

    // A kustomization dropped from the configuration is pruned from the cluster.
    std::fs::write(
        dir.path().join("main.hcl"),
        reachable_fleet(ONE_KUSTOMIZATION),
    )
    .unwrap();
    transcript.extend(plan_and_apply());
    assert!(
        get(
            "kustomizations.kustomize.toolkit.fluxcd.io",
            "clinic-apps-infra"
        )
        .is_none()
    );
    assert!(
        get(
            "kustomizations.kustomize.toolkit.fluxcd.io",
            "clinic-apps-apps"
        )
        .is_some()
    );

    // Destroy removes Flux's objects, then the CRDs.
    transcript.push(output_text(&ok(
        dir.path(),
        &["destroy", "-auto-approve", "-input=false"],
    )));
    assert!(get("gitrepositories.source.toolkit.fluxcd.io", "clinic-apps").is_none());
    assert!(get("secret", secret).is_none());
    let (crd_left, _) = kubectl(&["get", "crd", "kustomizations.kustomize.toolkit.fluxcd.io"]);
    assert!(!crd_left, "the CRDs are destroyed with their addon");
    for text in transcript {
        assert!(!text.contains(GIT_TOKEN), "the Git token leaked:\n{text}");
    }
}
