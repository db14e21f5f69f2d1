//! The `provider "arc" {}` block: the Azure subscription and credentials (azurerm's
//! attributes, each falling back to the ARM_* variable azurerm reads), the cloud and its
//! endpoints (overridable one by one, as the lab needs), and the provider's policies:
//! deferring work for sites that cannot be reached, and the deadlines every plan checks.

use std::path::PathBuf;
use std::time::Duration;

use fleetform_azure::{AuthConfig, CloudConfig, Secret};
use fleetform_sdk::{Attribute, Block, ProviderError, Type, Value, parse_duration};

use crate::deadlines::Deadlines;

/// The schema of the `provider "arc" {}` block.
pub fn schema() -> Block {
    let text = |description: &str| Attribute::optional(Type::String).describe(description);
    let secret = |description: &str| {
        Attribute::optional(Type::String)
            .sensitive()
            .describe(description)
    };
    let flag = |description: &str| Attribute::optional(Type::Bool).describe(description);
    Block::new()
        .describe("Azure credentials and endpoints for Arc; unset values come from the ARM_* environment variables, as in azurerm.")
        .attr("subscription_id", text("Azure subscription id; defaults to ARM_SUBSCRIPTION_ID."))
        .attr("tenant_id", text("Entra ID tenant id; defaults to ARM_TENANT_ID."))
        .attr("client_id", text("Service principal application (client) id, or a user-assigned identity's; defaults to ARM_CLIENT_ID."))
        .attr("client_secret", secret("Service principal client secret; defaults to ARM_CLIENT_SECRET."))
        .attr("client_certificate_path", text("PKCS#12 (.pfx) file with the service principal's certificate and key; defaults to ARM_CLIENT_CERTIFICATE_PATH."))
        .attr("client_certificate", secret("The same PKCS#12 data, base64-encoded; defaults to ARM_CLIENT_CERTIFICATE."))
        .attr("client_certificate_password", secret("Password of the PKCS#12 data; defaults to ARM_CLIENT_CERTIFICATE_PASSWORD."))
        .attr("use_oidc", flag("Authenticate with a federated (workload identity) token; defaults to ARM_USE_OIDC."))
        .attr("oidc_token", secret("The federated token; defaults to ARM_OIDC_TOKEN."))
        .attr("oidc_token_file_path", text("File holding the federated token, read again for each new access token; defaults to ARM_OIDC_TOKEN_FILE_PATH or AZURE_FEDERATED_TOKEN_FILE."))
        .attr("oidc_request_url", text("The pipeline's token request URL; defaults to ARM_OIDC_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_URL (GitHub Actions) or SYSTEM_OIDCREQUESTURI (Azure Pipelines)."))
        .attr("oidc_request_token", secret("Bearer token for the request URL; defaults to ARM_OIDC_REQUEST_TOKEN, ACTIONS_ID_TOKEN_REQUEST_TOKEN or SYSTEM_ACCESSTOKEN."))
        .attr("ado_pipeline_service_connection_id", text("Azure Pipelines service connection to request the token for; defaults to ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID or ARM_OIDC_AZURE_SERVICE_CONNECTION_ID."))
        .attr("use_msi", flag("Authenticate as the machine's managed identity; defaults to ARM_USE_MSI."))
        .attr("msi_endpoint", text("Managed identity token endpoint (default the Instance Metadata Service); defaults to ARM_MSI_ENDPOINT."))
        .attr("use_cli", flag("Fall back to the Azure CLI's login (default true); defaults to ARM_USE_CLI."))
        .attr("environment", text("Cloud: \"public\" (default), \"china\" or \"usgovernment\", or a cloud the metadata host describes; defaults to ARM_ENVIRONMENT."))
        .attr("metadata_host", text("Host serving the cloud's endpoints at /metadata/endpoints (Azure Stack Hub); defaults to ARM_METADATA_HOSTNAME."))
        .attr(
            "resource_manager_endpoint",
            Attribute::optional_computed(Type::String).describe(
                "Azure Resource Manager URL, overriding the cloud's (default \"https://management.azure.com\").",
            ),
        )
        .attr(
            "authority_host",
            Attribute::optional_computed(Type::String).describe(
                "Entra ID authority that issues tokens, overriding the cloud's (default \"https://login.microsoftonline.com\").",
            ),
        )
        .attr("ca_certificate_file", text("PEM file of CA certificates to trust for Azure's endpoints besides the system's (a private cloud's CA); TLS is always verified."))
        .attr(
            "defer_when_offline",
            flag("When a site's cluster cannot be reached, do the Azure side, record the in-cluster side as deferred in state and finish it at the next apply that reaches the site, instead of failing (default true)."),
        )
        .attr("identity_certificate_warning", text("Warn when a cluster's Arc identity certificate expires within this long, e.g. \"720h\" (default, 30 days)."))
        .attr("offline_warning", text("Warn when a cluster has not been seen by Azure for this long, e.g. \"24h\" (default)."))
        .attr("latest_agent_version", text("The newest Arc agent release you know of, e.g. \"1.21.10\"; agents more than two minor releases behind are outside Arc's support window and plans say so."))
        .attr("operation_timeout", text("Longest wait for one Azure long-running operation, e.g. \"25m\" (default)."))
        .attr("cache_dir", text("Where downloaded agent bundles are kept, by digest (default \".fleetform/cache/arc\")."))
}

