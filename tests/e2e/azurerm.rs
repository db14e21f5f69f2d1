//! The Azure Blob Storage state backend against Azurite (started by the tests): the backend
//! contract with leases, SharedKey and SAS authorization, settings errors, and Entra ID
//! (`use_azuread_auth`) through the binary as pipelines run it, with the lab's Entra ID
//! issuing the tokens and an HTTPS Azurite (`--oauth basic`) taking them.

use fleetform_planner::state::backend::Backend;
use fleetform_planner::state::backend::codec::Codec;
use fleetform_planner::state::backend::registry::BackendRequest;
use fleetform_sdk::Value;
use fleetform_tests::backend_contract::{self, LiveLock};
use fleetform_tests::remote_state::create_container;
use fleetform_tests::services::azurite::{self, ACCOUNT, ACCOUNT_KEY};
use indexmap::IndexMap;

fn settings(container: &str) -> IndexMap<String, Value> {
    let az = azurite::shared();
    let mut s = IndexMap::new();
    s.insert("storage_account_name".to_owned(), Value::from(ACCOUNT));
    s.insert("container_name".to_owned(), Value::from(container));
    s.insert("key".to_owned(), Value::from("fleet.state"));
    s.insert("endpoint".to_owned(), Value::from(az.endpoint().as_str()));
    s.insert("lease_duration".to_owned(), Value::from(15));
    s
}

fn backend(
    settings: &IndexMap<String, Value>,
    env: &[(String, String)],
    codec: Codec,
) -> Result<Box<dyn Backend>, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kinds = fleetform_cli::backends::builtin();
    let request = BackendRequest {
        settings,
        env,
        dir: std::path::Path::new("."),
        codec,
    };
    kinds
        .get("azurerm")
        .expect("registered")
        .configure(&request)
        .map_err(|e| format!("{:?}: {}", e.attribute, e.message))
}

#[test]
fn azurerm_backend_keeps_the_backend_contract_with_an_access_key() {
    create_container("contract");
    let env = vec![("ARM_ACCESS_KEY".to_owned(), ACCOUNT_KEY.to_owned())];
    let backend = backend(&settings("contract"), &env, Codec::default()).expect("backend");
    backend_contract::check(backend.as_ref(), "az", LiveLock::Broken);
}

#[test]
fn settings_errors_name_the_setting_and_no_secret() {
    create_container("errors");
    let mut s = settings("errors");
    let err = backend(&s, &[], Codec::default())
        .err()
        .expect("no credentials");
    assert!(
        err.contains("access_key") && err.contains("sas_token"),
        "{err}"
    );
    // Entra ID: bearer tokens go over https only, and the cloud must be one azurerm knows.
    s.insert("use_azuread_auth".to_owned(), Value::Bool(true));
    s.insert("use_cli".to_owned(), Value::Bool(true));
    let err = backend(&s, &[], Codec::default())
        .err()
        .expect("Entra over http");
    assert!(
        err.starts_with("Some(\"endpoint\")") && err.contains("https"),
        "{err}"
    );
    s.insert("environment".to_owned(), Value::from("german"));
    let err = backend(&s, &[], Codec::default())
        .err()
        .expect("unknown cloud");
    assert!(err.starts_with("Some(\"environment\")"), "{err}");
    for name in ["use_azuread_auth", "use_cli", "environment"] {
        s.shift_remove(name);
    }
    s.insert("access_key".to_owned(), Value::from("bm90IHRoZSBrZXk="));
    // A wrong key is refused by the service; the message does not carry the key.
    let err = backend(&s, &[], Codec::default()).err().expect("wrong key");
    assert!(err.contains("403"), "{err}");
    assert!(!err.contains("bm90IHRoZSBrZXk"), "{err}");
    s.insert("access_key".to_owned(), Value::from(ACCOUNT_KEY));
    s.insert("container_name".to_owned(), Value::from("missing"));
    let err = backend(&s, &[], Codec::default())
        .err()
        .expect("no container");
    assert!(
        err.contains("container_name") && err.contains("does not exist"),
        "{err}"
    );
    s.insert("lease_duration".to_owned(), Value::from(0));
    let err = backend(&s, &[], Codec::default()).err().expect("lease");
    assert!(err.contains("lease_duration"), "{err}");
}

