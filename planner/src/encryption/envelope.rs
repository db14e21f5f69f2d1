//! Sealing bytes: AES-256-GCM with a random 96-bit nonce per message, the message's purpose
//! as associated data (a sealed journal record cannot pass for a state), written as one line
//! of JSON so that sealed journal records stay one line each:
//!
//! ```text
//! {"fleetform_encrypted":1,"method":"aes_gcm.main","kdf":{...},"nonce":"…","data":"…"}
//! ```
//!
//! `kdf` is present when the key comes from a passphrase: the Argon2id parameters and salt
//! the key was derived with, so a reader derives the same key.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value as Json, json};

use super::keys::KdfParams;

/// What a sealed message is; bound into it as associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A state document (and its backup).
    State,
    /// One journal record.
    Journal,
    /// A saved plan file.
    Plan,
}

impl Purpose {
    fn aad(self) -> &'static [u8] {
        match self {
            Purpose::State => b"fleetform state",
            Purpose::Journal => b"fleetform journal record",
            Purpose::Plan => b"fleetform plan",
        }
    }

    /// How messages call it.
    pub fn noun(self) -> &'static str {
        match self {
            Purpose::State => "state",
            Purpose::Journal => "journal record",
            Purpose::Plan => "plan file",
        }
    }
}

const MARKER: &[u8] = br#"{"fleetform_encrypted":"#;
const VERSION: u64 = 1;

/// Whether `bytes` are a sealed message (of any method), as opposed to plain data.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MARKER)
}

/// A sealed message, read but not yet decrypted.
pub(super) struct Sealed {
    pub method: String,
    pub kdf: Option<KdfParams>,
    nonce: Vec<u8>,
    data: Vec<u8>,
}

/// Encrypts `plaintext` with `key` into a one-line envelope naming `method`.
pub(super) fn seal(
    key: &Key<Aes256Gcm>,
    method: &str,
    kdf: Option<&KdfParams>,
    purpose: Purpose,
    plaintext: &[u8],
) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key);
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let data = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: purpose.aad(),
            },
        )
        // Only inputs beyond 64 GiB fail.
        .expect("AES-GCM encryption of an in-memory buffer");
    let mut doc = Map::new();
    doc.insert("fleetform_encrypted".into(), json!(VERSION));
    doc.insert("method".into(), json!(method));
    if let Some(kdf) = kdf {
        doc.insert("kdf".into(), kdf.to_json());
    }
    doc.insert("nonce".into(), json!(B64.encode(nonce)));
    doc.insert("data".into(), json!(B64.encode(data)));
    let mut out = serde_json::to_vec(&Json::Object(doc)).expect("JSON of strings");
    debug_assert!(is_sealed(&out) && !out.contains(&b'\n'));
    out.shrink_to_fit();
    out
}

/// Reads an envelope (without decrypting it).
pub(super) fn parse(bytes: &[u8]) -> Result<Sealed, String> {
    let doc: Json =
        serde_json::from_slice(bytes).map_err(|e| format!("malformed envelope: {e}"))?;
    match doc["fleetform_encrypted"].as_u64() {
        Some(VERSION) => {}
        Some(v) => {
            return Err(format!(
                "encryption version {v} is newer than this fleetform reads ({VERSION}): upgrade fleetform"
            ));
        }
        None => return Err("malformed envelope: no encryption version".into()),
    }
    let field = |name: &str| -> Result<Vec<u8>, String> {
        let text = doc[name]
            .as_str()
            .ok_or_else(|| format!("malformed envelope: no {name}"))?;
        B64.decode(text)
            .map_err(|e| format!("malformed envelope: {name}: {e}"))
    };
    let nonce = field("nonce")?;
    if nonce.len() != 12 {
        return Err("malformed envelope: the nonce is not 96 bits".into());
    }
    let kdf = match doc.get("kdf") {
        None | Some(Json::Null) => None,
        Some(k) => Some(KdfParams::from_json(k)?),
    };
    Ok(Sealed {
        method: doc["method"].as_str().unwrap_or_default().to_owned(),
        kdf,
        nonce,
        data: field("data")?,
    })
}

/// Decrypts a parsed envelope; `None` when the key is wrong or the data was altered.
pub(super) fn open(key: &Key<Aes256Gcm>, sealed: &Sealed, purpose: Purpose) -> Option<Vec<u8>> {
    Aes256Gcm::new(key)
        .decrypt(
            Nonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.data,
                aad: purpose.aad(),
            },
        )
        .ok()
}
