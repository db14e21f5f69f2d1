//! The PKI checked from outside: every certificate against its CA with the real `openssl
//! verify`, names, usages and validity by parsing, kubeconfigs through `kubectl`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::*;

const DAY: Duration = Duration::from_secs(24 * 3600);
/// 2030-03-17T17:46:40Z, for tests that control time.
const FIXED_NOW: Duration = Duration::from_secs(1_900_000_000);

const EC_OID: &str = "1.2.840.10045.2.1";
const RSA_OID: &str = "1.2.840.113549.1.1.1";
const ED25519_OID: &str = "1.3.101.112";

fn member(name: &str, address: &str) -> Member {
    Member {
        name: name.into(),
        address: address.parse().unwrap(),
    }
}

fn three_node_spec(now: SystemTime) -> PkiSpec {
    let mut spec = PkiSpec::new(
        "clinic",
        Endpoint {
            host: "k8s.clinic.lan".into(),
            port: 6443,
        },
        vec![
            member("cp-1", "169.254.100.11"),
            member("cp-2", "169.254.100.12"),
            member("cp-3", "169.254.100.13"),
        ],
        now,
    );
    spec.extra_sans = vec!["10.0.0.100".into(), "api.clinic.example".into()];
    spec
}

fn one_node_spec(algorithm: KeyAlgorithm) -> PkiSpec {
    let mut spec = PkiSpec::new(
        "single",
        Endpoint {
            host: "169.254.100.21".into(),
            port: 6443,
        },
        vec![member("node-a", "169.254.100.21")],
        SystemTime::now(),
    );
    spec.key_algorithm = algorithm;
    spec
}

/// The three-node ECDSA bundle most tests look at, issued once at the real time (so
/// `openssl verify` accepts it now).
fn fixture() -> &'static (PkiSpec, Bundle) {
    static FIXTURE: OnceLock<(PkiSpec, Bundle)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let spec = three_node_spec(SystemTime::now());
        let bundle = issue(&spec).expect("the PKI is issued");
        (spec, bundle)
    })
}

// ---------------------------------------------------------------------------------------
// Helpers: parsing, openssl, files.

#[derive(Debug)]
struct Info {
    subject_cn: String,
    subject_o: Vec<String>,
    issuer_cn: String,
    dns: Vec<String>,
    ips: Vec<IpAddr>,
    ca: Option<bool>,
    key_usage: BTreeSet<&'static str>,
    server_auth: bool,
    client_auth: bool,
    not_before: i64,
    not_after: i64,
    key_oid: String,
    rsa_bits: Option<usize>,
}

fn info(pem: &str) -> Info {
    let der = certs::certificate_der("test", pem).unwrap();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let strings = |iter: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue>| {
        iter.map(|value| value.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let (mut dns, mut ips) = (Vec::new(), Vec::new());
    if let Some(san) = cert.subject_alternative_name().unwrap() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(name) => dns.push((*name).to_owned()),
                GeneralName::IPAddress(bytes) => ips.push(match bytes.len() {
                    4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).unwrap()),
                    _ => IpAddr::from(<[u8; 16]>::try_from(*bytes).unwrap()),
                }),
                other => panic!("unexpected SAN {other:?}"),
            }
        }
    }
    let mut key_usage = BTreeSet::new();
    if let Some(ku) = cert.key_usage().unwrap() {
        assert!(ku.critical, "key usage is critical");
        let ku = ku.value;
        for (set, name) in [
            (ku.digital_signature(), "digitalSignature"),
            (ku.key_encipherment(), "keyEncipherment"),
            (ku.key_cert_sign(), "keyCertSign"),
            (ku.crl_sign(), "cRLSign"),
            (ku.non_repudiation(), "nonRepudiation"),
            (ku.data_encipherment(), "dataEncipherment"),
            (ku.key_agreement(), "keyAgreement"),
        ] {
            if set {
                key_usage.insert(name);
            }
        }
    }
    let eku = cert.extended_key_usage().unwrap().map(|e| e.value.clone());
    let rsa_bits = match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => Some(rsa.key_size()),
        _ => None,
    };
    Info {
        subject_cn: strings(&mut cert.subject().iter_common_name())[0].clone(),
        subject_o: strings(&mut cert.subject().iter_organization()),
        issuer_cn: strings(&mut cert.issuer().iter_common_name())[0].clone(),
        dns,
        ips,
        ca: cert.basic_constraints().unwrap().map(|bc| {
            assert!(bc.critical, "basic constraints are critical");
            bc.value.ca
        }),
        key_usage,
        server_auth: eku.as_ref().is_some_and(|e| e.server_auth),
        client_auth: eku.as_ref().is_some_and(|e| e.client_auth),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        key_oid: cert.public_key().algorithm.algorithm.to_id_string(),
        rsa_bits,
    }
}

fn unix(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name.replace('/', "_"));
    std::fs::write(&path, contents).unwrap();
    path
}

fn run(command: &mut Command) -> (bool, String) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} cannot run (is it installed?): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `openssl verify -x509_strict -purpose PURPOSE -CAfile CA CERT`, in OpenSSL's words.
fn openssl_verify(dir: &Path, ca_pem: &str, cert_pem: &str, purpose: &str) -> Result<(), String> {
    let ca = write(dir, "verify-ca.crt", ca_pem);
    let cert = write(dir, "verify-leaf.crt", cert_pem);
    let (ok, text) = run(Command::new("openssl")
        .args(["verify", "-x509_strict", "-purpose", purpose, "-CAfile"])
        .arg(&ca)
        .arg(&cert));
    if ok && text.trim_end().ends_with(": OK") {
        Ok(())
    } else {
        Err(text)
    }
}

/// The public key of a certificate and of a private key, as openssl prints them.
fn openssl_public_keys(dir: &Path, cert_pem: &str, key_pem: &str) -> (String, String) {
    let cert = write(dir, "pair.crt", cert_pem);
    let key = write(dir, "pair.key", key_pem);
    let (ok, from_cert) = run(Command::new("openssl")
        .args(["x509", "-noout", "-pubkey", "-in"])
        .arg(&cert));
    assert!(ok, "{from_cert}");
    let (ok, from_key) = run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key));
    assert!(ok, "{from_key}");
    (from_cert, from_key)
}

