# Inputs of the example root; the module validates each of them again.

variable "name" {
  description = "Name prefix."
  type        = string
  default     = "quilt-mcp"
}

variable "aws_region" {
  description = "Region to deploy to."
  type        = string
}

variable "image" {
  description = "quilt-mcp-server image, pinned by digest."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ECR repository of the image."
  type        = string
  default     = ""
}

variable "vpc_id" {
  description = "VPC id."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (two AZs or more)."
  type        = list(string)
}

variable "alb_listener_arn" {
  description = "HTTPS listener of the ALB."
  type        = string
}

variable "alb_security_group_id" {
  description = "Security group of the ALB."
  type        = string
}

variable "public_url" {
  description = "https origin clients use."
  type        = string
}

variable "jwt_secret_arn" {
  description = "Secrets Manager ARN of the HS256 secret."
  type        = string
}

variable "jwt_secret_previous_arn" {
  description = "Previous secret during a rotation."
  type        = string
  default     = ""
}

variable "handle_key_arn" {
  description = "Secrets Manager ARN of the handle key (MCP_HANDLE_KEY); empty to derive it from the JWT secret."
  type        = string
  default     = ""
}

variable "read_role_arn" {
  description = "Stack read role ARN (or leave empty and set quilt_stack_name)."
  type        = string
  default     = ""
}

variable "write_role_arn" {
  description = "Stack write role ARN."
  type        = string
  default     = ""
}

variable "quilt_stack_name" {
  description = "Quilt stack to discover the roles from."
  type        = string
  default     = ""
}

variable "registry_url" {
  description = "Quilt registry URL for the catalog credential source."
  type        = string
  default     = ""
}

variable "buckets" {
  description = "Buckets the deployment serves."
  type        = list(string)
}

variable "alarm_topic_arn" {
  description = "SNS topic for alarms."
  type        = string
  default     = ""
}
