# How a change reaches the fleet: a Kubernetes patch release, a new add-on version, a
# changed setting. One clinic first; if its API server and nodes stay healthy through the
# soak, the other clinics one at a time; the datacenter last. The first site that fails
# halts the rollout and leaves the sites it had not reached as they were; the next apply
# checks the failed site again and goes on from there.
#
# Two more gates belong here on a real fleet, and are left out only because the lab cannot
# pass them: "addons_ready" (every add-on's Deployments and DaemonSets available; the lab's
# node agent runs static pods only) and "arc_connected" (Azure sees the site Connected; the
# lab runs no Arc agents).

rollout "fleet" {
  health_gates   = ["api_ready", "nodes_ready"]
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
