# What every cluster of the fleet runs besides the essential add-ons the cluster installs
# itself (kube-proxy, CoreDNS): a pod network, MetalLB for Services of type LoadBalancer,
# cert-manager with an issuer whose CA comes from the cluster's PKI, monitoring and
# logging agents, and the apps' Linux and Windows workloads. Sources are pinned by sha256
# and fetched at `fleetform init` (from the provider's source_mirror at offline sites).

resource "addon" "pod_network" {
  cluster     = var.cluster_id
  name        = "pod-network"
  pod_network = true
  source      = var.sources.pod_network
  wait        = var.wait
}

resource "addon" "metallb" {
  count = var.load_balancer_range == null ? 0 : 1

  cluster   = var.cluster_id
  name      = "metallb"
  namespace = "metallb-system"
  source    = var.sources.metallb
  # Plans refuse a range that overlaps a node, the cluster's networks or another
  # cluster's range.
  address_pools = { default = [var.load_balancer_range] }
  # MetalLB's webhook refuses pools until its controller serves it; the pools are
  # checked here at plan time instead.
  exclude = ["ValidatingWebhookConfiguration/metallb-webhook-configuration"]
  wait    = var.wait

  depends_on = [addon.pod_network]
}

resource "addon" "cert_manager" {
  cluster   = var.cluster_id
  name      = "cert-manager"
  namespace = "cert-manager"
  source    = var.sources.cert_manager
  wait      = var.wait

  # Certificates it signs chain to the cluster CA that every node already trusts; its
  # expiry shows in plans like the cluster's own certificates.
  cluster_issuer {
    name         = "cluster-ca"
    validity     = "8760h"
    renew_before = "720h"
  }
}

resource "addon" "monitoring" {
  cluster = var.cluster_id
  name    = "monitoring"
  manifests = [templatefile("${path.module}/templates/monitoring.yaml.tftpl", {
    namespace       = "monitoring"
    cluster         = var.site
    labels          = var.labels
    scrape_interval = var.scrape_interval
  })]
  wait = var.wait
}

resource "addon" "logging" {
  cluster = var.cluster_id
  name    = "logging"
  manifests = [templatefile("${path.module}/templates/logging.yaml.tftpl", {
    namespace = "logging"
    cluster   = var.site
    site      = var.site
    collector = var.log_collector
    windows   = var.windows
  })]
  wait = var.wait
}

resource "addon" "apps" {
  cluster = var.cluster_id
  name    = "apps"
  manifests = [templatefile("${path.module}/templates/apps.yaml.tftpl", {
    namespace = "health"
    registry  = var.registry
    replicas  = var.windows ? 2 : 1
    windows   = var.windows
  })]
  wait = var.wait

  depends_on = [addon.metallb, addon.cert_manager]
}
