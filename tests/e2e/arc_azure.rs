//! The arc provider against the lab's Azure, through the user's workflow (`init`,
//! `plan -out`, `apply PLANFILE` in another process), for what needs no cluster: the
//! clusters' kubeconfigs point at an API server that refuses connections, so their
//! in-cluster side is deferred while Azure's side is done. ARM_* variables alone configure
//! the provider; client secret, certificate and federated tokens each get their token from
//! the lab's issuer; throttling and server errors are survived with the waits asked for; a
//! failed operation is reported with ARM's code and message; and no secret appears in any
//! output or trace log.

use base64::Engine as _;
use fleetform_tests::lab::arm::fleet::ArcFleet;
use fleetform_tests::lab::arm::{
    Application, ArmLab, Fault, FaultAction, FederatedCredential, LabConfig, PipelineIssuer,
};

const TENANT: &str = "5c3c5b9e-8a8e-4c44-a7b4-0f0c6f1d2e3a";
const SUBSCRIPTION: &str = "9d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";
const SECRET_APP: &str = "0a1b2c3d-0000-4000-8000-000000000001";
const CERT_APP: &str = "0a1b2c3d-0000-4000-8000-000000000002";
const FEDERATED_APP: &str = "0a1b2c3d-0000-4000-8000-000000000003";
const CLIENT_SECRET: &str = "canary-secret-7e41c0";
const CERT_PASSWORD: &str = "canary-pfx-password-2b9d";
const PROTECTED: &str = "canary-workspace-key-51aa";
const GITHUB_REQUEST_TOKEN: &str = "canary-gh-request-90f3";
const SUBJECT: &str = "repo:health/fleet:environment:production";

fn lab() -> (LabConfig, Vec<u8>) {
    let (cert_pem, pfx) =
        fleetform_tests::lab::arm::client_certificate("fleet-pipeline", CERT_PASSWORD).unwrap();
    let mut config = ArmLab::config(TENANT, SUBSCRIPTION);
    config.applications = vec![
        Application {
            client_id: SECRET_APP.into(),
            secrets: vec![CLIENT_SECRET.into()],
            ..Application::default()
        },
        Application {
            client_id: CERT_APP.into(),
            certificates: vec![cert_pem],
            ..Application::default()
        },
        Application {
            client_id: FEDERATED_APP.into(),
            federated: vec![FederatedCredential {
                issuer: None,
                subject: SUBJECT.into(),
                audience: "api://AzureADTokenExchange".into(),
            }],
            ..Application::default()
        },
    ];
    config.github = Some(PipelineIssuer {
        request_token: GITHUB_REQUEST_TOKEN.into(),
        subject: SUBJECT.into(),
        service_connection_id: None,
    });
    (config, pfx)
}

/// A kubeconfig for an API server that refuses connections (nothing listens on port 9).
fn unreachable_kubeconfig(ca_pem: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: edge\n  cluster:\n    server: https://127.0.0.1:9\n    certificate-authority-data: {ca}\nusers:\n- name: admin\n  user:\n    token: canary-kube-token-6d1e\ncontexts:\n- name: edge\n  context:\n    cluster: edge\n    user: admin\ncurrent-context: edge\n"
    )
}

fn resources(fleet: &ArcFleet) -> String {
    format!(
        r#"
variable "kubeconfig" {{
  type      = string
  sensitive = true
}}

resource "arc_connected_cluster" "edge" {{
  name                = "edge-01"
  resource_group_name = "clinics"
  location            = "westeurope"
  kubeconfig          = var.kubeconfig
  tags                = {{ site = "edge-01", tier = "clinic" }}

  agent_bundle {{
    url    = "{}"
    sha256 = "{}"
  }}
}}

resource "arc_extension" "monitor" {{
  cluster_id             = arc_connected_cluster.edge.id
  name                   = "azuremonitor-containers"
  extension_type         = "Microsoft.AzureMonitor.Containers"
  configuration_settings = {{ "logAnalyticsWorkspaceResourceID" = "/subscriptions/{SUBSCRIPTION}/resourceGroups/ops/providers/Microsoft.OperationalInsights/workspaces/fleet" }}
  configuration_protected_settings = {{ "omsagent.secret.key" = "{PROTECTED}" }}
}}
"#,
        fleet.bundle_url, fleet.bundle_sha256
    )
}

fn fleet(config: LabConfig) -> ArcFleet {
    let arm = ArmLab::start(config).expect("the lab's Azure starts");
    let ca = std::fs::read_to_string(arm.ca_file()).unwrap();
    let fleet = ArcFleet::new(arm);
    fleet.write("main.hcl", &resources(&fleet));
    fleet.write(
        "cluster.auto.hcl",
        &format!("kubeconfig = {:?}\n", unreachable_kubeconfig(&ca)),
    );
    fleet
}

