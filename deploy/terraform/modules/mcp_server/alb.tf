# The target group (health check /healthz, which answers 200 while the process serves) and the
# listener rule that sends the MCP endpoint and its RFC 9728 metadata to it. The ALB and its
# HTTPS listener are the caller's.

resource "aws_lb_target_group" "mcp" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB's HTTPS listener; ALB-to-task traffic stays in private subnets and the task security group admits only the ALB (the server has no TLS listener of its own).
  name        = var.name
  vpc_id      = var.vpc_id
  target_type = "ip"
  protocol    = "HTTP"
  port        = local.container_port

  # Longer than MCP_REQUEST_TIMEOUT_S (55 s): a draining task finishes its requests before ECS
  # sends SIGTERM.
  deregistration_delay = 60

  health_check {
    enabled             = true
    path                = "/healthz"
    protocol            = "HTTP"
    port                = "traffic-port"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.tags
}

resource "aws_lb_listener_rule" "mcp" {
  listener_arn = var.alb_listener_arn
  priority     = var.listener_rule_priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.mcp.arn
  }

  condition {
    path_pattern {
      values = ["/mcp", "/mcp/*", "/.well-known/oauth-protected-resource*"]
    }
  }

  tags = local.tags
}
