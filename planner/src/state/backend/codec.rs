//! What every backend stores: states and journal records as bytes, encoded by
//! [`crate::state::format`] and sealed by the fleet's encryption (see
//! [`crate::encryption`]). Backends outside this crate see only this type, the bytes it
//! makes, and the [`State`]/[`JournalEntry`] values they hand back to the engine: they never
//! look inside a record, so the engine may change what records hold.

use crate::encryption::{EncryptionError, Purpose, Target};
use crate::state::format::{self, DecodeError};
use crate::state::journal::JournalEntry;
use crate::state::{State, StateError};

/// Encodes and decodes a backend's states and journal records, encrypting them when the
/// fleet's encryption says so. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Codec {
    encryption: Target,
}

/// A stored state's identity: what conditional writes compare and journals are bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateHeader {
    /// The state's lineage.
    pub lineage: String,
    /// Its serial.
    pub serial: u64,
}

impl StateHeader {
    /// The header of `state`.
    pub fn of(state: &State) -> StateHeader {
        StateHeader {
            lineage: state.lineage.clone(),
            serial: state.serial,
        }
    }
}

impl Codec {
    /// A codec that seals with `encryption` (plain: [`Codec::default`]).
    pub fn new(encryption: Target) -> Codec {
        Codec { encryption }
    }

    /// Whether what it writes is encrypted.
    pub fn encrypts(&self) -> bool {
        self.encryption.encrypts()
    }

    /// The encryption it uses.
    pub fn encryption(&self) -> &Target {
        &self.encryption
    }

    /// A state as stored bytes.
    pub fn encode_state(&self, state: &State, place: &str) -> Result<Vec<u8>, StateError> {
        let bytes = format::encode(state);
        let sealed = self
            .encryption
            .seal(Purpose::State, &bytes)
            .map_err(|e| encryption_error(place, e))?;
        Ok(sealed.into_owned())
    }

    /// A state from stored bytes.
    pub fn decode_state(&self, bytes: &[u8], place: &str) -> Result<State, StateError> {
        let plain = self.open(Purpose::State, bytes, place)?;
        format::decode(&plain).map_err(|e| decode_error(place, e))
    }

    /// The lineage and serial of stored state bytes (decrypting them when sealed).
    pub fn state_header(&self, bytes: &[u8], place: &str) -> Result<StateHeader, StateError> {
        let plain = self.open(Purpose::State, bytes, place)?;
        let h = format::header(&plain).map_err(|e| decode_error(place, e))?;
        Ok(StateHeader {
            lineage: h.lineage,
            serial: h.serial,
        })
    }

    /// One journal record as stored bytes: a single line without its newline.
    pub fn encode_record(&self, entry: &JournalEntry, place: &str) -> Result<Vec<u8>, StateError> {
        let bytes = format::encode_journal_entry(entry);
        let sealed = self
            .encryption
            .seal(Purpose::Journal, &bytes)
            .map_err(|e| encryption_error(place, e))?;
        Ok(sealed.into_owned())
    }

    /// A journal record from stored bytes. A record that is not whole (cut short by a
    /// crash) is `Corrupt`; one that does not decrypt is `Encryption`.
    pub fn decode_record(&self, bytes: &[u8], place: &str) -> Result<JournalEntry, StateError> {
        let plain = self.open(Purpose::Journal, bytes, place)?;
        format::decode_journal_entry(&plain).map_err(|e| decode_error(place, e))
    }

    fn open<'a>(
        &self,
        purpose: Purpose,
        bytes: &'a [u8],
        place: &str,
    ) -> Result<std::borrow::Cow<'a, [u8]>, StateError> {
        self.encryption.open(purpose, bytes).map_err(|e| match e {
            EncryptionError::Invalid { message, .. } => StateError::Corrupt {
                path: place.to_owned(),
                message,
            },
            e => encryption_error(place, e),
        })
    }
}

/// A lock's information as stored beside a lock (JSON, no secrets).
pub fn encode_lock_info(info: &crate::state::LockInfo) -> Vec<u8> {
    format::encode_lock_info(info)
}

/// Reads what [`encode_lock_info`] wrote.
pub fn decode_lock_info(bytes: &[u8]) -> Option<crate::state::LockInfo> {
    format::decode_lock_info(bytes).ok()
}

fn encryption_error(place: &str, source: EncryptionError) -> StateError {
    StateError::Encryption {
        path: place.to_owned(),
        source,
    }
}

/// Maps a decoding error to the state error for `place`.
pub(crate) fn decode_error(place: &str, e: DecodeError) -> StateError {
    match e {
        DecodeError::NewerFormat { version } => StateError::NewerFormat {
            path: place.to_owned(),
            version,
        },
        e => StateError::Corrupt {
            path: place.to_owned(),
            message: e.to_string(),
        },
    }
}
