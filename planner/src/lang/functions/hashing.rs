//! Hash and UUID functions: `sha1`, `sha256`, `sha512`, `md5`,
//! `base64sha256` and `uuidv5`. Strings are hashed as their UTF-8 bytes and
//! digests are written as lowercase hex, as Terraform does.

use hcl::Value;
use hcl::eval::FuncArgs;
use sha2::Digest;
use uuid::Uuid;

use super::conversion::want_str;
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
