//! known_hosts matching, markers and host certificates. Certificates are made with the real
//! `ssh-keygen`, as an operator makes them.

use std::path::Path;
use std::process::Command;

use super::*;

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

fn blob(line: &str) -> Vec<u8> {
    STANDARD
        .decode(line.split_whitespace().nth(1).unwrap())
        .unwrap()
}

fn file(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("known_hosts");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn names_ports_hashes_wildcards_and_negation() {
    let dir = tempfile::tempdir().unwrap();
    let hashed = hashed_name(&[7u8; 20], "[10.0.0.5]:2222");
    let path = file(
        dir.path(),
        &format!(
            "# comment\nnode1,10.0.0.4 {ED25519}\n{hashed} {ED25519}\n*.clinic.example,!db.clinic.example {ED25519}\nweb-? {ED25519}\n"
        ),
    );
    let key = blob(ED25519);
    for (host, port) in [
        ("node1", 22),
        ("10.0.0.4", 22),
        ("10.0.0.5", 2222),
        ("gw.north.clinic.example", 22),
        ("WEB-1", 22),
    ] {
        assert_eq!(
            check(&path, host, port, &key),
            Ok(Verdict::Known),
            "{host}:{port}"
        );
    }
    for (host, port) in [
        ("10.0.0.5", 22),
        ("node1", 2222),
        ("db.clinic.example", 22),
        ("web-10", 22),
    ] {
        assert_eq!(
            check(&path, host, port, &key),
            Ok(Verdict::Unknown),
            "{host}:{port}"
        );
    }
    let other = check(&path, "node1", 22, b"another key").unwrap();
    assert_eq!(other, Verdict::Other(vec![fingerprint(&key)]));
    assert!(check(&dir.path().join("absent"), "node1", 22, &key).is_err());
}

#[test]
fn a_revoked_key_is_refused_even_when_another_line_trusts_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        dir.path(),
        &format!("node1 {ED25519}\n\n@revoked * {ED25519}\n"),
    );
    assert_eq!(
        check(&path, "node1", 22, &blob(ED25519)),
        Ok(Verdict::Revoked {
            at: format!("{} line 3", path.display())
        })
    );
}

#[test]
fn wildcard_matching() {
    assert!(wildcard("*", "anything"));
    assert!(wildcard("a*b?d", "axxxbcd"));
    assert!(!wildcard("a*b?d", "axxxbd"));
    assert!(wildcard("[10.0.0.*]:2222", "[10.0.0.7]:2222"));
    assert!(!wildcard("10.0.0.*", "10.0.1.7"));
}

#[test]
fn hmac_sha1_matches_rfc_2202() {
    let digest = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

/// A CA and a host key, and the host key's certificate for `principals`, made with
/// ssh-keygen; returns (CA public line, certificate blob).
fn certificate(dir: &Path, principals: &str, kind: &[&str]) -> (String, Vec<u8>) {
    let keygen = |args: &[&str]| {
        let out = Command::new("ssh-keygen")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("ssh-keygen (openssh-client) is needed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    if !dir.join("ca").exists() {
        keygen(&["-q", "-t", "ed25519", "-N", "", "-f", "ca"]);
        keygen(&["-q", "-t", "ed25519", "-N", "", "-f", "host"]);
    }
    let _ = std::fs::remove_file(dir.join("host-cert.pub"));
    let mut args = vec!["-q", "-s", "ca", "-I", "lab host", "-n", principals];
    args.extend_from_slice(kind);
    args.push("host.pub");
    keygen(&args);
    let ca = std::fs::read_to_string(dir.join("ca.pub")).unwrap();
    let cert = std::fs::read_to_string(dir.join("host-cert.pub")).unwrap();
    (ca.trim().to_owned(), blob(&cert))
}

#[test]
fn host_certificates_signed_by_a_cert_authority_of_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ca, cert) = certificate(d, "node1,10.0.0.4", &["-h", "-V", "-5m:+1h"]);
    let path = file(d, &format!("@cert-authority *.example,node1 {ca}\n"));
    assert!(has_authority(&path, "node1", 22));
    assert!(!has_authority(&path, "node2", 22));
    assert!(matches!(
        check(&path, "node1", 22, &cert),
        Ok(Verdict::Certified { .. })
    ));
    // Another host the CA covers, but the certificate does not name.
    assert!(matches!(
        check(&path, "web.example", 22, &cert),
        Ok(Verdict::Uncertified(m)) if m.contains("names")
    ));
    // No authority for the host at all.
    assert!(matches!(
        check(&path, "10.0.0.4", 22, &cert),
        Ok(Verdict::Uncertified(_))
    ));
    // A user certificate is not a host certificate.
    let (_, user_cert) = certificate(d, "node1", &["-V", "-5m:+1h"]);
    assert!(matches!(
        check(&path, "node1", 22, &user_cert),
        Ok(Verdict::Uncertified(m)) if m.contains("not a host certificate")
    ));
    // An expired one.
    let (_, expired) = certificate(d, "node1", &["-h", "-V", "-2h:-1h"]);
    assert!(matches!(
        check(&path, "node1", 22, &expired),
        Ok(Verdict::Uncertified(_))
    ));
    // The CA revoked.
    let path = file(d, &format!("@cert-authority node1 {ca}\n@revoked * {ca}\n"));
    assert!(matches!(
        check(&path, "node1", 22, &cert),
        Ok(Verdict::Revoked { .. })
    ));
}

#[test]
fn entries_hashed_by_ssh_keygen_match_their_host() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        dir.path(),
        &format!("node1 {ED25519}\n[10.0.0.5]:2222 {ED25519}\n"),
    );
    let hashed = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("ssh-keygen (openssh-client) is needed");
    assert!(hashed.status.success(), "{hashed:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.lines().all(|l| l.starts_with("|1|")),
        "every entry is hashed: {text}"
    );
    let key = blob(ED25519);
    assert_eq!(check(&path, "node1", 22, &key), Ok(Verdict::Known));
    assert_eq!(check(&path, "10.0.0.5", 2222, &key), Ok(Verdict::Known));
    assert_eq!(check(&path, "node2", 22, &key), Ok(Verdict::Unknown));
    assert_eq!(check(&path, "10.0.0.5", 22, &key), Ok(Verdict::Unknown));
}

#[test]
fn certificate_authorities_of_every_common_key_type_are_honoured() {
    for ca_type in [
        &["-t", "rsa", "-b", "3072"][..],
        &["-t", "ecdsa", "-b", "256"],
        &["-t", "ecdsa", "-b", "384"],
        &["-t", "ecdsa", "-b", "521"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // `certificate` keeps a CA it finds: this one is of the type under test.
        let mut args = vec!["-q", "-N", "", "-f", "ca"];
        args.extend_from_slice(ca_type);
        let made = Command::new("ssh-keygen")
            .args(&args)
            .current_dir(d)
            .output()
            .expect("ssh-keygen (openssh-client) is needed");
        assert!(made.status.success(), "{made:?}");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f", "host"])
            .current_dir(d)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let (ca, cert) = certificate(d, "node1", &["-h", "-V", "-5m:+1h"]);
        let path = file(d, &format!("@cert-authority node1 {ca}\n"));
        let verdict = check(&path, "node1", 22, &cert);
        assert!(
            matches!(verdict, Ok(Verdict::Certified { .. })),
            "{ca_type:?}: {verdict:?}"
        );
    }
}