/// The CA a certificate path is issued from, as kubeadm arranges them.
fn ca_path_of(path: &str) -> &'static str {
    if path.starts_with("pki/etcd/") || path == paths::APISERVER_ETCD_CLIENT_CERT {
        paths::ETCD_CA_CERT
    } else if path.starts_with("pki/front-proxy-") {
        paths::FRONT_PROXY_CA_CERT
    } else {
        paths::CA_CERT
    }
}

fn is_ca_path(path: &str) -> bool {
    [
        paths::CA_CERT,
        paths::ETCD_CA_CERT,
        paths::FRONT_PROXY_CA_CERT,
    ]
    .contains(&path)
}

fn kubeconfig_yaml(yaml: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(yaml).expect("a kubeconfig is YAML")
}

fn b64(value: &serde_yaml_ng::Value) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_str().expect("a string"))
        .expect("base64");
    String::from_utf8(bytes).unwrap()
}

/// Every certificate, key pair and kubeconfig of a bundle checked with openssl: each
/// certificate verifies against its CA for its purposes, each key belongs to its
/// certificate, each kubeconfig's client certificate verifies against the cluster CA.
fn verify_bundle_with_openssl(bundle: &Bundle) {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for node in bundle.nodes.keys() {
        let files = bundle.node_files(node).unwrap();
        for (path, file) in &files {
            if let Some(cert_path) = path.strip_suffix(".crt") {
                let ca = &files[ca_path_of(path)].contents;
                let info = info(&file.contents);
                let purposes: &[&str] = if is_ca_path(path) {
                    &["any"]
                } else {
                    match (info.server_auth, info.client_auth) {
                        (true, true) => &["sslserver", "sslclient"],
                        (true, false) => &["sslserver"],
                        (false, true) => &["sslclient"],
                        (false, false) => panic!("{path} has no extended key usage"),
                    }
                };
                for purpose in purposes {
                    openssl_verify(dir.path(), ca, &file.contents, purpose)
                        .unwrap_or_else(|e| panic!("{node}: {path} ({purpose}): {e}"));
                }
                let key = &files[format!("{cert_path}.key").as_str()].contents;
                let (from_cert, from_key) = openssl_public_keys(dir.path(), &file.contents, key);
                assert_eq!(from_cert, from_key, "{node}: {path} and its key");
                checked += 1;
            } else if path.ends_with(".conf") {
                let yaml = kubeconfig_yaml(&file.contents);
                let ca = b64(&yaml["clusters"][0]["cluster"]["certificate-authority-data"]);
                assert_eq!(ca, bundle.ca_certificate(), "{path} embeds the cluster CA");
                let user = &yaml["users"][0]["user"];
                let cert = b64(&user["client-certificate-data"]);
                let key = b64(&user["client-key-data"]);
                openssl_verify(dir.path(), &ca, &cert, "sslclient")
                    .unwrap_or_else(|e| panic!("{node}: {path}: {e}"));
                let (from_cert, from_key) = openssl_public_keys(dir.path(), &cert, &key);
                assert_eq!(from_cert, from_key, "{node}: {path}'s client key");
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}

// ---------------------------------------------------------------------------------------
// Layout.

#[test]
fn bundle_has_kubeadms_layout() {
    let (_, bundle) = fixture();
    let common: Vec<&str> = bundle.common.keys().map(String::as_str).collect();
    assert_eq!(
        common,
        [
            "admin.conf",
            "pki/apiserver-etcd-client.crt",
            "pki/apiserver-etcd-client.key",
            "pki/apiserver-kubelet-client.crt",
            "pki/apiserver-kubelet-client.key",
            "pki/apiserver.crt",
            "pki/apiserver.key",
            "pki/ca.crt",
            "pki/ca.key",
            "pki/etcd/ca.crt",
            "pki/etcd/ca.key",
            "pki/front-proxy-ca.crt",
            "pki/front-proxy-ca.key",
            "pki/front-proxy-client.crt",
            "pki/front-proxy-client.key",
            "pki/sa.key",
            "pki/sa.pub",
        ]
    );
    let nodes: Vec<&str> = bundle.nodes.keys().map(String::as_str).collect();
    assert_eq!(nodes, ["cp-1", "cp-2", "cp-3"]);
    let per_node = [
        "controller-manager.conf",
        "kubelet.conf",
        "pki/etcd/healthcheck-client.crt",
        "pki/etcd/healthcheck-client.key",
        "pki/etcd/peer.crt",
        "pki/etcd/peer.key",
        "pki/etcd/server.crt",
        "pki/etcd/server.key",
        "scheduler.conf",
    ];
    for (node, files) in &bundle.nodes {
        let mut expected: Vec<&str> = per_node.to_vec();
        if node == "cp-1" {
            expected.push("super-admin.conf");
        }
        let got: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(got, expected, "{node}");
    }
    assert_eq!(bundle.node_files("cp-2").unwrap().len(), 17 + 9);
    assert!(bundle.node_files("cp-9").is_none());
}

#[test]
fn keys_and_kubeconfigs_are_0600_certificates_0644() {
    let (_, bundle) = fixture();
    for node in bundle.nodes.keys() {
        for (path, file) in bundle.node_files(node).unwrap() {
            let expected = if path.ends_with(".key") || path.ends_with(".conf") {
                0o600
            } else {
                assert!(path.ends_with(".crt") || path.ends_with(".pub"), "{path}");
                0o644
            };
            assert_eq!(file.mode, expected, "{path}");
            if file.mode == 0o644 {
                assert!(!file.contents.contains("PRIVATE KEY"), "{path}");
            }
            if path.ends_with(".key") {
                assert!(file.contents.contains("PRIVATE KEY"), "{path}");
            }
        }
    }
}

#[test]
fn debug_output_hides_secrets() {
    let (spec, bundle) = fixture();
    let shown = format!("{bundle:?}");
    assert!(!shown.contains("PRIVATE KEY"));
    assert!(!shown.contains("client-key-data"));
    assert!(shown.contains("BEGIN CERTIFICATE"));
    let mut spec = spec.clone();
    spec.existing = bundle.existing();
    let shown = format!("{spec:?}");
    assert!(!shown.contains("PRIVATE KEY"));
}

// ---------------------------------------------------------------------------------------
// Certificates.

#[test]
fn every_certificate_verifies_against_its_ca_with_openssl() {
    let (_, bundle) = fixture();
    verify_bundle_with_openssl(bundle);

    // And not against another CA: the three CAs are separate trust domains.
    let dir = tempfile::tempdir().unwrap();
    let common = &bundle.common;
    let etcd_ca = &common[paths::ETCD_CA_CERT].contents;
    let ca = &common[paths::CA_CERT].contents;
    let error = openssl_verify(
        dir.path(),
        etcd_ca,
        &common[paths::APISERVER_CERT].contents,
        "sslserver",
    )
    .unwrap_err();
    assert!(
        error.contains("unable to get local issuer certificate"),
        "{error}"
    );
    assert!(
        openssl_verify(
            dir.path(),
            ca,
            &common[paths::APISERVER_ETCD_CLIENT_CERT].contents,
            "sslclient"
        )
        .is_err()
    );
    assert!(
        openssl_verify(
            dir.path(),
            ca,
            &common[paths::FRONT_PROXY_CLIENT_CERT].contents,
            "sslclient"
        )
        .is_err()
    );
    // The purposes are enforced: a client certificate is no server certificate.
    assert!(
        openssl_verify(
            dir.path(),
            ca,
            &common[paths::APISERVER_KUBELET_CLIENT_CERT].contents,
            "sslserver"
        )
        .is_err()
    );
}

#[test]
fn cas_are_self_signed_cas_that_sign_certificates() {
    let (_, bundle) = fixture();
    for (path, cn) in [
        (paths::CA_CERT, "kubernetes"),
        (paths::ETCD_CA_CERT, "etcd-ca"),
        (paths::FRONT_PROXY_CA_CERT, "front-proxy-ca"),
    ] {
        let ca = info(&bundle.common[path].contents);
        assert_eq!(ca.subject_cn, cn, "{path}");
        assert_eq!(ca.issuer_cn, cn, "{path} is self-signed");
        assert_eq!(ca.ca, Some(true), "{path}");
        assert_eq!(
            ca.key_usage,
            BTreeSet::from(["digitalSignature", "keyCertSign", "cRLSign"]),
            "{path}"
        );
        assert!(ca.dns.is_empty() && ca.ips.is_empty(), "{path}");
        assert_eq!(ca.key_oid, EC_OID, "{path}");
    }
}

#[test]
fn apiserver_certificate_names_every_way_to_reach_it() {
    let (_, bundle) = fixture();
    let apiserver = info(&bundle.common[paths::APISERVER_CERT].contents);
    assert_eq!(apiserver.subject_cn, "kube-apiserver");
    assert_eq!(apiserver.issuer_cn, "kubernetes");
    assert_eq!(
        apiserver.dns,
        [
            "cp-1",
            "cp-2",
            "cp-3",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "k8s.clinic.lan",
            "api.clinic.example",
        ]
    );
    let ips: Vec<String> = apiserver.ips.iter().map(ToString::to_string).collect();
    assert_eq!(
        ips,
        [
            "10.96.0.1",
            "169.254.100.11",
            "169.254.100.12",
            "169.254.100.13",
            "10.0.0.100"
        ]
    );
    assert_eq!(apiserver.ca, Some(false));
    assert_eq!(apiserver.key_usage, BTreeSet::from(["digitalSignature"]));
    assert!(apiserver.server_auth && !apiserver.client_auth);
}

#[test]
fn apiserver_names_follow_the_service_cidr_and_dns_domain() {
    let mut spec = one_node_spec(KeyAlgorithm::EcdsaP256);
    spec.service_cidr = "172.20.0.0/16".into();
    spec.dns_domain = "clinic.internal".into();
    spec.endpoint.host = "169.254.100.21".into(); // the node's own address: no duplicate SAN
    let bundle = issue(&spec).unwrap();
    let apiserver = info(&bundle.common[paths::APISERVER_CERT].contents);
    assert!(
        apiserver
            .dns
            .contains(&"kubernetes.default.svc.clinic.internal".to_owned())
    );
    let ips: Vec<String> = apiserver.ips.iter().map(ToString::to_string).collect();
    assert_eq!(ips, ["172.20.0.1", "169.254.100.21"]);
}

#[test]
fn etcd_members_have_their_own_server_and_peer_certificates() {
    let (spec, bundle) = fixture();
    for member in &spec.control_plane {
        let files = &bundle.nodes[&member.name];
        for path in [paths::ETCD_SERVER_CERT, paths::ETCD_PEER_CERT] {
            let cert = info(&files[path].contents);
            assert_eq!(cert.subject_cn, member.name, "{path}");
            assert_eq!(cert.issuer_cn, "etcd-ca", "{path}");
            assert_eq!(cert.dns, [member.name.as_str(), "localhost"], "{path}");
            assert_eq!(
                cert.ips,
                [
                    member.address,
                    "127.0.0.1".parse::<IpAddr>().unwrap(),
                    "::1".parse().unwrap()
                ],
                "{path}"
            );
            assert!(cert.server_auth && cert.client_auth, "{path}");
            assert_eq!(
                cert.key_usage,
                BTreeSet::from(["digitalSignature"]),
                "{path}"
            );
        }
        let health = info(&files[paths::ETCD_HEALTHCHECK_CLIENT_CERT].contents);
        assert_eq!(health.subject_cn, "kube-etcd-healthcheck-client");
        assert_eq!(health.issuer_cn, "etcd-ca");
        assert!(health.client_auth && !health.server_auth);
    }
    let server = |node: &str| &bundle.nodes[node][paths::ETCD_SERVER_CERT].contents;
    assert_ne!(server("cp-1"), server("cp-2"));
}

#[test]
fn client_certificates_have_kubeadms_users_and_groups() {
    let (_, bundle) = fixture();
    let cert = |files: &Files, path: &str| info(&files[path].contents);
    let kubeconfig_cert = |files: &Files, path: &str| {
        let yaml = kubeconfig_yaml(&files[path].contents);
        info(&b64(&yaml["users"][0]["user"]["client-certificate-data"]))
    };
    let common = &bundle.common;
    let cp1 = &bundle.nodes["cp-1"];
    let cp2 = &bundle.nodes["cp-2"];
    let cases = [
        (
            cert(common, paths::APISERVER_KUBELET_CLIENT_CERT),
            "kube-apiserver-kubelet-client",
            None,
            "kubernetes",
        ),
        (
            cert(common, paths::APISERVER_ETCD_CLIENT_CERT),
            "kube-apiserver-etcd-client",
            None,
            "etcd-ca",
        ),
        (
            cert(common, paths::FRONT_PROXY_CLIENT_CERT),
            "front-proxy-client",
            None,
            "front-proxy-ca",
        ),
        (
            kubeconfig_cert(common, paths::ADMIN_CONF),
            "kubernetes-admin",
            Some("kubeadm:cluster-admins"),
            "kubernetes",
        ),
        (
            kubeconfig_cert(cp1, paths::SUPER_ADMIN_CONF),
            "kubernetes-super-admin",
            Some("system:masters"),
            "kubernetes",
        ),
        (
            kubeconfig_cert(cp2, paths::CONTROLLER_MANAGER_CONF),
            "system:kube-controller-manager",
            None,
            "kubernetes",
        ),
        (
            kubeconfig_cert(cp2, paths::SCHEDULER_CONF),
            "system:kube-scheduler",
            None,
            "kubernetes",
        ),
        (
            kubeconfig_cert(cp2, paths::KUBELET_CONF),
            "system:node:cp-2",
            Some("system:nodes"),
            "kubernetes",
        ),
    ];
    for (cert, cn, group, issuer) in cases {
        assert_eq!(cert.subject_cn, cn);
        let groups: Vec<&str> = group.into_iter().collect();
        assert_eq!(cert.subject_o, groups, "{cn}");
        assert_eq!(cert.issuer_cn, issuer, "{cn}");
        assert!(cert.client_auth && !cert.server_auth, "{cn}");
        assert_eq!(cert.ca, Some(false), "{cn}");
        assert_eq!(cert.key_usage, BTreeSet::from(["digitalSignature"]), "{cn}");
        assert!(cert.dns.is_empty() && cert.ips.is_empty(), "{cn}");
    }
}

#[test]
fn service_account_key_pair_is_a_pem_pair() {
    let (_, bundle) = fixture();
    let dir = tempfile::tempdir().unwrap();
    let key = write(
        dir.path(),
        "sa.key",
        &bundle.common[paths::SERVICE_ACCOUNT_KEY].contents,
    );
    let (ok, public) = run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key));
    assert!(ok, "{public}");
    assert_eq!(public, bundle.common[paths::SERVICE_ACCOUNT_PUB].contents);
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(bundle.common[paths::SERVICE_ACCOUNT_KEY].not_after, None);
}

// ---------------------------------------------------------------------------------------
// Validity.

#[test]
fn validity_starts_before_now_and_expiry_reads_back() {
    let now = SystemTime::UNIX_EPOCH + FIXED_NOW + Duration::from_millis(700);
    let mut spec = three_node_spec(now);
    spec.ca_validity = 3650 * DAY;
    spec.leaf_validity = 90 * DAY;
    let bundle = issue(&spec).unwrap();
    let now = FIXED_NOW.as_secs() as i64;
    let backdated = now - 300;

    let mut names = BTreeSet::new();
    for node in bundle.nodes.keys() {
        for (path, file) in bundle.node_files(node).unwrap() {
            let Some(not_after) = file.not_after else {
                assert!(path.ends_with(".key") || path.ends_with(".pub"), "{path}");
                continue;
            };
            let read_back = if path.ends_with(".conf") {
                kubeconfig_not_after(&file.contents).unwrap()
            } else {
                certificate_not_after(&file.contents).unwrap()
            };
            assert_eq!(read_back, not_after, "{path}");
            let pem = if path.ends_with(".conf") {
                b64(&kubeconfig_yaml(&file.contents)["users"][0]["user"]["client-certificate-data"])
            } else {
                file.contents.clone()
            };
            let cert = info(&pem);
            assert_eq!(cert.not_before, backdated, "{path}");
            let validity = if is_ca_path(path) { 3650 } else { 90 };
            assert_eq!(cert.not_after, now + validity * 86_400, "{path}");
            assert_eq!(unix(not_after), cert.not_after, "{path}");
            names.insert(unix(not_after));
        }
    }
    assert_eq!(names.len(), 2, "CAs and leaves each end together");

    let expiry: Vec<&str> = bundle.expiry.keys().map(String::as_str).collect();
    assert_eq!(
        expiry,
        [
            "admin.conf",
            "apiserver",
            "apiserver-etcd-client",
            "apiserver-kubelet-client",
            "ca",
            "cp-1/controller-manager.conf",
            "cp-1/etcd-healthcheck-client",
            "cp-1/etcd-peer",
            "cp-1/etcd-server",
            "cp-1/kubelet.conf",
            "cp-1/scheduler.conf",
            "cp-1/super-admin.conf",
            "cp-2/controller-manager.conf",
            "cp-2/etcd-healthcheck-client",
            "cp-2/etcd-peer",
            "cp-2/etcd-server",
            "cp-2/kubelet.conf",
            "cp-2/scheduler.conf",
            "cp-3/controller-manager.conf",
            "cp-3/etcd-healthcheck-client",
            "cp-3/etcd-peer",
            "cp-3/etcd-server",
            "cp-3/kubelet.conf",
            "cp-3/scheduler.conf",
            "etcd-ca",
            "front-proxy-ca",
            "front-proxy-client",
        ]
    );
    assert_eq!(
        bundle.expiry["apiserver"],
        bundle.common[paths::APISERVER_CERT].not_after.unwrap()
    );
    assert_eq!(
        bundle.expiry["cp-3/kubelet.conf"],
        bundle.nodes["cp-3"][paths::KUBELET_CONF].not_after.unwrap()
    );
    assert_eq!(rfc3339(bundle.expiry["ca"]), "2040-03-14T17:46:40Z");
    assert_eq!(rfc3339(bundle.expiry["apiserver"]), "2030-06-15T17:46:40Z");
}

#[test]
fn certificates_end_with_their_ca_at_the_latest() {
    let mut spec = one_node_spec(KeyAlgorithm::EcdsaP256);
    spec.now = SystemTime::UNIX_EPOCH + FIXED_NOW;
    spec.ca_validity = 30 * DAY;
    spec.leaf_validity = 365 * DAY;
    let bundle = issue(&spec).unwrap();
    let ca_end = bundle.expiry["ca"];
    assert_eq!(unix(ca_end), FIXED_NOW.as_secs() as i64 + 30 * 86_400);
    assert!(bundle.expiry.values().all(|end| *end == ca_end));
}

// ---------------------------------------------------------------------------------------
// Kubeconfigs.

#[test]
fn kubeconfigs_are_kubeadms_shape_and_reach_the_right_server() {
    let (_, bundle) = fixture();
    let admin = kubeconfig_yaml(bundle.admin_kubeconfig());
    assert_eq!(admin["apiVersion"], "v1");
    assert_eq!(admin["kind"], "Config");
    assert_eq!(admin["clusters"][0]["name"], "clinic");
    assert_eq!(
        admin["clusters"][0]["cluster"]["server"],
        "https://k8s.clinic.lan:6443"
    );
    assert_eq!(admin["contexts"][0]["name"], "kubernetes-admin@clinic");
    assert_eq!(admin["contexts"][0]["context"]["cluster"], "clinic");
    assert_eq!(
        admin["contexts"][0]["context"]["user"],
        "kubernetes-admin@clinic"
    );
    assert_eq!(admin["current-context"], "kubernetes-admin@clinic");
    assert_eq!(
        admin["users"][0]["name"], "kubernetes-admin@clinic",
        "user entries carry the cluster, so merged kubeconfigs keep every cluster's user"
    );

    let super_admin = kubeconfig_yaml(&bundle.nodes["cp-1"][paths::SUPER_ADMIN_CONF].contents);
    assert_eq!(
        super_admin["clusters"][0]["cluster"]["server"],
        "https://k8s.clinic.lan:6443"
    );

    // The node's own components talk to the node's own API server.
    for (node, address) in [("cp-1", "169.254.100.11"), ("cp-3", "169.254.100.13")] {
        for path in [
            paths::CONTROLLER_MANAGER_CONF,
            paths::SCHEDULER_CONF,
            paths::KUBELET_CONF,
        ] {
            let yaml = kubeconfig_yaml(&bundle.nodes[node][path].contents);
            assert_eq!(
                yaml["clusters"][0]["cluster"]["server"],
                format!("https://{address}:6443").as_str(),
                "{node}: {path}"
            );
        }
    }
    let kubelet = kubeconfig_yaml(&bundle.nodes["cp-3"][paths::KUBELET_CONF].contents);
    assert_eq!(kubelet["current-context"], "system:node:cp-3@clinic");
}

#[test]
fn kubectl_reads_the_kubeconfigs() {
    let (_, bundle) = fixture();
    let dir = tempfile::tempdir().unwrap();
    for node in bundle.nodes.keys() {
        for (path, file) in bundle.node_files(node).unwrap() {
            if !path.ends_with(".conf") {
                continue;
            }
            let config = write(dir.path(), &format!("{node}-{path}"), &file.contents);
            let (ok, text) = run(Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&config)
                .args([
                    "config",
                    "view",
                    "--raw",
                    "--minify",
                    "-o",
                    "jsonpath={.users[0].user.client-certificate-data}",
                ]));
            assert!(ok, "{node}: {path}: {text}");
            let yaml = kubeconfig_yaml(&file.contents);
            assert_eq!(
                text,
                yaml["users"][0]["user"]["client-certificate-data"]
                    .as_str()
                    .unwrap(),
                "{node}: {path}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Renewal and rotation.

#[test]
fn renewal_keeps_the_cas_and_service_account_key_byte_for_byte() {
    let (spec, first) = fixture();
    let mut renewal = spec.clone();
    renewal.existing = first.existing();
    renewal.now += Duration::from_secs(60);
    let second = issue(&renewal).unwrap();

    for path in [
        paths::CA_CERT,
        paths::CA_KEY,
        paths::ETCD_CA_CERT,
        paths::ETCD_CA_KEY,
        paths::FRONT_PROXY_CA_CERT,
        paths::FRONT_PROXY_CA_KEY,
        paths::SERVICE_ACCOUNT_KEY,
        paths::SERVICE_ACCOUNT_PUB,
    ] {
        assert_eq!(second.common[path], first.common[path], "{path} is kept");
    }
    for (path, file) in &second.common {
        if path.ends_with(".crt") && !is_ca_path(path) || path.ends_with(".conf") {
            assert_ne!(file.contents, first.common[path].contents, "{path} is new");
            assert!(file.not_after > first.common[path].not_after, "{path}");
        }
        if path.ends_with(".key") && !path.contains("ca.key") && !path.ends_with("sa.key") {
            assert_ne!(
                file.contents, first.common[path].contents,
                "{path} has a new key"
            );
        }
    }
    for (node, files) in &second.nodes {
        for (path, file) in files {
            assert_ne!(
                file.contents, first.nodes[node][path].contents,
                "{node}: {path}"
            );
        }
    }
    assert_eq!(second.expiry["ca"], first.expiry["ca"]);
    verify_bundle_with_openssl(&second);

    // The new leaves verify against the CA files already on the nodes.
    let dir = tempfile::tempdir().unwrap();
    openssl_verify(
        dir.path(),
        &first.common[paths::CA_CERT].contents,
        &second.common[paths::APISERVER_CERT].contents,
        "sslserver",
    )
    .unwrap();
}

#[test]
fn rotating_one_ca_keeps_the_others() {
    let (spec, first) = fixture();
    let mut rotation = spec.clone();
    rotation.existing = Existing {
        ca: None,
        ..first.existing()
    };
    let second = issue(&rotation).unwrap();
    assert_ne!(second.ca_certificate(), first.ca_certificate());
    assert_eq!(
        second.common[paths::ETCD_CA_CERT],
        first.common[paths::ETCD_CA_CERT]
    );
    assert_eq!(
        second.common[paths::FRONT_PROXY_CA_CERT],
        first.common[paths::FRONT_PROXY_CA_CERT]
    );
    assert_eq!(
        second.common[paths::SERVICE_ACCOUNT_KEY],
        first.common[paths::SERVICE_ACCOUNT_KEY]
    );
    let dir = tempfile::tempdir().unwrap();
    let apiserver = &second.common[paths::APISERVER_CERT].contents;
    openssl_verify(dir.path(), second.ca_certificate(), apiserver, "sslserver").unwrap();
    assert!(openssl_verify(dir.path(), first.ca_certificate(), apiserver, "sslserver").is_err());
}

#[test]
fn leaves_are_issued_from_cas_made_by_openssl_in_kubeadms_key_formats() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let openssl = |args: &[&str]| {
        let (ok, text) = run(Command::new("openssl").current_dir(d).args(args));
        assert!(ok, "openssl {args:?}: {text}");
    };
    // kubeadm writes RSA keys as PKCS#1 and ECDSA keys as SEC1, and CAs with these usages.
    const KUBEADM_CA_USAGE: &str = "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign";
    openssl(&["genrsa", "-traditional", "-out", "ca.key", "2048"]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-subj",
        "/CN=kubernetes",
        "-addext",
        KUBEADM_CA_USAGE,
        "-days",
        "3650",
        "-out",
        "ca.crt",
    ]);
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "etcd-ca.key",
    ]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "etcd-ca.key",
        "-subj",
        "/CN=etcd-ca",
        "-addext",
        KUBEADM_CA_USAGE,
        "-days",
        "3650",
        "-out",
        "etcd-ca.crt",
    ]);
    let read = |name: &str| std::fs::read_to_string(d.join(name)).unwrap();
    let ca = CaPem {
        cert_pem: read("ca.crt"),
        key_pem: read("ca.key"),
    };
    let etcd_ca = CaPem {
        cert_pem: read("etcd-ca.crt"),
        key_pem: read("etcd-ca.key"),
    };
    assert!(ca.key_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(
        etcd_ca
            .key_pem
            .starts_with("-----BEGIN EC PRIVATE KEY-----")
    );

    let mut spec = one_node_spec(KeyAlgorithm::EcdsaP256);
    spec.existing.ca = Some(ca.clone());
    spec.existing.etcd_ca = Some(etcd_ca.clone());
    let bundle = issue(&spec).unwrap();
    assert_eq!(bundle.common[paths::CA_CERT].contents, ca.cert_pem);
    assert_eq!(bundle.common[paths::CA_KEY].contents, ca.key_pem);
    assert_eq!(bundle.common[paths::ETCD_CA_KEY].contents, etcd_ca.key_pem);
    verify_bundle_with_openssl(&bundle);
    // The CA's key signs (RSA), the leaf's own key is the spec's (ECDSA).
    let apiserver = info(&bundle.common[paths::APISERVER_CERT].contents);
    assert_eq!(apiserver.key_oid, EC_OID);
    assert_eq!(apiserver.issuer_cn, "kubernetes");
}

