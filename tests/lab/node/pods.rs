//! Static pods as processes. Each manifest file has one task that runs its containers'
//! processes; a changed file gets a new task, which first stops the old one's processes
//! (SIGTERM, up to [`STOP_GRACE`], SIGKILL), so the directory poll never waits.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::AgentOptions;

/// How long a stopped process gets between SIGTERM and SIGKILL (kubelet's default grace
/// period is longer; the lab wants restarts quick).
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// The first wait before restarting an exited process; doubled after each exit.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait before restarting an exited process.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A process that ran this long before exiting is restarted after [`FIRST_BACKOFF`] again.
const BACKOFF_RESET: Duration = Duration::from_secs(10);

/// Where kubelet keeps container logs: `NAMESPACE_POD_UID/CONTAINER/RESTARTS.log`, each line
/// in the CRI format (`TIME STREAM F TEXT`). Operators and fleetform read them there.
pub const POD_LOG_DIR: &str = "/var/log/pods";

/// The PATH a pod's processes get: they run with an environment of their own, as
/// containers do, not with the agent's.
const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to run for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPlan {
    pub name: String,
    pub image: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

/// What to run for one static pod: the containers that have a program on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodPlan {
    pub name: String,
    /// `metadata.namespace` (kubeadm's are in kube-system).
    pub namespace: String,
    /// The pod's uid, from its manifest (as kubelet derives a static pod's).
    pub uid: String,
    pub restart: RestartPolicy,
    pub containers: Vec<ContainerPlan>,
    /// Containers whose program is not on this host, by name, with the program.
    pub not_run: Vec<(String, String)>,
}

/// Where programs are looked up and what stands in for a missing kube-apiserver.
#[derive(Debug, Clone)]
pub struct Resolver {
    pub path: Option<OsString>,
    pub apiserver_binary: Option<PathBuf>,
}

impl Resolver {
    fn from_env(apiserver_binary: Option<PathBuf>) -> Resolver {
        Resolver {
            path: std::env::var_os("PATH"),
            apiserver_binary,
        }
    }

    /// `command[0]` as kubelet's container would find it: a path as is, a name on PATH;
    /// the lab API server for a `kube-apiserver` that is not on PATH, and the lab's
    /// kube-vip (`fleetform-lab-vip`, beside the lab API server) for kube-vip's image
    /// entrypoint `/kube-vip`.
    pub fn resolve(&self, program: &str) -> Option<PathBuf> {
        if program == "/kube-vip" && !is_executable(Path::new(program)) {
            return self
                .apiserver_binary
                .as_ref()
                .and_then(|apiserver| apiserver.parent())
                .map(|dir| dir.join(crate::lab::VIP_BIN))
                .filter(|p| is_executable(p));
        }
        if program.contains('/') {
            let p = PathBuf::from(program);
            return is_executable(&p).then_some(p);
        }
        let on_path = self.path.as_ref().and_then(|path| {
            std::env::split_paths(path)
                .map(|dir| dir.join(program))
                .find(|p| is_executable(p))
        });
        on_path.or_else(|| {
            (program == "kube-apiserver")
                .then(|| self.apiserver_binary.clone())
                .flatten()
                .filter(|p| is_executable(p))
        })
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A name safe to use as one path component: a DNS subdomain (pods) or label
/// (containers), as the API server would require.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !name.starts_with(['-', '.'])
        && !name.ends_with(['-', '.'])
}

/// Reads a static pod manifest (a v1 Pod, YAML or JSON) into what to run.
pub fn plan(manifest: &[u8], resolver: &Resolver) -> Result<PodPlan, String> {
    let pod: Pod = serde_yaml_ng::from_slice(manifest).map_err(|e| format!("not a v1 Pod: {e}"))?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    if !valid_name(&name) {
        return Err(format!("metadata.name {name:?} is not a valid pod name"));
    }
    let spec = pod.spec.ok_or("the pod has no spec")?;
    let restart = match spec.restart_policy.as_deref() {
        None | Some("Always") => RestartPolicy::Always,
        Some("OnFailure") => RestartPolicy::OnFailure,
        Some("Never") => RestartPolicy::Never,
        Some(other) => return Err(format!("unknown restartPolicy {other:?}")),
    };
    if spec.containers.is_empty() {
        return Err("the pod has no containers".into());
    }
    let mut plan = PodPlan {
        name,
        namespace: pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        uid: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, manifest)
            .simple()
            .to_string(),
        restart,
        containers: Vec::new(),
        not_run: Vec::new(),
    };
    for c in spec.containers {
        if !valid_name(&c.name) || c.name.contains('.') {
            return Err(format!("container name {:?} is not valid", c.name));
        }
        let command = c.command.clone().unwrap_or_default();
        let Some(program) = command.first().cloned() else {
            // The image's entrypoint would run; there are no images here.
            plan.not_run
                .push((c.name, "(the image's entrypoint)".into()));
            continue;
        };
        match resolver.resolve(&program) {
            Some(path) => plan.containers.push(container_plan(c, path, command)?),
            None => plan.not_run.push((c.name, program)),
        }
    }
    Ok(plan)
}

