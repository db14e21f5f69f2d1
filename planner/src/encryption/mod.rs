//! Encryption at rest: the state (with its backup), every journal record and saved plan
//! files are sealed whole with AES-256-GCM before any backend stores them, whatever is
//! inside them. Configured in `fleet { encryption {} }` the way OpenTofu configures it:
//!
//! ```hcl
//! fleet {
//!   encryption {
//!     key_provider "argon2" "main" { passphrase = var.state_passphrase }
//!     key_provider "key" "old" { env = "FLEETFORM_OLD_STATE_KEY" }
//!     method "aes_gcm" "main" { keys = key_provider.argon2.main }
//!     method "aes_gcm" "old" { keys = key_provider.key.old }
//!     state {
//!       method   = method.aes_gcm.main
//!       enforced = true
//!       fallback { method = method.aes_gcm.old } # read with either while rotating
//!     }
//!     plan { method = method.aes_gcm.main }
//!   }
//! }
//! ```
//!
//! Writes use a target's `method`; reads accept it or the `fallback`. A `method
//! "unencrypted"` as fallback reads plain data (moving a plain state to encryption), as
//! primary writes plain data (moving back). This module knows bytes only: it never looks
//! inside what it seals.

mod config;
mod envelope;
mod keys;

use std::borrow::Cow;
use std::sync::Arc;

pub use config::configure;
pub use envelope::{Purpose, is_sealed};
pub use keys::KdfParams;

/// Why sealed bytes could not be opened (or plain bytes were refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptionError {
    /// The key does not open it (or it was altered).
    #[error(
        "the {noun} cannot be decrypted with method {method}: the key or passphrase is wrong, or the data was altered"
    )]
    WrongKey {
        /// What it is.
        noun: &'static str,
        /// The method tried.
        method: String,
    },
    /// Sealed with a method the configuration does not have.
    #[error(
        "the {noun} is encrypted with method {found}, which the encryption configuration does not declare as its method or fallback ({configured})"
    )]
    UnknownMethod {
        /// What it is.
        noun: &'static str,
        /// The method named in the envelope.
        found: String,
        /// The methods configured.
        configured: String,
    },
    /// Plain data where encrypted data is required.
    #[error(
        "the {noun} is not encrypted, but the encryption configuration requires method {method}; to encrypt an existing unencrypted {noun}, add `fallback {{ method = method.unencrypted.NAME }}` with a `method \"unencrypted\" \"NAME\" {{}}` until it has been rewritten"
    )]
    NotEncrypted {
        /// What it is.
        noun: &'static str,
        /// The configured method.
        method: String,
    },
    /// Encrypted data, and no encryption configured.
    #[error(
        "the {noun} is encrypted (method {found}), but no encryption is configured: add the fleet block's encryption configuration with that method"
    )]
    NotConfigured {
        /// What it is.
        noun: &'static str,
        /// The method named in the envelope.
        found: String,
    },
    /// Not a readable envelope, or no key could be had.
    #[error("the {noun} cannot be decrypted: {message}")]
    Invalid {
        /// What it is.
        noun: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// One way of storing bytes.
enum Method {
    /// Plain bytes.
    Unencrypted { name: String },
    /// AES-256-GCM with a key from a key provider.
    AesGcm { name: String, key: keys::KeySource },
}

impl Method {
    fn name(&self) -> &str {
        match self {
            Method::Unencrypted { name } | Method::AesGcm { name, .. } => name,
        }
    }
}

/// How one kind of data (state or plans) is written and read: a method and an optional
/// fallback. Cheap to clone; the default writes and reads plain bytes.
#[derive(Clone, Default)]
pub struct Target {
    methods: Option<Arc<(Method, Option<Method>)>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Target {
    /// Plain bytes, written and read as they are.
    pub fn plain() -> Target {
        Target::default()
    }

    fn new(method: Method, fallback: Option<Method>) -> Target {
        Target {
            methods: Some(Arc::new((method, fallback))),
        }
    }

    /// Whether writes are encrypted.
    pub fn encrypts(&self) -> bool {
        matches!(self.methods.as_deref(), Some((Method::AesGcm { .. }, _)))
    }

    /// The methods, for messages: `aes_gcm.main (fallback aes_gcm.old)`.
    pub fn describe(&self) -> String {
        match self.methods.as_deref() {
            None => "unencrypted".into(),
            Some((m, None)) => m.name().to_owned(),
            Some((m, Some(f))) => format!("{} (fallback {})", m.name(), f.name()),
        }
    }

    /// Seals `plaintext` with the primary method (plain bytes are returned as they are).
    pub fn seal<'a>(
        &self,
        purpose: Purpose,
        plaintext: &'a [u8],
    ) -> Result<Cow<'a, [u8]>, EncryptionError> {
        match self.methods.as_deref() {
            Some((Method::AesGcm { name, key }, _)) => {
                let (key, kdf) = key
                    .sealing_key()
                    .map_err(|message| EncryptionError::Invalid {
                        noun: purpose.noun(),
                        message,
                    })?;
                Ok(Cow::Owned(envelope::seal(
                    &key,
                    name,
                    kdf.as_ref(),
                    purpose,
                    plaintext,
                )))
            }
            _ => Ok(Cow::Borrowed(plaintext)),
        }
    }

    /// Opens bytes written by [`Target::seal`] with the primary or fallback method.
    pub fn open<'a>(
        &self,
        purpose: Purpose,
        bytes: &'a [u8],
    ) -> Result<Cow<'a, [u8]>, EncryptionError> {
        let noun = purpose.noun();
        let methods: Vec<&Method> = match self.methods.as_deref() {
            None => Vec::new(),
            Some((m, f)) => std::iter::once(m).chain(f.as_ref()).collect(),
        };
        if !is_sealed(bytes) {
            let plain_allowed = methods.is_empty()
                || methods
                    .iter()
                    .any(|m| matches!(m, Method::Unencrypted { .. }));
            return if plain_allowed {
                Ok(Cow::Borrowed(bytes))
            } else {
                Err(EncryptionError::NotEncrypted {
                    noun,
                    method: self.describe(),
                })
            };
        }
        let sealed =
            envelope::parse(bytes).map_err(|message| EncryptionError::Invalid { noun, message })?;
        if methods.is_empty() {
            return Err(EncryptionError::NotConfigured {
                noun,
                found: sealed.method,
            });
        }
        let Some(Method::AesGcm { name, key }) = methods
            .iter()
            .find(|m| m.name() == sealed.method && matches!(m, Method::AesGcm { .. }))
        else {
            return Err(EncryptionError::UnknownMethod {
                noun,
                found: sealed.method,
                configured: self.describe(),
            });
        };
        let key = key
            .opening_key(sealed.kdf.as_ref())
            .map_err(|message| EncryptionError::Invalid { noun, message })?;
        envelope::open(&key, &sealed, purpose)
            .map(Cow::Owned)
            .ok_or_else(|| EncryptionError::WrongKey {
                noun,
                method: name.clone(),
            })
    }
}

/// The targets of a fleet's encryption configuration.
#[derive(Clone, Debug, Default)]
pub struct Encryption {
    /// State, its backup and its journal.
    pub state: Target,
    /// Saved plan files.
    pub plan: Target,
}

#[cfg(test)]
mod tests;
