//! How Blob requests are authorized: SharedKey (the account's access key, HMAC-SHA256 over
//! the canonical request), a SAS token (appended to every URL), or Entra ID bearer tokens
//! (`use_azuread_auth`), chosen in that order as Terraform's `azurerm` backend chooses.
//!
//! Entra ID reuses fleetform's shared Azure credentials (the `fleetform-azure` crate, as the
//! Arc provider does): [`EntraId`] holds its `AuthConfig` and `CloudConfig`, read from
//! Terraform's backend attribute names (`tenant_id`, `client_id`, `client_secret`,
//! `client_certificate_path`, `use_oidc`, `use_msi`, `use_cli`, `environment`,
//! `metadata_host`, ...) each falling back to the ARM_* variable azurerm reads, so the
//! identity is chosen exactly as the provider chooses it. Tokens are for Azure Storage's
//! resource (`https://storage.azure.com/.default`, the same in every cloud); `client.rs`
//! asks the shared `Credential` for them (cached, refreshed before expiry, forgotten once
//! when the service refuses one). No I/O here, and no secret in `Debug` output or errors.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use fleetform_azure::{AuthConfig, CloudConfig, CredentialKind};
use fleetform_planner::state::backend::registry::BackendConfigError;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The scope of Azure Storage tokens. Azure Storage has one resource id in every cloud
/// (public, China, US Government, Azure Stack), so it is not the cloud's to choose.
pub(crate) const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// A way to authorize requests. `Debug` never shows the secret.
#[derive(Clone)]
pub(crate) enum Credential {
    /// The account key, decoded.
    SharedKey { account: String, key: Vec<u8> },
    /// A SAS token's query string, without `?`.
    Sas(String),
    /// Entra ID bearer tokens.
    EntraId(Arc<EntraId>),
}

/// Who asks Entra ID for Storage tokens: fleetform-azure's settings, as the Arc provider
/// reads them.
#[derive(Clone)]
pub(crate) struct EntraId {
    /// The credential's settings (secrets are `Secret`s).
    pub(crate) auth: AuthConfig,
    /// The cloud whose authority issues the tokens.
    pub(crate) cloud: CloudConfig,
    /// The credential `auth` selects, for messages.
    pub(crate) kind: CredentialKind,
}

impl fmt::Debug for EntraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraId")
            .field("kind", &self.kind)
            .field("environment", &self.cloud.environment)
            .field("metadata_host", &self.cloud.metadata_host)
            .finish_non_exhaustive()
    }
}

impl EntraId {
    /// Checks that `auth` selects a credential and `cloud` names a known cloud, without
    /// asking anything over the network.
    pub(crate) fn new(auth: AuthConfig, cloud: CloudConfig) -> Result<EntraId, BackendConfigError> {
        let kind = auth
            .kind()
            .map_err(|e| BackendConfigError::general(format!("use_azuread_auth: {e}")))?;
        if cloud.metadata_host.is_none() {
            cloud
                .resolve_offline()
                .map_err(|e| BackendConfigError::at("environment", e.to_string()))?;
        }
        Ok(EntraId { auth, cloud, kind })
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::SharedKey { account, .. } => write!(f, "SharedKey({account}, (sensitive))"),
            Credential::Sas(_) => f.write_str("Sas((sensitive))"),
            Credential::EntraId(entra) => write!(f, "EntraId({})", entra.kind),
        }
    }
}

