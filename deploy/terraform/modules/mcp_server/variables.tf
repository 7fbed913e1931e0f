# Inputs of the mcp_server module. Every input that could make the deployment unsafe is
# validated here (single-variable rules) or in guards.tf (rules across variables), so an unsafe
# value is refused at `terraform plan`, before anything is created. The CloudFormation
# template (deploy/cloudformation/mcp-server.yaml) has the same parameters in PascalCase with
# the same rules; tests/deploy checks that both refuse the same inputs.
#
# Keep this file free of references to other files: tests/deploy copies it next to guards.tf
# and runs `terraform plan` on the pair without any provider.

variable "name" {
  description = "Name prefix of every resource (cluster, service, roles, log group, alarms)."
  type        = string
  default     = "quilt-mcp"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "image" {
  description = "Container image of quilt-mcp-server, ideally pinned by digest (repo@sha256:...)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/:-]*(@sha256:[a-f0-9]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.image))
    error_message = "image must be a repository with an explicit tag or an @sha256 digest."
  }
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository holding the image; the execution role may pull only from it. Empty for a public image."
  type        = string
  default     = ""

  validation {
    condition     = var.ecr_repository_arn == "" || can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9][a-z0-9._/-]*$", var.ecr_repository_arn))
    error_message = "ecr_repository_arn must be empty or an ECR repository ARN (no wildcard)."
  }
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
  default     = 512
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
  default     = 1024
}

variable "desired_count" {
  description = "Tasks to run; at least 2 so one task (or one AZ) can fail or be replaced without an outage."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 2
    error_message = "desired_count must be at least 2."
  }
}

variable "max_count" {
  description = "Upper bound of autoscaling."
  type        = number
  default     = 10

  validation {
    condition     = var.max_count >= 2
    error_message = "max_count must be at least 2."
  }
}

variable "vpc_id" {
  description = "VPC of the ALB and the tasks."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC id (vpc-...)."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets for the tasks (no public IPs are assigned); at least two, in different AZs."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "private_subnet_ids must list at least two subnet ids (subnet-...)."
  }
}

variable "alb_listener_arn" {
  description = "HTTPS listener of the existing ALB that routes /mcp to the service."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:listener/app/[A-Za-z0-9-]+/[0-9a-f]+/[0-9a-f]+$", var.alb_listener_arn))
    error_message = "alb_listener_arn must be an Application Load Balancer listener ARN."
  }
}

variable "alb_security_group_id" {
  description = "Security group of the ALB: the only source allowed to reach the tasks."
  type        = string

  validation {
    condition     = can(regex("^sg-[0-9a-f]+$", var.alb_security_group_id))
    error_message = "alb_security_group_id must be a security group id (sg-...)."
  }
}

variable "listener_rule_priority" {
  description = "Priority of the listener rule that sends /mcp, /mcp/* and the RFC 9728 metadata to the service."
  type        = number
  default     = 100

  validation {
    condition     = var.listener_rule_priority >= 1 && var.listener_rule_priority <= 50000
    error_message = "listener_rule_priority must be between 1 and 50000."
  }
}

variable "egress_cidr" {
  description = "Where tasks may open HTTPS (443) connections: AWS APIs (STS, S3, Athena, Glue, CloudFormation, Secrets Manager, ECR, Logs), the JWKS URL and the Quilt registry. Narrow it to your VPC endpoints' CIDR when everything is reached through endpoints."
  type        = string
  default     = "0.0.0.0/0"

  validation {
    condition     = can(regex("^[0-9]{1,3}([.][0-9]{1,3}){3}/[0-9]{1,2}$", var.egress_cidr))
    error_message = "egress_cidr must be an IPv4 CIDR block."
  }
}

variable "public_url" {
  description = "Public https base URL clients use (MCP_PUBLIC_URL), e.g. https://mcp.example.com."
  type        = string

  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", var.public_url))
    error_message = "public_url must be an https:// origin without a path, e.g. https://mcp.example.com."
  }
}

variable "jwt_secret_arn" {
  description = "Secrets Manager ARN of the HS256 secret (MCP_JWT_SECRET). Never the secret itself. Empty when jwt_jwks_url is used."
  type        = string
  default     = ""

  validation {
    condition     = var.jwt_secret_arn == "" || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$", var.jwt_secret_arn))
    error_message = "jwt_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME); a plain-text secret is refused."
  }
}

