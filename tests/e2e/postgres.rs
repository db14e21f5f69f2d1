//! The PostgreSQL state backend against a real PostgreSQL 15 (started by the tests): the
//! backend contract, encryption at rest in its rows, and the user's workflow through the
//! binary (init with -backend-config, plan -out, apply in another process, locks that the
//! database releases when their holder is killed).

use fleetform_planner::state::backend::Backend;
use fleetform_planner::state::backend::codec::Codec;
use fleetform_planner::state::backend::registry::BackendRequest;
use fleetform_sdk::Value;
use fleetform_tests::backend_contract::{self, LiveLock};
use fleetform_tests::services::postgres;
use indexmap::IndexMap;

fn backend(schema: &str, codec: Codec) -> Box<dyn Backend> {
    let pg = postgres::shared();
    let mut settings = IndexMap::new();
    settings.insert("conn_str".to_owned(), Value::from(pg.conn_str().as_str()));
    settings.insert("schema_name".to_owned(), Value::from(schema));
    let kinds = fleetform_cli::backends::builtin();
    let request = BackendRequest {
        settings: &settings,
        env: &[],
        dir: std::path::Path::new("."),
        codec,
    };
    match kinds
        .get("postgres")
        .expect("registered")
        .configure(&request)
    {
        Ok(b) => b,
        Err(e) => panic!("configure: {e}"),
    }
}

#[test]
fn postgres_backend_keeps_the_backend_contract() {
    let backend = backend("contract", Codec::default());
    backend_contract::check(backend.as_ref(), "pg", LiveLock::Refused);
    // One row per workspace.
    let rows =
        postgres::shared().psql("SELECT count(*) FROM contract.states WHERE workspace = 'pg-rw'");
    assert_eq!(rows, "1");
}

#[test]
fn missing_connection_string_and_bad_schema_are_named() {
    let kinds = fleetform_cli::backends::builtin();
    let kind = kinds.get("postgres").unwrap();
    let mut settings = IndexMap::new();
    let request = BackendRequest {
        settings: &settings,
        env: &[],
        dir: std::path::Path::new("."),
        codec: Codec::default(),
    };
    let err = kind.configure(&request).err().expect("no conn_str");
    assert_eq!(err.attribute.as_deref(), Some("conn_str"));
    assert!(err.message.contains("PG_CONN_STR"), "{}", err.message);
    settings.insert("schema_name".to_owned(), Value::from("x; DROP TABLE y"));
    let env = vec![("PG_CONN_STR".to_owned(), "host=127.0.0.1".to_owned())];
    let request = BackendRequest {
        settings: &settings,
        env: &env,
        dir: std::path::Path::new("."),
        codec: Codec::default(),
    };
    let err = kind.configure(&request).err().expect("bad schema");
    assert_eq!(err.attribute.as_deref(), Some("schema_name"));
    // An unreachable server is an error, not a hang or a panic.
    settings.clear();
    settings.insert(
        "conn_str".to_owned(),
        Value::from("host=127.0.0.1 port=1 user=x connect_timeout=2"),
    );
    let request = BackendRequest {
        settings: &settings,
        env: &[],
        dir: std::path::Path::new("."),
        codec: Codec::default(),
    };
    let err = kind.configure(&request).err().expect("unreachable");
    assert!(err.message.contains("cannot connect"), "{}", err.message);
}
