//! The lab's node agent (its stand-in for kubelet) on real lab hosts: a static pod
//! manifest for etcd becomes a real etcd in the host's namespaces that answers from the
//! root namespace; a changed manifest restarts it, a killed process comes back, a removed
//! manifest stops it, and so does stopping the agent. The hosts' `systemctl` records calls
//! and makes the agent re-read its configuration; what a host writes under
//! /etc/systemd/system or /usr/local/sbin stays in the host. With a kubeadm-layout PKI,
//! mTLS etcd and the lab API server (run for kube-apiserver), the host registers as a
//! Ready Node with kubeadm's flags and config, heartbeats, and updates its Node after
//! `systemctl restart kubelet` or a new kubelet.conf. Needs root (the lab), Debian's
//! etcd-server and etcd-client, and kubectl.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fleetform_tests::lab::{Lab, node, process_alive};
use fleetform_tests::output_text as text;

fn exec_ok(lab: &Lab, host: &str, argv: &[&str]) -> String {
    let out = lab.exec(host, argv);
    assert!(out.status.success(), "{argv:?} on {host}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes a file on a host as the cluster provider does: a dot-named temp file beside it,
/// then a rename, so the agent never reads half a manifest. Values go as arguments.
fn put(lab: &Lab, host: &str, path: &str, content: &str) {
    let (dir, name) = path.rsplit_once('/').unwrap();
    let temp = format!("{dir}/.{name}.tmp");
    exec_ok(
        lab,
        host,
        &[
            "sh",
            "-c",
            r#"mkdir -p "$(dirname "$1")" && printf '%s' "$3" > "$2" && mv -f "$2" "$1""#,
            "sh",
            path,
            &temp,
            content,
        ],
    );
}

/// Polls `check` every 100 ms until it returns something, or panics with `what` and the
/// host's agent log after `limit`.
fn wait_for<T>(lab: &Lab, limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?}; lab-1's agent log:\n{}",
            lab.agent_log("lab-1").unwrap_or_else(|e| e.to_string())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A static pod manifest for a single-member etcd on plain HTTP at `addr`, as a user could
/// write it; `hash` stands for the config hash annotation the cluster provider changes.
fn etcd_manifest(addr: Ipv4Addr, hash: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
  annotations:
    fleetform.io/config-hash: "{hash}"
spec:
  hostNetwork: true
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5.15-0
    command:
    - etcd
    - --name=lab-1
    - --data-dir=/var/lib/etcd
    - --listen-client-urls=http://{addr}:2379
    - --advertise-client-urls=http://{addr}:2379
    - --listen-peer-urls=http://{addr}:2380
    - --initial-advertise-peer-urls=http://{addr}:2380
    - --initial-cluster=lab-1=http://{addr}:2380
    env:
    - name: ETCD_LOG_LEVEL
      value: info
"#
    )
}

/// `etcdctl endpoint health` against `addr` from the root namespace.
fn etcd_healthy(addr: Ipv4Addr) -> bool {
    Command::new("etcdctl")
        .arg("--endpoints")
        .arg(format!("http://{addr}:2379"))
        .args([
            "--dial-timeout=1s",
            "--command-timeout=2s",
            "endpoint",
            "health",
        ])
        .output()
        .expect("run etcdctl (Debian's etcd-client)")
        .status
        .success()
}

fn namespace(pid: u32, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn proc_strings(pid: u32, file: &str) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

const MANIFEST: &str = "/etc/kubernetes/manifests/etcd.yaml";

#[test]
fn a_static_pod_runs_restarts_on_change_and_on_exit_and_stops_when_removed() {
    let t0 = Instant::now();
    let lab = Lab::start(1).unwrap_or_else(|e| panic!("the lab did not start: {e}"));
    let started = t0.elapsed();
    let addr = lab.hosts()[0].address;
    let agent = lab.agent_pid("lab-1").unwrap();
    assert!(process_alive(agent));

    let t = Instant::now();
    put(&lab, "lab-1", MANIFEST, &etcd_manifest(addr, "one"));
    let first = wait_for(&lab, Duration::from_secs(20), "etcd answers", || {
        let pid = lab.pod_pid("lab-1", "etcd", "etcd").unwrap()?;
        etcd_healthy(addr).then_some(pid)
    });
    let etcd_up = t.elapsed();

    // It is the manifest's etcd, in the host's namespaces, with the manifest's env and
    // the image named; its output goes to the pod's log.
    let argv = proc_strings(first, "cmdline");
    assert!(argv[0].ends_with("/etcd"), "{argv:?}");
    assert!(
        argv.contains(&format!("--listen-client-urls=http://{addr}:2379")),
        "{argv:?}"
    );
    for kind in ["net", "mnt", "uts"] {
        assert_eq!(
            namespace(first, kind),
            namespace(agent, kind),
            "{kind} namespace"
        );
        assert_ne!(
            namespace(first, kind),
            namespace(std::process::id(), kind),
            "{kind}"
        );
    }
    let env = proc_strings(first, "environ");
    assert!(
        env.contains(&"FLEETFORM_LAB_IMAGE=registry.k8s.io/etcd:3.5.15-0".to_owned()),
        "{env:?}"
    );
    assert!(env.contains(&"ETCD_LOG_LEVEL=info".to_owned()), "{env:?}");
    let pod_log = node::pod_log_file("etcd");
    let log = wait_for(&lab, Duration::from_secs(5), "etcd's log", || {
        let log = lab.read_host_file("lab-1", &pod_log).ok()?;
        log.contains("ready to serve client requests")
            .then_some(log)
    });
    assert!(log.contains(&format!("started as pid {first}")), "{log}");
    assert!(
        !Path::new("/var/lib/fleetform-lab-node/logs/etcd.log").exists(),
        "the pod log leaked into the root mount namespace"
    );

    // A changed manifest (the config hash the provider bumps) restarts it.
    let t = Instant::now();
    put(&lab, "lab-1", MANIFEST, &etcd_manifest(addr, "two"));
    let second = wait_for(&lab, Duration::from_secs(20), "etcd restarted", || {
        let pid = lab.pod_pid("lab-1", "etcd", "etcd").unwrap()?;
        (pid != first && etcd_healthy(addr)).then_some(pid)
    });
    let restart = t.elapsed();
    assert!(!process_alive(first), "the old etcd {first} still runs");

    // A process that dies is started again (restartPolicy Always), after a backoff.
    let out = Command::new("kill")
        .args(["-KILL", &second.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let third = wait_for(
        &lab,
        Duration::from_secs(15),
        "etcd back after a kill",
        || {
            let pid = lab.pod_pid("lab-1", "etcd", "etcd").unwrap()?;
            (pid != second && etcd_healthy(addr)).then_some(pid)
        },
    );
    let agent_log = lab.agent_log("lab-1").unwrap();
    assert!(agent_log.contains("restarting in 1s"), "{agent_log}");

    // An unchanged manifest leaves it alone.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(lab.pod_pid("lab-1", "etcd", "etcd").unwrap(), Some(third));

    // A removed manifest stops it.
    exec_ok(&lab, "lab-1", &["rm", "-f", MANIFEST]);
    wait_for(&lab, Duration::from_secs(15), "etcd stopped", || {
        (!process_alive(third)).then_some(())
    });
    assert_eq!(lab.pod_pid("lab-1", "etcd", "etcd").unwrap(), None);
    assert!(
        !etcd_healthy(addr),
        "etcd still answers after its manifest went"
    );
    let agent_log = lab.agent_log("lab-1").unwrap();
    assert!(agent_log.contains("manifest removed"), "{agent_log}");

    // An agent told to stop takes its pods with it.
    put(&lab, "lab-1", MANIFEST, &etcd_manifest(addr, "three"));
    let fourth = wait_for(&lab, Duration::from_secs(20), "etcd back", || {
        lab.pod_pid("lab-1", "etcd", "etcd").unwrap()
    });
    let out = Command::new("kill")
        .args(["-TERM", &agent.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    wait_for(&lab, Duration::from_secs(15), "agent and etcd gone", || {
        (!process_alive(agent) && !process_alive(fourth)).then_some(())
    });
    let agent_log = lab.agent_log("lab-1").unwrap();
    assert!(
        agent_log.contains("SIGTERM: stopping every static pod"),
        "{agent_log}"
    );
    assert!(
        lab.read_host_file("lab-1", node::AGENT_PID).is_err(),
        "the agent left its PID file"
    );
    eprintln!(
        "node: lab of 1 host (agent included) started in {started:?}; etcd answered {etcd_up:?} \
         after its manifest; a changed manifest restarted it in {restart:?}"
    );
}

#[test]
fn components_without_a_binary_are_recorded_but_not_run() {
    let lab = Lab::start(1).unwrap_or_else(|e| panic!("the lab did not start: {e}"));
    let manifest = r#"apiVersion: v1
kind: Pod
metadata:
  name: kube-scheduler
  namespace: kube-system
spec:
  hostNetwork: true
  containers:
  - name: kube-scheduler
    image: registry.k8s.io/kube-scheduler:v1.31.2
    command: [kube-scheduler, --kubeconfig=/etc/kubernetes/scheduler.conf]
"#;
    put(
        &lab,
        "lab-1",
        "/etc/kubernetes/manifests/kube-scheduler.yaml",
        manifest,
    );
    let log = wait_for(
        &lab,
        Duration::from_secs(5),
        "the agent notes the scheduler",
        || {
            let log = lab.agent_log("lab-1").ok()?;
            log.contains("no kube-scheduler binary here; static pod recorded but not run")
                .then_some(log)
        },
    );
    assert_eq!(
        lab.pod_pid("lab-1", "kube-scheduler", "kube-scheduler")
            .unwrap(),
        None
    );
    // Once per manifest, not once per poll.
    std::thread::sleep(Duration::from_millis(700));
    let again = lab.agent_log("lab-1").unwrap();
    assert_eq!(
        again.matches("no kube-scheduler binary").count(),
        1,
        "{again}"
    );
    assert!(log.contains("manifest found"), "{log}");
}

#[test]
fn systemctl_is_recorded_and_unit_files_stay_in_the_host() {
    let lab = Lab::start(1).unwrap_or_else(|e| panic!("the lab did not start: {e}"));
    // The stand-in is what root's ssh sessions find first, and what /usr/bin/systemctl is.
    let found = exec_ok(&lab, "lab-1", &["sh", "-c", "command -v systemctl"]);
    assert_eq!(found.trim(), "/usr/local/sbin/systemctl");

    let unique = format!("fleetform-lab-test-{}", std::process::id());
    let unit = format!("/etc/systemd/system/{unique}.service");
    put(&lab, "lab-1", &unit, "[Service]\nExecStart=/bin/true\n");
    put(
        &lab,
        "lab-1",
        &format!("/usr/local/sbin/{unique}"),
        "#!/bin/sh\n",
    );
    assert_eq!(
        exec_ok(&lab, "lab-1", &["cat", &unit]),
        "[Service]\nExecStart=/bin/true\n"
    );
    assert!(!Path::new(&unit).exists(), "{unit} leaked onto the machine");
    assert!(!Path::new("/usr/local/sbin").join(&unique).exists());

    exec_ok(&lab, "lab-1", &["systemctl", "daemon-reload"]);
    exec_ok(&lab, "lab-1", &["systemctl", "restart", "containerd"]);
    assert_eq!(
        exec_ok(&lab, "lab-1", &["systemctl", "is-active", "kubelet"]).trim(),
        "active"
    );
    assert_eq!(
        exec_ok(
            &lab,
            "lab-1",
            &["systemctl", "is-active", "--quiet", "kubelet"]
        ),
        ""
    );
    exec_ok(&lab, "lab-1", &["/usr/bin/systemctl", "disable", &unique]);
    let unsupported = lab.exec("lab-1", &["systemctl", "isolate", "rescue.target"]);
    assert!(!unsupported.status.success(), "{}", text(&unsupported));
    let agent = lab.agent_pid("lab-1").unwrap();
    let hups = |lab: &Lab| lab.agent_log("lab-1").unwrap().matches("SIGHUP").count();
    assert_eq!(hups(&lab), 0);

    // Starting kubelet makes the agent re-read its flags and configuration.
    exec_ok(&lab, "lab-1", &["systemctl", "enable", "--now", "kubelet"]);
    wait_for(
        &lab,
        Duration::from_secs(5),
        "SIGHUP after enable --now",
        || (hups(&lab) == 1).then_some(()),
    );
    exec_ok(&lab, "lab-1", &["systemctl", "restart", "kubelet.service"]);
    wait_for(&lab, Duration::from_secs(5), "SIGHUP after restart", || {
        (hups(&lab) == 2).then_some(())
    });
    // Enabling without --now starts nothing.
    exec_ok(&lab, "lab-1", &["systemctl", "enable", "kubelet"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(hups(&lab), 2);
    assert_eq!(
        lab.agent_pid("lab-1").unwrap(),
        agent,
        "the agent was replaced"
    );
    assert!(process_alive(agent));

    assert_eq!(
        lab.systemctl_log("lab-1").unwrap(),
        format!(
            "daemon-reload\nrestart containerd\nis-active kubelet\nis-active --quiet kubelet\n\
             disable {unique}\n\
             isolate rescue.target\nenable --now kubelet\nrestart kubelet.service\nenable kubelet\n"
        )
    );
    assert!(
        !Path::new(node::SYSTEMCTL_LOG).exists(),
        "the systemctl log leaked"
    );
}

// --- registration -----------------------------------------------------------------------

/// Writes `contents` at `path` on host `name` from here, through the host's sshd's root
/// directory (quicker than one ssh session per file for a whole PKI).
fn write_on(lab: &Lab, name: &str, path: &str, contents: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let file = lab.host_path(name, path).unwrap();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, contents).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A static pod whose one container runs `command`, as kubeadm writes them.
fn static_pod(name: &str, image: &str, command: &[String]) -> String {
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {
            "hostNetwork": true,
            "containers": [{"name": name, "image": image, "command": command}],
        },
    });
    serde_yaml_ng::to_string(&pod).unwrap()
}

fn flags(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// etcd over mTLS and the lab API server for kube-apiserver, from manifests laid out as
/// the contract says the cluster provider writes them.
fn control_plane(addr: Ipv4Addr) -> (String, String) {
    let pki = "/etc/kubernetes/pki";
    let etcd = static_pod(
        "etcd",
        "registry.k8s.io/etcd:3.5.15-0",
        &flags(&[
            "etcd",
            "--name=lab-1",
            "--data-dir=/var/lib/etcd",
            &format!("--listen-client-urls=https://127.0.0.1:2379,https://{addr}:2379"),
            &format!("--advertise-client-urls=https://{addr}:2379"),
            &format!("--listen-peer-urls=https://{addr}:2380"),
            &format!("--initial-advertise-peer-urls=https://{addr}:2380"),
            &format!("--initial-cluster=lab-1=https://{addr}:2380"),
            "--listen-metrics-urls=http://127.0.0.1:2381",
            &format!("--cert-file={pki}/etcd/server.crt"),
            &format!("--key-file={pki}/etcd/server.key"),
            &format!("--trusted-ca-file={pki}/etcd/ca.crt"),
            "--client-cert-auth=true",
            &format!("--peer-cert-file={pki}/etcd/peer.crt"),
            &format!("--peer-key-file={pki}/etcd/peer.key"),
            &format!("--peer-trusted-ca-file={pki}/etcd/ca.crt"),
            "--peer-client-cert-auth=true",
        ]),
    );
    let apiserver = static_pod(
        "kube-apiserver",
        "registry.k8s.io/kube-apiserver:v1.31.2",
        &flags(&[
            "kube-apiserver",
            &format!("--advertise-address={addr}"),
            "--secure-port=6443",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            &format!("--client-ca-file={pki}/ca.crt"),
            &format!("--tls-cert-file={pki}/apiserver.crt"),
            &format!("--tls-private-key-file={pki}/apiserver.key"),
            "--etcd-servers=https://127.0.0.1:2379",
            &format!("--etcd-cafile={pki}/etcd/ca.crt"),
            &format!("--etcd-certfile={pki}/apiserver-etcd-client.crt"),
            &format!("--etcd-keyfile={pki}/apiserver-etcd-client.key"),
            "--service-cluster-ip-range=10.96.0.0/12",
        ]),
    );
    (etcd, apiserver)
}

/// `kubectl get node NAME -o json` as the cluster's super admin, from the root namespace.
fn get_node(kubeconfig: &Path, name: &str) -> Option<serde_json::Value> {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--request-timeout=5s", "get", "node", name, "-o", "json"])
        .output()
        .expect("run kubectl");
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn ready_heartbeat(node: &serde_json::Value) -> Option<String> {
    node["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready" && c["status"] == "True")
        .and_then(|c| c["lastHeartbeatTime"].as_str().map(str::to_owned))
}

#[test]
fn the_host_registers_as_a_ready_node_and_keeps_it_fresh() {
    use fleetform_provider_kubernetes::pki::{self, Endpoint, Member, PkiSpec};

    let lab = Lab::start(1).unwrap_or_else(|e| panic!("the lab did not start: {e}"));
    let addr = lab.hosts()[0].address;
    let spec = PkiSpec::new(
        "lab",
        Endpoint {
            host: addr.to_string(),
            port: 6443,
        },
        vec![Member {
            name: "lab-1".into(),
            address: addr.into(),
        }],
        std::time::SystemTime::now(),
    );
    let bundle = pki::issue(&spec).expect("issue the cluster PKI");
    for (path, file) in bundle.node_files("lab-1").unwrap() {
        write_on(
            &lab,
            "lab-1",
            &format!("/etc/kubernetes/{path}"),
            &file.contents,
            file.mode,
        );
    }
    let admin = lab.dir().join("super-admin.conf");
    std::fs::write(
        &admin,
        &bundle.nodes["lab-1"][pki::paths::SUPER_ADMIN_CONF].contents,
    )
    .unwrap();
    write_on(
        &lab,
        "lab-1",
        "/var/lib/kubelet/kubeadm-flags.env",
        &format!(
            "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/containerd/containerd.sock \
             --hostname-override=lab-1 --node-ip={addr} --node-labels=site=clinic-a \
             --register-with-taints=dedicated=db:NoSchedule\"\n"
        ),
        0o644,
    );
    write_on(
        &lab,
        "lab-1",
        "/var/lib/kubelet/config.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: 42\n",
        0o644,
    );

    let t = Instant::now();
    let (etcd, apiserver) = control_plane(addr);
    put(&lab, "lab-1", "/etc/kubernetes/manifests/etcd.yaml", &etcd);
    put(
        &lab,
        "lab-1",
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        &apiserver,
    );
    let node = wait_for(&lab, Duration::from_secs(40), "a Ready Node lab-1", || {
        let node = get_node(&admin, "lab-1")?;
        ready_heartbeat(&node).map(|_| node)
    });
    let registered = t.elapsed();

    // The lab API server runs for kube-apiserver, in the host, with the image named.
    let apiserver_pid = lab
        .pod_pid("lab-1", "kube-apiserver", "kube-apiserver")
        .unwrap()
        .unwrap();
    let argv = proc_strings(apiserver_pid, "cmdline");
    assert!(argv[0].ends_with("/fleetform-lab-apiserver"), "{argv:?}");

    let labels = &node["metadata"]["labels"];
    assert_eq!(labels["kubernetes.io/hostname"], "lab-1", "{node}");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert_eq!(labels["kubernetes.io/arch"], "amd64");
    assert_eq!(labels["site"], "clinic-a");
    assert_eq!(
        node["spec"]["taints"],
        serde_json::json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    );
    let status = &node["status"];
    assert!(
        status["addresses"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"type": "InternalIP", "address": addr.to_string()})),
        "{status}"
    );
    assert_eq!(status["capacity"]["pods"], "42");
    assert_eq!(status["allocatable"]["pods"], "42");
    assert!(
        status["capacity"]["memory"]
            .as_str()
            .unwrap()
            .ends_with("Ki")
    );
    // The API server's version (from the image tag), standing in for kubelet's own.
    assert_eq!(status["nodeInfo"]["kubeletVersion"], "v1.31.2");

    // The heartbeat moves on (every 10 s).
    let first = ready_heartbeat(&node).unwrap();
    wait_for(&lab, Duration::from_secs(25), "a newer heartbeat", || {
        let later = ready_heartbeat(&get_node(&admin, "lab-1")?)?;
        (later != first).then_some(())
    });

    // `systemctl restart kubelet` re-reads the flags: a new label is added.
    write_on(
        &lab,
        "lab-1",
        "/var/lib/kubelet/kubeadm-flags.env",
        &format!(
            "KUBELET_KUBEADM_ARGS=\"--hostname-override=lab-1 --node-ip={addr} \
             --node-labels=site=clinic-a,tier=db --register-with-taints=dedicated=db:NoSchedule\"\n"
        ),
        0o644,
    );
    exec_ok(&lab, "lab-1", &["systemctl", "restart", "kubelet"]);
    wait_for(&lab, Duration::from_secs(10), "the new label", || {
        let node = get_node(&admin, "lab-1")?;
        (node["metadata"]["labels"]["tier"] == "db").then_some(())
    });
    let log = lab.agent_log("lab-1").unwrap();
    assert!(log.contains("updated the existing Node"), "{log}");

    // So does a new kubelet.conf (the provider renews certificates).
    let conf = lab.read_host_file("lab-1", node::KUBELET_CONF).unwrap();
    write_on(
        &lab,
        "lab-1",
        node::KUBELET_CONF,
        &format!("{conf}\n"),
        0o600,
    );
    wait_for(
        &lab,
        Duration::from_secs(10),
        "registration with the new kubelet.conf",
        || {
            let log = lab.agent_log("lab-1").ok()?;
            log.contains("kubelet.conf changed: registering again")
                .then_some(())
        },
    );
    wait_for(&lab, Duration::from_secs(10), "a second update", || {
        let log = lab.agent_log("lab-1").ok()?;
        (log.matches("updated the existing Node").count() == 2).then_some(())
    });
    eprintln!("node: lab-1 registered as a Ready Node {registered:?} after its manifests");
}
