//! Kubernetes versions and the images and packages that go with each minor release.

use std::fmt;

use super::RenderError;

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
}

/// kubeadm's etcd and pause versions per minor (`SupportedEtcdVersion` and `PauseVersion`
/// in cmd/kubeadm/app/constants), as the newest patch release of each minor has them: patch
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
    },
    Release {
        minor: 31,
        etcd_image_tag: "3.5.24-0",
        pause_image_tag: "3.10",
        windows_containerd_version: "1.7.28",
    },
    Release {
        minor: 32,
        etcd_image_tag: "3.5.24-0",
        pause_image_tag: "3.10",
        windows_containerd_version: "1.7.28",
    },
    Release {
        minor: 33,
        etcd_image_tag: "3.5.24-0",
        pause_image_tag: "3.10",
        windows_containerd_version: "1.7.28",
    },
    Release {
        minor: 34,
        etcd_image_tag: "3.6.5-0",
        pause_image_tag: "3.10.1",
        windows_containerd_version: "1.7.28",
    },
    Release {
        minor: 35,
        etcd_image_tag: "3.6.6-0",
        pause_image_tag: "3.10.1",
        windows_containerd_version: "1.7.28",
    },
];

/// A Kubernetes release version, MAJOR.MINOR.PATCH without a "v".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubernetesVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KubernetesVersion {
    /// Parses "1.31.2". Exactly three groups of ASCII digits: the version ends up in
    /// package names, URLs and scripts, so nothing else gets through.
    pub fn parse(text: &str) -> Result<Self, RenderError> {
        let invalid = || RenderError::InvalidVersion(text.to_owned());
        let mut parts = text.split('.');
        let mut number = || -> Result<u32, RenderError> {
            let part = parts.next().ok_or_else(invalid)?;
            if part.is_empty() || part.len() > 9 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            part.parse().map_err(|_| invalid())
        };
        let version = KubernetesVersion {
            major: number()?,
            minor: number()?,
            patch: number()?,
        };
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(version)
    }

    /// What this version runs with, or an error for versions fleetform does not support.
    pub fn release(self) -> Result<&'static Release, RenderError> {
        RELEASES
            .iter()
            .find(|release| self.major == 1 && release.minor == self.minor)
            .ok_or_else(|| RenderError::UnsupportedVersion {
                version: self.to_string(),
            })
    }
}

impl fmt::Display for KubernetesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The version and its release, checked.
pub(super) fn supported(text: &str) -> Result<(KubernetesVersion, &'static Release), RenderError> {
    let version = KubernetesVersion::parse(text)?;
    Ok((version, version.release()?))
}

#[cfg(test)]
pub(super) fn all_minors() -> impl Iterator<Item = u32> {
    RELEASES.iter().map(|release| release.minor)
}
