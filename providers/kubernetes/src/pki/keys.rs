//! Private keys: generating them for each supported algorithm and reading existing ones.
//!
//! rcgen signs with its default backend, ring, which is also what rustls and kube use.
//! ring signs with RSA keys but cannot generate them, so RSA keys come from the system
//! OpenSSL through the `openssl` crate and reach rcgen as PKCS#8. The alternatives, weighed
//! on this project's 2-core machines:
//! - rcgen's `aws_lc_rs` backend generates RSA itself, and it would not change rustls's
//!   process-level provider (rustls picks one from its own cargo features only, see
//!   `CryptoProvider::from_crate_features` in rustls 0.23), but it brings back the aws-lc-sys
//!   C build (~20 s per profile) and a third crypto library beside ring and OpenSSL.
//! - The `rsa` crate builds fast but takes ~5 s per RSA-4096 key in debug builds, and 0.9 is
//!   under RUSTSEC-2023-0071 (Marvin) with no fixed release.
//! - OpenSSL is already linked for ssh2: the `openssl` crate adds ~6 s of build, generates
//!   keys in milliseconds to a second or two, and also reads the PKCS#1 ("RSA PRIVATE KEY")
//!   and SEC1 ("EC PRIVATE KEY") files that kubeadm writes, which ring cannot read.
//!
//! Ed25519 keys come from OpenSSL too: ring writes them as PKCS#8 v2 (RFC 5958, with the
//! public key), which OpenSSL 3.0 refuses to read; OpenSSL writes the v1 form of RFC 8410
//! that every tool reads, and ring signs with that as well.

use std::fmt;
use std::str::FromStr;

use openssl::pkey::PKey;
use openssl::pkey::Private;
use openssl::rsa::Rsa;
use rcgen::{
    KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ED25519, PKCS_RSA_SHA256, PublicKeyData,
    SignatureAlgorithm,
};

use super::PkiError;

/// The key algorithm of every key the PKI generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256 (kubeadm's "ECDSA-P256").
    #[default]
    EcdsaP256,
    /// RSA 2048 bits with PKCS#1 v1.5 SHA-256 signatures (kubeadm's default, "RSA-2048").
    Rsa2048,
    /// RSA 4096 bits with PKCS#1 v1.5 SHA-256 signatures ("RSA-4096").
    Rsa4096,
    /// Ed25519. Kubernetes cannot sign service-account tokens with it, so the
    /// service-account key is ECDSA P-256 instead.
    Ed25519,
}

impl KeyAlgorithm {
    /// Every algorithm, in the order the documentation lists them.
    pub const ALL: [KeyAlgorithm; 4] = [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::Ed25519,
    ];

    /// The name users write in `certificates { key_algorithm = ... }`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::Rsa2048 => "rsa-2048",
            KeyAlgorithm::Rsa4096 => "rsa-4096",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }

    pub(super) fn is_rsa(self) -> bool {
        matches!(self, KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096)
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.as_str() == s)
            .ok_or_else(|| PkiError::UnknownKeyAlgorithm(s.to_owned()))
    }
}

/// A new key pair of the given algorithm.
pub(super) fn generate(algorithm: KeyAlgorithm) -> Result<KeyPair, PkiError> {
    match algorithm {
        KeyAlgorithm::EcdsaP256 => Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?),
        KeyAlgorithm::Ed25519 => from_openssl(PKey::generate_ed25519()?, &PKCS_ED25519),
        KeyAlgorithm::Rsa2048 => {
            from_openssl(PKey::from_rsa(Rsa::generate(2048)?)?, &PKCS_RSA_SHA256)
        }
        KeyAlgorithm::Rsa4096 => {
            from_openssl(PKey::from_rsa(Rsa::generate(4096)?)?, &PKCS_RSA_SHA256)
        }
    }
}

fn from_openssl(
    key: PKey<Private>,
    algorithm: &'static SignatureAlgorithm,
) -> Result<KeyPair, PkiError> {
    let pkcs8 = key.private_key_to_pkcs8()?;
    Ok(KeyPair::from_pkcs8_der_and_sign_algo(
        &pkcs8.as_slice().into(),
        algorithm,
    )?)
}

/// Reads an existing private key in PEM: PKCS#8, PKCS#1 or SEC1, unencrypted.
/// `what` names the key in errors; the key itself never appears in one.
pub(super) fn load(what: &str, pem: &str) -> Result<KeyPair, PkiError> {
    let invalid = |reason: String| PkiError::InvalidKey {
        what: what.to_owned(),
        reason,
    };
    if pem.contains("ENCRYPTED") {
        return Err(invalid("it is encrypted; give the key unencrypted".into()));
    }
    // An explicit (empty) passphrase: with none, OpenSSL would prompt on the terminal for
    // an encrypted key that slipped past the check above.
    let pkcs8 = match PKey::private_key_from_pem_passphrase(pem.as_bytes(), b"") {
        Ok(key) => key.private_key_to_pkcs8()?,
        // OpenSSL 3.0 cannot read PKCS#8 v2 (Ed25519 keys from ring-based tools); ring can.
        Err(_) => {
            return KeyPair::from_pem(pem).map_err(|_| {
                invalid("it is not a PEM private key (PKCS#8, PKCS#1 or SEC1)".into())
            });
        }
    };
    KeyPair::try_from(pkcs8.as_slice()).map_err(|_| {
        invalid(
            "its type is not supported (ECDSA P-256/P-384, RSA 2048-8192 bits or Ed25519)".into(),
        )
    })
}

/// Whether `key` is the private half of the public key of a certificate.
pub(super) fn matches_certificate(key: &KeyPair, subject_public_key: &[u8]) -> bool {
    key.der_bytes() == subject_public_key
}
