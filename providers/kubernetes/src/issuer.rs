//! CA certificates issued from a cluster's CA for other issuers inside the cluster (the
//! cert-manager ClusterIssuer an addon declares): an intermediate CA with path length 0,
//! so that what it signs chains to the CA every node and kubeconfig already trusts. The
//! cluster CA itself never leaves state.

use std::time::{Duration, SystemTime};

use fleetform_provider_addons::directory::IssuedCa;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::OffsetDateTime;

/// How far back the new CA's validity starts, for nodes whose clocks lag (as kubeadm).
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// Issues a CA named `common_name` from the cluster CA (`ca_cert_pem`, `ca_key_pem`), valid
/// for `validity` from `now` but never past the cluster CA itself.
pub fn issue(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    common_name: &str,
    validity: Duration,
    now: SystemTime,
) -> Result<IssuedCa, String> {
    // The cluster CA's key may be PKCS#8 or a traditional PEM (RSA); rcgen signs with
    // PKCS#8, which OpenSSL converts to.
    let pkcs8 = openssl::pkey::PKey::private_key_from_pem(ca_key_pem.as_bytes())
        .and_then(|key| key.private_key_to_pkcs8())
        .map_err(|e| format!("the cluster CA's key cannot be read: {e}"))?;
    let ca_key = KeyPair::try_from(pkcs8.as_slice())
        .map_err(|e| format!("the cluster CA's key cannot sign: {e}"))?;
    let ca_not_after = crate::pki::certificate_not_after(ca_cert_pem)
        .map_err(|e| format!("the cluster CA certificate cannot be read: {e}"))?;
    let issuer = Issuer::from_ca_cert_pem(ca_cert_pem, ca_key)
        .map_err(|e| format!("the cluster CA certificate cannot issue: {e}"))?;
    let not_after = (now + validity).min(ca_not_after);
    let key = KeyPair::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.use_authority_key_identifier_extension = true;
    params.not_before = offset(now - BACKDATE)?;
    params.not_after = offset(not_after)?;
    let certificate = params
        .signed_by(&key, &issuer)
        .map_err(|e| format!("cannot sign the CA: {e}"))?;
    // X.509 keeps whole seconds; report what the certificate says.
    let not_after = crate::pki::certificate_not_after(&certificate.pem())
        .map_err(|e| format!("the new CA cannot be read back: {e}"))?;
    Ok(IssuedCa {
        certificate_chain: format!("{}{}\n", certificate.pem(), ca_cert_pem.trim_end()),
        private_key: key.serialize_pem(),
        not_after,
    })
}

fn offset(time: SystemTime) -> Result<OffsetDateTime, String> {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| "a time before 1970".to_owned())?
        .as_secs();
    OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{self, Endpoint, Member, PkiSpec};

    #[test]
    fn issued_cas_chain_to_the_cluster_ca_and_end_with_it() {
        let now = SystemTime::now();
        let spec = PkiSpec::new(
            "lab",
            Endpoint {
                host: "10.0.0.1".into(),
                port: 6443,
            },
            vec![Member {
                name: "cp-1".into(),
                address: "10.0.0.1".parse().unwrap(),
            }],
            now,
        );
        let bundle = pki::issue(&spec).unwrap();
        let ca_cert = bundle.common[pki::paths::CA_CERT].contents.clone();
        let ca_key = bundle.common[pki::paths::CA_KEY].contents.clone();
        let year = Duration::from_secs(365 * 24 * 3600);
        let issued = issue(&ca_cert, &ca_key, "cluster-ca", year, now).unwrap();
        assert!(
            issued
                .certificate_chain
                .ends_with(&format!("{}\n", ca_cert.trim_end()))
        );
        let lifetime = issued.not_after.duration_since(now).unwrap();
        assert!(lifetime <= year && lifetime > year - Duration::from_secs(5));
        // Never past the cluster CA.
        let long = issue(&ca_cert, &ca_key, "cluster-ca", year * 100, now).unwrap();
        assert_eq!(
            long.not_after,
            pki::certificate_not_after(&ca_cert).unwrap()
        );

        // openssl agrees: the issued CA verifies against the cluster CA and is a CA.
        let dir = tempfile::tempdir().unwrap();
        let leaf = issued
            .certificate_chain
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap();
        std::fs::write(dir.path().join("ca.crt"), &ca_cert).unwrap();
        std::fs::write(dir.path().join("issuer.crt"), leaf).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(dir.path().join("ca.crt"))
            .arg(dir.path().join("issuer.crt"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(dir.path().join("issuer.crt"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
    }
}
