# The local lab. `fleetform-lab up --hosts 7 --private 3 --virtual-ips 5 --azure --dir DIR`
# writes DIR/lab.auto.hcl, which sets var.lab; run.sh copies it next to this file. From it
# this file derives the fleet's inputs:
# - lab-1 .. lab-3: the datacenter's control plane; lab-4: its Linux worker;
# - lab-5 .. lab-7: the gateways of the clinics north, lakeside and hillcrest, and
#   private-1 .. private-3 their machines, reached only through their own gateway;
# - the lab's free addresses: the datacenter's virtual IP, then one load-balancer address
#   for each cluster;
# - the lab's Azure (Resource Manager, Entra ID and the agents' bundle on loopback, with a
#   CA of its own), when the lab runs it.
# A real fleet leaves var.lab unset and sets clinics, datacenter_hosts, host_keys and the
# Azure settings in its own values files.

variable "lab" {
  type = object({
    client_key  = string
    hosts       = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump        = string
    virtual_ips = optional(list(string), [])
    azure = optional(object({
      metadata_host       = string
      ca_certificate_file = string
      tenant_id           = string
      subscription_id     = string
      client_id           = string
      client_secret       = string
      agent_bundle        = object({ url = string, sha256 = string, version = string })
    }))
  })
  default     = null
  description = "The local lab's hosts and services, as `fleetform-lab up` writes them."
}

locals {
  lab          = var.lab != null
  lab_public   = local.lab ? sort([for k, h in var.lab.hosts : k if !h.private]) : []
  lab_private  = local.lab ? sort([for k, h in var.lab.hosts : k if h.private]) : []
  lab_ips      = local.lab ? var.lab.virtual_ips : []
  lab_clinics  = ["north", "lakeside", "hillcrest"]
  lab_machines = local.lab ? { for k, h in var.lab.hosts : k => { address = h.address, port = h.port, host_key = h.host_key } } : {}

  clinics = !local.lab ? var.clinics : {
    for i, site in local.lab_clinics : site => {
      hosts = {
        "${site}-1" = merge(local.lab_machines[local.lab_private[i]], { role = "control-plane", os = "linux" })
      }
      gateway             = local.lab_machines[local.lab_public[4 + i]]
      kubernetes_version  = null
      arc_enabled         = var.lab.azure != null
      load_balancer_range = "${local.lab_ips[2 + i]}-${local.lab_ips[2 + i]}"
    }
  }

  datacenter_hosts = !local.lab ? var.datacenter_hosts : merge(
    {
      for i in range(3) : "dc-cp-${i + 1}" => merge(local.lab_machines[local.lab_public[i]], { role = "control-plane", os = "linux" })
    },
    { "dc-linux-1" = merge(local.lab_machines[local.lab_public[3]], { role = "worker", os = "linux" }) },
  )
  datacenter_vip      = local.lab ? local.lab_ips[0] : var.datacenter_vip
  load_balancer_range = local.lab ? "${local.lab_ips[1]}-${local.lab_ips[1]}" : var.load_balancer_range
  datacenter_arc      = local.lab ? var.lab.azure != null : true

  ssh_private_key_file = local.lab ? var.lab.client_key : var.ssh_private_key_file
  # The lab's hosts come with containerd and the kubelet (the lab's stand-ins) and have
  # one CPU and no kernel modules of their own: what they can meet is checked.
  install_runtime = local.lab ? false : var.install_runtime
  # (null keeps a module's default).
  clinic_preflight = {
    min_memory_mb  = local.lab ? 256 : null
    min_cpus       = local.lab ? 1 : null
    kernel_modules = local.lab ? [] : null
  }
  datacenter_preflight = {
    control_plane_memory_mb = local.lab ? 256 : null
    worker_memory_mb        = local.lab ? 256 : null
    min_cpus                = local.lab ? 1 : null
    kernel_modules          = local.lab ? [] : null
  }

  azure = local.lab && try(var.lab.azure != null, false) ? {
    metadata_host       = var.lab.azure.metadata_host
    ca_certificate_file = var.lab.azure.ca_certificate_file
    subscription_id     = var.lab.azure.subscription_id
    tenant_id           = var.lab.azure.tenant_id
    client_id           = var.lab.azure.client_id
    client_secret       = var.lab.azure.client_secret
    agent_bundle        = var.lab.azure.agent_bundle
  } : {
    metadata_host       = var.azure_metadata_host
    ca_certificate_file = var.azure_ca_certificate_file
    subscription_id     = var.azure_subscription_id
    tenant_id           = var.azure_tenant_id
    client_id           = var.azure_client_id
    client_secret       = var.azure_client_secret
    agent_bundle        = var.arc_agent_bundle
  }
}
