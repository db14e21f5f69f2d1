//! What connects a cluster's Arc agents to Azure, as `az connectedk8s connect` sets it
//! up: an RSA key pair whose public half is the resource's `agentPublicKeyCertificate`
//! (base64 DER, PKCS#1) and whose private half lives only in the cluster (Secret
//! `azure-arc-connect-privatekey` in namespace `azure-arc`); the connection
//! configuration (ConfigMap `azure-clusterconfig`: subscription, resource group, name,
//! region, tenant, cloud, proxy); and the agent workloads from an agent bundle, a
//! multi-document manifest fetched once by URL (https, http or file), checked against its
//! pinned SHA-256 and kept in a cache by digest, so that air-gapped sites use a mirror.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use fleetform_sdk::ProviderError;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The namespace of the Arc agents.
pub const NAMESPACE: &str = "azure-arc";
/// The Secret holding the agent's private key.
pub const KEY_SECRET: &str = "azure-arc-connect-privatekey";
/// The ConfigMap holding the connection configuration.
pub const CONFIG_MAP: &str = "azure-clusterconfig";

/// The agent key pair.
pub struct AgentKey {
    /// `agentPublicKeyCertificate`: base64 of the DER PKCS#1 public key.
    pub public_b64: String,
    /// The private key, PKCS#1 PEM.
    pub private_pem: String,
}

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKey")
            .field("public_b64", &self.public_b64)
            .finish_non_exhaustive()
    }
}

/// A fresh 4096-bit RSA key pair, as `az connectedk8s connect` makes.
pub async fn generate_key() -> Result<AgentKey, ProviderError> {
    tokio::task::spawn_blocking(|| {
        let fail = |e: openssl::error::ErrorStack| {
            ProviderError::permanent(format!("cannot generate the agent key: {e}"))
        };
        let rsa = openssl::rsa::Rsa::generate(4096).map_err(fail)?;
        let public = rsa.public_key_to_der_pkcs1().map_err(fail)?;
        let private = rsa.private_key_to_pem().map_err(fail)?;
        Ok(AgentKey {
            public_b64: base64::engine::general_purpose::STANDARD.encode(public),
            private_pem: String::from_utf8(private)
                .map_err(|e| ProviderError::permanent(format!("agent key: {e}")))?,
        })
    })
    .await
    .map_err(|e| ProviderError::permanent(format!("agent key generation stopped: {e}")))?
}

/// Where a connected cluster lives in Azure, for the agents' configuration.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// Connected cluster name.
    pub name: String,
    /// Azure region.
    pub location: String,
    /// Tenant of the cluster's identity.
    pub tenant: String,
    /// The cloud's name.
    pub cloud: String,
    /// Resource Manager's URL.
    pub resource_manager: String,
    /// Kubernetes distribution reported to Azure.
    pub distribution: String,
    /// Infrastructure reported to Azure.
    pub infrastructure: String,
    /// Proxy settings for the agents' outbound connections.
    pub proxy: Option<Proxy>,
}

/// The agents' outbound proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxy {
    /// `HTTPS_PROXY`.
    pub https: Option<String>,
    /// `HTTP_PROXY`.
    pub http: Option<String>,
    /// `NO_PROXY`.
    pub no_proxy: Option<String>,
    /// The proxy's CA certificate (PEM).
    pub ca_certificate: Option<String>,
}

fn labels() -> Value {
    json!({"app.kubernetes.io/managed-by": "fleetform", "app.kubernetes.io/part-of": "azure-arc"})
}

/// The agents' namespace.
pub fn namespace() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": labels()},
    })
}

/// The Secret with the agent's private key (in `data`, base64, the form the API server
/// stores; `stringData` is a write-only convenience that not every server converts).
pub fn key_secret(private_pem: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": KEY_SECRET, "namespace": NAMESPACE, "labels": labels()},
        "type": "Opaque",
        "data": {"privateKey": base64::engine::general_purpose::STANDARD.encode(private_pem)},
    })
}

/// The ConfigMap with the connection configuration.
pub fn cluster_config(connection: &Connection) -> Value {
    let mut data = json!({
        "AZURE_SUBSCRIPTION_ID": connection.subscription,
        "AZURE_RESOURCE_GROUP": connection.resource_group,
        "AZURE_RESOURCE_NAME": connection.name,
        "AZURE_REGION": connection.location,
        "AZURE_TENANT_ID": connection.tenant,
        "AZURE_ENVIRONMENT": connection.cloud,
        "AZURE_ARM_ENDPOINT": connection.resource_manager,
        "CLUSTER_TYPE": "ConnectedClusters",
        "KUBERNETES_DISTRO": connection.distribution,
        "KUBERNETES_INFRA": connection.infrastructure,
    });
    if let Some(proxy) = &connection.proxy {
        for (key, value) in [
            ("HTTPS_PROXY", &proxy.https),
            ("HTTP_PROXY", &proxy.http),
            ("NO_PROXY", &proxy.no_proxy),
            ("PROXY_CA_CERTIFICATE", &proxy.ca_certificate),
        ] {
            if let Some(value) = value {
                data[key] = json!(value);
            }
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG_MAP, "namespace": NAMESPACE, "labels": labels()},
        "data": data,
    })
}

