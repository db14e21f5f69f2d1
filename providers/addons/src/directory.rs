//! What the add-ons provider learns of clusters another provider manages: how to reach a
//! cluster named by `cluster = cluster.x.id` (its kubeconfig and every API server, for
//! failover), its node addresses and networks (so load-balancer pools that collide with
//! them are refused), and CA certificates issued from its PKI (for cert-manager). The
//! kubernetes provider implements it; the CLI hands it to this provider.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;

/// Builds API clients for a cluster that is not reached directly (its API servers sit
/// behind a jump host, reached through SSH port forwards that the implementation keeps open
/// for the run): one per API server, in the order to try them.
pub trait ApiConnector: Send + Sync {
    /// Clients with `kubeconfig`'s credentials; `Err` with why none could be made.
    fn clients<'a>(
        &'a self,
        kubeconfig: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, kube::Client)>, String>>;
}

/// A cluster as the run knows it (from its configuration, plan, state or apply).
#[derive(Clone, Default)]
pub struct ClusterFacts {
    /// Admin kubeconfig; `None` while it is known only after apply.
    pub kubeconfig: Option<String>,
    /// Every API server's URL (the endpoint, then each control-plane member).
    pub servers: Vec<String>,
    /// Addresses of the cluster's nodes.
    pub node_addresses: Vec<IpAddr>,
    /// The cluster's own networks by attribute name (`pod_cidr`, `service_cidr`).
    pub networks: Vec<(String, String)>,
    /// How to reach it when not directly (behind a jump host).
    pub connector: Option<Arc<dyn ApiConnector>>,
}

impl std::fmt::Debug for ClusterFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterFacts")
            .field(
                "kubeconfig",
                &self.kubeconfig.as_ref().map(|_| "(sensitive)"),
            )
            .field("servers", &self.servers)
            .field("node_addresses", &self.node_addresses)
            .field("networks", &self.networks)
            .field("connector", &self.connector.is_some())
            .finish()
    }
}

/// A CA certificate issued from a cluster's CA (an intermediate, path length 0).
#[derive(Clone)]
pub struct IssuedCa {
    /// PEM: the new CA's certificate, then the cluster CA's.
    pub certificate_chain: String,
    /// PEM, PKCS#8.
    pub private_key: String,
    pub not_after: SystemTime,
}

impl std::fmt::Debug for IssuedCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCa")
            .field("private_key", &"(sensitive)")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// The clusters a run knows.
pub trait ClusterDirectory: Send + Sync {
    /// The cluster with this id; `None` when this run has not seen it.
    fn cluster(&self, id: &str) -> Option<ClusterFacts>;

    /// The cluster whose admin kubeconfig is exactly `kubeconfig`, for providers that are
    /// handed a kubeconfig rather than a cluster id; `None` when no known cluster has it.
    fn cluster_with_kubeconfig(&self, kubeconfig: &str) -> Option<ClusterFacts> {
        let _ = kubeconfig;
        None
    }

    /// Issues a CA named `common_name`, valid for `validity`, from the cluster's CA.
    fn issue_ca(&self, id: &str, common_name: &str, validity: Duration)
    -> Result<IssuedCa, String>;

    /// Told, as an addon with `pod_network = true` is planned, which cluster it gives a
    /// pod network: `Some(id)`, or `None` while its target is not known (a kubeconfig that
    /// a cluster created in the same run gives). The clusters' plan warnings weigh it.
    fn pod_network_planned(&self, cluster: Option<&str>) {
        let _ = cluster;
    }
}

/// A directory that knows no cluster, for runs without the kubernetes provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClusters;

impl ClusterDirectory for NoClusters {
    fn cluster(&self, _id: &str) -> Option<ClusterFacts> {
        None
    }

    fn issue_ca(
        &self,
        id: &str,
        _common_name: &str,
        _validity: Duration,
    ) -> Result<IssuedCa, String> {
        Err(format!("no cluster {id:?} is known to this run"))
    }
}
