//! Filesystem functions: `file`, `fileexists`, `filebase64`, `filesha256`,
//! `templatefile`, `basename`, `dirname` and `abspath`.
//!
//! As in Terraform, relative paths resolve against the process's current
//! working directory and a leading `~` expands to `$HOME`.

use std::io::ErrorKind as IoKind;
use std::str::FromStr;

use hcl::eval::{Context, ErrorKind, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::template::Element;
use hcl::{Template, Value};
use sha2::Digest;

use super::conversion::{param_err, quote, want_str};
use super::encoding::base64_std;
use super::hashing::hex;

/// Go's `filepath.Clean`: a purely lexical normalisation.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// go-homedir's `Expand`, then cleaning, as Terraform does before opening.
fn resolve(path: &str) -> Result<String, String> {
    let expanded = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let home = std::env::var("HOME")
                .map_err(|_| "failed to expand ~: $HOME is not defined".to_string())?;
            format!("{home}{rest}")
        }
        Some(_) => return Err("failed to expand ~: cannot expand user-specific home dir".into()),
        None => path.to_string(),
    };
    Ok(clean(&expanded))
}

fn open_error(path: &str, e: &std::io::Error) -> String {
    match e.kind() {
        IoKind::PermissionDenied => format!("open {path}: permission denied"),
        IoKind::IsADirectory => format!("failed to read file: read {path}: is a directory"),
        _ => format!("failed to read file: {e}"),
    }
}

fn read_bytes(path: &str) -> Result<Vec<u8>, String> {
    let resolved = resolve(path)?;
    read_bounded(&resolved).map_err(|e| match e.kind() {
        IoKind::NotFound => format!(
            "no file exists at {}; this function works only with files that are distributed as part of the configuration source code, so if this file will be created by a resource in this configuration you must instead obtain this result from an attribute of that resource",
            quote(path)
        ),
        _ => open_error(&resolved, &e),
    })
}

/// Reads a regular file of at most the configured string size. Devices, pipes and sockets
/// are refused before they are read (`/dev/zero` never ends, a FIFO may never answer).
fn read_bounded(path: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let limit = crate::lang::limits::limits().max_string_bytes;
    if !meta.is_file() && !meta.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file (it is a device, pipe or socket), so it is not read",
            quote(path)
        )));
    }
    let too_big = |size: u64| {
        std::io::Error::other(format!(
            "{} is {size} bytes, more than the limit of {limit} bytes. Set {} to allow more",
            quote(path),
            crate::lang::limits::STRING_VAR
        ))
    };
    if meta.len() > limit as u64 {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

fn read_text(path: &str) -> Result<String, String> {
    let bytes = read_bytes(path).map_err(|e| param_err("path", &e))?;
    String::from_utf8(bytes).map_err(|_| {
        format!(
            "contents of {} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead",
            quote(path)
        )
    })
}

pub(crate) fn file(args: FuncArgs) -> Result<Value, String> {
    read_text(&want_str(&args[0], "path")?).map(Value::String)
}

pub(crate) fn filebase64(args: FuncArgs) -> Result<Value, String> {
    let path = want_str(&args[0], "path")?;
    let bytes = read_bytes(&path).map_err(|e| param_err("path", &e))?;
    Ok(Value::String(base64_std(&bytes)))
}

/// The digest of a file's content, read as `file` reads (regular files, within the string
/// limit); the hashing functions report Go's plain open error.
fn file_digest<D: Digest>(args: &FuncArgs) -> Result<Vec<u8>, String> {
    let path = want_str(&args[0], "path")?;
    let resolved = resolve(&path)?;
    let bytes = read_bounded(&resolved).map_err(|e| match e.kind() {
        IoKind::NotFound => format!("open {resolved}: no such file or directory"),
        _ => open_error(&resolved, &e),
    })?;
    Ok(D::digest(&bytes).to_vec())
}

pub(crate) fn filemd5(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(hex(&file_digest::<md5::Md5>(&args)?)))
}

pub(crate) fn filesha1(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(hex(&file_digest::<sha1::Sha1>(&args)?)))
}

pub(crate) fn filesha256(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(hex(&file_digest::<sha2::Sha256>(&args)?)))
}

pub(crate) fn filesha512(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(hex(&file_digest::<sha2::Sha512>(&args)?)))
}

pub(crate) fn filebase64sha256(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(base64_std(&file_digest::<sha2::Sha256>(
        &args,
    )?)))
}

