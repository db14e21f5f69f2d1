# Every clinic is the same module with its own hosts. A clinic that is offline only
# delays its own Arc resources; see the arc provider's defer_when_offline.

module "clinic" {
  source   = "../../modules/clinic-site"
  for_each = local.clinics

  site = each.key
  hosts = {
    for name, h in each.value.hosts : name => {
      address  = h.address
      port     = h.port
      role     = h.role
      os       = h.os
      host_key = h.host_key != null ? h.host_key : var.host_keys[name]
      jump     = each.value.gateway
    }
  }
  install_runtime = local.install_runtime
  preflight       = local.clinic_preflight

  kubernetes_version = coalesce(each.value.kubernetes_version, var.kubernetes_version)

  addon_sources       = var.addon_sources
  load_balancer_range = each.value.load_balancer_range
  wait_for_addons     = var.wait_for_addons

  arc = {
    enabled                    = each.value.arc_enabled
    resource_group_name        = "rg-clinic-${each.key}"
    location                   = var.azure_location
    log_analytics_workspace_id = var.log_analytics_workspace_id
    agent_bundle               = local.azure.agent_bundle
  }
  gitops_repo_url = var.gitops_repo_url
  tags            = merge(var.tags, { tier = "clinic", site = each.key })
}
