# The CloudWatch dashboard: authentications (success, failure, rate), tool calls, p99 latency and
# errors per tool, in-flight requests, target 5xx, and the stack roles' status. Its body is
# dashboard.json.tftpl, which the CDK flavour reads too; the CloudFormation template carries the
# same body inline (tests/deploy/test_metrics.py compares them).

resource "aws_cloudwatch_dashboard" "mcp" {
  dashboard_name = var.name
  dashboard_body = templatefile("${path.module}/dashboard.json.tftpl", {
    region        = local.region
    namespace     = local.metrics_namespace
    name          = var.name
    load_balancer = local.alb_arn_suffix
    target_group  = aws_lb_target_group.mcp.arn_suffix
  })
}
