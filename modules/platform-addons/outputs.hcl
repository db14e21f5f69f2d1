output "issuer_expiry" {
  description = "Not-after time of the cluster issuer's CA."
  value       = addon.cert_manager.certificate_expiry
}