/// An account SAS for the Blob service, signed with the account key (openssl computes the
/// HMAC), valid for an hour.
fn account_sas() -> String {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    let expiry = {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", "+1 hour", "+%Y-%m-%dT%H:%M:%SZ"])
            .output()
            .expect("date");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let (version, permissions) = ("2021-08-06", "rwdlacup");
    let to_sign =
        format!("{ACCOUNT}\n{permissions}\nb\nsco\n\n{expiry}\n\nhttps,http\n{version}\n\n");
    let key_hex: String = B64
        .decode(ACCOUNT_KEY)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut child = std::process::Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-mac",
            "HMAC",
            "-macopt",
            &format!("hexkey:{key_hex}"),
            "-binary",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), to_sign.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let signature: String = B64
        .encode(out.stdout)
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_owned(),
            '/' => "%2F".to_owned(),
            '=' => "%3D".to_owned(),
            c => c.to_string(),
        })
        .collect();
    format!("sv={version}&ss=b&srt=sco&sp={permissions}&se={expiry}&spr=https,http&sig={signature}")
}

#[test]
fn azurerm_backend_keeps_the_backend_contract_with_a_sas_token() {
    create_container("sas");
    let env = vec![("ARM_SAS_TOKEN".to_owned(), format!("?{}", account_sas()))];
    let configured =
        backend(&settings("sas"), &env, Codec::default()).expect("backend with a SAS token");
    backend_contract::check(configured.as_ref(), "sas", LiveLock::Broken);
    // A SAS that does not verify is refused by the service.
    let env = vec![(
        "ARM_SAS_TOKEN".to_owned(),
        account_sas().replace("sig=", "sig=AAAA"),
    )];
    let err = backend(&settings("sas"), &env, Codec::default())
        .err()
        .expect("a bad signature");
    assert!(err.contains("403"), "{err}");
}

#[test]
fn a_held_lease_is_renewed_past_its_duration() {
    use fleetform_planner::state::{LockInfo, State, StateError};
    use std::time::Duration;

    create_container("renewed");
    let env = vec![("ARM_ACCESS_KEY".to_owned(), ACCOUNT_KEY.to_owned())];
    let configured = backend(&settings("renewed"), &env, Codec::default()).expect("backend");
    let holder = configured.store("default").unwrap();
    let other = configured.store("default").unwrap();
    let guard = holder
        .lock(LockInfo::new("apply"), Duration::ZERO)
        .expect("lock");
    // Twice the 15 s lease: without renewal it would have expired by now.
    std::thread::sleep(Duration::from_secs(32));
    assert!(
        matches!(
            other.lock(LockInfo::new("plan"), Duration::ZERO),
            Err(StateError::Locked { .. })
        ),
        "the lease of a live run is renewed, so nobody else takes the lock"
    );
    let state = State {
        serial: 1,
        ..State::new()
    };
    holder
        .write(&state)
        .expect("the holder still writes under its renewed lease");
    drop(guard);
    other
        .lock(LockInfo::new("plan"), Duration::from_secs(5))
        .expect("released at once when the holder ends");
}

/// With `snapshot = true` every write snapshots the blob first (under its lease); that the
/// writes still succeed and the state reads back is what this checks, not the snapshots'
/// content (the backend has no call to list them).
#[test]
fn writes_with_snapshots_on_succeed_and_read_back() {
    create_container("snapshots");
    let mut s = settings("snapshots");
    s.insert("snapshot".to_owned(), Value::Bool(true));
    let env = vec![("ARM_ACCESS_KEY".to_owned(), ACCOUNT_KEY.to_owned())];
    let configured = backend(&s, &env, Codec::default()).expect("backend");
    let store = configured.store("default").unwrap();
    let mut state = fleetform_planner::state::State::new();
    for serial in 1..=3 {
        state.serial = serial;
        store.write(&state).expect("write with a snapshot first");
    }
    assert_eq!(store.read().unwrap().unwrap().serial, 3);
}

