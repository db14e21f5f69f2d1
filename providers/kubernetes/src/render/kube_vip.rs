//! kube-vip's static pod: the virtual IP in front of a highly available control plane,
//! served by whichever member holds the `plndr-cp-lock` Lease.

use std::net::IpAddr;

use super::{ClusterSettings, FILE_MODE, RenderError, RenderedFile, render, validate};

/// kube-vip's default image.
pub const DEFAULT_KUBE_VIP_IMAGE: &str = "ghcr.io/kube-vip/kube-vip:v0.8.9";

/// Where the virtual IP lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeVip {
    pub address: IpAddr,
    /// The hosts' interface on the address's network, e.g. "eth0".
    pub interface: String,
    pub image: String,
}

/// `/etc/kubernetes/manifests/kube-vip.yaml`.
pub fn kube_vip_manifest(
    cluster: &ClusterSettings,
    vip: &KubeVip,
) -> Result<RenderedFile, RenderError> {
    validate::image_repository(&vip.image)?;
    let (cidr, loopback) = match vip.address {
        IpAddr::V4(_) => ("32", "127.0.0.1"),
        IpAddr::V6(_) => ("128", "::1"),
    };
    let content = render(
        "manifests/kube-vip.yaml",
        &serde_json::json!({
            "address": vip.address.to_string(),
            "port": cluster.endpoint_port.to_string(),
            "interface": vip.interface,
            "cidr": cidr,
            "image": vip.image,
            "loopback": loopback,
        }),
    )?;
    Ok(RenderedFile {
        path: "/etc/kubernetes/manifests/kube-vip.yaml".into(),
        content,
        mode: FILE_MODE,
    })
}
