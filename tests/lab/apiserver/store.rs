//! Where objects live: etcd v3 (through its JSON gRPC gateway, as several API servers of
//! one cluster share it) or memory (one server, for fast tests). Both offer the few
//! operations kube-apiserver's storage layer uses: reads with revisions, and writes guarded
//! by a compare on a key's create or mod revision.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

/// One key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
}

/// What a write requires of the key's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// The key must not exist (create).
    Absent,
    /// The key must exist with this mod revision (update).
    ModRevision(i64),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The precondition did not hold; `current` is the key as it is now.
    #[error("precondition failed")]
    PreconditionFailed { current: Option<Stored> },
    #[error("{0}")]
    Unavailable(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, key: &str) -> StoreResult<Option<Stored>>;
    /// Every key under `prefix`, in key order, and the store's revision at the time.
    async fn list(&self, prefix: &str) -> StoreResult<(Vec<Stored>, i64)>;
    /// Writes `value` if `precondition` holds; returns the new mod revision.
    async fn put(&self, key: &str, value: Vec<u8>, precondition: Precondition) -> StoreResult<i64>;
    /// Deletes the key if it exists (and has mod revision `expected`, when given); returns
    /// what was deleted, `None` when nothing was there.
    async fn delete(&self, key: &str, expected: Option<i64>) -> StoreResult<Option<Stored>>;
    /// Whether the store answers: a read of one key.
    async fn check(&self) -> StoreResult<()>;
}

