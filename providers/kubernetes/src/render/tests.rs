use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value as Json, json};

use super::*;

/// Everything that may come out of a configuration value: quotes, a colon-space, a newline
/// with a YAML list item after it, backslashes, TOML and template syntax, shell and
/// PowerShell metacharacters, and characters YAML treats as line breaks or forbids raw.
const EVIL: &str = "a\"b: c\n- evil 'x' \\n #{{ y }} [t] $(z) `w` \u{2028}\u{85}\u{7f}\t|>";

fn member(name: &str, address: &str) -> Member {
    Member {
        name: name.into(),
        address: address.parse().unwrap(),
    }
}

fn cluster() -> ClusterSettings {
    ClusterSettings {
        name: "clinic".into(),
        kubernetes_version: "1.31.2".into(),
        endpoint: "k8s.clinic.lan".into(),
        endpoint_port: 6443,
        pod_cidr: "10.244.0.0/16".into(),
        service_cidr: "10.96.0.0/12".into(),
        dns_domain: "cluster.local".into(),
        cluster_dns: "10.96.0.10".parse().unwrap(),
        registry_mirrors: BTreeMap::new(),
        apiserver_extra_args: BTreeMap::new(),
        controller_manager_extra_args: BTreeMap::new(),
        scheduler_extra_args: BTreeMap::new(),
        feature_gates: BTreeMap::new(),
        oidc: None,
        image_repository: DEFAULT_IMAGE_REPOSITORY.into(),
        etcd_members: vec![
            member("cp-1", "169.254.100.2"),
            member("cp-2", "169.254.100.3"),
            member("cp-3", "169.254.100.4"),
        ],
    }
}

fn node(os: Os) -> NodeSettings {
    NodeSettings {
        name: "worker-1".into(),
        address: "169.254.100.7".parse().unwrap(),
        os,
        control_plane: false,
        labels: BTreeMap::new(),
        taints: Vec::new(),
        max_pods: None,
        kubelet_extra_config: BTreeMap::new(),
    }
}

fn hashes() -> ConfigHashes {
    ConfigHashes {
        etcd: "etcd-hash".into(),
        kube_apiserver: "apiserver-hash".into(),
        kube_controller_manager: "cm-hash".into(),
        kube_scheduler: "scheduler-hash".into(),
    }
}

fn manifests(cluster: &ClusterSettings) -> Vec<RenderedFile> {
    let first = cluster.etcd_members[0].clone();
    control_plane_manifests(cluster, &first, EtcdState::New, &hashes()).unwrap()
}

fn find<'a>(files: &'a [RenderedFile], path: &str) -> &'a RenderedFile {
    files
        .iter()
        .find(|file| file.path == path)
        .unwrap_or_else(|| panic!("no {path} among {:?}", paths(files)))
}

fn paths(files: &[RenderedFile]) -> Vec<&str> {
    files.iter().map(|file| file.path.as_str()).collect()
}

/// Parses a manifest into a Pod, and checks that serialising the Pod gives back the same
/// document: a misspelt or misplaced field would be dropped by the Pod and show here.
fn pod(file: &RenderedFile) -> Pod {
    let document: Json = serde_yaml_ng::from_str(&file.content)
        .unwrap_or_else(|error| panic!("{} is not YAML: {error}\n{}", file.path, file.content));
    let pod: Pod = serde_json::from_value(document.clone())
        .unwrap_or_else(|error| panic!("{} is not a Pod: {error}", file.path));
    assert_eq!(
        serde_json::to_value(&pod).unwrap(),
        document,
        "{} has fields a Pod does not",
        file.path
    );
    pod
}

fn component_pod(cluster: &ClusterSettings, component: Component) -> Pod {
    pod(find(&manifests(cluster), &component.manifest_path()))
}

fn command(pod: &Pod) -> Vec<String> {
    pod.spec.as_ref().unwrap().containers[0]
        .command
        .clone()
        .unwrap()
}

/// The flags of a command by name, checking each appears once and is `--name=value`.
fn flags(pod: &Pod) -> BTreeMap<String, String> {
    let mut flags = BTreeMap::new();
    for word in &command(pod)[1..] {
        let (name, value) = word
            .strip_prefix("--")
            .and_then(|flag| flag.split_once('='))
            .unwrap_or_else(|| panic!("{word:?} is not --name=value"));
        assert!(
            flags.insert(name.to_owned(), value.to_owned()).is_none(),
            "--{name} appears twice"
        );
    }
    flags
}

fn annotation(pod: &Pod, name: &str) -> Option<String> {
    pod.metadata.annotations.as_ref()?.get(name).cloned()
}

fn yaml(file: &RenderedFile) -> Json {
    serde_yaml_ng::from_str(&file.content)
        .unwrap_or_else(|error| panic!("{} is not YAML: {error}\n{}", file.path, file.content))
}

fn toml_table(file: &RenderedFile) -> toml::Table {
    toml::from_str(&file.content)
        .unwrap_or_else(|error| panic!("{} is not TOML: {error}\n{}", file.path, file.content))
}

#[test]
fn every_manifest_is_a_kubeadm_style_static_pod() {
    let files = manifests(&cluster());
    assert_eq!(
        paths(&files),
        [
            "/etc/kubernetes/manifests/etcd.yaml",
            "/etc/kubernetes/manifests/kube-apiserver.yaml",
            "/etc/kubernetes/manifests/kube-controller-manager.yaml",
            "/etc/kubernetes/manifests/kube-scheduler.yaml",
        ]
    );
    let expected = [
        ("etcd", "registry.k8s.io/etcd:3.5.24-0", "etcd-hash"),
        (
            "kube-apiserver",
            "registry.k8s.io/kube-apiserver:v1.31.2",
            "apiserver-hash",
        ),
        (
            "kube-controller-manager",
            "registry.k8s.io/kube-controller-manager:v1.31.2",
            "cm-hash",
        ),
        (
            "kube-scheduler",
            "registry.k8s.io/kube-scheduler:v1.31.2",
            "scheduler-hash",
        ),
    ];
    for (file, (name, image, hash)) in files.iter().zip(expected) {
        assert_eq!(file.mode, 0o644);
        let pod = pod(file);
        assert_eq!(pod.metadata.name.as_deref(), Some(name));
        assert_eq!(pod.metadata.namespace.as_deref(), Some("kube-system"));
        assert_eq!(
            annotation(&pod, "fleetform.io/config-hash").as_deref(),
            Some(hash)
        );
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(labels["component"], name);
        assert_eq!(labels["tier"], "control-plane");
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.host_network, Some(true));
        assert_eq!(
            spec.priority_class_name.as_deref(),
            Some("system-node-critical")
        );
        assert_eq!(spec.containers.len(), 1);
        let container = &spec.containers[0];
        assert_eq!(container.name, name);
        assert_eq!(container.image.as_deref(), Some(image));
        assert_eq!(command(&pod)[0], name);
        flags(&pod);
        assert!(
            container.liveness_probe.is_some(),
            "{name} has no liveness probe"
        );
        assert!(
            container.startup_probe.is_some(),
            "{name} has no startup probe"
        );
        let requests = container
            .resources
            .as_ref()
            .unwrap()
            .requests
            .as_ref()
            .unwrap();
        assert!(requests.contains_key("cpu"), "{name} requests no CPU");
        // Every mount has a volume, and every volume is a host path.
        let volumes: BTreeMap<&str, &str> = spec
            .volumes
            .as_ref()
            .unwrap()
            .iter()
            .map(|volume| {
                let host_path = volume.host_path.as_ref().expect("a hostPath volume");
                (volume.name.as_str(), host_path.path.as_str())
            })
            .collect();
        for mount in container.volume_mounts.as_ref().unwrap() {
            assert_eq!(
                volumes.get(mount.name.as_str()),
                Some(&mount.mount_path.as_str()),
                "{name}: mount {} has no host path of the same path",
                mount.name
            );
        }
    }
}

