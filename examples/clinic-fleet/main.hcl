# A health provider's fleet: one central datacenter cluster and a small cluster in each
# remote clinic, all connected to Azure Arc. See README.md for the scenario.

fleet {
  # State stays next to the configuration for the lab; a team would use the
  # azurerm or pg backend so that pipelines share it and hold its lock.
  backend "local" {
    path = "fleet.state"
  }
}

provider "host" {
  user             = var.ssh_user
  private_key_file = local.ssh_private_key_file
  use_agent        = local.ssh_private_key_file == null
  connect_timeout  = "10s"
  # Each host has one connection; this bounds how many hosts are worked on at once.
  parallelism = 32
}

provider "kubernetes" {
  wait_timeout = "15m"
}

provider "addons" {
  field_manager = "fleetform"
  # Offline: sources come from this mirror (checked against the same pins).
  source_mirror = var.source_mirror
}

provider "arc" {
  subscription_id     = local.azure.subscription_id
  tenant_id           = local.azure.tenant_id
  client_id           = local.azure.client_id
  client_secret       = local.azure.client_secret
  metadata_host       = local.azure.metadata_host
  ca_certificate_file = local.azure.ca_certificate_file

  # A clinic without its WAN link must not fail the run: Azure's side is done, the
  # agents' installation in its cluster waits for the next apply that reaches it, and
  # every other site carries on.
  defer_when_offline = true
}
