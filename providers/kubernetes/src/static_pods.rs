//! Static pods that keep exiting. While a new control plane comes up, each member's
//! container logs (kubelet's `/var/log/pods/NAMESPACE_POD_UID/CONTAINER/RESTARTS.log`) are
//! looked at: an etcd or kube-apiserver container that kubelet has restarted twice is not
//! going to serve, so the bootstrap fails at once with the end of that container's last
//! finished log instead of waiting out `wait_timeout` for an API server that never comes.

use std::time::Duration;

use crate::remote::ClusterHost;
use fleetform_provider_host::fleet::{Fleet, Rerun};
use fleetform_sdk::ProviderError;

/// How many restarts mean "keeps exiting": kubelet restarts a crashed container with a
/// backoff of 10 s, 20 s, ..., so the second restart comes within a minute.
const RESTARTS: u64 = 2;
/// How many lines of the log to quote.
const TAIL: usize = 20;
/// How often the logs are looked at while waiting.
const EVERY: Duration = Duration::from_secs(5);

/// For each etcd and kube-apiserver container of node `$1` restarted at least `$2` times:
/// a `== POD_DIR CONTAINER RESTARTS` line, then the tail of its previous (finished) log.
const FIND_CRASH_LOOPS: &str = r#"for dir in /var/log/pods/kube-system_etcd-"$1"_*/etcd /var/log/pods/kube-system_kube-apiserver-"$1"_*/kube-apiserver; do
  [ -d "$dir" ] || continue
  n=$(ls "$dir" | sed -n 's/^\([0-9][0-9]*\)\.log$/\1/p' | sort -n | tail -n 1)
  [ -n "$n" ] && [ "$n" -ge "$2" ] || continue
  echo "== $(basename "$(dirname "$dir")") $(basename "$dir") $n"
  tail -n "$3" "$dir/$((n - 1)).log"
done"#;

/// A container that keeps exiting, with the end of its last log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashLoop {
    pub node: String,
    pub container: String,
    pub restarts: u64,
    pub log_tail: Vec<String>,
}

impl std::fmt::Display for CrashLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the {} static pod on {} keeps exiting (restarted {} times); the end of its last log:",
            self.container, self.node, self.restarts
        )?;
        for line in &self.log_tail {
            write!(f, "\n    {line}")?;
        }
        Ok(())
    }
}

/// The crash loops on one member.
pub async fn crash_loops(
    fleet: &Fleet,
    host: &ClusterHost,
    node: &str,
) -> Result<Vec<CrashLoop>, ProviderError> {
    let restarts = RESTARTS.to_string();
    let tail = TAIL.to_string();
    let out = host
        .run(
            fleet,
            &["sh", "-c", FIND_CRASH_LOOPS, "sh", node, &restarts, &tail],
            Rerun::Safe,
        )
        .await?;
    Ok(parse(node, &out))
}

/// Waits for `ready` (an API server answering), failing early when a member's etcd or
/// kube-apiserver keeps exiting: the members' logs are looked at every few seconds while
/// `ready` goes on.
pub async fn ready_or_crash_loop<T>(
    fleet: &Fleet,
    members: &[(ClusterHost, String)],
    what: &str,
    ready: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    let watch = async {
        loop {
            tokio::time::sleep(EVERY).await;
            for (host, node) in members {
                // A member that cannot be asked is not evidence of anything: keep waiting.
                let loops = match crash_loops(fleet, host, node).await {
                    Ok(loops) => loops,
                    Err(e) => {
                        tracing::debug!(node = %node, "cannot read pod logs: {e}");
                        continue;
                    }
                };
                if let Some(first) = loops.into_iter().next() {
                    return ProviderError::permanent(format!(
                        "{what} cannot become ready: {first}"
                    ));
                }
            }
        }
    };
    tokio::select! {
        result = ready => result,
        crashed = watch => Err(crashed),
    }
}

fn parse(node: &str, out: &str) -> Vec<CrashLoop> {
    let mut found: Vec<CrashLoop> = Vec::new();
    for line in out.lines() {
        if let Some(head) = line.strip_prefix("== ") {
            let mut words = head.split_whitespace().skip(1);
            let (Some(container), Some(restarts)) = (words.next(), words.next()) else {
                continue;
            };
            found.push(CrashLoop {
                node: node.to_owned(),
                container: container.to_owned(),
                restarts: restarts.parse().unwrap_or(RESTARTS),
                log_tail: Vec::new(),
            });
        } else if let Some(last) = found.last_mut() {
            last.log_tail.push(cri_text(line).to_owned());
        }
    }
    found
}

/// The text of a CRI log line (`2024-05-01T10:00:00.123456789Z stderr F text`); other
/// lines as they are.
fn cri_text(line: &str) -> &str {
    let mut parts = line.splitn(4, ' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(time), Some("stdout" | "stderr"), Some("F" | "P"), Some(text))
            if time.len() >= 20 && time.as_bytes()[10] == b'T' =>
        {
            text
        }
        (Some(time), Some("stdout" | "stderr"), Some("F" | "P"), None)
            if time.len() >= 20 && time.as_bytes()[10] == b'T' =>
        {
            ""
        }
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_finder_output_and_strips_the_cri_prefix() {
        let out = "== kube-system_kube-apiserver-cp-1_0f3c kube-apiserver 3\n\
                   2026-12-06T10:00:00.123456789Z stderr F Error: invalid argument \"x\" for \"--bind-address\"\n\
                   2026-12-06T10:00:00.2Z stdout F \n\
                   plain line\n";
        let loops = parse("cp-1", out);
        assert_eq!(
            loops,
            [CrashLoop {
                node: "cp-1".into(),
                container: "kube-apiserver".into(),
                restarts: 3,
                log_tail: vec![
                    "Error: invalid argument \"x\" for \"--bind-address\"".into(),
                    "".into(),
                    "plain line".into()
                ],
            }]
        );
        assert_eq!(
            loops[0].to_string(),
            "the kube-apiserver static pod on cp-1 keeps exiting (restarted 3 times); the end of its last log:\n    Error: invalid argument \"x\" for \"--bind-address\"\n    \n    plain line"
        );
        assert!(parse("cp-1", "").is_empty());
    }

    #[test]
    fn the_finder_script_finds_a_restarted_container_in_kubelets_layout() {
        let root = tempfile::tempdir().unwrap();
        let script = FIND_CRASH_LOOPS.replace("/var/log/pods", &root.path().display().to_string());
        let dir = root
            .path()
            .join("kube-system_kube-apiserver-cp-1_abc/kube-apiserver");
        std::fs::create_dir_all(&dir).unwrap();
        let healthy = root.path().join("kube-system_etcd-cp-1_def/etcd");
        std::fs::create_dir_all(&healthy).unwrap();
        std::fs::write(healthy.join("0.log"), "fine\n").unwrap();
        for n in 0..3 {
            std::fs::write(dir.join(format!("{n}.log")), format!("run {n}\n")).unwrap();
        }
        let out = std::process::Command::new("sh")
            .args(["-c", &script, "sh", "cp-1", "2", "5"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text,
            "== kube-system_kube-apiserver-cp-1_abc kube-apiserver 2\nrun 1\n"
        );
    }
}
