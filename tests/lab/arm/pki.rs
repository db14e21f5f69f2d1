//! The lab's keys: a CA and the HTTPS serving certificate it signs (for 127.0.0.1 and
//! localhost), and RSA keys that sign the JSON Web Tokens the lab issues (Entra ID access
//! tokens, the OIDC issuer's federated tokens). Also RS256 JWT encoding and checking, and
//! service principal certificates in PKCS#12 files for tests.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use serde_json::{Value, json};

/// The lab CA and the serving certificate it issued, in PEM.
pub struct ServingPki {
    /// The CA certificate clients must be told to trust.
    pub ca_pem: String,
    /// The serving certificate.
    pub cert_pem: String,
    /// The serving key (PKCS#8).
    pub key_pem: String,
}

/// Issues a fresh CA named `ca_name` (each server's CA its own name, so that a client
/// trusting another one fails as with an unknown issuer) and a serving certificate for
/// 127.0.0.1 and localhost.
pub fn serving_pki(ca_name: &str) -> Result<ServingPki, String> {
    let fail = |e: rcgen::Error| format!("lab PKI: {e}");
    let ca_key = rcgen::KeyPair::generate().map_err(fail)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = ca_params.self_signed(&ca_key).map_err(fail)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).map_err(fail)?;
    params.subject_alt_names.push(rcgen::SanType::IpAddress(
        "127.0.0.1".parse().expect("constant"),
    ));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).map_err(fail)?;
    Ok(ServingPki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// An RSA signing key for JWTs.
pub struct SigningKey {
    key: PKey<Private>,
    /// The key id (`kid`) tokens name.
    pub kid: String,
}

impl SigningKey {
    /// A fresh 2048-bit key.
    pub fn generate(kid: &str) -> Result<SigningKey, String> {
        let rsa = Rsa::generate(2048).map_err(|e| format!("RSA key: {e}"))?;
        Ok(SigningKey {
            key: PKey::from_rsa(rsa).map_err(|e| format!("RSA key: {e}"))?,
            kid: kid.to_owned(),
        })
    }

    /// An RS256 JWT of `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).expect("RS256 signer");
        signer.update(input.as_bytes()).expect("sign");
        let signature = signer.sign_to_vec().expect("sign");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The public key as a JWK, for the issuer's key set.
    pub fn jwk(&self) -> Value {
        let rsa = self.key.rsa().expect("an RSA key");
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
        })
    }

    /// The public half.
    pub fn public(&self) -> PKey<Public> {
        let der = self.key.public_key_to_der().expect("public key");
        PKey::public_key_from_der(&der).expect("public key")
    }
}

/// A JWT taken apart: its header and claims, and whether `key` signed it.
pub struct Jwt {
    /// The JOSE header.
    pub header: Value,
    /// The claims.
    pub claims: Value,
    signed: String,
    signature: Vec<u8>,
}

impl Jwt {
    /// Splits and decodes `token`; `None` when it is not a JWT.
    pub fn parse(token: &str) -> Option<Jwt> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let decode = |part: &str| -> Option<Value> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
        };
        Some(Jwt {
            header: decode(h)?,
            claims: decode(c)?,
            signed: format!("{h}.{c}"),
            signature: URL_SAFE_NO_PAD.decode(s).ok()?,
        })
    }

    /// True when `key` made the RS256 signature.
    pub fn verify(&self, key: &PKey<Public>) -> bool {
        if self.header["alg"] != "RS256" {
            return false;
        }
        let Ok(mut verifier) = Verifier::new(MessageDigest::sha256(), key) else {
            return false;
        };
        verifier.update(self.signed.as_bytes()).is_ok()
            && verifier.verify(&self.signature).unwrap_or(false)
    }

    /// True when `exp` is in the future and `nbf` (if any) is not, at `now` (Unix seconds),
    /// allowing a minute of skew as Entra ID does.
    pub fn current(&self, now: i64) -> bool {
        let exp = self.claims["exp"].as_i64().unwrap_or(0);
        let nbf = self.claims["nbf"].as_i64().unwrap_or(0);
        exp + 60 > now && nbf - 60 <= now
    }
}

/// The public key of a PEM certificate.
pub fn certificate_key(pem: &str) -> Option<PKey<Public>> {
    openssl::x509::X509::from_pem(pem.as_bytes())
        .ok()?
        .public_key()
        .ok()
}

/// A service principal's certificate for tests: the certificate in PEM (to register with
/// the lab) and a PKCS#12 file of it with its key, protected by `password`.
pub fn client_certificate(name: &str, password: &str) -> Result<(String, Vec<u8>), String> {
    use openssl::x509::{X509Builder, X509NameBuilder};
    let fail = |e: openssl::error::ErrorStack| format!("client certificate: {e}");
    let key = PKey::from_rsa(Rsa::generate(2048).map_err(fail)?).map_err(fail)?;
    let mut subject = X509NameBuilder::new().map_err(fail)?;
    subject.append_entry_by_text("CN", name).map_err(fail)?;
    let subject = subject.build();
    let mut builder = X509Builder::new().map_err(fail)?;
    builder.set_version(2).map_err(fail)?;
    builder.set_subject_name(&subject).map_err(fail)?;
    builder.set_issuer_name(&subject).map_err(fail)?;
    builder.set_pubkey(&key).map_err(fail)?;
    let serial = openssl::bn::BigNum::from_u32(fastrand::u32(1..u32::MAX)).map_err(fail)?;
    let serial = serial.to_asn1_integer().map_err(fail)?;
    builder.set_serial_number(&serial).map_err(fail)?;
    let not_before = openssl::asn1::Asn1Time::days_from_now(0).map_err(fail)?;
    builder.set_not_before(&not_before).map_err(fail)?;
    let not_after = openssl::asn1::Asn1Time::days_from_now(30).map_err(fail)?;
    builder.set_not_after(&not_after).map_err(fail)?;
    builder.sign(&key, MessageDigest::sha256()).map_err(fail)?;
    let cert = builder.build();
    let pkcs12 = openssl::pkcs12::Pkcs12::builder()
        .name(name)
        .pkey(&key)
        .cert(&cert)
        .build2(password)
        .map_err(fail)?;
    let pem = String::from_utf8(cert.to_pem().map_err(fail)?).map_err(|e| e.to_string())?;
    Ok((pem, pkcs12.to_der().map_err(fail)?))
}
