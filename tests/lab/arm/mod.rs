//! The lab's stand-in for Azure (`fleetform-lab-arm`): Resource Manager for Arc's
//! connected clusters, extensions and Flux configurations, Entra ID's token endpoint, the
//! managed identity endpoint, an OIDC issuer for workload identity federation, and the
//! cloud metadata endpoint, over HTTPS with a lab CA that clients trust only when told
//! to. Test support only: nothing real can run Resource Manager here, so this follows
//! the published contract instead.
//!
//! - Every Resource Manager request is checked against ../shared/specs/azure
//!   ([`spec`]): the operation, its api-version, and its body (a body that fails is
//!   ARM's 400 `InvalidRequestContent` with per-property details, and is logged with its
//!   issues so that the test fails too).
//! - PUT, PATCH and DELETE run as long-running operations (`Azure-AsyncOperation`,
//!   `Location`, `Retry-After`) that end after `operation_delay_ms`.
//! - Faults are injected on request ([`config::Fault`]): 429 with `Retry-After`, 5xx,
//!   latency, reset connections, refused connections for a while, failed operations.
//! - The control API (`/_lab/...`) returns the request log and the stored resources,
//!   and plays the cluster's Arc agents: a heartbeat signed with the agent's private key
//!   (checked against the resource's `agentPublicKeyCertificate`) connects a cluster;
//!   the identity certificate's expiry and the connectivity can be set.
//!
//! ```no_run
//! use fleetform_tests::lab::arm::{ArmLab, LabConfig};
//!
//! let lab = ArmLab::start(ArmLab::config("00000000-0000-0000-0000-000000000001", "sub"))?;
//! println!("ARM at {}, trust {}", lab.url(), lab.ca_file().display());
//! # Ok::<(), String>(())
//! ```

mod clock;
mod config;
mod entra;
pub mod fleet;
mod handle;
mod pki;
mod resources;
mod server;
pub mod spec;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use tokio::net::TcpListener;

pub use config::{
    Application, Fault, FaultAction, FederatedCredential, LabConfig, LoggedRequest,
    ManagedIdentity, PipelineIssuer,
};
pub use handle::ArmLab;
pub use pki::{ServingPki, client_certificate, serving_pki};
pub use spec::{Issue, Severity};

use server::{Lab, Request};

/// The largest request body accepted.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The file the server writes once it listens: `{"url": ..., "ca_file": ...}`.
pub const READY_FILE: &str = "lab-arm.json";

/// True when `signature` (base64) is the agent key's RS256 signature of `id`, the key
/// being the resource's `agentPublicKeyCertificate` (base64 DER PKCS#1, as
/// `az connectedk8s connect` sends it).
pub fn agent_signature_valid(public_key_b64: &str, id: &str, signature_b64: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let (Ok(der), Ok(signature)) = (engine.decode(public_key_b64), engine.decode(signature_b64))
    else {
        return false;
    };
    let Some(key) = Rsa::public_key_from_der_pkcs1(&der)
        .ok()
        .and_then(|rsa| PKey::from_rsa(rsa).ok())
    else {
        return false;
    };
    let Ok(mut verifier) = openssl::sign::Verifier::new(MessageDigest::sha256(), &key) else {
        return false;
    };
    verifier.update(id.to_ascii_lowercase().as_bytes()).is_ok()
        && verifier.verify(&signature).unwrap_or(false)
}

/// What a cluster's agents would send: the RS256 signature (base64) of the cluster's id
/// with the agent's private key (PEM, PKCS#1 or PKCS#8).
pub fn agent_signature(private_key_pem: &str, id: &str) -> Result<String, String> {
    let key = PKey::private_key_from_pem(private_key_pem.as_bytes())
        .map_err(|e| format!("agent key: {e}"))?;
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key)
        .map_err(|e| format!("agent key: {e}"))?;
    signer
        .update(id.to_ascii_lowercase().as_bytes())
        .map_err(|e| e.to_string())?;
    let signature = signer.sign_to_vec().map_err(|e| e.to_string())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(signature))
}

