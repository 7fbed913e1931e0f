# Inputs of the beside-Quilt example; the module validates each of them again.

variable "name" {
  description = "Name prefix."
  type        = string
  default     = "quilt-mcp"
}

variable "aws_region" {
  description = "Region of the Quilt stack."
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
  description = "VPC of the Quilt stack's ALB."
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

variable "catalog_secret_arn" {
  description = "Secrets Manager ARN of the Quilt catalog's token signing secret."
  type        = string
}

variable "quilt_stack_name" {
  description = "The Quilt CloudFormation stack (its T4BucketReadRole/T4BucketWriteRole are found at start-up)."
  type        = string
}

variable "registry_url" {
  description = "The Quilt registry URL (catalog credential source)."
  type        = string
}

variable "catalog_url" {
  description = "The Quilt catalog URL (catalog tools)."
  type        = string
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
