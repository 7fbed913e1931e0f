# The log group and the metric filters the alarms watch. The server logs one JSON object per
# line (MCP_LOG_FORMAT=json): refused tokens are `{"target":"audit","event":"auth_failed","reason":…}`
# (reason "missing" — no token at all, as every client sends once to discover the
# authorization server — is not counted),
# and a stack role that cannot be assumed logs the message "stack role cannot be assumed".

resource "aws_cloudwatch_log_group" "mcp" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn == "" ? null : var.log_kms_key_arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_metric_filter" "auth_failures" {
  name           = "${var.name}-auth-failures"
  log_group_name = aws_cloudwatch_log_group.mcp.name
  pattern        = "{ ($.event = \"auth_failed\") && ($.reason != \"missing\") }"

  metric_transformation {
    name          = "AuthFailures"
    namespace     = local.metrics_namespace
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_log_metric_filter" "role_assumption_failures" {
  name           = "${var.name}-role-assumption-failures"
  log_group_name = aws_cloudwatch_log_group.mcp.name
  pattern        = "{ $.message = \"stack role cannot be assumed\" }"

  metric_transformation {
    name          = "RoleAssumptionFailures"
    namespace     = local.metrics_namespace
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_log_metric_filter" "role_assumed" {
  name           = "${var.name}-role-assumed"
  log_group_name = aws_cloudwatch_log_group.mcp.name
  pattern        = "{ $.message = \"stack role assumed\" }"

  metric_transformation {
    name          = "RoleAssumed"
    namespace     = local.metrics_namespace
    value         = "1"
    default_value = "0"
  }
}
