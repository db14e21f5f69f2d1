# Inputs of the fleet. Values for the local lab are in lab.auto.hcl and host_keys.auto.hcl;
# a pipeline passes its own with -var-file or FLEETFORM_VAR_<name>.

variable "kubernetes_version" {
  type        = string
  default     = "1.31.2"
  description = "Kubernetes version of every cluster unless a clinic overrides it."
}

variable "clinics" {
  type = map(object({
    hosts = map(object({
      address = string
      role    = string
      os      = optional(string, "linux")
    }))
    # Lets one clinic run ahead as an upgrade canary.
    kubernetes_version = optional(string)
    arc_enabled        = optional(bool, true)
  }))
  description = "Remote clinics by site name, each with its machines by host name."
}

variable "datacenter_hosts" {
  type = map(object({
    address = string
    role    = string
    os      = optional(string, "linux")
  }))
  description = "Machines of the central datacenter by host name."
}

variable "host_keys" {
  type        = map(string)
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
  description = "Addresses the datacenter hands to Services of type LoadBalancer, as \"first-last\"."
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

variable "arm_endpoint" {
  type    = string
  default = "https://management.azure.com"
}

variable "authority_host" {
  type    = string
  default = "https://login.microsoftonline.com"
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
