//! Server-side printing: the `Table` kubectl asks for (`Accept: application/json;as=Table;
//! v=v1;g=meta.k8s.io`), with kube-apiserver's columns for the kinds people list most
//! (nodes, pods, namespaces, services, deployments) and NAME/AGE for the others.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::resources::ResourceType;

/// Whether the client prefers a `meta.k8s.io/v1` Table to the object.
pub fn wanted(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| {
        let params: Vec<&str> = first.split(';').map(str::trim).collect();
        params.contains(&"as=Table")
            && params.contains(&"g=meta.k8s.io")
            && params.contains(&"v=v1")
    })
}

struct Column {
    name: &'static str,
    kind: &'static str,
    priority: u8,
    cell: fn(&Value, i64) -> Value,
}

const fn column(name: &'static str, cell: fn(&Value, i64) -> Value) -> Column {
    Column {
        name,
        kind: "string",
        priority: 0,
        cell,
    }
}

const fn wide(name: &'static str, cell: fn(&Value, i64) -> Value) -> Column {
    Column {
        name,
        kind: "string",
        priority: 1,
        cell,
    }
}

fn name(object: &Value, _: i64) -> Value {
    object["metadata"]["name"].clone()
}

fn age(object: &Value, now: i64) -> Value {
    match object["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(parse_rfc3339)
    {
        Some(created) => human_duration(now - created).into(),
        None => "<unknown>".into(),
    }
}

fn text_or_none(value: &Value) -> Value {
    match value.as_str() {
        Some(s) if !s.is_empty() => s.into(),
        _ => "<none>".into(),
    }
}

fn node_status(node: &Value, _: i64) -> Value {
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready");
    let mut status = match ready.map(|c| c["status"].as_str().unwrap_or_default()) {
        Some("True") => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if node["spec"]["unschedulable"] == true {
        status.push_str(",SchedulingDisabled");
    }
    status.into()
}

fn node_roles(node: &Value, _: i64) -> Value {
    let mut roles: Vec<String> = Vec::new();
    for (key, value) in node["metadata"]["labels"].as_object().into_iter().flatten() {
        if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
            roles.push(role.to_owned());
        } else if key == "kubernetes.io/role" {
            roles.push(value.as_str().unwrap_or_default().to_owned());
        }
    }
    roles.retain(|r| !r.is_empty());
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",").into()
    }
}

fn node_address(node: &Value, kind: &str) -> Value {
    let address = node["status"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["type"] == kind)
        .map(|a| a["address"].clone())
        .unwrap_or(Value::Null);
    text_or_none(&address)
}

fn pod_ready(pod: &Value, _: i64) -> Value {
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["ready"] == true)
        .count();
    format!("{ready}/{total}").into()
}

fn pod_status(pod: &Value, _: i64) -> Value {
    if !pod["metadata"]["deletionTimestamp"].is_null() {
        return "Terminating".into();
    }
    let waiting = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|s| s["state"]["waiting"]["reason"].as_str());
    let reason = pod["status"]["reason"].as_str();
    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
    waiting.or(reason).unwrap_or(phase).into()
}

fn pod_restarts(pod: &Value, _: i64) -> Value {
    let restarts: i64 = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["restartCount"].as_i64())
        .sum();
    restarts.into()
}

fn service_ports(service: &Value, _: i64) -> Value {
    let ports: Vec<String> = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(node_port) => format!("{}:{node_port}/{protocol}", p["port"]),
                None => format!("{}/{protocol}", p["port"]),
            }
        })
        .collect();
    if ports.is_empty() {
        "<none>".into()
    } else {
        ports.join(",").into()
    }
}