fn container_plan(
    c: Container,
    program: PathBuf,
    command: Vec<String>,
) -> Result<ContainerPlan, String> {
    let mut env = Vec::new();
    for var in c.env.unwrap_or_default() {
        match var.value {
            Some(v) => env.push((var.name, v)),
            None if var.value_from.is_none() => env.push((var.name, String::new())),
            None => {
                return Err(format!(
                    "container {:?}: env {:?} uses valueFrom, which the lab does not resolve",
                    c.name, var.name
                ));
            }
        }
    }
    let args = command
        .into_iter()
        .skip(1)
        .chain(c.args.unwrap_or_default())
        .collect();
    Ok(ContainerPlan {
        name: c.name,
        image: c.image.unwrap_or_default(),
        program,
        args,
        env,
        working_dir: c.working_dir,
    })
}

/// One manifest file's pod, running or being stopped.
struct PodTask {
    content: Vec<u8>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl PodTask {
    fn retire(self) -> JoinHandle<()> {
        let _ = self.stop.send(true);
        self.task
    }
}

/// The static pods of one manifest directory.
pub struct StaticPods {
    manifest_dir: PathBuf,
    logs: PathBuf,
    pids: PathBuf,
    resolver: Resolver,
    hostname: String,
    running: BTreeMap<PathBuf, PodTask>,
    /// Tasks stopping pods whose manifest is gone, awaited at shutdown.
    retiring: Vec<JoinHandle<()>>,
    dir_error: Option<String>,
}

impl StaticPods {
    pub fn new(options: &AgentOptions) -> StaticPods {
        StaticPods {
            manifest_dir: options.manifest_dir.clone(),
            logs: options.pod_logs(),
            pids: options.pod_pids(),
            resolver: Resolver::from_env(options.apiserver_binary.clone()),
            hostname: fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_default(),
            running: BTreeMap::new(),
            retiring: Vec::new(),
            dir_error: None,
        }
    }

