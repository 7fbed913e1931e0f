# What a caller of the module needs afterwards.

output "service_name" {
  description = "ECS service name."
  value       = aws_ecs_service.mcp.name
}

output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.mcp.name
}

output "task_role_arn" {
  description = "The server's own role: trust it (with sts:SourceIdentity required) in the read/write roles' trust policies."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ECS execution role (image pull, logs, JWT secret)."
  value       = aws_iam_role.execution.arn
}

output "target_group_arn" {
  description = "Target group behind the listener rule."
  value       = aws_lb_target_group.mcp.arn
}

output "security_group_id" {
  description = "Security group of the tasks."
  value       = aws_security_group.task.id
}

output "log_group_name" {
  description = "CloudWatch log group of the container."
  value       = aws_cloudwatch_log_group.mcp.name
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the service."
  value       = aws_cloudwatch_dashboard.mcp.dashboard_name
}
