output "clinic_endpoints" {
  description = "API server URL of each clinic's cluster."
  value       = { for site, clinic in module.clinic : site => clinic.endpoint }
}

output "datacenter_endpoint" {
  value = module.datacenter.endpoint
}

output "datacenter_kubeconfig" {
  value     = module.datacenter.admin_kubeconfig
  sensitive = true
}

output "arc_cluster_ids" {
  description = "ARM ids of the connected clusters; null for a clinic not connected yet."
  value = merge(
    { for site, clinic in module.clinic : site => clinic.arc_cluster_id },
    { datacenter = module.datacenter.arc_cluster_id },
  )
}

output "datacenter_certificate_expiry" {
  value = module.datacenter.certificate_expiry
}