#[test]
fn etcd_is_a_stacked_member_with_mutual_tls() {
    let pod = component_pod(&cluster(), Component::Etcd);
    let etcd = flags(&pod);
    let expected: BTreeMap<String, String> = [
        ("advertise-client-urls", "https://169.254.100.2:2379"),
        ("cert-file", "/etc/kubernetes/pki/etcd/server.crt"),
        ("client-cert-auth", "true"),
        ("data-dir", "/var/lib/etcd"),
        ("experimental-initial-corrupt-check", "true"),
        ("experimental-watch-progress-notify-interval", "5s"),
        ("initial-advertise-peer-urls", "https://169.254.100.2:2380"),
        (
            "initial-cluster",
            "cp-1=https://169.254.100.2:2380,cp-2=https://169.254.100.3:2380,cp-3=https://169.254.100.4:2380",
        ),
        ("initial-cluster-state", "new"),
        ("key-file", "/etc/kubernetes/pki/etcd/server.key"),
        (
            "listen-client-urls",
            "https://127.0.0.1:2379,https://169.254.100.2:2379",
        ),
        ("listen-metrics-urls", "http://127.0.0.1:2381"),
        ("listen-peer-urls", "https://169.254.100.2:2380"),
        ("name", "cp-1"),
        ("peer-cert-file", "/etc/kubernetes/pki/etcd/peer.crt"),
        ("peer-client-cert-auth", "true"),
        ("peer-key-file", "/etc/kubernetes/pki/etcd/peer.key"),
        ("peer-trusted-ca-file", "/etc/kubernetes/pki/etcd/ca.crt"),
        ("snapshot-count", "10000"),
        ("trusted-ca-file", "/etc/kubernetes/pki/etcd/ca.crt"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    assert_eq!(etcd, expected);
    assert_eq!(
        annotation(&pod, "kubeadm.kubernetes.io/etcd.advertise-client-urls").as_deref(),
        Some("https://169.254.100.2:2379")
    );
    let probe = pod.spec.as_ref().unwrap().containers[0]
        .liveness_probe
        .clone()
        .unwrap()
        .http_get
        .unwrap();
    assert_eq!(probe.host.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        probe.port,
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(2381)
    );

    // A member joining a running cluster says so; the second member is named after itself.
    let settings = cluster();
    let files = control_plane_manifests(
        &settings,
        &settings.etcd_members[1],
        EtcdState::Existing,
        &hashes(),
    )
    .unwrap();
    let joining = flags(&pod_of(&files, Component::Etcd));
    assert_eq!(joining["initial-cluster-state"], "existing");
    assert_eq!(joining["name"], "cp-2");
    assert_eq!(joining["listen-peer-urls"], "https://169.254.100.3:2380");
    assert_eq!(joining["initial-cluster"], expected["initial-cluster"]);
}

fn pod_of(files: &[RenderedFile], component: Component) -> Pod {
    pod(find(files, &component.manifest_path()))
}

/// The lab runs Debian's etcd 3.4 from these manifests: every flag must be one it knows.
#[test]
fn etcd_flags_are_known_to_the_installed_etcd() {
    let etcd = std::path::Path::new("/usr/bin/etcd");
    if !etcd.exists() {
        println!("skipped: /usr/bin/etcd is not installed (apt-get install etcd-server)");
        return;
    }
    let output = Command::new(etcd).arg("--help").output().unwrap();
    let help = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let known: BTreeSet<&str> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '=')
        .filter_map(|word| word.strip_prefix("--"))
        .collect();
    assert!(
        known.contains("data-dir"),
        "unexpected etcd --help output:\n{help}"
    );
    for settings in [cluster(), ipv6_cluster()] {
        let pod = component_pod(&settings, Component::Etcd);
        for name in flags(&pod).keys() {
            assert!(known.contains(name.as_str()), "etcd does not know --{name}");
        }
    }
}

fn ipv6_cluster() -> ClusterSettings {
    ClusterSettings {
        service_cidr: "fd00:96::/108".into(),
        pod_cidr: "fd00:244::/56".into(),
        cluster_dns: "fd00:96::a".parse().unwrap(),
        etcd_members: vec![member("cp-1", "fd00::2"), member("cp-2", "fd00::3")],
        ..cluster()
    }
}

#[test]
fn ipv6_members_get_bracketed_urls_and_the_ipv6_loopback() {
    let settings = ipv6_cluster();
    let files = manifests(&settings);
    let etcd = flags(&pod_of(&files, Component::Etcd));
    assert_eq!(
        etcd["listen-client-urls"],
        "https://[::1]:2379,https://[fd00::2]:2379"
    );
    assert_eq!(
        etcd["initial-cluster"],
        "cp-1=https://[fd00::2]:2380,cp-2=https://[fd00::3]:2380"
    );
    assert_eq!(etcd["listen-metrics-urls"], "http://[::1]:2381");
    let apiserver = pod_of(&files, Component::KubeApiserver);
    assert_eq!(flags(&apiserver)["etcd-servers"], "https://[::1]:2379");
    assert_eq!(
        annotation(
            &apiserver,
            "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"
        )
        .as_deref(),
        Some("[fd00::2]:6443")
    );
}

#[test]
fn apiserver_has_the_stacked_etcd_flags_of_kubeadm() {
    let mut settings = cluster();
    settings.endpoint_port = 8443;
    let pod = component_pod(&settings, Component::KubeApiserver);
    let flags = flags(&pod);
    for (name, value) in [
        ("advertise-address", "169.254.100.2"),
        ("allow-privileged", "true"),
        ("authorization-mode", "Node,RBAC"),
        ("client-ca-file", "/etc/kubernetes/pki/ca.crt"),
        ("enable-admission-plugins", "NodeRestriction"),
        ("etcd-cafile", "/etc/kubernetes/pki/etcd/ca.crt"),
        (
            "etcd-certfile",
            "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        ),
        (
            "etcd-keyfile",
            "/etc/kubernetes/pki/apiserver-etcd-client.key",
        ),
        ("etcd-servers", "https://127.0.0.1:2379"),
        (
            "kubelet-client-certificate",
            "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
        ),
        (
            "kubelet-client-key",
            "/etc/kubernetes/pki/apiserver-kubelet-client.key",
        ),
        (
            "proxy-client-cert-file",
            "/etc/kubernetes/pki/front-proxy-client.crt",
        ),
        (
            "proxy-client-key-file",
            "/etc/kubernetes/pki/front-proxy-client.key",
        ),
        ("requestheader-allowed-names", "front-proxy-client"),
        (
            "requestheader-client-ca-file",
            "/etc/kubernetes/pki/front-proxy-ca.crt",
        ),
        ("requestheader-extra-headers-prefix", "X-Remote-Extra-"),
        ("requestheader-group-headers", "X-Remote-Group"),
        ("requestheader-username-headers", "X-Remote-User"),
        ("secure-port", "8443"),
        (
            "service-account-issuer",
            "https://kubernetes.default.svc.cluster.local",
        ),
        ("service-account-key-file", "/etc/kubernetes/pki/sa.pub"),
        (
            "service-account-signing-key-file",
            "/etc/kubernetes/pki/sa.key",
        ),
        ("service-cluster-ip-range", "10.96.0.0/12"),
        ("tls-cert-file", "/etc/kubernetes/pki/apiserver.crt"),
        ("tls-private-key-file", "/etc/kubernetes/pki/apiserver.key"),
    ] {
        assert_eq!(flags.get(name).map(String::as_str), Some(value), "--{name}");
    }
    assert!(!flags.contains_key("feature-gates"));
    assert!(!flags.keys().any(|name| name.starts_with("oidc-")));
    assert_eq!(
        annotation(
            &pod,
            "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"
        )
        .as_deref(),
        Some("169.254.100.2:8443")
    );
    let container = &pod.spec.as_ref().unwrap().containers[0];
    for probe in [
        &container.liveness_probe,
        &container.readiness_probe,
        &container.startup_probe,
    ] {
        let http = probe.clone().unwrap().http_get.unwrap();
        assert_eq!(http.host.as_deref(), Some("169.254.100.2"));
        assert_eq!(
            http.port,
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8443)
        );
        assert_eq!(http.scheme.as_deref(), Some("HTTPS"));
    }
    let mounts: BTreeSet<&str> = container
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .map(|mount| mount.mount_path.as_str())
        .collect();
    assert!(mounts.contains("/etc/kubernetes/pki"));
}

#[test]
fn controller_manager_and_scheduler_use_their_kubeconfigs() {
    let files = manifests(&cluster());
    let cm = flags(&pod_of(&files, Component::KubeControllerManager));
    for (name, value) in [
        ("allocate-node-cidrs", "true"),
        (
            "authentication-kubeconfig",
            "/etc/kubernetes/controller-manager.conf",
        ),
        (
            "authorization-kubeconfig",
            "/etc/kubernetes/controller-manager.conf",
        ),
        ("kubeconfig", "/etc/kubernetes/controller-manager.conf"),
        ("bind-address", "127.0.0.1"),
        ("cluster-cidr", "10.244.0.0/16"),
        ("cluster-name", "clinic"),
        ("cluster-signing-cert-file", "/etc/kubernetes/pki/ca.crt"),
        ("cluster-signing-key-file", "/etc/kubernetes/pki/ca.key"),
        ("controllers", "*,bootstrapsigner,tokencleaner"),
        ("leader-elect", "true"),
        ("root-ca-file", "/etc/kubernetes/pki/ca.crt"),
        (
            "service-account-private-key-file",
            "/etc/kubernetes/pki/sa.key",
        ),
        ("service-cluster-ip-range", "10.96.0.0/12"),
        ("use-service-account-credentials", "true"),
    ] {
        assert_eq!(cm.get(name).map(String::as_str), Some(value), "--{name}");
    }
    let scheduler = flags(&pod_of(&files, Component::KubeScheduler));
    for name in [
        "authentication-kubeconfig",
        "authorization-kubeconfig",
        "kubeconfig",
    ] {
        assert_eq!(scheduler[name], "/etc/kubernetes/scheduler.conf");
    }
    assert_eq!(scheduler["leader-elect"], "true");
}

/// Whatever a component reads under /etc/kubernetes is in its `reads()`, so a config hash
/// built from `reads()` changes whenever any of it does.
#[test]
fn component_reads_cover_every_file_in_its_flags() {
    let files = manifests(&cluster());
    for component in Component::ALL {
        let reads: BTreeSet<String> = component
            .reads()
            .iter()
            .map(|path| format!("/etc/kubernetes/{path}"))
            .collect();
        for (name, value) in flags(&pod_of(&files, component)) {
            for path in value.split(',') {
                if path.starts_with("/etc/kubernetes/") {
                    assert!(
                        reads.contains(path),
                        "{}: --{name} names {path}, which reads() leaves out",
                        component.name()
                    );
                }
            }
        }
    }
}

#[test]
fn extra_args_replace_defaults_by_name_and_add_new_flags() {
    let mut settings = cluster();
    settings.apiserver_extra_args = [
        ("authorization-mode", "Node,RBAC,Webhook"),
        ("audit-log-path", "/var/log/kubernetes/audit.log"),
        ("bind-address", "169.254.100.2"),
        ("secure-port", "7443"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    settings.controller_manager_extra_args =
        [("bind-address".to_owned(), "0.0.0.0".to_owned())].into();
    settings.scheduler_extra_args = [("secure-port".to_owned(), "11259".to_owned())].into();
    settings.feature_gates = [("Foo".to_owned(), true)].into();
    settings
        .apiserver_extra_args
        .insert("feature-gates".into(), "Bar=true".into());

    let files = manifests(&settings);
    let apiserver = pod_of(&files, Component::KubeApiserver);
    let flags_ = flags(&apiserver);
    assert_eq!(flags_["authorization-mode"], "Node,RBAC,Webhook");
    assert_eq!(flags_["audit-log-path"], "/var/log/kubernetes/audit.log");
    assert_eq!(flags_["feature-gates"], "Bar=true");
    assert_eq!(flags_["secure-port"], "7443");
    // Flags stay in name order, as kubeadm writes them.
    let names: Vec<String> = command(&apiserver)[1..]
        .iter()
        .map(|word| word.split('=').next().unwrap().to_owned())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Probes follow the overridden port and bind address.
    let probe = apiserver.spec.as_ref().unwrap().containers[0]
        .readiness_probe
        .clone()
        .unwrap()
        .http_get
        .unwrap();
    assert_eq!(
        probe.port,
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(7443)
    );

    let cm = pod_of(&files, Component::KubeControllerManager);
    assert_eq!(flags(&cm)["bind-address"], "0.0.0.0");
    let probe = cm.spec.as_ref().unwrap().containers[0]
        .liveness_probe
        .clone()
        .unwrap()
        .http_get
        .unwrap();
    assert_eq!(
        probe.host.as_deref(),
        Some("127.0.0.1"),
        "0.0.0.0 is probed on loopback"
    );

    let scheduler = pod_of(&files, Component::KubeScheduler);
    let probe = scheduler.spec.as_ref().unwrap().containers[0]
        .liveness_probe
        .clone()
        .unwrap()
        .http_get
        .unwrap();
    assert_eq!(
        probe.port,
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(11259)
    );
}

#[test]
fn feature_gates_are_one_flag_and_a_kubelet_map() {
    let mut settings = cluster();
    settings.feature_gates = [("Zeta".to_owned(), false), ("Alpha".to_owned(), true)].into();
    let files = manifests(&settings);
    for component in [
        Component::KubeApiserver,
        Component::KubeControllerManager,
        Component::KubeScheduler,
    ] {
        assert_eq!(
            flags(&pod_of(&files, component))["feature-gates"],
            "Alpha=true,Zeta=false",
            "{}",
            component.name()
        );
    }
    assert!(!flags(&pod_of(&files, Component::Etcd)).contains_key("feature-gates"));
    let kubelet = kubelet_files(&settings, &node(Os::Linux)).unwrap();
    let config = yaml(find(&kubelet, "/var/lib/kubelet/config.yaml"));
    assert_eq!(
        config["featureGates"],
        json!({"Alpha": true, "Zeta": false})
    );
}

#[test]
fn oidc_settings_become_apiserver_flags() {
    let mut settings = cluster();
    settings.oidc = Some(Oidc {
        issuer_url: "https://login.example/realms/clinic".into(),
        client_id: "kubernetes".into(),
        username_claim: Some("email".into()),
        groups_claim: Some("groups".into()),
        username_prefix: Some("oidc:".into()),
        groups_prefix: None,
    });
    let flags = flags(&component_pod(&settings, Component::KubeApiserver));
    let oidc: BTreeMap<&str, &str> = flags
        .iter()
        .filter(|(name, _)| name.starts_with("oidc-"))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        oidc,
        BTreeMap::from([
            ("oidc-client-id", "kubernetes"),
            ("oidc-groups-claim", "groups"),
            ("oidc-issuer-url", "https://login.example/realms/clinic"),
            ("oidc-username-claim", "email"),
            ("oidc-username-prefix", "oidc:"),
        ])
    );
}

/// A hostile value lands as exactly itself wherever configuration reaches a YAML or TOML
/// file, and is refused where Kubernetes would refuse it.
#[test]
fn configuration_values_round_trip_exactly_and_cannot_add_structure() {
    let mut settings = cluster();
    settings.name = EVIL.into();
    settings.apiserver_extra_args = [("audit-policy-file".to_owned(), EVIL.to_owned())].into();
    settings.controller_manager_extra_args =
        [("node-monitor-period".to_owned(), EVIL.to_owned())].into();
    settings.scheduler_extra_args = [("config".to_owned(), EVIL.to_owned())].into();
    settings.oidc = Some(Oidc {
        issuer_url: EVIL.into(),
        client_id: EVIL.into(),
        username_claim: Some(EVIL.into()),
        groups_claim: Some(EVIL.into()),
        username_prefix: Some(EVIL.into()),
        groups_prefix: Some(EVIL.into()),
    });
    let evil_mirror = format!("https://{EVIL}");
    settings.registry_mirrors = [(
        "docker.io".to_owned(),
        vec![evil_mirror.clone(), "https://mirror.example".into()],
    )]
    .into();

    let files = manifests(&settings);
    let apiserver = pod_of(&files, Component::KubeApiserver);
    let apiserver_flags = flags(&apiserver);
    for name in [
        "audit-policy-file",
        "oidc-issuer-url",
        "oidc-client-id",
        "oidc-username-claim",
        "oidc-groups-claim",
        "oidc-username-prefix",
        "oidc-groups-prefix",
    ] {
        assert_eq!(apiserver_flags[name], EVIL, "--{name}");
    }
    let cm = flags(&pod_of(&files, Component::KubeControllerManager));
    assert_eq!(cm["cluster-name"], EVIL);
    assert_eq!(cm["node-monitor-period"], EVIL);
    assert_eq!(
        flags(&pod_of(&files, Component::KubeScheduler))["config"],
        EVIL
    );
    // The value added no list item or field: the command is the defaults plus the extras.
    assert_eq!(command(&apiserver).len(), 1 + 27 + 6 + 1);

    let mut worker = node(Os::Linux);
    worker.kubelet_extra_config = [
        ("providerID".to_owned(), json!(EVIL)),
        (EVIL.to_owned(), json!({ EVIL: [EVIL] })),
    ]
    .into();
    let kubelet = kubelet_files(&settings, &worker).unwrap();
    let config = yaml(find(&kubelet, "/var/lib/kubelet/config.yaml"));
    assert_eq!(config["providerID"], json!(EVIL));
    assert_eq!(config[EVIL], json!({ EVIL: [EVIL] }));

    let containerd = containerd_files(&settings, Os::Linux).unwrap();
    let hosts = toml_table(find(
        &containerd,
        "/etc/containerd/certs.d/docker.io/hosts.toml",
    ));
    let mirrors: Vec<&String> = hosts["host"].as_table().unwrap().keys().collect();
    assert_eq!(mirrors, [&evil_mirror, "https://mirror.example"]);

    // Node labels and taints go into kubelet flags, where Kubernetes allows no such value.
    let mut labelled = node(Os::Linux);
    labelled.labels = [("tier".to_owned(), EVIL.to_owned())].into();
    assert!(matches!(
        kubelet_files(&settings, &labelled),
        Err(RenderError::InvalidLabel { .. })
    ));
    let mut tainted = node(Os::Linux);
    tainted.taints = vec![Taint {
        key: "dedicated".into(),
        value: Some(EVIL.into()),
        effect: TaintEffect::NoSchedule,
    }];
    assert!(matches!(
        kubelet_files(&settings, &tainted),
        Err(RenderError::InvalidTaint { .. })
    ));
}

/// The quoting filter gives YAML and TOML the same string back for every character.
#[test]
fn quoting_round_trips_every_character_through_yaml_and_toml() {
    let mut everything: String = (0u32..0x3000).filter_map(char::from_u32).collect();
    everything.extend([
        '\u{fffd}',
        '\u{fffe}',
        '\u{ffff}',
        '\u{feff}',
        '\u{10ffff}',
        '😀',
    ]);
    for text in [
        everything.as_str(),
        "",
        "true",
        "null",
        "0x10",
        "~",
        "- a",
        "#",
        "'",
    ] {
        let quoted = quote(text);
        let from_yaml: BTreeMap<String, String> =
            serde_yaml_ng::from_str(&format!("key: {quoted}\n")).unwrap();
        assert_eq!(from_yaml["key"], text);
        let from_toml: toml::Table = toml::from_str(&format!("key = {quoted}\n")).unwrap();
        assert_eq!(from_toml["key"].as_str(), Some(text));
    }
}

#[test]
fn shell_and_powershell_quoting_keep_values_literal() {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s' {}", shell_quote(EVIL)))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), EVIL);
    // PowerShell takes four typographic quotes for ' too; each is doubled.
    assert_eq!(powershell_quote("it's"), "'it''s'");
    assert_eq!(powershell_quote("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
    assert_eq!(powershell_quote("$x `y` \"z\""), "'$x `y` \"z\"'");
}

/// Every `{{ }}` in every template goes through a quoting filter for its language.
#[test]
fn every_template_value_goes_through_a_quoting_filter() {
    for (name, source) in TEMPLATE_SOURCES {
        let allowed: &[&str] = if name.ends_with(".sh") {
            &["sh"]
        } else if name.ends_with(".ps1") {
            &["ps"]
        } else if name.ends_with(".env") || name.ends_with("Corefile") {
            &["word"]
        } else {
            &["q"]
        };
        for expression in source.split("{{").skip(1) {
            let expression = expression.split("}}").next().unwrap();
            let filter = expression.rsplit('|').next().unwrap().trim();
            assert!(
                expression.contains('|') && allowed.contains(&filter),
                "{name}: {{{{{expression}}}}} is not quoted with {allowed:?}"
            );
        }
    }
}

#[test]
fn linux_kubelet_files_are_kubeadms() {
    let mut worker = node(Os::Linux);
    worker.labels = [
        ("fleetform.io/pool".to_owned(), "general".to_owned()),
        (
            "topology.kubernetes.io/zone".to_owned(),
            "room-2".to_owned(),
        ),
    ]
    .into();
    worker.taints = vec![
        Taint {
            key: "dedicated".into(),
            value: Some("lab".into()),
            effect: TaintEffect::NoSchedule,
        },
        Taint {
            key: "node.example/maintenance".into(),
            value: None,
            effect: TaintEffect::NoExecute,
        },
    ];
    worker.max_pods = Some(150);
    let files = kubelet_files(&cluster(), &worker).unwrap();
    assert_eq!(
        paths(&files),
        [
            "/var/lib/kubelet/config.yaml",
            "/var/lib/kubelet/kubeadm-flags.env",
            "/etc/systemd/system/kubelet.service",
            "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        ]
    );
    assert!(files.iter().all(|file| file.mode == 0o644));

    let config = yaml(&files[0]);
    assert_eq!(
        config,
        json!({
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "authentication": {
                "anonymous": {"enabled": false},
                "webhook": {"enabled": true},
                "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
            },
            "authorization": {"mode": "Webhook"},
            "cgroupDriver": "systemd",
            "clusterDNS": ["10.96.0.10"],
            "clusterDomain": "cluster.local",
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": 10248,
            "rotateCertificates": false,
            "staticPodPath": "/etc/kubernetes/manifests",
            "maxPods": 150,
        })
    );

    assert_eq!(
        files[1].content,
        "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/containerd/containerd.sock \
         --hostname-override=worker-1 --node-ip=169.254.100.7 \
         --node-labels=fleetform.io/pool=general,topology.kubernetes.io/zone=room-2 \
         --register-with-taints=dedicated=lab:NoSchedule,node.example/maintenance:NoExecute \
         --pod-infra-container-image=registry.k8s.io/pause:3.10\"\n"
    );
    assert!(files[2].content.contains("\nExecStart=/usr/bin/kubelet\n"));
    assert!(files[2].content.contains("\nRestart=always\n"));
    assert!(
        files[3]
            .content
            .contains("\nEnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n")
    );
    assert!(files[3].content.contains(
        "\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS \
         $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n"
    ));
}

#[test]
fn kubelet_flags_leave_out_what_is_not_set_and_what_the_version_dropped() {
    let mut settings = cluster();
    settings.kubernetes_version = "1.35.0".into();
    let files = kubelet_files(&settings, &node(Os::Linux)).unwrap();
    assert_eq!(
        find(&files, "/var/lib/kubelet/kubeadm-flags.env").content,
        "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/containerd/containerd.sock \
         --hostname-override=worker-1 --node-ip=169.254.100.7\"\n"
    );
    let config = yaml(find(&files, "/var/lib/kubelet/config.yaml"));
    assert!(config.get("maxPods").is_none());
    assert!(config.get("featureGates").is_none());
}

#[test]
fn kubelet_extra_config_merges_as_a_json_merge_patch() {
    let mut worker = node(Os::Linux);
    worker.max_pods = Some(110);
    worker.kubelet_extra_config = [
        ("maxPods".to_owned(), json!(250)),
        (
            "authentication".to_owned(),
            json!({"webhook": {"cacheTTL": "30s"}, "anonymous": null}),
        ),
        (
            "evictionHard".to_owned(),
            json!({"memory.available": "200Mi"}),
        ),
        ("healthzPort".to_owned(), Json::Null),
        ("serializeImagePulls".to_owned(), json!(false)),
        ("podPidsLimit".to_owned(), json!("on")),
    ]
    .into();
    let files = kubelet_files(&cluster(), &worker).unwrap();
    let file = find(&files, "/var/lib/kubelet/config.yaml");
    let config = yaml(file);
    assert_eq!(config["maxPods"], json!(250));
    assert_eq!(
        config["authentication"],
        json!({
            "webhook": {"enabled": true, "cacheTTL": "30s"},
            "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
        })
    );
    assert_eq!(config["evictionHard"], json!({"memory.available": "200Mi"}));
    assert!(config.get("healthzPort").is_none());
    assert_eq!(config["serializeImagePulls"], json!(false));
    // A YAML 1.1 reader (the kubelet's) takes a bare `on` for true: strings stay quoted.
    assert!(
        file.content.contains("podPidsLimit: \"on\"\n"),
        "{}",
        file.content
    );
    // The rendered fields keep the template's order; new ones come after them.
    let keys: Vec<&str> = config
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys[..2], ["apiVersion", "kind"]);
    assert_eq!(
        keys[keys.len() - 4..],
        [
            "maxPods",
            "evictionHard",
            "podPidsLimit",
            "serializeImagePulls"
        ]
    );

    worker.kubelet_extra_config = [("kind".to_owned(), json!("Other"))].into();
    assert!(matches!(
        kubelet_files(&cluster(), &worker),
        Err(RenderError::ReservedKubeletField(field)) if field == "kind"
    ));
}

#[test]
fn windows_kubelet_files_follow_the_windows_layout() {
    let mut worker = node(Os::Windows);
    worker.name = "win-1".into();
    worker.labels = [("fleetform.io/pool".to_owned(), "windows".to_owned())].into();
    worker.taints = vec![Taint {
        key: "os".into(),
        value: Some("windows".into()),
        effect: TaintEffect::NoSchedule,
    }];
    let files = kubelet_files(&cluster(), &worker).unwrap();
    assert_eq!(
        paths(&files),
        [
            r"C:\var\lib\kubelet\config.yaml",
            r"C:\k\kubelet-service.ps1"
        ]
    );
    assert_eq!(files[0].mode, 0o644);
    assert_eq!(files[1].mode, 0o755);

    let config = yaml(&files[0]);
    assert!(config.get("cgroupDriver").is_none());
    assert_eq!(config["cgroupsPerQOS"], json!(false));
    assert_eq!(config["enforceNodeAllocatable"], json!([]));
    assert_eq!(config["resolvConf"], json!(""));
    assert_eq!(
        config["staticPodPath"],
        json!(r"C:\etc\kubernetes\manifests")
    );
    assert_eq!(
        config["authentication"]["x509"]["clientCAFile"],
        json!(r"C:\etc\kubernetes\pki\ca.crt")
    );

    let script = &files[1].content;
    let binary_path = script
        .lines()
        .find_map(|line| line.strip_prefix("$BinaryPathName = '"))
        .and_then(|rest| rest.strip_suffix('\''))
        .expect("the script sets $BinaryPathName");
    assert_eq!(
        windows_argv(binary_path),
        [
            r"C:\k\kubelet.exe",
            "--windows-service",
            r"--config=C:\var\lib\kubelet\config.yaml",
            r"--kubeconfig=C:\etc\kubernetes\kubelet.conf",
            r"--cert-dir=C:\var\lib\kubelet\pki",
            "--container-runtime-endpoint=npipe:////./pipe/containerd-containerd",
            "--hostname-override=win-1",
            "--node-ip=169.254.100.7",
            "--node-labels=fleetform.io/pool=windows,kubernetes.io/os=windows",
            "--register-with-taints=os=windows:NoSchedule",
            "--pod-infra-container-image=registry.k8s.io/pause:3.10",
        ]
    );
    assert!(script.contains("New-Service -Name kubelet -BinaryPathName $BinaryPathName"));
    assert!(script.contains("-DependsOn containerd"));
    assert!(script.contains("Restart-Service -Name kubelet"));

    let mut control_plane = worker.clone();
    control_plane.control_plane = true;
    assert!(matches!(
        kubelet_files(&cluster(), &control_plane),
        Err(RenderError::WindowsControlPlane(_))
    ));
}

/// Splits a command line as CommandLineToArgvW does (and Go's os.Args with it).
fn windows_argv(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        if chars.peek().is_none() {
            return args;
        }
        let mut arg = String::new();
        let mut quoted = false;
        let mut backslashes = 0;
        while let Some(&c) = chars.peek() {
            if !quoted && (c == ' ' || c == '\t') {
                break;
            }
            chars.next();
            match c {
                '\\' => backslashes += 1,
                '"' => {
                    arg.extend(std::iter::repeat_n('\\', backslashes / 2));
                    if backslashes % 2 == 1 {
                        arg.push('"');
                    } else if quoted && chars.peek() == Some(&'"') {
                        chars.next();
                        arg.push('"');
                    } else {
                        quoted = !quoted;
                    }
                    backslashes = 0;
                }
                c => {
                    arg.extend(std::iter::repeat_n('\\', backslashes));
                    backslashes = 0;
                    arg.push(c);
                }
            }
        }
        arg.extend(std::iter::repeat_n('\\', backslashes));
        args.push(arg);
    }
}

#[test]
fn windows_arguments_read_back_exactly() {
    let arguments = [
        "plain",
        "",
        "with space",
        r"C:\Program Files\x\",
        r#"quote"inside"#,
        r#"back\"slash"#,
        r"trailing\\",
        "tab\there",
        EVIL,
    ];
    let line: Vec<String> = arguments
        .iter()
        .map(|argument| kubelet::windows_argument(argument))
        .collect();
    assert_eq!(windows_argv(&line.join(" ")), arguments);
}

#[test]
fn linux_containerd_config_uses_systemd_cgroups_and_ordered_mirrors() {
    let mut settings = cluster();
    settings.registry_mirrors = [
        (
            "docker.io".to_owned(),
            vec![
                "https://zz.mirror.example".to_owned(),
                "https://aa.mirror.example/v2".into(),
            ],
        ),
        (
            "registry.example:5000".to_owned(),
            vec!["http://cache.lan:5000".to_owned()],
        ),
        (
            "_default".to_owned(),
            vec!["https://everything.example".to_owned()],
        ),
    ]
    .into();
    let files = containerd_files(&settings, Os::Linux).unwrap();
    assert_eq!(
        paths(&files),
        [
            "/etc/containerd/config.toml",
            "/etc/containerd/certs.d/_default/hosts.toml",
            "/etc/containerd/certs.d/docker.io/hosts.toml",
            "/etc/containerd/certs.d/registry.example:5000/hosts.toml",
        ]
    );
    assert!(files.iter().all(|file| file.mode == 0o644));

    let config = toml_table(&files[0]);
    assert_eq!(config["version"].as_integer(), Some(2));
    let cri = &config["plugins"]["io.containerd.grpc.v1.cri"];
    assert_eq!(
        cri["sandbox_image"].as_str(),
        Some("registry.k8s.io/pause:3.10")
    );
    assert_eq!(
        cri["registry"]["config_path"].as_str(),
        Some("/etc/containerd/certs.d")
    );
    let runc = &cri["containerd"]["runtimes"]["runc"];
    assert_eq!(runc["runtime_type"].as_str(), Some("io.containerd.runc.v2"));
    assert_eq!(runc["options"]["SystemdCgroup"].as_bool(), Some(true));

    let docker = toml_table(&files[2]);
    assert_eq!(
        docker["server"].as_str(),
        Some("https://registry-1.docker.io")
    );
    let hosts = docker["host"].as_table().unwrap();
    assert_eq!(
        hosts.keys().collect::<Vec<_>>(),
        ["https://zz.mirror.example", "https://aa.mirror.example/v2"]
    );
    for host in hosts.values() {
        assert_eq!(
            host["capabilities"],
            toml::Value::from(vec!["pull", "resolve"])
        );
    }
    assert!(
        docker_order(&files[2].content),
        "the mirrors are written in the configured order"
    );
    assert_eq!(
        toml_table(&files[3])["server"].as_str(),
        Some("https://registry.example:5000")
    );
    assert!(toml_table(&files[1]).get("server").is_none());
}

/// toml::Table sorts keys unless told otherwise, so check the text's order as well.
fn docker_order(content: &str) -> bool {
    let zz = content.find("zz.mirror").unwrap();
    let aa = content.find("aa.mirror").unwrap();
    zz < aa
}

#[test]
fn windows_containerd_config_uses_windows_paths_and_runhcs() {
    let mut settings = cluster();
    settings.image_repository = "mirror.example:5000/k8s".into();
    settings.registry_mirrors = [(
        "registry.example:5000".to_owned(),
        vec!["https://cache.example".to_owned()],
    )]
    .into();
    let files = containerd_files(&settings, Os::Windows).unwrap();
    assert_eq!(
        paths(&files),
        [
            r"C:\Program Files\containerd\config.toml",
            r"C:\Program Files\containerd\certs.d\registry.example_5000_\hosts.toml",
        ]
    );
    let config = toml_table(&files[0]);
    let cri = &config["plugins"]["io.containerd.grpc.v1.cri"];
    assert_eq!(
        cri["sandbox_image"].as_str(),
        Some("mirror.example:5000/k8s/pause:3.10")
    );
    assert_eq!(
        cri["registry"]["config_path"].as_str(),
        Some(r"C:\Program Files\containerd\certs.d")
    );
    assert_eq!(
        cri["containerd"]["default_runtime_name"].as_str(),
        Some("runhcs-wcow-process")
    );
    assert!(cri["containerd"]["runtimes"].get("runc").is_none());
    assert_eq!(
        config["grpc"]["address"].as_str(),
        Some(r"\\.\pipe\containerd-containerd")
    );
    assert_eq!(cri["cni"]["bin_dir"].as_str(), Some(r"C:\opt\cni\bin"));
}

#[test]
fn linux_runtime_install_is_a_valid_sh_script_pinned_to_the_version() {
    let script = runtime_install(&cluster(), Os::Linux).unwrap();
    assert_eq!(script.path, LINUX_RUNTIME_INSTALL_SCRIPT);
    assert_eq!(script.mode, 0o755);
    assert!(script.content.starts_with("#!/bin/sh\n"));
    assert!(script.content.contains("\nset -eu\n"));
    assert!(script.content.contains("\nK8S_VERSION='1.31.2'\n"));
    for step in [
        "br_netfilter",
        "net.ipv4.ip_forward = 1",
        "net.bridge.bridge-nf-call-iptables = 1",
        "swapoff -a",
        "https://pkgs.k8s.io/core:/stable:/v${K8S_MINOR}/deb/",
        "\"kubelet=${KUBELET_PACKAGE_VERSION}\"",
        "apt-mark hold kubelet",
    ] {
        assert!(script.content.contains(step), "the script lacks {step:?}");
    }
    let check = Command::new("sh")
        .arg("-n")
        .arg("-c")
        .arg(&script.content)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "sh -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    // The package revision is picked from apt-cache madison's listing (newest first).
    let awk_program = script
        .content
        .split("awk -v want=\"${K8S_VERSION}-\" '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the script picks the package version with awk");
    let madison = "   kubelet | 1.31.20-1.1 | https://pkgs.k8s.io/core:/stable:/v1.31/deb  Packages\n\
                   \x20  kubelet | 1.31.2-1.2 | https://pkgs.k8s.io/core:/stable:/v1.31/deb  Packages\n\
                   \x20  kubelet | 1.31.2-1.1 | https://pkgs.k8s.io/core:/stable:/v1.31/deb  Packages\n";
    let picked = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf '%s' {} | awk -v want=1.31.2- {}",
            shell_quote(madison),
            shell_quote(awk_program)
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(picked.stdout).unwrap(), "1.31.2-1.2\n");
    // The minor the repository is chosen by comes from the version alone.
    let minor = Command::new("sh")
        .arg("-c")
        .arg("K8S_VERSION='1.31.2'; printf '%s' \"${K8S_VERSION%.*}\"")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(minor.stdout).unwrap(), "1.31");
}

#[test]
fn windows_runtime_install_pins_kubelet_and_containerd() {
    let script = runtime_install(&cluster(), Os::Windows).unwrap();
    assert_eq!(script.path, r"C:\k\install-runtime.ps1");
    assert_eq!(script.mode, 0o755);
    assert!(script.content.contains("\n$KubernetesVersion = '1.31.2'\n"));
    assert!(script.content.contains("\n$ContainerdVersion = '1.7.28'\n"));
    assert!(
        script
            .content
            .contains("https://dl.k8s.io/v$KubernetesVersion/bin/windows/amd64/kubelet.exe")
    );
    assert!(script.content.contains("Get-FileHash -Algorithm SHA256"));
}

#[test]
fn versions_are_checked_wherever_they_are_used() {
    for bad in [
        "1.31",
        "v1.31.2",
        "1.31.2; rm -rf /",
        "1.31.2\n",
        "1.31.x",
        "",
        "1..2",
        "1.31.2.3",
    ] {
        let mut settings = cluster();
        settings.kubernetes_version = bad.into();
        for os in [Os::Linux, Os::Windows] {
            assert!(
                matches!(runtime_install(&settings, os), Err(RenderError::InvalidVersion(v)) if v == bad),
                "{bad:?} was accepted"
            );
        }
        assert!(matches!(
            control_plane_manifests(
                &settings,
                &settings.etcd_members[0],
                EtcdState::New,
                &hashes()
            ),
            Err(RenderError::InvalidVersion(_))
        ));
        assert!(matches!(
            containerd_files(&settings, Os::Linux),
            Err(RenderError::InvalidVersion(_))
        ));
        assert!(matches!(
            kubelet_files(&settings, &node(Os::Linux)),
            Err(RenderError::InvalidVersion(_))
        ));
    }
    let mut old = cluster();
    old.kubernetes_version = "1.29.9".into();
    let error = runtime_install(&old, Os::Linux).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Kubernetes 1.29.9 is not supported: fleetform renders Kubernetes 1.30.x to 1.35.x"
    );
}

