# How a change reaches the fleet: a Kubernetes patch release, a new add-on version, a
# changed setting. One clinic first; if its API server, nodes and add-ons stay healthy
# through the soak, the other clinics one at a time; the datacenter last. The first site
# that fails halts the rollout and leaves the sites it had not reached as they were; the
# next apply checks the failed site again and goes on from there. With Arc's agents
# reporting to Azure, add "arc_connected" to hold a site back until Azure sees it Connected.

rollout "fleet" {
  health_gates   = ["api_ready", "nodes_ready", "addons_ready"]
  gate_timeout   = "2m"
  failure_budget = 0

  stage "canary" {
    sites = [module.clinic["north"]]
    soak  = "30s"
  }

  stage "clinics" {
    sites        = [module.clinic]
    batch_size   = 1
    max_parallel = 1
  }

  stage "datacenter" {
    sites = [module.datacenter]
  }
}
