//! Hash, crypto and UUID functions: `sha1`, `sha256`, `sha512`, `md5`,
//! `base64sha256`, `bcrypt`, `rsadecrypt` and `uuidv5`. Strings are hashed as their UTF-8 bytes and
//! digests are written as lowercase hex, as Terraform does.

use hcl::Value;
use hcl::eval::FuncArgs;
use sha2::Digest;
use uuid::Uuid;

use super::conversion::{param_err, quote, want_int, want_str};
use super::encoding::base64_std;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_arg<D: Digest>(args: &FuncArgs) -> Result<Vec<u8>, String> {
    let s = want_str(&args[0], "str")?;
    Ok(D::digest(s.as_bytes()).to_vec())
}

pub(crate) fn sha1(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(hex(&hash_arg::<sha1::Sha1>(&args)?)))
}

pub(crate) fn sha256(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(hex(&hash_arg::<sha2::Sha256>(&args)?)))
}

pub(crate) fn sha512(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(hex(&hash_arg::<sha2::Sha512>(&args)?)))
}

pub(crate) fn md5(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(hex(&hash_arg::<md5::Md5>(&args)?)))
}

pub(crate) fn base64sha256(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(base64_std(&hash_arg::<sha2::Sha256>(&args)?)))
}

/// `bcrypt(str, cost = 10)`: a new salt each call, in Go's `$2a$` form. Go raises a cost
/// below 4 to 10 and refuses one above 31 or a password longer than 72 bytes.
pub(crate) fn bcrypt(args: FuncArgs) -> Result<Value, String> {
    let password = want_str(&args[0], "str")?;
    if args.len() > 2 {
        return Err("bcrypt() takes no more than two arguments".into());
    }
    let cost = match args.get(1) {
        Some(cost) => want_int(cost, "cost")?,
        None => 10,
    };
    // Terraform's words, spelling included.
    let failed = |why: String| format!("error occured generating password {why}");
    if cost > 31 {
        return Err(failed(format!(
            "crypto/bcrypt: cost {cost} is outside allowed inclusive range 4..31"
        )));
    }
    if password.len() > 72 {
        return Err(failed("bcrypt: password length exceeds 72 bytes".into()));
    }
    let cost = if cost < 4 { 10 } else { cost as u32 };
    let hashed =
        ::bcrypt::hash_with_result(password.as_bytes(), cost).map_err(|e| failed(e.to_string()))?;
    Ok(Value::String(
        hashed.format_for_version(::bcrypt::Version::TwoA),
    ))
}

/// `rsadecrypt(ciphertext, privatekey)`: PKCS #1 v1.5 decryption with a PEM key (PKCS #1 or
/// PKCS #8). Errors never quote the key.
pub(crate) fn rsadecrypt(args: FuncArgs) -> Result<Value, String> {
    use base64::Engine;
    let ciphertext = want_str(&args[0], "ciphertext")?;
    let key = want_str(&args[1], "privatekey")?;
    let encrypted = base64::engine::general_purpose::STANDARD
        .decode(ciphertext.as_bytes())
        .map_err(|_| {
            param_err(
                "ciphertext",
                &format!(
                    "failed to decode input {}: cipher text must be base64-encoded",
                    quote(&ciphertext)
                ),
            )
        })?;
    let rsa = openssl::pkey::PKey::private_key_from_pem(key.as_bytes())
        .and_then(|k| k.rsa())
        .map_err(|_| param_err("privatekey", "invalid private key: ssh: no key found"))?;
    let mut out = vec![0; rsa.size() as usize];
    let len = rsa
        .private_decrypt(&encrypted, &mut out, openssl::rsa::Padding::PKCS1)
        .map_err(|_| "failed to decrypt: crypto/rsa: decryption error".to_string())?;
    out.truncate(len);
    String::from_utf8(out)
        .map(Value::String)
        .map_err(|_| "the decrypted data is not valid UTF-8".to_string())
}

/// The reason Go's google/uuid gives for a namespace it cannot parse.
fn uuid_parse_reason(s: &str) -> &'static str {
    match s.len() {
        32 | 36 | 38 | 41 => "invalid UUID format",
        _ => "",
    }
}