/// Every supported minor renders every file, with the images of its row.
#[test]
fn every_supported_minor_renders_everything() {
    for minor in versions::all_minors() {
        let mut settings = cluster();
        settings.kubernetes_version = format!("1.{minor}.3");
        let (_, release) = versions::supported(&settings.kubernetes_version).unwrap();
        let etcd = component_pod(&settings, Component::Etcd);
        assert_eq!(
            etcd.spec.unwrap().containers[0].image.as_deref(),
            Some(format!("registry.k8s.io/etcd:{}", release.etcd_image_tag).as_str())
        );
        for os in [Os::Linux, Os::Windows] {
            kubelet_files(&settings, &node(os)).unwrap();
            let config = toml_table(&containerd_files(&settings, os).unwrap()[0]);
            assert_eq!(
                config["plugins"]["io.containerd.grpc.v1.cri"]["sandbox_image"].as_str(),
                Some(format!("registry.k8s.io/pause:{}", release.pause_image_tag).as_str())
            );
            runtime_install(&settings, os).unwrap();
        }
    }
}

#[test]
fn invalid_settings_are_refused_with_what_is_wrong() {
    let first = cluster().etcd_members[0].clone();
    let render_cp = |settings: &ClusterSettings| {
        control_plane_manifests(settings, &first, EtcdState::New, &hashes()).unwrap_err()
    };

    let mut settings = cluster();
    settings.etcd_members.push(member("cp-1", "169.254.100.9"));
    assert!(
        matches!(render_cp(&settings), RenderError::DuplicateEtcdMember(name) if name == "cp-1")
    );

    let settings = ClusterSettings {
        etcd_members: Vec::new(),
        ..cluster()
    };
    assert!(matches!(render_cp(&settings), RenderError::NoEtcdMembers));

    let stranger = member("cp-9", "169.254.100.9");
    assert!(matches!(
        control_plane_manifests(&cluster(), &stranger, EtcdState::New, &hashes()),
        Err(RenderError::UnknownEtcdMember { .. })
    ));
    let moved = member("cp-1", "169.254.100.9");
    assert!(matches!(
        control_plane_manifests(&cluster(), &moved, EtcdState::New, &hashes()),
        Err(RenderError::UnknownEtcdMember { .. })
    ));

    let mut settings = cluster();
    settings.apiserver_extra_args = [("--audit-log-path".to_owned(), "x".to_owned())].into();
    assert_eq!(
        render_cp(&settings).to_string(),
        "invalid kube-apiserver flag name \"--audit-log-path\": expected a flag name without \
         leading dashes, such as \"audit-log-path\""
    );

    let mut settings = cluster();
    settings.feature_gates = [("A=true,B".to_owned(), true)].into();
    assert!(matches!(
        render_cp(&settings),
        RenderError::InvalidFeatureGate(_)
    ));

    for (field, value) in [
        ("service CIDR", "10.96.0.0"),
        ("pod CIDR", "10.244.0.0/33"),
        ("DNS domain", "Cluster.Local"),
        ("image repository", "registry.k8s.io/\nx"),
    ] {
        let mut settings = cluster();
        match field {
            "service CIDR" => settings.service_cidr = value.into(),
            "pod CIDR" => settings.pod_cidr = value.into(),
            "DNS domain" => settings.dns_domain = value.into(),
            _ => settings.image_repository = value.into(),
        }
        assert!(
            matches!(render_cp(&settings), RenderError::InvalidSetting { what, .. } if what == field),
            "{field} {value:?} was accepted"
        );
    }

    for registry in [
        "registry.example/path",
        "REGISTRY.example",
        "[::1]:5000",
        "host:0",
    ] {
        let mut settings = cluster();
        settings.registry_mirrors =
            [(registry.to_owned(), vec!["https://m.example".to_owned()])].into();
        assert!(
            containerd_files(&settings, Os::Linux).is_err(),
            "{registry:?} was accepted"
        );
    }
    let mut settings = cluster();
    settings.registry_mirrors =
        [("docker.io".to_owned(), vec!["mirror.example".to_owned()])].into();
    assert!(containerd_files(&settings, Os::Linux).is_err());

    let mut worker = node(Os::Linux);
    worker.name = "Worker_1".into();
    assert!(matches!(
        kubelet_files(&cluster(), &worker),
        Err(RenderError::InvalidNodeName(_))
    ));

    // The kubelet refuses to start with labels it may not set on itself.
    for key in [
        "node-role.kubernetes.io/control-plane",
        "kubernetes.io/role",
        "x.k8s.io/y",
    ] {
        let mut worker = node(Os::Linux);
        worker.labels = [(key.to_owned(), String::new())].into();
        assert!(
            matches!(
                kubelet_files(&cluster(), &worker),
                Err(RenderError::InvalidLabel { .. })
            ),
            "{key} was accepted"
        );
    }
    for key in [
        "node.kubernetes.io/pool",
        "kubernetes.io/arch",
        "example.com/team",
    ] {
        let mut worker = node(Os::Linux);
        worker.labels = [(key.to_owned(), "a".to_owned())].into();
        kubelet_files(&cluster(), &worker).unwrap_or_else(|error| panic!("{key}: {error}"));
    }
}

