//! The lab's identity side: an Entra ID token endpoint (client credentials with a client
//! secret, a certificate-signed client assertion, or a federated token from a trusted
//! issuer, each checked as Entra ID checks it and refused with its AADSTS errors), the
//! managed identity endpoint (IMDS's protocol), an OIDC issuer (discovery, keys, and
//! GitHub Actions' and Azure Pipelines' token requests), the cloud metadata endpoint, and
//! the check of the bearer tokens Resource Manager receives.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::clock::{rfc3339, unix};
use super::config::LabConfig;
use super::pki::{Jwt, SigningKey, certificate_key};
use super::resources::uuid4;

/// The audiences Resource Manager accepts tokens for (public cloud's names).
pub const ARM_AUDIENCES: &[&str] = &[
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
];

/// The audience GitHub/Azure Pipelines tokens are requested for.
pub const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// What an answer is: status and JSON body.
pub type Answer = (u16, Value);

/// Who asked for a token and how, for the request log.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    /// The client (application or identity) id.
    pub client_id: Option<String>,
    /// `client_secret`, `client_certificate`, `federated`, `managed_identity`.
    pub method: Option<String>,
}

/// The identity services.
pub struct Entra {
    config: LabConfig,
    base_url: String,
    /// Signs access tokens; replaced when tests revoke every token issued so far.
    sts: std::sync::RwLock<SigningKey>,
    /// Signs the OIDC issuer's federated tokens.
    issuer: SigningKey,
}

impl Entra {
    /// Identity services at `base_url` (`https://127.0.0.1:PORT`).
    pub fn new(config: LabConfig, base_url: String) -> Result<Entra, String> {
        Ok(Entra {
            config,
            base_url,
            sts: std::sync::RwLock::new(SigningKey::generate("lab-sts")?),
            issuer: SigningKey::generate("lab-oidc")?,
        })
    }

    /// The OIDC issuer's URL.
    pub fn issuer_url(&self) -> String {
        format!("{}/oidc", self.base_url)
    }

