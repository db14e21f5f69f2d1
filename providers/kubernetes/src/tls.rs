//! Which certificate an API server serves, to tell when a restarted member runs with its
//! renewed certificate. Nothing is sent over the connection and nothing read from it is
//! trusted: the certificate is only compared with the one fleetform wrote.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};

/// The leaf certificate served at `socket` (PEM), or `None` when nothing answers.
pub fn peer_certificate(socket: SocketAddr) -> Option<String> {
    let stream = TcpStream::connect_timeout(&socket, Duration::from_secs(3)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(3)))
        .ok()?;
    let mut builder = SslConnector::builder(SslMethod::tls_client()).ok()?;
    builder.set_verify(SslVerifyMode::NONE);
    let connector = builder.build();
    let mut config = connector.configure().ok()?;
    config.set_verify_hostname(false);
    config.set_use_server_name_indication(false);
    let tls = config.connect("", stream).ok()?;
    let pem = tls.ssl().peer_certificate()?.to_pem().ok()?;
    String::from_utf8(pem).ok()
}
