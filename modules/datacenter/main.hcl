# The central datacenter: a highly available cluster (three control-plane hosts with
# stacked etcd), Linux and Windows node pools, platform add-ons, and Azure Arc.

locals {
  control_plane   = [for name, h in var.hosts : name if h.role == "control-plane"]
  linux_workers   = [for name, h in var.hosts : name if h.role == "worker" && h.os == "linux"]
  windows_workers = [for name, h in var.hosts : name if h.role == "worker" && h.os == "windows"]
}

resource "host" "this" {
  for_each = var.hosts

  address   = each.value.address
  host_key  = each.value.host_key
  os_family = each.value.os
  labels    = { site = var.name, role = each.value.role }

  preflight {
    min_memory_mb = each.value.role == "control-plane" ? 8192 : 16384
    min_cpus      = 4
    # Swap and kernel modules are Linux concerns; Windows nodes have neither.
    swap_off       = each.value.os == "linux"
    kernel_modules = each.value.os == "linux" ? ["overlay", "br_netfilter"] : []
  }
}

resource "cluster" "this" {
  name                = var.name
  kubernetes_version  = var.kubernetes_version
  control_plane_hosts = [for name in local.control_plane : host.this[name].id]
  endpoint_address    = var.endpoint_address

  pod_cidr     = var.pod_cidr
  service_cidr = var.service_cidr

  certificates {
    key_algorithm = "ecdsa-p256"
    # Renew a month ahead: there is time to notice a failed renewal before anything expires.
    renew_before = "720h"
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "node_pool" "linux" {
  count = length(local.linux_workers) > 0 ? 1 : 0

  cluster = cluster.this.id
  name    = "linux"
  os      = "linux"
  hosts   = [for name in local.linux_workers : host.this[name].id]
}

resource "node_pool" "windows" {
  count = length(local.windows_workers) > 0 ? 1 : 0

  cluster = cluster.this.id
  name    = "windows"
  os      = "windows"
  hosts   = [for name in local.windows_workers : host.this[name].id]

  # Only workloads that ask for Windows (with a toleration) land here; Linux images
  # would fail to start on these nodes.
  taint {
    key    = "os"
    value  = "windows"
    effect = "NoSchedule"
  }
}

resource "addon" "monitoring" {
  kubeconfig = cluster.this.admin_kubeconfig
  name       = "monitoring"
  manifests = [templatefile("${path.module}/templates/monitoring.yaml.tftpl", {
    namespace       = "monitoring"
    cluster         = var.name
    labels          = merge(var.tags, { site = var.name })
    scrape_interval = "30s"
  })]
}

# kube-vip answers ARP for the Service addresses in load_balancer_range, so Services of
# type LoadBalancer (ingress controllers included) work without a cloud load balancer.
resource "addon" "load_balancer" {
  kubeconfig     = cluster.this.admin_kubeconfig
  name           = "load-balancer"
  namespace      = "kube-system"
  manifest_files = ["${path.module}/templates/kube-vip.yaml.tera"]
  values = {
    address_range = var.load_balancer_range
    version       = "v0.8.9"
  }
  wait = var.wait_for_addons

  # The DaemonSet runs on Linux nodes only; without a Linux pool it would wait forever.
  depends_on = [node_pool.linux]
}

resource "arc_connected_cluster" "this" {
  count = var.arc.enabled ? 1 : 0

  name                = "${var.name}-k8s"
  resource_group_name = var.arc.resource_group_name
  location            = var.arc.location
  kubeconfig          = cluster.this.admin_kubeconfig
  tags                = var.tags

  depends_on = [node_pool.linux]
}

resource "arc_extension" "monitor" {
  count = var.arc.enabled ? 1 : 0

  cluster_id     = arc_connected_cluster.this[0].id
  name           = "azuremonitor-containers"
  extension_type = "Microsoft.AzureMonitor.Containers"
  configuration_settings = {
    for k, v in { logAnalyticsWorkspaceResourceID = var.arc.log_analytics_workspace_id } : k => v if v != null
  }
}

resource "arc_extension" "flux" {
  count = var.arc.enabled ? 1 : 0

  cluster_id        = arc_connected_cluster.this[0].id
  name              = "flux"
  extension_type    = "microsoft.flux"
  release_namespace = "flux-system"
}

resource "gitops_configuration" "apps" {
  count = var.arc.enabled ? 1 : 0

  cluster_id = arc_connected_cluster.this[0].id
  name       = "datacenter-apps"
  namespace  = "flux-system"

  git_repository {
    url                      = var.gitops_repo_url
    branch                   = "main"
    sync_interval_in_seconds = 120
  }

  kustomization "infrastructure" {
    path  = "./clusters/${var.name}/infrastructure"
    prune = true
  }

  kustomization "apps" {
    path       = "./clusters/${var.name}/apps"
    depends_on = ["infrastructure"]
    prune      = true
  }

  # Azure refuses a Flux configuration until the Flux extension is installed.
  depends_on = [arc_extension.flux]
}
