//! What a recorded object says about the health of a cluster, for `fleetform status` and
//! its web page.
//!
//! A provider reads it out of one object's attributes ([`crate::Provider::health`]): no
//! I/O, since refresh (`Provider::read`) has already brought the attributes up to date. The
//! engine knows nothing about clusters: it groups the reports of a site by the cluster each
//! object belongs to and lays them out; the words here (control plane, node pool,
//! connection) are the only cluster vocabulary it sees.

/// What one object tells about its cluster.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Health {
    /// What the object is to its cluster.
    pub part: Part,
    /// The name people know it by: the cluster's, the pool's, the connected cluster's.
    pub name: String,
    /// The id other objects use to name the cluster this object is (a control plane) or
    /// belongs to (a node pool's `cluster`), when it has one; the engine matches parts to
    /// their cluster by it, else by the dependencies recorded in state.
    pub cluster_id: Option<String>,
    /// The Kubernetes version it runs (or, until refresh tells, is declared with).
    pub kubernetes_version: Option<String>,
    /// Its nodes, Ready and in total, when it has nodes.
    pub nodes: Option<NodeCount>,
    /// Its certificates that expire.
    pub certificates: Vec<Expiry>,
    /// Its link to a management plane (an Azure Arc connection).
    pub connection: Option<Connection>,
    /// Work that waits until the site can be reached, when some does.
    pub deferred: Option<Deferred>,
}

/// What an object is to its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Part {
    /// The cluster itself: its control plane.
    #[default]
    ControlPlane,
    /// A pool of worker nodes.
    NodePool,
    /// The cluster's connection to a management plane (Azure Arc).
    Connection,
    /// Something installed in or for the cluster (an extension, a GitOps configuration):
    /// it only ever reports deferred work.
    Attachment,
}

/// Nodes Ready and in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeCount {
    /// Nodes whose Ready condition is True.
    pub ready: usize,
    /// Nodes there should be.
    pub total: usize,
}

/// A certificate's expiry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expiry {
    /// The certificate's name, e.g. `apiserver.crt`.
    pub name: String,
    /// Its not-after time, RFC 3339.
    pub not_after: String,
    /// From when the provider renews it or warns about it (RFC 3339): the renewal window
    /// opens then.
    pub renew_from: Option<String>,
}

/// A cluster's link to a management plane.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connection {
    /// The status as the management plane reports it, e.g. `Connected`, `Offline`.
    pub status: String,
    /// Whether that status means connected.
    pub connected: bool,
    /// When the management plane last heard from the cluster (RFC 3339).
    pub last_seen: Option<String>,
    /// The certificate of the cluster's identity there, when it expires.
    pub identity: Option<Expiry>,
}

/// Work recorded as waiting for the site.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Deferred {
    /// What waits, in a few words (e.g. `install the Arc agents in the cluster`).
    pub action: String,
    /// Since when (RFC 3339).
    pub since: Option<String>,
    /// Why it waits.
    pub reason: Option<String>,
}
