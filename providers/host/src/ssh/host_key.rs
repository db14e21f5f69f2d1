//! Host key pinning: what the user pinned (an OpenSSH public key line, a `SHA256:`
//! fingerprint, or a known_hosts file) and how a presented key is checked against it.
//! Fingerprints are printed as OpenSSH prints them, so an operator can compare them with
//! `ssh-keygen -lf` output.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest as _, Sha256};

/// How a host's identity is verified. There is no "accept anything": a host with neither
/// a pin nor a known_hosts entry is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyPin {
    /// An OpenSSH public key line, e.g. "ssh-ed25519 AAAA... comment".
    Key { algorithm: String, blob: Vec<u8> },
    /// An OpenSSH SHA256 fingerprint, e.g. "SHA256:abc...".
    Fingerprint(String),
    /// Entries of a known_hosts file.
    KnownHosts(PathBuf),
}

impl HostKeyPin {
    /// Parses a `host_key` argument.
    pub fn parse(text: &str) -> Result<HostKeyPin, String> {
        let text = text.trim();
        if let Some(hash) = text.strip_prefix("SHA256:") {
            let valid = STANDARD_NO_PAD
                .decode(hash.trim_end_matches('='))
                .is_ok_and(|d| d.len() == 32);
            return if valid {
                Ok(HostKeyPin::Fingerprint(format!(
                    "SHA256:{}",
                    hash.trim_end_matches('=')
                )))
            } else {
                Err("a \"SHA256:\" fingerprint is 43 base64 characters after the prefix".into())
            };
        }
        let mut fields = text.split_whitespace();
        let (Some(algorithm), Some(data)) = (fields.next(), fields.next()) else {
            return Err(
                "expected an OpenSSH public key line (\"ssh-ed25519 AAAA...\") or a \"SHA256:...\" fingerprint"
                    .into(),
            );
        };
        let blob = STANDARD
            .decode(data)
            .map_err(|_| format!("the {algorithm} key is not valid base64"))?;
        Ok(HostKeyPin::Key {
            algorithm: algorithm.to_owned(),
            blob,
        })
    }

    /// The host key algorithms to offer, strongest first, so that the key the server
    /// presents is the one pinned (a server usually has several).
    pub fn algorithms(&self) -> &'static str {
        match self {
            HostKeyPin::Key { algorithm, .. } => match algorithm.as_str() {
                "ssh-ed25519" => "ssh-ed25519",
                "ecdsa-sha2-nistp256" => "ecdsa-sha2-nistp256",
                "ecdsa-sha2-nistp384" => "ecdsa-sha2-nistp384",
                "ecdsa-sha2-nistp521" => "ecdsa-sha2-nistp521",
                "ssh-rsa" => "rsa-sha2-512,rsa-sha2-256,ssh-rsa",
                _ => DEFAULT_ALGORITHMS,
            },
            _ => DEFAULT_ALGORITHMS,
        }
    }

    /// Checks the presented key. `host`/`port` find known_hosts entries.
    pub fn check(&self, presented: &[u8], host: &str, port: u16) -> Result<(), Mismatch> {
        let actual = fingerprint(presented);
        let expected = match self {
            HostKeyPin::Key { blob, .. } if blob == presented => return Ok(()),
            HostKeyPin::Key { blob, .. } => vec![fingerprint(blob)],
            HostKeyPin::Fingerprint(f) if *f == actual => return Ok(()),
            HostKeyPin::Fingerprint(f) => vec![f.clone()],
            HostKeyPin::KnownHosts(path) => {
                let known = known_keys(path, host, port).map_err(|reason| Mismatch {
                    expected: Vec::new(),
                    actual: actual.clone(),
                    reason: Some(reason),
                })?;
                if known.iter().any(|k| k == presented) {
                    return Ok(());
                }
                known.iter().map(|k| fingerprint(k)).collect()
            }
        };
        Err(Mismatch {
            expected,
            actual,
            reason: None,
        })
    }
}

const DEFAULT_ALGORITHMS: &str = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa";

