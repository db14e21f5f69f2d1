# Two clusters on the local lab's hosts, the shapes of the clinic fleet:
# - "datacenter": three control-plane hosts (stacked etcd over mTLS), a Linux node pool,
#   and a Windows node pool (empty here: no Windows host can run in the lab; give
#   windows_hosts to join real ones);
# - "clinic": one host that is control plane and worker at once, as small sites run.
# The lab's hosts have containerd and kubelet stand-ins preinstalled, so install_runtime
# is off, as it would be for pre-built images.

variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
  description = "The lab's hosts, written by `fleetform-lab up` as lab.auto.hcl."
}

variable "kubernetes_version" {
  type    = string
  default = "1.31.2"
}

variable "windows_hosts" {
  type = map(object({
    address  = string
    host_key = string
  }))
  default     = {}
  description = "Windows workers for the datacenter, by name (none in the lab)."
}

provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "5s"
}

provider "kubernetes" {
  wait_timeout = "5m"
}

locals {
  names      = sort([for k, h in var.lab.hosts : k if !h.private])
  datacenter = slice(local.names, 0, 3)
  worker     = local.names[3]
  clinic     = local.names[4]
}

resource "host" "lab" {
  for_each = { for k in local.names : k => var.lab.hosts[k] }
  address  = each.value.address
  port     = each.value.port
  host_key = each.value.host_key
  labels   = { site = contains(local.datacenter, each.key) || each.key == local.worker ? "datacenter" : "clinic" }
}

resource "host" "windows" {
  for_each  = var.windows_hosts
  address   = each.value.address
  host_key  = each.value.host_key
  os_family = "windows"
}

resource "cluster" "datacenter" {
  name                = "datacenter"
  kubernetes_version  = var.kubernetes_version
  control_plane_hosts = [for k in local.datacenter : host.lab[k].id]
  install_runtime     = false
  registry_mirrors    = { "docker.io" = ["https://mirror.datacenter.lan"] }

  certificates {
    renew_before = "720h"
  }
}

resource "node_pool" "datacenter_linux" {
  cluster = cluster.datacenter.id
  name    = "linux"
  hosts   = [host.lab[local.worker].id]
  labels  = { workload = "general" }
}

resource "node_pool" "datacenter_windows" {
  cluster = cluster.datacenter.id
  name    = "windows"
  os      = "windows"
  hosts   = [for k, h in host.windows : h.id]

  taint {
    key    = "os"
    value  = "windows"
    effect = "NoSchedule"
  }
}

resource "cluster" "clinic" {
  name                      = "clinic"
  kubernetes_version        = var.kubernetes_version
  control_plane_hosts       = [host.lab[local.clinic].id]
  control_plane_schedulable = true
  install_runtime           = false
  # Clinics pull through the datacenter's registry.
  registry_mirrors = { "registry.k8s.io" = ["https://mirror.datacenter.lan"] }
}

output "datacenter_kubeconfig" {
  value     = cluster.datacenter.admin_kubeconfig
  sensitive = true
}

output "clinic_kubeconfig" {
  value     = cluster.clinic.admin_kubeconfig
  sensitive = true
}

output "certificate_expiry" {
  value = cluster.datacenter.certificate_expiry
}