mod entra_id {
    use std::path::Path;
    use std::process::Output;

    use fleetform_tests::lab::arm::{Application, ArmLab, LoggedRequest};
    use fleetform_tests::output_text;
    use fleetform_tests::services::azurite::{self, ACCOUNT, SecureAzurite};

    const TENANT: &str = "5d1c7f0e-2b7a-4c1e-9f3d-8a6b4c2e1f00";
    const APP: &str = "44444444-4444-4444-8444-444444444444";
    /// The application's client secret: it must appear in no output.
    const SECRET: &str = "canary-backend-secret-7c41";
    /// A secret the application does not have: it must appear in no output either.
    const WRONG: &str = "canary-wrong-secret-0e9b";
    const CONTAINER: &str = "entra";

    /// The lab's Entra ID with one application, and an HTTPS Azurite taking bearer tokens,
    /// and a file trusting both CAs for `SSL_CERT_FILE`.
    struct Lab {
        arm: ArmLab,
        blob: SecureAzurite,
        trust: tempfile::NamedTempFile,
    }

    fn lab() -> Lab {
        let mut config = ArmLab::config(TENANT, "3f0e6c1a-9b2d-4e5f-8a7c-1d2e3f4a5b6c");
        config.applications = vec![Application {
            client_id: APP.into(),
            secrets: vec![SECRET.into()],
            ..Application::default()
        }];
        let arm = ArmLab::start(config).expect("the lab's Azure starts");
        let blob = azurite::start_https().expect("Azurite over HTTPS starts");
        blob.create_container(CONTAINER).expect("the container");
        let mut bundle = std::fs::read(arm.ca_file()).unwrap();
        bundle.extend(std::fs::read(blob.ca_file()).unwrap());
        let trust = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(trust.path(), bundle).unwrap();
        Lab { arm, blob, trust }
    }

