//! One logged-in SSH connection: commands on exec channels and file uploads over one
//! SFTP session, opened on first use and kept for the connection's life.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::RawFd;
use std::path::Path;
use std::time::Duration;

use super::tunnel::Tunnel;

/// A logged-in connection to one host.
pub struct Connection {
    session: ssh2::Session,
    sftp: Option<ssh2::Sftp>,
    socket: RawFd,
    host_key_fingerprint: String,
    // Kept so the jump host relay lives as long as the connection through it.
    _tunnel: Option<Tunnel>,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a command or transfer did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The operation ran longer than allowed; the connection is no longer usable.
    #[error("timed out after {0}s")]
    Timeout(u64),
    /// The connection failed underneath the operation; reconnecting may help.
    #[error("the SSH connection failed: {0}")]
    Broken(String),
    /// The remote side refused the operation (e.g. a permission denied on SFTP).
    #[error("{0}")]
    Refused(String),
}

impl SessionError {
    /// Whether the connection must be dropped and opened again before further use.
    pub fn poisons_connection(&self) -> bool {
        !matches!(self, SessionError::Refused(_))
    }
}

impl Connection {
    pub(super) fn new(
        session: ssh2::Session,
        socket: RawFd,
        host_key_fingerprint: String,
        tunnel: Option<Tunnel>,
    ) -> Connection {
        Connection {
            session,
            sftp: None,
            socket,
            host_key_fingerprint,
            _tunnel: tunnel,
        }
    }

    pub(super) fn session(&self) -> &ssh2::Session {
        &self.session
    }

    pub(super) fn socket_fd(&self) -> RawFd {
        self.socket
    }

    /// The SHA256 fingerprint of the host key the host presented (and that was verified).
    pub fn host_key_fingerprint(&self) -> &str {
        &self.host_key_fingerprint
    }

    /// Runs `command` (a string the remote login shell interprets: callers quote every
    /// value) with `stdin` fed to it, and collects its output and exit code.
    pub fn exec(
        &mut self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, SessionError> {
        self.bounded(timeout, |c| c.exec_inner(command, stdin, timeout))
    }

    fn exec_inner(
        &mut self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, SessionError> {
        let fail = |e: std::io::Error| io_error(e, timeout);
        let started = std::time::Instant::now();
        let mut channel = self
            .session
            .channel_session()
            .map_err(|e| ssh_error(&e, timeout))?;
        channel.exec(command).map_err(|e| ssh_error(&e, timeout))?;
        if let Some(input) = stdin {
            channel.write_all(input).map_err(fail)?;
        }
        channel.send_eof().map_err(|e| ssh_error(&e, timeout))?;
        let mut stdout = Vec::new();
        channel.read_to_end(&mut stdout).map_err(fail)?;
        let mut stderr = Vec::new();
        channel.stderr().read_to_end(&mut stderr).map_err(fail)?;
        channel.wait_close().map_err(|e| ssh_error(&e, timeout))?;
        let exit_code = channel.exit_status().map_err(|e| ssh_error(&e, timeout))?;
        // The program only: arguments may carry configuration values, and standard input
        // carries the secrets, so neither is logged.
        tracing::debug!(
            program = program_name(command),
            exit_code,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ssh command"
        );
        tracing::trace!(
            stdin_bytes = stdin.map_or(0, <[u8]>::len),
            stdout_bytes = stdout.len(),
            stderr_bytes = stderr.len(),
            arguments = command.split_whitespace().count().saturating_sub(1),
            "ssh command output sizes"
        );
        Ok(Output {
            exit_code,
            stdout,
            stderr,
        })
    }

    /// Writes `content` to a new file at `path` created with `mode`, so that nobody the
    /// final mode excludes can read it, even for a moment. Fails if `path` exists.
    pub fn upload(
        &mut self,
        path: &str,
        content: &[u8],
        mode: i32,
        timeout: Duration,
    ) -> Result<(), SessionError> {
        self.bounded(timeout, |c| c.upload_inner(path, content, mode, timeout))
    }

    /// Runs `op` with every blocking call bounded by `timeout`; between operations the
    /// connection waits without limit (keepalives watch it).
    fn bounded<T>(
        &mut self,
        timeout: Duration,
        op: impl FnOnce(&mut Connection) -> Result<T, SessionError>,
    ) -> Result<T, SessionError> {
        self.session.set_timeout(super::millis(timeout));
        let result = op(self);
        self.session.set_timeout(0);
        result
    }

    fn upload_inner(
        &mut self,
        path: &str,
        content: &[u8],
        mode: i32,
        timeout: Duration,
    ) -> Result<(), SessionError> {
        if self.sftp.is_none() {
            let sftp = self.session.sftp().map_err(|e| ssh_error(&e, timeout))?;
            self.sftp = Some(sftp);
        }
        let sftp = self.sftp.as_ref().expect("opened above");
        let flags = ssh2::OpenFlags::WRITE | ssh2::OpenFlags::CREATE | ssh2::OpenFlags::EXCLUSIVE;
        let mut file = sftp
            .open_mode(Path::new(path), flags, mode, ssh2::OpenType::File)
            .map_err(|e| sftp_error(&e, path, timeout))?;
        file.write_all(content).map_err(|e| io_error(e, timeout))?;
        file.fsync().or_else(|e| match e.code() {
            // Servers without the fsync extension: the rename that follows still makes
            // the change atomic, just not durable against a power cut.
            ssh2::ErrorCode::SFTP(8) => Ok(()),
            _ => Err(sftp_error(&e, path, timeout)),
        })?;
        file.close().map_err(|e| sftp_error(&e, path, timeout))?;
        Ok(())
    }
}

impl Drop for Connection {
    // Closing waits for open channels to close; one abandoned after a timeout may run on
    // for ever on the host. Bound the goodbye instead of hanging on it.
    fn drop(&mut self) {
        self.session.set_timeout(2000);
    }
}

fn ssh_error(e: &ssh2::Error, timeout: Duration) -> SessionError {
    if e.code() == ssh2::ErrorCode::Session(-9) {
        SessionError::Timeout(timeout.as_secs())
    } else {
        SessionError::Broken(e.message().to_owned())
    }
}

fn sftp_error(e: &ssh2::Error, path: &str, timeout: Duration) -> SessionError {
    match e.code() {
        ssh2::ErrorCode::SFTP(code) => SessionError::Refused(format!(
            "SFTP refused {path:?}: {}",
            match code {
                2 => "no such file or directory",
                3 => "permission denied",
                4 => "failure (does it already exist, or is the disk full?)",
                _ => e.message(),
            }
        )),
        _ => ssh_error(e, timeout),
    }
}

fn io_error(e: std::io::Error, timeout: Duration) -> SessionError {
    if e.kind() == ErrorKind::TimedOut {
        SessionError::Timeout(timeout.as_secs())
    } else {
        SessionError::Broken(e.to_string())
    }
}

/// The program a command line runs: its first word, unquoted (`'sh' '-c' ...` -> `sh`).
fn program_name(command: &str) -> &str {
    let first = command.split_whitespace().next().unwrap_or_default();
    first.trim_matches('\'')
}