#[test]
fn nothing_rendered_is_secret_and_only_scripts_are_executable() {
    let mut files = manifests(&cluster());
    for os in [Os::Linux, Os::Windows] {
        files.extend(kubelet_files(&cluster(), &node(os)).unwrap());
        files.extend(containerd_files(&cluster(), os).unwrap());
        files.push(runtime_install(&cluster(), os).unwrap());
    }
    for file in files {
        let script = file.path.ends_with(".sh") || file.path.ends_with(".ps1");
        assert_eq!(
            file.mode,
            if script { 0o755 } else { 0o644 },
            "{}",
            file.path
        );
        assert!(!file.content.contains("PRIVATE KEY"), "{}", file.path);
    }
}

#[test]
fn yaml_documents_read_back_as_the_same_value() {
    let value = json!({
        "plain": "text",
        "on": "yes",
        "numbers": [0, -1, 1.5, 18446744073709551615u64],
        "nested": [[], {}, [[1, [2]]], {"a": {"b": [{"c": null}, {}]}}],
        "empty": {},
        "flags": [true, false, null],
        "": "empty key",
        "0x1": "key that reads as a number",
        "memory.available": "100Mi",
        EVIL: {EVIL: EVIL},
    });
    let document = yaml_document(&value);
    let read: Json = serde_yaml_ng::from_str(&document).unwrap();
    assert_eq!(read, value, "{document}");
    assert!(document.contains("\n\"on\": \"yes\"\n"), "{document}");
}

