//! The status page's server (`fleetform ui`): HTTP/1.1 on 127.0.0.1 only, read-only.
//!
//! It serves the page (HTML, CSS and JavaScript built into the binary: nothing is fetched
//! from anywhere else) and `/status.json`, the latest status document, which a refresher
//! thread replaces every interval; the page polls it. Only `GET` and `HEAD` are answered,
//! requests whose `Host` is not the loopback address or `localhost` are refused (so a web
//! page elsewhere cannot reach it through DNS rebinding), and no CORS header is ever sent.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, RwLock};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/style.css");

/// What every answer carries: nothing may be loaded from elsewhere, framed, or sniffed.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
                      frame-ancestors 'none'";

/// The latest status document, shared by the refresher and the server.
#[derive(Clone, Default)]
pub struct Snapshot(Arc<RwLock<Bytes>>);

impl Snapshot {
    /// Replaces the document.
    pub fn set(&self, json: String) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Bytes::from(json);
    }

    fn get(&self) -> Bytes {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Binds 127.0.0.1:`port` (0: a free port the system picks).
pub fn bind(port: u16) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves the page on `listener` until the process is interrupted.
pub async fn serve(listener: TcpListener, snapshot: Snapshot) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let snapshot = snapshot.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let answer = answer(&request, &snapshot);
                async move { Ok::<_, Infallible>(answer) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, "status page connection ended: {e}");
            }
        });
    }
}

/// The answer to one request, logged at debug.
fn answer(request: &Request<Incoming>, snapshot: &Snapshot) -> Response<Full<Bytes>> {
    let response = route(request, snapshot);
    tracing::debug!(
        method = %request.method(),
        path = request.uri().path(),
        status = response.status().as_u16(),
        "status page request"
    );
    response
}

fn route(request: &Request<Incoming>, snapshot: &Snapshot) -> Response<Full<Bytes>> {
    if !loopback_host(request) {
        return text(
            StatusCode::FORBIDDEN,
            "fleetform ui answers only requests for 127.0.0.1 or localhost\n",
        );
    }
    // hyper leaves the body out of a HEAD answer itself.
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "the status page is read-only: GET or HEAD only\n",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let (body, kind) = match request.uri().path() {
        "/" | "/index.html" => (
            Bytes::from_static(INDEX.as_bytes()),
            "text/html; charset=utf-8",
        ),
        "/app.js" => (
            Bytes::from_static(SCRIPT.as_bytes()),
            "text/javascript; charset=utf-8",
        ),
        "/style.css" => (
            Bytes::from_static(STYLE.as_bytes()),
            "text/css; charset=utf-8",
        ),
        "/status.json" => (snapshot.get(), "application/json"),
        _ => return text(StatusCode::NOT_FOUND, "not found\n"),
    };
    respond(StatusCode::OK, body, kind)
}

/// Whether the request names this server by a loopback name: `127.0.0.1` or `localhost`,
/// with or without a port. Anything else came through some other name for this address.
fn loopback_host(request: &Request<Incoming>) -> bool {
    let Some(host) = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost")
}

fn text(status: StatusCode, message: &'static str) -> Response<Full<Bytes>> {
    respond(
        status,
        Bytes::from_static(message.as_bytes()),
        "text/plain; charset=utf-8",
    )
}

fn respond(status: StatusCode, body: Bytes, kind: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
