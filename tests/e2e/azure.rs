//! The Azure crate (fleetform-azure) against the lab's Azure (`fleetform-lab-arm`): every
//! credential obtains its token from the lab's Entra ID, Resource Manager accepts it,
//! throttling and server errors are survived with the waits ARM asks for, failed
//! operations report ARM's code and message. And the lab's spec validation agrees with
//! `validate_example.py` on the specs' own examples and on broken bodies.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use fleetform_azure::{
    ArmClient, AuthConfig, AzureError, CloudConfig, Credential, CredentialKind, FederatedSource,
    RetryPolicy, Secret, http_client,
};
use fleetform_sdk::CancellationToken;
use fleetform_tests::lab::arm::spec::{Mode, SPEC_FILES, Severity, Specs};
use fleetform_tests::lab::arm::{
    Application, ArmLab, Fault, FaultAction, FederatedCredential, LabConfig, ManagedIdentity,
    PipelineIssuer,
};
use serde_json::{Value, json};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const SUBSCRIPTION: &str = "1bfbb5d0-ce6f-4b3a-a6c5-0c5e2f4a1c11";
const SECRET_APP: &str = "11111111-1111-4111-8111-111111111111";
const CERT_APP: &str = "22222222-2222-4222-8222-222222222222";
const FEDERATED_APP: &str = "33333333-3333-4333-8333-333333333333";
const SECRET: &str = "canary-client-secret-3f9d";
const GITHUB_SUBJECT: &str = "repo:health/fleet:ref:refs/heads/main";
const ADO_SUBJECT: &str = "sc://health/fleet/arc-connection";

struct Fixture {
    lab: ArmLab,
    pfx: PathBuf,
}

fn fixture() -> Fixture {
    let (cert_pem, pfx) =
        fleetform_tests::lab::arm::client_certificate("fleet-pipeline", "pfx-pass")
            .expect("client certificate");
    let mut config: LabConfig = ArmLab::config(TENANT, SUBSCRIPTION);
    config.applications = vec![
        Application {
            client_id: SECRET_APP.into(),
            secrets: vec![SECRET.into()],
            ..Application::default()
        },
        Application {
            client_id: CERT_APP.into(),
            certificates: vec![cert_pem],
            ..Application::default()
        },
        Application {
            client_id: FEDERATED_APP.into(),
            federated: [
                GITHUB_SUBJECT,
                ADO_SUBJECT,
                "system:serviceaccount:ci:fleetform",
            ]
            .into_iter()
            .map(|subject| FederatedCredential {
                issuer: None,
                subject: subject.into(),
                audience: "api://AzureADTokenExchange".into(),
            })
            .collect(),
            ..Application::default()
        },
    ];
    config.managed_identities = vec![ManagedIdentity { client_id: None }];
    config.github = Some(PipelineIssuer {
        request_token: "canary-github-request-token".into(),
        subject: GITHUB_SUBJECT.into(),
        service_connection_id: None,
    });
    config.azure_pipelines = Some(PipelineIssuer {
        request_token: "canary-ado-access-token".into(),
        subject: ADO_SUBJECT.into(),
        service_connection_id: Some("4d0f1c2e-9d7b-4b8e-a0f3-6a6a2b2c9e10".into()),
    });
    let lab = ArmLab::start(config).expect("the lab's Azure starts");
    let pfx_path = lab.dir().join("pipeline.pfx");
    std::fs::write(&pfx_path, pfx).unwrap();
    Fixture { lab, pfx: pfx_path }
}

fn http(lab: &ArmLab) -> reqwest::Client {
    http_client(Some(&std::fs::read(lab.ca_file()).unwrap())).expect("HTTP client")
}

async fn cloud(lab: &ArmLab) -> fleetform_azure::Cloud {
    CloudConfig {
        metadata_host: Some(lab.host().to_owned()),
        ..CloudConfig::default()
    }
    .resolve(&http(lab))
    .await
    .expect("the lab's metadata describes its cloud")
}

fn service_principal(client_id: &str) -> AuthConfig {
    AuthConfig {
        tenant_id: Some(TENANT.into()),
        client_id: Some(client_id.into()),
        use_cli: false,
        ..AuthConfig::default()
    }
}

fn cluster_id(name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourcegroups/clinics/providers/Microsoft.Kubernetes/connectedClusters/{name}"
    )
}