/// An agent bundle: where it is and the SHA-256 it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// `https://`, `http://` or `file://` URL, or a path.
    pub url: String,
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bundle's objects: from the cache when its digest is there, else fetched, checked
/// and cached (0644, written atomically).
pub async fn bundle_objects(
    http: &reqwest::Client,
    bundle: &Bundle,
    cache_dir: &Path,
) -> Result<Vec<Value>, ProviderError> {
    let expected = bundle.sha256.to_ascii_lowercase();
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ProviderError::permanent(format!(
            "agent_bundle.sha256 {:?} is not a SHA-256 in hex",
            bundle.sha256
        )));
    }
    let cached = cache_dir.join(format!("{expected}.yaml"));
    let bytes = match tokio::fs::read(&cached).await {
        Ok(bytes) if sha256_hex(&bytes) == expected => {
            tracing::debug!(bundle = %bundle.url, cache = %cached.display(), "agent bundle from the cache");
            bytes
        }
        _ => {
            let bytes = fetch(http, &bundle.url).await?;
            let actual = sha256_hex(&bytes);
            if actual != expected {
                return Err(ProviderError::permanent(format!(
                    "agent bundle {} has SHA-256 {actual}, not the pinned {expected}",
                    bundle.url
                )));
            }
            store(&cached, &bytes).await;
            bytes
        }
    };
    parse_manifests(&bytes)
        .map_err(|e| ProviderError::permanent(format!("agent bundle {}: {e}", bundle.url)))
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, ProviderError> {
    let path = url
        .strip_prefix("file://")
        .map(PathBuf::from)
        .or_else(|| (!url.contains("://")).then(|| PathBuf::from(url)));
    if let Some(path) = path {
        return tokio::fs::read(&path).await.map_err(|e| {
            ProviderError::permanent(format!("agent bundle {}: {e}", path.display()))
        });
    }
    tracing::debug!(bundle = %url, "fetching the agent bundle");
    let response = http.get(url).send().await.map_err(|e| {
        ProviderError::transient(format!(
            "agent bundle {url}: {}",
            fleetform_azure::client::describe_reqwest(&e)
        ))
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(ProviderError::permanent(format!(
            "agent bundle {url}: the server answered {status}"
        )));
    }
    Ok(response
        .bytes()
        .await
        .map_err(|e| ProviderError::transient(format!("agent bundle {url}: {e}")))?
        .to_vec())
}

/// Keeps a verified bundle; a cache that cannot be written only costs a fetch next time.
async fn store(path: &Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let written = async {
        tokio::fs::create_dir_all(dir).await?;
        tokio::fs::write(&temporary, bytes).await?;
        tokio::fs::rename(&temporary, path).await
    };
    if let Err(e) = written.await {
        tracing::debug!(cache = %path.display(), "agent bundle not cached: {e}");
        let _ = tokio::fs::remove_file(&temporary).await;
    }
}

/// The objects of a multi-document YAML manifest (empty documents skipped).
pub fn parse_manifests(bytes: &[u8]) -> Result<Vec<Value>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut objects = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        let value: Value = serde::Deserialize::deserialize(document).map_err(|e| e.to_string())?;
        match value {
            Value::Null => {}
            Value::Object(_) if value["kind"].is_string() && value["apiVersion"].is_string() => {
                objects.push(value)
            }
            other => {
                return Err(format!(
                    "a document is not a Kubernetes object: {}",
                    other.to_string().chars().take(80).collect::<String>()
                ));
            }
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_key_pair_is_what_azure_and_the_agents_expect() {
        let key = generate_key().await.unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&key.public_b64)
            .unwrap();
        let public = openssl::rsa::Rsa::public_key_from_der_pkcs1(&der).unwrap();
        let private = openssl::rsa::Rsa::private_key_from_pem(key.private_pem.as_bytes()).unwrap();
        assert_eq!(public.n(), private.n());
        assert_eq!(private.size() * 8, 4096);
        assert!(!format!("{key:?}").contains("PRIVATE"));
        let secret = key_secret(&key.private_pem);
        assert_eq!(secret["metadata"]["namespace"], NAMESPACE);
    }

    #[tokio::test]
    async fn bundles_are_checked_against_their_digest_and_cached() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: config-agent\n---\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: azure-arc-operator\n";
        let source = dir.path().join("agents.yaml");
        std::fs::write(&source, manifest).unwrap();
        let bundle = Bundle {
            url: format!("file://{}", source.display()),
            sha256: sha256_hex(manifest),
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let cache = dir.path().join("cache");
        let objects = bundle_objects(&http, &bundle, &cache).await.unwrap();
        assert_eq!(objects.len(), 2);
        assert!(cache.join(format!("{}.yaml", bundle.sha256)).is_file());
        std::fs::remove_file(&source).unwrap();
        assert_eq!(
            bundle_objects(&http, &bundle, &cache).await.unwrap().len(),
            2,
            "from the cache"
        );
        let wrong = Bundle {
            sha256: "0".repeat(64),
            ..bundle
        };
        std::fs::write(&source, manifest).unwrap();
        let e = bundle_objects(&http, &wrong, &cache).await.unwrap_err();
        assert!(e.message.contains("not the pinned"), "{e}");
    }
}
