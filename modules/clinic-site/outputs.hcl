output "cluster_id" {
  value = cluster.this.id
}

output "endpoint" {
  description = "API server URL of the clinic's cluster."
  value       = cluster.this.endpoint
}

output "admin_kubeconfig" {
  value     = cluster.this.admin_kubeconfig
  sensitive = true
}

output "host_ids" {
  value = { for name, h in host.this : name => h.id }
}

output "arc_cluster_id" {
  description = "ARM id of the connected cluster, or null when Arc is disabled for the clinic."
  value       = try(arc_connected_cluster.this[0].id, null)
}
