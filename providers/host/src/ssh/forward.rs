//! Local port forwarding, like `ssh -L`: a listener on 127.0.0.1 whose connections are
//! carried to a port the host can reach (its own API server, behind a clinic's jump host)
//! over direct-tcpip channels. Each accepted connection gets an SSH connection of its own,
//! with the same host key pin and credentials as every other connection to the host.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use super::{ConnectError, Target, connect, tunnel};

/// A forward, open until dropped.
pub struct Forward {
    local: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Forward {
    /// Forwards a local port to `host:port` as `target` reaches it. Connects once first, so
    /// that an unreachable host or a refused key fails here rather than inside a client.
    pub fn open(target: Target, host: String, port: u16) -> Result<Forward, ConnectError> {
        drop(connect(&target)?);
        let network = |e: std::io::Error| ConnectError::Network {
            addr: "127.0.0.1".into(),
            reason: format!("cannot listen for a port forward: {e}"),
        };
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(network)?;
        let local = listener.local_addr().map_err(network)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let connecting = Arc::new(Slots::new(CONNECTING_AT_ONCE));
        let accept = std::thread::Builder::new()
            .name(format!("ssh-forward-{host}:{port}"))
            .spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    // Each connection makes its own SSH connection (through a jump host,
                    // two), which takes a while: done on a thread of its own, so that
                    // clients connecting at once do not wait for each other and time out.
                    let (target, host) = (target.clone(), host.clone());
                    let connecting = connecting.clone();
                    let carried = std::thread::Builder::new()
                        .name(format!("ssh-forward-{host}:{port}-carry"))
                        .spawn(move || carry(&target, &host, port, stream, &connecting));
                    if let Err(e) = carried {
                        tracing::warn!(port, "port forward: cannot start a thread: {e}");
                    }
                }
            })
            .map_err(network)?;
        Ok(Forward {
            local,
            stop,
            accept: Some(accept),
        })
    }

    /// Where clients connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// SSH connections a forward opens at once. sshd drops unauthenticated connections beyond
/// `MaxStartups` (10 by default), which a burst of API clients would exceed; the rest wait.
const CONNECTING_AT_ONCE: usize = 4;

/// A counting semaphore for threads.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    /// Runs `f` holding a slot.
    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            while *free == 0 {
                free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
            }
            *free -= 1;
        }
        let out = f();
        *self.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.freed.notify_one();
        out
    }
}

fn carry(target: &Target, host: &str, port: u16, stream: TcpStream, connecting: &Slots) {
    match connecting.with(|| connect(target)) {
        Ok(connection) => {
            if let Err(e) = tunnel::bridge(connection, "the host", host, port, stream) {
                tracing::warn!(host, port, "port forward: {e}");
            }
        }
        Err(e) => tracing::warn!(host, port, "port forward: {e}"),
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag and ends.
        let _ = TcpStream::connect(self.local);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}
