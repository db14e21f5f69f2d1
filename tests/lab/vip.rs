//! The lab's stand-in for kube-vip (`fleetform-lab-vip`), which the node agent runs for the
//! kube-vip static pod fleetform writes (its entrypoint `/kube-vip` is not on a lab host).
//! It takes kube-vip's settings from the same environment (`address`, `port`,
//! `vip_interface`, `vip_leasename`, `cp_namespace`, `vip_leaseduration`,
//! `vip_renewdeadline`, `vip_retryperiod`) and does what kube-vip's control-plane mode
//! does: the members elect a leader through a Lease, with the kubeconfig at
//! /etc/kubernetes/admin.conf against their own API server (as "kubernetes" on the
//! loopback address); the leader puts the virtual IP on its interface and announces it
//! with gratuitous ARP (`arping`, when installed), and a member that is not leader, or
//! cannot renew, takes it off. Test support only.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// The binary's name; the node agent finds it beside the lab API server.
pub const VIP_BIN: &str = "fleetform-lab-vip";

/// kube-vip's settings, from its environment variables.
#[derive(Debug, Clone)]
struct Settings {
    address: String,
    port: u16,
    interface: String,
    lease: String,
    namespace: String,
    duration: Duration,
    renew_deadline: Duration,
    retry: Duration,
    kubeconfig: String,
}

fn settings() -> Result<Settings, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let seconds = |name: &str, default: u64| {
        var(name)
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(default), Duration::from_secs)
    };
    Ok(Settings {
        address: var("address").ok_or("no `address` in the environment")?,
        port: var("port").and_then(|p| p.parse().ok()).unwrap_or(6443),
        interface: var("vip_interface").unwrap_or_else(|| "eth0".into()),
        lease: var("vip_leasename").unwrap_or_else(|| "plndr-cp-lock".into()),
        namespace: var("cp_namespace").unwrap_or_else(|| "kube-system".into()),
        duration: seconds("vip_leaseduration", 5),
        renew_deadline: seconds("vip_renewdeadline", 3),
        retry: seconds("vip_retryperiod", 1),
        kubeconfig: var("KUBECONFIG").unwrap_or_else(|| "/etc/kubernetes/admin.conf".into()),
    })
}

/// The binary's `main`.
pub fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fleetform-lab-vip: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fleetform-lab-vip: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(settings));
    ExitCode::SUCCESS
}

async fn client(settings: &Settings) -> Result<kube::Client, String> {
    let text = std::fs::read_to_string(&settings.kubeconfig)
        .map_err(|e| format!("{}: {e}", settings.kubeconfig))?;
    let parsed = Kubeconfig::from_yaml(&text).map_err(|e| e.to_string())?;
    let mut config = kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    // kube-vip reaches its own member's API server as "kubernetes" (a name in its
    // certificate) on the loopback address.
    config.cluster_url = format!("https://127.0.0.1:{}", settings.port)
        .parse()
        .map_err(|e| format!("{e}"))?;
    config.tls_server_name = Some("kubernetes".into());
    config.connect_timeout = Some(Duration::from_secs(2));
    config.read_timeout = Some(settings.renew_deadline);
    config.default_retry = false;
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

async fn run(settings: Settings) {
    let identity = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    eprintln!(
        "fleetform-lab-vip: {identity} serves {} on {} while it holds lease {}/{}",
        settings.address, settings.interface, settings.namespace, settings.lease
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    let mut holding = false;
    let mut last_renewed: Option<Instant> = None;
    loop {
        let leader = match client(&settings).await {
            Ok(client) => elect(&client, &settings, &identity).await,
            Err(e) => Err(e),
        };
        match leader {
            Ok(true) => {
                last_renewed = Some(Instant::now());
                if !holding {
                    eprintln!("fleetform-lab-vip: {identity} is the leader");
                    add_address(&settings).await;
                    holding = true;
                }
            }
            Ok(false) => {
                if holding {
                    eprintln!("fleetform-lab-vip: {identity} lost the lease");
                    remove_address(&settings).await;
                    holding = false;
                }
            }
            Err(e) => {
                let expired = last_renewed.is_none_or(|t| t.elapsed() > settings.renew_deadline);
                if holding && expired {
                    eprintln!("fleetform-lab-vip: cannot renew ({e}); giving up the address");
                    remove_address(&settings).await;
                    holding = false;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(settings.retry) => {}
            _ = term.recv() => break,
        }
    }
    if holding {
        remove_address(&settings).await;
    }
}

/// One round of leader election: takes or renews the lease when it is free, expired or
/// ours. `Ok(true)` when this member holds it now.
async fn elect(client: &kube::Client, settings: &Settings, identity: &str) -> Result<bool, String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), &settings.namespace);
    let now = Timestamp::now();
    let duration = i32::try_from(settings.duration.as_secs()).unwrap_or(5);
    let current = leases
        .get_opt(&settings.lease)
        .await
        .map_err(|e| e.to_string())?;
    let ours = |spec: &LeaseSpec| spec.holder_identity.as_deref() == Some(identity);
    let free = |spec: &LeaseSpec| {
        let renewed = spec.renew_time.as_ref().map_or(0, |t| t.0.as_second());
        let lasts = i64::from(spec.lease_duration_seconds.unwrap_or(duration));
        renewed + lasts < now.as_second()
    };
    let Some(mut lease) = current else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(settings.lease.clone()),
                namespace: Some(settings.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(identity.to_owned()),
                lease_duration_seconds: Some(duration),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                ..LeaseSpec::default()
            }),
        };
        return match leases.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(e) => Err(e.to_string()),
        };
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if !ours(spec) && !free(spec) {
        return Ok(false);
    }
    if !ours(spec) {
        spec.holder_identity = Some(identity.to_owned());
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.renew_time = Some(MicroTime(now));
    spec.lease_duration_seconds = Some(duration);
    // The resourceVersion read above makes this a compare-and-swap: of two members taking
    // an expired lease at once, one gets a conflict.
    match leases
        .replace(&settings.lease, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

fn prefix(settings: &Settings) -> String {
    let bits = if settings.address.contains(':') {
        128
    } else {
        32
    };
    format!("{}/{bits}", settings.address)
}

async fn add_address(settings: &Settings) {
    let added = tokio::process::Command::new("ip")
        .args([
            "addr",
            "replace",
            &prefix(settings),
            "dev",
            &settings.interface,
        ])
        .status()
        .await;
    eprintln!(
        "fleetform-lab-vip: ip addr replace {}: {added:?}",
        prefix(settings)
    );
    // Neighbours that knew another member for the address learn this one now.
    let _ = tokio::process::Command::new("arping")
        .args([
            "-U",
            "-c",
            "2",
            "-I",
            &settings.interface,
            &settings.address,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await;
}

async fn remove_address(settings: &Settings) {
    let _ = tokio::process::Command::new("ip")
        .args(["addr", "del", &prefix(settings), "dev", &settings.interface])
        .status()
        .await;
}