// ---------------------------------------------------------------------------------------
// Key algorithms.

fn check_algorithm(algorithm: KeyAlgorithm, oid: &str) -> Bundle {
    let bundle = issue(&one_node_spec(algorithm)).unwrap();
    verify_bundle_with_openssl(&bundle);
    for path in [paths::CA_CERT, paths::APISERVER_CERT, paths::ETCD_PEER_CERT] {
        let files = bundle.node_files("node-a").unwrap();
        let cert = info(&files[path].contents);
        assert_eq!(cert.key_oid, oid, "{algorithm}: {path}");
        if !is_ca_path(path) {
            let mut expected = BTreeSet::from(["digitalSignature"]);
            if algorithm.to_string().starts_with("rsa") {
                expected.insert("keyEncipherment");
            }
            assert_eq!(cert.key_usage, expected, "{algorithm}: {path}");
        }
    }
    bundle
}

#[test]
fn ecdsa_p256_keys() {
    let bundle = check_algorithm(KeyAlgorithm::EcdsaP256, EC_OID);
    assert!(
        bundle.common[paths::SERVICE_ACCOUNT_KEY]
            .contents
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
}

#[test]
fn rsa_2048_keys() {
    let bundle = check_algorithm(KeyAlgorithm::Rsa2048, RSA_OID);
    assert_eq!(info(bundle.ca_certificate()).rsa_bits, Some(2048));
    assert_eq!(
        info(&bundle.common[paths::APISERVER_CERT].contents).rsa_bits,
        Some(2048)
    );
    let dir = tempfile::tempdir().unwrap();
    let key = write(
        dir.path(),
        "sa.key",
        &bundle.common[paths::SERVICE_ACCOUNT_KEY].contents,
    );
    let (ok, text) = run(Command::new("openssl")
        .args(["pkey", "-noout", "-text", "-in"])
        .arg(&key));
    assert!(ok && text.contains("Private-Key: (2048 bit"), "{text}");
}

#[test]
fn ed25519_keys_with_an_ecdsa_service_account_key() {
    let bundle = check_algorithm(KeyAlgorithm::Ed25519, ED25519_OID);
    let dir = tempfile::tempdir().unwrap();
    let key = write(
        dir.path(),
        "sa.key",
        &bundle.common[paths::SERVICE_ACCOUNT_KEY].contents,
    );
    let (ok, text) = run(Command::new("openssl")
        .args(["pkey", "-noout", "-text", "-in"])
        .arg(&key));
    assert!(ok && text.contains("NIST CURVE: P-256"), "{text}");
}

#[test]
fn rsa_4096_ca() {
    // One CA only: RSA-4096 keys take a second or two each in debug builds.
    let window = Window::at(SystemTime::now()).unwrap();
    let not_after = window.until("CA", DAY).unwrap();
    let ca = Ca::create("kubernetes", KeyAlgorithm::Rsa4096, window, not_after).unwrap();
    let cert = info(&ca.pem.cert_pem);
    assert_eq!(
        (cert.key_oid.as_str(), cert.rsa_bits),
        (RSA_OID, Some(4096))
    );
    let dir = tempfile::tempdir().unwrap();
    openssl_verify(dir.path(), &ca.pem.cert_pem, &ca.pem.cert_pem, "any").unwrap();
    let (from_cert, from_key) = openssl_public_keys(dir.path(), &ca.pem.cert_pem, &ca.pem.key_pem);
    assert_eq!(from_cert, from_key);
}

#[test]
fn key_algorithm_names() {
    for algorithm in KeyAlgorithm::ALL {
        assert_eq!(
            algorithm.as_str().parse::<KeyAlgorithm>().unwrap(),
            algorithm
        );
    }
    assert_eq!(KeyAlgorithm::default(), KeyAlgorithm::EcdsaP256);
    let error = "rsa-1024".parse::<KeyAlgorithm>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown key algorithm \"rsa-1024\": expected \"ecdsa-p256\", \"rsa-2048\", \"rsa-4096\" or \"ed25519\""
    );
}

