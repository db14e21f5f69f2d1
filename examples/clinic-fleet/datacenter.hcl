module "datacenter" {
  source = "../../modules/datacenter"

  name = "datacenter"
  hosts = {
    for name, h in var.datacenter_hosts : name => {
      address  = h.address
      role     = h.role
      os       = h.os
      host_key = var.host_keys[name]
    }
  }

  kubernetes_version  = var.kubernetes_version
  load_balancer_range = var.load_balancer_range
  wait_for_addons     = var.wait_for_addons

  arc = {
    resource_group_name        = "rg-datacenter"
    location                   = var.azure_location
    log_analytics_workspace_id = var.log_analytics_workspace_id
  }
  gitops_repo_url = var.gitops_repo_url
  tags            = merge(var.tags, { tier = "datacenter" })
}
