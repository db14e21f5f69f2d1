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
  port      = each.value.port
  host_key  = each.value.host_key
  os_family = each.value.os
  labels    = { site = var.name, role = each.value.role }

  preflight {
    min_memory_mb = each.value.role == "control-plane" ? var.preflight.control_plane_memory_mb : var.preflight.worker_memory_mb
    min_cpus      = var.preflight.min_cpus
    # Swap and kernel modules are Linux concerns; Windows nodes have neither.
    swap_off       = each.value.os == "linux"
    kernel_modules = each.value.os == "linux" ? var.preflight.kernel_modules : []
  }
}

resource "cluster" "this" {
  name                = var.name
  kubernetes_version  = var.kubernetes_version
  control_plane_hosts = [for name in local.control_plane : host.this[name].id]
  endpoint_address    = var.endpoint_address

  pod_cidr        = var.pod_cidr
  service_cidr    = var.service_cidr
  install_runtime = var.install_runtime

  # With a virtual IP, kube-vip serves it on the control-plane hosts: the endpoint follows
  # a live member.
  dynamic "kube_vip" {
    for_each = var.endpoint_address == null ? [] : [var.vip_interface]
    content {
      interface = kube_vip.value
    }
  }

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

# Declared even while empty: Windows workloads find their pool, and Windows hosts join it
# once fleetform installs on Windows hosts (plans refuse Windows hosts until then).
resource "node_pool" "windows" {
  cluster = cluster.this.id
  name    = "windows"
  os      = "windows"
  # fleetform cannot join Windows hosts yet (it renders their kubelet and containerd
  # configuration, but cannot install files on Windows): the pool is declared, its hosts
  # are checked by the host provider, and they join once that lands.
  hosts = []

  # Only workloads that ask for Windows (with a toleration) land here; Linux images
  # would fail to start on these nodes.
  taint {
    key    = "os"
    value  = "windows"
    effect = "NoSchedule"
  }
}

module "addons" {
  source = "../platform-addons"

  cluster_id          = cluster.this.id
  site                = var.name
  sources             = var.addon_sources
  load_balancer_range = var.load_balancer_range
  windows             = length(local.windows_workers) > 0
  wait                = var.wait_for_addons
  labels              = merge(var.tags, { site = var.name })
  scrape_interval     = "30s"

  # The add-ons' workloads need nodes to run on.
  depends_on = [node_pool.linux]
}

resource "arc_connected_cluster" "this" {
  count = var.arc.enabled ? 1 : 0

  name                = "${var.name}-k8s"
  resource_group_name = var.arc.resource_group_name
  location            = var.arc.location
  kubeconfig          = cluster.this.admin_kubeconfig
  tags                = var.tags

  dynamic "agent_bundle" {
    for_each = var.arc.agent_bundle == null ? [] : [var.arc.agent_bundle]
    content {
      url     = agent_bundle.value.url
      sha256  = agent_bundle.value.sha256
      version = agent_bundle.value.version
    }
  }

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
