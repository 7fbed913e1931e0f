//! `quilt-mcp-server s3-policy-test --bucket B --prefix P`: checks that a bucket enforces
//! SSE-S3 on writes, as the snapshot bucket policy of the seeds demands. Three probe writes,
//! with the operator's own credentials: no SSE header (must be denied), `AES256` (must
//! succeed), `aws:kms` (must be denied). Prints a table, deletes what it wrote, and fails
//! when an expectation fails.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use quilt_mcp_auth::{AuthMethod, RequestContext};
use quilt_mcp_aws::AccessIntent;

use crate::aws::Aws;
use crate::tool_error::ErrorCode;
use crate::transport::stdio::local_principal;

/// What a probe did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The write was accepted.
    Succeeded,
    /// S3 refused it (AccessDenied).
    Denied(String),
    /// Something else went wrong (the probe says nothing about the policy).
    Error(String),
}

/// One probe: its name, header, expectation and outcome.
#[derive(Debug, Clone)]
pub struct Probe {
    /// `no-sse`, `aes256` or `aws-kms`.
    pub name: &'static str,
    /// Whether the policy should accept the write.
    pub expect_success: bool,
    /// What happened.
    pub outcome: Outcome,
}

impl Probe {
    /// Whether the outcome is what the policy should produce.
    pub fn passed(&self) -> bool {
        match self.outcome {
            Outcome::Succeeded => self.expect_success,
            Outcome::Denied(_) => !self.expect_success,
            Outcome::Error(_) => false,
        }
    }
}

/// Runs the three probes under `prefix` in `bucket` with the caller's ambient credentials.
pub async fn run(
    aws: &Arc<Aws>,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<(Vec<Probe>, Vec<String>)> {
    let ctx = Arc::new(RequestContext::new(
        local_principal(),
        AuthMethod::Local,
        "s3-policy-test",
        "cli",
    ));
    let aws = aws.clone();
    let bucket = bucket.to_owned();
    let prefix = prefix.to_owned();
    crate::call_scope::CallScope::new(ctx)
        .run(async move {
            let s3 = aws
                .s3(AccessIntent::Write)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let run_id = uuid::Uuid::new_v4().simple().to_string();
            let cases: [(&'static str, Option<ServerSideEncryption>, bool); 3] = [
                ("no-sse", None, false),
                ("aes256", Some(ServerSideEncryption::Aes256), true),
                ("aws-kms", Some(ServerSideEncryption::AwsKms), false),
            ];
            let mut probes = Vec::new();
            let mut cleanup_problems = Vec::new();
            for (name, sse, expect_success) in cases {
                let key = format!("{prefix}quilt-mcp-sse-probe-{run_id}-{name}");
                let result = s3
                    .client
                    .put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .content_type("text/plain")
                    .set_server_side_encryption(sse)
                    .body(ByteStream::from_static(b"quilt-mcp s3-policy-test probe"))
                    .send()
                    .await;
                let outcome = match result {
                    Ok(_) => {
                        if let Err(e) = s3
                            .client
                            .delete_object()
                            .bucket(&bucket)
                            .key(&key)
                            .send()
                            .await
                        {
                            cleanup_problems.push(format!(
                                "could not delete s3://{bucket}/{key}: {}",
                                crate::aws::sdk_error("DeleteObject", &e).message
                            ));
                        }
                        Outcome::Succeeded
                    }
                    Err(e) => {
                        let err = crate::aws::sdk_error("PutObject", &e);
                        if err.code == ErrorCode::AccessDenied {
                            Outcome::Denied(err.message)
                        } else {
                            Outcome::Error(err.message)
                        }
                    }
                };
                probes.push(Probe {
                    name,
                    expect_success,
                    outcome,
                });
            }
            Ok((probes, cleanup_problems))
        })
        .await
}

/// The table the command prints.
pub fn table(bucket: &str, prefix: &str, probes: &[Probe]) -> String {
    let mut out = format!(
        "s3-policy-test s3://{bucket}/{prefix}\n{:<8} {:<10} {:<10} {}\n",
        "probe", "expected", "result", "verdict"
    );
    for p in probes {
        let expected = if p.expect_success {
            "succeed"
        } else {
            "denied"
        };
        let (result, detail) = match &p.outcome {
            Outcome::Succeeded => ("succeeded", String::new()),
            Outcome::Denied(m) => ("denied", format!(" ({m})")),
            Outcome::Error(m) => ("error", format!(" ({m})")),
        };
        let verdict = if p.passed() { "PASS" } else { "FAIL" };
        out.push_str(&format!(
            "{:<8} {:<10} {:<10} {verdict}{detail}\n",
            p.name, expected, result
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_expectations() {
        let p = |expect_success, outcome| Probe {
            name: "x",
            expect_success,
            outcome,
        };
        assert!(p(false, Outcome::Denied("AccessDenied".into())).passed());
        assert!(!p(false, Outcome::Succeeded).passed());
        assert!(p(true, Outcome::Succeeded).passed());
        assert!(!p(true, Outcome::Denied("AccessDenied".into())).passed());
        assert!(
            !p(true, Outcome::Error("timeout".into())).passed(),
            "an error proves nothing"
        );
    }
}