// ---------------------------------------------------------------------------------------
// Worker nodes, IPv6.

#[test]
fn worker_kubelet_credentials_come_from_the_cluster_ca() {
    let (spec, bundle) = fixture();
    let files = issue_kubelet(&KubeletSpec {
        cluster_name: spec.cluster_name.clone(),
        endpoint: spec.endpoint.clone(),
        node_name: "worker-7".into(),
        ca: bundle.existing().ca.unwrap(),
        key_algorithm: KeyAlgorithm::EcdsaP256,
        validity: 30 * DAY,
        now: SystemTime::now(),
    })
    .unwrap();
    let paths: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(paths, [paths::KUBELET_CONF, paths::CA_CERT]);
    assert_eq!(files[paths::CA_CERT], bundle.common[paths::CA_CERT]);
    assert_eq!(files[paths::KUBELET_CONF].mode, 0o600);
    let yaml = kubeconfig_yaml(&files[paths::KUBELET_CONF].contents);
    assert_eq!(
        yaml["clusters"][0]["cluster"]["server"],
        "https://k8s.clinic.lan:6443"
    );
    let cert_pem = b64(&yaml["users"][0]["user"]["client-certificate-data"]);
    let cert = info(&cert_pem);
    assert_eq!(cert.subject_cn, "system:node:worker-7");
    assert_eq!(cert.subject_o, ["system:nodes"]);
    let dir = tempfile::tempdir().unwrap();
    openssl_verify(dir.path(), bundle.ca_certificate(), &cert_pem, "sslclient").unwrap();
    assert_eq!(
        kubeconfig_not_after(&files[paths::KUBELET_CONF].contents).unwrap(),
        files[paths::KUBELET_CONF].not_after.unwrap()
    );
}