variable "jwt_secret_previous_arn" {
  description = "Secrets Manager ARN of the previous HS256 secret (MCP_JWT_SECRET_PREVIOUS), set only during a rotation."
  type        = string
  default     = ""

  validation {
    condition     = var.jwt_secret_previous_arn == "" || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$", var.jwt_secret_previous_arn))
    error_message = "jwt_secret_previous_arn must be a Secrets Manager secret ARN; a plain-text secret is refused."
  }
}

variable "handle_key_arn" {
  description = "Secrets Manager ARN of the handle key (MCP_HANDLE_KEY, at least 32 bytes): seals page tokens and tags Athena executions with their owner, the same on every task. Never the key itself. Required with jwt_jwks_url (no JWT secret to derive it from); optional with jwt_secret_arn (then rotating the JWT secret no longer voids outstanding page tokens and Athena ownership)."
  type        = string
  default     = ""

  validation {
    condition     = var.handle_key_arn == "" || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$", var.handle_key_arn))
    error_message = "handle_key_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME); a plain-text key is refused."
  }
}

variable "secrets_kms_key_arn" {
  description = "Customer-managed KMS key encrypting the JWT secrets and the handle key, if any (the execution role gets kms:Decrypt on it only)."
  type        = string
  default     = ""

  validation {
    condition     = var.secrets_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]+$", var.secrets_kms_key_arn))
    error_message = "secrets_kms_key_arn must be empty or a KMS key ARN (no alias, no wildcard)."
  }
}

variable "jwt_jwks_url" {
  description = "JWKS URL for RS/ES/EdDSA tokens (MCP_JWT_JWKS_URL), instead of an HS256 secret."
  type        = string
  default     = ""

  validation {
    condition     = var.jwt_jwks_url == "" || can(regex("^https://[^\\s]+$", var.jwt_jwks_url))
    error_message = "jwt_jwks_url must be an https URL."
  }
}

variable "jwt_issuer" {
  description = "Required token issuer (MCP_JWT_ISSUER); empty to not check."
  type        = string
  default     = ""
}

variable "jwt_audience" {
  description = "Required token audience (MCP_JWT_AUDIENCE); empty for the server's default (public_url + /mcp)."
  type        = string
  default     = ""
}

variable "jwt_allow_missing_aud" {
  description = "MCP_JWT_ALLOW_MISSING_AUD: accept tokens without an aud claim (Quilt catalog tokens have none). A token with aud must still name this server."
  type        = bool
  default     = false
}

variable "credential_sources" {
  description = "MCP_CREDENTIAL_SOURCES in order. 'ambient' is refused: it would let every caller act as the task role."
  type        = list(string)
  default     = ["jwt", "role_claim", "catalog", "stack_roles"]

  validation {
    condition     = length(var.credential_sources) >= 1 && alltrue([for s in var.credential_sources : contains(["jwt", "role_claim", "catalog", "stack_roles"], s)])
    error_message = "credential_sources must be a non-empty list of jwt, role_claim, catalog, stack_roles ('ambient' is not allowed on ECS)."
  }
}

variable "read_role_arn" {
  description = "Stack read role (QUILT_READ_ROLE_ARN), e.g. the Quilt stack's T4BucketReadRole."
  type        = string
  default     = ""

  validation {
    condition     = var.read_role_arn == "" || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$", var.read_role_arn))
    error_message = "read_role_arn must be empty or an IAM role ARN without wildcards."
  }
}

variable "write_role_arn" {
  description = "Stack write role (QUILT_WRITE_ROLE_ARN), e.g. the Quilt stack's T4BucketWriteRole."
  type        = string
  default     = ""

  validation {
    condition     = var.write_role_arn == "" || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$", var.write_role_arn))
    error_message = "write_role_arn must be empty or an IAM role ARN without wildcards."
  }
}

variable "quilt_stack_name" {
  description = "Quilt CloudFormation stack whose T4BucketReadRole/T4BucketWriteRole the server discovers at start-up (QUILT_STACK_NAME), when the role ARNs are not given."
  type        = string
  default     = ""

  validation {
    condition     = var.quilt_stack_name == "" || can(regex("^[A-Za-z][A-Za-z0-9-]{0,127}$", var.quilt_stack_name))
    error_message = "quilt_stack_name must be a CloudFormation stack name."
  }
}