/// One API server's private store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    revision: i64,
    keys: BTreeMap<String, Stored>,
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Stored>> {
        Ok(self
            .state
            .lock()
            .expect("memory store")
            .keys
            .get(key)
            .cloned())
    }

    async fn list(&self, prefix: &str) -> StoreResult<(Vec<Stored>, i64)> {
        let state = self.state.lock().expect("memory store");
        let items = state
            .keys
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        Ok((items, state.revision.max(1)))
    }

    async fn put(&self, key: &str, value: Vec<u8>, precondition: Precondition) -> StoreResult<i64> {
        let mut state = self.state.lock().expect("memory store");
        let current = state.keys.get(key).cloned();
        let holds = match (precondition, &current) {
            (Precondition::Absent, None) => true,
            (Precondition::ModRevision(rev), Some(c)) => c.mod_revision == rev,
            _ => false,
        };
        if !holds {
            return Err(StoreError::PreconditionFailed { current });
        }
        state.revision += 1;
        let revision = state.revision;
        let create_revision = current.map_or(revision, |c| c.create_revision);
        state.keys.insert(
            key.to_owned(),
            Stored {
                key: key.to_owned(),
                value,
                create_revision,
                mod_revision: revision,
            },
        );
        Ok(revision)
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> StoreResult<Option<Stored>> {
        let mut state = self.state.lock().expect("memory store");
        match (state.keys.get(key), expected) {
            (None, None) => return Ok(None),
            (Some(current), Some(rev)) if current.mod_revision != rev => {
                return Err(StoreError::PreconditionFailed {
                    current: Some(current.clone()),
                });
            }
            (None, Some(_)) => return Err(StoreError::PreconditionFailed { current: None }),
            _ => {}
        }
        state.revision += 1;
        Ok(state.keys.remove(key))
    }

    async fn check(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// Where the etcd client's files are.
#[derive(Debug, Clone)]
pub struct EtcdTls<'a> {
    pub ca_file: Option<&'a Path>,
    pub cert_file: Option<&'a Path>,
    pub key_file: Option<&'a Path>,
}

/// etcd v3 through its JSON gateway (`POST /v3/kv/...`), over mutual TLS with the API
/// server's etcd client certificate. Requests go to the endpoint that last answered and
/// move on to the next one when it does not.
pub struct EtcdStore {
    endpoints: Vec<String>,
    preferred: AtomicUsize,
    http: reqwest::Client,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// How long one etcd request may take, so that an unreachable member fails over before
/// clients give up.
const ETCD_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

impl EtcdStore {
    pub fn new(endpoints: Vec<String>, tls: &EtcdTls<'_>) -> Result<EtcdStore, String> {
        if endpoints.is_empty() {
            return Err("no etcd servers".into());
        }
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| format!("etcd TLS file {}: {e}", path.display()))
        };
        let mut builder = reqwest::Client::builder()
            .timeout(ETCD_REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(30));
        if let Some(ca) = tls.ca_file {
            let ca = reqwest::Certificate::from_pem(&read(ca)?)
                .map_err(|e| format!("etcd CA {}: {e}", ca.display()))?;
            // The etcd CA and nothing else: a certificate from any other CA is not etcd.
            builder = builder.tls_certs_only([ca]);
        }
        match (tls.cert_file, tls.key_file) {
            (Some(cert), Some(key)) => {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                    format!(
                        "etcd client certificate {} / key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => return Err("--etcd-certfile and --etcd-keyfile go together".into()),
        }
        let http = builder.build().map_err(|e| format!("etcd client: {e}"))?;
        Ok(EtcdStore {
            endpoints,
            preferred: AtomicUsize::new(0),
            http,
        })
    }

    /// One etcd call, retried for a few seconds while the members are electing a leader
    /// (as kube-apiserver's etcd client does), then failed with every member's answer.
    async fn call(&self, method: &str, body: Value) -> StoreResult<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match self.call_once(method, &body).await {
                Err(StoreError::Unavailable(why))
                    if (why.contains("leader changed") || why.contains("no leader"))
                        && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                answer => return answer,
            }
        }
    }

    async fn call_once(&self, method: &str, body: &Value) -> StoreResult<Value> {
        let start = self.preferred.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for offset in 0..self.endpoints.len() {
            let index = (start + offset) % self.endpoints.len();
            let endpoint = &self.endpoints[index];
            let url = format!("{endpoint}/v3/kv/{method}");
            let response = match self.http.post(&url).json(body).send().await {
                Ok(response) => response,
                Err(e) => {
                    failures.push(format!("{endpoint}: {}", error_chain(&e)));
                    continue;
                }
            };
            let status = response.status();
            let text = match response.text().await {
                Ok(text) => text,
                Err(e) => {
                    failures.push(format!("{endpoint}: {}", error_chain(&e)));
                    continue;
                }
            };
            if !status.is_success() {
                // A member without a leader answers with an error; another may have one.
                failures.push(format!("{endpoint}: {status}: {}", text.trim()));
                continue;
            }
            self.preferred.store(index, Ordering::Relaxed);
            return serde_json::from_str(&text).map_err(|e| {
                StoreError::Unavailable(format!("{endpoint}: unreadable answer ({e}): {text}"))
            });
        }
        Err(StoreError::Unavailable(format!(
            "etcd did not answer: {}",
            failures.join("; ")
        )))
    }

    async fn txn(&self, compare: Value, success: Value, key: &str) -> StoreResult<Value> {
        let answer = self
            .call(
                "txn",
                json!({
                    "compare": [compare],
                    "success": [success],
                    "failure": [{"request_range": {"key": BASE64.encode(key)}}],
                }),
            )
            .await?;
        if answer["succeeded"].as_bool() == Some(true) {
            return Ok(answer);
        }
        let current = answer["responses"][0]["response_range"]["kvs"]
            .as_array()
            .and_then(|kvs| kvs.first())
            .map(decode_kv)
            .transpose()?;
        Err(StoreError::PreconditionFailed { current })
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// int64 fields come as strings in the gateway's JSON and are left out when zero.
fn int(value: &Value) -> i64 {
    match value {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn decode_kv(kv: &Value) -> StoreResult<Stored> {
    let bytes = |field: &str| {
        BASE64
            .decode(kv[field].as_str().unwrap_or(""))
            .map_err(|e| StoreError::Unavailable(format!("etcd sent invalid base64: {e}")))
    };
    Ok(Stored {
        key: String::from_utf8_lossy(&bytes("key")?).into_owned(),
        value: bytes("value")?,
        create_revision: int(&kv["create_revision"]),
        mod_revision: int(&kv["mod_revision"]),
    })
}

/// The end of the range holding every key that starts with `prefix`.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte 0xff: the range reaches the end of the keyspace.
    vec![0]
}

#[async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Stored>> {
        let answer = self
            .call("range", json!({"key": BASE64.encode(key)}))
            .await?;
        answer["kvs"]
            .as_array()
            .and_then(|kvs| kvs.first())
            .map(decode_kv)
            .transpose()
    }

    async fn list(&self, prefix: &str) -> StoreResult<(Vec<Stored>, i64)> {
        let answer = self
            .call(
                "range",
                json!({
                    "key": BASE64.encode(prefix),
                    "range_end": BASE64.encode(prefix_end(prefix)),
                }),
            )
            .await?;
        let items = answer["kvs"]
            .as_array()
            .map(|kvs| kvs.iter().map(decode_kv).collect::<StoreResult<Vec<_>>>())
            .transpose()?
            .unwrap_or_default();
        Ok((items, int(&answer["header"]["revision"])))
    }

    async fn put(&self, key: &str, value: Vec<u8>, precondition: Precondition) -> StoreResult<i64> {
        let encoded_key = BASE64.encode(key);
        let compare = match precondition {
            Precondition::Absent => json!({
                "key": encoded_key, "result": "EQUAL", "target": "CREATE", "create_revision": "0",
            }),
            Precondition::ModRevision(rev) => json!({
                "key": encoded_key, "result": "EQUAL", "target": "MOD", "mod_revision": rev.to_string(),
            }),
        };
        let success = json!({"request_put": {"key": encoded_key, "value": BASE64.encode(value)}});
        let answer = self.txn(compare, success, key).await?;
        Ok(int(&answer["header"]["revision"]))
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> StoreResult<Option<Stored>> {
        let encoded_key = BASE64.encode(key);
        let request = json!({"key": encoded_key, "prev_kv": true});
        let answer = match expected {
            None => self.call("deleterange", request).await?,
            Some(rev) => {
                let compare = json!({
                    "key": encoded_key, "result": "EQUAL", "target": "MOD", "mod_revision": rev.to_string(),
                });
                let answer = self
                    .txn(compare, json!({"request_delete_range": request}), key)
                    .await?;
                answer["responses"][0]["response_delete_range"].clone()
            }
        };
        answer["prev_kvs"]
            .as_array()
            .and_then(|kvs| kvs.first())
            .map(decode_kv)
            .transpose()
    }

    async fn check(&self) -> StoreResult<()> {
        self.call(
            "range",
            json!({"key": BASE64.encode("/registry/health"), "limit": 1}),
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges() {
        assert_eq!(prefix_end("/registry/nodes/"), b"/registry/nodes0");
        assert_eq!(prefix_end("a\u{7f}"), [b'a', 0x80]);
    }

    #[tokio::test]
    async fn memory_store_guards_writes() {
        let store = MemoryStore::default();
        let rev = store
            .put("/k", b"1".to_vec(), Precondition::Absent)
            .await
            .unwrap();
        assert!(matches!(
            store.put("/k", b"2".to_vec(), Precondition::Absent).await,
            Err(StoreError::PreconditionFailed { current: Some(_) })
        ));
        assert!(matches!(
            store
                .put("/k", b"2".to_vec(), Precondition::ModRevision(rev + 7))
                .await,
            Err(StoreError::PreconditionFailed { .. })
        ));
        let rev2 = store
            .put("/k", b"2".to_vec(), Precondition::ModRevision(rev))
            .await
            .unwrap();
        assert!(rev2 > rev);
        let (items, _) = store.list("/").await.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].create_revision, rev);
        assert_eq!(store.delete("/k", None).await.unwrap().unwrap().value, b"2");
        assert!(store.delete("/k", None).await.unwrap().is_none());
    }
}
