//! The essential add-ons, as kubeadm's addon and bootstrap-token phases install them:
//! kube-proxy and CoreDNS (kept off Windows nodes), the kubeadm-config and cluster-info
//! ConfigMaps, and the bootstrap RBAC. Rendered from the cluster's settings into YAML
//! documents that the cluster applies through the API once its control plane is ready.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;

use super::{ClusterSettings, RenderError, check_cluster, render, versions};

/// One rendered document set: a name for messages and its YAML.
pub type Document = (String, String);

#[derive(Serialize)]
struct Arg<'a> {
    name: &'a str,
    value: &'a str,
}

/// The essential add-ons of `cluster`, whose CA certificate (PEM) is `ca_certificate`.
pub fn essential_addons(
    cluster: &ClusterSettings,
    ca_certificate: &str,
) -> Result<Vec<Document>, RenderError> {
    check_cluster(cluster)?;
    let (version, release) = versions::supported(&cluster.kubernetes_version)?;
    let host = if cluster.endpoint.contains(':') {
        format!("[{}]", cluster.endpoint)
    } else {
        cluster.endpoint.clone()
    };
    let control_plane_endpoint = format!("{host}:{}", cluster.endpoint_port);
    let server = format!("https://{control_plane_endpoint}");
    let repository = &cluster.image_repository;

    let proxy_config = render(
        "addons/kube-proxy-config.conf",
        &serde_json::json!({ "pod_cidr": cluster.pod_cidr }),
    )?;
    let proxy_kubeconfig = render(
        "addons/kube-proxy-kubeconfig.conf",
        &serde_json::json!({ "server": server }),
    )?;
    let kube_proxy = render(
        "addons/kube-proxy.yaml",
        &serde_json::json!({
            "config_conf": proxy_config,
            "kubeconfig_conf": proxy_kubeconfig,
            "image": format!("{repository}/kube-proxy:v{version}"),
        }),
    )?;

    let corefile = render(
        "addons/Corefile",
        &serde_json::json!({ "dns_domain": cluster.dns_domain }),
    )?;
    let coredns = render(
        "addons/coredns.yaml",
        &serde_json::json!({
            "corefile": corefile,
            "image": format!("{repository}/coredns/coredns:{}", release.coredns_image_tag),
            "cluster_dns": cluster.cluster_dns.to_string(),
        }),
    )?;

    // kubeadm moved to v1beta4 (extraArgs as a list) with 1.31.
    let v1beta4 = version.minor >= 31;
    let apiserver_args: Vec<Arg<'_>> = cluster
        .apiserver_extra_args
        .iter()
        .map(|(name, value)| Arg { name, value })
        .collect();
    let cluster_configuration = render(
        "addons/cluster-configuration.yaml",
        &serde_json::json!({
            "api_version": if v1beta4 { "kubeadm.k8s.io/v1beta4" } else { "kubeadm.k8s.io/v1beta3" },
            "v1beta4": v1beta4,
            "apiserver_args": apiserver_args,
            "cluster_name": cluster.name,
            "control_plane_endpoint": control_plane_endpoint,
            "image_repository": repository,
            "kubernetes_version": format!("v{version}"),
            "dns_domain": cluster.dns_domain,
            "pod_cidr": cluster.pod_cidr,
            "service_cidr": cluster.service_cidr,
        }),
    )?;
    let kubeadm_config = render(
        "addons/kubeadm-config.yaml",
        &serde_json::json!({ "cluster_configuration": cluster_configuration }),
    )?;

    let info_kubeconfig = render(
        "addons/cluster-info-kubeconfig.yaml",
        &serde_json::json!({
            "ca_data": BASE64.encode(ca_certificate),
            "server": server,
        }),
    )?;
    let cluster_info = render(
        "addons/cluster-info.yaml",
        &serde_json::json!({ "kubeconfig": info_kubeconfig }),
    )?;
    let bootstrap_rbac = render("addons/bootstrap-rbac.yaml", &serde_json::json!({}))?;

    Ok(vec![
        ("bootstrap RBAC".into(), bootstrap_rbac),
        ("kubeadm-config".into(), kubeadm_config),
        ("cluster-info".into(), cluster_info),
        ("kube-proxy".into(), kube_proxy),
        ("CoreDNS".into(), coredns),
    ])
}
