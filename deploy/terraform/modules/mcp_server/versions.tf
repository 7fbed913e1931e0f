# quilt-mcp-server on ECS Fargate behind an existing ALB listener: the module's provider
# requirements. Terraform ≥ 1.5 (terraform_data, check-free preconditions); AWS provider 5.x/6.x
# (aws_vpc_security_group_*_rule resources).
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30, < 7.0"
    }
  }
}
