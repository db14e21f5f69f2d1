//! The lab API server (`fleetform-lab-apiserver`) against a real etcd, with a kubeadm-layout
//! PKI issued by fleetform's own code, checked through kube-rs, kubectl, raw HTTPS and
//! etcdctl: health, authentication by client certificate (and refusal of foreign ones),
//! authorization (the admin.conf identity has no rights until its binding exists),
//! optimistic concurrency, Status errors, eviction against PodDisruptionBudgets, and
//! several API servers on one etcd.
//!
//! nextest runs every test in its own process, so a fixture cannot be shared between
//! tests: each test starts its own etcd and API server(s), which takes a fraction of a
//! second.

mod apply;
mod cluster;

use std::process::Command;
use std::time::Duration;

use fleetform_provider_kubernetes::pki::KeyAlgorithm;
use fleetform_tests::output_text as text;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use cluster::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_version_and_anonymous_access() {
    let cluster = Cluster::start();
    let anonymous = cluster.http(None);
    let base = cluster.url(0);

    let readyz = anonymous
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(readyz.status(), 200);
    assert_eq!(readyz.text().await.unwrap(), "ok");
    let verbose = anonymous
        .get(format!("{base}/readyz?verbose"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(verbose.contains("[+]etcd ok\n"), "{verbose}");
    assert!(verbose.ends_with("readyz check passed\n"), "{verbose}");
    for path in ["/livez", "/healthz"] {
        let r = anonymous.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    // Single checks are not public (system:public-info-viewer lists the bare paths only).
    let r = anonymous
        .get(format!("{base}/readyz/etcd"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let admin = cluster.http(Some(cluster.identity("super-admin.conf")));
    let r = admin
        .get(format!("{base}/readyz/etcd"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap().as_str()),
        (200, "ok")
    );

    let (code, version) = get_json(&anonymous, &format!("{base}/version")).await;
    assert_eq!(code, 200);
    assert_eq!(
        (&version["gitVersion"], &version["major"], &version["minor"]),
        (&json!("v1.31.2"), &json!("1"), &json!("31"))
    );
    let kube_version = cluster
        .client("super-admin.conf", 0)
        .await
        .apiserver_version()
        .await
        .unwrap();
    assert_eq!(kube_version.git_version, "v1.31.2");

    // Anonymous requests reach only the public health and version endpoints.
    let (code, status) = get_json(&anonymous, &format!("{base}/api/v1/nodes")).await;
    assert_eq!(code, 403);
    assert_status(
        &status,
        403,
        "Forbidden",
        "nodes is forbidden: User \"system:anonymous\" cannot list resource \"nodes\" in API group \"\" at the cluster scope",
    );
    assert_eq!(status["details"], json!({"kind": "nodes"}));
    let (code, status) = get_json(&anonymous, &format!("{base}/apis")).await;
    assert_eq!(code, 403);
    assert_eq!(
        status["message"],
        "forbidden: User \"system:anonymous\" cannot get path \"/apis\""
    );
    // An unverifiable token is not anonymous: 401.
    let r = anonymous
        .get(format!("{base}/readyz"))
        .bearer_auth("made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let out = cluster.kubectl("admin.conf", 0, &["get", "--raw", "/readyz"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok");

    // The start-up line at info, and one line per request at debug.
    let log = cluster.log(0);
    assert!(log.contains("serving on https://127.0.0.1:"), "{log}");
    assert!(
        log.contains("path=/api/v1/nodes user=system:anonymous code=403"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_conf_has_rights_only_through_its_binding() {
    let cluster = Cluster::start();
    let admin = cluster.client("admin.conf", 0).await;
    let nodes: Api<Node> = Api::all(admin.clone());
    let status = api_error(nodes.list(&ListParams::default()).await);
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        status.message,
        "nodes is forbidden: User \"kubernetes-admin\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
    );
    let out = cluster.kubectl("admin.conf", 0, &["get", "nodes"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "Error from server (Forbidden): nodes is forbidden: User \"kubernetes-admin\" cannot list resource \"nodes\""
        ),
        "{}",
        text(&out)
    );

    // What the cluster provider does with super-admin.conf, as kubeadm init does.
    let super_admin = cluster.client("super-admin.conf", 0).await;
    let bindings: Api<ClusterRoleBinding> = Api::all(super_admin);
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "kubeadm:cluster-admins"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "kubeadm:cluster-admins"}],
    }))
    .unwrap();
    bindings
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();

    let listed = nodes.list(&ListParams::default()).await.unwrap();
    assert!(listed.items.is_empty());
    let namespaces: Api<Namespace> = Api::all(admin);
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .collect();
    for ns in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        assert!(names.contains(&ns.to_owned()), "{names:?}");
    }
    let out = cluster.kubectl("admin.conf", 0, &["get", "ns"]);
    assert!(out.status.success(), "{}", text(&out));
    let rows = table_rows(&out);
    assert_eq!(rows[0], ["NAME", "STATUS", "AGE"]);
    assert!(
        rows.iter().any(|r| r[..2] == ["kube-system", "Active"]),
        "{rows:?}"
    );
    let out = cluster.kubectl("admin.conf", 0, &["get", "nodes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No resources found"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_round_trip_with_optimistic_concurrency() {
    let cluster = Cluster::start();
    let client = cluster.client("super-admin.conf", 0).await;
    let nodes: Api<Node> = Api::all(client.clone());

    let created = nodes
        .create(
            &PostParams::default(),
            &node("crud-1", json!({"role": "db", "zone": "a"})),
        )
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));
    let first_version = meta.resource_version.clone().unwrap();
    nodes
        .create(
            &PostParams::default(),
            &node("crud-2", json!({"role": "web"})),
        )
        .await
        .unwrap();

    let status = api_error(
        nodes
            .create(&PostParams::default(), &node("crud-1", json!({})))
            .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "AlreadyExists")
    );
    assert_eq!(status.message, "nodes \"crud-1\" already exists");

    let got = nodes.get("crud-1").await.unwrap();
    assert_eq!(
        got.metadata.resource_version.as_deref(),
        Some(first_version.as_str())
    );
    let names = |list: kube::core::ObjectList<Node>| -> Vec<String> {
        list.items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect()
    };
    assert_eq!(
        names(
            nodes
                .list(&ListParams::default().labels("role=db"))
                .await
                .unwrap()
        ),
        ["crud-1"]
    );
    assert_eq!(
        names(
            nodes
                .list(&ListParams::default().labels("role in (db,web),zone!=a"))
                .await
                .unwrap()
        ),
        ["crud-2"]
    );
    assert_eq!(
        names(
            nodes
                .list(&ListParams::default().labels("!zone"))
                .await
                .unwrap()
        ),
        ["crud-2"]
    );
    assert_eq!(
        names(
            nodes
                .list(&ListParams::default().fields("metadata.name=crud-2"))
                .await
                .unwrap()
        ),
        ["crud-2"]
    );

    // Update with the current version succeeds; with the old one it conflicts.
    let mut changed = got.clone();
    changed
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("zone".into(), "b".into());
    let updated = nodes
        .replace("crud-1", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_ne!(
        updated.metadata.resource_version.as_deref(),
        Some(first_version.as_str())
    );
    let status = api_error(
        nodes
            .replace("crud-1", &PostParams::default(), &changed)
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        status.message,
        "Operation cannot be fulfilled on nodes \"crud-1\": the object has been modified; please apply your changes to the latest version and try again"
    );

    // Merge patch, and a stale resourceVersion in a patch.
    let patched = nodes
        .patch(
            "crud-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.spec.unwrap().unschedulable, Some(true));
    assert_eq!(patched.metadata.generation, Some(2));
    let status = api_error(
        nodes
            .patch(
                "crud-1",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"resourceVersion": first_version}})),
            )
            .await,
    );
    assert_eq!(status.code, 409);

    // Status is a subresource: the object's update leaves it, status updates change only it.
    let with_status = nodes
        .patch_status(
            "crud-1",
            &PatchParams::default(),
            &Patch::Merge(json!({
                "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]},
                "metadata": {"labels": {"ignored": "yes"}},
            })),
        )
        .await
        .unwrap();
    assert!(!with_status.metadata.labels.unwrap().contains_key("ignored"));
    let mut replaced = nodes.get("crud-1").await.unwrap();
    replaced.status = None;
    let replaced = nodes
        .replace("crud-1", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_eq!(
        replaced.status.unwrap().addresses.unwrap()[0].address,
        "127.0.0.1"
    );

    // Server-side apply: creates, then merges into the live object, recording what the
    // manager owns; what it stops applying goes (nobody else owns it).
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let apply = PatchParams::apply("fleetform");
    let applied = configmaps
        .patch(
            "settings",
            &apply,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(applied.data.unwrap()["a"], "1");
    let applied = configmaps
        .patch(
            "settings",
            &apply,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1", "b": "2"}})),
        )
        .await
        .unwrap();
    assert_eq!(applied.data.unwrap().len(), 2);
    let managed = applied.metadata.managed_fields.unwrap();
    assert_eq!(managed.len(), 1, "{managed:?}");
    assert_eq!(managed[0].manager.as_deref(), Some("fleetform"));
    assert_eq!(managed[0].operation.as_deref(), Some("Apply"));
    assert_eq!(
        managed[0].fields_v1.as_ref().unwrap().0,
        json!({"f:data": {"f:a": {}, "f:b": {}}})
    );
    let pruned = configmaps
        .patch(
            "settings",
            &apply,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(pruned.data.unwrap().len(), 1);
    configmaps
        .patch(
            "settings",
            &apply,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1", "b": "2"}})),
        )
        .await
        .unwrap();

    // Raw requests: JSON patch, a Status body for 404, watch refused, no fieldManager.
    let http = cluster.http(Some(cluster.identity("super-admin.conf")));
    let base = cluster.url(0);
    let response = http
        .patch(format!(
            "{base}/api/v1/namespaces/default/configmaps/settings"
        ))
        .header("Content-Type", "application/json-patch+json")
        .body(r#"[{"op":"replace","path":"/data/a","value":"3"},{"op":"remove","path":"/data/b"}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"], json!({"a": "3"}));
    let (code, status) = get_json(&http, &format!("{base}/api/v1/nodes/missing")).await;
    assert_eq!(code, 404);
    assert_status(&status, 404, "NotFound", "nodes \"missing\" not found");
    assert_eq!(
        status["details"],
        json!({"name": "missing", "kind": "nodes"})
    );
    let (code, status) = get_json(&http, &format!("{base}/api/v1/nodes?watch=true")).await;
    assert_eq!((code, &status["reason"]), (405, &json!("MethodNotAllowed")));
    let response = http
        .patch(format!(
            "{base}/api/v1/namespaces/default/configmaps/settings"
        ))
        .header("Content-Type", "application/apply-patch+yaml")
        .body("data: {a: '4'}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);

    // Delete a collection by label: the others stay.
    for name in ["tmp-1", "tmp-2"] {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"tier": "tmp"}}}))
                .unwrap();
        configmaps
            .create(&PostParams::default(), &cm)
            .await
            .unwrap();
    }
    configmaps
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("tier=tmp"),
        )
        .await
        .unwrap();
    let left: Vec<String> = configmaps
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(left, ["settings"]);

    // Namespaced objects need their namespace.
    let missing: Api<ConfigMap> = Api::namespaced(client.clone(), "nope");
    let status = api_error(
        missing
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap(),
            )
            .await,
    );
    assert_eq!(
        (status.code, status.message.as_str()),
        (404, "namespaces \"nope\" not found")
    );

    let out = cluster.kubectl("super-admin.conf", 0, &["get", "nodes"]);
    assert!(out.status.success(), "{}", text(&out));
    let rows = table_rows(&out);
    assert_eq!(rows[0], ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    // No kubelet reports crud-1's Ready condition; patched unschedulable above.
    assert_eq!(
        rows[1][..3],
        ["crud-1", "Unknown,SchedulingDisabled", "<none>"]
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("crud-1") && stdout.contains("crud-2"),
        "{stdout}"
    );
    let out = cluster.kubectl(
        "super-admin.conf",
        0,
        &["get", "configmap", "settings", "-o", "jsonpath={.data.a}"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3", "{}", text(&out));

    // Delete; then it is gone.
    nodes
        .delete("crud-2", &DeleteParams::default())
        .await
        .unwrap();
    let status = api_error(nodes.get("crud-2").await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    let status = api_error(nodes.delete("crud-2", &DeleteParams::default()).await);
    assert_eq!(status.code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_from_another_ca_are_refused_during_the_handshake() {
    let cluster = Cluster::start();
    let other = tempfile::tempdir().unwrap();
    write_pki(other.path());
    let url = format!("{}/readyz", cluster.url(0));

    let foreign = cluster.http(Some(identity_of(&other.path().join("super-admin.conf"))));
    let error = foreign
        .get(&url)
        .send()
        .await
        .expect_err("a certificate from another CA must not be accepted");
    assert!(error.is_connect() || error.is_request(), "{error:?}");
    assert!(
        error.status().is_none(),
        "refused by TLS, not by HTTP: {error:?}"
    );

    // The same request with the cluster's own certificate, and with none, works.
    let own = cluster.http(Some(cluster.identity("super-admin.conf")));
    assert_eq!(own.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(
        cluster.http(None).get(&url).send().await.unwrap().status(),
        200
    );
    assert!(
        cluster.log(0).contains("TLS handshake failed"),
        "{}",
        cluster.log(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_respects_pod_disruption_budgets() {
    let cluster = Cluster::start();
    let client = cluster.client("super-admin.conf", 0).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "evict"}})).unwrap(),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "evict");
    for name in ["db-0", "db-1"] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": "db"}},
            "spec": {"nodeName": NODE_NAME, "containers": [{"name": "db", "image": "postgres:16"}]},
            "status": {"phase": "Running"},
        }))
        .unwrap();
        let created = pods.create(&PostParams::default(), &pod).await.unwrap();
        // Created pods start Pending whatever the client says; the kubelet reports status.
        assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
        pods.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})),
        )
        .await
        .unwrap();
    }
    let on_node = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={NODE_NAME}")))
        .await
        .unwrap();
    assert_eq!(on_node.items.len(), 2);

    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "evict");
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}},
    }))
    .unwrap();
    budgets.create(&PostParams::default(), &pdb).await.unwrap();

    let status = api_error(pods.evict("db-0", &EvictParams::default()).await);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (429, "TooManyRequests")
    );
    assert_eq!(
        status.message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    let cause = &status.details.unwrap().causes[0];
    assert_eq!(cause.reason, "DisruptionBudget");
    assert_eq!(
        cause.message,
        "The disruption budget db needs 2 healthy pods and has 2 currently"
    );
    pods.get("db-0")
        .await
        .expect("a blocked eviction leaves the pod");

    budgets
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"minAvailable": "50%"}})),
        )
        .await
        .unwrap();
    pods.evict("db-0", &EvictParams::default()).await.unwrap();
    assert_eq!(api_error(pods.get("db-0").await).code, 404);
    // Half of the one pod left, rounded up, is that pod: the next eviction is blocked.
    let status = api_error(pods.evict("db-1", &EvictParams::default()).await);
    assert_eq!(
        status.details.unwrap().causes[0].message,
        "The disruption budget db needs 1 healthy pods and has 1 currently"
    );
    assert_eq!(
        api_error(pods.evict("gone", &EvictParams::default()).await).code,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_servers_on_one_etcd_see_each_others_writes() {
    let mut cluster = Cluster::start();
    // The second server's first etcd endpoint is dead: it fails over to the next.
    let dead = format!("https://127.0.0.1:{}", free_port());
    cluster.start_api_server_with(Some(format!("{dead},{}", cluster.etcd_url())));
    let first: Api<Node> = Api::all(cluster.client("super-admin.conf", 0).await);
    let second: Api<Node> = Api::all(cluster.client("super-admin.conf", 1).await);

    let created = first
        .create(
            &PostParams::default(),
            &node("ha-1", json!({"via": "first"})),
        )
        .await
        .unwrap();
    let seen = second.get("ha-1").await.unwrap();
    assert_eq!(seen.metadata.uid, created.metadata.uid);
    assert_eq!(
        seen.metadata.resource_version,
        created.metadata.resource_version
    );

    // A write through the second server makes the first server's copy stale.
    second
        .patch(
            "ha-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"via": "second"}}})),
        )
        .await
        .unwrap();
    let status = api_error(
        first
            .replace("ha-1", &PostParams::default(), &created)
            .await,
    );
    assert_eq!(status.reason, "Conflict");
    let status = api_error(
        second
            .create(&PostParams::default(), &node("ha-1", json!({})))
            .await,
    );
    assert_eq!(status.reason, "AlreadyExists");
    assert_eq!(
        first.get("ha-1").await.unwrap().metadata.labels.unwrap()["via"],
        "second"
    );
    let out = cluster.kubectl(
        "super-admin.conf",
        1,
        &["get", "nodes", "ha-1", "-o", "name"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "node/ha-1",
        "{}",
        text(&out)
    );

    // The objects are in etcd where kube-apiserver keeps them.
    let out = cluster.etcdctl(&["get", "/registry", "--prefix", "--keys-only"]);
    assert!(out.status.success(), "{}", text(&out));
    let keys = String::from_utf8_lossy(&out.stdout);
    for key in [
        "/registry/nodes/ha-1",
        "/registry/namespaces/kube-system",
        "/registry/clusterrolebindings/cluster-admin",
        "/registry/services/default/kubernetes",
    ] {
        assert!(
            keys.lines().any(|l| l == key),
            "{key} missing from:\n{keys}"
        );
    }
    let out = cluster.etcdctl(&["get", "/registry/nodes/ha-1", "--print-value-only"]);
    let stored: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stored["metadata"]["labels"]["via"], "second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelets_may_manage_nodes_but_not_read_secrets() {
    let cluster = Cluster::start();
    let kubelet = cluster.client("kubelet.conf", 0).await;
    let nodes: Api<Node> = Api::all(kubelet.clone());
    nodes
        .create(&PostParams::default(), &node(NODE_NAME, json!({})))
        .await
        .unwrap();
    nodes
        .patch_status(
            NODE_NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})),
        )
        .await
        .unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(kubelet, "kube-system");
    let status = api_error(secrets.list(&ListParams::default()).await);
    assert_eq!(
        status.message,
        "secrets is forbidden: User \"system:node:cp-1\" cannot list resource \"secrets\" in API group \"\" in the namespace \"kube-system\""
    );
    assert_eq!(
        api_error(nodes.delete(NODE_NAME, &DeleteParams::default()).await).code,
        403
    );
    // Node heartbeats: leases in kube-node-lease only.
    let lease = |ns: &str| -> k8s_openapi::api::coordination::v1::Lease {
        serde_json::from_value(json!({
            "metadata": {"name": NODE_NAME, "namespace": ns},
            "spec": {"holderIdentity": NODE_NAME, "leaseDurationSeconds": 40},
        }))
        .unwrap()
    };
    let client = cluster.client("kubelet.conf", 0).await;
    let heartbeats: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), "kube-node-lease");
    heartbeats
        .create(&PostParams::default(), &lease("kube-node-lease"))
        .await
        .unwrap();
    let elsewhere: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client, "default");
    assert_eq!(
        api_error(
            elsewhere
                .create(&PostParams::default(), &lease("default"))
                .await
        )
        .code,
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_label_drain_and_delete() {
    let cluster = Cluster::start();
    let kubectl = |args: &[&str]| {
        let out = cluster.kubectl("super-admin.conf", 0, args);
        assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let manifest = cluster.dir.path().join("app.yaml");
    let write = |image: &str| {
        let yaml = format!(
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: worker-1\n  labels: {{role: worker}}\n---\n\
             apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: default}}\n\
             spec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n\
             \x20   spec:\n      containers: [{{name: web, image: {image}}}, {{name: log, image: busybox}}]\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {{name: solo, namespace: default}}\n\
             spec: {{nodeName: worker-1, containers: [{{name: c, image: busybox}}]}}\n"
        );
        std::fs::write(&manifest, yaml).unwrap();
    };
    let file = manifest.display().to_string();

    // Client-side apply: create, then a strategic merge patch that changes one container.
    write("nginx:1");
    let out = kubectl(&["apply", "-f", &file]);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    write("nginx:2");
    let out = kubectl(&["apply", "-f", &file]);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let images = kubectl(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[*].image}",
    ]);
    assert_eq!(images, "nginx:2 busybox");
    let out = kubectl(&["apply", "--server-side", "-f", &file]);
    assert!(out.contains("serverside-applied"), "{out}");

    kubectl(&[
        "label",
        "node",
        "worker-1",
        "node-role.kubernetes.io/worker=",
    ]);
    let rows = table_rows(&cluster.kubectl(
        "super-admin.conf",
        0,
        &["get", "nodes", "-l", "role=worker"],
    ));
    assert_eq!(rows[1][..3], ["worker-1", "Unknown", "worker"]);

    // Drain: cordon, evict the node's pods, wait until they are gone.
    let out = kubectl(&[
        "drain",
        "worker-1",
        "--ignore-daemonsets",
        "--force",
        "--timeout=10s",
    ]);
    assert!(out.contains("pod/solo evicted"), "{out}");
    assert!(out.contains("node/worker-1 drained"), "{out}");
    assert_eq!(
        kubectl(&[
            "get",
            "node",
            "worker-1",
            "-o",
            "jsonpath={.spec.unschedulable}"
        ]),
        "true"
    );

    let out = kubectl(&["delete", "--ignore-not-found", "-f", &file]);
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    let out = cluster.kubectl("super-admin.conf", 0, &["get", "deployment", "web"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Error from server (NotFound): deployments.apps \"web\" not found"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_etcd_objects_live_in_memory() {
    let cluster = Cluster::in_memory();
    assert!(
        cluster.log(0).contains("objects are kept in memory"),
        "{}",
        cluster.log(0)
    );
    let nodes: Api<Node> = Api::all(cluster.client("super-admin.conf", 0).await);
    nodes
        .create(&PostParams::default(), &node("mem-1", json!({})))
        .await
        .unwrap();
    let status = api_error(
        nodes
            .create(&PostParams::default(), &node("mem-1", json!({})))
            .await,
    );
    assert_eq!(status.reason, "AlreadyExists");
    assert_eq!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let admin: Api<Node> = Api::all(cluster.client("admin.conf", 0).await);
    assert_eq!(api_error(admin.get("mem-1").await).code, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_with_etcd_and_recovers() {
    let mut cluster = Cluster::start();
    let anonymous = cluster.http(None);
    let readyz = format!("{}/readyz", cluster.url(0));
    let (mut etcd, url) = cluster.etcd.take().unwrap();
    kill(&mut etcd);
    let response = anonymous.get(&readyz).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let body = response.text().await.unwrap();
    assert!(body.contains("[+]ping ok\n"), "{body}");
    assert!(body.contains("[-]etcd failed: reason withheld\n"), "{body}");
    assert!(body.ends_with("readyz check failed\n"), "{body}");
    let nodes: Api<Node> = Api::all(cluster.client("super-admin.conf", 0).await);
    let status = api_error(nodes.list(&ListParams::default()).await);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (500, "InternalError")
    );
    assert!(
        status
            .message
            .starts_with("Internal error occurred: etcd did not answer"),
        "{}",
        status.message
    );

    // etcd back on its data: ready again, objects intact.
    let client_port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let etcd = spawn_etcd(cluster.dir.path(), client_port, free_port());
    cluster.etcd = Some((etcd, url));
    wait_for("ready again", Duration::from_secs(20), || {
        blocking(async {
            matches!(anonymous.get(&readyz).send().await, Ok(r) if r.status() == 200)
        })
    });
    let names: Vec<String> = Api::<Namespace>::all(cluster.client("super-admin.conf", 0).await)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&"kube-system".to_owned()), "{names:?}");
}

/// RSA and Ed25519 PKIs, and the traditional key files (PKCS#1 "RSA PRIVATE KEY", SEC1
/// "EC PRIVATE KEY") kubeadm and openssl write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_with_rsa_ed25519_and_traditional_keys() {
    let cases = [
        (
            KeyAlgorithm::Rsa2048,
            Some(("rsa", "-----BEGIN RSA PRIVATE KEY-----")),
        ),
        (
            KeyAlgorithm::EcdsaP256,
            Some(("ec", "-----BEGIN EC PRIVATE KEY-----")),
        ),
        (KeyAlgorithm::Ed25519, None),
    ];
    for (algorithm, traditional) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_pki_with(dir.path(), algorithm);
        if let Some((kind, header)) = traditional {
            let key = dir.path().join("pki/apiserver.key");
            let out = Command::new("openssl")
                .arg(kind)
                .arg("-in")
                .arg(&key)
                .arg("-out")
                .arg(&key)
                .args(if kind == "rsa" {
                    &["-traditional"][..]
                } else {
                    &[][..]
                })
                .output()
                .expect("run openssl");
            assert!(out.status.success(), "{}", text(&out));
            let pem = std::fs::read_to_string(&key).unwrap();
            assert!(pem.starts_with(header), "{pem}");
        }
        let cluster = Cluster::in_memory_with(dir);
        let nodes: Api<Node> = Api::all(cluster.client("super-admin.conf", 0).await);
        nodes
            .create(&PostParams::default(), &node("key-test", json!({})))
            .await
            .unwrap_or_else(|e| panic!("{algorithm:?}: {e}"));
        let out = cluster.kubectl("super-admin.conf", 0, &["get", "nodes", "-o", "name"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "node/key-test",
            "{algorithm:?}: {}",
            text(&out)
        );
    }
}
