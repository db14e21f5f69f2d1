//! Where keys come from: a passphrase stretched with Argon2id (memory-hard), or 32 bytes
//! given directly through an environment variable or a file.
//!
//! A passphrase key is derived once per salt and process: sealing uses one random salt per
//! process (recorded in every envelope), and opening caches the key of each salt it meets,
//! so a journal of thousands of records costs one derivation per run that wrote it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value as Json, json};
use zeroize::Zeroizing;

/// Argon2id parameters and the salt a key was derived with, as stored in envelopes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// 16 random bytes.
    pub salt: Vec<u8>,
}

impl KdfParams {
    pub(super) fn to_json(&self) -> Json {
        json!({
            "alg": "argon2id",
            "m": self.memory_kib,
            "t": self.iterations,
            "p": self.parallelism,
            "salt": B64.encode(&self.salt),
        })
    }

    pub(super) fn from_json(j: &Json) -> Result<KdfParams, String> {
        if j["alg"].as_str() != Some("argon2id") {
            return Err("malformed envelope: unknown key derivation".into());
        }
        let num = |name: &str| {
            j[name]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("malformed envelope: kdf.{name}"))
        };
        Ok(KdfParams {
            memory_kib: num("m")?,
            iterations: num("t")?,
            parallelism: num("p")?,
            salt: B64
                .decode(j["salt"].as_str().unwrap_or_default())
                .map_err(|e| format!("malformed envelope: kdf.salt: {e}"))?,
        })
    }
}

/// A derived key with the parameters it was derived with (or why derivation failed).
type Derived = Result<(KdfParams, Zeroizing<[u8; 32]>), String>;

/// The source of one method's key.
pub(super) enum KeySource {
    /// 32 bytes given as they are.
    Raw(Zeroizing<[u8; 32]>),
    /// A passphrase, stretched with Argon2id.
    Passphrase {
        passphrase: Zeroizing<String>,
        /// The cost used when sealing.
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        /// The salt and key sealing uses in this process.
        sealing: OnceLock<Derived>,
        /// Keys derived for opening, by parameters and salt.
        opened: Mutex<HashMap<KdfParams, Zeroizing<[u8; 32]>>>,
    },
}

impl KeySource {
    pub(super) fn passphrase(
        passphrase: String,
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    ) -> KeySource {
        KeySource::Passphrase {
            passphrase: Zeroizing::new(passphrase),
            memory_kib,
            iterations,
            parallelism,
            sealing: OnceLock::new(),
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// The key to seal with, and the parameters to record beside it.
    pub(super) fn sealing_key(&self) -> Result<(Key<Aes256Gcm>, Option<KdfParams>), String> {
        match self {
            KeySource::Raw(k) => Ok((*Key::<Aes256Gcm>::from_slice(&k[..]), None)),
            KeySource::Passphrase {
                passphrase,
                memory_kib,
                iterations,
                parallelism,
                sealing,
                ..
            } => {
                let derived = sealing.get_or_init(|| {
                    let mut salt = vec![0u8; 16];
                    OsRng.fill_bytes(&mut salt);
                    let params = KdfParams {
                        memory_kib: *memory_kib,
                        iterations: *iterations,
                        parallelism: *parallelism,
                        salt,
                    };
                    derive(passphrase, &params).map(|key| (params, key))
                });
                let (params, key) = derived.as_ref().map_err(Clone::clone)?;
                Ok((
                    *Key::<Aes256Gcm>::from_slice(&key[..]),
                    Some(params.clone()),
                ))
            }
        }
    }

    /// The key to open a message sealed with `kdf` (`None`: a raw key).
    pub(super) fn opening_key(&self, kdf: Option<&KdfParams>) -> Result<Key<Aes256Gcm>, String> {
        match (self, kdf) {
            (KeySource::Raw(k), None) => Ok(*Key::<Aes256Gcm>::from_slice(&k[..])),
            (KeySource::Raw(_), Some(_)) => {
                Err("it was sealed with a passphrase-derived key, but the method's key provider supplies a key".into())
            }
            (KeySource::Passphrase { .. }, None) => {
                Err("it was sealed with a supplied key, but the method's key provider is a passphrase".into())
            }
            (
                KeySource::Passphrase {
                    passphrase,
                    sealing,
                    opened,
                    ..
                },
                Some(params),
            ) => {
                if let Some(Ok((p, key))) = sealing.get()
                    && p == params
                {
                    return Ok(*Key::<Aes256Gcm>::from_slice(&key[..]));
                }
                let mut cache = opened.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(key) = cache.get(params) {
                    return Ok(*Key::<Aes256Gcm>::from_slice(&key[..]));
                }
                // Refuse costs no sane writer uses, so a forged envelope cannot make a reader
                // allocate without bound.
                if params.memory_kib > 4 * 1024 * 1024 || params.iterations > 64 {
                    return Err("its key derivation parameters are out of range".into());
                }
                let key = derive(passphrase, params)?;
                let out = *Key::<Aes256Gcm>::from_slice(&key[..]);
                cache.insert(params.clone(), key);
                Ok(out)
            }
        }
    }
}

fn derive(passphrase: &str, params: &KdfParams) -> Result<Zeroizing<[u8; 32]>, String> {
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|e| format!("invalid key derivation parameters: {e}"))?,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), &params.salt, &mut key[..])
        .map_err(|e| format!("key derivation failed: {e}"))?;
    Ok(key)
}

/// Reads a supplied key: 64 hexadecimal digits, or base64 of 32 bytes (surrounding
/// whitespace ignored), or, from a file, exactly 32 raw bytes.
pub(super) fn parse_key(bytes: &[u8], raw_allowed: bool) -> Result<Zeroizing<[u8; 32]>, String> {
    let mut key = Zeroizing::new([0u8; 32]);
    if raw_allowed && bytes.len() == 32 && std::str::from_utf8(bytes).is_err() {
        key.copy_from_slice(bytes);
        return Ok(key);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "the key is neither text nor 32 raw bytes".to_owned())?
        .trim();
    if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(chunk).map_err(|e| e.to_string())?;
            key[i] = u8::from_str_radix(pair, 16).map_err(|e| e.to_string())?;
        }
        return Ok(key);
    }
    let decoded =
        Zeroizing::new(B64.decode(text).map_err(|_| {
            "the key must be 64 hexadecimal digits or base64 of 32 bytes".to_owned()
        })?);
    if decoded.len() != 32 {
        return Err(format!(
            "the key must be 32 bytes (AES-256); it is {} bytes",
            decoded.len()
        ));
    }
    key.copy_from_slice(&decoded);
    Ok(key)
}
