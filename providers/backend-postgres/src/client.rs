//! The only file that talks to PostgreSQL: connections (TLS verified unless `sslmode`
//! disables it) whose calls run on the backend's [`Worker`], so the engine's synchronous
//! store calls never block a runtime of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use fleetform_planner::state::backend::remote::Worker;
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls, Statement};

use crate::config::Settings;

/// A future a database call returns.
pub(crate) type Call<T> = Pin<Box<dyn Future<Output = Result<T, tokio_postgres::Error>> + Send>>;

/// Bytes of a state or journal record passed to a statement. tokio-postgres logs statement
/// parameters at debug level; this one's `Debug` shows only its length, so no state (plain
/// or not) reaches the logs.
pub(crate) struct Opaque(pub Vec<u8>);

impl std::fmt::Debug for Opaque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({} bytes, not shown)", self.0.len())
    }
}

impl tokio_postgres::types::ToSql for Opaque {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.0.as_slice().to_sql(ty, out)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <&[u8] as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

/// One connection (one database session: its advisory locks live and die with it).
pub(crate) struct Db {
    worker: Arc<Worker>,
    client: Arc<Mutex<Client>>,
}

/// Why a call failed, as text for `StateError::Remote` (never with the connection string).
pub(crate) fn message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Db {
    /// Connects with `settings`.
    pub(crate) fn connect(worker: Arc<Worker>, settings: &Settings) -> Result<Db, String> {
        let config: Config = settings
            .conn_str
            .parse()
            .map_err(|e: tokio_postgres::Error| {
                format!("invalid connection string: {}", message(&e))
            })?;
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => None,
            _ => Some(tls()?),
        };
        let spawner = worker.clone();
        let client = worker
            .run(async move {
                let connected = match tls {
                    None => config.connect(NoTls).await.map(|(client, conn)| {
                        spawner.spawn(async move {
                            if let Err(e) = conn.await {
                                tracing::debug!("postgres connection ended: {}", message(&e));
                            }
                        });
                        client
                    }),
                    Some(tls) => config.connect(tls).await.map(|(client, conn)| {
                        spawner.spawn(async move {
                            if let Err(e) = conn.await {
                                tracing::debug!("postgres connection ended: {}", message(&e));
                            }
                        });
                        client
                    }),
                };
                connected.map_err(|e| format!("cannot connect to PostgreSQL: {}", message(&e)))
            })
            .ok_or_else(|| "the backend's worker stopped".to_owned())??;
        Ok(Db {
            worker,
            client: Arc::new(Mutex::new(client)),
        })
    }

    /// Runs `call` with this connection to itself, waiting for it.
    pub(crate) fn run<T, F>(&self, call: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(OwnedMutexGuard<Client>) -> Call<T> + Send + 'static,
    {
        let client = self.client.clone();
        self.worker
            .run(async move {
                let guard = client.lock_owned().await;
                call(guard).await
            })
            .ok_or_else(|| "the backend's worker stopped".to_owned())?
            .map_err(|e| message(&e))
    }
}

/// A journal's INSERT of one record (workspace, partition, lineage, base serial, record),
/// prepared on its connection at the first record: each later one is one round trip, and
/// the server parses and plans the statement once.
pub(crate) struct RecordInsert {
    sql: String,
    statement: Option<Statement>,
}

impl RecordInsert {
    /// The insert into `journal`, the journal table's qualified name.
    pub(crate) fn new(journal: &str) -> RecordInsert {
        RecordInsert {
            sql: format!(
                "INSERT INTO {journal} (workspace, partition, lineage, base_serial, record) VALUES ($1, $2, $3, $4, $5)"
            ),
            statement: None,
        }
    }

    /// Inserts one record and commits it.
    pub(crate) fn run(
        &mut self,
        db: &Db,
        workspace: String,
        partition: String,
        lineage: String,
        serial: i64,
        record: Opaque,
    ) -> Result<(), String> {
        let (sql, prepared) = (self.sql.clone(), self.statement.clone());
        let statement = db.run(move |c| {
            Box::pin(async move {
                let statement = match prepared {
                    Some(s) => s,
                    None => c.prepare(&sql).await?,
                };
                c.execute(
                    &statement,
                    &[&workspace, &partition, &lineage, &serial, &record],
                )
                .await?;
                Ok(statement)
            })
        })?;
        self.statement = Some(statement);
        Ok(())
    }
}

/// rustls with the system's roots and PGSSLROOTCERT's; the server's name is always checked.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Ok(path) = std::env::var("PGSSLROOTCERT") {
        let pem = std::fs::read(&path).map_err(|e| format!("PGSSLROOTCERT {path}: {e}"))?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| format!("PGSSLROOTCERT {path}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("PGSSLROOTCERT {path}: {e}"))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