fn arm_env(fleet: &mut ArcFleet, client_id: &str) {
    let host = fleet.arm.host().to_owned();
    let ca = fleet.arm.ca_file().display().to_string();
    fleet.env("ARM_METADATA_HOSTNAME", &host);
    fleet.env("SSL_CERT_FILE", &ca);
    fleet.env("ARM_SUBSCRIPTION_ID", SUBSCRIPTION);
    fleet.env("ARM_TENANT_ID", TENANT);
    fleet.env("ARM_CLIENT_ID", client_id);
    fleet.env("ARM_USE_CLI", "false");
}

fn token_requests(fleet: &ArcFleet) -> Vec<fleetform_tests::lab::arm::LoggedRequest> {
    fleet
        .arm
        .requests()
        .into_iter()
        .filter(|r| r.kind == "token")
        .collect()
}

#[test]
fn arm_variables_alone_configure_the_provider_for_every_credential() {
    let (config, pfx) = lab();
    let cases: [(&str, &str, &str); 4] = [
        ("client secret", SECRET_APP, "client_secret"),
        ("client certificate", CERT_APP, "client_certificate"),
        ("federated token file", FEDERATED_APP, "federated"),
        ("GitHub Actions token", FEDERATED_APP, "federated"),
    ];
    for (what, client_id, grant) in cases {
        let mut fleet = fleet(config.clone());
        arm_env(&mut fleet, client_id);
        match what {
            "client secret" => fleet.env("ARM_CLIENT_SECRET", CLIENT_SECRET),
            "client certificate" => {
                let path = fleet.path("pipeline.pfx");
                std::fs::write(&path, &pfx).unwrap();
                fleet.env("ARM_CLIENT_CERTIFICATE_PATH", &path.display().to_string());
                fleet.env("ARM_CLIENT_CERTIFICATE_PASSWORD", CERT_PASSWORD);
            }
            "federated token file" => {
                let path = fleet.path("federated.jwt");
                std::fs::write(&path, fleet.arm.federated_token(SUBJECT)).unwrap();
                fleet.env("ARM_USE_OIDC", "true");
                fleet.env("ARM_OIDC_TOKEN_FILE_PATH", &path.display().to_string());
            }
            _ => {
                let url = format!("{}/oidc/github?api-version=2.0", fleet.arm.url());
                fleet.env("ARM_USE_OIDC", "true");
                fleet.env("ACTIONS_ID_TOKEN_REQUEST_URL", &url);
                fleet.env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", GITHUB_REQUEST_TOKEN);
            }
        }
        fleet.ok(&["init", "-input=false"]);
        let (plan, apply) = fleet.plan_and_apply();
        assert!(plan.contains("2 to add"), "{what}: {plan}");
        assert!(apply.contains("Apply complete"), "{what}: {apply}");
        let tokens = token_requests(&fleet);
        assert!(!tokens.is_empty(), "{what}: no token was requested");
        for t in &tokens {
            assert_eq!(t.status, 200, "{what}: {t:?}");
            assert_eq!(t.grant.as_deref(), Some(grant), "{what}: {t:?}");
            assert_eq!(t.client_id.as_deref(), Some(client_id), "{what}");
        }
        let puts: Vec<_> = fleet
            .arm
            .requests()
            .into_iter()
            .filter(|r| r.method == "PUT")
            .collect();
        assert_eq!(puts.len(), 2, "{what}: {puts:#?}");
        assert!(
            puts.iter()
                .all(|p| p.client_id.as_deref() == Some(client_id))
        );
        fleet.arm.assert_all_bodies_valid();
        // The site refuses connections: Azure's side is done, the agents wait.
        let state = fleet.state();
        let extension = state["values"]["root_module"]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["address"] == "arc_extension.monitor")
            .expect("the extension is in the state");
        assert_eq!(
            extension["sensitive_values"]["configuration_protected_settings"], true,
            "{what}: protected settings are marked sensitive"
        );
        let cluster = find(&state, "arc_connected_cluster.edge");
        assert_eq!(
            cluster["in_cluster_state"], "Deferred",
            "{what}: {cluster:#}"
        );
        let reason = cluster["deferred_reason"].as_str().unwrap_or_default();
        assert!(reason.contains("cannot be reached"), "{what}: {reason}");
        let (code, text) = fleet.detailed_plan();
        assert_eq!(
            code, 2,
            "{what}: deferred work is a pending change:\n{text}"
        );
        assert!(text.contains("deferred since"), "{what}: {text}");
        let protected = fleet
            .arm
            .resources()
            .into_iter()
            .find(|r| {
                r["id"]
                    .as_str()
                    .unwrap()
                    .ends_with("/azuremonitor-containers")
            })
            .expect("the extension exists in Azure");
        let digest: String = openssl::sha::sha256(PROTECTED.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(protected["protected_sha256"]["omsagent.secret.key"], digest);
        assert!(protected["body"].to_string().find(PROTECTED).is_none());
        fleet.ok(&["show", "-no-color"]);
        fleet.assert_no_secrets(&[
            CLIENT_SECRET,
            CERT_PASSWORD,
            PROTECTED,
            GITHUB_REQUEST_TOKEN,
            "canary-kube-token",
        ]);
    }
}

