# quilt-mcp-server on ECS Fargate: what the container is told (environment and secrets) and the
# values the other files share. The JWT secrets and the handle key reach the container only
# through the task definition's `secrets` (ECS fetches them from Secrets Manager with the
# execution role, which may read exactly these ARNs: iam.tf);
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
  # Fixed by the deployment (docs/OPERATIONS.md, "Settings the deployment fixes"):
  # MCP_LISTEN, MCP_LOG_FORMAT, MCP_METRICS_NAMESPACE; MCP_AUTH_DISABLED and AWS_ENDPOINT_URL
  # are never set. Every other setting of `quilt-mcp-server serve --help` is an input, here or
  # through var.settings, merged in ecs.tf (tests/deploy/test_settings.py enforces it).
  environment = {
    MCP_LISTEN                        = "0.0.0.0:8000"
    MCP_PUBLIC_URL                    = var.public_url
    MCP_LOG_FORMAT                    = "json"
    MCP_METRICS_NAMESPACE             = local.metrics_namespace
    MCP_SHUTDOWN_GRACE_S              = tostring(var.shutdown_grace_s)
    MCP_CREDENTIAL_SOURCES            = join(",", var.credential_sources)
    MCP_ROLE_ARN_ALLOW                = join(",", var.role_claim_allowed_arns)
    MCP_JWT_JWKS_URL                  = var.jwt_jwks_url
    MCP_JWT_ISSUER                    = var.jwt_issuer
    MCP_JWT_AUDIENCE                  = var.jwt_audience
    MCP_JWT_ALLOW_MISSING_AUD         = tostring(var.jwt_allow_missing_aud)
    MCP_REQUIRE_SCOPES                = tostring(var.require_scopes)
    MCP_SCOPE_MAP                     = var.scope_map
    QUILT_READ_ROLE_ARN               = var.read_role_arn
    QUILT_WRITE_ROLE_ARN              = var.write_role_arn
    QUILT_STACK_NAME                  = var.quilt_stack_name
    QUILT_REGISTRY_URL                = var.registry_url
    QUILT_CATALOG_URL                 = var.catalog_url
    QUILT_BUCKETS                     = join(",", var.buckets)
    S3_SSE                            = var.s3_sse
    S3_SSE_KMS_KEY_ID                 = var.s3_sse_kms_key_id
    MCP_PERMISSION_WRITE_PROBE_PREFIX = var.permission_write_probe_prefix
    ATHENA_WORKGROUP                  = var.athena_workgroup
    ATHENA_ALLOWED_WORKGROUPS         = join(",", var.athena_allowed_workgroups)
    ATHENA_OUTPUT_LOCATION            = var.athena_output_location
    AWS_REGION                        = var.aws_region == "" ? local.region : var.aws_region
  }

  # The CloudWatch namespace of the server's metric lines (EMF) and of the metric filters; the
  # alarms and the dashboard read it.
  metrics_namespace = "QuiltMcp/${var.name}"

  # Secrets: name → Secrets Manager ARN, resolved by ECS at task start.
  secrets = {
    MCP_JWT_SECRET          = var.jwt_secret_arn
    MCP_JWT_SECRET_PREVIOUS = var.jwt_secret_previous_arn
    MCP_HANDLE_KEY          = var.handle_key_arn
  }

  secret_arns = compact([var.jwt_secret_arn, var.jwt_secret_previous_arn])

  # Roles the task role may assume: the configured stack roles, the roles a Quilt stack's
  # T4Bucket*Role resources get (CloudFormation names them <stack>-<LogicalId>-<suffix>, and
  # <stack>-<Nested>-<suffix>-<LogicalId>-<suffix> in a nested stack), and
  # the patterns allowed for role_arn claims. Never "*".
  stack_role_arns = compact([var.read_role_arn, var.write_role_arn])
  discovered_role_arns = var.quilt_stack_name == "" ? [] : [
    "arn:${local.partition}:iam::${local.account_id}:role/${var.quilt_stack_name}-*T4BucketReadRole-*",
    "arn:${local.partition}:iam::${local.account_id}:role/${var.quilt_stack_name}-*T4BucketWriteRole-*",
  ]
  assumable_role_arns = distinct(concat(local.stack_role_arns, local.discovered_role_arns, var.role_claim_allowed_arns))

  # The stack and its nested stacks (CloudFormation names them <stack>-<LogicalId>-<suffix>).
  quilt_stack_arns = [
    "arn:${local.partition}:cloudformation:${local.region}:${local.account_id}:stack/${var.quilt_stack_name}/*",
    "arn:${local.partition}:cloudformation:${local.region}:${local.account_id}:stack/${var.quilt_stack_name}-*/*",
  ]

  # The listener ARN names the load balancer: listener/app/<name>/<id>/<listener-id>.
  alb_arn_suffix = join("/", slice(split("/", var.alb_listener_arn), 1, 4))

  tags = merge({ "app" = "quilt-mcp-server" }, var.tags)
}
