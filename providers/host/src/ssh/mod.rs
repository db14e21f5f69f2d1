//! SSH connections to hosts with libssh2 (the ssh2 crate): resolving, connecting with a
//! timeout, verifying the pinned host key before anything is sent, authenticating, and
//! reaching hosts through a jump host. Everything here is blocking; the fleet runs it on
//! tokio's blocking pool.

mod connection;
mod forward;
pub mod host_key;
pub mod known_hosts;
mod tunnel;

use std::fmt;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

pub use connection::{Connection, Output, SessionError};
pub use forward::Forward;
use host_key::HostKeyPin;

/// Where and as whom to connect, and how to check the host's identity.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// IP address or DNS name.
    pub address: String,
    pub port: u16,
    pub user: String,
    pub auth: Auth,
    pub host_key: HostKeyPin,
    pub connect_timeout: Duration,
    /// The jump host the connection goes through, if any.
    pub bastion: Option<Box<Target>>,
}

// Secrets stay out of debug output and logs.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("address", &self.address)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("bastion", &self.bastion)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// "user@address:port", and the jump host after "via", for messages.
    pub fn describe(&self) -> String {
        let direct = format!("{}@{}:{}", self.user, self.address, self.port);
        match &self.bastion {
            Some(b) => format!("{direct} via {}", b.describe()),
            None => direct,
        }
    }
}

/// The ways to log in, tried in this order: key, agent, password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Auth {
    /// Private key text (PEM or OpenSSH format).
    pub private_key: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub passphrase: Option<String>,
    pub use_agent: bool,
    pub password: Option<String>,
}

impl Auth {
    fn is_empty(&self) -> bool {
        self.private_key.is_none()
            && self.private_key_file.is_none()
            && !self.use_agent
            && self.password.is_none()
    }
}

/// Why a connection failed. Each cause reads differently because each has a different
/// fix; none quotes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot resolve {host:?}: {reason}")]
    Dns { host: String, reason: String },
    #[error("connection to {addr} refused (is sshd running and listening on that port?)")]
    Refused { addr: String },
    #[error("timed out after {seconds}s connecting to {addr} (host down or network cut?)")]
    Timeout { addr: String, seconds: u64 },
    #[error("cannot reach {addr}: {reason}")]
    Network { addr: String, reason: String },
    #[error(
        "host key mismatch for {addr}: the host presented {actual}, but {expected} is pinned. \
         The connection was refused; if the host was reinstalled, update its `host_key`."
    )]
    HostKeyMismatch {
        addr: String,
        expected: String,
        actual: String,
    },
    #[error(
        "host key of {addr} ({actual}) is revoked: {at} marks it @revoked, so fleetform refuses to connect. \
         The key was withdrawn (a compromised or retired host key); give the host a new key and trust that one."
    )]
    HostKeyRevoked {
        addr: String,
        actual: String,
        at: String,
    },
    #[error(
        "host key of {addr} ({actual}) is not trusted: {reason}. Pin it with `host_key` or add it to a known_hosts file."
    )]
    HostKeyUnknown {
        addr: String,
        actual: String,
        reason: String,
    },
    #[error("authentication failed for {user}@{addr}: {reason}")]
    Authentication {
        user: String,
        addr: String,
        reason: String,
    },
    #[error("SSH handshake with {addr} failed: {reason}")]
    Protocol { addr: String, reason: String },
    #[error("jump host {bastion}: {source}")]
    Bastion {
        bastion: String,
        source: Box<ConnectError>,
    },
}

impl ConnectError {
    /// Whether the host could not be reached at all, as opposed to being reached and
    /// refusing us (a wrong key or password will not fix itself).
    pub fn is_unreachable(&self) -> bool {
        match self {
            ConnectError::Dns { .. }
            | ConnectError::Refused { .. }
            | ConnectError::Timeout { .. }
            | ConnectError::Network { .. } => true,
            ConnectError::Bastion { source, .. } => source.is_unreachable(),
            _ => false,
        }
    }

    /// Whether trying again soon may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            // A timeout already waited long: the host is down or cut off.
            ConnectError::Refused { .. }
            | ConnectError::Network { .. }
            | ConnectError::Protocol { .. } => true,
            ConnectError::Bastion { source, .. } => source.is_retryable(),
            _ => false,
        }
    }
}

/// Connects to `target` (through its jump host, if any), verifies its host key and logs
/// in.
pub fn connect(target: &Target) -> Result<Connection, ConnectError> {
    let addr = format!("{}:{}", target.address, target.port);
    let mut session = ssh2::Session::new().map_err(|e| protocol(&addr, &e))?;
    let (socket, tunnel) = match &target.bastion {
        None => {
            let stream = tcp_connect(&target.address, target.port, target.connect_timeout)?;
            let fd = stream.as_raw_fd();
            session.set_tcp_stream(stream);
            (fd, None)
        }
        Some(bastion) => {
            let jump = connect(bastion).map_err(|e| ConnectError::Bastion {
                bastion: bastion.describe(),
                source: Box::new(e),
            })?;
            let (socket, tunnel) =
                tunnel::open(jump, &target.address, target.port).map_err(|reason| {
                    ConnectError::Bastion {
                        bastion: bastion.describe(),
                        source: Box::new(ConnectError::Network {
                            addr: addr.clone(),
                            reason,
                        }),
                    }
                })?;
            let fd = socket.as_raw_fd();
            session.set_tcp_stream(socket);
            (fd, Some(tunnel))
        }
    };
    session.set_timeout(millis(target.connect_timeout));
    session
        .method_pref(
            ssh2::MethodType::HostKey,
            &target.host_key.algorithms(&target.address, target.port),
        )
        .map_err(|e| protocol(&addr, &e))?;
    session.handshake().map_err(|e| {
        if is_timeout(&e) {
            ConnectError::Timeout {
                addr: addr.clone(),
                seconds: target.connect_timeout.as_secs(),
            }
        } else {
            protocol(&addr, &e)
        }
    })?;
    let fingerprint = verify_host_key(&session, target, &addr)?;
    authenticate(&session, target, &addr)?;
    // Operations set their own timeouts. No SSH-level keepalive: libssh2 ends a blocking
    // wait at its next keepalive with a timeout error, which would fail any command that
    // is quiet for longer than the interval. TCP keepalives (set at connect) notice a
    // dead link instead.
    session.set_timeout(0);
    Ok(Connection::new(session, socket, fingerprint, tunnel))
}

