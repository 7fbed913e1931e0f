# Two roles with nothing in common (the same statements as deploy/iam/*.json):
# - the execution role is ECS's: pull the image, write the log stream, read the JWT secret(s)
#   and the handle key (each by its ARN);
# - the task role is the server's own identity: it may only assume the configured roles
#   (sts:AssumeRole, sts:TagSession, sts:SetSourceIdentity) and, with quilt_stack_name, read
#   that stack's (and its nested stacks') resources. It has no data access: callers act with their own credentials.

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    sid     = "EcsTasks"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name                 = "${var.name}-execution"
  description          = "ECS agent for quilt-mcp-server: image pull, logs, the JWT secret"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.mcp.arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = length(local.secret_arns) > 0 ? [1] : []
    content {
      sid       = "ReadJwtSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.secret_arns
    }
  }

  # The handle key: its own statement, on its one ARN (like the JWT secrets above).
  dynamic "statement" {
    for_each = var.handle_key_arn == "" ? [] : [1]
    content {
      sid       = "ReadHandleKey"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.handle_key_arn]
    }
  }

  dynamic "statement" {
    for_each = var.secrets_kms_key_arn == "" ? [] : [1]
    content {
      sid       = "DecryptJwtSecrets"
      actions   = ["kms:Decrypt"]
      resources = [var.secrets_kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.ecr_repository_arn == "" ? [] : [1]
    content {
      sid       = "PullImage"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = [var.ecr_repository_arn]
    }
  }

  dynamic "statement" {
    for_each = var.ecr_repository_arn == "" ? [] : [1]
    content {
      # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
      sid       = "EcrLogin"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.name}-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name                 = "${var.name}-task"
  description          = "quilt-mcp-server's own identity: assumes the configured roles only"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_trust.json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "task" {
  dynamic "statement" {
    for_each = length(local.assumable_role_arns) > 0 ? [1] : []
    content {
      sid       = "AssumeConfiguredRoles"
      actions   = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
      resources = local.assumable_role_arns
    }
  }

  dynamic "statement" {
    for_each = var.quilt_stack_name == "" ? [] : [1]
    content {
      sid       = "DiscoverStackRoles"
      actions   = ["cloudformation:ListStackResources"]
      resources = local.quilt_stack_arns
    }
  }
}

resource "aws_iam_role_policy" "task" {
  count  = length(local.assumable_role_arns) > 0 || var.quilt_stack_name != "" ? 1 : 0
  name   = "${var.name}-task"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
