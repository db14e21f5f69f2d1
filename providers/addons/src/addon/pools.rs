//! MetalLB address pools: rendered as one IPAddressPool and one L2Advertisement each, and
//! checked before anything is applied, since MetalLB itself (like AKS Arc's) accepts a
//! pool that collides with a node, the cluster's own networks or another cluster's pool,
//! and the collision shows only when traffic goes astray.

use std::collections::BTreeMap;
use std::net::IpAddr;

use fleetform_sdk::{Diagnostic, Diagnostics};
use ipnet::IpNet;
use serde_json::json;

use crate::directory::ClusterFacts;

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl Range {
    /// Reads `10.0.0.0/28` or `10.0.0.10-10.0.0.20`, as MetalLB takes them.
    pub fn parse(text: &str) -> Result<Range, String> {
        if let Some((first, last)) = text.split_once('-') {
            let first: IpAddr = first
                .trim()
                .parse()
                .map_err(|_| format!("{text:?}: {first:?} is not an IP address"))?;
            let last: IpAddr = last
                .trim()
                .parse()
                .map_err(|_| format!("{text:?}: {last:?} is not an IP address"))?;
            if first.is_ipv4() != last.is_ipv4() || first > last {
                return Err(format!(
                    "{text:?}: the range must go up, within one address family"
                ));
            }
            return Ok(Range { first, last });
        }
        let net: IpNet = text
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is neither a CIDR nor a \"first-last\" range"))?;
        Ok(Range {
            first: net.network(),
            last: net.broadcast(),
        })
    }

    pub fn overlaps(&self, other: &Range) -> bool {
        self.first.is_ipv4() == other.first.is_ipv4()
            && self.first <= other.last
            && other.first <= self.last
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        self.first.is_ipv4() == address.is_ipv4() && self.first <= address && address <= self.last
    }
}

/// The IPAddressPool and L2Advertisement documents of each pool, in `namespace`.
pub fn render(pools: &BTreeMap<String, Vec<String>>, namespace: &str) -> Vec<(String, String)> {
    let mut documents = Vec::new();
    for (name, addresses) in pools {
        let pool = json!({
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"addresses": addresses},
        });
        let advertisement = json!({
            "apiVersion": "metallb.io/v1beta1",
            "kind": "L2Advertisement",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"ipAddressPools": [name]},
        });
        // JSON is YAML: the bundle reader takes these as they are.
        documents.push((
            format!("address pool {name}"),
            format!("{pool}\n---\n{advertisement}\n"),
        ));
    }
    documents
}

/// A pool of some addon, as the provider remembers it for fleet-wide checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownPool {
    /// The cluster it serves.
    pub cluster: String,
    /// The addon's name.
    pub addon: String,
    pub pool: String,
    pub range: Range,
}

/// Checks an addon's pools: well formed, clear of each other, of the cluster's nodes and
/// networks (when `facts` are known) and of the pools of `others`. Every problem names
/// `address_pools`.
pub fn check(
    pools: &BTreeMap<String, Vec<String>>,
    facts: Option<&ClusterFacts>,
    others: &[KnownPool],
) -> (Vec<(String, Range)>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut ranges: Vec<(String, Range)> = Vec::new();
    let problem = |summary: &str, detail: String| {
        Diagnostic::error(summary, detail).attribute("address_pools")
    };
    for (pool, texts) in pools {
        if texts.is_empty() {
            diags.push(problem(
                "Empty address pool",
                format!("Pool {pool:?} has no addresses."),
            ));
        }
        for text in texts {
            match Range::parse(text) {
                Ok(range) => ranges.push((pool.clone(), range)),
                Err(e) => diags.push(problem(
                    "Invalid address range",
                    format!("Pool {pool:?}: {e}."),
                )),
            }
        }
    }
    for (i, (pool, range)) in ranges.iter().enumerate() {
        for (other, other_range) in &ranges[i + 1..] {
            if range.overlaps(other_range) {
                diags.push(problem(
                    "Overlapping address pools",
                    format!("Pool {pool:?} and pool {other:?} share addresses."),
                ));
            }
        }
        if let Some(facts) = facts {
            for address in &facts.node_addresses {
                if range.contains(*address) {
                    diags.push(problem(
                        "Address pool overlaps a node",
                        format!(
                            "Pool {pool:?} contains {address}, the address of one of the cluster's \
                             nodes: MetalLB would answer for it and cut the node off."
                        ),
                    ));
                }
            }
            for (network, cidr) in &facts.networks {
                if let Ok(net) = Range::parse(cidr)
                    && range.overlaps(&net)
                {
                    diags.push(problem(
                        "Address pool overlaps a cluster network",
                        format!(
                            "Pool {pool:?} overlaps the cluster's {network} ({cidr}): services would \
                             get addresses that the cluster routes internally."
                        ),
                    ));
                }
            }
        }
        for known in others {
            if range.overlaps(&known.range) {
                diags.push(problem(
                    "Address pool overlaps another cluster's",
                    format!(
                        "Pool {pool:?} shares addresses with pool {:?} of addon {:?} on cluster {:?}: \
                         two clusters on one network would both answer for them.",
                        known.pool, known.addon, known.cluster
                    ),
                ));
            }
        }
    }
    (ranges, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_overlaps() {
        let cidr = Range::parse("10.0.0.0/30").unwrap();
        assert_eq!(cidr.last.to_string(), "10.0.0.3");
        let range = Range::parse("10.0.0.3-10.0.0.9").unwrap();
        assert!(cidr.overlaps(&range));
        assert!(!Range::parse("10.0.0.4/30").unwrap().overlaps(&cidr));
        assert!(Range::parse("10.0.0.9-10.0.0.3").is_err());
        assert!(
            Range::parse("fd00::/120")
                .unwrap()
                .contains("fd00::5".parse().unwrap())
        );
        assert!(!cidr.overlaps(&Range::parse("fd00::/8").unwrap()));
        assert!(Range::parse("banana").is_err());
    }

    #[test]
    fn pools_collide_with_nodes_networks_and_other_clusters() {
        let pools = BTreeMap::from([(
            "default".to_owned(),
            vec![
                "169.254.100.10-169.254.100.30".to_owned(),
                "10.96.0.0/28".to_owned(),
            ],
        )]);
        let facts = ClusterFacts {
            node_addresses: vec!["169.254.100.21".parse().unwrap()],
            networks: vec![("service_cidr".into(), "10.96.0.0/12".into())],
            ..ClusterFacts::default()
        };
        let others = [KnownPool {
            cluster: "north".into(),
            addon: "metallb".into(),
            pool: "default".into(),
            range: Range::parse("169.254.100.25/32").unwrap(),
        }];
        let (ranges, diags) = check(&pools, Some(&facts), &others);
        assert_eq!(ranges.len(), 2);
        let summaries: Vec<&str> = diags.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "Address pool overlaps a node",
                "Address pool overlaps another cluster's",
                "Address pool overlaps a cluster network",
            ]
        );
        assert!(
            diags
                .iter()
                .all(|d| d.attribute.as_deref() == Some("address_pools"))
        );
        let rendered = render(&pools, "metallb-system");
        assert!(rendered[0].1.contains("\"kind\":\"L2Advertisement\""));
    }
}