fn essential(cluster: &ClusterSettings) -> fleetform_provider_addons::apply::Bundle {
    let documents = super::essential_addons(
        cluster,
        "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    fleetform_provider_addons::apply::Bundle::from_yaml(&documents, "kube-system").unwrap()
}

#[test]
fn essential_addons_are_kubeadms_with_linux_only_workloads() {
    let mut settings = cluster();
    settings
        .apiserver_extra_args
        .insert("audit-log-maxage".into(), "30".into());
    let bundle = essential(&settings);
    let keys: Vec<String> = bundle.objects.iter().map(|o| o.id.key()).collect();
    for key in [
        "apps/DaemonSet/kube-system/kube-proxy",
        "apps/Deployment/kube-system/coredns",
        "/Service/kube-system/kube-dns",
        "/ConfigMap/kube-system/kubeadm-config",
        "/ConfigMap/kube-public/cluster-info",
        "rbac.authorization.k8s.io/RoleBinding/kube-public/kubeadm:bootstrap-signer-clusterinfo",
        "rbac.authorization.k8s.io/ClusterRoleBinding//kubeadm:node-autoapprove-certificate-rotation",
        "rbac.authorization.k8s.io/ClusterRoleBinding//kubeadm:node-proxier",
    ] {
        assert!(
            keys.contains(&key.to_owned()),
            "{key} missing from {keys:?}"
        );
    }
    let body = |key: &str| &bundle.get(key).unwrap().body;
    for workload in [
        "apps/DaemonSet/kube-system/kube-proxy",
        "apps/Deployment/kube-system/coredns",
    ] {
        assert_eq!(
            body(workload)["spec"]["template"]["spec"]["nodeSelector"]["kubernetes.io/os"],
            "linux"
        );
    }
    assert_eq!(
        body("apps/DaemonSet/kube-system/kube-proxy")["spec"]["template"]["spec"]["containers"][0]
            ["image"],
        "registry.k8s.io/kube-proxy:v1.31.2"
    );
    assert_eq!(
        body("apps/Deployment/kube-system/coredns")["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.k8s.io/coredns/coredns:v1.11.3"
    );
    assert_eq!(
        body("/Service/kube-system/kube-dns")["spec"]["clusterIP"],
        "10.96.0.10"
    );
    let corefile = body("/ConfigMap/kube-system/coredns")["data"]["Corefile"]
        .as_str()
        .unwrap();
    assert!(
        corefile.contains("kubernetes cluster.local in-addr.arpa ip6.arpa {"),
        "{corefile}"
    );

    // The embedded documents are YAML kubeadm reads back.
    let config: Json = serde_yaml_ng::from_str(
        body("/ConfigMap/kube-system/kubeadm-config")["data"]["ClusterConfiguration"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(config["apiVersion"], "kubeadm.k8s.io/v1beta4");
    assert_eq!(config["controlPlaneEndpoint"], "k8s.clinic.lan:6443");
    assert_eq!(config["networking"]["podSubnet"], "10.244.0.0/16");
    assert_eq!(
        config["apiServer"]["extraArgs"],
        serde_json::json!([{"name": "audit-log-maxage", "value": "30"}])
    );
    let info: Json = serde_yaml_ng::from_str(
        body("/ConfigMap/kube-public/cluster-info")["data"]["kubeconfig"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        info["clusters"][0]["cluster"]["server"],
        "https://k8s.clinic.lan:6443"
    );
    let proxy: Json = serde_yaml_ng::from_str(
        body("/ConfigMap/kube-system/kube-proxy")["data"]["config.conf"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(proxy["clusterCIDR"], "10.244.0.0/16");

    // 1.30 keeps kubeadm's v1beta3, with extraArgs as a map.
    settings.kubernetes_version = "1.30.5".into();
    let old = essential(&settings);
    let config: Json = serde_yaml_ng::from_str(
        old.get("/ConfigMap/kube-system/kubeadm-config")
            .unwrap()
            .body["data"]["ClusterConfiguration"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(config["apiVersion"], "kubeadm.k8s.io/v1beta3");
    assert_eq!(config["apiServer"]["extraArgs"]["audit-log-maxage"], "30");
}
