variable "name" {
  type        = string
  default     = "datacenter"
  description = "Name of the central cluster and prefix of its Azure resources."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name))
    error_message = "The name must be 3-24 lowercase letters, digits or dashes, starting with a letter and not ending with a dash."
  }
}

variable "hosts" {
  type = map(object({
    address  = string
    port     = optional(number, 22)
    host_key = string
    role     = string # "control-plane" or "worker"
    os       = optional(string, "linux")
  }))
  description = "The datacenter's machines by name."

  validation {
    condition     = alltrue([for h in values(var.hosts) : contains(["control-plane", "worker"], h.role)])
    error_message = "Each host's role must be \"control-plane\" or \"worker\"."
  }

  validation {
    # Stacked etcd keeps quorum only with an odd number of members: 3 tolerates one loss.
    condition     = contains([3, 5], length([for h in values(var.hosts) : h if h.role == "control-plane" && h.os == "linux"]))
    error_message = "The datacenter needs 3 or 5 linux control-plane hosts for a highly available etcd."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes version of the datacenter cluster, e.g. \"1.31.2\"."

  validation {
    condition     = can(regex("^1\\.[0-9]+\\.[0-9]+$", var.kubernetes_version))
    error_message = "The Kubernetes version must look like \"1.31.2\" (no leading \"v\")."
  }
}

variable "endpoint_address" {
  type        = string
  default     = null
  description = "Virtual IP of the API server. Null uses the first control-plane host, which is not highly available."
}

variable "pod_cidr" {
  type        = string
  default     = "10.244.0.0/16"
  description = "Pod network (kubeadm's podSubnet)."
}

variable "service_cidr" {
  type        = string
  default     = "10.96.0.0/12"
  description = "Service network (kubeadm's serviceSubnet)."
}

variable "vip_interface" {
  type        = string
  default     = "eth0"
  description = "The control-plane hosts' interface on endpoint_address's network, for kube-vip."
}

variable "load_balancer_range" {
  type        = string
  description = "Addresses MetalLB hands to Services of type LoadBalancer, as \"first-last\" or a CIDR."
}

variable "addon_sources" {
  type = object({
    pod_network  = object({ url = optional(string), path = optional(string), sha256 = string })
    metallb      = object({ url = optional(string), path = optional(string), sha256 = string })
    cert_manager = object({ url = optional(string), path = optional(string), sha256 = string })
  })
  description = "Pinned sources of the pod network, MetalLB and cert-manager (see the platform-addons module)."
}

variable "wait_for_addons" {
  type        = bool
  default     = true
  description = "Wait for add-on workloads to become ready."
}

variable "arc" {
  description = "Azure Arc connection of the datacenter cluster."
  type = object({
    enabled                    = optional(bool, true)
    resource_group_name        = string
    location                   = string
    log_analytics_workspace_id = optional(string)
    # The Arc agent workloads: a manifest pinned by SHA-256 (mirror it for sites
    # without internet access). Without one, fleetform installs only the agents' key
    # and connection configuration.
    agent_bundle = optional(object({
      url     = string
      sha256  = string
      version = optional(string)
    }))
  })
}

variable "gitops_repo_url" {
  type        = string
  description = "Git repository Flux syncs the datacenter's workloads from; it reads ./clusters/<name>."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags for the datacenter's Azure resources, also added as monitoring labels."
}

variable "preflight" {
  type = object({
    control_plane_memory_mb = optional(number, 8192)
    worker_memory_mb        = optional(number, 16384)
    min_cpus                = optional(number, 4)
    kernel_modules          = optional(list(string), ["overlay", "br_netfilter"])
  })
  default     = {}
  description = "Minimums every datacenter host must meet before Kubernetes is installed."
}

variable "install_runtime" {
  type        = bool
  default     = true
  description = "Install containerd and the kubelet on the hosts; false for hosts built from an image that has them."
}
