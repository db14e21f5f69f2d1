//! Add-on sources: manifests at a URL pinned by SHA-256, or files in the fleet's
//! repository. URLs are fetched by `fleetform init`, verified, and kept content-addressed
//! under `.fleetform/sources/sha256/<hex>`; plans and applies read only that cache, so
//! nothing downloads while changes are made and a site whose source server is gone keeps
//! working. A mirror (a directory or URL laid out like the cache, which `fleetform sources
//! mirror DIR` writes) replaces the original URLs for air-gapped sites.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error_chain;

/// Where a bundle's manifests come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Fetched at init, verified against `sha256`.
    Url { url: String, sha256: String },
    /// A file or a directory of `*.yaml`/`*.yml` files (in name order), read when planned;
    /// checked against `sha256` when one is given (of the file, or of the directory's
    /// files concatenated in that order).
    Path {
        path: PathBuf,
        sha256: Option<String>,
    },
}

/// Why a source cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error(
        "{what} does not match its pinned sha256: the configuration says {expected}, the content has {actual}; nothing was applied"
    )]
    Mismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{url} is not in the source cache: run `fleetform init` to fetch it")]
    NotFetched { url: String },
    #[error("cannot fetch {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `text` is a SHA-256 as sources pin them (64 lowercase hex digits).
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn io(path: &Path, e: std::io::Error) -> SourceError {
    SourceError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The content-addressed cache of fetched sources, and what init saw at each URL.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// A cache in `dir` (`.fleetform/sources` of the working directory).
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, sha256: &str) -> PathBuf {
        self.dir.join("sha256").join(sha256)
    }

    /// The cached content with this hash.
    pub fn read(&self, sha256: &str) -> Result<Option<Vec<u8>>, SourceError> {
        if !is_sha256(sha256) {
            return Ok(None);
        }
        let path = self.path_of(sha256);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    /// Stores `bytes` under their hash (atomically: a temporary file renamed into place).
    pub fn store(&self, bytes: &[u8]) -> Result<String, SourceError> {
        let sha = sha256_hex(bytes);
        let dir = self.dir.join("sha256");
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let target = dir.join(&sha);
        if target.exists() {
            return Ok(sha);
        }
        let temporary = dir.join(format!(".{sha}.{}", std::process::id()));
        let mut file = std::fs::File::create(&temporary).map_err(|e| io(&temporary, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| io(&temporary, e))?;
        std::fs::rename(&temporary, &target).map_err(|e| io(&target, e))?;
        Ok(sha)
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("fetched.json")
    }

    /// What init last fetched from each URL (its hash), to name both hashes when the pin
    /// is wrong.
    fn index(&self) -> BTreeMap<String, String> {
        std::fs::read(self.index_path())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn remember(&self, url: &str, sha256: &str) -> Result<(), SourceError> {
        let mut index = self.index();
        index.insert(url.to_owned(), sha256.to_owned());
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let text = serde_json::to_vec_pretty(&index).expect("a map of strings serialises");
        let temporary = self.dir.join(format!(".fetched.{}", std::process::id()));
        std::fs::write(&temporary, text).map_err(|e| io(&temporary, e))?;
        std::fs::rename(&temporary, self.index_path()).map_err(|e| io(&self.index_path(), e))
    }

    /// Copies every cached source into `dest`, laid out as a mirror (`sha256/<hex>`).
    /// Returns how many files it copied.
    pub fn export(&self, dest: &Path) -> Result<usize, SourceError> {
        let from = self.dir.join("sha256");
        let to = dest.join("sha256");
        std::fs::create_dir_all(&to).map_err(|e| io(&to, e))?;
        let entries = match std::fs::read_dir(&from) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(&from, e)),
        };
        let mut count = 0;
        for entry in entries {
            let entry = entry.map_err(|e| io(&from, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_sha256(&name) {
                continue;
            }
            std::fs::copy(entry.path(), to.join(&name)).map_err(|e| io(&entry.path(), e))?;
            count += 1;
        }
        Ok(count)
    }
}

/// What `fetch` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    AlreadyCached,
    Downloaded { from: String, bytes: usize },
}

/// Fetches a URL source into the cache unless it is there, from `mirror` when one is set
/// (`<mirror>/sha256/<hex>`), and verifies it.
pub async fn fetch(
    source: &Source,
    cache: &Cache,
    mirror: Option<&str>,
) -> Result<Fetched, SourceError> {
    let Source::Url { url, sha256 } = source else {
        return Ok(Fetched::AlreadyCached);
    };
    if cache.read(sha256)?.is_some() {
        return Ok(Fetched::AlreadyCached);
    }
    let from = match mirror {
        Some(mirror) => format!("{}/sha256/{sha256}", mirror.trim_end_matches('/')),
        None => url.clone(),
    };
    let bytes = download(&from).await?;
    let actual = sha256_hex(&bytes);
    cache.remember(url, &actual)?;
    if actual != *sha256 {
        return Err(SourceError::Mismatch {
            what: from,
            expected: sha256.clone(),
            actual,
        });
    }
    cache.store(&bytes)?;
    Ok(Fetched::Downloaded {
        from,
        bytes: bytes.len(),
    })
}

async fn download(from: &str) -> Result<Vec<u8>, SourceError> {
    let failed = |message: String| SourceError::Fetch {
        url: from.to_owned(),
        message,
    };
    if !from.starts_with("http://") && !from.starts_with("https://") {
        let path = from.strip_prefix("file://").unwrap_or(from);
        return tokio::fs::read(path)
            .await
            .map_err(|e| failed(e.to_string()));
    }
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt))).await;
        }
        match client.get(from).send().await {
            Ok(response) if response.status().is_success() => {
                return response
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .map_err(|e| failed(e.to_string()));
            }
            Ok(response) if response.status().is_server_error() || response.status() == 429 => {
                last = format!("the server answered {}", response.status());
            }
            Ok(response) => {
                return Err(failed(format!("the server answered {}", response.status())));
            }
            Err(e) => last = error_chain(&e),
        }
    }
    Err(failed(last))
}

