variable "site" {
  type        = string
  description = "Short clinic name. It names the cluster, its nodes and its Azure resources."

  validation {
    # It ends up in DNS labels and Azure resource names, so keep it to what both accept.
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.site))
    error_message = "The site name must be 3-24 lowercase letters, digits or dashes, starting with a letter and not ending with a dash."
  }
}

variable "hosts" {
  type = map(object({
    address  = string
    port     = optional(number, 22)
    host_key = string # pinned: "SHA256:..." fingerprint or an OpenSSH public key line
    role     = string # "control-plane" or "worker"
    os       = optional(string, "linux")
    # The site's gateway, when the host is reachable only through it (SSH and the API
    # server alike go through it).
    jump = optional(object({
      address  = string
      port     = optional(number, 22)
      host_key = string
    }))
  }))
  description = "The clinic's machines by name."

  validation {
    condition     = alltrue([for h in values(var.hosts) : contains(["control-plane", "worker"], h.role)])
    error_message = "Each host's role must be \"control-plane\" or \"worker\"."
  }

  validation {
    # Clinics are small: one control plane. HA belongs in the datacenter.
    condition     = length([for h in values(var.hosts) : h if h.role == "control-plane" && h.os == "linux"]) == 1
    error_message = "A clinic needs exactly one control-plane host, and it must run linux."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes version of the clinic's cluster, e.g. \"1.31.2\"."

  validation {
    condition     = can(regex("^1\\.[0-9]+\\.[0-9]+$", var.kubernetes_version))
    error_message = "The Kubernetes version must look like \"1.31.2\" (no leading \"v\")."
  }
}

variable "pod_cidr" {
  type        = string
  default     = "10.42.0.0/16"
  description = "Pod network. Clinics may reuse the same range: their pod networks are never routed to each other."

  validation {
    condition     = can(cidrhost(var.pod_cidr, 0))
    error_message = "The pod CIDR must be an IPv4 or IPv6 CIDR block such as \"10.42.0.0/16\"."
  }
}

variable "service_cidr" {
  type        = string
  default     = "10.43.0.0/16"
  description = "Service network; must not overlap pod_cidr."

  validation {
    condition     = can(cidrhost(var.service_cidr, 0))
    error_message = "The service CIDR must be a CIDR block such as \"10.43.0.0/16\"."
  }
}

variable "addon_sources" {
  type = object({
    pod_network  = object({ url = optional(string), path = optional(string), sha256 = string })
    metallb      = object({ url = optional(string), path = optional(string), sha256 = string })
    cert_manager = object({ url = optional(string), path = optional(string), sha256 = string })
  })
  description = "Pinned sources of the pod network, MetalLB and cert-manager (see the platform-addons module)."
}

variable "load_balancer_range" {
  type        = string
  default     = null
  description = "Addresses MetalLB hands out at the clinic; null leaves MetalLB out."
}

variable "wait_for_addons" {
  type        = bool
  default     = true
  description = "Wait for add-on workloads to become ready."
}

variable "arc" {
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
  description = "Azure Arc connection of the clinic's cluster."
}

variable "gitops_repo_url" {
  type        = string
  description = "Git repository Flux syncs the clinic's workloads from; the clinic reads ./clusters/<site>."
}

variable "gitops_branch" {
  type        = string
  default     = "main"
  description = "Branch of gitops_repo_url to follow."
}

variable "preflight" {
  type = object({
    min_memory_mb  = optional(number, 4096)
    min_cpus       = optional(number, 2)
    kernel_modules = optional(list(string), ["overlay", "br_netfilter"])
  })
  default     = {}
  description = "Minimums every clinic host must meet before Kubernetes is installed."
}

variable "install_runtime" {
  type        = bool
  default     = true
  description = "Install containerd and the kubelet on the hosts; false for hosts built from an image that has them."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags for the clinic's Azure resources, also added as monitoring labels."
}
