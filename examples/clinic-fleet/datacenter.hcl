module "datacenter" {
  source = "../../modules/datacenter"

  name = "datacenter"
  hosts = {
    for name, h in local.datacenter_hosts : name => {
      address  = h.address
      port     = h.port
      role     = h.role
      os       = h.os
      host_key = h.host_key != null ? h.host_key : var.host_keys[name]
    }
  }
  install_runtime = local.install_runtime
  preflight       = local.datacenter_preflight

  kubernetes_version  = var.kubernetes_version
  endpoint_address    = local.datacenter_vip
  load_balancer_range = local.load_balancer_range
  addon_sources       = var.addon_sources
  wait_for_addons     = var.wait_for_addons

  arc = {
    enabled                    = local.datacenter_arc
    resource_group_name        = "rg-datacenter"
    location                   = var.azure_location
    log_analytics_workspace_id = var.log_analytics_workspace_id
    agent_bundle               = local.azure.agent_bundle
  }
  gitops_repo_url = var.gitops_repo_url
  tags            = merge(var.tags, { tier = "datacenter" })
}