/// The source's manifests, as `(name, text)` pairs: from the cache for URLs (never
/// downloaded here), from disk for paths.
pub fn load(source: &Source, cache: &Cache) -> Result<Vec<(String, String)>, SourceError> {
    match source {
        Source::Url { url, sha256 } => match cache.read(sha256)? {
            Some(bytes) => Ok(vec![(url.clone(), text(url, bytes)?)]),
            None => match cache.index().get(url) {
                Some(actual) if actual != sha256 => Err(SourceError::Mismatch {
                    what: url.clone(),
                    expected: sha256.clone(),
                    actual: actual.clone(),
                }),
                _ => Err(SourceError::NotFetched { url: url.clone() }),
            },
        },
        Source::Path { path, sha256 } => {
            let files = files_of(path)?;
            let mut all = Vec::new();
            let mut texts = Vec::new();
            for file in files {
                let bytes = std::fs::read(&file).map_err(|e| io(&file, e))?;
                all.extend_from_slice(&bytes);
                let name = file.display().to_string();
                texts.push((name.clone(), text(&name, bytes)?));
            }
            if let Some(expected) = sha256 {
                let actual = sha256_hex(&all);
                if actual != *expected {
                    return Err(SourceError::Mismatch {
                        what: path.display().to_string(),
                        expected: expected.clone(),
                        actual,
                    });
                }
            }
            Ok(texts)
        }
    }
}

fn text(name: &str, bytes: Vec<u8>) -> Result<String, SourceError> {
    String::from_utf8(bytes).map_err(|_| SourceError::Invalid(format!("{name} is not UTF-8 text")))
}

fn files_of(path: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| io(path, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(SourceError::Io {
            path: path.display().to_string(),
            message: "the directory holds no *.yaml or *.yml file".into(),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fetched_once_verified_and_read_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let upstream = dir.path().join("upstream.yaml");
        let body = b"apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n";
        std::fs::write(&upstream, body).unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let url = format!("file://{}", upstream.display());
        let good = Source::Url {
            url: url.clone(),
            sha256: sha256_hex(body),
        };
        assert!(matches!(
            load(&good, &cache),
            Err(SourceError::NotFetched { .. })
        ));
        assert!(matches!(
            fetch(&good, &cache, None).await.unwrap(),
            Fetched::Downloaded { .. }
        ));
        assert_eq!(
            fetch(&good, &cache, None).await.unwrap(),
            Fetched::AlreadyCached
        );
        // Upstream goes away: the cache still serves.
        std::fs::remove_file(&upstream).unwrap();
        assert_eq!(load(&good, &cache).unwrap()[0].1.as_bytes(), body);

        // A wrong pin names both hashes, at init and again when planned.
        std::fs::write(&upstream, b"changed").unwrap();
        let wrong = Source::Url {
            url,
            sha256: "0".repeat(64),
        };
        let err = fetch(&wrong, &cache, None).await.unwrap_err();
        let expected = format!(
            "the configuration says {}, the content has {}",
            "0".repeat(64),
            sha256_hex(b"changed")
        );
        assert!(err.to_string().contains(&expected), "{err}");
        assert!(
            load(&wrong, &cache)
                .unwrap_err()
                .to_string()
                .contains(&expected)
        );

        // A mirror laid out like the cache replaces the URL.
        let mirror = dir.path().join("mirror");
        assert_eq!(cache.export(&mirror).unwrap(), 1);
        let elsewhere = Cache::new(dir.path().join("other"));
        let gone = Source::Url {
            url: "https://unreachable.invalid/x.yaml".into(),
            sha256: sha256_hex(body),
        };
        assert!(matches!(
            fetch(&gone, &elsewhere, Some(&mirror.display().to_string()))
                .await
                .unwrap(),
            Fetched::Downloaded { .. }
        ));
    }

    #[test]
    fn directories_read_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), "b").unwrap();
        std::fs::write(dir.path().join("a.yml"), "a").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let source = Source::Path {
            path: dir.path().to_path_buf(),
            sha256: Some(sha256_hex(b"ab")),
        };
        let texts = load(&source, &cache).unwrap();
        assert_eq!(
            texts.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }
}