pub(crate) fn uuidv5(args: FuncArgs) -> Result<Value, String> {
    let ns = want_str(&args[0], "namespace")?;
    let name = want_str(&args[1], "name")?;
    let namespace = match ns.as_str() {
        "dns" => Uuid::NAMESPACE_DNS,
        "url" => Uuid::NAMESPACE_URL,
        "oid" => Uuid::NAMESPACE_OID,
        "x500" => Uuid::NAMESPACE_X500,
        other => Uuid::try_parse(other).map_err(|_| {
            let reason = match uuid_parse_reason(other) {
                "" => format!("invalid UUID length: {}", other.len()),
                r => r.to_string(),
            };
            format!("uuidv5() doesn't support namespace {other} ({reason})")
        })?,
    };
    Ok(Value::String(
        Uuid::new_v5(&namespace, name.as_bytes())
            .hyphenated()
            .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use hcl::Value;

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn bcrypt_hashes_with_a_new_salt_in_gos_form() {
        let Ok(Value::String(hashed)) = call("bcrypt", vec![s("hunter2"), 4.into()]) else {
            panic!("bcrypt gives a string");
        };
        assert!(
            hashed.starts_with("$2a$04$") && hashed.len() == 60,
            "{hashed}"
        );
        assert!(::bcrypt::verify("hunter2", &hashed).expect("a bcrypt hash"));
        let again = call("bcrypt", vec![s("hunter2"), 4.into()]).expect("hash");
        assert_ne!(again, Value::String(hashed), "a new salt each call");
        let Err(e) = call("bcrypt", vec![s("x"), 32.into()]) else {
            panic!("cost 32 is refused");
        };
        assert!(
            e.contains("cost 32 is outside allowed inclusive range 4..31"),
            "{e}"
        );
        let Err(e) = call("bcrypt", vec![s(&"x".repeat(73))]) else {
            panic!("73 bytes are refused");
        };
        assert!(e.contains("password length exceeds 72 bytes"), "{e}");
    }

    #[test]
    fn rsadecrypt_reads_what_the_public_key_encrypted() {
        use base64::Engine;
        let rsa = openssl::rsa::Rsa::generate(2048).expect("key");
        let pem = String::from_utf8(rsa.private_key_to_pem().expect("pem")).expect("utf-8");
        let mut encrypted = vec![0; rsa.size() as usize];
        let len = rsa
            .public_encrypt(b"hello", &mut encrypted, openssl::rsa::Padding::PKCS1)
            .expect("encrypt");
        let ciphertext = base64::engine::general_purpose::STANDARD.encode(&encrypted[..len]);
        assert_eq!(
            call("rsadecrypt", vec![s(&ciphertext), s(&pem)]),
            Ok(s("hello"))
        );
        let Err(e) = call("rsadecrypt", vec![s("not base64!"), s(&pem)]) else {
            panic!("bad ciphertext is refused");
        };
        assert!(e.contains("cipher text must be base64-encoded"), "{e}");
        let broken_key = pem.replace("MII", "XXX");
        let Err(e) = call("rsadecrypt", vec![s(&ciphertext), s(&broken_key)]) else {
            panic!("a broken key is refused");
        };
        assert!(
            e.contains("invalid private key") && !e.contains("XXX"),
            "{e}"
        );
    }

    #[test]
    fn hashes_docs() {
        let hw = || vec![s("hello world")];
        assert_eq!(
            call("sha1", hw()),
            Ok(s("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"))
        );
        assert_eq!(
            call("sha256", hw()),
            Ok(s(
                "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
            ))
        );
        assert_eq!(
            call("sha512", hw()),
            Ok(s(
                "309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f"
            ))
        );
        assert_eq!(call("md5", hw()), Ok(s("5eb63bbbe01eeed093cb22bb8f5acdc3")));
        assert_eq!(
            call("base64sha256", hw()),
            Ok(s("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="))
        );
        for f in ["sha1", "sha256", "sha512", "md5", "base64sha256"] {
            assert_eq!(
                call(f, vec![Value::Array(vec![])]),
                Err("invalid value for \"str\" parameter: string required".into()),
                "{f}"
            );
        }
        assert_eq!(call("md5", vec![1.into()]), call("md5", vec![s("1")]));
    }

    #[test]
    fn uuidv5_docs() {
        let u = |ns: &str, name: &str| call("uuidv5", vec![s(ns), s(name)]);
        assert_eq!(
            u("dns", "www.terraform.io"),
            Ok(s("a5008fae-b28c-5ba5-96cd-82b4c53552d6"))
        );
        assert_eq!(
            u("url", "https://www.terraform.io/"),
            Ok(s("9db6f67c-dd95-5ea0-aa5b-e70e5c5f7cf5"))
        );
        assert_eq!(
            u("oid", "1.3.6.1.4"),
            Ok(s("af9d40a5-7a36-5c07-b23a-851cd99fbfa5"))
        );
        assert_eq!(
            u("x500", "CN=Example,C=GB"),
            Ok(s("84e09961-4aa4-57f8-95b7-03edb1073253"))
        );
        assert_eq!(
            u("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.terraform.io"),
            Ok(s("a5008fae-b28c-5ba5-96cd-82b4c53552d6"))
        );
        assert_eq!(
            u("bad", "x"),
            Err("uuidv5() doesn't support namespace bad (invalid UUID length: 3)".into())
        );
    }
}