    /// The manifests now in the directory: regular files not starting with `.` (kubelet
    /// skips those, and the host provider's uploads are such temp files until renamed).
    fn read_manifests(&mut self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut found = BTreeMap::new();
        let entries = match fs::read_dir(&self.manifest_dir) {
            Ok(entries) => {
                self.dir_error = None;
                entries
            }
            Err(e) => {
                let message = e.to_string();
                if e.kind() != std::io::ErrorKind::NotFound
                    && self.dir_error.as_ref() != Some(&message)
                {
                    tracing::warn!("{}: {message}", self.manifest_dir.display());
                }
                self.dir_error = Some(message);
                return found;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden || !path.is_file() {
                continue;
            }
            if let Ok(bytes) = fs::read(&path) {
                found.insert(path, bytes);
            }
        }
        found
    }

    /// Brings the running pods in line with the manifest directory.
    pub fn sync(&mut self) {
        let manifests = self.read_manifests();
        let gone: Vec<PathBuf> = self
            .running
            .keys()
            .filter(|p| !manifests.contains_key(*p))
            .cloned()
            .collect();
        for path in gone {
            tracing::info!(manifest = %path.display(), "manifest removed: stopping its pod");
            if let Some(old) = self.running.remove(&path) {
                self.retiring.push(old.retire());
            }
        }
        self.retiring.retain(|t| !t.is_finished());
        for (path, content) in manifests {
            let previous = self.running.remove(&path);
            if let Some(p) = &previous
                && p.content == content
            {
                self.running.insert(path, previous.expect("checked"));
                continue;
            }
            let verb = if previous.is_some() {
                "changed"
            } else {
                "found"
            };
            let plan = match plan(&content, &self.resolver) {
                Ok(plan) => {
                    tracing::info!(manifest = %path.display(), pod = %plan.name, "manifest {verb}");
                    for (container, program) in &plan.not_run {
                        tracing::info!(
                            pod = %plan.name,
                            "no {program} binary here; static pod recorded but not run \
                             (container {container})"
                        );
                    }
                    Some(plan)
                }
                Err(e) => {
                    tracing::error!(manifest = %path.display(), "manifest {verb} but unusable: {e}");
                    None
                }
            };
            let (stop, stop_rx) = watch::channel(false);
            let runner = self.runner(plan);
            let task = tokio::spawn(async move {
                if let Some(previous) = previous {
                    let _ = previous.retire().await;
                }
                if let Some(runner) = runner {
                    runner.run(stop_rx).await;
                }
            });
            self.running.insert(
                path,
                PodTask {
                    content,
                    stop,
                    task,
                },
            );
        }
    }

    fn runner(&self, plan: Option<PodPlan>) -> Option<PodRunner> {
        let plan = plan?;
        Some(PodRunner {
            log: self.logs.join(format!("{}.log", plan.name)),
            pid_dir: self.pids.join(&plan.name),
            hostname: self.hostname.clone(),
            plan,
        })
    }

    /// Stops every pod and waits until their processes are gone.
    pub async fn stop_all(&mut self) {
        let mut tasks: Vec<JoinHandle<()>> = std::mem::take(&mut self.retiring);
        tasks.extend(
            std::mem::take(&mut self.running)
                .into_values()
                .map(PodTask::retire),
        );
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// Runs one pod's container processes until told to stop.
struct PodRunner {
    plan: PodPlan,
    log: PathBuf,
    pid_dir: PathBuf,
    hostname: String,
}

impl PodRunner {
    async fn run(self, stop: watch::Receiver<bool>) {
        if self.plan.containers.is_empty() {
            return;
        }
        if let Err(e) = fs::create_dir_all(&self.pid_dir) {
            tracing::error!(pod = %self.plan.name, "{}: {e}", self.pid_dir.display());
        }
        let pod = Arc::new(self);
        let mut containers = JoinSet::new();
        for c in pod.plan.containers.clone() {
            containers.spawn(run_container(pod.clone(), c, stop.clone()));
        }
        while containers.join_next().await.is_some() {}
        // Other pods' directories are theirs; this one is empty now unless a newer task
        // of the same pod has already written into it.
        let _ = fs::remove_dir(&pod.pid_dir);
    }

    fn append_log(&self, line: &str) {
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&self.log) {
            let _ = writeln!(f, "--- fleetform-lab-node: {line}");
        }
    }

    /// Starts a container's process, its output going to the agent's pod log and to
    /// kubelet's container log for this restart.
    fn spawn(&self, c: &ContainerPlan, restarts: u32) -> std::io::Result<Child> {
        let agent_log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let dir = Path::new(POD_LOG_DIR)
            .join(format!(
                "{}_{}-{}_{}",
                self.plan.namespace, self.plan.name, self.hostname, self.plan.uid
            ))
            .join(&c.name);
        fs::create_dir_all(&dir)?;
        let cri_log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{restarts}.log")))?;
        // A host whose runtime runs another image than the manifest names (a local image
        // retagged over the real one): `STATE_DIR/images/CONTAINER` holds that image.
        let image = fs::read_to_string(Path::new(super::STATE_DIR).join("images").join(&c.name))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| c.image.clone());
        let mut cmd = Command::new(&c.program);
        cmd.args(&c.args)
            .env_clear()
            .env("PATH", CONTAINER_PATH)
            .env("HOME", "/root")
            .env("HOSTNAME", &self.hostname)
            .envs(c.env.iter().map(|(k, v)| (k, v)))
            .env("FLEETFORM_LAB_IMAGE", &image)
            .current_dir(c.working_dir.as_deref().unwrap_or("/"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that stopping it reaches whatever it started.
            .process_group(0);
        let mut child = cmd.spawn()?;
        let logs = Arc::new(std::sync::Mutex::new((agent_log, cri_log)));
        if let Some(out) = child.stdout.take() {
            tokio::spawn(copy_lines(out, "stdout", logs.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(copy_lines(err, "stderr", logs));
        }
        Ok(child)
    }
}

/// Copies a container's output line by line: as is to the agent's log, with the CRI
/// prefix to kubelet's.
async fn copy_lines(
    stream: impl tokio::io::AsyncRead + Unpin,
    name: &'static str,
    logs: Arc<std::sync::Mutex<(fs::File, fs::File)>>,
) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        if let Ok(mut logs) = logs.lock() {
            let _ = writeln!(logs.0, "{line}");
            let _ = writeln!(logs.1, "{now} {name} F {line}");
        }
    }
}

/// Resolves when the pod is to stop (or its owner is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn run_container(pod: Arc<PodRunner>, c: ContainerPlan, mut stop: watch::Receiver<bool>) {
    let name = &pod.plan.name;
    let pid_file = pod.pid_dir.join(format!("{}.pid", c.name));
    let mut backoff = FIRST_BACKOFF;
    let mut restarts = 0;
    loop {
        if *stop.borrow() {
            return;
        }
        let started = Instant::now();
        let spawned = pod.spawn(&c, restarts);
        restarts += 1;
        let status: Option<ExitStatus> = match spawned {
            Err(e) => {
                tracing::error!(pod = %name, container = %c.name, "cannot start {}: {e}", c.program.display());
                pod.append_log(&format!("cannot start {}: {e}", c.program.display()));
                None
            }
            Ok(mut child) => {
                let pid = child.id().unwrap_or_default();
                let _ = fs::write(&pid_file, format!("{pid}\n"));
                tracing::info!(pod = %name, container = %c.name, pid, "started {}", c.program.display());
                pod.append_log(&format!("container {} started as pid {pid}", c.name));
                tokio::select! {
                    status = child.wait() => {
                        let _ = fs::remove_file(&pid_file);
                        let status = status.ok();
                        let shown = status.map_or_else(|| "unknown status".into(), |s| s.to_string());
                        tracing::warn!(pod = %name, container = %c.name, pid, "exited: {shown}");
                        pod.append_log(&format!("container {} (pid {pid}) exited: {shown}", c.name));
                        status
                    }
                    () = stopped(&mut stop) => {
                        terminate(&mut child, pid).await;
                        let _ = fs::remove_file(&pid_file);
                        tracing::info!(pod = %name, container = %c.name, pid, "stopped");
                        pod.append_log(&format!("container {} (pid {pid}) stopped", c.name));
                        return;
                    }
                }
            }
        };
        let succeeded = status.is_some_and(|s| s.success());
        let restart = match pod.plan.restart {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => !succeeded,
            RestartPolicy::Never => false,
        };
        if !restart {
            stopped(&mut stop).await;
            return;
        }
        if started.elapsed() >= BACKOFF_RESET {
            backoff = FIRST_BACKOFF;
        }
        tracing::info!(pod = %name, container = %c.name, "restarting in {backoff:?}");
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stopped(&mut stop) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Sends `signal` to the process group `pgid` (the container process and whatever it
/// started). std has no kill(2) for signals other than SIGKILL; kill(1) does it.
async fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

/// SIGTERM, up to [`STOP_GRACE`] to exit, then SIGKILL.
async fn terminate(child: &mut Child, pid: u32) {
    signal_group(pid, "TERM").await;
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        tracing::warn!(pid, "still running {STOP_GRACE:?} after SIGTERM: SIGKILL");
        signal_group(pid, "KILL").await;
        let _ = child.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> Resolver {
        Resolver {
            path: Some("/usr/bin:/bin".into()),
            apiserver_binary: Some("/bin/true".into()),
        }
    }

    const ETCD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  hostNetwork: true
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5.15-0
    command: [sh, --name=lab-1]
    args: [--data-dir=/var/lib/etcd]
    env:
    - name: ETCD_UNSUPPORTED_ARCH
      value: amd64
"#;

    #[test]
    fn a_manifest_becomes_its_command_args_and_env() {
        let plan = plan(ETCD.as_bytes(), &resolver()).unwrap();
        assert_eq!(plan.name, "etcd");
        assert_eq!(plan.restart, RestartPolicy::Always);
        assert_eq!(
            plan.containers,
            [ContainerPlan {
                name: "etcd".into(),
                image: "registry.k8s.io/etcd:3.5.15-0".into(),
                program: "/usr/bin/sh".into(),
                args: vec!["--name=lab-1".into(), "--data-dir=/var/lib/etcd".into()],
                env: vec![("ETCD_UNSUPPORTED_ARCH".into(), "amd64".into())],
                working_dir: None,
            }]
        );
        assert!(plan.not_run.is_empty());
    }

    #[test]
    fn kube_apiserver_falls_back_to_the_lab_api_server_and_missing_programs_are_not_run() {
        let manifest = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"kube-apiserver"},
            "spec":{"containers":[
              {"name":"kube-apiserver","image":"registry.k8s.io/kube-apiserver:v1.31.2",
               "command":["kube-apiserver","--secure-port=6443"]},
              {"name":"sched","command":["kube-scheduler"]}]}}"#;
        let plan = plan(manifest.as_bytes(), &resolver()).unwrap();
        assert_eq!(plan.containers.len(), 1);
        assert_eq!(plan.containers[0].program, Path::new("/bin/true"));
        assert_eq!(plan.containers[0].args, ["--secure-port=6443"]);
        assert_eq!(
            plan.not_run,
            [("sched".to_owned(), "kube-scheduler".to_owned())]
        );
        let without = Resolver {
            apiserver_binary: None,
            ..resolver()
        };
        let plan = super::plan(manifest.as_bytes(), &without).unwrap();
        assert!(plan.containers.is_empty());
    }

    #[test]
    fn unusable_manifests_are_refused() {
        let r = resolver();
        assert!(plan(b"kind: Pod\n", &r).is_err(), "no apiVersion");
        let traversal = ETCD.replace("name: etcd\n  namespace", "name: ../x\n  namespace");
        assert!(
            plan(traversal.as_bytes(), &r)
                .unwrap_err()
                .contains("pod name")
        );
        let policy = ETCD.replace("hostNetwork: true", "restartPolicy: Sometimes");
        assert!(
            plan(policy.as_bytes(), &r)
                .unwrap_err()
                .contains("restartPolicy")
        );
    }
}
