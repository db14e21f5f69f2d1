//! A PostgreSQL 15 server for tests: `initdb` (as the `postgres` user: the server refuses
//! root) and `pg_ctl start` on a free loopback port, its socket and data in a temporary
//! directory, trust authentication on loopback only.
//!
//! ```no_run
//! let pg = fleetform_tests::services::postgres::shared();
//! let conn_str = pg.conn_str();
//! # let _ = conn_str;
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::{after_this_process, free_port, wait_for_port};

/// Where the server binaries are (`FLEETFORM_PG_BIN` overrides).
pub fn bin_dir() -> PathBuf {
    std::env::var_os("FLEETFORM_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// A running server.
#[derive(Debug)]
pub struct Postgres {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// Its data directory.
    pub data: PathBuf,
}

impl Postgres {
    /// A connection string for the `postgres` database as the `postgres` user.
    pub fn conn_str(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable",
            self.port
        )
    }

    /// Runs `sql` with psql and returns its unaligned output (rows `|`-separated).
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(bin_dir().join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args([
                "-d",
                "postgres",
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// The server of this test process, started on first use.
pub fn shared() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(|| start().unwrap_or_else(|e| panic!("{e}")))
}

fn as_postgres(program: &Path) -> Command {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", "postgres", "--"]).arg(program);
    cmd
}

/// Starts a new server.
pub fn start() -> Result<Postgres, String> {
    let bin = bin_dir();
    if !bin.join("initdb").is_file() {
        return Err(format!(
            "PostgreSQL 15's server binaries are missing from {}: install them with `apt-get install -y postgresql-15` (.ci/run does), or set FLEETFORM_PG_BIN",
            bin.display()
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("fleetform-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let data = dir.join("data");
    let chown = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(&dir)
        .status()
        .map_err(|e| e.to_string())?;
    if !chown.success() {
        return Err(format!(
            "cannot give {} to the postgres user",
            dir.display()
        ));
    }
    let out = as_postgres(&bin.join("initdb"))
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb: {}", String::from_utf8_lossy(&out.stderr)));
    }
    after_this_process(
        &format!(
            "runuser -u postgres -- '{}' -D '{}' -m immediate stop",
            bin.join("pg_ctl").display(),
            data.display()
        ),
        &dir,
    );
    for _ in 0..5 {
        let port = free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400",
            dir.display()
        );
        let mut cmd = Command::new("setsid");
        cmd.args(["runuser", "-u", "postgres", "--"])
            .arg(bin.join("pg_ctl"))
            .args(["-w", "-t", "30", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-o", &options, "start"]);
        let out = cmd.output().map_err(|e| format!("pg_ctl: {e}"))?;
        if out.status.success() && wait_for_port(port, Duration::from_secs(10)) {
            return Ok(Postgres { port, data });
        }
    }
    Err(format!(
        "PostgreSQL did not start: see {}",
        dir.join("server.log").display()
    ))
}
