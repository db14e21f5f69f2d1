use std::time::Duration;

use fleetform_sdk::Value;
use fleetform_sdk::health::{Connection, Deferred, Expiry, NodeCount, Part};
use time::OffsetDateTime;
use time::macros::datetime;

use super::group::SiteParts;
use super::*;
use crate::addrs::parse_abs_resource_instance;
use crate::state::{InstanceState, State};

fn addr(text: &str) -> AbsResourceInstance {
    parse_abs_resource_instance(text).unwrap()
}

const NOW: OffsetDateTime = datetime!(2026-12-07 12:00 UTC);

/// A state whose objects depend on each other as a site module records them: the pool on
/// the cluster, the Arc connection on a data source that depends on the cluster.
fn state() -> State {
    let mut state = State::new();
    let mut put = |a: &str, deps: &[&str]| {
        state.set(
            addr(a),
            InstanceState {
                provider: "provider.x".into(),
                schema_version: 0,
                value: Value::object([("id", Value::from(a))]),
                dependencies: deps.iter().map(|d| addr(d).abs_resource()).collect(),
                status: InstanceStatus::Ready,
                create_before_destroy: false,
                prevent_destroy: false,
            },
        );
    };
    let m = r#"module.site["north"]"#;
    put(&format!("{m}.host.node"), &[]);
    put(&format!("{m}.cluster.this"), &[&format!("{m}.host.node")]);
    put(
        &format!("{m}.node_pool.workers"),
        &[&format!("{m}.cluster.this")],
    );
    put(
        &format!("{m}.data.cluster_kubeconfig.this"),
        &[&format!("{m}.cluster.this")],
    );
    put(
        &format!("{m}.arc_connected_cluster.this"),
        &[&format!("{m}.data.cluster_kubeconfig.this")],
    );
    state
}

fn cluster(not_after: &str, renew_from: &str) -> fleetform_sdk::Health {
    fleetform_sdk::Health {
        part: Part::ControlPlane,
        name: "north".into(),
        cluster_id: Some("north-id".into()),
        kubernetes_version: Some("1.30.5".into()),
        nodes: Some(NodeCount { ready: 1, total: 1 }),
        certificates: vec![
            Expiry {
                name: "ca.crt".into(),
                not_after: "2036-12-01T00:00:00Z".into(),
                renew_from: Some("2036-11-01T00:00:00Z".into()),
            },
            Expiry {
                name: "apiserver.crt".into(),
                not_after: not_after.into(),
                renew_from: Some(renew_from.into()),
            },
        ],
        ..Default::default()
    }
}

fn pool(ready: usize) -> fleetform_sdk::Health {
    fleetform_sdk::Health {
        part: Part::NodePool,
        name: "workers".into(),
        cluster_id: Some("north-id".into()),
        kubernetes_version: Some("1.29.9".into()),
        nodes: Some(NodeCount { ready, total: 2 }),
        certificates: vec![Expiry {
            name: "w1/kubelet.conf".into(),
            not_after: "2027-06-01T00:00:00Z".into(),
            renew_from: Some("2027-05-01T00:00:00Z".into()),
        }],
        ..Default::default()
    }
}

fn arc(status: &str) -> fleetform_sdk::Health {
    fleetform_sdk::Health {
        part: Part::Connection,
        name: "north-arc".into(),
        connection: Some(Connection {
            status: status.into(),
            connected: status == "Connected",
            last_seen: Some("2026-12-07T11:59:00Z".into()),
            identity: Some(Expiry {
                name: "identity".into(),
                not_after: "2027-03-01T00:00:00Z".into(),
                renew_from: Some("2027-01-30T00:00:00Z".into()),
            }),
        }),
        ..Default::default()
    }
}

