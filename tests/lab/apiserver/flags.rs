//! kube-apiserver's command line: `--name=value` or `--name value`. The static pod
//! manifest kubeadm writes passes dozens of flags a real API server needs; the ones the lab
//! server has no use for are accepted and logged.

use std::net::IpAddr;
use std::path::PathBuf;

/// The image tag the lab server reports when `FLEETFORM_LAB_IMAGE` has none.
pub const DEFAULT_VERSION: &str = "v1.31.0";

/// What the API server is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub secure_port: u16,
    pub bind_address: IpAddr,
    /// The address clients are told to use (`serverAddressByClientCIDRs`); the bind address
    /// when absent.
    pub advertise_address: Option<IpAddr>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_private_key_file: Option<PathBuf>,
    /// Client certificates are verified against this CA; without it every request is
    /// anonymous.
    pub client_ca_file: Option<PathBuf>,
    /// etcd client URLs; none means an in-memory store.
    pub etcd_servers: Vec<String>,
    pub etcd_cafile: Option<PathBuf>,
    pub etcd_certfile: Option<PathBuf>,
    pub etcd_keyfile: Option<PathBuf>,
    /// The service network, e.g. "10.96.0.0/12"; the first of a dual-stack pair is used.
    pub service_cluster_ip_range: Option<String>,
    pub version: Version,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            secure_port: 6443,
            bind_address: IpAddr::from([0, 0, 0, 0]),
            advertise_address: None,
            tls_cert_file: None,
            tls_private_key_file: None,
            client_ca_file: None,
            etcd_servers: Vec::new(),
            etcd_cafile: None,
            etcd_certfile: None,
            etcd_keyfile: None,
            service_cluster_ip_range: None,
            version: Version::parse(DEFAULT_VERSION).expect("the default version parses"),
        }
    }
}

/// The Kubernetes version served at `/version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub git_version: String,
    pub major: String,
    pub minor: String,
}

impl Version {
    /// `v1.31.2` (or `1.31.2`, `v1.31.2-rc.0`) into its parts.
    pub fn parse(tag: &str) -> Option<Version> {
        let bare = tag.strip_prefix('v').unwrap_or(tag);
        let mut parts = bare.split(['.', '-', '+']);
        let major = parts.next().filter(|p| is_number(p))?;
        let minor = parts.next().filter(|p| is_number(p))?;
        Some(Version {
            git_version: format!("v{bare}"),
            major: major.to_owned(),
            minor: minor.to_owned(),
        })
    }

    /// The version from a container image reference's tag, e.g.
    /// `registry.k8s.io/kube-apiserver:v1.31.2` or `...:v1.31.2@sha256:...`.
    pub fn from_image(image: &str) -> Option<Version> {
        let without_digest = image.split('@').next().unwrap_or(image);
        let last_segment = without_digest.rsplit('/').next().unwrap_or(without_digest);
        let (_, tag) = last_segment.rsplit_once(':')?;
        Version::parse(tag)
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A flag the lab server uses has a value it cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FlagError {
    #[error("invalid value {value:?} for --{flag}: {reason}")]
    InvalidValue {
        flag: String,
        value: String,
        reason: &'static str,
    },
    #[error("flag --{0} needs a value")]
    MissingValue(String),
}

impl Config {
    /// Parses kube-apiserver flags (without the program name). `image` is the value of
    /// `FLEETFORM_LAB_IMAGE`, whose tag is the version to report.
    pub fn parse<I>(args: I, image: Option<&str>) -> Result<Config, FlagError>
    where
        I: IntoIterator<Item = String>,
    {
        let mut config = Config::default();
        if let Some(version) = image.and_then(Version::from_image) {
            config.version = version;
        }
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                tracing::debug!(argument = %arg, "ignoring positional argument");
                continue;
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                // `--name value`, unless the next word is another flag (then this one is
                // a boolean switch such as `--allow-privileged`).
                None => {
                    let value = args.next_if(|next| !next.starts_with('-'));
                    (flag.to_owned(), value)
                }
            };
            config.set(&name, value)?;
        }
        Ok(config)
    }

