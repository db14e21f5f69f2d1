//! How Blob requests are authorized: SharedKey (the account's access key, HMAC-SHA256 over
//! the canonical request), a SAS token (appended to every URL), or Entra ID tokens. Entra ID
//! needs the shared Azure credentials crate (being built for the Arc provider); until it
//! lands, `use_azuread_auth` is refused with that explanation instead of half-working.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use fleetform_planner::state::backend::registry::BackendConfigError;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// A way to authorize requests. `Debug` never shows the secret.
#[derive(Clone)]
pub(crate) enum Credential {
    /// The account key, decoded.
    SharedKey { account: String, key: Vec<u8> },
    /// A SAS token's query string, without `?`.
    Sas(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::SharedKey { account, .. } => write!(f, "SharedKey({account}, (sensitive))"),
            Credential::Sas(_) => f.write_str("Sas((sensitive))"),
        }
    }
}

impl Credential {
    pub(crate) fn choose(
        account: &str,
        access_key: Option<String>,
        sas_token: Option<String>,
        use_azuread: bool,
    ) -> Result<Credential, BackendConfigError> {
        if use_azuread {
            return Err(BackendConfigError::at(
                "use_azuread_auth",
                "Entra ID authentication for the state backend is not available in this build (it arrives with fleetform's shared Azure credentials); use access_key (ARM_ACCESS_KEY) or sas_token (ARM_SAS_TOKEN)",
            ));
        }
        if let Some(key) = access_key.filter(|k| !k.is_empty()) {
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
            return Ok(Credential::Sas(sas.trim_start_matches('?').to_owned()));
        }
        Err(BackendConfigError::general(
            "no credentials: set access_key (or ARM_ACCESS_KEY) or sas_token (or ARM_SAS_TOKEN)",
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
            Credential::SharedKey { .. } => None,
        }
    }
}