fn site(reports: Vec<(&str, fleetform_sdk::Health)>) -> SiteParts {
    SiteParts {
        resources: 5,
        reports: reports
            .into_iter()
            .map(|(a, h)| (addr(&format!(r#"module.site["north"].{a}"#)), h))
            .collect(),
        tainted: Vec::new(),
        interrupted: Vec::new(),
        deferred: Vec::new(),
        rollout_failures: Vec::new(),
    }
}

#[test]
fn parts_join_their_cluster_and_the_soonest_certificate_is_found() {
    let mut arc = arc("Connected");
    arc.cluster_id = None;
    let mut other = cluster("2028-12-01T00:00:00Z", "2028-11-01T00:00:00Z");
    other.name = "spare".into();
    other.cluster_id = Some("spare-id".into());
    let parts = site(vec![
        ("arc_connected_cluster.this", arc),
        ("node_pool.workers", pool(2)),
        (
            "cluster.this",
            cluster("2027-12-01T00:00:00Z", "2027-11-01T00:00:00Z"),
        ),
        ("cluster.spare", other),
    ]);
    let s = parts.finish(r#"module.site["north"]"#.into(), &state(), None, NOW);
    assert_eq!(s.clusters.len(), 2, "{s:#?}");
    let spare = &s.clusters[1];
    assert_eq!((spare.name.as_str(), spare.pools.len()), ("spare", 1));
    assert_eq!(spare.connection, None);
    let c = &s.clusters[0];
    assert_eq!(c.name, "north");
    let pools: Vec<(&str, Option<&str>, bool)> = c
        .pools
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.kubernetes_version.as_deref(),
                p.control_plane,
            )
        })
        .collect();
    assert_eq!(
        pools,
        [
            ("control-plane", Some("1.30.5"), true),
            ("workers", Some("1.29.9"), false)
        ]
    );
    assert_eq!(c.nodes(), Some(NodeCount { ready: 3, total: 3 }));
    // The pool's kubelet certificate expires before the API server's.
    let soonest = c.soonest_certificate.as_ref().unwrap();
    assert_eq!(
        (soonest.name.as_str(), soonest.owner.as_str()),
        (
            "w1/kubelet.conf",
            r#"module.site["north"].node_pool.workers"#
        )
    );
    // The connection names no cluster id: it belongs to the cluster it depended on
    // through the kubeconfig data source.
    let conn = c.connection.as_ref().expect("the Arc connection joined");
    assert_eq!((conn.status.as_str(), conn.connected), ("Connected", true));
    assert_eq!(s.health, Health::Healthy, "{:?}", s.reasons);
    assert_eq!(s.refresh, Refresh::Skipped);
    assert_eq!(s.drift, None, "not refreshed: drift is unknown");
}

#[test]
fn what_needs_doing_soon_is_amber_and_what_cannot_be_seen_is_red() {
    let mut deferred = arc("Offline");
    deferred.deferred = Some(Deferred {
        action: "install the Arc agents in the cluster".into(),
        since: Some("2026-12-07T10:00:00Z".into()),
        reason: Some("the API server could not be reached".into()),
    });
    let parts = site(vec![
        (
            "cluster.this",
            cluster("2027-01-01T00:00:00Z", "2026-12-02T00:00:00Z"),
        ),
        ("node_pool.workers", pool(1)),
        ("arc_connected_cluster.this", deferred),
    ]);
    let s = parts.finish("site".into(), &state(), None, NOW);
    assert_eq!(s.health, Health::Attention);
    let reasons = s.reasons.join("\n");
    for expected in [
        "north: 1 of 2 nodes Ready in workers",
        "north: certificate apiserver.crt expires 2027-01-01T00:00:00Z, within its renewal window",
        "north: Arc connectivity Offline",
        "1 deferred change(s)",
    ] {
        assert!(reasons.contains(expected), "{expected:?} in:\n{reasons}");
    }
    assert_eq!(
        s.deferred,
        [DeferredWork {
            address: r#"module.site["north"].arc_connected_cluster.this"#.into(),
            action: "install the Arc agents in the cluster".into(),
            since: Some("2026-12-07T10:00:00Z".into()),
            reason: Some("the API server could not be reached".into()),
        }]
    );

    let expired = site(vec![(
        "cluster.this",
        cluster("2026-12-01T00:00:00Z", "2026-11-01T00:00:00Z"),
    )]);
    let s = expired.finish("site".into(), &state(), None, NOW);
    assert_eq!(s.health, Health::Failing);
    assert!(
        s.reasons[0].contains("apiserver.crt expired"),
        "{:?}",
        s.reasons
    );
}

#[test]
fn an_unreachable_site_is_red_and_a_cluster_less_site_is_listed_plainly() {
    let mut status = FleetStatus {
        workspace: "default".into(),
        gathered_at: String::new(),
        refreshed: true,
        site_timeout: Duration::from_secs(10),
        sites: Vec::new(),
        last_apply: None,
        rollouts: Default::default(),
    };
    let plain = SiteParts {
        resources: 3,
        ..Default::default()
    };
    let s = plain.finish("root".into(), &State::new(), Some(None), NOW);
    assert!(s.clusters.is_empty());
    assert_eq!(s.health, Health::Healthy);
    assert_eq!(s.drift, Some(Vec::new()));
    status.sites.push(s);
    let started = std::time::Instant::now();
    let cut = super::refresh::SiteRefresh {
        started,
        last: started + Duration::from_secs(10),
        unreachable: Some("no answer within 10s".into()),
        drift: Vec::new(),
        errors: Vec::new(),
    };
    let s = site(vec![(
        "cluster.this",
        cluster("2027-12-01T00:00:00Z", "2027-11-01T00:00:00Z"),
    )])
    .finish("site".into(), &state(), Some(Some(&cut)), NOW);
    assert_eq!(s.health, Health::Failing);
    assert_eq!(s.reasons, ["unreachable: no answer within 10s"]);
    assert_eq!(
        s.refresh,
        Refresh::Unreachable {
            reason: "no answer within 10s".into(),
            elapsed: Duration::from_secs(10)
        }
    );
    assert_eq!(
        s.clusters[0].pools[0].kubernetes_version.as_deref(),
        Some("1.30.5")
    );
    assert_eq!(
        provider_name(r#"module.a["x"].provider.host.west"#).as_deref(),
        Some("host")
    );
    assert_eq!(
        provider_name("provider.fleetform").as_deref(),
        Some("fleetform")
    );
    let secret = Value::object([
        ("name", Value::from("north")),
        ("token", Value::from("t0k3n").into_sensitive()),
    ]);
    assert_eq!(
        without_secrets(&secret),
        Value::object([("name", Value::from("north")), ("token", Value::Null)])
    );
}

#[test]
fn deferred_changes_and_rollout_failures_from_state_show_on_their_site() {
    let mut report = arc("Offline");
    report.deferred = Some(Deferred {
        action: "install the Arc agents in the cluster".into(),
        since: None,
        reason: None,
    });
    let mut parts = site(vec![
        (
            "cluster.this",
            cluster("2027-12-01T00:00:00Z", "2027-11-01T00:00:00Z"),
        ),
        ("arc_connected_cluster.this", report),
    ]);
    let recorded = |a: &str, action: &str| DeferredWork {
        address: format!(r#"module.site["north"].{a}"#),
        action: action.into(),
        since: Some("2026-12-07T09:00:00Z".into()),
        reason: Some("no route to host".into()),
    };
    parts.deferred = vec![
        recorded("cluster.this", "update"),
        recorded("arc_connected_cluster.this", "create"),
    ];
    parts.rollout_failures = vec![("kubernetes".into(), "nodes_ready did not pass".into())];
    let s = parts.finish("site".into(), &state(), None, NOW);
    // What the state records is shown once per object, before a provider's own report.
    assert_eq!(
        s.deferred,
        [
            recorded("cluster.this", "update"),
            recorded("arc_connected_cluster.this", "create")
        ]
    );
    assert_eq!(s.health, Health::Failing);
    assert_eq!(
        s.reasons[0],
        "failed in rollout kubernetes: nodes_ready did not pass"
    );
    assert!(
        s.reasons.contains(&"2 deferred change(s)".to_owned()),
        "{:?}",
        s.reasons
    );
}