fn tcp_connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let addr = format!("{host}:{port}");
    let candidates: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| ConnectError::Dns {
            host: host.to_owned(),
            reason: e.to_string(),
        })?
        .collect();
    if candidates.is_empty() {
        return Err(ConnectError::Dns {
            host: host.to_owned(),
            reason: "no addresses".into(),
        });
    }
    let mut last = None;
    for candidate in candidates {
        match TcpStream::connect_timeout(&candidate, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                tcp_keepalive(&stream);
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.expect("at least one candidate was tried");
    Err(match e.kind() {
        std::io::ErrorKind::ConnectionRefused => ConnectError::Refused { addr },
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ConnectError::Timeout {
            addr,
            seconds: timeout.as_secs(),
        },
        _ => ConnectError::Network {
            addr,
            reason: e.to_string(),
        },
    })
}

/// Probes an idle connection after 15 s, every 5 s, and gives up after 4 unanswered
/// probes, so a cut link fails within about 35 s instead of hanging. Best effort: a
/// platform refusing an option keeps the defaults.
fn tcp_keepalive(stream: &TcpStream) {
    let fd = stream.as_raw_fd();
    let set = |level: libc::c_int, name: libc::c_int, value: libc::c_int| {
        // SAFETY: `fd` is an open socket owned by `stream`; the option value is a c_int
        // whose size is passed alongside.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 15);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 5);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 4);
}

fn verify_host_key(
    session: &ssh2::Session,
    target: &Target,
    addr: &str,
) -> Result<String, ConnectError> {
    let Some((presented, _)) = session.host_key() else {
        return Err(ConnectError::Protocol {
            addr: addr.to_owned(),
            reason: "the server presented no host key".into(),
        });
    };
    target
        .host_key
        .check(presented, &target.address, target.port)
        .map(|()| host_key::fingerprint(presented))
        .map_err(|m| match (m.reason, m.expected.is_empty()) {
            _ if m.revoked.is_some() => ConnectError::HostKeyRevoked {
                addr: addr.to_owned(),
                actual: m.actual,
                at: m.revoked.unwrap_or_default(),
            },
            (Some(reason), _) => ConnectError::HostKeyUnknown {
                addr: addr.to_owned(),
                actual: m.actual,
                reason,
            },
            (None, true) => ConnectError::HostKeyUnknown {
                addr: addr.to_owned(),
                actual: m.actual,
                reason: "the known_hosts file has no entry for it".into(),
            },
            (None, false) => ConnectError::HostKeyMismatch {
                addr: addr.to_owned(),
                expected: m.expected.join(" or "),
                actual: m.actual,
            },
        })
}

fn authenticate(session: &ssh2::Session, target: &Target, addr: &str) -> Result<(), ConnectError> {
    let user = &target.user;
    let auth = &target.auth;
    let failed = |reason: String| ConnectError::Authentication {
        user: user.clone(),
        addr: addr.to_owned(),
        reason,
    };
    if auth.is_empty() {
        return Err(failed(
            "no credentials configured (set private_key, private_key_file, use_agent or password)"
                .into(),
        ));
    }
    let mut tried = Vec::new();
    let passphrase = auth.passphrase.as_deref();
    if let Some(key) = &auth.private_key {
        if session
            .userauth_pubkey_memory(user, None, key, passphrase)
            .is_ok()
        {
            return Ok(());
        }
        tried.push("private_key was not accepted".to_owned());
    }
    if let Some(path) = &auth.private_key_file {
        match session.userauth_pubkey_file(user, None, path, passphrase) {
            Ok(()) => return Ok(()),
            Err(_) if !path.exists() => tried.push(format!(
                "private_key_file {} does not exist",
                path.display()
            )),
            Err(_) => tried.push(format!(
                "the key in {} was not accepted (or its passphrase is wrong)",
                path.display()
            )),
        }
    }
    if auth.use_agent {
        match session.userauth_agent(user) {
            Ok(()) => return Ok(()),
            Err(_) => tried.push("no key of the ssh-agent was accepted".into()),
        }
    }
    if let Some(password) = &auth.password {
        if session.userauth_password(user, password).is_ok() {
            return Ok(());
        }
        tried.push("the password was not accepted".into());
    }
    Err(failed(tried.join("; ")))
}

fn protocol(addr: &str, e: &ssh2::Error) -> ConnectError {
    ConnectError::Protocol {
        addr: addr.to_owned(),
        reason: e.message().to_owned(),
    }
}

fn is_timeout(e: &ssh2::Error) -> bool {
    e.code() == ssh2::ErrorCode::Session(-9)
}

/// Milliseconds for libssh2, which takes a u32 (0 means no timeout).
pub(crate) fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}
