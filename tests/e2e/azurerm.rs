//! The Azure Blob Storage state backend against Azurite (started by the tests): the backend
//! contract with leases, SharedKey and SAS authorization, and settings errors.

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
    s.insert("use_azuread_auth".to_owned(), Value::Bool(true));
    let err = backend(&s, &[], Codec::default()).err().expect("Entra");
    assert!(err.starts_with("Some(\"use_azuread_auth\")"), "{err}");
    s.shift_remove("use_azuread_auth");
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
fn snapshots_keep_the_previous_state() {
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
