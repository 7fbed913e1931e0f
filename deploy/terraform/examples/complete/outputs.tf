# Handy after apply: the names the runbook's commands take.

output "cluster_name" {
  description = "ECS cluster."
  value       = module.mcp_server.cluster_name
}

output "service_name" {
  description = "ECS service."
  value       = module.mcp_server.service_name
}

output "task_role_arn" {
  description = "Trust this role in the read/write roles (deploy/iam/data-role-trust-policy.json)."
  value       = module.mcp_server.task_role_arn
}

output "log_group_name" {
  description = "Container logs."
  value       = module.mcp_server.log_group_name
}
