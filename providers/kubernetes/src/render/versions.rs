//! Kubernetes versions and the images and packages that go with each minor release.

use super::RenderError;
use crate::version::Version;

pub(super) const OLDEST_MINOR: u32 = 30;
pub(super) const NEWEST_MINOR: u32 = 35;

/// What a Kubernetes minor release runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub minor: u32,
    /// The `registry.k8s.io/etcd` tag.
    pub etcd_image_tag: &'static str,
    /// The `registry.k8s.io/pause` tag: containerd's sandbox image.
    pub pause_image_tag: &'static str,
    /// The containerd release installed on Windows (Linux takes the distribution's).
    pub windows_containerd_version: &'static str,
    /// The `registry.k8s.io/coredns/coredns` tag kubeadm installs.
    pub coredns_image_tag: &'static str,
}

/// kubeadm's etcd and pause versions per minor (`SupportedEtcdVersion` and `PauseVersion`
/// in cmd/kubeadm/app/constants), as the newest patch release of each minor has them, and
/// the CoreDNS release kubeadm installs with it (`CoreDNSVersion`): patch
/// releases move etcd to newer 3.5.x/3.6.x bug-fix releases, so the minor's latest table is
/// the one to follow. Kubernetes 1.34 moved to etcd 3.6 and pause 3.10.1. Windows
/// containerd is 1.7.28, the 1.7 release that Kubernetes 1.35 requires at least.
const RELEASES: &[Release] = &[
    // Out of upstream support, still common at sites that upgrade slowly.
    Release {
        minor: 30,
        etcd_image_tag: "3.5.15-0",
        pause_image_tag: "3.9",
        windows_containerd_version: "1.7.28",
        coredns_image_tag: "v1.11.1",
    },
    Release {
        minor: 31,
        etcd_image_tag: "3.5.24-0",
        pause_image_tag: "3.10",
        windows_containerd_version: "1.7.28",
        coredns_image_tag: "v1.11.3",
    },
    Release {
        minor: 32,
        etcd_image_tag: "3.5.24-0",
        pause_image_tag: "3.10",
        windows_containerd_version: "1.7.28",
        coredns_image_tag: "v1.11.3",
    },
    Release {
        minor: 33,
        etcd_image_tag: "3.5.24-0",
        pause_image_tag: "3.10",
        windows_containerd_version: "1.7.28",
        coredns_image_tag: "v1.12.0",
    },
    Release {
        minor: 34,
        etcd_image_tag: "3.6.5-0",
        pause_image_tag: "3.10.1",
        windows_containerd_version: "1.7.28",
        coredns_image_tag: "v1.12.1",
    },
    Release {
        minor: 35,
        etcd_image_tag: "3.6.6-0",
        pause_image_tag: "3.10.1",
        windows_containerd_version: "1.7.28",
        coredns_image_tag: "v1.13.1",
    },
];

/// Parses "1.31.2": exactly three groups of ASCII digits and no "v", because the version
/// ends up in package names, URLs and scripts.
pub fn parse(text: &str) -> Result<Version, RenderError> {
    if text.starts_with('v') {
        return Err(RenderError::InvalidVersion(text.to_owned()));
    }
    text.parse::<Version>()
        .map_err(|_| RenderError::InvalidVersion(text.to_owned()))
}

/// What `version` runs with, or an error for versions fleetform does not support.
pub fn release(version: Version) -> Result<&'static Release, RenderError> {
    RELEASES
        .iter()
        .find(|release| version.major == 1 && release.minor == version.minor)
        .ok_or_else(|| RenderError::UnsupportedVersion {
            version: version.to_string(),
        })
}

/// The version and its release, checked.
pub(super) fn supported(text: &str) -> Result<(Version, &'static Release), RenderError> {
    let version = parse(text)?;
    Ok((version, release(version)?))
}

#[cfg(test)]
pub(super) fn all_minors() -> impl Iterator<Item = u32> {
    RELEASES.iter().map(|release| release.minor)
}