#[test]
fn ipv6_endpoint_and_nodes() {
    let mut spec = PkiSpec::new(
        "v6",
        Endpoint {
            host: "fd00:10::100".into(),
            port: 443,
        },
        vec![member("cp-1", "fd00:10::11")],
        SystemTime::now(),
    );
    spec.service_cidr = "fd00:96::/108,10.96.0.0/12".into();
    let bundle = issue(&spec).unwrap();
    let admin = kubeconfig_yaml(bundle.admin_kubeconfig());
    assert_eq!(
        admin["clusters"][0]["cluster"]["server"],
        "https://[fd00:10::100]:443"
    );
    let kubelet = kubeconfig_yaml(&bundle.nodes["cp-1"][paths::KUBELET_CONF].contents);
    assert_eq!(
        kubelet["clusters"][0]["cluster"]["server"],
        "https://[fd00:10::11]:443"
    );
    let ips: Vec<String> = info(&bundle.common[paths::APISERVER_CERT].contents)
        .ips
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(ips, ["fd00:96::1", "fd00:10::11", "fd00:10::100"]);
    verify_bundle_with_openssl(&bundle);
}

// ---------------------------------------------------------------------------------------
// Bad input.

#[test]
fn first_service_ip_is_the_networks_first_address() {
    for (cidr, first) in [
        ("10.96.0.0/12", "10.96.0.1"),
        ("10.96.0.5/12", "10.96.0.1"),
        ("10.111.255.255/12", "10.96.0.1"),
        ("192.168.7.0/24", "192.168.7.1"),
        ("10.0.0.0/31", "10.0.0.1"),
        ("0.0.0.0/0", "0.0.0.1"),
        ("fd00:96::/108", "fd00:96::1"),
        (" 10.96.0.0/12 , fd00::/108", "10.96.0.1"),
    ] {
        assert_eq!(first_service_ip(cidr).unwrap().to_string(), first, "{cidr}");
    }
}