variable "role_claim_allowed_arns" {
  description = "Role ARNs (a trailing '*' in the role name allowed) a token's role_arn claim may name (MCP_ROLE_ARN_ALLOW); the task role may assume only these."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.role_claim_allowed_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=.@_/-]+[*]?$", a))])
    error_message = "role_claim_allowed_arns must be IAM role ARNs with a literal account and role-name prefix (only a trailing '*' allowed, no commas)."
  }
}

variable "registry_url" {
  description = "Quilt registry for the catalog credential source (QUILT_REGISTRY_URL)."
  type        = string
  default     = ""

  validation {
    condition     = var.registry_url == "" || can(regex("^https://[^\\s]+$", var.registry_url))
    error_message = "registry_url must be an https URL."
  }
}

variable "buckets" {
  description = "Buckets (or bucket/prefix/) this deployment serves (QUILT_BUCKETS). Named explicitly: a wildcard is refused."
  type        = list(string)

  validation {
    condition     = length(var.buckets) >= 1 && alltrue([for b in var.buckets : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^*?,\\s]*)?$", b))])
    error_message = "buckets must list at least one bucket name or bucket/prefix/; wildcards ('*', '?') are refused."
  }
}

variable "catalog_url" {
  description = "Quilt catalog URL for the catalog tools (QUILT_CATALOG_URL), e.g. https://quilt.example.com."
  type        = string
  default     = ""

  validation {
    condition     = var.catalog_url == "" || can(regex("^https://[^\\s]+$", var.catalog_url))
    error_message = "catalog_url must be an https URL."
  }
}

variable "require_scopes" {
  description = "MCP_REQUIRE_SCOPES: tools need their scope (quilt:read, quilt:write, athena:query) in the token. Quilt catalog tokens carry no scope claim: set false beside a Quilt stack (the catalog's roles and IAM decide), or give scope_map."
  type        = bool
  default     = true
}

variable "scope_map" {
  description = "MCP_SCOPE_MAP: the token issuer's spelling of each scope, server_scope=token_scope comma separated (e.g. quilt:read=catalog.read)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(|[a-z]+:[a-z]+=[^,=\\s]+(,[a-z]+:[a-z]+=[^,=\\s]+)*)$", var.scope_map))
    error_message = "scope_map must be server_scope=token_scope pairs, comma separated (e.g. quilt:read=catalog.read)."
  }
}

variable "s3_sse" {
  description = "S3_SSE: server-side encryption on every write (AES256, aws:kms or none)."
  type        = string
  default     = "AES256"

  validation {
    condition     = contains(["AES256", "aws:kms", "none"], var.s3_sse)
    error_message = "s3_sse must be AES256, aws:kms or none."
  }
}

variable "s3_sse_kms_key_id" {
  description = "S3_SSE_KMS_KEY_ID: the KMS key ARN for s3_sse = aws:kms (required then, so the write role's kms statement can name it)."
  type        = string
  default     = ""

  validation {
    condition     = var.s3_sse_kms_key_id == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]+$", var.s3_sse_kms_key_id))
    error_message = "s3_sse_kms_key_id must be empty or a KMS key ARN (no alias, no wildcard)."
  }
}

variable "permission_write_probe_prefix" {
  description = "MCP_PERMISSION_WRITE_PROBE_PREFIX: key prefix (ending in /) under which write access is probed with a zero-byte object deleted at once. Empty: no write probes."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(|[^*?,\\s]+/)$", var.permission_write_probe_prefix))
    error_message = "permission_write_probe_prefix must be empty or a key prefix ending in '/' without wildcards."
  }
}

variable "athena_workgroup" {
  description = "Default Athena workgroup (ATHENA_WORKGROUP)."
  type        = string
  default     = "primary"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,128}$", var.athena_workgroup))
    error_message = "athena_workgroup must be a workgroup name."
  }
}

variable "athena_allowed_workgroups" {
  description = "ATHENA_ALLOWED_WORKGROUPS: workgroups callers may use (empty: only athena_workgroup)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for w in var.athena_allowed_workgroups : can(regex("^[A-Za-z0-9._-]{1,128}$", w))])
    error_message = "athena_allowed_workgroups must list workgroup names."
  }
}

