//! Checks of the settings that land where Kubernetes, etcd or containerd restrict them,
//! with Kubernetes' own rules, so a mistake is a plan-time error rather than a component
//! that fails to start.

use std::net::IpAddr;

use super::{RenderError, Taint};
use crate::pki::is_dns_subdomain;

pub(super) fn node_name(name: &str) -> Result<(), RenderError> {
    if is_dns_subdomain(name) {
        Ok(())
    } else {
        Err(RenderError::InvalidNodeName(name.to_owned()))
    }
}

pub(super) fn dns_domain(domain: &str) -> Result<(), RenderError> {
    if is_dns_subdomain(domain) {
        Ok(())
    } else {
        Err(RenderError::InvalidSetting {
            what: "DNS domain",
            value: domain.to_owned(),
            reason: "expected a lowercase DNS name such as \"cluster.local\"".into(),
        })
    }
}

/// One CIDR, or two of different families for dual-stack ("10.96.0.0/12,fd00::/108").
pub(super) fn cidrs(what: &'static str, text: &str) -> Result<(), RenderError> {
    let invalid = |reason: &str| RenderError::InvalidSetting {
        what,
        value: text.to_owned(),
        reason: reason.to_owned(),
    };
    let parts: Vec<&str> = text.split(',').collect();
    if parts.len() > 2 {
        return Err(invalid(
            "expected one CIDR, or two (IPv4 and IPv6) for dual-stack",
        ));
    }
    let mut families = Vec::new();
    for part in &parts {
        let Some((address, prefix)) = part.split_once('/') else {
            return Err(invalid("expected ADDRESS/PREFIX, such as \"10.96.0.0/12\""));
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| invalid("expected ADDRESS/PREFIX, such as \"10.96.0.0/12\""))?;
        let longest = if address.is_ipv4() { 32 } else { 128 };
        match prefix.parse::<u8>() {
            Ok(length) if prefix.bytes().all(|b| b.is_ascii_digit()) && length <= longest => {}
            _ => return Err(invalid("the prefix length is out of range for the address")),
        }
        families.push(address.is_ipv4());
    }
    if families.len() == 2 && families[0] == families[1] {
        return Err(invalid(
            "a dual-stack pair needs one IPv4 and one IPv6 CIDR",
        ));
    }
    Ok(())
}

/// A node label as the API server and the kubelet accept it.
pub(super) fn label(key: &str, value: &str) -> Result<(), RenderError> {
    let invalid = |reason: String| RenderError::InvalidLabel {
        key: key.to_owned(),
        value: value.to_owned(),
        reason,
    };
    qualified_name(key).map_err(invalid)?;
    label_value(value).map_err(invalid)?;
    if is_restricted_for_kubelet(key) {
        return Err(invalid(
            "the kubelet may not set labels in the kubernetes.io and k8s.io namespaces, \
             except kubelet.kubernetes.io/*, node.kubernetes.io/* and the well-known \
             topology, os, arch, instance-type and hostname labels"
                .into(),
        ));
    }
    Ok(())
}

pub(super) fn taint(taint: &Taint) -> Result<(), RenderError> {
    let value = taint.value.as_deref().unwrap_or("");
    let invalid = |reason: String| RenderError::InvalidTaint {
        key: taint.key.clone(),
        value: value.to_owned(),
        reason,
    };
    qualified_name(&taint.key).map_err(invalid)?;
    label_value(value).map_err(invalid)
}

/// `[PREFIX/]NAME`: PREFIX a DNS subdomain, NAME up to 63 characters of letters, digits,
/// '-', '_' and '.', beginning and ending with a letter or digit.
fn qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns_subdomain(prefix)
    {
        return Err("the key's prefix (before '/') must be a lowercase DNS name".into());
    }
    if name.is_empty() || name.len() > 63 || !is_label_word(name) {
        return Err(
            "the key's name must be 1-63 letters, digits, '-', '_' or '.', \
             beginning and ending with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

fn label_value(value: &str) -> Result<(), String> {
    if value.len() > 63 || !(value.is_empty() || is_label_word(value)) {
        return Err(
            "the value must be empty or 1-63 letters, digits, '-', '_' or '.', \
             beginning and ending with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

fn is_label_word(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// The kubelet refuses to start with a `--node-labels` key in the kubernetes.io or k8s.io
/// namespaces unless it is one of its own (k8s.io/kubelet/pkg/apis IsKubeletLabel).
fn is_restricted_for_kubelet(key: &str) -> bool {
    const KUBELET_LABELS: &[&str] = &[
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "failure-domain.beta.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
    ];
    let Some((namespace, _)) = key.rsplit_once('/') else {
        return false;
    };
    let within = |domain: &str| {
        namespace == domain
            || namespace
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.'))
    };
    let restricted = within("kubernetes.io") || within("k8s.io");
    let allowed = KUBELET_LABELS.contains(&key)
        || within("kubelet.kubernetes.io")
        || within("node.kubernetes.io");
    restricted && !allowed
}

pub(super) fn flag_name(component: &'static str, name: &str) -> Result<(), RenderError> {
    let bytes = name.as_bytes();
    let valid = !bytes.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    if valid {
        Ok(())
    } else {
        Err(RenderError::InvalidFlagName {
            component,
            name: name.to_owned(),
        })
    }
}

pub(super) fn feature_gate(name: &str) -> Result<(), RenderError> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(RenderError::InvalidFeatureGate(name.to_owned()))
    }
}

/// An image repository such as "registry.k8s.io" or "mirror.example:5000/k8s".
pub(super) fn image_repository(repository: &str) -> Result<(), RenderError> {
    let valid = !repository.is_empty()
        && repository.split('/').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'.' | b'-' | b'_' | b':')
                })
        });
    if valid {
        Ok(())
    } else {
        Err(RenderError::InvalidSetting {
            what: "image repository",
            value: repository.to_owned(),
            reason: "expected a registry and optional path such as \"registry.k8s.io\" or \
                     \"mirror.example:5000/k8s\""
                .into(),
        })
    }
}

/// A registry as containerd names its hosts directory: "_default", or HOST[:PORT] with a
/// DNS name or IPv4 address. IPv6 literals are refused: their colons cannot be in a Windows
/// directory name.
pub(super) fn registry_host(registry: &str) -> Result<(), RenderError> {
    if registry == "_default" {
        return Ok(());
    }
    let (host, port) = match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    let port_ok = port.is_none_or(|port| {
        !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|port| port > 0)
    });
    if is_dns_subdomain(host) && port_ok {
        Ok(())
    } else {
        Err(RenderError::InvalidSetting {
            what: "mirrored registry",
            value: registry.to_owned(),
            reason: "expected \"_default\" or a registry host such as \"docker.io\" or \
                     \"registry.example:5000\""
                .into(),
        })
    }
}

pub(super) fn mirror_url(registry: &str, url: &str) -> Result<(), RenderError> {
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match host {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err(RenderError::InvalidSetting {
            what: "registry mirror",
            value: url.to_owned(),
            reason: format!(
                "a mirror of {registry} must be an http:// or https:// URL, such as \
                 \"https://mirror.example\""
            ),
        }),
    }
}

/// Characters that mean nothing special unquoted in a systemd environment file, a shell
/// word or a Windows command line.
pub(super) fn is_plain_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/' | '=' | ',' | '@' | '+')
}
