# The cluster, the task definition and the service. The container runs as the image's
# non-root user with a read-only root filesystem and no Linux capabilities; it gets plain
# settings through `environment` and the JWT secrets and the handle key only through `secrets`.

resource "aws_ecs_cluster" "mcp" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

locals {
  container = {
    name                   = local.container_name
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    privileged             = false
    user                   = "65532:65532"
    stopTimeout            = local.stop_timeout_s
    portMappings = [
      { containerPort = local.container_port, protocol = "tcp" }
    ]
    # var.settings first: the inputs with rules of their own win (and settings cannot name them).
    environment = [for k, v in merge(var.settings, local.environment) : { name = k, value = v } if v != ""]
    secrets     = [for k, v in local.secrets : { name = k, valueFrom = v } if v != ""]
    # The root filesystem is read-only; package_update spools a rewritten manifest to a
    # scratch file, so /tmp is a task-storage volume (ephemeral, private to the task).
    mountPoints = [
      { sourceVolume = "scratch", containerPath = "/tmp", readOnly = false }
    ]
    linuxParameters = {
      capabilities = { drop = ["ALL"] }
    }
    healthCheck = {
      command     = ["CMD", "/usr/local/bin/quilt-mcp-server", "healthcheck"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 15
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.mcp.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "mcp"
      }
    }
  }
}

resource "aws_ecs_task_definition" "mcp" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.container])

  # Fargate task storage, mounted at /tmp (see mountPoints).
  volume {
    name = "scratch"
  }

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  tags = local.tags

  # The input guards (guards.tf) fail the plan before anything is created.
  depends_on = [terraform_data.input_guards]
}

resource "aws_ecs_service" "mcp" {
  name                   = var.name
  cluster                = aws_ecs_cluster.mcp.id
  task_definition        = aws_ecs_task_definition.mcp.arn
  desired_count          = var.desired_count
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  enable_execute_command = false
  propagate_tags         = "SERVICE"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 30

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.mcp.arn
    container_name   = local.container_name
    container_port   = local.container_port
  }

  # Autoscaling owns the count after creation.
  lifecycle {
    ignore_changes = [desired_count]
  }

  # The listener rule must exist before the service registers targets, and the task role's
  # policy before tasks try to assume the stack roles at start-up.
  depends_on = [aws_lb_listener_rule.mcp, aws_iam_role_policy.task]
  tags       = local.tags
}