variable "athena_output_location" {
  description = "ATHENA_OUTPUT_LOCATION: s3://bucket/prefix/ for results when the workgroup sets none."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^*?,\\s]*)$", var.athena_output_location))
    error_message = "athena_output_location must be empty or s3://bucket/prefix/."
  }
}

variable "aws_region" {
  description = "Region the server's AWS clients use (AWS_REGION); empty for the deployment's own."
  type        = string
  default     = ""

  validation {
    condition     = var.aws_region == "" || can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region name such as us-east-1."
  }
}

variable "shutdown_grace_s" {
  description = "MCP_SHUTDOWN_GRACE_S: time in-flight requests get after SIGTERM. The container's stopTimeout is this plus 5 s."
  type        = number
  default     = 25

  validation {
    condition     = contains([10, 15, 20, 25, 30, 45, 55, 60, 90, 115], var.shutdown_grace_s)
    error_message = "shutdown_grace_s must be one of 10, 15, 20, 25, 30, 45, 55, 60, 90, 115 (the CloudFormation template's StopTimeoutFor mapping; Fargate's stopTimeout is at most 120 s)."
  }
}

# The server's operational settings that need no rule of their own, by their environment name
# (docs/CONFIGURATION.md). The server validates each at start-up; a bad value stops the task and
# the circuit breaker rolls the deployment back. Adding a setting here is one line in the list
# below (tests/deploy/test_settings.py names any that is missing).
variable "settings" {
  description = "Server settings by environment name, e.g. { MCP_MAX_IN_FLIGHT = \"512\" }. Only the names listed in the validation are accepted; empty values are left out (the server's default applies)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for k in keys(var.settings) : contains([
      "MCP_ALLOWED_HOSTS",
      "MCP_ALLOWED_ORIGINS",
      "MCP_MAX_BODY_BYTES",
      "MCP_REQUEST_TIMEOUT_S",
      "MCP_MAX_IN_FLIGHT",
      "MCP_JWT_JWKS_REFETCH_S",
      "MCP_JWT_LEEWAY_S",
      "MCP_ROLE_SESSION_DURATION_S",
      "MCP_ROLE_CHECK_INTERVAL_S",
      "S3_MULTIPART_THRESHOLD_BYTES",
      "MCP_PERMISSION_CACHE_TTL_S",
      "MCP_PERMISSION_MAX_BUCKETS",
      "MCP_PERMISSION_CONCURRENCY",
      "MCP_HEALTHZ_STRICT",
      "MCP_MAX_AUTHENTICATING",
      "MCP_CALLER_MAX_IN_FLIGHT",
      "MCP_CALLER_RATE_PER_S",
      "MCP_CALLER_BURST",
      "QUILT_CATALOG_TIMEOUT_S",
      "ATHENA_OUTSIDE_BUCKET_GRANTS",
      "MCP_TASK_HEARTBEAT_S",
    ], k)])
    error_message = "settings may only name the server settings listed in variables.tf (the others have inputs of their own, or are fixed by the deployment: docs/OPERATIONS.md)."
  }

  validation {
    condition     = alltrue([for k in keys(var.settings) : can(regex("^[^\\s]*$", var.settings[k]))])
    error_message = "settings values must not contain whitespace."
  }
}

variable "log_retention_days" {
  description = "CloudWatch log retention."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ... 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting the log group; empty for CloudWatch's own encryption."
  type        = string
  default     = ""

  validation {
    condition     = var.log_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be empty or a KMS key ARN."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic notified by the alarms; empty for alarms without actions."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_topic_arn == "" || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be empty or an SNS topic ARN."
  }
}

variable "auth_error_rate_percent" {
  description = "Refused tokens, in % of authentications over 5 minutes, that raise the auth-error-rate alarm (seed 002 - under 1 %)."
  type        = number
  default     = 1
}

variable "tool_error_rate_percent" {
  description = "Failed tool calls, in % of calls over 5 minutes, that raise the tool-error-rate alarm."
  type        = number
  default     = 5
}

variable "auth_failure_threshold" {
  description = "Refused tokens per 5 minutes that raise the auth-failure alarm."
  type        = number
  default     = 50
}

variable "cpu_target_percent" {
  description = "Average CPU the service scales to."
  type        = number
  default     = 60
}

variable "requests_per_target" {
  description = "ALB requests per task per minute the service scales to."
  type        = number
  default     = 600
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