#[test]
fn a_bad_service_cidr_is_a_clear_error() {
    for (cidr, reason) in [
        (
            "10.96.0.0",
            "\"10.96.0.0\" is not ADDRESS/PREFIX, e.g. 10.96.0.0/12",
        ),
        ("10.96.0.300/12", "\"10.96.0.300\" is not an IP address"),
        (
            "10.96.0.0/33",
            "the prefix length \"33\" is not a number from 0 to 32",
        ),
        (
            "10.96.0.0/x",
            "the prefix length \"x\" is not a number from 0 to 32",
        ),
        (
            "fd00::/129",
            "the prefix length \"129\" is not a number from 0 to 128",
        ),
        (
            "10.96.0.1/32",
            "/32 has no address for the kubernetes service; use a larger network",
        ),
        ("", "\"\" is not ADDRESS/PREFIX, e.g. 10.96.0.0/12"),
        (
            "10.96.0.0/12,",
            "\"\" is not ADDRESS/PREFIX, e.g. 10.96.0.0/12",
        ),
    ] {
        let mut spec = one_node_spec(KeyAlgorithm::EcdsaP256);
        spec.service_cidr = cidr.into();
        let error = issue(&spec).unwrap_err();
        assert!(
            matches!(error, PkiError::InvalidServiceCidr { .. }),
            "{cidr}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("invalid service CIDR {cidr:?}: {reason}")
        );
    }
}

