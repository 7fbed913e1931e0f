# quilt-mcp-server on ECS Fargate: what the container is told (environment and secrets) and the
# values the other files share. The JWT secrets reach the container only through the task
# definition's `secrets` (ECS fetches them from Secrets Manager with the execution role);
# `environment` never holds a secret. tests/deploy asserts both from the parsed files.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name

  container_name = "quilt-mcp-server"
  container_port = 8000

  # ECS sends SIGTERM, waits stopTimeout, then SIGKILL: leave the server its whole grace plus
  # a margin to exit by itself.
  stop_timeout_s = var.shutdown_grace_s + 5

  # Plain settings. Empty values are dropped below, so the server's defaults apply.
  environment = {
    MCP_LISTEN             = "0.0.0.0:8000"
    MCP_PUBLIC_URL         = var.public_url
    MCP_LOG_FORMAT         = "json"
    MCP_SHUTDOWN_GRACE_S   = tostring(var.shutdown_grace_s)
    MCP_CREDENTIAL_SOURCES = join(",", var.credential_sources)
    MCP_ROLE_ARN_ALLOW     = join(",", var.role_claim_allowed_arns)
    MCP_JWT_JWKS_URL       = var.jwt_jwks_url
    MCP_JWT_ISSUER         = var.jwt_issuer
    MCP_JWT_AUDIENCE       = var.jwt_audience
    QUILT_READ_ROLE_ARN    = var.read_role_arn
    QUILT_WRITE_ROLE_ARN   = var.write_role_arn
    QUILT_STACK_NAME       = var.quilt_stack_name
    QUILT_REGISTRY_URL     = var.registry_url
    QUILT_BUCKETS          = join(",", var.buckets)
    ATHENA_WORKGROUP       = var.athena_workgroup
    AWS_REGION             = var.aws_region == "" ? local.region : var.aws_region
    # Body limit and multipart threshold, set together (a put must fit in a body).
    MCP_MAX_BODY_BYTES           = tostring(var.max_body_bytes)
    S3_MULTIPART_THRESHOLD_BYTES = tostring(var.s3_multipart_threshold_bytes)
  }

  # Secrets: name → Secrets Manager ARN, resolved by ECS at task start.
  secrets = {
    MCP_JWT_SECRET          = var.jwt_secret_arn
    MCP_JWT_SECRET_PREVIOUS = var.jwt_secret_previous_arn
  }

  secret_arns = compact([var.jwt_secret_arn, var.jwt_secret_previous_arn])

  # Roles the task role may assume: the configured stack roles, the roles a Quilt stack's
  # T4Bucket*Role resources get (CloudFormation names them <stack>-<LogicalId>-<suffix>), and
  # the patterns allowed for role_arn claims. Never "*".
  stack_role_arns = compact([var.read_role_arn, var.write_role_arn])
  discovered_role_arns = var.quilt_stack_name == "" ? [] : [
    "arn:${local.partition}:iam::${local.account_id}:role/${var.quilt_stack_name}-T4BucketReadRole-*",
    "arn:${local.partition}:iam::${local.account_id}:role/${var.quilt_stack_name}-T4BucketWriteRole-*",
  ]
  assumable_role_arns = distinct(concat(local.stack_role_arns, local.discovered_role_arns, var.role_claim_allowed_arns))

  quilt_stack_arn = "arn:${local.partition}:cloudformation:${local.region}:${local.account_id}:stack/${var.quilt_stack_name}/*"

  # The listener ARN names the load balancer: listener/app/<name>/<id>/<listener-id>.
  alb_arn_suffix = join("/", slice(split("/", var.alb_listener_arn), 1, 4))

  tags = merge({ "app" = "quilt-mcp-server" }, var.tags)
}
