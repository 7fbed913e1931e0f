# The tasks' security group: in only from the ALB on the container port, out only on 443
# (AWS APIs, the JWKS URL, the Quilt registry). DNS to the VPC resolver is not filtered by
# security groups, so nothing else is needed. The ALB's own group gets the matching egress.

resource "aws_security_group" "task" {
  name        = "${var.name}-task"
  description = "quilt-mcp-server tasks: ingress from the ALB only, egress 443 only"
  vpc_id      = var.vpc_id
  tags        = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "task_from_alb" {
  security_group_id            = aws_security_group.task.id
  description                  = "MCP traffic from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  referenced_security_group_id = var.alb_security_group_id
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "task_https" {
  security_group_id = aws_security_group.task.id
  description       = "HTTPS to AWS APIs, the JWKS URL and the Quilt registry"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.egress_cidr
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "alb_to_task" {
  security_group_id            = var.alb_security_group_id
  description                  = "ALB to quilt-mcp-server tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
  referenced_security_group_id = aws_security_group.task.id
  tags                         = local.tags
}