/// A presented host key that is not the pinned one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Fingerprints of the pinned keys (empty when known_hosts has no entry).
    pub expected: Vec<String>,
    /// Fingerprint of the key the host presented.
    pub actual: String,
    /// Why nothing could be compared (known_hosts unreadable), if so.
    pub reason: Option<String>,
}

/// OpenSSH's fingerprint of a public key blob: "SHA256:" and unpadded base64.
pub fn fingerprint(blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob)))
}

/// The keys a known_hosts file lists for `host` (as "host" for port 22, "[host]:port"
/// otherwise). Hashed entries ("|1|...") are matched with their HMAC, as OpenSSH does.
fn known_keys(path: &Path, host: &str, port: u16) -> Result<Vec<Vec<u8>>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read known_hosts file {}: {e}", path.display()))?;
    let name = if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    };
    let mut keys = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(hosts), Some(_algorithm), Some(data)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let matches = hosts.split(',').any(|pattern| host_matches(pattern, &name));
        if matches && let Ok(blob) = STANDARD.decode(data) {
            keys.push(blob);
        }
    }
    Ok(keys)
}

fn host_matches(pattern: &str, name: &str) -> bool {
    if let Some(hashed) = pattern.strip_prefix("|1|") {
        let Some((salt, hash)) = hashed.split_once('|') else {
            return false;
        };
        let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
            return false;
        };
        return hmac_sha1(&salt, name.as_bytes()) == hash;
    }
    pattern == name
}

/// HMAC-SHA1, the MAC OpenSSH uses for hashed known_hosts entries.
fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit as _, Mac as _};
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl lab";

    fn blob() -> Vec<u8> {
        match HostKeyPin::parse(ED25519).unwrap() {
            HostKeyPin::Key { blob, .. } => blob,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_key_line_pins_that_key_and_offers_only_its_algorithm() {
        let pin = HostKeyPin::parse(ED25519).unwrap();
        assert_eq!(pin.algorithms(), "ssh-ed25519");
        assert_eq!(pin.check(&blob(), "h", 22), Ok(()));
        let err = pin.check(b"other key", "h", 22).unwrap_err();
        assert_eq!(err.expected, [fingerprint(&blob())]);
        assert_eq!(err.actual, fingerprint(b"other key"));
    }

    #[test]
    fn a_fingerprint_pins_by_hash() {
        let f = fingerprint(&blob());
        assert_eq!(f.len(), "SHA256:".len() + 43);
        let pin = HostKeyPin::parse(&f).unwrap();
        assert_eq!(pin.check(&blob(), "h", 22), Ok(()));
        assert!(pin.check(b"x", "h", 22).is_err());
        assert!(HostKeyPin::parse("SHA256:short").is_err());
        assert!(HostKeyPin::parse("not a key").is_err());
    }

    #[test]
    fn known_hosts_entries_match_by_name_port_and_hash() {
        let dir = std::env::temp_dir().join(format!("ff-kh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("known_hosts");
        let data = ED25519.split_whitespace().nth(1).unwrap();
        // "|1|salt|hmac" of "[10.0.0.5]:2222" with salt 20 zero bytes.
        let salt = [0u8; 20];
        let hash = hmac_sha1(&salt, b"[10.0.0.5]:2222");
        let hashed = format!("|1|{}|{}", STANDARD.encode(salt), STANDARD.encode(hash));
        std::fs::write(
            &path,
            format!("# comment\nnode1,10.0.0.4 ssh-ed25519 {data}\n{hashed} ssh-ed25519 {data}\n"),
        )
        .unwrap();
        let pin = HostKeyPin::KnownHosts(path.clone());
        assert_eq!(pin.check(&blob(), "node1", 22), Ok(()));
        assert_eq!(pin.check(&blob(), "10.0.0.5", 2222), Ok(()));
        let unknown = pin.check(&blob(), "10.0.0.9", 22).unwrap_err();
        assert!(unknown.expected.is_empty());
        let missing = HostKeyPin::KnownHosts(dir.join("absent"));
        assert!(
            missing
                .check(&blob(), "node1", 22)
                .unwrap_err()
                .reason
                .is_some()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn hmac_sha1_matches_rfc_2202() {
        let digest = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }
}
