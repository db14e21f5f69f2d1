# Every clinic is the same module with its own hosts. A clinic that is offline only
# delays its own Arc resources; see the arc provider's defer_when_offline.

module "clinic" {
  source   = "../../modules/clinic-site"
  for_each = var.clinics

  site = each.key
  hosts = {
    for name, h in each.value.hosts : name => {
      address  = h.address
      role     = h.role
      os       = h.os
      host_key = var.host_keys[name]
    }
  }

  kubernetes_version = coalesce(each.value.kubernetes_version, var.kubernetes_version)

  arc = {
    enabled                    = each.value.arc_enabled
    resource_group_name        = "rg-clinic-${each.key}"
    location                   = var.azure_location
    log_analytics_workspace_id = var.log_analytics_workspace_id
  }
  gitops_repo_url = var.gitops_repo_url
  tags            = merge(var.tags, { tier = "clinic", site = each.key })
}
