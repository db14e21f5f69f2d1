//! The clusters this provider knows, as the add-ons provider sees them
//! ([`ClusterDirectory`]): how to reach each one (admin kubeconfig, the endpoint and every
//! control-plane member, for failover), its nodes' addresses and networks (for MetalLB
//! pool checks), and CAs issued from its PKI (for cert-manager).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fleetform_provider_addons::directory::{
    ApiConnector, ClusterDirectory, ClusterFacts, IssuedCa,
};
use fleetform_sdk::Value;
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::KubernetesProvider;
use crate::api::Reach;
use crate::pki::{self, Endpoint};
use crate::remote::ClusterHost;

/// A cluster whose API servers sit behind a jump host, as add-ons reach it: through SSH
/// port forwards from its first control-plane host, verified against the cluster CA and
/// each server's own name (see [`Reach`]).
pub struct ForwardedApi {
    reach: Reach,
    servers: Vec<Endpoint>,
}

impl ApiConnector for ForwardedApi {
    fn clients<'a>(
        &'a self,
        kubeconfig: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, kube::Client)>, String>> {
        async move {
            let mut clients = Vec::new();
            let mut last = None;
            for server in &self.servers {
                match self.reach.client(kubeconfig, Some(server)).await {
                    Ok(client) => clients.push((server.url(), client)),
                    Err(e) => last = Some(e.to_string()),
                }
            }
            if clients.is_empty() {
                return Err(last.unwrap_or_else(|| "the cluster has no API server".into()));
            }
            Ok(clients)
        }
        .boxed()
    }
}

impl KubernetesProvider {
    /// The connector of a cluster whose first control-plane host is reached through a
    /// jump host; `None` for one reached directly.
    fn connector(
        &self,
        id: &str,
        cluster: &Value,
        members: &[String],
        port: i64,
    ) -> Option<Arc<dyn ApiConnector>> {
        let first = cluster
            .get("control_plane_hosts")
            .strings()
            .into_iter()
            .next()?;
        let host = ClusterHost::find(&self.fleet, &first).ok()?;
        host.target.bastion.as_ref()?;
        let mut connectors = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        let connector = connectors.entry(id.to_owned()).or_insert_with(|| {
            let port = u16::try_from(port).unwrap_or(6443);
            let mut servers: Vec<Endpoint> = cluster
                .get("endpoint_address")
                .as_str()
                .map(|host| Endpoint {
                    host: host.to_owned(),
                    port,
                })
                .into_iter()
                .collect();
            for address in members {
                if !servers.iter().any(|s| &s.host == address) {
                    servers.push(Endpoint {
                        host: address.clone(),
                        port,
                    });
                }
            }
            Arc::new(ForwardedApi {
                reach: Reach::for_host(&host),
                servers,
            })
        });
        Some(connector.clone() as Arc<dyn ApiConnector>)
    }

    /// Addresses of the hosts with these ids, as the run knows them.
    fn addresses(&self, hosts: &[String]) -> Vec<String> {
        hosts
            .iter()
            .filter_map(|id| self.fleet.host(id).ok())
            .map(|(target, _)| target.address)
            .collect()
    }
}

fn url(address: &str, port: i64) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("https://[{v6}]:{port}"),
        _ => format!("https://{address}:{port}"),
    }
}

impl ClusterDirectory for KubernetesProvider {
    fn pod_network_planned(&self, cluster: Option<&str>) {
        self.pod_networks().given(cluster);
    }

    fn cluster(&self, id: &str) -> Option<ClusterFacts> {
        let cluster = self
            .clusters
            .read()
            .expect("clusters lock")
            .get(id)
            .cloned()?;
        let port = cluster.get("endpoint_port").as_i64().unwrap_or(6443);
        let members = self.addresses(&cluster.get("control_plane_hosts").strings());
        let mut servers: Vec<String> = cluster
            .get("endpoint")
            .as_str()
            .map(str::to_owned)
            .into_iter()
            .collect();
        servers.extend(members.iter().map(|address| url(address, port)));
        servers.dedup();
        let connector = self.connector(id, &cluster, &members, port);
        let mut addresses = members;
        for pool in self.pools.read().expect("pools lock").values() {
            if pool.get("cluster").as_str() == Some(id) {
                addresses.extend(self.addresses(&pool.get("hosts").strings()));
            }
        }
        let networks = ["pod_cidr", "service_cidr"]
            .into_iter()
            .filter_map(|name| Some((name.to_owned(), cluster.get(name).as_str()?.to_owned())))
            .collect();
        Some(ClusterFacts {
            kubeconfig: cluster.get("admin_kubeconfig").as_str().map(str::to_owned),
            connector,
            servers,
            node_addresses: addresses.iter().filter_map(|a| a.parse().ok()).collect(),
            networks,
        })
    }

    fn cluster_with_kubeconfig(&self, kubeconfig: &str) -> Option<ClusterFacts> {
        let id = self
            .clusters
            .read()
            .expect("clusters lock")
            .iter()
            .find(|(_, c)| c.get("admin_kubeconfig").as_str() == Some(kubeconfig))
            .map(|(id, _)| id.clone())?;
        self.cluster(&id)
    }

    fn issue_ca(
        &self,
        id: &str,
        common_name: &str,
        validity: Duration,
    ) -> Result<IssuedCa, String> {
        let cluster = self
            .clusters
            .read()
            .expect("clusters lock")
            .get(id)
            .cloned()
            .ok_or_else(|| format!("no cluster {id:?} is known to this run"))?;
        let bundle = crate::cluster::decode_bundle(cluster.get("pki"))
            .ok_or_else(|| format!("cluster {id:?} has no PKI yet"))?;
        let file = |path: &str| {
            bundle
                .common
                .get(path)
                .map(|f| f.contents.clone())
                .ok_or_else(|| format!("cluster {id:?}'s PKI has no {path}"))
        };
        crate::issuer::issue(
            &file(pki::paths::CA_CERT)?,
            &file(pki::paths::CA_KEY)?,
            common_name,
            validity,
            SystemTime::now(),
        )
    }
}

/// Whether a value is a node pool's state worth remembering.
pub(crate) fn is_pool(value: &Value) -> bool {
    value.get("id").as_str().is_some()
}
