//! Kubernetes versions and the version skew policy
//! (<https://kubernetes.io/releases/version-skew-policy/>): the control plane moves one
//! minor version at a time, and a kubelet may be up to three minors older than the API
//! server but never newer.

use std::fmt;
use std::str::FromStr;

/// How many minor versions a kubelet may lag behind the API server (since 1.28).
pub const KUBELET_MAX_LAG: u32 = 3;

/// A Kubernetes release version, "1.31.2" (a leading "v" is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl FromStr for Version {
    type Err = String;

    fn from_str(text: &str) -> Result<Version, String> {
        let bare = text.strip_prefix('v').unwrap_or(text);
        let parts: Vec<&str> = bare.split('.').collect();
        let number = |part: &str| {
            (!part.is_empty() && part.len() <= 6 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u32>().ok())
                .flatten()
        };
        match parts.as_slice() {
            [major, minor, patch] => match (number(major), number(minor), number(patch)) {
                (Some(major), Some(minor), Some(patch)) => Ok(Version {
                    major,
                    minor,
                    patch,
                }),
                _ => Err(not_a_version(text)),
            },
            _ => Err(not_a_version(text)),
        }
    }
}

fn not_a_version(text: &str) -> String {
    format!("{text:?} is not a Kubernetes version: write MAJOR.MINOR.PATCH, e.g. \"1.31.2\"")
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Version {
    /// "1.31", the release line.
    pub fn minor_line(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

/// Why a control-plane version change cannot be made in one step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkewError {
    #[error(
        "upgrading the control plane from {from} to {to} skips {skipped}: Kubernetes upgrades one \
         minor version at a time; apply {path} in turn"
    )]
    SkippedMinor {
        from: Version,
        to: Version,
        skipped: String,
        path: String,
    },
    #[error(
        "downgrading the control plane from {from} to {to} is not supported: Kubernetes does not \
         downgrade a minor version in place"
    )]
    MinorDowngrade { from: Version, to: Version },
    #[error("changing the major version from {from} to {to} is not supported")]
    Major { from: Version, to: Version },
    #[error(
        "kubelet {kubelet} would be newer than the control plane {control_plane}: upgrade the \
         cluster first"
    )]
    KubeletNewer {
        kubelet: Version,
        control_plane: Version,
    },
    #[error(
        "kubelet {kubelet} would be more than {KUBELET_MAX_LAG} minor versions older than the \
         control plane {control_plane}: upgrade the node pool first"
    )]
    KubeletTooOld {
        kubelet: Version,
        control_plane: Version,
    },
}

/// Checks a control-plane upgrade (or patch change) from `from` to `to`.
pub fn check_control_plane_change(from: Version, to: Version) -> Result<(), SkewError> {
    if from.major != to.major {
        return Err(SkewError::Major { from, to });
    }
    if to.minor < from.minor {
        return Err(SkewError::MinorDowngrade { from, to });
    }
    if to.minor > from.minor + 1 {
        let line = |minor: u32| format!("{}.{}", from.major, minor);
        let skipped: Vec<String> = (from.minor + 1..to.minor).map(line).collect();
        let path: Vec<String> = (from.minor + 1..=to.minor).map(line).collect();
        return Err(SkewError::SkippedMinor {
            from,
            to,
            skipped: skipped.join(", "),
            path: path.join(", then "),
        });
    }
    Ok(())
}

/// Checks that a kubelet of version `kubelet` may talk to a control plane of `control_plane`.
pub fn check_kubelet(kubelet: Version, control_plane: Version) -> Result<(), SkewError> {
    if (kubelet.major, kubelet.minor) > (control_plane.major, control_plane.minor) {
        return Err(SkewError::KubeletNewer {
            kubelet,
            control_plane,
        });
    }
    if kubelet.major < control_plane.major || kubelet.minor + KUBELET_MAX_LAG < control_plane.minor
    {
        return Err(SkewError::KubeletTooOld {
            kubelet,
            control_plane,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn parses_with_or_without_v_and_refuses_the_rest() {
        assert_eq!(v("1.31.2"), v("v1.31.2"));
        assert_eq!(v("1.31.2").to_string(), "1.31.2");
        for bad in [
            "1.31",
            "1.31.x",
            "",
            "1.31.2-rc.1",
            "1..2",
            "1.31.2.0",
            "-1.3.2",
        ] {
            let e = bad.parse::<Version>().unwrap_err();
            assert!(e.contains("MAJOR.MINOR.PATCH"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_skipped_minor_names_the_chained_path() {
        let e = check_control_plane_change(v("1.30.4"), v("1.32.0")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "upgrading the control plane from 1.30.4 to 1.32.0 skips 1.31: Kubernetes upgrades \
             one minor version at a time; apply 1.31, then 1.32 in turn"
        );
        let e = check_control_plane_change(v("1.29.0"), v("1.32.1")).unwrap_err();
        assert!(e.to_string().contains("skips 1.30, 1.31"), "{e}");
        assert!(
            e.to_string().contains("apply 1.30, then 1.31, then 1.32"),
            "{e}"
        );
    }

    #[test]
    fn patches_and_single_minors_are_allowed_downgrading_a_minor_is_not() {
        check_control_plane_change(v("1.31.1"), v("1.31.2")).unwrap();
        check_control_plane_change(v("1.31.2"), v("1.31.1")).unwrap();
        check_control_plane_change(v("1.31.2"), v("1.32.0")).unwrap();
        assert!(matches!(
            check_control_plane_change(v("1.32.0"), v("1.31.9")),
            Err(SkewError::MinorDowngrade { .. })
        ));
        assert!(matches!(
            check_control_plane_change(v("1.32.0"), v("2.0.0")),
            Err(SkewError::Major { .. })
        ));
    }

    #[test]
    fn kubelets_may_lag_three_minors_but_never_lead() {
        check_kubelet(v("1.28.0"), v("1.31.2")).unwrap();
        check_kubelet(v("1.31.9"), v("1.31.2")).unwrap();
        assert!(matches!(
            check_kubelet(v("1.27.9"), v("1.31.2")),
            Err(SkewError::KubeletTooOld { .. })
        ));
        assert!(matches!(
            check_kubelet(v("1.32.0"), v("1.31.2")),
            Err(SkewError::KubeletNewer { .. })
        ));
    }
}
