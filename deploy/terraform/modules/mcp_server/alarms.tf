# The alarms docs/OPERATIONS.md has a response for: target 5xx, unhealthy targets, refused
# tokens (count and rate), stack roles that cannot be assumed, the tool error rate. The rates
# come from the server's metric lines (EMF, MCP_METRICS_NAMESPACE), without dimensions (the
# whole service).

locals {
  alarm_actions = var.alarm_topic_arn == "" ? [] : [var.alarm_topic_arn]
  tg_dimensions = {
    LoadBalancer = local.alb_arn_suffix
    TargetGroup  = aws_lb_target_group.mcp.arn_suffix
  }
}

resource "aws_cloudwatch_metric_alarm" "target_5xx" {
  alarm_name          = "${var.name}-target-5xx"
  alarm_description   = "quilt-mcp-server answered 5xx (OPERATIONS.md: Alarm target-5xx)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = local.tg_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 10
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${var.name}-unhealthy-hosts"
  alarm_description   = "A quilt-mcp-server task fails its /healthz check (OPERATIONS.md: Alarm unhealthy-hosts)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.tg_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "auth_failures" {
  alarm_name          = "${var.name}-auth-failures"
  alarm_description   = "Many refused bearer tokens (OPERATIONS.md: Alarm auth-failures)"
  namespace           = local.metrics_namespace
  metric_name         = "AuthFailures"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.auth_failure_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "role_assumption_failures" {
  alarm_name          = "${var.name}-role-assumption-failures"
  alarm_description   = "The server cannot assume a configured stack role (OPERATIONS.md: Alarm role-assumption-failures)"
  namespace           = local.metrics_namespace
  metric_name         = "RoleAssumptionFailures"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "auth_error_rate" {
  alarm_name          = "${var.name}-auth-error-rate"
  alarm_description   = "More than AuthErrorRatePercent % of tokens refused (OPERATIONS.md: Alarm auth-error-rate)"
  evaluation_periods  = 1
  threshold           = var.auth_error_rate_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "m0"
    return_data = false
    metric {
      namespace   = local.metrics_namespace
      metric_name = "AuthFailure"
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m1"
    return_data = false
    metric {
      namespace   = local.metrics_namespace
      metric_name = "AuthSuccess"
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "rate"
    label       = "refused tokens, % of authentications"
    return_data = true
    expression  = "100 * m0 / (m0 + m1)"
  }
}

resource "aws_cloudwatch_metric_alarm" "tool_error_rate" {
  alarm_name          = "${var.name}-tool-error-rate"
  alarm_description   = "More than ToolErrorRatePercent % of tool calls failed (OPERATIONS.md: Alarm tool-error-rate)"
  evaluation_periods  = 1
  threshold           = var.tool_error_rate_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "m0"
    return_data = false
    metric {
      namespace   = local.metrics_namespace
      metric_name = "ToolErrors"
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "m1"
    return_data = false
    metric {
      namespace   = local.metrics_namespace
      metric_name = "ToolCalls"
      period      = 300
      stat        = "Sum"
    }
  }
  metric_query {
    id          = "rate"
    label       = "failed tool calls, % of calls"
    return_data = true
    expression  = "100 * m0 / m1"
  }
}
