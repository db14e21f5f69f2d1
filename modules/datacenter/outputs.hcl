output "cluster_id" {
  value = cluster.this.id
}

output "endpoint" {
  description = "API server URL of the datacenter cluster."
  value       = cluster.this.endpoint
}

output "admin_kubeconfig" {
  value     = cluster.this.admin_kubeconfig
  sensitive = true
}

output "host_ids" {
  value = { for name, h in host.this : name => h.id }
}

output "certificate_expiry" {
  description = "Not-after time of each cluster certificate, for expiry alerts in the pipeline."
  value       = cluster.this.certificate_expiry
}

output "arc_cluster_id" {
  value = try(arc_connected_cluster.this[0].id, null)
}
