//! Host key pinning: what the user pinned (an OpenSSH public key line, a `SHA256:`
//! fingerprint, or a known_hosts file, read by [`super::known_hosts`]) and how a presented key is checked against it.
//! Fingerprints are printed as OpenSSH prints them, so an operator can compare them with
//! `ssh-keygen -lf` output.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest as _, Sha256};

use super::known_hosts::{self, Verdict};

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
    /// presents is the one pinned (a server usually has several). Certificates come first
    /// when the known_hosts file has a `@cert-authority` for the host.
    pub fn algorithms(&self, host: &str, port: u16) -> String {
        if let HostKeyPin::KnownHosts(path) = self
            && known_hosts::has_authority(path, host, port)
        {
            return format!("{CERTIFICATE_ALGORITHMS},{DEFAULT_ALGORITHMS}");
        }
        self.key_algorithms().to_owned()
    }

    fn key_algorithms(&self) -> &'static str {
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
                let refuse = |expected, reason, revoked| Mismatch {
                    expected,
                    actual: actual.clone(),
                    reason,
                    revoked,
                };
                let verdict = known_hosts::check(path, host, port, presented)
                    .map_err(|reason| refuse(Vec::new(), Some(reason), None))?;
                return match verdict {
                    Verdict::Known | Verdict::Certified { .. } => Ok(()),
                    Verdict::Revoked { at } => Err(refuse(Vec::new(), None, Some(at))),
                    Verdict::Other(expected) => Err(refuse(expected, None, None)),
                    Verdict::Uncertified(reason) => Err(refuse(Vec::new(), Some(reason), None)),
                    Verdict::Unknown => Err(refuse(Vec::new(), None, None)),
                };
            }
        };
        Err(Mismatch {
            expected,
            actual,
            reason: None,
            revoked: None,
        })
    }
}

const CERTIFICATE_ALGORITHMS: &str =
    "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com";

const DEFAULT_ALGORITHMS: &str = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa";

/// A presented host key that is not the pinned one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Fingerprints of the pinned keys (empty when known_hosts has no entry).
    pub expected: Vec<String>,
    /// Fingerprint of the key the host presented.
    pub actual: String,
    /// Why nothing could be compared (known_hosts unreadable, a certificate no authority
    /// vouches for), if so.
    pub reason: Option<String>,
    /// Where known_hosts marks the key (or its certificate's CA) `@revoked`, if it does.
    pub revoked: Option<String>,
}

/// OpenSSH's fingerprint of a public key blob: "SHA256:" and unpadded base64.
pub fn fingerprint(blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob)))
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
        assert_eq!(pin.algorithms("h", 22), "ssh-ed25519");
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
}
