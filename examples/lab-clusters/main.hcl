# Two clusters on the local lab's hosts, the shapes of the clinic fleet:
# - "datacenter": three control-plane hosts (stacked etcd over mTLS) behind a kube-vip
#   virtual IP, a Linux node pool, and a Windows node pool (empty here: no Windows host
#   can run in the lab);
# - "clinic": one host that is control plane and worker at once, as small sites run.
# Both get the platform add-ons of modules/platform-addons (pod network, MetalLB with
# their own address ranges, cert-manager with an issuer from the cluster CA, monitoring,
# logging, the apps), from sources pinned by sha256 and read from a local mirror.
# The lab's hosts have containerd and kubelet stand-ins preinstalled, so install_runtime
# is off, as it would be for pre-built images.

variable "lab" {
  type = object({
    client_key  = string
    hosts       = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump        = string
    virtual_ips = optional(list(string), [])
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

variable "addon_sources" {
  type = object({
    pod_network  = object({ url = optional(string), path = optional(string), sha256 = string })
    metallb      = object({ url = optional(string), path = optional(string), sha256 = string })
    cert_manager = object({ url = optional(string), path = optional(string), sha256 = string })
  })
  default = {
    metallb = {
      url    = "https://raw.githubusercontent.com/metallb/metallb/v0.16.1/config/manifests/metallb-native.yaml"
      sha256 = "bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b"
    }
    # The lab has no cert-manager release or pod network that could run: stand-ins.
    cert_manager = {
      path   = "../clinic-fleet/lab-sources/cert-manager-lab.yaml"
      sha256 = "4ee83eec3948b5f3b9136fa92e9e9ee324ac1ef19bd28a9e991e152e0e15abef"
    }
    pod_network = {
      path   = "../clinic-fleet/lab-sources/pod-network-lab.yaml"
      sha256 = "c971463408d7ecd0b9697bbdadbaa27cf8a9e8f25210a8f77acad582f0b1b8ba"
    }
  }
}

provider "kubernetes" {
  wait_timeout = "5m"
}

provider "addons" {
  # run.sh fills it; init reads every URL source from there.
  source_mirror = ".mirror"
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
  endpoint_address    = try(var.lab.virtual_ips[0], null)

  dynamic "kube_vip" {
    for_each = length(var.lab.virtual_ips) > 0 ? [1] : []
    content {}
  }

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

# The lab runs no controllers, so nothing would ever become ready: waits are off.
module "datacenter_addons" {
  source = "../../modules/platform-addons"

  cluster_id          = cluster.datacenter.id
  site                = "datacenter"
  sources             = var.addon_sources
  load_balancer_range = "169.254.100.200-169.254.100.219"
  windows             = true
  wait                = false

  depends_on = [node_pool.datacenter_linux]
}

module "clinic_addons" {
  source = "../../modules/platform-addons"

  cluster_id          = cluster.clinic.id
  site                = "clinic"
  sources             = var.addon_sources
  load_balancer_range = "169.254.100.220-169.254.100.223"
  wait                = false
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
