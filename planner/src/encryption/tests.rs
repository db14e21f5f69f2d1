use super::keys::{KeySource, parse_key};
use super::*;

fn raw(byte: u8) -> KeySource {
    KeySource::Raw(zeroize::Zeroizing::new([byte; 32]))
}

fn aes(name: &str, key: KeySource) -> Method {
    Method::AesGcm {
        name: name.into(),
        key,
    }
}

fn plain(name: &str) -> Method {
    Method::Unencrypted { name: name.into() }
}

#[test]
fn sealed_bytes_open_only_with_the_key_and_purpose_they_were_sealed_for() {
    let target = Target::new(aes("aes_gcm.a", raw(1)), None);
    let secret = b"{\"password\": \"canary-4711\"}";
    let sealed = target.seal(Purpose::State, secret).unwrap().into_owned();
    assert!(is_sealed(&sealed));
    assert!(!sealed.windows(11).any(|w| w == b"canary-4711"));
    assert!(!sealed.contains(&b'\n'));
    assert_eq!(&*target.open(Purpose::State, &sealed).unwrap(), secret);
    // Two seals of the same bytes differ (fresh nonce).
    assert_ne!(
        sealed,
        target.seal(Purpose::State, secret).unwrap().into_owned()
    );
    // A journal record cannot pass for a state.
    assert!(matches!(
        target.open(Purpose::Journal, &sealed),
        Err(EncryptionError::WrongKey { .. })
    ));
    // Another key with the same method name fails cleanly.
    let wrong = Target::new(aes("aes_gcm.a", raw(2)), None);
    let err = wrong.open(Purpose::State, &sealed).unwrap_err();
    assert!(matches!(err, EncryptionError::WrongKey { .. }), "{err}");
    // A flipped bit is detected.
    let mut altered = sealed.clone();
    let at = altered.len() - 6;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    assert!(target.open(Purpose::State, &altered).is_err());
}

#[test]
fn fallback_reads_old_data_and_writes_use_the_primary() {
    let old = Target::new(aes("aes_gcm.old", raw(7)), None);
    let sealed_old = old.seal(Purpose::Journal, b"record").unwrap().into_owned();
    let rotating = Target::new(aes("aes_gcm.new", raw(8)), Some(aes("aes_gcm.old", raw(7))));
    assert_eq!(
        &*rotating.open(Purpose::Journal, &sealed_old).unwrap(),
        b"record"
    );
    let sealed_new = rotating
        .seal(Purpose::Journal, b"record")
        .unwrap()
        .into_owned();
    assert!(matches!(
        old.open(Purpose::Journal, &sealed_new),
        Err(EncryptionError::UnknownMethod { .. })
    ));
    // Plain data needs an unencrypted method as primary or fallback.
    assert!(matches!(
        rotating.open(Purpose::State, b"{}"),
        Err(EncryptionError::NotEncrypted { .. })
    ));
    let migrating = Target::new(aes("aes_gcm.new", raw(8)), Some(plain("unencrypted.m")));
    assert_eq!(&*migrating.open(Purpose::State, b"{}").unwrap(), b"{}");
    // And no encryption at all cannot read sealed data.
    assert!(matches!(
        Target::plain().open(Purpose::State, &sealed_new),
        Err(EncryptionError::NotConfigured { .. })
    ));
    // Decrypting back to plain: unencrypted primary, aes fallback.
    let decrypting = Target::new(plain("unencrypted.m"), Some(aes("aes_gcm.new", raw(8))));
    assert!(!decrypting.encrypts());
    assert_eq!(&*decrypting.seal(Purpose::State, b"x").unwrap(), b"x");
    assert_eq!(
        &*decrypting.open(Purpose::Journal, &sealed_new).unwrap(),
        b"record"
    );
}

#[test]
fn passphrase_keys_are_derived_once_per_salt_and_read_back() {
    let pass = || KeySource::passphrase("correct horse battery staple".into(), 64, 1, 1);
    let writer = Target::new(aes("aes_gcm.p", pass()), None);
    let a = writer.seal(Purpose::State, b"one").unwrap().into_owned();
    let b = writer.seal(Purpose::State, b"two").unwrap().into_owned();
    let salt = |s: &[u8]| {
        let j: serde_json::Value = serde_json::from_slice(s).unwrap();
        j["kdf"]["salt"].as_str().unwrap().to_owned()
    };
    assert_eq!(salt(&a), salt(&b), "one salt per process");
    let reader = Target::new(aes("aes_gcm.p", pass()), None);
    assert_eq!(&*reader.open(Purpose::State, &a).unwrap(), b"one");
    let other = Target::new(
        aes(
            "aes_gcm.p",
            KeySource::passphrase("another passphrase!!".into(), 64, 1, 1),
        ),
        None,
    );
    assert!(matches!(
        other.open(Purpose::State, &a),
        Err(EncryptionError::WrongKey { .. })
    ));
}

#[test]
fn supplied_keys_are_hex_base64_or_raw_bytes() {
    let hex = "00".repeat(31) + "ff";
    assert_eq!(parse_key(hex.as_bytes(), false).unwrap()[31], 0xff);
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 32]);
    assert_eq!(
        *parse_key(format!("{b64}\n").as_bytes(), false).unwrap(),
        [9u8; 32]
    );
    let mut raw = [0u8; 32];
    raw[0] = 0xff;
    assert_eq!(parse_key(&raw, true).unwrap()[0], 0xff);
    assert!(parse_key(&raw, false).is_err());
    let short = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 16]);
    assert!(
        parse_key(short.as_bytes(), false)
            .unwrap_err()
            .contains("16 bytes")
    );
}