pub(crate) fn filebase64sha512(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(base64_std(&file_digest::<sha2::Sha512>(
        &args,
    )?)))
}

/// `fileset(path, pattern)`: the regular files under `path` whose path relative to it
/// matches `pattern` (`*` and `?` within a directory, `**` across them, `{a,b}`, `[...]`),
/// as a set of slash-separated relative paths.
pub(super) fn fileset(
    args: &[fleetform_sdk::Value],
) -> Result<fleetform_sdk::Value, super::typed::CallError> {
    use super::typed::{failed, string};
    let path = string(&args[0], "path")?;
    let pattern = string(&args[1], "pattern")?;
    let base = resolve(&path).map_err(|e| failed("fileset", e))?;
    let glob = globset::GlobBuilder::new(&clean(&pattern))
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| {
            failed(
                "fileset",
                format!("failed to glob pattern ({base}/{pattern}): {}", e.kind()),
            )
        })?
        .compile_matcher();
    let mut found = Vec::new();
    // Symbolic links are followed to what they name, as Go's stat does for each match.
    for entry in walkdir::WalkDir::new(&base).min_depth(1).follow_links(true) {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(&base) else {
            continue;
        };
        let relative = relative
            .to_string_lossy()
            .replace(std::path::MAIN_SEPARATOR, "/");
        if glob.is_match(&relative) {
            found.push(fleetform_sdk::Value::String(relative));
        }
    }
    fleetform_sdk::types::make_set(&mut found);
    Ok(fleetform_sdk::Value::Set(found))
}

pub(crate) fn fileexists(args: FuncArgs) -> Result<Value, String> {
    let path = want_str(&args[0], "path")?;
    let resolved = resolve(&path)?;
    let meta = match std::fs::metadata(&resolved) {
        Ok(meta) => meta,
        Err(e) if e.kind() == IoKind::NotFound => return Ok(Value::Bool(false)),
        Err(_) => return Err(format!("failed to stat {}", quote(&resolved))),
    };
    if meta.is_file() {
        return Ok(Value::Bool(true));
    }
    let name = quote(&resolved);
    let what = if meta.is_dir() {
        format!("{name} is a directory, not a file")
    } else {
        format!("{name} is not a regular file")
    };
    Err(param_err("path", &what))
}

/// Go's `filepath.Base`.
pub(crate) fn basename(args: FuncArgs) -> Result<Value, String> {
    let path = want_str(&args[0], "path")?;
    if path.is_empty() {
        return Ok(Value::from("."));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(Value::from("/"));
    }
    let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
    Ok(Value::from(base))
}

/// Go's `filepath.Dir`: everything before the last separator, cleaned.
pub(crate) fn dirname(args: FuncArgs) -> Result<Value, String> {
    let path = want_str(&args[0], "path")?;
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    };
    Ok(Value::String(clean(dir)))
}

pub(crate) fn abspath(args: FuncArgs) -> Result<Value, String> {
    let path = want_str(&args[0], "path")?;
    if path.starts_with('/') {
        return Ok(Value::String(clean(&path)));
    }
    let cwd =
        std::env::current_dir().map_err(|e| format!("failed to get working directory: {e}"))?;
    Ok(Value::String(clean(&format!(
        "{}/{path}",
        cwd.to_string_lossy()
    ))))
}

fn templatefile_recursive(_args: FuncArgs) -> Result<Value, String> {
    Err("cannot recursively call templatefile from inside templatefile call".to_string())
}

/// HCL identifier syntax, which every template variable name must follow.
fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

