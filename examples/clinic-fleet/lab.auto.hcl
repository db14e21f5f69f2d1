# Values for the local lab. Every host is an sshd in its own network namespace on the lab
# bridge 169.254.100.0/24; the root side of the bridge, 169.254.100.1, serves the lab's
# Azure Resource Manager and Entra ID stand-in. Nothing here leaves the machine.

clinics = {
  north = {
    hosts = {
      "north-1" = { address = "169.254.100.11", role = "control-plane" }
    }
    # To try an upgrade on one clinic first:
    # kubernetes_version = "1.32.0"
  }
  lakeside = {
    hosts = {
      "lakeside-1" = { address = "169.254.100.12", role = "control-plane" }
    }
  }
  hillcrest = {
    hosts = {
      "hillcrest-1" = { address = "169.254.100.13", role = "control-plane" }
    }
  }
}

datacenter_hosts = {
  "dc-cp-1"    = { address = "169.254.100.21", role = "control-plane" }
  "dc-cp-2"    = { address = "169.254.100.22", role = "control-plane" }
  "dc-cp-3"    = { address = "169.254.100.23", role = "control-plane" }
  "dc-linux-1" = { address = "169.254.100.24", role = "worker" }
  "dc-win-1"   = { address = "169.254.100.25", role = "worker", os = "windows" }
}

# Service addresses on the lab bridge, clear of the hosts.
load_balancer_range = "169.254.100.200-169.254.100.219"

# The lab's node agent runs static pods only, so Deployments and DaemonSets never
# become ready there.
wait_for_addons = false

ssh_user             = "root"
ssh_private_key_file = ".lab/id_ed25519" # written by the lab script

# Recorded in the Flux configuration; nothing fetches it in the lab.
gitops_repo_url = "https://169.254.100.1/git/health-fleet.git"

arm_endpoint          = "https://169.254.100.1:8443"
authority_host        = "https://169.254.100.1:8443"
azure_subscription_id = "00000000-0000-0000-0000-000000000001"
azure_tenant_id       = "00000000-0000-0000-0000-000000000002"
azure_client_id       = "00000000-0000-0000-0000-000000000003"
azure_client_secret   = "lab-only-secret"

tags = {
  environment = "lab"
}
