variable "cluster_id" {
  type        = string
  description = "The cluster the add-ons go to (cluster.x.id)."
}

variable "site" {
  type        = string
  description = "Site name, for labels on telemetry."
}

variable "sources" {
  type = object({
    pod_network  = object({ url = optional(string), path = optional(string), sha256 = string })
    metallb      = object({ url = optional(string), path = optional(string), sha256 = string })
    cert_manager = object({ url = optional(string), path = optional(string), sha256 = string })
  })
  description = "Pinned sources of the pod network, MetalLB and cert-manager: { url, sha256 } fetched at init, or a { path } in the repository."
}

variable "load_balancer_range" {
  type        = string
  default     = null
  description = "Addresses MetalLB hands to Services of type LoadBalancer (\"first-last\" or a CIDR); null leaves MetalLB out."
}

variable "windows" {
  type        = bool
  default     = false
  description = "The cluster has Windows nodes: Windows log shipping and workloads go there."
}

variable "wait" {
  type        = bool
  default     = true
  description = "Wait for the add-ons' workloads to become ready (off where nothing runs them, as in the lab)."
}

variable "labels" {
  type        = map(string)
  default     = {}
  description = "Labels every piece of telemetry from the site carries."
}

variable "log_collector" {
  type        = string
  default     = "logs.health.lan"
  description = "Where the log shippers forward to."
}

variable "registry" {
  type        = string
  default     = "registry.health.lan"
  description = "The registry of the apps' images."
}

variable "scrape_interval" {
  type        = string
  default     = "60s"
  description = "How often the metrics agent scrapes."
}
