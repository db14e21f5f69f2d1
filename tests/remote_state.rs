//! Fleets whose state lives in a real PostgreSQL or Azurite (see [`crate::services`]), for
//! tests and benchmarks that drive the binary as a pipeline would: `init -input=false`
//! with `-backend-config`, then plan and apply.

use std::path::Path;
use std::process::{Command, Output};

use crate::services::{azurite, postgres};

/// A state backend kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The local file.
    Local,
    /// PostgreSQL.
    Postgres,
    /// Azure Blob Storage (Azurite).
    Azurerm,
}

/// A backend for one fleet: the `backend` block, the `init` flags and the environment.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Which kind.
    pub kind: Kind,
    /// The `backend "…" {}` block for the fleet block (empty: the default local file).
    pub block: String,
    /// `-backend-config` flags for `init`.
    pub init_args: Vec<String>,
    /// Environment for every command (credentials).
    pub env: Vec<(String, String)>,
}

impl Remote {
    /// A backend of `kind` whose state is kept apart from every other test's under `name`
    /// (a PostgreSQL schema, an Azurite container), starting its server if needed.
    pub fn new(kind: Kind, name: &str) -> Remote {
        match kind {
            Kind::Local => Remote {
                kind,
                block: String::new(),
                init_args: Vec::new(),
                env: Vec::new(),
            },
            Kind::Postgres => {
                let pg = postgres::shared();
                Remote {
                    kind,
                    block: format!("backend \"postgres\" {{\n    schema_name = \"{name}\"\n  }}"),
                    init_args: vec![format!("-backend-config=conn_str={}", pg.conn_str())],
                    env: Vec::new(),
                }
            }
            Kind::Azurerm => {
                let az = azurite::shared();
                create_container(name);
                Remote {
                    kind,
                    block: format!(
                        "backend \"azurerm\" {{\n    storage_account_name = \"{}\"\n    container_name       = \"{name}\"\n    key                  = \"fleet.state\"\n    lease_duration       = 15\n  }}",
                        azurite::ACCOUNT
                    ),
                    init_args: vec![format!("-backend-config=endpoint={}", az.endpoint())],
                    env: vec![("ARM_ACCESS_KEY".into(), azurite::ACCOUNT_KEY.into())],
                }
            }
        }
    }

    /// The fleet block holding this backend and `extra` (e.g. an encryption block).
    pub fn fleet_block(&self, extra: &str) -> String {
        format!("fleet {{\n  {}\n  {extra}\n}}\n", self.block)
    }

    /// A `fleetform` command for a fleet in `dir` using this backend.
    pub fn command(&self, dir: &Path) -> Command {
        let mut cmd = crate::fleetform();
        cmd.current_dir(dir);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `fleetform ARGS` in `dir`.
    pub fn run(&self, dir: &Path, args: &[&str]) -> Output {
        self.command(dir)
            .args(args)
            .output()
            .expect("run fleetform")
    }

    /// `fleetform init -input=false` with this backend's flags (and `extra`).
    pub fn init(&self, dir: &Path, extra: &[&str]) -> Output {
        let mut args: Vec<&str> = vec!["init", "-input=false", "-no-color"];
        args.extend(self.init_args.iter().map(String::as_str));
        args.extend(extra);
        self.run(dir, &args)
    }
}

/// The backend's own Blob client for an Azurite container, and a runtime to drive it.
fn blob_client(
    container: &str,
) -> (
    fleetform_backend_azurerm::client::BlobClient,
    tokio::runtime::Runtime,
) {
    use fleetform_planner::state::backend::codec::Codec;
    use fleetform_planner::state::backend::registry::BackendRequest;
    use fleetform_sdk::Value;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let az = azurite::shared();
    let mut s = indexmap::IndexMap::new();
    s.insert(
        "storage_account_name".to_owned(),
        Value::from(azurite::ACCOUNT),
    );
    s.insert("container_name".to_owned(), Value::from(container));
    s.insert("key".to_owned(), Value::from("fleet.state"));
    s.insert("endpoint".to_owned(), Value::from(az.endpoint().as_str()));
    s.insert("access_key".to_owned(), Value::from(azurite::ACCOUNT_KEY));
    let request = BackendRequest {
        settings: &s,
        env: &[],
        dir: Path::new("."),
        codec: Codec::default(),
    };
    let settings = fleetform_backend_azurerm::Settings::from_request(&request).expect("settings");
    let client = fleetform_backend_azurerm::client::BlobClient::new(&settings).expect("client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    (client, rt)
}

/// Creates an Azurite container with the backend's own client.
pub fn create_container(name: &str) {
    let (client, rt) = blob_client(name);
    rt.block_on(client.create_container())
        .expect("create the container");
}

/// The raw bytes of an Azurite blob (`None` when absent).
pub fn blob(container: &str, name: &str) -> Option<Vec<u8>> {
    let (client, rt) = blob_client(container);
    rt.block_on(client.get(name))
        .expect("get the blob")
        .map(|(b, _)| b)
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
