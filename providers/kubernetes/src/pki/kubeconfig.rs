//! Kubeconfig files with embedded credentials, shaped like the ones kubeadm writes (same
//! keys in the same order), so `kubectl --kubeconfig` and operators' scripts read them as
//! they read kubeadm's.
//!
//! Naming rule, so that a whole fleet's kubeconfigs merge (`KUBECONFIG=a:b`, where kubectl
//! keeps the first entry of each name): the cluster entry is the cluster's name
//! (`clinic`); the user entry and the context are both `USER@CLUSTER`
//! (`kubernetes-admin@clinic`, `system:node:cp-1@clinic`), kubeadm's context name. Names
//! are unique per cluster as long as cluster names are unique in the fleet. The
//! certificates keep kubeadm's identities (`CN=kubernetes-admin`): only the entries'
//! names carry the cluster.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use super::PkiError;

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig {
    #[serde(rename = "apiVersion")]
    api_version: String,
    clusters: Vec<NamedCluster>,
    contexts: Vec<NamedContext>,
    current_context: String,
    kind: String,
    preferences: Preferences,
    users: Vec<NamedUser>,
}

#[derive(Debug, Default, Serialize)]
struct Preferences {}

#[derive(Debug, Serialize)]
struct NamedCluster {
    cluster: Cluster,
    name: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    certificate_authority_data: String,
    server: String,
}

#[derive(Debug, Serialize)]
struct NamedContext {
    context: Context,
    name: String,
}

#[derive(Debug, Serialize)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Debug, Serialize)]
struct NamedUser {
    name: String,
    user: User,
}

#[derive(Debug, Serialize)]
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
    let context = entry_name(credentials.user, credentials.cluster_name);
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
                user: context.clone(),
            },
            name: context.clone(),
        }],
        current_context: context.clone(),
        kind: "Config".into(),
        preferences: Preferences {},
        users: vec![NamedUser {
            name: context,
            user: User {
                client_certificate_data: STANDARD.encode(credentials.cert_pem),
                client_key_data: STANDARD.encode(credentials.key_pem),
            },
        }],
    };
    serde_yaml_ng::to_string(&config).map_err(|e| PkiError::Kubeconfig(e.to_string()))
}

/// The name of a user's entry and context in a cluster's kubeconfig: `USER@CLUSTER`.
pub fn entry_name(user: &str, cluster_name: &str) -> String {
    format!("{user}@{cluster_name}")
}

/// The client certificate (PEM) of the current context's user, for reading its expiry.
pub(super) fn client_certificate(yaml: &str) -> Result<String, PkiError> {
    let invalid = |reason: String| PkiError::Kubeconfig(reason);
    let config = kube::config::Kubeconfig::from_yaml(yaml)
        .map_err(|e| invalid(format!("not a kubeconfig: {e}")))?;
    let current = config
        .current_context
        .as_deref()
        .ok_or_else(|| invalid("no current-context".into()))?;
    let user = config
        .contexts
        .iter()
        .find(|named| named.name == current)
        .and_then(|named| named.context.as_ref())
        .and_then(|context| context.user.clone())
        .ok_or_else(|| invalid(format!("no context named {current:?}")))?;
    let data = config
        .auth_infos
        .iter()
        .find(|named| named.name == user)
        .and_then(|named| named.auth_info.as_ref())
        .and_then(|auth| auth.client_certificate_data.clone())
        .ok_or_else(|| invalid(format!("no embedded client certificate for user {user:?}")))?;
    let pem = STANDARD
        .decode(data)
        .map_err(|e| invalid(format!("client-certificate-data is not base64: {e}")))?;
    String::from_utf8(pem).map_err(|_| invalid("client-certificate-data is not PEM".into()))
}