fn columns(resource: &ResourceType) -> Vec<Column> {
    let mut columns = vec![column("Name", name)];
    match resource.plural {
        "nodes" => columns.extend([
            column("Status", node_status),
            column("Roles", node_roles),
            column("Age", age),
            column("Version", |n, _| {
                n["status"]["nodeInfo"]["kubeletVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .into()
            }),
            wide("Internal-IP", |n, _| node_address(n, "InternalIP")),
            wide("External-IP", |n, _| node_address(n, "ExternalIP")),
            wide("OS-Image", |n, _| {
                text_or_none(&n["status"]["nodeInfo"]["osImage"])
            }),
            wide("Kernel-Version", |n, _| {
                text_or_none(&n["status"]["nodeInfo"]["kernelVersion"])
            }),
            wide("Container-Runtime", |n, _| {
                text_or_none(&n["status"]["nodeInfo"]["containerRuntimeVersion"])
            }),
        ]),
        "pods" => columns.extend([
            column("Ready", pod_ready),
            column("Status", pod_status),
            Column {
                kind: "integer",
                ..column("Restarts", pod_restarts)
            },
            column("Age", age),
            wide("IP", |p, _| text_or_none(&p["status"]["podIP"])),
            wide("Node", |p, _| text_or_none(&p["spec"]["nodeName"])),
        ]),
        "namespaces" => columns.extend([
            column("Status", |n, _| {
                n["status"]["phase"].as_str().unwrap_or_default().into()
            }),
            column("Age", age),
        ]),
        "services" => columns.extend([
            column("Type", |s, _| {
                s["spec"]["type"].as_str().unwrap_or("ClusterIP").into()
            }),
            column("Cluster-IP", |s, _| text_or_none(&s["spec"]["clusterIP"])),
            column("External-IP", |s, _| {
                let ips: Vec<&str> = s["spec"]["externalIPs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if ips.is_empty() {
                    "<none>".into()
                } else {
                    ips.join(",").into()
                }
            }),
            column("Port(s)", service_ports),
            column("Age", age),
        ]),
        "deployments" => columns.extend([
            column("Ready", |d, _| {
                let ready = d["status"]["readyReplicas"].as_i64().unwrap_or(0);
                let wanted = d["spec"]["replicas"].as_i64().unwrap_or(1);
                format!("{ready}/{wanted}").into()
            }),
            Column {
                kind: "integer",
                ..column("Up-to-date", |d, _| {
                    d["status"]["updatedReplicas"].as_i64().unwrap_or(0).into()
                })
            },
            Column {
                kind: "integer",
                ..column("Available", |d, _| {
                    d["status"]["availableReplicas"]
                        .as_i64()
                        .unwrap_or(0)
                        .into()
                })
            },
            column("Age", age),
        ]),
        _ => columns.push(column("Age", age)),
    }
    columns
}

/// The Table of `objects`; `include` is the `includeObject` parameter (`None`, `Object`,
/// or the default `Metadata`).
pub fn table(
    resource: &ResourceType,
    objects: &[Value],
    resource_version: Option<&str>,
    include: Option<&str>,
) -> Value {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let columns = columns(resource);
    let definitions: Vec<Value> = columns
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.kind,
                "format": if c.name == "Name" { "name" } else { "" },
                "description": "",
                "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let cells: Vec<Value> = columns.iter().map(|c| (c.cell)(object, now)).collect();
            let mut row = json!({"cells": cells});
            match include {
                Some("None") => {}
                Some("Object") => row["object"] = object.clone(),
                _ => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": object["metadata"],
                    });
                }
            }
            row
        })
        .collect();
    let mut metadata = json!({});
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = rv.into();
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` to seconds since 1970 (days-from-civil).
fn parse_rfc3339(text: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hh, mm, ss) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// kubectl's ages: `45s`, `3m20s`, `5h`, `2d3h`, `400d`, `3y10d`.
fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let seconds = seconds.max(0);
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            d => format!("{}y{d}d", hours / 24 / 365),
        }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::apiserver::resources;

    #[test]
    fn ages_and_timestamps() {
        assert_eq!(parse_rfc3339("2024-10-27T03:33:20Z"), Some(1_730_000_000));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(200), "3m20s");
        assert_eq!(human_duration(5 * 3600), "5h");
        assert_eq!(human_duration(51 * 3600), "2d3h");
    }

    #[test]
    fn node_rows_read_like_kubectl() {
        let node = json!({
            "metadata": {"name": "cp-1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"kubeletVersion": "v1.31.2"},
            },
        });
        let nodes = resources::find("", "v1", "nodes").unwrap();
        let t = table(nodes, &[node], Some("7"), None);
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["priority"] == 0)
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Name", "Status", "Roles", "Age", "Version"]);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[1], "Ready,SchedulingDisabled");
        assert_eq!(cells[2], "control-plane");
        assert_eq!(cells[4], "v1.31.2");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert!(wanted(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        ));
        assert!(!wanted("application/json"));
    }
}