impl Credential {
    /// The access key, else the SAS token, else (with `use_azuread_auth`) Entra ID, whose
    /// settings `entra` reads only then: Terraform's order.
    pub(crate) fn choose(
        account: &str,
        access_key: Option<String>,
        sas_token: Option<String>,
        use_azuread: bool,
        entra: impl FnOnce() -> Result<EntraId, BackendConfigError>,
    ) -> Result<Credential, BackendConfigError> {
        if let Some(key) = access_key.filter(|k| !k.is_empty()) {
            if use_azuread {
                tracing::warn!(
                    "backend \"azurerm\": an access key is set (access_key or ARM_ACCESS_KEY), so it is used instead of Entra ID, as Terraform does"
                );
            }
            let key = B64.decode(key.trim()).map_err(|_| {
                BackendConfigError::at(
                    "access_key",
                    "the access key is not base64 (copy it from the storage account's Access keys)",
                )
            })?;
            return Ok(Credential::SharedKey {
                account: account.to_owned(),
                key,
            });
        }
        if let Some(sas) = sas_token.filter(|s| !s.is_empty()) {
            if use_azuread {
                tracing::warn!(
                    "backend \"azurerm\": a SAS token is set (sas_token or ARM_SAS_TOKEN), so it is used instead of Entra ID, as Terraform does"
                );
            }
            return Ok(Credential::Sas(sas.trim_start_matches('?').to_owned()));
        }
        if use_azuread {
            let entra = entra()?;
            tracing::debug!(credential = %entra.kind, "backend \"azurerm\": Entra ID authorization");
            return Ok(Credential::EntraId(Arc::new(entra)));
        }
        Err(BackendConfigError::general(
            "no credentials: set access_key (or ARM_ACCESS_KEY), sas_token (or ARM_SAS_TOKEN), or use_azuread_auth = true (or ARM_USE_AZUREAD) with an Entra ID identity",
        ))
    }

    /// The `Authorization` header's value for SharedKey, signing `string_to_sign`.
    pub(crate) fn shared_key_header(&self, string_to_sign: &str) -> Option<String> {
        let Credential::SharedKey { account, key } = self else {
            return None;
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
        mac.update(string_to_sign.as_bytes());
        let signature = B64.encode(mac.finalize().into_bytes());
        Some(format!("SharedKey {account}:{signature}"))
    }

    /// The SAS query to append, if this is a SAS token.
    pub(crate) fn sas(&self) -> Option<&str> {
        match self {
            Credential::Sas(s) => Some(s),
            Credential::SharedKey { .. } | Credential::EntraId(_) => None,
        }
    }

    /// The Entra ID settings, if requests carry bearer tokens.
    pub(crate) fn entra(&self) -> Option<&Arc<EntraId>> {
        match self {
            Credential::EntraId(entra) => Some(entra),
            Credential::SharedKey { .. } | Credential::Sas(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use fleetform_azure::Secret;

    use super::*;

    fn service_principal() -> AuthConfig {
        AuthConfig {
            tenant_id: Some("tenant".into()),
            client_id: Some("app".into()),
            client_secret: Some(Secret::new("canary-secret")),
            ..AuthConfig::default()
        }
    }

    #[test]
    fn terraforms_order_access_key_then_sas_then_entra_id() {
        let entra = || EntraId::new(service_principal(), CloudConfig::default());
        let key = Credential::choose("acct", Some("a2V5".into()), None, true, entra).unwrap();
        assert!(matches!(key, Credential::SharedKey { .. }));
        let sas = Credential::choose("acct", None, Some("?sv=1".into()), true, entra).unwrap();
        assert_eq!(sas.sas(), Some("sv=1"));
        let bearer = Credential::choose("acct", None, None, true, entra).unwrap();
        assert_eq!(bearer.entra().unwrap().kind, CredentialKind::ClientSecret);
        let none = Credential::choose("acct", None, None, false, entra).unwrap_err();
        assert!(none.message.contains("use_azuread_auth"), "{none}");
    }

    #[test]
    fn no_secret_in_debug_output() {
        let entra = EntraId::new(service_principal(), CloudConfig::default()).unwrap();
        let credential = Credential::EntraId(Arc::new(entra.clone()));
        let shown = format!("{credential:?} {entra:?}");
        assert!(!shown.contains("canary"), "{shown}");
        assert!(shown.contains("client secret"), "{shown}");
    }

    #[test]
    fn a_missing_identity_or_unknown_cloud_is_a_settings_error() {
        let nobody = AuthConfig {
            use_cli: false,
            ..AuthConfig::default()
        };
        let err = EntraId::new(nobody, CloudConfig::default()).unwrap_err();
        assert!(err.message.contains("no Azure credential"), "{err}");
        let err = EntraId::new(
            service_principal(),
            CloudConfig {
                environment: Some("german".into()),
                ..CloudConfig::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.attribute.as_deref(), Some("environment"));
    }
}
