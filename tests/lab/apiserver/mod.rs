//! The lab's stand-in for kube-apiserver (`fleetform-lab-apiserver`), started by the lab's
//! node agent from the kube-apiserver static pod. It takes kube-apiserver's flags, serves
//! HTTPS with the cluster's certificates, authenticates client certificates, authorizes as
//! `Node,RBAC` does, and keeps objects in the cluster's real etcd (in memory without
//! `--etcd-servers`), so fleetform's providers, kubectl and kube-rs see an API server that
//! behaves like kube-apiserver for what they use: discovery, health, get/list/create/
//! update/patch/delete of the core, apps, policy, RBAC, coordination and CRD resources,
//! eviction with PodDisruptionBudgets, Kubernetes `Status` errors, kubectl's server-side
//! printing (Tables) and enough OpenAPI v3 for `kubectl apply`.
//!
//! Server-side apply is kube's: `managedFields` per manager, 409 conflicts when an
//! applier would change another manager's field (unless forced), fields an applier stops
//! applying removed when no one else owns them, and every other write recording the
//! fields it changed (`fields.rs`, `managed.rs`). CustomResourceDefinitions add their
//! resources to discovery once Established, a moment after creation (`crds.rs`), and
//! `dryRun=All` answers every write without storing it.
//!
//! Where it is simpler than kube-apiserver: no watch (405), no admission (no defaults
//! beyond a pod's Pending status and a service's ClusterIP and ports), no schema
//! validation (unknown fields are kept), deletes are immediate (no graceful pod deletion;
//! finalizers are honoured), namespaces and CRDs take their objects with them at once,
//! strategic merge patches follow kubectl's directives rather than per-field schemas,
//! which built-in lists merge by key is a table of kube's merge keys, and `limit`/
//! `continue` are ignored (a list returns everything).
//!
//! ```sh
//! fleetform-lab-apiserver --secure-port=6443 --tls-cert-file=apiserver.crt \
//!   --tls-private-key-file=apiserver.key --client-ca-file=ca.crt \
//!   --etcd-servers=https://127.0.0.1:2379 --etcd-cafile=etcd/ca.crt \
//!   --etcd-certfile=apiserver-etcd-client.crt --etcd-keyfile=apiserver-etcd-client.key
//! ```

mod api;
mod authz;
mod bootstrap;
mod crds;
mod fields;
mod flags;
mod managed;
mod objects;
mod resources;
mod select;
mod status;
mod store;
mod table;
mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub use flags::{Config, DEFAULT_VERSION, FlagError, Version};
pub use store::{EtcdStore, EtcdTls, MemoryStore, Precondition, Store, StoreError, Stored};

use api::{Reply, Request, Server};
use authz::User;

/// The largest request body accepted (kube's limit is 3 MiB too).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The binary's `main`: flags from the command line, the version from
/// `FLEETFORM_LAB_IMAGE`, logs to stderr (`RUST_LOG` overrides the `info` level).
pub fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    // reqwest (etcd) and tokio-rustls (serving) share the process-level provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let image = std::env::var("FLEETFORM_LAB_IMAGE").ok();
    let config = match Config::parse(std::env::args().skip(1), image.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until SIGTERM or SIGINT.
pub async fn serve(config: Config) -> Result<(), String> {
    let (Some(cert), Some(key)) = (&config.tls_cert_file, &config.tls_private_key_file) else {
        return Err(
            "--tls-cert-file and --tls-private-key-file are required (the lab API server \
             does not make a self-signed certificate)"
                .into(),
        );
    };
    let tls = tls::server_config(cert, key, config.client_ca_file.as_deref())?;
    let store: Arc<dyn Store> = if config.etcd_servers.is_empty() {
        tracing::info!("no --etcd-servers: objects are kept in memory");
        Arc::new(MemoryStore::default())
    } else {
        Arc::new(EtcdStore::new(
            config.etcd_servers.clone(),
            &EtcdTls {
                ca_file: config.etcd_cafile.as_deref(),
                cert_file: config.etcd_certfile.as_deref(),
                key_file: config.etcd_keyfile.as_deref(),
            },
        )?)
    };
    let listener = TcpListener::bind(SocketAddr::new(config.bind_address, config.secure_port))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}:{}: {e}",
                config.bind_address, config.secure_port
            )
        })?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("listening socket: {e}"))?;
    let advertised = SocketAddr::new(config.advertised(), local.port());
    let server = Arc::new(Server::new(store, config, format!("https://{advertised}")));
    tracing::info!(
        version = %server.config.version.git_version,
        etcd = ?server.config.etcd_servers,
        "serving on https://{local}"
    );
    let bootstrap_server = server.clone();
    tokio::spawn(async move { bootstrap::run(&bootstrap_server).await });
    tokio::spawn(crds::establish(server.clone()));

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
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let acceptor = acceptor.clone();
        let server = server.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            // None: a verified certificate that names no user (no CN).
            let user = match stream.get_ref().1.peer_certificates() {
                Some([first, ..]) => tls::user_of(first),
                _ => Some(User::anonymous()),
            };
            let service = service_fn(move |request| {
                let server = server.clone();
                let user = user.clone();
                async move { Ok::<_, Infallible>(respond(&server, request, user.as_ref()).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
    tracing::info!("shutting down");
    Ok(())
}

async fn respond(
    server: &Server,
    request: hyper::Request<Incoming>,
    user: Option<&User>,
) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, accept) = (header(CONTENT_TYPE), header(ACCEPT));
    let user_agent = header(USER_AGENT);
    let has_authorization = request.headers().contains_key(AUTHORIZATION);
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = api::parse_query(request.uri().query().unwrap_or_default());
    let head = method == "HEAD";
    let body = Limited::new(request.into_body(), MAX_BODY).collect().await;
    let user_name = user
        .map_or("(unauthenticated)", |u| u.name.as_str())
        .to_owned();
    let reply = match (body, user) {
        (Err(_), _) => status::ApiError::too_large().into(),
        (Ok(_), None) => status::ApiError::unauthorized().into(),
        (Ok(body), Some(user)) => {
            let request = Request {
                method: method.clone(),
                path: path.clone(),
                query,
                content_type,
                accept,
                has_authorization,
                user_agent,
                body: body.to_bytes().to_vec(),
            };
            server.handle(&request, user).await
        }
    };
    tracing::debug!(
        %method,
        %path,
        user = %user_name,
        code = reply.code(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    let (code, content_type, body) = match reply {
        Reply::Json(code, value) => (
            code,
            "application/json",
            serde_json::to_vec(&value).expect("JSON values serialize"),
        ),
        Reply::Text(code, text) => (code, "text/plain; charset=utf-8", text.into_bytes()),
    };
    let mut response = hyper::Response::new(Full::new(if head {
        Bytes::new()
    } else {
        Bytes::from(body)
    }));
    *response.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    response
}