#[test]
fn an_empty_control_plane_is_a_clear_error() {
    let mut spec = one_node_spec(KeyAlgorithm::EcdsaP256);
    spec.control_plane.clear();
    let error = issue(&spec).unwrap_err();
    assert!(matches!(error, PkiError::NoControlPlane));
    assert_eq!(
        error.to_string(),
        "the control plane has no nodes; a cluster needs at least one control-plane node"
    );
}

#[test]
fn bad_specs_are_clear_errors() {
    let base = || one_node_spec(KeyAlgorithm::EcdsaP256);
    let cases: Vec<(PkiSpec, &str)> = vec![
        (
            PkiSpec {
                control_plane: vec![member("cp-1", "10.0.0.1"), member("cp-1", "10.0.0.2")],
                ..base()
            },
            "the control-plane node \"cp-1\" is listed more than once",
        ),
        (
            PkiSpec {
                control_plane: vec![member("CP_1", "10.0.0.1")],
                ..base()
            },
            "invalid node name \"CP_1\": a node name is a lowercase DNS name (letters, digits, '-' \
             and '.', at most 253 characters)",
        ),
        (
            PkiSpec {
                control_plane: vec![member("cp-1", "0.0.0.0")],
                ..base()
            },
            "the control-plane node \"cp-1\" has the address 0.0.0.0, which no host can have",
        ),
        (
            PkiSpec {
                cluster_name: String::new(),
                ..base()
            },
            "the cluster name is empty",
        ),
        (
            PkiSpec {
                endpoint: Endpoint {
                    host: "k8s.clinic.lan".into(),
                    port: 0,
                },
                ..base()
            },
            "invalid API endpoint \"k8s.clinic.lan\" port 0: expected an IP address or a DNS name, \
             and a port from 1 to 65535",
        ),
        (
            PkiSpec {
                endpoint: Endpoint {
                    host: "https://k8s".into(),
                    port: 6443,
                },
                ..base()
            },
            "invalid API endpoint \"https://k8s\" port 6443: expected an IP address or a DNS name, \
             and a port from 1 to 65535",
        ),
        (
            PkiSpec {
                dns_domain: "Cluster.Local".into(),
                ..base()
            },
            "invalid DNS domain \"Cluster.Local\": expected a lowercase DNS name such as \"cluster.local\"",
        ),
        (
            PkiSpec {
                extra_sans: vec!["*.ok.example".into(), "not ok".into()],
                ..base()
            },
            "invalid certificate name \"not ok\": expected an IP address or a lowercase DNS name \
             (optionally starting with \"*.\")",
        ),
        (
            PkiSpec {
                leaf_validity: Duration::ZERO,
                ..base()
            },
            "the certificate validity of 0ns is out of range: it must be more than zero and end \
             before the year 10000",
        ),
        (
            PkiSpec {
                ca_validity: Duration::MAX,
                ..base()
            },
            "the CA validity of 18446744073709551615.999999999s is out of range: it must be more \
             than zero and end before the year 10000",
        ),
    ];
    for (spec, message) in cases {
        let error = issue(&spec).unwrap_err();
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn bad_existing_files_are_clear_errors() {
    let (spec, bundle) = fixture();
    let other = issue(&one_node_spec(KeyAlgorithm::EcdsaP256)).unwrap();
    let with = |existing: Existing| {
        let mut spec = spec.clone();
        spec.existing = existing;
        issue(&spec).unwrap_err().to_string()
    };
    let ca = bundle.existing().ca.unwrap();

    let mismatched = CaPem {
        key_pem: other.common[paths::CA_KEY].contents.clone(),
        ..ca.clone()
    };
    assert_eq!(
        with(Existing {
            ca: Some(mismatched),
            ..Existing::default()
        }),
        "the existing cluster CA key does not belong to its certificate"
    );

    let leaf = CaPem {
        cert_pem: bundle.common[paths::APISERVER_CERT].contents.clone(),
        key_pem: bundle.common[paths::APISERVER_KEY].contents.clone(),
    };
    assert_eq!(
        with(Existing {
            front_proxy_ca: Some(leaf),
            ..Existing::default()
        }),
        "the existing front-proxy CA certificate is not a CA certificate"
    );

    let garbage = CaPem {
        cert_pem: "not a certificate".into(),
        ..ca.clone()
    };
    let error = with(Existing {
        etcd_ca: Some(garbage),
        ..Existing::default()
    });
    assert!(
        error.starts_with("the etcd CA certificate cannot be read: not a PEM certificate"),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = run(Command::new("openssl").current_dir(dir.path()).args([
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-aes256",
        "-pass",
        "pass:secret",
        "-out",
        "enc.key",
    ]));
    assert!(ok, "{text}");
    let encrypted = std::fs::read_to_string(dir.path().join("enc.key")).unwrap();
    assert_eq!(
        with(Existing {
            service_account_key: Some(encrypted),
            ..Existing::default()
        }),
        "the service-account key cannot be read: it is encrypted; give the key unencrypted"
    );
    let error = with(Existing {
        service_account_key: Some(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
        ),
        ..Existing::default()
    });
    assert_eq!(
        error,
        "the service-account key cannot be read: it is not a PEM private key (PKCS#8, PKCS#1 or SEC1)"
    );
    let ed25519 = issue(&one_node_spec(KeyAlgorithm::Ed25519)).unwrap();
    assert_eq!(
        with(Existing {
            service_account_key: Some(ed25519.common[paths::CA_KEY].contents.clone()),
            ..Existing::default()
        }),
        "the service-account key cannot be read: Kubernetes signs service-account tokens with RSA \
         or ECDSA keys only"
    );

    // Issuing from an expired CA would only make certificates nobody accepts.
    let mut late = spec.clone();
    late.existing = bundle.existing();
    late.now = bundle.expiry["ca"] + Duration::from_secs(1);
    let error = issue(&late).unwrap_err();
    assert!(
        matches!(
            error,
            PkiError::CaExpired {
                what: "cluster CA",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().ends_with("; renew or rotate it first"),
        "{error}"
    );

    let error =
        certificate_not_after("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("expected a CERTIFICATE block, found PRIVATE KEY"),
        "{error}"
    );
    let error = kubeconfig_not_after("apiVersion: v1\nkind: Config\n").unwrap_err();
    assert!(
        error.to_string().starts_with("invalid kubeconfig: "),
        "{error}"
    );
}

#[test]
fn renewal_takes_exactly_the_named_certificates_and_never_a_ca() {
    let now = SystemTime::now();
    let old = issue(&three_node_spec(now)).unwrap();
    let mut again = three_node_spec(now + Duration::from_secs(3600));
    again.existing = old.existing();
    let fresh = issue(&again).unwrap();
    let names: std::collections::BTreeSet<String> =
        ["apiserver", "admin.conf", "cp-2/etcd-peer", "ca"]
            .into_iter()
            .map(str::to_owned)
            .collect();
    let renewed = old.renewed(&fresh, &names);
    let changed = |files: &Files, before: &Files| -> Vec<String> {
        files
            .iter()
            .filter(|(path, file)| before.get(*path) != Some(file))
            .map(|(path, _)| path.clone())
            .collect()
    };
    assert_eq!(
        changed(&renewed.common, &old.common),
        [
            paths::ADMIN_CONF,
            paths::APISERVER_CERT,
            paths::APISERVER_KEY
        ]
    );
    for (node, files) in &renewed.nodes {
        let expected: Vec<&str> = if node == "cp-2" {
            vec![paths::ETCD_PEER_CERT, paths::ETCD_PEER_KEY]
        } else {
            vec![]
        };
        assert_eq!(changed(files, &old.nodes[node]), expected, "{node}");
    }
    assert_eq!(renewed.ca_certificate(), old.ca_certificate());
    assert_eq!(renewed.expiry["ca"], old.expiry["ca"]);
    assert!(renewed.expiry["apiserver"] > old.expiry["apiserver"]);
    assert_eq!(
        renewed.expiry["cp-1/etcd-peer"],
        old.expiry["cp-1/etcd-peer"]
    );
}