    fn fleet(lab: &Lab) -> String {
        format!(
            r#"fleet {{
  backend "azurerm" {{
    storage_account_name = "{ACCOUNT}"
    container_name       = "{CONTAINER}"
    key                  = "fleet.state"
    lease_duration       = 15
    use_azuread_auth     = true
    tenant_id            = "{TENANT}"
    client_id            = "{APP}"
    metadata_host        = "{}"
    use_cli              = false
  }}
}}

resource "fleetform_data" "node" {{
  count = 2
  input = {{ index = count.index }}
}}
"#,
            lab.arm.host()
        )
    }

    /// `fleetform ARGS` in `dir` as a pipeline runs it: the lab's CAs trusted through
    /// `SSL_CERT_FILE`, every log line on, no ARM_* variable but `secret`'s.
    fn run(lab: &Lab, dir: &Path, secret: Option<&str>, args: &[&str]) -> Output {
        run_trusting(lab.trust.path(), dir, secret, args)
    }

    /// The same, trusting the CAs in `trust`.
    fn run_trusting(trust: &Path, dir: &Path, secret: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = fleetform_tests::fleetform();
        for (name, _) in std::env::vars() {
            if name.starts_with("ARM_") || name.starts_with("AZURE_") {
                cmd.env_remove(name);
            }
        }
        cmd.current_dir(dir)
            .env("SSL_CERT_FILE", trust)
            .env("FLEETFORM_LOG", "trace");
        if let Some(secret) = secret {
            cmd.env("ARM_CLIENT_SECRET", secret);
        }
        cmd.args(args).output().expect("run fleetform")
    }

    fn no_secret(out: &Output, what: &str) {
        let text = output_text(out);
        for secret in [SECRET, WRONG] {
            assert!(
                !text.contains(secret),
                "{what} shows a client secret:\n{text}"
            );
        }
        // Nor an access token the lab issued (a JWT's header starts with `eyJ`).
        assert!(!text.contains("Bearer ey"), "{what} shows a token:\n{text}");
    }

    fn ok(out: &Output, what: &str) {
        no_secret(out, what);
        assert!(out.status.success(), "{what}:\n{}", output_text(out));
    }

    fn storage_tokens(lab: &Lab) -> Vec<LoggedRequest> {
        lab.arm
            .requests()
            .into_iter()
            .filter(|r| r.kind == "token")
            .collect()
    }

    #[test]
    fn a_pipeline_keeps_its_state_in_blob_storage_with_an_entra_id_service_principal() {
        let lab = lab();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.hcl"), fleet(&lab)).unwrap();
        let endpoint = format!("-backend-config=endpoint={}", lab.blob.endpoint());
        let init = ["init", "-input=false", "-no-color", &endpoint];
        // TLS is verified: trusting the lab's Entra ID but not Azurite's CA, init fails.
        let out = run_trusting(lab.arm.ca_file(), dir.path(), Some(SECRET), &init);
        no_secret(&out, "init without Azurite's CA");
        assert!(
            !out.status.success() && output_text(&out).contains("UnknownIssuer"),
            "{}",
            output_text(&out)
        );
        lab.arm.clear_requests();
        ok(&run(&lab, dir.path(), Some(SECRET), &init), "init");
        ok(
            &run(
                &lab,
                dir.path(),
                Some(SECRET),
                &["plan", "-input=false", "-no-color", "-out", "plan.bin"],
            ),
            "plan -out",
        );
        ok(
            &run(
                &lab,
                dir.path(),
                Some(SECRET),
                &["apply", "-input=false", "-no-color", "plan.bin"],
            ),
            "apply plan.bin",
        );
        let state = lab
            .blob
            .blob(CONTAINER, "fleet.state")
            .unwrap()
            .expect("the state blob exists");
        assert!(
            String::from_utf8_lossy(&state).contains("fleetform_data"),
            "the state blob holds the applied resources"
        );
        assert!(
            !dir.path().join("fleet.state").exists(),
            "the state is in the backend, not a local file"
        );
        let out = run(
            &lab,
            dir.path(),
            Some(SECRET),
            &["plan", "-input=false", "-no-color", "-detailed-exitcode"],
        );
        no_secret(&out, "second plan");
        assert_eq!(
            out.status.code(),
            Some(0),
            "no changes:\n{}",
            output_text(&out)
        );
        // Every token was the service principal's, asked for with its secret, and each
        // process asked once: the shared credential cached it for all its requests.
        let tokens = storage_tokens(&lab);
        assert!(!tokens.is_empty());
        assert!(
            tokens.iter().all(|t| t.status == 200
                && t.client_id.as_deref() == Some(APP)
                && t.grant.as_deref() == Some("client_secret")),
            "{tokens:#?}"
        );
        assert!(tokens.len() <= 4, "one token per process: {tokens:#?}");

        // The application's secret rotated away: the run fails, naming the credential and
        // Entra ID's reason, and shows no secret.
        let out = run(
            &lab,
            dir.path(),
            Some(WRONG),
            &["plan", "-input=false", "-no-color"],
        );
        no_secret(&out, "plan with a wrong secret");
        assert!(!out.status.success(), "{}", output_text(&out));
        let text = output_text(&out);
        assert!(
            text.contains("client secret") && text.contains("AADSTS7000215"),
            "the error names the credential problem:\n{text}"
        );
    }

    #[test]
    fn init_with_a_wrong_client_secret_fails_clearly_without_the_secret() {
        let lab = lab();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.hcl"), fleet(&lab)).unwrap();
        let endpoint = format!("-backend-config=endpoint={}", lab.blob.endpoint());
        let secret = format!("-backend-config=client_secret={WRONG}");
        let out = run(
            &lab,
            dir.path(),
            None,
            &["init", "-input=false", "-no-color", &endpoint, &secret],
        );
        no_secret(&out, "init with a wrong secret");
        assert!(!out.status.success(), "{}", output_text(&out));
        let text = output_text(&out);
        assert!(
            text.contains("Entra ID")
                && text.contains("client secret")
                && text.contains("Invalid client secret"),
            "the error names the credential problem:\n{text}"
        );
        let tokens = storage_tokens(&lab);
        assert!(
            !tokens.is_empty() && tokens.iter().all(|t| t.status == 401),
            "{tokens:#?}"
        );
    }
}
