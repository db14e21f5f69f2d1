//! Work on a cluster's hosts through the host provider's connections: the same `Fleet`,
//! the same one connection per host, the same file convergence (inspect, then install
//! over SFTP with an atomic rename) as `host_file`.

use std::net::IpAddr;
use std::time::Duration;

use fleetform_provider_host::Shell;
use fleetform_provider_host::files;
use fleetform_provider_host::fleet::{Fleet, HostError, Rerun};
use fleetform_provider_host::ssh::{SessionError, Target};
use fleetform_sdk::ProviderError;

/// A file as it should be on a host.
#[derive(Clone, PartialEq, Eq)]
pub struct DesiredFile {
    pub path: String,
    pub content: String,
    pub mode: u32,
}

// Contents may be keys: never printed.
impl std::fmt::Debug for DesiredFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesiredFile")
            .field("path", &self.path)
            .field("mode", &format_args!("{:o}", self.mode))
            .finish_non_exhaustive()
    }
}

/// A host of a cluster: its id in the fleet, how to reach it and what it runs.
#[derive(Debug, Clone)]
pub struct ClusterHost {
    pub id: String,
    pub target: Target,
    pub shell: Shell,
}

impl ClusterHost {
    /// The host with `id`, as the host provider registered it.
    pub fn find(fleet: &Fleet, id: &str) -> Result<ClusterHost, ProviderError> {
        let (target, shell) = fleet.host(id)?;
        Ok(ClusterHost {
            id: id.to_owned(),
            target,
            shell,
        })
    }

    /// The address its API server and etcd advertise: the host's address when it is an IP,
    /// otherwise what the name resolves to.
    pub async fn address(&self) -> Result<IpAddr, ProviderError> {
        if let Ok(ip) = self.target.address.parse::<IpAddr>() {
            return Ok(ip);
        }
        let lookup = tokio::net::lookup_host((self.target.address.as_str(), 0)).await;
        lookup
            .ok()
            .and_then(|mut addrs| addrs.next())
            .map(|a| a.ip())
            .ok_or_else(|| {
                ProviderError::permanent(format!(
                    "host {}: cannot resolve {:?} to the address its node advertises",
                    self.id, self.target.address
                ))
            })
    }

    /// The host's node name: its hostname in lowercase, as kubeadm takes it.
    pub async fn node_name(&self, fleet: &Fleet) -> Result<String, ProviderError> {
        let out = self.run(fleet, &["uname", "-n"], Rerun::Safe).await?;
        let name = out.trim().to_ascii_lowercase();
        if !crate::pki::is_dns_subdomain(&name) {
            return Err(ProviderError::permanent(format!(
                "host {}: its hostname {name:?} cannot be a Kubernetes node name (RFC 1123)",
                self.id
            )));
        }
        Ok(name)
    }

    /// Runs `argv` (every word quoted) and returns its standard output; a non-zero exit
    /// is an error carrying standard error.
    pub async fn run(
        &self,
        fleet: &Fleet,
        argv: &[&str],
        rerun: Rerun,
    ) -> Result<String, ProviderError> {
        let command = fleetform_provider_host::join(argv);
        self.run_command(fleet, command, None, rerun, Duration::from_secs(600))
            .await
    }

    /// Runs `script` with `sh -eu`, the script on standard input.
    pub async fn run_script(&self, fleet: &Fleet, script: String) -> Result<String, ProviderError> {
        self.run_command(
            fleet,
            "sh -eu -s".to_owned(),
            Some(script.into_bytes()),
            Rerun::Never,
            Duration::from_secs(1800),
        )
        .await
    }

    async fn run_command(
        &self,
        fleet: &Fleet,
        command: String,
        stdin: Option<Vec<u8>>,
        rerun: Rerun,
        timeout: Duration,
    ) -> Result<String, ProviderError> {
        let what = command.clone();
        let host = self.target.describe();
        let out = fleet
            .run_on(self.target.clone(), rerun, move |c| {
                c.exec(&command, stdin.as_deref(), timeout)
            })
            .await?;
        if out.exit_code != 0 {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(ProviderError::permanent(format!(
                "on {host}: `{what}` exited with {}: {}",
                out.exit_code,
                last_lines(&stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The SHA-256 (hex) of a file on the host, `None` when there is none.
    pub async fn file_sha256(
        &self,
        fleet: &Fleet,
        path: &str,
    ) -> Result<Option<String>, ProviderError> {
        let path = path.to_owned();
        let result = fleet
            .run_on(self.target.clone(), Rerun::Safe, move |c| {
                files::inspect(c, &path)
            })
            .await;
        result
            .map(|found| found.map(|f| f.sha256))
            .map_err(|e: HostError| e.into())
    }

    /// Makes `wanted` so on the host, uploading only the files whose content or mode
    /// differ; returns the paths it changed.
    pub async fn converge(
        &self,
        fleet: &Fleet,
        wanted: Vec<DesiredFile>,
    ) -> Result<Vec<String>, ProviderError> {
        self.compare(fleet, wanted, true).await
    }

    /// The paths of `wanted` whose content or mode differ on the host (or are missing).
    pub async fn differing(
        &self,
        fleet: &Fleet,
        wanted: Vec<DesiredFile>,
    ) -> Result<Vec<String>, ProviderError> {
        self.compare(fleet, wanted, false).await
    }

    /// Inspects `wanted` on the host in one command and, when `install`, installs those that
    /// differ; returns their paths.
    async fn compare(
        &self,
        fleet: &Fleet,
        wanted: Vec<DesiredFile>,
        install: bool,
    ) -> Result<Vec<String>, ProviderError> {
        let result = fleet
            .run_on(self.target.clone(), Rerun::Safe, move |c| {
                let paths: Vec<String> = wanted.iter().map(|f| f.path.clone()).collect();
                let present = files::inspect_all(c, &paths)?;
                let differ: Vec<&DesiredFile> =
                    wanted.iter().filter(|f| !matches(&present, f)).collect();
                if install {
                    let installs: Vec<files::Install<'_>> = differ
                        .iter()
                        .map(|f| files::Install {
                            path: &f.path,
                            bytes: f.content.as_bytes(),
                            mode: f.mode,
                        })
                        .collect();
                    files::install_all(c, &installs, "root", "root")?;
                }
                Ok::<_, SessionError>(differ.iter().map(|f| f.path.clone()).collect())
            })
            .await;
        result.map_err(|e: HostError| e.into())
    }
}

fn matches(
    present: &std::collections::BTreeMap<String, Option<files::OnHost>>,
    file: &DesiredFile,
) -> bool {
    present
        .get(&file.path)
        .and_then(Option::as_ref)
        .is_some_and(|on_host| {
            on_host.mode == file.mode
                && on_host.sha256 == files::hex_sha256(file.content.as_bytes())
        })
}

/// The end of a command's error output, enough to say what went wrong.
fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    let start = lines.len().saturating_sub(8);
    lines[start..].join("\n")
}