/// The provider block read into settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The subscription resources live in.
    pub subscription_id: Option<String>,
    /// Who we are.
    pub auth: AuthConfig,
    /// Which cloud.
    pub cloud: CloudConfig,
    /// Extra trust for Azure's endpoints (PEM).
    pub ca_certificate_file: Option<PathBuf>,
    /// Defer the in-cluster side of unreachable sites.
    pub defer_when_offline: bool,
    /// The deadlines plans warn about.
    pub deadlines: Deadlines,
    /// The longest one long-running operation is followed.
    pub operation_timeout: Duration,
    /// Agent bundle cache.
    pub cache_dir: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            subscription_id: None,
            auth: AuthConfig::default(),
            cloud: CloudConfig::default(),
            ca_certificate_file: None,
            defer_when_offline: true,
            deadlines: Deadlines::default(),
            operation_timeout: Duration::from_secs(25 * 60),
            cache_dir: PathBuf::from(".fleetform/cache/arc"),
        }
    }
}

impl Settings {
    /// Reads the provider block, each unset attribute falling back to its ARM_* variable.
    pub fn from_config(config: &Value) -> Result<Settings, ProviderError> {
        let text = |name: &str| config.get(name).as_str().map(str::to_owned);
        let secret = |name: &str| text(name).map(Secret::new);
        let flag = |name: &str| config.get(name).as_bool();
        let duration = |name: &str, default: Duration| -> Result<Duration, ProviderError> {
            match text(name) {
                Some(t) => {
                    parse_duration(&t).map_err(|e| ProviderError::permanent(format!("{name}: {e}")))
                }
                None => Ok(default),
            }
        };
        let env = AuthConfig::from_env();
        let auth = AuthConfig {
            tenant_id: text("tenant_id").or(env.tenant_id),
            client_id: text("client_id").or(env.client_id),
            client_secret: secret("client_secret").or(env.client_secret),
            client_certificate_path: text("client_certificate_path")
                .map(PathBuf::from)
                .or(env.client_certificate_path),
            client_certificate: secret("client_certificate").or(env.client_certificate),
            client_certificate_password: secret("client_certificate_password")
                .or(env.client_certificate_password),
            use_oidc: flag("use_oidc").unwrap_or(env.use_oidc),
            oidc_token: secret("oidc_token").or(env.oidc_token),
            oidc_token_file_path: text("oidc_token_file_path")
                .map(PathBuf::from)
                .or(env.oidc_token_file_path),
            oidc_request_url: text("oidc_request_url").or(env.oidc_request_url),
            oidc_request_token: secret("oidc_request_token").or(env.oidc_request_token),
            ado_pipeline_service_connection_id: text("ado_pipeline_service_connection_id")
                .or(env.ado_pipeline_service_connection_id),
            use_msi: flag("use_msi").unwrap_or(env.use_msi),
            msi_endpoint: text("msi_endpoint").or(env.msi_endpoint),
            use_cli: flag("use_cli").unwrap_or(env.use_cli),
        };
        let env_cloud = CloudConfig::from_env();
        let cloud = CloudConfig {
            environment: text("environment").or(env_cloud.environment),
            metadata_host: text("metadata_host").or(env_cloud.metadata_host),
            resource_manager_endpoint: text("resource_manager_endpoint"),
            authority_host: text("authority_host"),
        };
        let defaults = Deadlines::default();
        Ok(Settings {
            subscription_id: text("subscription_id").or_else(|| {
                std::env::var("ARM_SUBSCRIPTION_ID")
                    .ok()
                    .filter(|s| !s.trim().is_empty())
            }),
            auth,
            cloud,
            ca_certificate_file: text("ca_certificate_file").map(PathBuf::from),
            defer_when_offline: flag("defer_when_offline").unwrap_or(true),
            deadlines: Deadlines {
                identity_certificate_warning: duration(
                    "identity_certificate_warning",
                    defaults.identity_certificate_warning,
                )?,
                offline_warning: duration("offline_warning", defaults.offline_warning)?,
                latest_agent_version: text("latest_agent_version"),
            },
            operation_timeout: duration("operation_timeout", Duration::from_secs(25 * 60))?,
            cache_dir: text("cache_dir")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".fleetform/cache/arc")),
        })
    }
}