    fn set(&mut self, name: &str, value: Option<String>) -> Result<(), FlagError> {
        let need =
            |value: Option<String>| value.ok_or_else(|| FlagError::MissingValue(name.into()));
        let invalid = |value: &str, reason| FlagError::InvalidValue {
            flag: name.into(),
            value: value.into(),
            reason,
        };
        let path = |value: Option<String>| need(value).map(|v| Some(PathBuf::from(v)));
        match name {
            "secure-port" => {
                let value = need(value)?;
                self.secure_port = value
                    .parse()
                    .map_err(|_| invalid(&value, "expected a port from 0 to 65535"))?;
            }
            "bind-address" => {
                let value = need(value)?;
                self.bind_address = value
                    .parse()
                    .map_err(|_| invalid(&value, "expected an IP address"))?;
            }
            "advertise-address" => {
                let value = need(value)?;
                self.advertise_address = Some(
                    value
                        .parse()
                        .map_err(|_| invalid(&value, "expected an IP address"))?,
                );
            }
            "tls-cert-file" => self.tls_cert_file = path(value)?,
            "tls-private-key-file" => self.tls_private_key_file = path(value)?,
            "client-ca-file" => self.client_ca_file = path(value)?,
            "etcd-servers" => {
                self.etcd_servers = need(value)?
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.trim_end_matches('/').to_owned())
                    .collect();
            }
            "etcd-cafile" => self.etcd_cafile = path(value)?,
            "etcd-certfile" => self.etcd_certfile = path(value)?,
            "etcd-keyfile" => self.etcd_keyfile = path(value)?,
            "service-cluster-ip-range" => self.service_cluster_ip_range = Some(need(value)?),
            other => tracing::debug!(flag = other, value = ?value, "ignoring flag"),
        }
        Ok(())
    }

    /// The address clients are told to use.
    pub fn advertised(&self) -> IpAddr {
        self.advertise_address.unwrap_or(self.bind_address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn kubeadm_style_flags_and_unknown_ones() {
        let config = Config::parse(
            args(&[
                "kube-apiserver",
                "--advertise-address=169.254.100.2",
                "--allow-privileged=true",
                "--authorization-mode=Node,RBAC",
                "--secure-port",
                "7443",
                "--enable-admission-plugins=NodeRestriction",
                "--etcd-servers=https://127.0.0.1:2379,https://169.254.100.3:2379/",
                "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
                "--profiling",
                "--service-cluster-ip-range=10.96.0.0/12",
            ]),
            Some("registry.k8s.io/kube-apiserver:v1.31.2"),
        )
        .unwrap();
        assert_eq!(config.secure_port, 7443);
        assert_eq!(config.advertised().to_string(), "169.254.100.2");
        assert_eq!(
            config.etcd_servers,
            ["https://127.0.0.1:2379", "https://169.254.100.3:2379"]
        );
        assert_eq!(
            config.tls_cert_file.as_deref(),
            Some(std::path::Path::new("/etc/kubernetes/pki/apiserver.crt"))
        );
        assert_eq!(
            config.service_cluster_ip_range.as_deref(),
            Some("10.96.0.0/12")
        );
        assert_eq!(config.version.git_version, "v1.31.2");
        assert_eq!(
            (config.version.major.as_str(), config.version.minor.as_str()),
            ("1", "31")
        );
    }

    #[test]
    fn versions_from_images() {
        let v = |image| Version::from_image(image).map(|v| v.git_version);
        assert_eq!(
            v("localhost:5000/kube-apiserver:v1.30.1@sha256:ab"),
            Some("v1.30.1".into())
        );
        assert_eq!(v("localhost:5000/kube-apiserver"), None);
        assert_eq!(v("kube-apiserver:latest"), None);
        assert_eq!(
            Config::parse(Vec::new(), None).unwrap().version.git_version,
            DEFAULT_VERSION
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            Config::parse(args(&["--secure-port=http"]), None)
                .unwrap_err()
                .to_string(),
            "invalid value \"http\" for --secure-port: expected a port from 0 to 65535"
        );
        assert_eq!(
            Config::parse(args(&["--etcd-servers"]), None).unwrap_err(),
            FlagError::MissingValue("etcd-servers".into())
        );
    }
}
