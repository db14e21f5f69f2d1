//! Azure clouds: where Resource Manager and Entra ID live in each sovereign cloud, chosen
//! by name the way azurerm's `environment` / `ARM_ENVIRONMENT` choose it, or read from an
//! Azure Stack style metadata host (`metadata_host` / `ARM_METADATA_HOSTNAME`), with every
//! endpoint overridable one by one.

use serde::Deserialize;
use url::Url;

use crate::error::AzureError;

/// The endpoints of one Azure cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cloud {
    /// The cloud's name as the metadata names it, e.g. "AzureCloud".
    pub name: String,
    /// Azure Resource Manager, e.g. `https://management.azure.com/`.
    pub resource_manager: Url,
    /// The Entra ID authority that issues tokens, e.g. `https://login.microsoftonline.com/`.
    pub authority_host: Url,
    /// The audience of Resource Manager tokens, e.g. `https://management.azure.com`.
    pub resource_manager_audience: String,
}

/// The clouds `environment` names (azurerm's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Azure public cloud ("public", the default).
    Public,
    /// Azure operated by 21Vianet ("china").
    China,
    /// Azure US Government ("usgovernment").
    UsGovernment,
}

impl Environment {
    /// Reads azurerm's environment names, case-insensitively; `None` for others.
    pub fn parse(name: &str) -> Option<Environment> {
        match name.to_ascii_lowercase().as_str() {
            "public" | "azurecloud" | "azurepubliccloud" => Some(Environment::Public),
            "china" | "azurechinacloud" => Some(Environment::China),
            "usgovernment" | "azureusgovernment" | "azureusgovernmentcloud" => {
                Some(Environment::UsGovernment)
            }
            _ => None,
        }
    }

    /// The name the metadata endpoint gives this cloud.
    pub fn metadata_name(self) -> &'static str {
        match self {
            Environment::Public => "AzureCloud",
            Environment::China => "AzureChinaCloud",
            Environment::UsGovernment => "AzureUSGovernment",
        }
    }

    /// The cloud's well-known endpoints.
    pub fn cloud(self) -> Cloud {
        let (arm, login) = match self {
            Environment::Public => (
                "https://management.azure.com/",
                "https://login.microsoftonline.com/",
            ),
            Environment::China => (
                "https://management.chinacloudapi.cn/",
                "https://login.chinacloudapi.cn/",
            ),
            Environment::UsGovernment => (
                "https://management.usgovcloudapi.net/",
                "https://login.microsoftonline.us/",
            ),
        };
        Cloud {
            name: self.metadata_name().to_owned(),
            resource_manager: Url::parse(arm).expect("constant URL"),
            authority_host: Url::parse(login).expect("constant URL"),
            resource_manager_audience: arm.trim_end_matches('/').to_owned(),
        }
    }
}

/// How to choose the cloud, as the provider block and the environment give it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudConfig {
    /// `environment` / `ARM_ENVIRONMENT`: "public" (default), "china", "usgovernment", or
    /// with a metadata host, the name of one of the clouds it describes.
    pub environment: Option<String>,
    /// `metadata_host` / `ARM_METADATA_HOSTNAME`: a host serving
    /// `/metadata/endpoints?api-version=2022-09-01` (Azure Stack Hub, the lab).
    pub metadata_host: Option<String>,
    /// Overrides Resource Manager's URL.
    pub resource_manager_endpoint: Option<String>,
    /// Overrides the Entra ID authority.
    pub authority_host: Option<String>,
}

impl CloudConfig {
    /// The settings the ARM_* environment variables give.
    pub fn from_env() -> CloudConfig {
        CloudConfig {
            environment: env("ARM_ENVIRONMENT"),
            metadata_host: env("ARM_METADATA_HOSTNAME").or_else(|| env("ARM_METADATA_HOST")),
            resource_manager_endpoint: None,
            authority_host: None,
        }
    }

    /// The cloud without asking a metadata host: an error when one is configured (use
    /// [`CloudConfig::resolve`]) or the environment is not a known name.
    pub fn resolve_offline(&self) -> Result<Cloud, AzureError> {
        let mut cloud = match &self.environment {
            None => Environment::Public.cloud(),
            Some(name) => Environment::parse(name)
                .ok_or_else(|| {
                    AzureError::Config(format!(
                        "unknown Azure environment {name:?}: use \"public\", \"china\" or \"usgovernment\", or a metadata host"
                    ))
                })?
                .cloud(),
        };
        self.apply_overrides(&mut cloud)?;
        Ok(cloud)
    }

    /// The cloud: the named environment's endpoints, or the metadata host's description of
    /// it (fetched with `http`), then the explicit overrides.
    pub async fn resolve(&self, http: &reqwest::Client) -> Result<Cloud, AzureError> {
        let Some(host) = &self.metadata_host else {
            return self.resolve_offline();
        };
        let mut cloud = from_metadata(http, host, self.environment.as_deref()).await?;
        self.apply_overrides(&mut cloud)?;
        Ok(cloud)
    }

