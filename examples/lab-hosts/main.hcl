# Hosts, files and commands on the local lab: two datacenter machines reached directly and
# a clinic machine reached only through the first one, as a jump host. The lab's hosts
# and keys arrive as `var.lab` from the lab.auto.hcl that `fleetform-lab up` writes.

variable "lab" {
  description = "The lab's hosts, their pinned keys, the client key and the jump host."
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}

variable "containerd_version" {
  description = "Bumping it reruns the install step on every host, and nothing else."
  type        = string
  default     = "1.7.24"
}

provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "5s"
}

resource "host" "node" {
  for_each = var.lab.hosts
  address  = each.value.address
  port     = each.value.port
  host_key = each.value.host_key
  labels   = { site = each.value.private ? "clinic" : "datacenter" }

  dynamic "bastion" {
    for_each = each.value.private ? [var.lab.hosts[var.lab.jump]] : []
    content {
      address  = bastion.value.address
      host_key = bastion.value.host_key
    }
  }

  preflight {
    min_cpus      = 1
    min_memory_mb = 256
    ports_free    = [6443, 10250]
    binaries      = ["sh", "sha256sum"]
  }
}

resource "host_file" "containerd_config" {
  for_each = host.node
  host     = each.value.id
  path     = "/etc/containerd/config.toml"
  content = templatefile("${path.module}/containerd.toml.tftpl", {
    site   = host.node[each.key].labels.site
    mirror = "registry.${each.key}.example.internal"
  })
}

resource "host_file" "registry_token" {
  for_each          = host.node
  host              = each.value.id
  path              = "/etc/containerd/registry-token"
  sensitive_content = "lab-token-for-${each.key}"
  mode              = "0600"
}

resource "host_command" "install_runtime" {
  for_each = host.node
  host     = each.value.id
  command  = ["sh", "-c", "echo \"containerd $1 installed on $(uname -n)\" > /var/lib/kubelet/runtime-installed", "sh", var.containerd_version]
  triggers = { version = var.containerd_version }
  creates  = "/var/lib/kubelet/runtime-installed"

  depends_on = [host_file.containerd_config, host_file.registry_token]
}

output "hosts" {
  description = "What each host reported about itself."
  value = {
    for name, h in host.node : name => {
      id       = h.id
      hostname = h.hostname
      os       = "${h.os_id} ${h.os_version}"
      kernel   = h.kernel
      cpus     = h.cpus
      memory   = h.memory_mb
    }
  }
}
