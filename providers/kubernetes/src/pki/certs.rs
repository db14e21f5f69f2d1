//! Certificate authorities and the certificates they issue.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{CaPem, KeyAlgorithm, PkiError, keys};

/// How far before "now" certificates start, so that a node whose clock is a little behind
/// accepts them at once; kubeadm backdates by the same five minutes.
pub(super) const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// A CA that can issue certificates, with its files exactly as they were read or written.
pub(super) struct Ca {
    pub pem: CaPem,
    pub not_after: SystemTime,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its new private key, both PEM.
pub(super) struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub not_after: SystemTime,
}

/// What distinguishes one leaf certificate from another.
pub(super) struct Leaf<'a> {
    pub common_name: &'a str,
    pub organization: Option<&'a str>,
    pub usages: &'a [ExtendedKeyUsagePurpose],
    pub sans: Vec<SanType>,
}

/// The validity window shared by everything issued in one run.
#[derive(Clone, Copy)]
pub(super) struct Window {
    pub not_before: OffsetDateTime,
    pub now: OffsetDateTime,
}

impl Window {
    pub fn at(now: SystemTime) -> Result<Self, PkiError> {
        // X.509 times have whole seconds; dropping the fraction here makes the not-after
        // we report equal to the one read back from the certificate.
        let seconds = match now.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).ok(),
            Err(before) => i64::try_from(before.duration().as_secs()).ok().map(|s| -s),
        };
        let now = seconds
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .filter(|now| (1950..=9999).contains(&now.year()))
            .ok_or(PkiError::NowOutOfRange)?;
        Ok(Window {
            not_before: now - BACKDATE,
            now,
        })
    }

    /// `now + validity`, or an error naming `what` when that is not a representable
    /// X.509 time (up to the year 9999).
    pub fn until(
        &self,
        what: &'static str,
        validity: Duration,
    ) -> Result<OffsetDateTime, PkiError> {
        let out_of_range = || PkiError::ValidityOutOfRange { what, validity };
        if validity.is_zero() {
            return Err(out_of_range());
        }
        let validity = time::Duration::try_from(validity).map_err(|_| out_of_range())?;
        match self.now.checked_add(validity) {
            Some(end) if end.year() <= 9999 => Ok(end),
            _ => Err(out_of_range()),
        }
    }
}

impl Ca {
    /// A new self-signed CA, as kubeadm makes them: CA:TRUE, certificate and CRL signing.
    pub fn create(
        common_name: &str,
        algorithm: KeyAlgorithm,
        window: Window,
        not_after: OffsetDateTime,
    ) -> Result<Ca, PkiError> {
        let key = keys::generate(algorithm)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(common_name, None);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        params.not_before = window.not_before;
        params.not_after = not_after;
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            pem: CaPem {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            },
            not_after: not_after.into(),
            issuer: Issuer::new(params, key),
        })
    }

    /// An existing CA, checked to be usable at `window.now`: a CA certificate, not expired,
    /// and with the key that belongs to it. Its files are kept byte for byte.
    pub fn load(what: &'static str, pem: &CaPem, window: Window) -> Result<Ca, PkiError> {
        let der = certificate_der(what, &pem.cert_pem)?;
        let (_, cert) =
            X509Certificate::from_der(&der).map_err(|e| PkiError::InvalidCertificate {
                what: what.into(),
                reason: e.to_string(),
            })?;
        let is_ca = cert
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|constraints| constraints.value.ca);
        if !is_ca {
            return Err(PkiError::NotACa(what));
        }
        let not_after = to_system_time(cert.validity().not_after.timestamp());
        if cert.validity().not_after.timestamp() <= window.now.unix_timestamp() {
            return Err(PkiError::CaExpired { what, not_after });
        }
        let key = keys::load(what, &pem.key_pem)?;
        if !keys::matches_certificate(&key, &cert.public_key().subject_public_key.data) {
            return Err(PkiError::KeyMismatch(what));
        }
        let issuer = Issuer::from_ca_cert_der(&der.as_slice().into(), key).map_err(|e| {
            PkiError::InvalidCertificate {
                what: what.into(),
                reason: e.to_string(),
            }
        })?;
        Ok(Ca {
            pem: pem.clone(),
            not_after,
            issuer,
        })
    }

    /// A new key and a certificate for it. A certificate cannot be of use past its CA's
    /// expiry, so it ends then at the latest.
    pub fn issue(
        &self,
        leaf: Leaf<'_>,
        algorithm: KeyAlgorithm,
        window: Window,
        not_after: OffsetDateTime,
    ) -> Result<Issued, PkiError> {
        let key = keys::generate(algorithm)?;
        let not_after = not_after.min(OffsetDateTime::from(self.not_after));
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(leaf.common_name, leaf.organization);
        params.subject_alt_names = leaf.sans;
        params.is_ca = IsCa::ExplicitNoCa;
        // keyEncipherment only means something for RSA key transport; kubeadm sets it for
        // RSA keys alone, and so do we.
        params.key_usages = if algorithm.is_rsa() {
            vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ]
        } else {
            vec![KeyUsagePurpose::DigitalSignature]
        };
        params.extended_key_usages = leaf.usages.to_vec();
        params.use_authority_key_identifier_extension = true;
        params.not_before = window.not_before;
        params.not_after = not_after;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            not_after: not_after.into(),
        })
    }
}

/// A subject the way Kubernetes reads it: CN is the user name, O the group.
fn subject(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    if let Some(organization) = organization {
        name.push(DnType::OrganizationName, organization);
    }
    name.push(DnType::CommonName, common_name);
    name
}

/// Subject alternative names from strings already checked to be IPs or DNS names.
pub(super) fn sans<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<SanType>, PkiError> {
    let mut out: Vec<SanType> = Vec::new();
    for name in names {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                name.try_into()
                    .map_err(|_| PkiError::InvalidSan(name.to_owned()))?,
            ),
        };
        if !out.contains(&san) {
            out.push(san);
        }
    }
    Ok(out)
}

/// The DER of the first certificate in a PEM text.
pub(super) fn certificate_der(what: &str, pem: &str) -> Result<Vec<u8>, PkiError> {
    let invalid = |reason: String| PkiError::InvalidCertificate {
        what: what.to_owned(),
        reason,
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| invalid(format!("not a PEM certificate ({e})")))?;
    if pem.label != "CERTIFICATE" {
        return Err(invalid(format!(
            "expected a CERTIFICATE block, found {}",
            pem.label
        )));
    }
    Ok(pem.contents)
}

/// The not-after time of a DER certificate.
pub(super) fn not_after_der(what: &str, der: &[u8]) -> Result<SystemTime, PkiError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| PkiError::InvalidCertificate {
        what: what.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(to_system_time(cert.validity().not_after.timestamp()))
}

fn to_system_time(unix_seconds: i64) -> SystemTime {
    let magnitude = Duration::from_secs(unix_seconds.unsigned_abs());
    if unix_seconds >= 0 {
        SystemTime::UNIX_EPOCH + magnitude
    } else {
        SystemTime::UNIX_EPOCH - magnitude
    }
}
