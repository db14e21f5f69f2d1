# The fleet as a health provider's platform team describes it, used when var.lab is unset:
# three clinics and the datacenter. Addresses are from the documentation range 192.0.2.0/24
# and the host keys are placeholders, so nothing here can be reached: a real fleet puts its
# own addresses and pinned keys here. On the local lab, lab.hcl takes the lab's hosts
# instead (run.sh).

clinics = {
  north = {
    hosts = {
      "north-1" = { address = "192.0.2.11", role = "control-plane" }
    }
    load_balancer_range = "192.0.2.220-192.0.2.223"
    # To try an upgrade on one clinic first:
    # kubernetes_version = "1.32.0"
  }
  lakeside = {
    hosts = {
      "lakeside-1" = { address = "192.0.2.12", role = "control-plane" }
    }
    load_balancer_range = "192.0.2.224-192.0.2.227"
  }
  hillcrest = {
    hosts = {
      "hillcrest-1" = { address = "192.0.2.13", role = "control-plane" }
    }
  }
}

datacenter_hosts = {
  "dc-cp-1"    = { address = "192.0.2.21", role = "control-plane" }
  "dc-cp-2"    = { address = "192.0.2.22", role = "control-plane" }
  "dc-cp-3"    = { address = "192.0.2.23", role = "control-plane" }
  "dc-linux-1" = { address = "192.0.2.24", role = "worker" }
  # Windows workers, such as { role = "worker", os = "windows" }, join the datacenter's
  # Windows pool once fleetform installs on Windows hosts; until then the pool is empty.
}

# Service addresses, clear of the hosts and of each other: plans refuse ranges that overlap
# a node, a cluster network or another cluster's range.
load_balancer_range = "192.0.2.200-192.0.2.219"

# kube-vip serves the datacenter's API endpoint at this address.
datacenter_vip = "192.0.2.30"

# Pinned SSH host keys, by host name: a real fleet records each host's fingerprint
# (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`); until then every connection is
# refused, which is the point of pinning.
host_keys = {
  "north-1"     = "SHA256:LabPlaceholderNorth1AAAAAAAAAAAAAAAAAAAAAAA"
  "lakeside-1"  = "SHA256:LabPlaceholderLakeside1AAAAAAAAAAAAAAAAAAAA"
  "hillcrest-1" = "SHA256:LabPlaceholderHillcrest1AAAAAAAAAAAAAAAAAAA"
  "dc-cp-1"     = "SHA256:LabPlaceholderDcCp1AAAAAAAAAAAAAAAAAAAAAAAA"
  "dc-cp-2"     = "SHA256:LabPlaceholderDcCp2AAAAAAAAAAAAAAAAAAAAAAAA"
  "dc-cp-3"     = "SHA256:LabPlaceholderDcCp3AAAAAAAAAAAAAAAAAAAAAAAA"
  "dc-linux-1"  = "SHA256:LabPlaceholderDcLinux1AAAAAAAAAAAAAAAAAAAAA"
}
