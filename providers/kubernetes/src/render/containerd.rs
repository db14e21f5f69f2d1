//! containerd's configuration with registry mirrors, and the script that installs the
//! container runtime and the kubelet.

use serde::Serialize;

use super::versions;
use super::{
    ClusterSettings, FILE_MODE, Os, RenderError, RenderedFile, SCRIPT_MODE, render, validate,
};

/// Where [`runtime_install`] puts its script on Linux.
pub const LINUX_RUNTIME_INSTALL_SCRIPT: &str = "/var/lib/fleetform/install-runtime.sh";
/// Where [`runtime_install`] puts its script on Windows.
pub const WINDOWS_RUNTIME_INSTALL_SCRIPT: &str = r"C:\k\install-runtime.ps1";

struct Layout {
    config: &'static str,
    certs_dir: &'static str,
    separator: &'static str,
}

const LINUX: Layout = Layout {
    config: "/etc/containerd/config.toml",
    certs_dir: "/etc/containerd/certs.d",
    separator: "/",
};

const WINDOWS: Layout = Layout {
    config: r"C:\Program Files\containerd\config.toml",
    certs_dir: r"C:\Program Files\containerd\certs.d",
    separator: r"\",
};

#[derive(Serialize)]
struct Config<'a> {
    windows: bool,
    sandbox_image: String,
    certs_dir: &'a str,
    cni_bin_dir: &'a str,
    cni_conf_dir: &'a str,
    root_dir: &'a str,
    state_dir: &'a str,
    grpc_address: &'a str,
}

#[derive(Serialize)]
struct Hosts<'a> {
    registry: &'a str,
    server: Option<String>,
    mirrors: &'a [String],
}

/// containerd's `config.toml` (version 2: the CRI plugin with the pause image as sandbox
/// image, systemd cgroups on Linux, registry configuration from `certs.d`) and one
/// `certs.d/REGISTRY/hosts.toml` per mirrored registry, its mirrors in the configured order.
///
/// Linux: `/etc/containerd/...`. Windows: `C:\Program Files\containerd\...`, where a
/// registry's port is written `HOST_PORT_` in the directory name (containerd looks for that
/// form first; Windows directory names cannot hold a colon).
pub fn containerd_files(
    cluster: &ClusterSettings,
    os: Os,
) -> Result<Vec<RenderedFile>, RenderError> {
    let (_, release) = versions::supported(&cluster.kubernetes_version)?;
    validate::image_repository(&cluster.image_repository)?;
    for (registry, mirrors) in &cluster.registry_mirrors {
        validate::registry_host(registry)?;
        if mirrors.is_empty() {
            return Err(RenderError::InvalidSetting {
                what: "mirrored registry",
                value: registry.clone(),
                reason: "it lists no mirrors".into(),
            });
        }
        for mirror in mirrors {
            validate::mirror_url(registry, mirror)?;
        }
    }

    let windows = os == Os::Windows;
    let layout = if windows { &WINDOWS } else { &LINUX };
    let config = render(
        "containerd/config.toml",
        &Config {
            windows,
            sandbox_image: super::pause_image(cluster, release),
            certs_dir: layout.certs_dir,
            cni_bin_dir: if windows {
                r"C:\opt\cni\bin"
            } else {
                "/opt/cni/bin"
            },
            cni_conf_dir: if windows {
                r"C:\etc\cni\net.d"
            } else {
                "/etc/cni/net.d"
            },
            root_dir: r"C:\ProgramData\containerd\root",
            state_dir: r"C:\ProgramData\containerd\state",
            grpc_address: r"\\.\pipe\containerd-containerd",
        },
    )?;

    let mut files = vec![RenderedFile {
        path: layout.config.to_owned(),
        content: config,
        mode: FILE_MODE,
    }];
    for (registry, mirrors) in &cluster.registry_mirrors {
        let content = render(
            "containerd/hosts.toml",
            &Hosts {
                registry,
                server: upstream(registry),
                mirrors,
            },
        )?;
        let directory = if windows {
            windows_hosts_directory(registry)
        } else {
            registry.clone()
        };
        files.push(RenderedFile {
            path: [layout.certs_dir, &directory, "hosts.toml"].join(layout.separator),
            content,
            mode: FILE_MODE,
        });
    }
    Ok(files)
}

/// The registry itself, which containerd falls back to after the mirrors; Docker Hub's
/// registry is not at its name. `_default` applies to every registry, so it has none.
fn upstream(registry: &str) -> Option<String> {
    match registry {
        "_default" => None,
        "docker.io" => Some("https://registry-1.docker.io".into()),
        registry => Some(format!("https://{registry}")),
    }
}

/// containerd's hostDirectory: "HOST:PORT" is looked up as "HOST_PORT_" first.
fn windows_hosts_directory(registry: &str) -> String {
    match registry.split_once(':') {
        Some((host, port)) => format!("{host}_{port}_"),
        None => registry.to_owned(),
    }
}

#[derive(Serialize)]
struct Install<'a> {
    kubernetes_version: String,
    containerd_version: &'a str,
}

/// The script that installs containerd and the kubelet at the cluster's version, for hosts
/// not built from images that have them (the `install_runtime` step).
///
/// Linux ([`LINUX_RUNTIME_INSTALL_SCRIPT`]): a POSIX sh script for Debian and Ubuntu, as
/// kubeadm's installation guide does it: the overlay and br_netfilter modules, the
/// forwarding and bridge sysctls, swap off, the distribution's containerd and the kubelet
/// from the pkgs.k8s.io repository of the minor, pinned and held.
///
/// Windows ([`WINDOWS_RUNTIME_INSTALL_SCRIPT`]): a PowerShell script that enables the
/// Containers feature (exiting with 3010 when Windows must restart first), installs
/// containerd as a service and kubelet.exe into `C:\k`, checking downloads against their
/// published SHA-256 sums.
///
/// The version is the only value in either script, and must be MAJOR.MINOR.PATCH.
pub fn runtime_install(cluster: &ClusterSettings, os: Os) -> Result<RenderedFile, RenderError> {
    let (version, release) = versions::supported(&cluster.kubernetes_version)?;
    let context = Install {
        kubernetes_version: version.to_string(),
        containerd_version: release.windows_containerd_version,
    };
    let (path, template) = match os {
        Os::Linux => (LINUX_RUNTIME_INSTALL_SCRIPT, "install/runtime-linux.sh"),
        Os::Windows => (
            WINDOWS_RUNTIME_INSTALL_SCRIPT,
            "install/runtime-windows.ps1",
        ),
    };
    Ok(RenderedFile {
        path: path.to_owned(),
        content: render(template, &context)?,
        mode: SCRIPT_MODE,
    })
}