/// The binary's `main`: `fleetform-lab-arm --config FILE --dir DIR [--port N]`.
pub fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(config), Some(dir)) = (flag("--config"), flag("--dir")) else {
        eprintln!("usage: fleetform-lab-arm --config FILE --dir DIR [--port N]");
        return ExitCode::from(2);
    };
    let port = flag("--port").and_then(|p| p.parse().ok()).unwrap_or(0);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(PathBuf::from(config), PathBuf::from(dir), port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until SIGTERM or SIGINT.
pub async fn serve(config: PathBuf, dir: PathBuf, port: u16) -> Result<(), String> {
    let text =
        std::fs::read_to_string(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    let config: LabConfig =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", config.display()))?;
    let pki = pki::serving_pki("fleetform lab Azure CA")?;
    let ca_file = dir.join("lab-arm-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).map_err(|e| format!("{}: {e}", ca_file.display()))?;
    let tls = tls_config(&pki)?;
    let mut listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("listening socket: {e}"))?;
    let base_url = format!("https://{address}");
    let lab = Arc::new(Lab::new(config, base_url.clone())?);
    let ready = serde_json::json!({"url": base_url, "ca_file": ca_file, "pid": std::process::id()});
    let ready_path = dir.join(READY_FILE);
    let temporary = dir.join(format!("{READY_FILE}.tmp"));
    std::fs::write(&temporary, ready.to_string())
        .and_then(|()| std::fs::rename(&temporary, &ready_path))
        .map_err(|e| format!("{}: {e}", ready_path.display()))?;
    tracing::info!("serving on {base_url}");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("SIGTERM handler: {e}"))?;
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = lab.refuse.notified() => {
                listener = refuse_for_a_while(&lab, listener, address).await?;
                continue;
            }
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let acceptor = acceptor.clone();
        let lab = lab.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                tracing::debug!(%peer, "TLS handshake failed");
                return;
            };
            let service = service_fn(move |request| {
                let lab = lab.clone();
                async move { respond(&lab, request).await }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
    Ok(())
}

/// Closes the listening socket until the refusal ends (connections are refused), then
/// listens again on the same address.
async fn refuse_for_a_while(
    lab: &Lab,
    listener: TcpListener,
    address: SocketAddr,
) -> Result<TcpListener, String> {
    drop(listener);
    let until = lab
        .refuse_until
        .lock()
        .ok()
        .and_then(|u| *u)
        .unwrap_or_else(Instant::now);
    tracing::info!(
        "refusing connections for {:?}",
        until.saturating_duration_since(Instant::now())
    );
    tokio::time::sleep_until(until.into()).await;
    for _ in 0..50 {
        match TcpListener::bind(address).await {
            Ok(listener) => {
                if let Ok(mut u) = lab.refuse_until.lock() {
                    *u = None;
                }
                return Ok(listener);
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    Err(format!("cannot listen on {address} again"))
}

fn tls_config(pki: &pki::ServingPki) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain =
        vec![CertificateDer::from_pem_slice(pki.cert_pem.as_bytes()).map_err(|e| e.to_string())?];
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("serving certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn respond(
    lab: &Lab,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::io::Error> {
    let header = |name: &HeaderName| {
        request
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header(&AUTHORIZATION);
    let metadata = header(&HeaderName::from_static("metadata")).is_some_and(|v| v == "true");
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let reply = lab
        .handle(Request {
            method,
            path,
            query,
            authorization,
            metadata,
            body,
        })
        .await
        // An error ends the connection without an answer, as a reset does.
        .map_err(|server::Reset| std::io::Error::other("reset by the lab"))?;
    let bytes = if reply.body.is_null() {
        Bytes::new()
    } else {
        Bytes::from(serde_json::to_vec(&reply.body).unwrap_or_default())
    };
    let mut response = hyper::Response::new(Full::new(bytes));
    *response.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if !reply.body.is_null() {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    headers.insert(
        "x-ms-request-id",
        HeaderValue::from_str(&resources::uuid4()).unwrap_or(HeaderValue::from_static("lab")),
    );
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}