    fn apply_overrides(&self, cloud: &mut Cloud) -> Result<(), AzureError> {
        if let Some(url) = &self.resource_manager_endpoint {
            cloud.resource_manager = https_url(url, "resource_manager_endpoint")?;
        }
        if let Some(url) = &self.authority_host {
            cloud.authority_host = https_url(url, "authority_host")?;
        }
        Ok(())
    }
}

/// Reads an https URL, with a trailing slash so that paths join below it.
pub fn https_url(text: &str, what: &str) -> Result<Url, AzureError> {
    let mut url = Url::parse(text)
        .map_err(|e| AzureError::Config(format!("{what}: {text:?} is not a URL: {e}")))?;
    if url.scheme() != "https" {
        return Err(AzureError::Config(format!(
            "{what}: {text:?} must use https"
        )));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// One cloud of the metadata endpoint's answer (the 2022-09-01 shape).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetadataCloud {
    name: String,
    resource_manager: String,
    authentication: MetadataAuthentication,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetadataAuthentication {
    login_endpoint: String,
    audiences: Vec<String>,
}

async fn from_metadata(
    http: &reqwest::Client,
    host: &str,
    environment: Option<&str>,
) -> Result<Cloud, AzureError> {
    let url = format!("https://{host}/metadata/endpoints?api-version=2022-09-01");
    tracing::debug!(%url, "reading the cloud's endpoints from the metadata host");
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| AzureError::Unreachable {
            endpoint: url.clone(),
            reason: crate::client::describe_reqwest(&e),
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(AzureError::Config(format!(
            "metadata host {host} answered {status}"
        )));
    }
    let clouds: Vec<MetadataCloud> = response
        .json()
        .await
        .map_err(|e| AzureError::Decode(format!("metadata host {host}: {e}")))?;
    let wanted = environment.map(|name| {
        Environment::parse(name).map_or(name.to_owned(), |e| e.metadata_name().to_owned())
    });
    let chosen = match &wanted {
        Some(name) => clouds
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .or_else(|| (clouds.len() == 1).then(|| &clouds[0])),
        None if clouds.len() == 1 => clouds.first(),
        None => clouds
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case("AzureCloud")),
    };
    let cloud = chosen.ok_or_else(|| {
        let names: Vec<&str> = clouds.iter().map(|c| c.name.as_str()).collect();
        AzureError::Config(format!(
            "metadata host {host} describes no cloud named {:?} (it has {names:?})",
            wanted.unwrap_or_default()
        ))
    })?;
    let audience = cloud
        .authentication
        .audiences
        .first()
        .cloned()
        .unwrap_or_else(|| cloud.resource_manager.clone());
    Ok(Cloud {
        name: cloud.name.clone(),
        resource_manager: https_url(&cloud.resource_manager, "metadata resourceManager")?,
        authority_host: https_url(
            &cloud.authentication.login_endpoint,
            "metadata authentication.loginEndpoint",
        )?,
        resource_manager_audience: audience.trim_end_matches('/').to_owned(),
    })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Cloud {
    /// The token scope for Resource Manager: its audience with `/.default`.
    pub fn resource_manager_scope(&self) -> String {
        format!("{}/.default", self.resource_manager_audience)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sovereign_clouds_by_azurerm_names() {
        let china = CloudConfig {
            environment: Some("China".into()),
            ..CloudConfig::default()
        }
        .resolve_offline()
        .unwrap();
        assert_eq!(
            china.resource_manager.as_str(),
            "https://management.chinacloudapi.cn/"
        );
        assert_eq!(
            china.authority_host.as_str(),
            "https://login.chinacloudapi.cn/"
        );
        let gov = Environment::parse("usgovernment").unwrap().cloud();
        assert_eq!(
            gov.resource_manager_scope(),
            "https://management.usgovcloudapi.net/.default"
        );
        let public = CloudConfig::default().resolve_offline().unwrap();
        assert_eq!(
            public.resource_manager_scope(),
            "https://management.azure.com/.default"
        );
        let bad = CloudConfig {
            environment: Some("german".into()),
            ..CloudConfig::default()
        }
        .resolve_offline()
        .unwrap_err();
        assert!(
            bad.to_string().contains("unknown Azure environment"),
            "{bad}"
        );
    }

    #[test]
    fn every_endpoint_is_overridable_and_must_be_https() {
        let cloud = CloudConfig {
            resource_manager_endpoint: Some("https://127.0.0.1:8443/arm".into()),
            authority_host: Some("https://127.0.0.1:8443/login".into()),
            ..CloudConfig::default()
        }
        .resolve_offline()
        .unwrap();
        assert_eq!(
            cloud.resource_manager.as_str(),
            "https://127.0.0.1:8443/arm/"
        );
        assert_eq!(
            cloud.authority_host.as_str(),
            "https://127.0.0.1:8443/login/"
        );
        let plain = CloudConfig {
            authority_host: Some("http://127.0.0.1:8080".into()),
            ..CloudConfig::default()
        }
        .resolve_offline()
        .unwrap_err();
        assert!(plain.to_string().contains("must use https"), "{plain}");
    }
}