    fn token_endpoint(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.base_url, self.config.tenant_id
        )
    }

    /// `POST /{tenant}/oauth2/v2.0/token` with a form body.
    pub fn token(&self, tenant: &str, form: &str) -> (Answer, Grant) {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let mut grant = Grant {
            client_id: field("client_id").map(str::to_owned),
            method: None,
        };
        if tenant != self.config.tenant_id {
            return (
                entra_error(
                    400,
                    "invalid_request",
                    90002,
                    &format!(
                        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                    ),
                ),
                grant,
            );
        }
        if field("grant_type") != Some("client_credentials") {
            return (
                entra_error(
                    400,
                    "unsupported_grant_type",
                    70003,
                    "The app requested an unsupported grant type.",
                ),
                grant,
            );
        }
        let Some(scope) = field("scope") else {
            return (
                entra_error(
                    400,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'scope'.",
                ),
                grant,
            );
        };
        let Some(audience) = scope.strip_suffix("/.default") else {
            return (
                entra_error(
                    400,
                    "invalid_scope",
                    1002012,
                    &format!(
                        "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier."
                    ),
                ),
                grant,
            );
        };
        let client_id = field("client_id").unwrap_or_default();
        let Some(app) = self
            .config
            .applications
            .iter()
            .find(|a| a.client_id == client_id)
        else {
            return (
                entra_error(
                    400,
                    "unauthorized_client",
                    700016,
                    &format!(
                        "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
                    ),
                ),
                grant,
            );
        };
        let outcome = if let Some(secret) = field("client_secret") {
            grant.method = Some("client_secret".into());
            if app.secrets.iter().any(|s| s == secret) {
                Ok(())
            } else {
                Err(entra_error(
                    401,
                    "invalid_client",
                    7000215,
                    &format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                    ),
                ))
            }
        } else if field("client_assertion_type")
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            let assertion = field("client_assertion").unwrap_or_default();
            self.check_assertion(app, assertion, &mut grant)
        } else {
            Err(entra_error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ))
        };
        if let Err(answer) = outcome {
            return (answer, grant);
        }
        let lifetime = self.config.token_lifetime_secs;
        let token = self.access_token(audience, client_id, lifetime);
        (
            (
                200,
                json!({
                    "token_type": "Bearer",
                    "expires_in": lifetime,
                    "ext_expires_in": lifetime,
                    "access_token": token,
                }),
            ),
            grant,
        )
    }

    fn check_assertion(
        &self,
        app: &super::config::Application,
        assertion: &str,
        grant: &mut Grant,
    ) -> Result<(), Answer> {
        let Some(jwt) = Jwt::parse(assertion) else {
            return Err(entra_error(
                400,
                "invalid_client",
                50027,
                "JWT token is invalid or malformed.",
            ));
        };
        let now = unix(SystemTime::now());
        if jwt.header.get("x5t").is_some() || jwt.header.get("x5t#S256").is_some() {
            // A certificate credential: the app's own signed assertion for this endpoint.
            grant.method = Some("client_certificate".into());
            let signed = app
                .certificates
                .iter()
                .filter_map(|pem| certificate_key(pem))
                .any(|key| jwt.verify(&key));
            if !signed {
                return Err(entra_error(
                    401,
                    "invalid_client",
                    700027,
                    "The certificate with identifier used to sign the client assertion is not registered on application.",
                ));
            }
            if jwt.claims["aud"] != self.token_endpoint() {
                return Err(entra_error(
                    401,
                    "invalid_client",
                    700212,
                    &format!(
                        "No matching federated identity record found for presented assertion audience '{}'.",
                        jwt.claims["aud"]
                    ),
                ));
            }
            if jwt.claims["iss"] != app.client_id.as_str()
                || jwt.claims["sub"] != app.client_id.as_str()
            {
                return Err(entra_error(
                    401,
                    "invalid_client",
                    700021,
                    "Client assertion application identifier doesn't match 'client_id' parameter.",
                ));
            }
            if !jwt.current(now) {
                return Err(entra_error(
                    401,
                    "invalid_client",
                    700024,
                    "Client assertion is not within its valid time range.",
                ));
            }
            return Ok(());
        }
        grant.method = Some("federated".into());
        let issuer = jwt.claims["iss"].as_str().unwrap_or_default().to_owned();
        let subject = jwt.claims["sub"].as_str().unwrap_or_default().to_owned();
        let audiences: Vec<String> = match &jwt.claims["aud"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        if issuer != self.issuer_url() || !jwt.verify(&self.issuer.public()) {
            return Err(entra_error(
                400,
                "invalid_request",
                700211,
                &format!(
                    "No matching federated identity record found for presented assertion issuer '{issuer}'."
                ),
            ));
        }
        if !jwt.current(now) {
            return Err(entra_error(
                400,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.",
            ));
        }
        let matched = app.federated.iter().any(|f| {
            f.issuer.as_deref().unwrap_or(&self.issuer_url()) == issuer
                && f.subject == subject
                && audiences.contains(&f.audience)
        });
        if !matched {
            return Err(entra_error(
                400,
                "invalid_client",
                70021,
                &format!(
                    "No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{}'.",
                    audiences.join(",")
                ),
            ));
        }
        Ok(())
    }

    /// Revokes every access token issued so far (a new signing key).
    pub fn revoke_tokens(&self) -> Result<(), String> {
        let key = SigningKey::generate("lab-sts")?;
        if let Ok(mut sts) = self.sts.write() {
            *sts = key;
        }
        Ok(())
    }

    fn access_token(&self, audience: &str, client_id: &str, lifetime: u64) -> String {
        let now = unix(SystemTime::now());
        let sts = self.sts.read().unwrap_or_else(|p| p.into_inner());
        sts.sign(&json!({
            "aud": audience,
            "iss": format!("https://sts.windows.net/{}/", self.config.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime as i64,
            "appid": client_id,
            "oid": uuid4(),
            "tid": self.config.tenant_id,
            "idtyp": "app",
            "ver": "1.0",
        }))
    }

    /// Checks a Resource Manager request's `Authorization` header: the client id it
    /// authenticates, or ARM's 401.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<String, super::resources::ArmError> {
        use super::resources::ArmError;
        let Some(header) = authorization else {
            return Err(ArmError::new(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            ));
        };
        let Some(token) = header.strip_prefix("Bearer ") else {
            return Err(ArmError::new(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            ));
        };
        let public = self.sts.read().unwrap_or_else(|p| p.into_inner()).public();
        let Some(jwt) = Jwt::parse(token).filter(|j| j.verify(&public)) else {
            return Err(ArmError::new(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            ));
        };
        if !jwt.current(unix(SystemTime::now())) {
            return Err(ArmError::new(
                401,
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            ));
        }
        let audience = jwt.claims["aud"].as_str().unwrap_or_default();
        if !ARM_AUDIENCES.contains(&audience) {
            return Err(ArmError::new(
                401,
                "InvalidAuthenticationTokenAudience",
                format!(
                    "The access token has been obtained for wrong audience or resource '{audience}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.azure.com/'."
                ),
            ));
        }
        Ok(jwt.claims["appid"].as_str().unwrap_or_default().to_owned())
    }

    /// `GET /metadata/identity/oauth2/token` (IMDS).
    pub fn managed_identity(
        &self,
        query: &[(String, String)],
        metadata_header: bool,
    ) -> (Answer, Grant) {
        let field = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let client_id = field("client_id").map(str::to_owned);
        let mut grant = Grant {
            client_id: client_id.clone(),
            method: Some("managed_identity".into()),
        };
        if !metadata_header {
            return (
                (
                    400,
                    json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
                ),
                grant,
            );
        }
        let Some(resource) = field("resource") else {
            return (
                (
                    400,
                    json!({"error": "invalid_request", "error_description": "Required query variable 'resource' is missing"}),
                ),
                grant,
            );
        };
        let identity = self
            .config
            .managed_identities
            .iter()
            .find(|m| m.client_id == client_id);
        let Some(identity) = identity else {
            return (
                (
                    400,
                    json!({"error": "invalid_request", "error_description": "Identity not found"}),
                ),
                grant,
            );
        };
        let id = identity
            .client_id
            .clone()
            .unwrap_or_else(|| "system-assigned".into());
        grant.client_id = Some(id.clone());
        let lifetime = self.config.token_lifetime_secs;
        let now = unix(SystemTime::now());
        let token = self.access_token(resource.trim_end_matches('/'), &id, lifetime);
        (
            (
                200,
                json!({
                    "access_token": token,
                    "client_id": id,
                    "expires_in": lifetime.to_string(),
                    "expires_on": (now + lifetime as i64).to_string(),
                    "ext_expires_in": lifetime.to_string(),
                    "not_before": now.to_string(),
                    "resource": resource,
                    "token_type": "Bearer",
                }),
            ),
            grant,
        )
    }

    /// `GET /oidc/.well-known/openid-configuration`.
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer_url(),
            "jwks_uri": format!("{}/keys", self.issuer_url()),
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    }

    /// `GET /oidc/keys`.
    pub fn keys(&self) -> Value {
        json!({"keys": [self.issuer.jwk()]})
    }

    /// A federated token from the lab's issuer for `subject`.
    pub fn federated_token(&self, subject: &str, audience: &str) -> String {
        let now = unix(SystemTime::now());
        self.issuer.sign(&json!({
            "iss": self.issuer_url(),
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": uuid4(),
        }))
    }

    /// GitHub Actions' `ACTIONS_ID_TOKEN_REQUEST_URL`: `GET /oidc/github?audience=...`
    /// with the request token as a bearer.
    pub fn github(&self, audience: Option<&str>, authorization: Option<&str>) -> Answer {
        let Some(github) = &self.config.github else {
            return (404, json!({"message": "Not Found"}));
        };
        if authorization != Some(format!("Bearer {}", github.request_token).as_str()) {
            return (401, json!({"message": "Bad credentials"}));
        }
        let token = self.federated_token(&github.subject, audience.unwrap_or(EXCHANGE_AUDIENCE));
        (200, json!({"count": 1, "value": token}))
    }

    /// Azure Pipelines' `SYSTEM_OIDCREQUESTURI`: `POST /oidc/ado?api-version=7.1&serviceConnectionId=...`.
    pub fn azure_pipelines(
        &self,
        query: &[(String, String)],
        authorization: Option<&str>,
    ) -> Answer {
        let Some(ado) = &self.config.azure_pipelines else {
            return (404, json!({"message": "Not Found"}));
        };
        if authorization != Some(format!("Bearer {}", ado.request_token).as_str()) {
            return (
                401,
                json!({"message": "TF400813: The user is not authorized to access this resource."}),
            );
        }
        let connection = query
            .iter()
            .find(|(k, _)| k == "serviceConnectionId")
            .map(|(_, v)| v.as_str());
        if connection != ado.service_connection_id.as_deref() {
            return (
                400,
                json!({"message": "The service connection does not exist or has not been authorized for use."}),
            );
        }
        (
            200,
            json!({"oidcToken": self.federated_token(&ado.subject, EXCHANGE_AUDIENCE)}),
        )
    }

    /// `GET /metadata/endpoints?api-version=2022-09-01`: this lab as a cloud.
    pub fn metadata(&self) -> Value {
        json!([{
            "name": "FleetformLab",
            "portal": format!("{}/portal", self.base_url),
            "resourceManager": format!("{}/", self.base_url),
            "authentication": {
                "loginEndpoint": format!("{}/", self.base_url),
                "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
                "tenant": "common",
                "identityProvider": "AAD",
            },
            "suffixes": {"storage": "core.windows.net", "keyVaultDns": "vault.azure.net"},
            "graph": format!("{}/graph", self.base_url),
        }])
    }
}

/// Entra ID's error body.
fn entra_error(status: u16, error: &str, code: u32, description: &str) -> Answer {
    let trace = uuid4();
    (
        status,
        json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {} Timestamp: {}", uuid4(), rfc3339(SystemTime::now())),
            "error_codes": [code],
            "timestamp": rfc3339(SystemTime::now()),
            "trace_id": trace,
            "correlation_id": uuid4(),
        }),
    )
}
