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

    # desired_count and max_count are at least 2 (their validations): every deployment runs
    # more than one task, so a JWKS-only one always needs the shared handle key.
    precondition {
      condition     = var.jwt_secret_arn != "" || var.handle_key_arn != ""
      error_message = "jwt_jwks_url without jwt_secret_arn needs handle_key_arn (a Secrets Manager ARN): with no JWT secret to derive MCP_HANDLE_KEY from, each of the (at least 2) tasks would seal page tokens and tag Athena executions with its own random key, and they would fail on the other tasks."
    }

    precondition {
      condition     = var.handle_key_arn == "" || (var.handle_key_arn != var.jwt_secret_arn && var.handle_key_arn != var.jwt_secret_previous_arn)
      error_message = "handle_key_arn must name its own secret, not jwt_secret_arn or jwt_secret_previous_arn (one key for one purpose; a JWT rotation must not void page tokens)."
    }

    precondition {
      condition     = var.s3_sse != "aws:kms" || var.s3_sse_kms_key_id != ""
      error_message = "s3_sse is aws:kms, so s3_sse_kms_key_id must name the KMS key ARN (the write role may use only that key)."
    }

    precondition {
      condition     = var.s3_sse_kms_key_id == "" || var.s3_sse == "aws:kms"
      error_message = "s3_sse_kms_key_id is set, but s3_sse is not aws:kms: the key would never be used."
    }

    precondition {
      condition     = !var.require_scopes || var.scope_map != "" || (var.registry_url == "" && var.catalog_url == "")
      error_message = "Quilt catalog tokens carry no scope claim: with registry_url or catalog_url set, require_scopes = true would leave callers only auth_status. Set require_scopes = false (the catalog's roles and IAM decide) or give scope_map."
    }

    precondition {
      condition     = var.max_count >= var.desired_count
      error_message = "max_count must be at least desired_count."
    }
  }
}
