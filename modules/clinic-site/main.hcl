# One remote clinic: a few hosts, a single-control-plane cluster, monitoring, and an
# Azure Arc connection that may lag behind when the clinic's WAN link is down.

locals {
  control_plane   = [for name, h in var.hosts : name if h.role == "control-plane"]
  linux_workers   = [for name, h in var.hosts : name if h.role == "worker" && h.os == "linux"]
  windows_workers = [for name, h in var.hosts : name if h.role == "worker" && h.os == "windows"]

  # Labels every piece of telemetry from this clinic carries.
  labels = merge(var.tags, { site = var.site })
}

resource "host" "this" {
  for_each = var.hosts

  address   = each.value.address
  port      = each.value.port
  host_key  = each.value.host_key
  os_family = each.value.os
  labels    = { site = var.site, role = each.value.role }

  dynamic "bastion" {
    for_each = each.value.jump == null ? [] : [each.value.jump]
    content {
      address  = bastion.value.address
      port     = bastion.value.port
      host_key = bastion.value.host_key
    }
  }

  preflight {
    min_memory_mb = var.preflight.min_memory_mb
    min_cpus      = var.preflight.min_cpus
    # Swap and kernel modules are Linux concerns; Windows hosts have neither.
    swap_off       = each.value.os == "linux"
    kernel_modules = each.value.os == "linux" ? var.preflight.kernel_modules : []
    # Control-plane ports must be free, or a stray earlier install is still running.
    ports_free = each.value.role == "control-plane" ? [6443, 2379, 2380, 10250, 10257, 10259] : [10250]
  }
}

resource "cluster" "this" {
  name                = var.site
  kubernetes_version  = var.kubernetes_version
  control_plane_hosts = [for name in local.control_plane : host.this[name].id]

  pod_cidr        = var.pod_cidr
  service_cidr    = var.service_cidr
  install_runtime = var.install_runtime

  # A one-host clinic has no workers, so workloads must be allowed on the control plane.
  control_plane_schedulable = length(local.linux_workers) + length(local.windows_workers) == 0

  lifecycle {
    # Replacing a clinic's cluster wipes its local data; make that a deliberate act.
    prevent_destroy = true
  }
}

resource "node_pool" "linux" {
  count = length(local.linux_workers) > 0 ? 1 : 0

  cluster = cluster.this.id
  name    = "linux"
  os      = "linux"
  hosts   = [for name in local.linux_workers : host.this[name].id]
  labels  = { "fleetform.io/site" = var.site }
}

resource "node_pool" "windows" {
  count = length(local.windows_workers) > 0 ? 1 : 0

  cluster = cluster.this.id
  name    = "windows"
  os      = "windows"
  # Declared, not joined yet: fleetform cannot install files on Windows hosts so far.
  hosts  = []
  labels = { "fleetform.io/site" = var.site }

  # Only pods that tolerate this land on Windows nodes; Linux images cannot run there.
  taint {
    key    = "os"
    value  = "windows"
    effect = "NoSchedule"
  }
}

# The clinic's add-ons are installed from its own site: they need no WAN link once the
# sources are in the pipeline's cache (or the clinic's mirror).
module "addons" {
  source = "../platform-addons"

  cluster_id          = cluster.this.id
  site                = var.site
  sources             = var.addon_sources
  load_balancer_range = var.load_balancer_range
  windows             = length(local.windows_workers) > 0
  wait                = var.wait_for_addons
  labels              = local.labels
}

# Everything below is Azure Arc. When the clinic's link is down, Azure's side is still
# done and the agents' installation in the cluster is recorded as deferred, to be finished
# by the first apply that reaches the clinic again (the arc provider's defer_when_offline).

resource "arc_connected_cluster" "this" {
  count = var.arc.enabled ? 1 : 0

  name                = "${var.site}-k8s"
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

  # The Arc agents are pods: they need nodes to schedule on, which the cluster alone
  # does not guarantee when the clinic has workers.
  depends_on = [node_pool.linux]
}

resource "arc_extension" "monitor" {
  count = var.arc.enabled ? 1 : 0

  cluster_id     = arc_connected_cluster.this[0].id
  name           = "azuremonitor-containers"
  extension_type = "Microsoft.AzureMonitor.Containers"

  # Without a workspace the extension picks the subscription's default one.
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
  name       = "clinic-apps"
  namespace  = "flux-system"
  scope      = "cluster"

  git_repository {
    url                      = var.gitops_repo_url
    branch                   = var.gitops_branch
    sync_interval_in_seconds = 300
  }

  kustomization "infrastructure" {
    path  = "./clusters/${var.site}/infrastructure"
    prune = true
  }

  kustomization "apps" {
    path       = "./clusters/${var.site}/apps"
    depends_on = ["infrastructure"]
    prune      = true
  }

  # Azure refuses a Flux configuration until the Flux extension is installed, and
  # nothing in this block refers to it.
  depends_on = [arc_extension.flux]
}
