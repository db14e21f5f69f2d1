//! Kubeconfig files with embedded credentials, shaped like the ones kubeadm writes (same
//! keys in the same order, user and context names), so `kubectl --kubeconfig` and
//! operators' scripts read them as they read kubeadm's.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::PkiError;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig {
    #[serde(rename = "apiVersion")]
    api_version: String,
    clusters: Vec<NamedCluster>,
    contexts: Vec<NamedContext>,
    current_context: String,
    kind: String,
    #[serde(default)]
    preferences: Preferences,
    users: Vec<NamedUser>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Preferences {}

#[derive(Debug, Serialize, Deserialize)]
struct NamedCluster {
    cluster: Cluster,
    name: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    certificate_authority_data: String,
    server: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct NamedContext {
    context: Context,
    name: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct NamedUser {
    name: String,
    user: User,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate_data: String,
    client_key_data: String,
}

/// What one kubeconfig holds.
pub(super) struct Credentials<'a> {
    pub cluster_name: &'a str,
    pub server: &'a str,
    pub ca_cert_pem: &'a str,
    pub user: &'a str,
    pub cert_pem: &'a str,
    pub key_pem: &'a str,
}

pub(super) fn render(credentials: &Credentials<'_>) -> Result<String, PkiError> {
    let context = format!("{}@{}", credentials.user, credentials.cluster_name);
    let config = Kubeconfig {
        api_version: "v1".into(),
        clusters: vec![NamedCluster {
            cluster: Cluster {
                certificate_authority_data: STANDARD.encode(credentials.ca_cert_pem),
                server: credentials.server.into(),
            },
            name: credentials.cluster_name.into(),
        }],
        contexts: vec![NamedContext {
            context: Context {
                cluster: credentials.cluster_name.into(),
                user: credentials.user.into(),
            },
            name: context.clone(),
        }],
        current_context: context,
        kind: "Config".into(),
        preferences: Preferences {},
        users: vec![NamedUser {
            name: credentials.user.into(),
            user: User {
                client_certificate_data: STANDARD.encode(credentials.cert_pem),
                client_key_data: STANDARD.encode(credentials.key_pem),
            },
        }],
    };
    serde_yaml_ng::to_string(&config).map_err(|e| PkiError::Kubeconfig(e.to_string()))
}

/// The client certificate (PEM) of the current context's user, for reading its expiry.
pub(super) fn client_certificate(yaml: &str) -> Result<String, PkiError> {
    let invalid = |reason: String| PkiError::Kubeconfig(reason);
    let config: Kubeconfig = serde_yaml_ng::from_str(yaml)
        .map_err(|e| invalid(format!("not a kubeconfig with embedded credentials: {e}")))?;
    let user = config
        .contexts
        .iter()
        .find(|context| context.name == config.current_context)
        .map(|context| context.context.user.as_str())
        .ok_or_else(|| invalid(format!("no context named {:?}", config.current_context)))?;
    let data = config
        .users
        .iter()
        .find(|named| named.name == user)
        .map(|named| named.user.client_certificate_data.as_str())
        .ok_or_else(|| invalid(format!("no user named {user:?}")))?;
    let pem = STANDARD
        .decode(data)
        .map_err(|e| invalid(format!("client-certificate-data is not base64: {e}")))?;
    String::from_utf8(pem).map_err(|_| invalid("client-certificate-data is not PEM".into()))
}
