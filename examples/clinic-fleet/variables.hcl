# Inputs of the fleet. A pipeline passes its own with -var-file or FLEETFORM_VAR_<name>; on the
# local lab, lab.hcl derives the hosts from what `fleetform-lab up` writes, and
# settings.auto.hcl holds the rest.

variable "kubernetes_version" {
  type        = string
  default     = "1.31.2"
  description = "Kubernetes version of every cluster unless a clinic overrides it."
}

variable "clinics" {
  type = map(object({
    hosts = map(object({
      address  = string
      port     = optional(number, 22)
      role     = string
      os       = optional(string, "linux")
      host_key = optional(string) # else host_keys[name]
    }))
    # The clinic's gateway, when its machines are reachable only through it.
    gateway = optional(object({
      address  = string
      port     = optional(number, 22)
      host_key = string
    }))
    # Lets one clinic run ahead as an upgrade canary.
    kubernetes_version = optional(string)
    arc_enabled        = optional(bool, true)
    # Addresses MetalLB hands out at the clinic; none leaves MetalLB out.
    load_balancer_range = optional(string)
  }))
  default     = {}
  description = "Remote clinics by site name, each with its machines by host name."
}

variable "datacenter_hosts" {
  type = map(object({
    address  = string
    port     = optional(number, 22)
    role     = string
    os       = optional(string, "linux")
    host_key = optional(string) # else host_keys[name]
  }))
  default     = {}
  description = "Machines of the central datacenter by host name."
}

variable "host_keys" {
  type        = map(string)
  default     = {}
  description = "Pinned SSH host key of every host, by host name: a \"SHA256:...\" fingerprint or a public key line."

  validation {
    condition     = alltrue([for k in values(var.host_keys) : can(regex("^(SHA256:[A-Za-z0-9+/]{43}|ssh-[a-z0-9-]+ [A-Za-z0-9+/=]+|ecdsa-sha2-nistp[0-9]+ [A-Za-z0-9+/=]+)", k))])
    error_message = "Each host key must be a \"SHA256:\" fingerprint (43 base64 characters) or an OpenSSH public key line."
  }
}

variable "ssh_user" {
  type    = string
  default = "root"
}

variable "ssh_private_key_file" {
  type        = string
  default     = null
  description = "Private key for all hosts; null uses the ssh-agent."
}

variable "load_balancer_range" {
  type        = string
  default     = null
  description = "Addresses the datacenter's MetalLB hands to Services of type LoadBalancer, as \"first-last\"."
}

variable "datacenter_vip" {
  type        = string
  default     = null
  description = "Virtual IP of the datacenter's API server, served by kube-vip; null uses the first control-plane host."
}

variable "addon_sources" {
  type = object({
    pod_network  = object({ url = optional(string), path = optional(string), sha256 = string })
    metallb      = object({ url = optional(string), path = optional(string), sha256 = string })
    cert_manager = object({ url = optional(string), path = optional(string), sha256 = string })
  })
  description = "Pinned sources of every cluster's pod network, MetalLB and cert-manager: { url, sha256 } (fetched at init) or { path, sha256 } in this repository."
}

variable "source_mirror" {
  type        = string
  default     = null
  description = "A directory or URL laid out as `fleetform sources mirror` writes it; init then fetches every source from it instead of its URL (for offline sites and pipelines)."
}

variable "install_runtime" {
  type        = bool
  default     = true
  description = "Install containerd and the kubelet on every host; false for hosts built from an image that has them."
}

variable "wait_for_addons" {
  type        = bool
  default     = true
  description = "Wait for add-on workloads to become ready."
}

variable "gitops_repo_url" {
  type        = string
  description = "Git repository holding ./clusters/<site> for every cluster of the fleet."
}

# Azure. Unset credentials fall back to ARM_SUBSCRIPTION_ID, ARM_TENANT_ID, ARM_CLIENT_ID
# and ARM_CLIENT_SECRET, as with azurerm.

variable "azure_subscription_id" {
  type    = string
  default = null
}

variable "azure_tenant_id" {
  type    = string
  default = null
}

variable "azure_client_id" {
  type    = string
  default = null
}

variable "azure_client_secret" {
  type      = string
  default   = null
  sensitive = true
}

variable "azure_metadata_host" {
  type        = string
  default     = null
  description = "Host serving a cloud's endpoints at /metadata/endpoints (Azure Stack Hub, the lab's Azure)."
}

variable "azure_ca_certificate_file" {
  type        = string
  default     = null
  description = "PEM file of CA certificates to trust for Azure's endpoints besides the system's."
}

variable "arc_agent_bundle" {
  type = object({
    url     = string
    sha256  = string
    version = string
  })
  default     = null
  description = "The Arc agents' manifest, pinned; null installs only their key and connection settings."
}

variable "azure_location" {
  type    = string
  default = "westeurope"
}

variable "log_analytics_workspace_id" {
  type        = string
  default     = null
  description = "Log Analytics workspace for Container Insights; null lets Azure pick its default."
}

variable "tags" {
  type    = map(string)
  default = {}
}
