# Rules across inputs, checked at plan time before anything is created. They sit on a
# terraform_data resource (built into Terraform, no provider) so tests/deploy can run
# `terraform plan` on variables.tf + this file alone. The CloudFormation template states the
# same rules in its Rules section.

resource "terraform_data" "input_guards" {
  input = var.name

  lifecycle {
    precondition {
      condition     = !contains(var.credential_sources, "stack_roles") || var.read_role_arn != "" || var.quilt_stack_name != ""
      error_message = "credential_sources includes stack_roles, so read_role_arn (and optionally write_role_arn) or quilt_stack_name must be set."
    }

    precondition {
      condition     = (var.jwt_secret_arn != "") != (var.jwt_jwks_url != "")
      error_message = "Set exactly one of jwt_secret_arn (a Secrets Manager ARN) and jwt_jwks_url."
    }

    precondition {
      condition     = var.jwt_secret_previous_arn == "" || var.jwt_secret_arn != ""
      error_message = "jwt_secret_previous_arn is set without jwt_secret_arn."
    }

    precondition {
      condition     = var.jwt_secret_previous_arn == "" || var.jwt_secret_previous_arn != var.jwt_secret_arn
      error_message = "jwt_secret_previous_arn must name a different secret than jwt_secret_arn."
    }

    precondition {
      condition     = var.max_count >= var.desired_count
      error_message = "max_count must be at least desired_count."
    }
  }
}
