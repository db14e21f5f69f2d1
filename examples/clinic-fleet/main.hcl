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
  private_key_file = var.ssh_private_key_file
  use_agent        = var.ssh_private_key_file == null
  connect_timeout  = "10s"
  # Each host has one connection; this bounds how many hosts are worked on at once.
  parallelism = 32
}

provider "kubernetes" {
  wait_timeout = "15m"
}

provider "addons" {
  field_manager = "fleetform"
}

provider "arc" {
  subscription_id           = var.azure_subscription_id
  tenant_id                 = var.azure_tenant_id
  client_id                 = var.azure_client_id
  client_secret             = var.azure_client_secret
  resource_manager_endpoint = var.arm_endpoint
  authority_host            = var.authority_host

  # A clinic without its WAN link must not fail the run: its Arc work waits for the
  # next apply, and every other site carries on.
  defer_when_offline = true
}
