# Example root: quilt-mcp-server beside an existing Quilt stack.
#
# - Tokens are the catalog's own: HS256, verified with the catalog's signing secret, which stays
#   in Secrets Manager (catalog_secret_arn); the task gets it through the task definition only.
# - AWS access comes from the catalog (the caller's own catalog role, via the registry) or the
#   stack's T4BucketReadRole/T4BucketWriteRole, found from the stack name at start-up.
# - Scope checks are off: Quilt tokens carry no scope claim, and the catalog's roles and IAM
#   decide what a caller may do (docs/SECURITY.md, "Beside a Quilt stack").
# - The catalog URL feeds the catalog tools.
#
#   cp terraform.tfvars.example terraform.tfvars   # your stack's names, ids and ARNs
#   terraform init && terraform plan -out plan && terraform apply plan
#
# The CloudFormation and CDK flavours of the same example: deploy/examples/beside-quilt.json.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30, < 7.0"
    }
  }
}

provider "aws" {
  region = var.aws_region
}

module "mcp_server" {
  source = "../../modules/mcp_server"

  name                  = var.name
  image                 = var.image
  ecr_repository_arn    = var.ecr_repository_arn
  vpc_id                = var.vpc_id
  private_subnet_ids    = var.private_subnet_ids
  alb_listener_arn      = var.alb_listener_arn
  alb_security_group_id = var.alb_security_group_id
  public_url            = var.public_url
  aws_region            = var.aws_region

  # The catalog's own signing secret: its tokens are the ones callers already have.
  jwt_secret_arn = var.catalog_secret_arn
  # ... which carry no aud claim (a token that has one must still name this server).
  jwt_allow_missing_aud = true

  credential_sources = ["catalog", "stack_roles"]
  quilt_stack_name   = var.quilt_stack_name
  registry_url       = var.registry_url
  catalog_url        = var.catalog_url
  require_scopes     = false
  buckets            = var.buckets

  s3_sse                        = "AES256"
  permission_write_probe_prefix = ".quilt-mcp-probe/"

  alarm_topic_arn = var.alarm_topic_arn
}

output "task_role_arn" {
  description = "Trust this role in the stack's T4BucketReadRole/T4BucketWriteRole (deploy/iam/data-role-trust-policy.json)."
  value       = module.mcp_server.task_role_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.mcp_server.dashboard_name
}
