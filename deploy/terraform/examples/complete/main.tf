# Example root: quilt-mcp-server behind an existing ALB HTTPS listener, with the stack roles of
# an existing Quilt stack and an HS256 secret kept in Secrets Manager.
#
#   cp terraform.tfvars.example terraform.tfvars   # fill in your ids and ARNs
#   terraform init && terraform plan -out plan && terraform apply plan
#
# docs/OPERATIONS.md walks through deploying, verifying and rotating.

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

  jwt_secret_arn          = var.jwt_secret_arn
  jwt_secret_previous_arn = var.jwt_secret_previous_arn
  # Optional with an HS256 secret (required with jwt_jwks_url): page tokens and Athena ownership
  # then survive a JWT secret rotation (docs/OPERATIONS.md, "The handle key").
  handle_key_arn = var.handle_key_arn

  credential_sources = ["jwt", "catalog", "stack_roles"]
  read_role_arn      = var.read_role_arn
  write_role_arn     = var.write_role_arn
  quilt_stack_name   = var.quilt_stack_name
  registry_url       = var.registry_url
  buckets            = var.buckets

  alarm_topic_arn = var.alarm_topic_arn
}
