//! The fixture every lab API server test starts from: a kubeadm-layout PKI issued by
//! fleetform's own code, a real etcd, and API servers on it (or in memory), with clients.

use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use fleetform_provider_kubernetes::pki::{self, Endpoint, KeyAlgorithm, Member, PkiSpec};
use k8s_openapi::api::core::v1::Node;
use serde_json::{Value, json};

pub const IMAGE: &str = "registry.k8s.io/kube-apiserver:v1.31.2";
pub const NODE_NAME: &str = "cp-1";

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

pub fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A kubeadm-layout PKI in a temp dir (as under /etc/kubernetes), one etcd member using
/// it, and API servers sharing that etcd.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    /// None for an API server that keeps objects in memory.
    pub etcd: Option<(Child, String)>,
    pub servers: Vec<(Child, u16)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (child, _) in &mut self.servers {
            kill(child);
        }
        if let Some((etcd, _)) = &mut self.etcd {
            kill(etcd);
        }
    }
}

/// Writes the PKI of a one-node cluster at 127.0.0.1 to `dir`.
pub fn write_pki(dir: &Path) {
    write_pki_with(dir, KeyAlgorithm::default());
}

pub fn write_pki_with(dir: &Path, algorithm: KeyAlgorithm) {
    let mut spec = PkiSpec::new(
        "lab",
        Endpoint {
            host: "127.0.0.1".into(),
            port: 6443,
        },
        vec![Member {
            name: NODE_NAME.into(),
            address: Ipv4Addr::LOCALHOST.into(),
        }],
        SystemTime::now(),
    );
    spec.key_algorithm = algorithm;
    let bundle = pki::issue(&spec).expect("issue the cluster PKI");
    for (path, file) in bundle.node_files(NODE_NAME).expect("files of the node") {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, &file.contents).unwrap();
    }
}

/// Starts (or restarts) the one etcd member of the PKI in `dir`, with its data in
/// `dir/etcd`, and waits until it listens.
pub fn spawn_etcd(dir: &Path, client_port: u16, peer_port: u16) -> Child {
    let client_url = format!("https://127.0.0.1:{client_port}");
    let peer_url = format!("https://127.0.0.1:{peer_port}");
    let pki = |p: &str| dir.join("pki").join(p).display().to_string();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("etcd.log"))
        .unwrap();
    let etcd = Command::new("etcd")
        .arg(format!("--name={NODE_NAME}"))
        .arg(format!("--data-dir={}", dir.join("etcd").display()))
        .arg(format!("--listen-client-urls={client_url}"))
        .arg(format!("--advertise-client-urls={client_url}"))
        .arg(format!("--listen-peer-urls={peer_url}"))
        .arg(format!("--initial-advertise-peer-urls={peer_url}"))
        .arg(format!("--initial-cluster={NODE_NAME}={peer_url}"))
        .arg(format!("--cert-file={}", pki("etcd/server.crt")))
        .arg(format!("--key-file={}", pki("etcd/server.key")))
        .arg(format!("--trusted-ca-file={}", pki("etcd/ca.crt")))
        .arg("--client-cert-auth=true")
        .arg(format!("--peer-cert-file={}", pki("etcd/peer.crt")))
        .arg(format!("--peer-key-file={}", pki("etcd/peer.key")))
        .arg(format!("--peer-trusted-ca-file={}", pki("etcd/ca.crt")))
        .arg("--peer-client-cert-auth=true")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start etcd (apt-get install etcd-server)");
    wait_for("etcd listening", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", client_port)).is_ok()
    });
    etcd
}

impl Cluster {
    /// PKI, etcd, and one API server.
    pub fn start() -> Cluster {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        let (client_port, peer_port) = (free_port(), free_port());
        let etcd = spawn_etcd(dir.path(), client_port, peer_port);
        let mut cluster = Cluster {
            dir,
            etcd: Some((etcd, format!("https://127.0.0.1:{client_port}"))),
            servers: Vec::new(),
        };
        cluster.start_api_server();
        cluster
    }

