# Settings for the local lab besides its hosts and its Azure, which lab.hcl derives from the
# lab.auto.hcl that `fleetform-lab up` writes. A real fleet keeps its own values file.

# Add-on sources, pinned. MetalLB is the upstream release manifest; the lab has no
# cert-manager release or pod network that could run, so those two are stand-ins kept in
# lab-sources/ (see the comments in them). run.sh fills .mirror from ../shared/mirror, and
# init reads every URL source from there: nothing is downloaded.
addon_sources = {
  metallb = {
    url    = "https://raw.githubusercontent.com/metallb/metallb/v0.16.1/config/manifests/metallb-native.yaml"
    sha256 = "bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b"
  }
  cert_manager = {
    path   = "lab-sources/cert-manager-lab.yaml"
    sha256 = "4ee83eec3948b5f3b9136fa92e9e9ee324ac1ef19bd28a9e991e152e0e15abef"
  }
  pod_network = {
    path   = "lab-sources/pod-network-lab.yaml"
    sha256 = "c971463408d7ecd0b9697bbdadbaa27cf8a9e8f25210a8f77acad582f0b1b8ba"
  }
}
source_mirror = ".mirror"

# The lab's node agent runs static pods only, so Deployments and DaemonSets never
# become ready there.
wait_for_addons = false

# Recorded in the Flux configurations; nothing fetches it in the lab.
gitops_repo_url = "https://git.health.example/fleet/health-fleet.git"

tags = {
  environment = "lab"
}
