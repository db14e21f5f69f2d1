//! The jump host tunnel, like `ssh -J`: a direct-tcpip channel on the jump host's
//! connection, bridged to one end of a socket pair whose other end carries the target's
//! own SSH session. The target's session is end-to-end encrypted and its host key checked
//! as for a direct connection; the jump host only relays bytes.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

use super::Connection;

/// The relay thread; it ends when either side closes.
pub struct Tunnel {
    _relay: JoinHandle<()>,
}

/// Opens a channel from `jump` to `host:port` and returns the socket the target's
/// session should use.
pub fn open(jump: Connection, host: &str, port: u16) -> Result<(UnixStream, Tunnel), String> {
    let (ours, theirs) = UnixStream::pair().map_err(|e| e.to_string())?;
    let relay = bridge(jump, "the jump host", host, port, ours)?;
    Ok((theirs, Tunnel { _relay: relay }))
}

/// Opens a channel from `via` to `host:port` and relays it to `local` on a thread of its
/// own until either side closes.
pub fn bridge<S>(
    via: Connection,
    role: &str,
    host: &str,
    port: u16,
    local: S,
) -> Result<JoinHandle<()>, String>
where
    S: Read + Write + AsRawFd + Nonblocking + Send + 'static,
{
    let session = via.session().clone();
    let channel = session
        .channel_direct_tcpip(host, port, None)
        .map_err(|e| {
            format!(
                "{role} could not open a channel to {host}:{port}: {}",
                e.message()
            )
        })?;
    local.set_nonblocking(true).map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name(format!("ssh-relay-{host}"))
        .spawn(move || relay(via, channel, local))
        .map_err(|e| e.to_string())
}

/// Sockets that can stop blocking.
pub trait Nonblocking {
    fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()>;
}

impl Nonblocking for UnixStream {
    fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
        UnixStream::set_nonblocking(self, nonblocking)
    }
}

impl Nonblocking for std::net::TcpStream {
    fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
        std::net::TcpStream::set_nonblocking(self, nonblocking)
    }
}

/// Copies bytes both ways without blocking on either side, so that neither direction can
/// stall the other; waits in poll(2) when there is nothing to do.
fn relay<S: Read + Write + AsRawFd>(jump: Connection, mut channel: ssh2::Channel, mut local: S) {
    let session = jump.session().clone();
    session.set_blocking(false);
    let remote_fd = jump.socket_fd();
    let mut to_local: Vec<u8> = Vec::new();
    let mut to_remote: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut progress = false;
        if to_local.is_empty() {
            match channel.read(&mut buf) {
                Ok(0) if channel.eof() => return,
                Ok(0) => {}
                Ok(n) => {
                    to_local.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
        if !to_local.is_empty() {
            match local.write(&to_local) {
                Ok(n) => {
                    to_local.drain(..n);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
        if to_remote.is_empty() {
            match local.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    to_remote.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
        if !to_remote.is_empty() {
            match channel.write(&to_remote) {
                Ok(n) => {
                    to_remote.drain(..n);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
        if !progress {
            wait(
                remote_fd,
                local.as_raw_fd(),
                !to_local.is_empty(),
                !to_remote.is_empty(),
            );
        }
    }
}

/// Sleeps until either socket is ready (or 20 ms pass: libssh2 may hold data it has
/// already read from the socket, which poll cannot see).
fn wait(remote: RawFd, local: RawFd, local_out: bool, remote_out: bool) {
    let mut fds = [
        libc::pollfd {
            fd: remote,
            events: libc::POLLIN | if remote_out { libc::POLLOUT } else { 0 },
            revents: 0,
        },
        libc::pollfd {
            fd: local,
            events: libc::POLLIN | if local_out { libc::POLLOUT } else { 0 },
            revents: 0,
        },
    ];
    // SAFETY: `fds` is a valid array of two pollfd structs for the duration of the call.
    unsafe {
        libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 20);
    }
}