    /// PKI and one API server without `--etcd-servers` (objects in memory).
    pub fn in_memory() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        Cluster::in_memory_with(dir)
    }

    /// An in-memory API server with the PKI already in `dir`.
    pub fn in_memory_with(dir: tempfile::TempDir) -> Cluster {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut cluster = Cluster {
            dir,
            etcd: None,
            servers: Vec::new(),
        };
        cluster.start_api_server();
        cluster
    }

    pub fn etcd_url(&self) -> &str {
        &self.etcd.as_ref().expect("a cluster with etcd").1
    }

    pub fn pki(&self, path: &str) -> String {
        self.dir.path().join("pki").join(path).display().to_string()
    }

    /// Starts another API server on the same etcd and waits until it is ready; returns
    /// its index.
    pub fn start_api_server(&mut self) -> usize {
        let etcd_servers = self.etcd.as_ref().map(|(_, url)| url.clone());
        self.start_api_server_with(etcd_servers)
    }

    /// Starts an API server with these `--etcd-servers` (none: in memory).
    pub fn start_api_server_with(&mut self, etcd_servers: Option<String>) -> usize {
        let index = self.servers.len();
        let log_path = self.dir.path().join(format!("apiserver-{index}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        // The flags kubeadm's static pod passes, including many the lab server ignores.
        let mut flags = vec![
            "--advertise-address=127.0.0.1".to_owned(),
            "--allow-privileged=true".to_owned(),
            "--authorization-mode=Node,RBAC".to_owned(),
            format!("--client-ca-file={}", self.pki("ca.crt")),
            "--enable-admission-plugins=NodeRestriction".to_owned(),
            "--enable-bootstrap-token-auth=true".to_owned(),
            format!(
                "--kubelet-client-certificate={}",
                self.pki("apiserver-kubelet-client.crt")
            ),
            "--bind-address=127.0.0.1".to_owned(),
            "--secure-port=0".to_owned(),
            "--service-cluster-ip-range=10.96.0.0/12".to_owned(),
            format!("--service-account-key-file={}", self.pki("sa.pub")),
            format!("--tls-cert-file={}", self.pki("apiserver.crt")),
            format!("--tls-private-key-file={}", self.pki("apiserver.key")),
        ];
        if let Some(url) = etcd_servers {
            flags.extend([
                format!("--etcd-cafile={}", self.pki("etcd/ca.crt")),
                format!("--etcd-certfile={}", self.pki("apiserver-etcd-client.crt")),
                format!("--etcd-keyfile={}", self.pki("apiserver-etcd-client.key")),
                format!("--etcd-servers={url}"),
            ]);
        }
        let child = Command::new(env!("CARGO_BIN_EXE_fleetform-lab-apiserver"))
            .args(flags)
            .env("FLEETFORM_LAB_IMAGE", IMAGE)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start fleetform-lab-apiserver");
        self.servers.push((child, 0));
        let mut port = None;
        wait_for(
            "the API server's start-up line",
            Duration::from_secs(20),
            || {
                port = serving_port(&log_path);
                port.is_some()
            },
        );
        self.servers[index].1 = port.unwrap();
        let client = self.http(None);
        let url = format!("{}/readyz", self.url(index));
        wait_for("the API server ready", Duration::from_secs(20), || {
            blocking(async { matches!(client.get(&url).send().await, Ok(r) if r.status() == 200) })
        });
        index
    }

    pub fn url(&self, server: usize) -> String {
        format!("https://127.0.0.1:{}", self.servers[server].1)
    }

    pub fn log(&self, server: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("apiserver-{server}.log")))
            .unwrap_or_default()
    }

    /// One of the kubeconfigs (`admin.conf`, `super-admin.conf`, `kubelet.conf`) pointing at
    /// API server `server`.
    pub fn kubeconfig(&self, name: &str, server: usize) -> PathBuf {
        let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap();
        let mut config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        config["clusters"][0]["cluster"]["server"] = self.url(server).into();
        let path = self.dir.path().join(format!("{server}-{name}"));
        std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
        path
    }

    pub async fn client(&self, name: &str, server: usize) -> kube::Client {
        let text = std::fs::read_to_string(self.kubeconfig(name, server)).unwrap();
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).unwrap();
        let mut config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .unwrap();
        // kube-rs retries 429s by default (up to 15 times, backing off to minutes), as it
        // would against kube-apiserver; the tests look at each answer.
        config.default_retry = false;
        kube::Client::try_from(config).unwrap()
    }

    /// The client certificate and key (PEM) embedded in a kubeconfig.
    pub fn identity(&self, name: &str) -> Vec<u8> {
        identity_of(&self.dir.path().join(name))
    }

    /// A raw HTTPS client trusting the cluster CA, with a client certificate (PEM cert and
    /// key) or without.
    pub fn http(&self, identity: Option<Vec<u8>>) -> reqwest::Client {
        let ca = std::fs::read(self.pki("ca.crt")).unwrap();
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .timeout(Duration::from_secs(10));
        if let Some(pem) = identity {
            builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
        }
        builder.build().unwrap()
    }

    /// kubectl with one of the kubeconfigs, against API server `server`.
    pub fn kubectl(&self, conf: &str, server: usize, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg(format!(
                "--kubeconfig={}",
                self.kubeconfig(conf, server).display()
            ))
            .arg(format!(
                "--cache-dir={}",
                self.dir.path().join("kube-cache").display()
            ))
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .expect("run kubectl")
    }

    /// etcdctl with the API server's etcd client certificate.
    pub fn etcdctl(&self, args: &[&str]) -> Output {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.etcd_url()))
            .arg(format!("--cacert={}", self.pki("etcd/ca.crt")))
            .arg(format!("--cert={}", self.pki("apiserver-etcd-client.crt")))
            .arg(format!("--key={}", self.pki("apiserver-etcd-client.key")))
            .args(args)
            .output()
            .expect("run etcdctl (apt-get install etcd-client)")
    }
}

pub fn identity_of(kubeconfig: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let user = &config["users"][0]["user"];
    let decode = |field: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(user[field].as_str().unwrap())
            .unwrap()
    };
    let mut pem = decode("client-certificate-data");
    pem.push(b'\n');
    pem.extend(decode("client-key-data"));
    pem
}

pub fn serving_port(log: &Path) -> Option<u16> {
    let file = std::fs::File::open(log).ok()?;
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            let rest = line.split("serving on https://127.0.0.1:").nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
}

/// Runs a future to completion from synchronous code inside a test's runtime.
pub fn blocking<F: std::future::Future>(future: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => tokio::task::block_in_place(|| handle.block_on(future)),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future),
    }
}

/// kubectl's table output, split into words.
pub fn table_rows(out: &Output) -> Vec<Vec<String>> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

pub fn api_error<T: std::fmt::Debug>(result: kube::Result<T>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

pub async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap();
    let code = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    let value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{url}: not JSON ({e}, {content_type:?}): {body}"));
    (code, value)
}

pub fn node(name: &str, labels: Value) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
    }))
    .unwrap()
}

pub fn assert_status(status: &Value, code: u16, reason: &str, message: &str) {
    assert_eq!(status["kind"], "Status", "{status}");
    assert_eq!(status["apiVersion"], "v1", "{status}");
    assert_eq!(status["status"], "Failure", "{status}");
    assert_eq!(status["code"], code, "{status}");
    assert_eq!(status["reason"], reason, "{status}");
    assert_eq!(status["message"], message, "{status}");
}