async fn client(lab: &ArmLab, auth: &AuthConfig) -> ArmClient {
    let http = http(lab);
    let cloud = cloud(lab).await;
    let credential = Arc::new(Credential::new(auth, &cloud, &http).expect("credential"));
    ArmClient::new(http, &cloud, credential).with_retry(RetryPolicy {
        base_delay: Duration::from_millis(200),
        ..RetryPolicy::default()
    })
}

fn cluster_body() -> Value {
    json!({
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {"agentPublicKeyCertificate": "", "distribution": "generic"},
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_credential_gets_its_token_from_the_lab_and_arm_accepts_it() {
    let Fixture { lab, pfx } = fixture();
    let cancel = CancellationToken::new();
    let token_file = lab.dir().join("federated-token");
    std::fs::write(
        &token_file,
        lab.federated_token("system:serviceaccount:ci:fleetform"),
    )
    .unwrap();
    let mut cases: Vec<(AuthConfig, CredentialKind, &str, &str)> = Vec::new();
    let mut secret = service_principal(SECRET_APP);
    secret.client_secret = Some(Secret::new(SECRET));
    cases.push((
        secret,
        CredentialKind::ClientSecret,
        SECRET_APP,
        "client_secret",
    ));
    let mut certificate = service_principal(CERT_APP);
    certificate.client_certificate_path = Some(pfx.clone());
    certificate.client_certificate_password = Some(Secret::new("pfx-pass"));
    cases.push((
        certificate,
        CredentialKind::ClientCertificate,
        CERT_APP,
        "client_certificate",
    ));
    let mut file = service_principal(FEDERATED_APP);
    file.use_oidc = true;
    file.oidc_token_file_path = Some(token_file);
    cases.push((
        file,
        CredentialKind::Federated(FederatedSource::TokenFile),
        FEDERATED_APP,
        "federated",
    ));
    let mut github = service_principal(FEDERATED_APP);
    github.use_oidc = true;
    github.oidc_request_url = Some(format!("{}/oidc/github?api-version=2.0", lab.url()));
    github.oidc_request_token = Some(Secret::new("canary-github-request-token"));
    cases.push((
        github,
        CredentialKind::Federated(FederatedSource::GitHubActions),
        FEDERATED_APP,
        "federated",
    ));
    let mut ado = service_principal(FEDERATED_APP);
    ado.use_oidc = true;
    ado.oidc_request_url = Some(format!("{}/oidc/ado", lab.url()));
    ado.oidc_request_token = Some(Secret::new("canary-ado-access-token"));
    ado.ado_pipeline_service_connection_id = Some("4d0f1c2e-9d7b-4b8e-a0f3-6a6a2b2c9e10".into());
    cases.push((
        ado,
        CredentialKind::Federated(FederatedSource::AzurePipelines),
        FEDERATED_APP,
        "federated",
    ));
    let msi = AuthConfig {
        use_msi: true,
        msi_endpoint: Some(format!("{}/metadata/identity/oauth2/token", lab.url())),
        use_cli: false,
        ..AuthConfig::default()
    };
    cases.push((
        msi,
        CredentialKind::ManagedIdentity,
        "system-assigned",
        "managed_identity",
    ));

    for (auth, kind, client_id, grant) in cases {
        lab.clear_requests();
        assert_eq!(auth.kind().unwrap(), kind);
        let arm = client(&lab, &auth).await;
        // ARM answers 404 for a cluster that does not exist: the token was accepted.
        let got = arm
            .get(&cluster_id("nowhere"), "2024-01-01", &cancel)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}\n{}", lab.server_log()));
        assert_eq!(got, None, "{kind}");
        arm.get(&cluster_id("nowhere-else"), "2024-01-01", &cancel)
            .await
            .unwrap();
        let requests = lab.requests();
        let tokens: Vec<_> = requests
            .iter()
            .filter(|r| r.kind == "token" || r.kind == "managed_identity")
            .collect();
        assert_eq!(
            tokens.len(),
            1,
            "{kind}: one token, cached for the second request: {tokens:#?}"
        );
        assert_eq!(tokens[0].status, 200, "{kind}: {tokens:#?}");
        assert_eq!(tokens[0].grant.as_deref(), Some(grant), "{kind}");
        let arm_calls: Vec<_> = requests.iter().filter(|r| r.kind == "arm").collect();
        assert_eq!(arm_calls.len(), 2, "{kind}");
        for call in arm_calls {
            assert_eq!(call.status, 404, "{kind}: {call:?}");
            assert_eq!(call.error_code.as_deref(), Some("ResourceNotFound"));
            assert_eq!(call.client_id.as_deref(), Some(client_id), "{kind}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_entras_error_without_the_secret() {
    let Fixture { lab, .. } = fixture();
    let mut auth = service_principal(SECRET_APP);
    auth.client_secret = Some(Secret::new("canary-wrong-secret"));
    let arm = client(&lab, &auth).await;
    let e = arm
        .get(&cluster_id("c"), "2024-01-01", &CancellationToken::new())
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, AzureError::Auth { .. }), "{e:?}");
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(!text.contains("canary"), "{text}");
    assert!(!format!("{e:?}").contains("canary"));
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_server_errors_are_retried_with_the_waits_arm_asks_for() {
    let Fixture { lab, .. } = fixture();
    let mut auth = service_principal(SECRET_APP);
    auth.client_secret = Some(Secret::new(SECRET));
    let arm = client(&lab, &auth).await;
    lab.inject(Fault {
        method: Some("PUT".into()),
        path_contains: Some("/connectedClusters/".into()),
        count: 1,
        action: FaultAction::Throttle {
            retry_after_secs: 2,
        },
    });
    lab.inject(Fault {
        method: Some("PUT".into()),
        path_contains: Some("/connectedClusters/".into()),
        count: 2,
        action: FaultAction::ServerError { status: 500 },
    });
    let id = cluster_id("north");
    let created = arm
        .put(
            &id,
            "2024-01-01",
            &cluster_body(),
            &CancellationToken::new(),
        )
        .await
        .expect("the PUT survives a 429 and two 500s");
    assert_eq!(created["properties"]["provisioningState"], "Succeeded");
    let puts: Vec<_> = lab
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    let statuses: Vec<u16> = puts.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 500, 500, 201], "three retries: {puts:#?}");
    let waited = puts[1].at_ms - puts[0].at_ms;
    assert!(
        waited >= 2000,
        "Retry-After: 2 was honoured: waited {waited} ms"
    );
    assert!(waited < 4000, "and not much longer: {waited} ms");
    let backoff = puts[3].at_ms - puts[1].at_ms;
    assert!(
        backoff >= 200,
        "the 500s were retried with backoff: {backoff} ms"
    );
    lab.assert_all_bodies_valid();
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_and_reset_connections_are_retried_and_endless_ones_are_unreachable() {
    let Fixture { lab, .. } = fixture();
    let mut auth = service_principal(SECRET_APP);
    auth.client_secret = Some(Secret::new(SECRET));
    let arm = client(&lab, &auth).await;
    let cancel = CancellationToken::new();
    let id = cluster_id("south");
    arm.put(&id, "2024-01-01", &cluster_body(), &cancel)
        .await
        .unwrap();
    lab.inject(Fault {
        method: Some("GET".into()),
        path_contains: Some("/connectedClusters/south".into()),
        count: 1,
        action: FaultAction::Reset,
    });
    assert!(arm.get(&id, "2024-01-01", &cancel).await.unwrap().is_some());
    lab.inject(Fault {
        method: Some("GET".into()),
        path_contains: Some("/connectedClusters/south".into()),
        count: 1,
        action: FaultAction::Refuse { ms: 1500 },
    });
    let started = std::time::Instant::now();
    assert!(arm.get(&id, "2024-01-01", &cancel).await.unwrap().is_some());
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );

    let stubborn = client(&lab, &auth).await.with_retry(RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    });
    lab.inject(Fault {
        method: Some("GET".into()),
        path_contains: Some("/connectedClusters/south".into()),
        count: 1,
        action: FaultAction::Refuse { ms: 3000 },
    });
    let e = stubborn.get(&id, "2024-01-01", &cancel).await.unwrap_err();
    assert!(matches!(e, AzureError::Unreachable { .. }), "{e:?}");
    let provider: fleetform_sdk::ProviderError = e.into();
    assert_eq!(provider.kind, fleetform_sdk::ErrorKind::Unreachable);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_operations_and_invalid_bodies_report_arms_code_and_message() {
    let Fixture { lab, .. } = fixture();
    let mut auth = service_principal(SECRET_APP);
    auth.client_secret = Some(Secret::new(SECRET));
    let arm = client(&lab, &auth).await;
    let cancel = CancellationToken::new();
    let id = cluster_id("east");
    arm.put(&id, "2024-01-01", &cluster_body(), &cancel)
        .await
        .unwrap();
    lab.inject(Fault {
        method: Some("PUT".into()),
        path_contains: Some("/extensions/".into()),
        count: 1,
        action: FaultAction::FailOperation {
            code: "ExtensionOperationFailed".into(),
            message: "helm install failed: the namespace is terminating".into(),
        },
    });
    let extension = format!("{id}/providers/Microsoft.KubernetesConfiguration/extensions/flux");
    let e = arm
        .put(
            &extension,
            "2025-03-01",
            &json!({"properties": {"extensionType": "microsoft.flux"}}),
            &cancel,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("ExtensionOperationFailed"), "{e}");
    assert!(e.to_string().contains("helm install failed"), "{e}");

    let mut invalid = cluster_body();
    invalid["properties"]
        .as_object_mut()
        .unwrap()
        .remove("agentPublicKeyCertificate");
    invalid["properties"]["connectivityStatus"] = json!("Connected");
    let e = arm
        .put(&cluster_id("west"), "2024-01-01", &invalid, &cancel)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.code(), Some("InvalidRequestContent"));
    let text = e.to_string();
    assert!(
        text.contains("$.properties.agentPublicKeyCertificate: missing required property"),
        "{text}"
    );
    assert!(
        text.contains("$.properties.connectivityStatus: readOnly property"),
        "{text}"
    );
    let e = arm.get(&id, "2023-11-01", &cancel).await.unwrap_err();
    assert_eq!(e.code(), Some("NoRegisteredProviderFound"), "{e}");
}

fn specs_root() -> PathBuf {
    fleetform_tests::shared_dir().join("specs/azure")
}

fn python(args: &[&str]) -> (i32, String) {
    let out = Command::new("python3")
        .arg(specs_root().join("validate_example.py"))
        .args(args)
        .output()
        .expect("python3 runs validate_example.py");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn counts(issues: &[fleetform_tests::lab::arm::Issue]) -> (usize, usize) {
    let errors = issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .count();
    (errors, issues.len() - errors)
}

#[test]
fn the_labs_validation_agrees_with_the_script_on_every_example() {
    let root = specs_root();
    let specs = Specs::load(&root, SPEC_FILES).expect("specs load");
    let mut checked = 0;
    for spec in SPEC_FILES {
        let spec_path = root.join(spec);
        let examples = spec_path.parent().unwrap().join("examples");
        for entry in std::fs::read_dir(&examples).unwrap() {
            let example = entry.unwrap().path();
            let ours = specs.validate_example(&example).unwrap();
            let (code, text) = python(&[
                spec_path.to_str().unwrap(),
                "--example",
                example.to_str().unwrap(),
            ]);
            let summary = text.lines().last().unwrap_or_default().to_owned();
            let (errors, warnings) = counts(&ours);
            assert!(
                summary.ends_with(&format!("{errors} error(s), {warnings} warning(s)")),
                "{}: the script says {summary:?}, the lab {ours:#?}",
                example.display()
            );
            assert_eq!(code, i32::from(errors > 0));
            checked += 1;
        }
    }
    assert_eq!(checked, 13, "every saved example was checked");
}

#[test]
fn the_labs_validation_finds_what_the_script_finds_in_broken_bodies() {
    let root = specs_root();
    let specs = Specs::load(&root, SPEC_FILES).expect("specs load");
    let clusters = root.join(SPEC_FILES[0]);
    let extensions = root.join(SPEC_FILES[1]);
    let flux = root.join(SPEC_FILES[2]);
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&Path, &str, Value, Mode, &str)> = vec![
        (
            &clusters,
            "ConnectedCluster",
            json!({"identity": {"type": "SystemAssigned"}, "properties": {"agentPublicKeyCertificate": ""}}),
            Mode::Create,
            "$.location",
        ),
        (
            &clusters,
            "ConnectedCluster",
            json!({"location": "x", "identity": {"type": "SystemAssigned"}, "properties": {}}),
            Mode::Create,
            "$.properties.agentPublicKeyCertificate",
        ),
        (
            &clusters,
            "ConnectedCluster",
            json!({"location": "x", "identity": {"type": "Magic"}, "properties": {"agentPublicKeyCertificate": ""}}),
            Mode::Create,
            "$.identity.type",
        ),
        (
            &clusters,
            "ConnectedCluster",
            json!({"location": "x", "identity": {"type": "None"}, "properties": {"agentPublicKeyCertificate": "", "totalNodeCount": 3}}),
            Mode::Create,
            "$.properties.totalNodeCount",
        ),
        (
            &extensions,
            "Extension",
            json!({"properties": {"extensionType": "x", "autoUpgradeMinorVersion": "yes"}}),
            Mode::Create,
            "$.properties.autoUpgradeMinorVersion",
        ),
        (
            &flux,
            "FluxConfiguration",
            json!({"properties": {"gitRepository": {"url": "https://x", "syncIntervalInSeconds": "10m"}}}),
            Mode::Create,
            "$.properties.gitRepository.syncIntervalInSeconds",
        ),
        (
            &flux,
            "FluxConfigurationPatch",
            json!({"properties": {"scope": "cluster"}}),
            Mode::Update,
            "$.properties.scope",
        ),
    ];
    for (spec, definition, body, mode, expected) in cases {
        let ours = specs.validate_definition(spec, definition, &body, mode);
        let our_paths: Vec<&str> = ours
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| i.path.as_str())
            .collect();
        assert!(
            our_paths.contains(&expected),
            "{definition} {body}: {ours:#?}"
        );
        let file = dir.path().join("body.json");
        std::fs::write(&file, body.to_string()).unwrap();
        let mode_name = match mode {
            Mode::Create => "create",
            Mode::Update => "update",
            Mode::Response => "response",
        };
        let (code, text) = python(&[
            spec.to_str().unwrap(),
            "--definition",
            definition,
            "--body",
            file.to_str().unwrap(),
            "--mode",
            mode_name,
        ]);
        assert_eq!(code, 1, "{text}");
        let mut theirs: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("ERROR   "))
            .filter_map(|l| l.split(": ").next())
            .collect();
        let mut ours_sorted = our_paths.clone();
        theirs.sort_unstable();
        ours_sorted.sort_unstable();
        assert_eq!(ours_sorted, theirs, "{definition} {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_refreshed_before_they_expire_and_replaced_when_refused() {
    let (cert_pem, _) = fleetform_tests::lab::arm::client_certificate("unused", "x").unwrap();
    let mut config: LabConfig = ArmLab::config(TENANT, SUBSCRIPTION);
    config.applications = vec![Application {
        client_id: SECRET_APP.into(),
        secrets: vec![SECRET.into()],
        certificates: vec![cert_pem],
        ..Application::default()
    }];
    // Four minutes: inside the five-minute refresh margin, so every use renews it.
    config.token_lifetime_secs = 240;
    let lab = ArmLab::start(config).unwrap();
    let mut auth = service_principal(SECRET_APP);
    auth.client_secret = Some(Secret::new(SECRET));
    let arm = client(&lab, &auth).await;
    let cancel = CancellationToken::new();
    let count_tokens = || lab.requests().iter().filter(|r| r.kind == "token").count();
    arm.get(&cluster_id("a"), "2024-01-01", &cancel)
        .await
        .unwrap();
    arm.get(&cluster_id("b"), "2024-01-01", &cancel)
        .await
        .unwrap();
    assert_eq!(
        count_tokens(),
        2,
        "a token about to expire is renewed before use"
    );

    let lab = {
        drop(lab);
        let mut config: LabConfig = ArmLab::config(TENANT, SUBSCRIPTION);
        config.applications = vec![Application {
            client_id: SECRET_APP.into(),
            secrets: vec![SECRET.into()],
            ..Application::default()
        }];
        ArmLab::start(config).unwrap()
    };
    let arm = client(&lab, &auth).await;
    arm.get(&cluster_id("a"), "2024-01-01", &cancel)
        .await
        .unwrap();
    lab.revoke_tokens();
    assert_eq!(
        arm.get(&cluster_id("a"), "2024-01-01", &cancel)
            .await
            .unwrap(),
        None
    );
    let log = lab.requests();
    let statuses: Vec<(String, u16)> = log.iter().map(|r| (r.kind.clone(), r.status)).collect();
    assert_eq!(
        statuses.iter().filter(|(k, _)| k == "token").count(),
        2,
        "the refused token was replaced once: {statuses:?}"
    );
    assert!(
        log.iter()
            .any(|r| r.status == 401
                && r.error_code.as_deref() == Some("InvalidAuthenticationToken")),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_labs_answers_follow_the_specs_too() {
    let Fixture { lab, .. } = fixture();
    let mut auth = service_principal(SECRET_APP);
    auth.client_secret = Some(Secret::new(SECRET));
    let arm = client(&lab, &auth).await;
    let cancel = CancellationToken::new();
    let cluster = cluster_id("answers");
    let mut body = cluster_body();
    body["tags"] = json!({"site": "answers"});
    body["properties"]["aadProfile"] = json!({"enableAzureRBAC": true, "adminGroupObjectIDs": ["8f1c7a2e-0000-4000-8000-000000000001"]});
    body["properties"]["arcAgentProfile"] =
        json!({"agentAutoUpgrade": "Disabled", "desiredAgentVersion": "1.21.10"});
    let answers = vec![
        ("ConnectedCluster", 0, arm.put(&cluster, "2024-01-01", &body, &cancel).await.unwrap()),
        (
            "Extension",
            1,
            arm.put(
                &format!("{cluster}/providers/Microsoft.KubernetesConfiguration/extensions/flux"),
                "2025-03-01",
                &json!({"identity": {"type": "SystemAssigned"}, "properties": {"extensionType": "microsoft.flux", "autoUpgradeMinorVersion": false, "version": "1.14.2", "scope": {"cluster": {"releaseNamespace": "flux-system"}}, "configurationProtectedSettings": {"k": "canary"}}}),
                &cancel,
            )
            .await
            .unwrap(),
        ),
        (
            "FluxConfiguration",
            2,
            arm.put(
                &format!("{cluster}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/apps"),
                "2025-04-01",
                &fleetform_provider_arc::flux::arm_body(&fleetform_sdk::Value::object([
                    ("name", fleetform_sdk::Value::from("apps")),
                    (
                        "git_repository",
                        fleetform_sdk::Value::object([
                            ("url", fleetform_sdk::Value::from("ssh://git@git.example.org/fleet")),
                            ("branch", fleetform_sdk::Value::from("main")),
                        ]),
                    ),
                ])),
                &cancel,
            )
            .await
            .unwrap(),
        ),
    ];
    let root = fleetform_tests::shared_dir().join("specs/azure");
    let specs = Specs::load(&root, SPEC_FILES).unwrap();
    for (definition, file, answer) in answers {
        let issues = specs.validate_definition(
            &root.join(SPEC_FILES[file]),
            definition,
            &answer,
            Mode::Response,
        );
        let errors: Vec<_> = issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{definition}: {errors:#?}\n{answer:#}");
        assert!(
            !answer.to_string().contains("canary"),
            "protected settings are never returned"
        );
    }
    lab.assert_all_bodies_valid();
}

#[tokio::test(flavor = "multi_thread")]
async fn operations_followed_by_location_and_slow_answers_complete() {
    let Fixture { lab, .. } = fixture();
    let mut auth = service_principal(SECRET_APP);
    auth.client_secret = Some(Secret::new(SECRET));
    let arm = client(&lab, &auth).await;
    let cancel = CancellationToken::new();
    let id = cluster_id("located");
    for method in ["PUT", "DELETE"] {
        lab.inject(Fault {
            method: Some(method.into()),
            path_contains: Some("/connectedClusters/located".into()),
            count: 1,
            action: FaultAction::LocationOnly,
        });
    }
    let created = arm
        .put(&id, "2024-01-01", &cluster_body(), &cancel)
        .await
        .unwrap();
    assert_eq!(created["properties"]["provisioningState"], "Succeeded");
    lab.inject(Fault {
        method: Some("GET".into()),
        path_contains: Some("/connectedClusters/located".into()),
        count: 1,
        action: FaultAction::Delay { ms: 1500 },
    });
    let started = std::time::Instant::now();
    assert!(arm.get(&id, "2024-01-01", &cancel).await.unwrap().is_some());
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the latency was injected"
    );
    arm.delete(&id, "2024-01-01", &cancel).await.unwrap();
    assert_eq!(arm.get(&id, "2024-01-01", &cancel).await.unwrap(), None);
    let polls: Vec<(String, u16)> = lab
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/operationResults/"))
        .map(|r| (r.method, r.status))
        .collect();
    assert!(
        polls.contains(&("GET".to_owned(), 200)),
        "the PUT's result came from its Location: {polls:?}"
    );
    assert!(
        polls.contains(&("GET".to_owned(), 204)),
        "the DELETE's end came from its Location: {polls:?}"
    );
    assert!(
        !lab.requests()
            .iter()
            .any(|r| r.path.contains("/operationStatuses/")),
        "no Azure-AsyncOperation was given, so none was polled"
    );
}
