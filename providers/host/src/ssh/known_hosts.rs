//! known_hosts files as OpenSSH reads them (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): entries
//! parsed with the ssh-key crate, hosts matched by comma-separated patterns with `*` and
//! `?` wildcards and `!` negation or by hashed names (`|1|salt|HMAC-SHA1`), `[host]:port`
//! for other ports than 22, `@revoked` keys refused whatever else the file says, and
//! `@cert-authority` keys trusted to sign host certificates (checked for the host type,
//! the host among the principals, the validity period and the CA's signature).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ssh_key::known_hosts::{Entry, HostPatterns, Marker};
use ssh_key::{Certificate, HashAlg};

use super::host_key::fingerprint;

/// What a known_hosts file says about a presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A plain entry for the host lists this key.
    Known,
    /// The key is a host certificate signed by a `@cert-authority` of the host.
    Certified {
        /// The CA key's fingerprint.
        authority: String,
    },
    /// The key (or the CA that signed its certificate) is marked `@revoked`.
    Revoked {
        /// Where: `FILE line N`.
        at: String,
    },
    /// The host has entries, none with this key: their fingerprints.
    Other(Vec<String>),
    /// A certificate that no authority of the host vouches for, and why.
    Uncertified(String),
    /// No entry names the host.
    Unknown,
}

/// One entry and its line number.
struct Line {
    number: usize,
    entry: Entry,
}

/// Reads the entries of `path`. Lines that do not parse are skipped, as OpenSSH skips them.
fn read(path: &Path) -> Result<Vec<Line>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read known_hosts file {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        })
        .filter_map(|(i, l)| {
            let entry: Entry = l.trim().parse().ok()?;
            Some(Line {
                number: i + 1,
                entry,
            })
        })
        .collect())
}

/// The name a host is looked up by: `host` on port 22, `[host]:port` otherwise.
pub fn lookup_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Whether the file has a `@cert-authority` for the host, so that certificates are asked
/// for first.
pub fn has_authority(path: &Path, host: &str, port: u16) -> bool {
    let name = lookup_name(host, port);
    read(path).is_ok_and(|lines| {
        lines.iter().any(|l| {
            l.entry.marker() == Some(&Marker::CertAuthority)
                && matches(l.entry.host_patterns(), &name)
        })
    })
}

/// Checks `presented` (an SSH wire-format public key or host certificate) for `host`.
pub fn check(path: &Path, host: &str, port: u16, presented: &[u8]) -> Result<Verdict, String> {
    let lines = read(path)?;
    let name = lookup_name(host, port);
    let for_host: Vec<&Line> = lines
        .iter()
        .filter(|l| matches(l.entry.host_patterns(), &name))
        .collect();
    let at = |l: &Line| format!("{} line {}", path.display(), l.number);
    let revoked = |blob: &[u8]| {
        for_host
            .iter()
            .find(|l| l.entry.marker() == Some(&Marker::Revoked) && key_blob(l) == blob)
            .map(|l| at(l))
    };
    if let Some(at) = revoked(presented) {
        return Ok(Verdict::Revoked { at });
    }
    if let Ok(cert) = Certificate::from_bytes(presented) {
        return Ok(certified(&cert, host, &for_host, &revoked));
    }
    let plain: Vec<&&Line> = for_host
        .iter()
        .filter(|l| l.entry.marker().is_none())
        .collect();
    if plain.iter().any(|l| key_blob(l) == presented) {
        return Ok(Verdict::Known);
    }
    if plain.is_empty() {
        return Ok(Verdict::Unknown);
    }
    Ok(Verdict::Other(
        plain.iter().map(|l| fingerprint(&key_blob(l))).collect(),
    ))
}

/// A host certificate's verdict: its key and its CA not revoked, a CA of the host signed
/// it, it is a host certificate for this host, and it is valid now.
fn certified(
    cert: &Certificate,
    host: &str,
    for_host: &[&Line],
    revoked: &dyn Fn(&[u8]) -> Option<String>,
) -> Verdict {
    let wire = |k: &ssh_key::public::KeyData| {
        ssh_key::PublicKey::from(k.clone())
            .to_bytes()
            .unwrap_or_default()
    };
    for key in [cert.public_key(), cert.signature_key()] {
        if let Some(at) = revoked(&wire(key)) {
            return Verdict::Revoked { at };
        }
    }
    let authorities: Vec<ssh_key::Fingerprint> = for_host
        .iter()
        .filter(|l| l.entry.marker() == Some(&Marker::CertAuthority))
        .map(|l| l.entry.public_key().fingerprint(HashAlg::Sha256))
        .collect();
    if authorities.is_empty() {
        return Verdict::Uncertified(
            "the host presented a certificate, but no @cert-authority entry names it".into(),
        );
    }
    if cert.cert_type() != ssh_key::certificate::CertType::Host {
        return Verdict::Uncertified("the certificate is not a host certificate".into());
    }
    if !cert.valid_principals().iter().any(|p| p == host) {
        return Verdict::Uncertified(format!(
            "the certificate names {:?}, not {host:?}",
            cert.valid_principals()
        ));
    }
    match cert.validate(authorities.iter()) {
        Ok(()) => Verdict::Certified {
            authority: cert
                .signature_key()
                .fingerprint(HashAlg::Sha256)
                .to_string(),
        },
        Err(e) => Verdict::Uncertified(format!(
            "the certificate does not validate against the host's @cert-authority keys ({e}: expired, not yet valid, or signed by another key)"
        )),
    }
}

fn key_blob(l: &Line) -> Vec<u8> {
    l.entry.public_key().to_bytes().unwrap_or_default()
}

/// OpenSSH's host matching: a hashed name, or patterns of which one matches and no
/// negated one does.
fn matches(patterns: &HostPatterns, name: &str) -> bool {
    match patterns {
        HostPatterns::HashedName { salt, hash } => hmac_sha1(salt, name.as_bytes()) == hash,
        HostPatterns::Patterns(list) => {
            let mut matched = false;
            for p in list {
                match p.strip_prefix('!') {
                    Some(negated) if wildcard(negated, name) => return false,
                    Some(_) => {}
                    None => matched |= wildcard(p, name),
                }
            }
            matched
        }
    }
}

/// `*` matches any run of characters, `?` exactly one; host names compare case-insensitively.
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// HMAC-SHA1, the MAC OpenSSH uses for hashed known_hosts entries.
pub(crate) fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit as _, Mac as _};
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// A hashed known_hosts name for `name` with `salt`, as `ssh-keygen -H` writes it.
pub fn hashed_name(salt: &[u8], name: &str) -> String {
    format!(
        "|1|{}|{}",
        STANDARD.encode(salt),
        STANDARD.encode(hmac_sha1(salt, name.as_bytes()))
    )
}

#[cfg(test)]
#[path = "known_hosts_tests.rs"]
mod tests;
