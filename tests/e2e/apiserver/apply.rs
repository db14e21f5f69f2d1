//! Server-side apply and CustomResourceDefinitions on the lab API server, as kube-apiserver
//! behaves: managedFields per manager, 409 conflicts naming the owner and the field, force,
//! updates (kubectl edit) taking the fields they change, dry runs that store nothing, and
//! CRDs whose resources appear once Established.

use std::time::{Duration, Instant};

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use kube::discovery;
use serde_json::{Value, json};

use super::cluster::{Cluster, api_error};
use fleetform_tests::output_text as text;

fn managers(object: &DynamicObject) -> Vec<(String, String)> {
    object
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn configmap(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"}, "data": data})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_conflicts_force_and_updates_take_ownership() {
    let cluster = Cluster::in_memory();
    let client = cluster.client("super-admin.conf", 0).await;
    let resource = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
    let cms: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);
    let apply = |manager: &str| PatchParams::apply(manager);

    // Two appliers setting the same value share it; changing it is a conflict.
    cms.patch(
        "settings",
        &apply("fleetform"),
        &Patch::Apply(configmap(json!({"color": "red", "size": "m"}))),
    )
    .await
    .unwrap();
    let shared = cms
        .patch(
            "settings",
            &apply("flux"),
            &Patch::Apply(configmap(json!({"color": "red"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        managers(&shared),
        [
            ("fleetform".into(), "Apply".into()),
            ("flux".into(), "Apply".into())
        ]
    );
    let status = api_error(
        cms.patch(
            "settings",
            &apply("flux"),
            &Patch::Apply(configmap(json!({"color": "blue"}))),
        )
        .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"fleetform\": .data.color"
    );
    let cause = &status.details.as_ref().unwrap().causes[0];
    assert_eq!(cause.reason, "FieldManagerConflict");
    assert_eq!(cause.message, "conflict with \"fleetform\"");
    assert_eq!(cause.field, ".data.color");

    // A dry run answers as the write would and stores nothing.
    let dry = cms
        .patch(
            "settings",
            &apply("flux").force().dry_run(),
            &Patch::Apply(configmap(json!({"color": "blue"}))),
        )
        .await
        .unwrap();
    assert_eq!(dry.data["data"]["color"], "blue");
    let live = cms.get("settings").await.unwrap();
    assert_eq!(live.data["data"]["color"], "red");
    assert_eq!(
        live.metadata.resource_version,
        shared.metadata.resource_version
    );

    // An apply that changes nothing writes nothing.
    let again = cms
        .patch(
            "settings",
            &apply("fleetform"),
            &Patch::Apply(configmap(json!({"color": "red", "size": "m"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        shared.metadata.resource_version
    );

    // kubectl edit is an update: it takes the field it changes from every applier.
    let edit = cluster.dir.path().join("edit.sh");
    std::fs::write(
        &edit,
        "#!/bin/sh\nsed -i 's/color: red/color: green/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&edit, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = std::process::Command::new("kubectl")
        .arg(format!(
            "--kubeconfig={}",
            cluster.kubeconfig("super-admin.conf", 0).display()
        ))
        .args(["edit", "configmap", "settings", "-n", "default"])
        .env("KUBE_EDITOR", &edit)
        .output()
        .unwrap();
    assert!(out.status.success(), "kubectl edit: {}", text(&out));
    let edited = cms.get("settings").await.unwrap();
    assert_eq!(edited.data["data"]["color"], "green");
    let entries = edited.metadata.managed_fields.clone().unwrap();
    let owner_of_color: Vec<&str> = entries
        .iter()
        .filter(|e| {
            e.fields_v1.as_ref().unwrap().0["f:data"]
                .get("f:color")
                .is_some()
        })
        .map(|e| e.manager.as_deref().unwrap())
        .collect();
    assert_eq!(owner_of_color, ["kubectl-edit"]);
    let status = api_error(
        cms.patch(
            "settings",
            &apply("fleetform"),
            &Patch::Apply(configmap(json!({"color": "red", "size": "m"}))),
        )
        .await,
    );
    assert!(
        status
            .message
            .contains("conflict with \"kubectl-edit\" using v1: .data.color"),
        "{}",
        status.message
    );
    // Forcing takes it back; then dropping `size` from the applied set removes it, as
    // nobody else owns it.
    let forced = cms
        .patch(
            "settings",
            &apply("fleetform").force(),
            &Patch::Apply(configmap(json!({"color": "red", "size": "m"}))),
        )
        .await
        .unwrap();
    assert_eq!(forced.data["data"]["color"], "red");
    assert!(!managers(&forced).iter().any(|(m, _)| m == "kubectl-edit"));
    let dropped = cms
        .patch(
            "settings",
            &apply("fleetform"),
            &Patch::Apply(configmap(json!({"color": "red"}))),
        )
        .await
        .unwrap();
    assert_eq!(dropped.data["data"], json!({"color": "red"}));
}

const CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "pools.lab.fleetform.io"},
  "spec": {
    "group": "lab.fleetform.io",
    "scope": "Namespaced",
    "names": {"plural": "pools", "singular": "pool", "kind": "Pool", "shortNames": ["pl"]},
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "subresources": {"status": {}},
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
          "addresses": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}
        }},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
      }}}
    }]
  }
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_add_resources_once_established() {
    let cluster = Cluster::in_memory();
    let client = cluster.client("super-admin.conf", 0).await;
    let crd_resource = ApiResource::erase::<
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    >(&());
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &crd_resource);
    let created = crds
        .patch(
            "pools.lab.fleetform.io",
            &PatchParams::apply("fleetform"),
            &Patch::Apply(serde_json::from_str::<Value>(CRD).unwrap()),
        )
        .await
        .unwrap();
    let conditions = |object: &DynamicObject| -> Vec<(String, String)> {
        object.data["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["type"].as_str().unwrap().to_owned(),
                    c["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        conditions(&created),
        [
            ("NamesAccepted".into(), "True".into()),
            ("Established".into(), "False".into())
        ]
    );
    let gvk = GroupVersionKind::gvk("lab.fleetform.io", "v1", "Pool");
    // Not served until Established.
    assert!(discovery::pinned_kind(&client, &gvk).await.is_err());
    let started = Instant::now();
    loop {
        let crd = crds.get("pools.lab.fleetform.io").await.unwrap();
        if conditions(&crd).contains(&("Established".into(), "True".into())) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not established"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (pool_resource, caps) = discovery::pinned_kind(&client, &gvk).await.unwrap();
    assert_eq!(pool_resource.plural, "pools");
    assert!(caps.subresources.iter().any(|(s, _)| s.plural == "status"));

    // Custom objects: applied, listed by kubectl, merged as the schema says (a set).
    let pools: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &pool_resource);
    let pool = |addresses: Value| {
        json!({"apiVersion": "lab.fleetform.io/v1", "kind": "Pool",
               "metadata": {"name": "first", "namespace": "default"},
               "spec": {"addresses": addresses}, "status": {"ignored": true}})
    };
    let first = pools
        .patch(
            "first",
            &PatchParams::apply("fleetform"),
            &Patch::Apply(pool(json!(["10.0.0.1"]))),
        )
        .await
        .unwrap();
    assert!(
        first.data.get("status").is_none(),
        "status is the controller's"
    );
    let merged = pools
        .patch(
            "first",
            &PatchParams::apply("ops"),
            &Patch::Apply(pool(json!(["10.0.0.2"]))),
        )
        .await
        .unwrap();
    assert_eq!(
        merged.data["spec"]["addresses"],
        json!(["10.0.0.1", "10.0.0.2"])
    );
    let out = cluster.kubectl(
        "super-admin.conf",
        0,
        &["get", "pl", "-n", "default", "-o", "name"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "pool.lab.fleetform.io/first"
    );

    // Deleting the CRD deletes its objects.
    crds.delete("pools.lab.fleetform.io", &DeleteParams::default())
        .await
        .unwrap();
    let status = api_error(crds.get("pools.lab.fleetform.io").await);
    assert_eq!(status.code, 404);
    let status = api_error(pools.get("first").await);
    assert_eq!(status.code, 404);
}