fn find<'a>(state: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    state["values"]["root_module"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["address"] == address)
        .map(|r| &r["values"])
        .unwrap_or_else(|| panic!("{address} is not in the state: {state:#}"))
}

#[test]
fn throttling_and_server_errors_are_survived_with_the_waits_arm_asks_for() {
    let (config, _) = lab();
    let fleet = fleet(config);
    fleet.write(
        "provider.hcl",
        &fleet.provider_block(SECRET_APP, CLIENT_SECRET),
    );
    fleet.ok(&["init", "-input=false"]);
    fleet.arm.inject(Fault {
        method: Some("PUT".into()),
        path_contains: Some("/connectedClusters/edge-01".into()),
        count: 1,
        action: FaultAction::Throttle {
            retry_after_secs: 3,
        },
    });
    fleet.arm.inject(Fault {
        method: Some("PUT".into()),
        path_contains: Some("/extensions/".into()),
        count: 2,
        action: FaultAction::ServerError { status: 500 },
    });
    let (_, apply) = fleet.plan_and_apply();
    assert!(
        apply.contains("Apply complete! Resources: 2 added"),
        "{apply}"
    );
    let requests = fleet.arm.requests();
    let puts = |needle: &str| -> Vec<_> {
        requests
            .iter()
            .filter(|r| r.method == "PUT" && r.path.contains(needle))
            .collect()
    };
    let cluster: Vec<_> = puts("/connectedClusters/edge-01")
        .into_iter()
        .filter(|r| r.path.ends_with("/edge-01"))
        .collect();
    let statuses: Vec<u16> = cluster.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 201], "one retry after the 429");
    let waited = cluster[1].at_ms - cluster[0].at_ms;
    assert!(
        (3000..5000).contains(&waited),
        "Retry-After: 3 honoured: waited {waited} ms"
    );
    let extension = puts("/extensions/");
    let statuses: Vec<u16> = extension.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 201], "two retries after the 500s");
    let transcript = fleet.transcript();
    let retries = transcript.matches("retrying an ARM request").count();
    assert_eq!(retries, 3, "each retry is logged at debug level");
    fleet.arm.assert_all_bodies_valid();
    fleet.assert_no_secrets(&[CLIENT_SECRET, PROTECTED]);
}

#[test]
fn a_failed_operation_reports_arms_code_and_keeps_what_was_created() {
    let (config, _) = lab();
    let fleet = fleet(config);
    fleet.write(
        "provider.hcl",
        &fleet.provider_block(SECRET_APP, CLIENT_SECRET),
    );
    fleet.ok(&["init", "-input=false"]);
    fleet.arm.inject(Fault {
        method: Some("PUT".into()),
        path_contains: Some("/extensions/".into()),
        count: 1,
        action: FaultAction::FailOperation {
            code: "ExtensionCreationFailed".into(),
            message: "the extension's Helm release did not install".into(),
        },
    });
    fleet.ok(&["plan", "-input=false", "-out", "change.plan"]);
    let out = fleet.run(&["apply", "-input=false", "change.plan"]);
    assert_eq!(out.status.code(), Some(1));
    let text = fleetform_tests::output_text(&out);
    assert!(text.contains("ExtensionCreationFailed"), "{text}");
    assert!(
        text.contains("the extension's Helm release did not install"),
        "{text}"
    );
    // The extension exists in Azure (Failed): it is recorded, so the next plan replaces
    // it rather than forgetting it.
    let (code, plan) = fleet.detailed_plan();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.contains("arc_extension.monitor is tainted, so must be replaced")
            || plan.contains("arc_extension.monitor must be replaced"),
        "{plan}"
    );
    fleet.plan_and_apply();
    let (code, plan) = fleet.detailed_plan();
    assert_eq!(
        code, 2,
        "the site is still unreachable, so the agents still wait:\n{plan}"
    );
    fleet.arm.assert_all_bodies_valid();
    fleet.assert_no_secrets(&[CLIENT_SECRET, PROTECTED]);
}