pub(crate) fn templatefile(args: FuncArgs) -> Result<Value, String> {
    let path = want_str(&args[0], "path")?;
    let src = read_text(&path)?;
    let template = Template::from_str(&src).map_err(|e| format!("{path}: {e}"))?;
    let vars = match &args[1] {
        Value::Object(map) => map,
        Value::Null => return Err(param_err("vars", "argument must not be null")),
        _ => return Err(param_err("vars", "invalid vars value: must be a map")),
    };
    let mut ctx = Context::new();
    for (name, value) in vars {
        if !valid_identifier(name) {
            return Err(param_err(
                "vars",
                &format!(
                    "invalid template variable name {}: must start with a letter, followed by zero or more letters, digits, and underscores",
                    quote(name)
                ),
            ));
        }
        ctx.declare_var(name.as_str(), value.clone());
    }
    super::declare_all(&mut ctx);
    ctx.declare_func(
        "templatefile",
        FuncDef::builder()
            .params([ParamType::Any, ParamType::Any])
            .build(templatefile_recursive),
    );
    // A template that is one interpolation yields that value unconverted.
    let result = match template.elements() {
        [Element::Interpolation(interp)] => interp.expr.evaluate(&ctx),
        _ => template.evaluate(&ctx).map(Value::String),
    };
    result.map_err(|err| match err.kind() {
        ErrorKind::UndefinedVar(name) => param_err(
            "vars",
            &format!(
                "vars map does not contain key {}, referenced at {path}",
                quote(name)
            ),
        ),
        ErrorKind::FuncCall(name, msg) => format!(
            "{path}: Error in function call; Call to function {} failed: {msg}.",
            quote(&name.to_string())
        ),
        _ => format!("{path}: {err}"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use hcl::Value;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scratch directory under /tmp that is removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::SeqCst);
            let dir = std::env::temp_dir().join(format!("fnlib-test-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
        fn write(&self, name: &str, body: &[u8]) -> String {
            let p = self.0.join(name);
            std::fs::write(&p, body).unwrap();
            p.to_string_lossy().into_owned()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn file_reads_absolute_and_relative_paths() {
        let dir = Scratch::new();
        let abs = dir.write("hello.txt", b"Hello World");
        assert_eq!(call("file", vec![s(&abs)]), Ok(s("Hello World")));
        // Relative paths resolve against the current directory.
        let cwd = std::env::current_dir().unwrap();
        let up = "../".repeat(cwd.components().count().saturating_sub(1));
        let rel = format!("{up}{}", abs.trim_start_matches('/'));
        assert_eq!(call("file", vec![s(&rel)]), Ok(s("Hello World")));
        assert_eq!(call("filebase64", vec![s(&abs)]), Ok(s("SGVsbG8gV29ybGQ=")));
        assert_eq!(
            call("filesha256", vec![s(&abs)]),
            Ok(s(
                "a591a6d40bf420404a011733cfb7b190d62c65bf0bcda32b57b277d9ad9f146e"
            ))
        );
    }

    #[test]
    fn file_errors_name_the_path() {
        let dir = Scratch::new();
        let missing = dir.0.join("missing.txt").to_string_lossy().into_owned();
        let err = call("file", vec![s(&missing)]).unwrap_err();
        assert!(err.starts_with(&format!("invalid value for \"path\" parameter: no file exists at \"{missing}\"; this function works only")), "{err}");
        let bin = dir.write("bin", &[0xff, 0xfe]);
        assert_eq!(
            call("file", vec![s(&bin)]).unwrap_err(),
            format!(
                "contents of \"{bin}\" are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead"
            )
        );
        assert_eq!(call("filebase64", vec![s(&bin)]), Ok(s("//4=")));
        assert!(
            call("filebase64", vec![s(&missing)])
                .unwrap_err()
                .contains("no file exists at")
        );
        assert_eq!(
            call("filesha256", vec![s(&missing)]).unwrap_err(),
            format!("open {missing}: no such file or directory")
        );
        assert!(
            call("file", vec![s("~other/x")])
                .unwrap_err()
                .contains("cannot expand user-specific home dir")
        );
    }

    #[test]
    fn file_digests_read_like_file() {
        let dir = Scratch::new();
        let path = dir.write("hello.txt", b"hello");
        let digest = |f: &str| call(f, vec![s(&path)]);
        assert_eq!(digest("filemd5"), Ok(s("5d41402abc4b2a76b9719d911017c592")));
        assert_eq!(
            digest("filesha1"),
            Ok(s("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"))
        );
        assert_eq!(
            digest("filesha512"),
            Ok(s(
                "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043"
            ))
        );
        assert_eq!(
            digest("filebase64sha256"),
            Ok(s("LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="))
        );
        assert_eq!(
            digest("filebase64sha512"),
            Ok(s(
                "m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw=="
            ))
        );
        let special = call("filesha256", vec![s("/dev/zero")]).expect_err("a device");
        assert!(special.contains("is not a regular file"), "{special}");
    }

    #[test]
    fn fileexists_docs() {
        let dir = Scratch::new();
        let f = dir.write("a.txt", b"x");
        assert_eq!(call("fileexists", vec![s(&f)]), Ok(true.into()));
        assert_eq!(
            call("fileexists", vec![s(&format!("{f}.nope"))]),
            Ok(false.into())
        );
        let d = dir.0.to_string_lossy().into_owned();
        assert_eq!(
            call("fileexists", vec![s(&d)]),
            Err(format!(
                "invalid value for \"path\" parameter: \"{d}\" is a directory, not a file"
            ))
        );
    }

    #[test]
    fn path_functions_docs() {
        assert_eq!(
            call("basename", vec![s("foo/bar/baz.txt")]),
            Ok(s("baz.txt"))
        );
        assert_eq!(call("basename", vec![s("/")]), Ok(s("/")));
        assert_eq!(call("basename", vec![s("")]), Ok(s(".")));
        assert_eq!(call("basename", vec![s("a/b/")]), Ok(s("b")));
        assert_eq!(
            call("dirname", vec![s("foo/bar/baz.txt")]),
            Ok(s("foo/bar"))
        );
        assert_eq!(call("dirname", vec![s("foo")]), Ok(s(".")));
        assert_eq!(call("dirname", vec![s("/foo")]), Ok(s("/")));
        assert_eq!(call("dirname", vec![s("a/b/../c/")]), Ok(s("a/c")));
        assert_eq!(call("abspath", vec![s("/a/b/../c")]), Ok(s("/a/c")));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            call("abspath", vec![s("x/./y")]),
            Ok(s(&format!("{}/x/y", cwd.display())))
        );
        assert!(call("basename", vec![Value::Null]).is_err());
        assert!(call("dirname", vec![Value::Array(vec![])]).is_err());
        assert!(call("abspath", vec![Value::Null]).is_err());
    }

    #[test]
    fn templatefile_renders_directives_and_interpolations() {
        let dir = Scratch::new();
        let t = dir.write(
            "backends.tftpl",
            b"%{ for addr in ip_addrs ~}\nbackend ${addr}:${port}\n%{ endfor ~}\n%{ if port > 80 }high%{ else }low%{ endif }\n${upper(name)}",
        );
        let vars = Value::from_iter([
            ("port", Value::from(8080)),
            ("ip_addrs", Value::from_iter([s("10.0.0.1"), s("10.0.0.2")])),
            ("name", s("web")),
        ]);
        assert_eq!(
            call("templatefile", vec![s(&t), vars]),
            Ok(s("backend 10.0.0.1:8080\nbackend 10.0.0.2:8080\nhigh\nWEB"))
        );
        let only = dir.write("only.tftpl", b"${items}");
        let items = Value::from_iter([s("a")]);
        assert_eq!(
            call(
                "templatefile",
                vec![s(&only), Value::from_iter([("items", items.clone())])]
            ),
            Ok(items)
        );
    }

    #[test]
    fn templatefile_errors() {
        let dir = Scratch::new();
        let t = dir.write("t.tftpl", b"${missing}");
        let empty = Value::Object(hcl::Map::new());
        assert_eq!(
            call("templatefile", vec![s(&t), empty.clone()]),
            Err(format!(
                "invalid value for \"vars\" parameter: vars map does not contain key \"missing\", referenced at {t}"
            ))
        );
        assert_eq!(
            call("templatefile", vec![s(&t), s("x")]),
            Err("invalid value for \"vars\" parameter: invalid vars value: must be a map".into())
        );
        let bad_name = Value::from_iter([("1x", 1)]);
        assert!(
            call("templatefile", vec![s(&t), bad_name])
                .unwrap_err()
                .contains("invalid template variable name \"1x\"")
        );
        let rec = dir.write("rec.tftpl", b"${templatefile(\"rec.tftpl\", {})}");
        let err = call("templatefile", vec![s(&rec), empty.clone()]).unwrap_err();
        assert!(
            err.contains("cannot recursively call templatefile from inside templatefile call"),
            "{err}"
        );
        let failing = dir.write("f.tftpl", b"${element([], 0)}");
        let err = call("templatefile", vec![s(&failing), empty.clone()]).unwrap_err();
        assert!(err.contains("Call to function \"element\" failed: cannot use element function with an empty list"), "{err}");
        let broken = dir.write("b.tftpl", b"${");
        assert!(
            call("templatefile", vec![s(&broken), empty.clone()])
                .unwrap_err()
                .starts_with(&broken)
        );
        let missing = format!("{}/nope", dir.0.display());
        assert!(
            call("templatefile", vec![s(&missing), empty])
                .unwrap_err()
                .contains("no file exists at")
        );
    }
}
