//! Isolation with IAM enforced (moto): the server's own identity is a honeypot key allowed
//! nothing but `sts:AssumeRole`; 32 subjects, each with a role that may touch only its own
//! prefix, make mixed S3 write/read and STS calls at once. Every call must succeed as its own
//! caller — a request signed with the honeypot, or with another subject's credentials, would
//! be denied by IAM and fail the test. Negative controls prove the enforcement is on.

use std::sync::Arc;

use quilt_mcp_aws::cache::SystemClock;
use serde_json::json;

use crate::moto::*;
use crate::support::*;

const SUBJECTS: usize = 32;
const CALLS_PER_SUBJECT: usize = 8;
const BUCKET: &str = "isolation-bucket";

#[tokio::test]
async fn every_request_is_signed_with_its_callers_credentials() {
    let mut moto = Moto::start().await;
    moto.create_admin().await;
    moto.s3()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let (honeypot_key, honeypot_secret) = moto
        .user(
            "server-honeypot",
            allow(
                &["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                &["*"],
            ),
        )
        .await;
    let honeypot_arn = format!("arn:aws:iam::{ACCOUNT}:user/server-honeypot");
    for i in 0..SUBJECTS {
        let own = format!("arn:aws:s3:::{BUCKET}/user-{i}/*");
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": [own]},
            {"Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"},
        ]});
        moto.role(&format!("subject-{i}-role"), &honeypot_arn, policy)
            .await;
    }
    moto.enforce_iam().await;

    // Negative control: the honeypot cannot touch S3 itself.
    let denied = moto
        .s3_as(&honeypot_key, &honeypot_secret)
        .put_object()
        .bucket(BUCKET)
        .key("user-0/x")
        .body(b"x".to_vec().into())
        .send()
        .await;
    assert!(
        denied.is_err(),
        "IAM enforcement is off: the honeypot could write"
    );

    let identity = moto.identity(&honeypot_key, &honeypot_secret);
    let url = moto.url.clone();
    let server = TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["role_claim".into()];
            c.role_arn_allow = vec![format!("arn:aws:iam::{ACCOUNT}:role/subject-*")];
            c.max_in_flight = 1024;
        },
        Some(identity),
        Arc::new(SystemClock),
    )
    .await;
    let token_of = |i: usize| {
        hs256(
            &claims(
                &format!("subject-{i}"),
                json!({"role_arn": format!("arn:aws:iam::{ACCOUNT}:role/subject-{i}-role")}),
            ),
            SECRET,
        )
    };

    // Negative control: a subject cannot write into another subject's prefix.
    let cross = call_tool(
        &server.mcp(),
        Some(&token_of(0)),
        "test_s3_roundtrip",
        json!({"bucket": BUCKET, "key": "user-1/intrusion", "body": "x"}),
    )
    .await;
    assert_eq!(
        cross.result()["isError"],
        true,
        "role policies are not enforced: {}",
        cross.body
    );
    assert_eq!(
        cross.result()["structuredContent"]["error"]["code"],
        "access_denied"
    );

    let calls: Vec<_> = (0..SUBJECTS * CALLS_PER_SUBJECT)
        .map(|n| {
            let i = n % SUBJECTS;
            let (url, token) = (server.mcp(), token_of(i));
            tokio::spawn(async move {
                let body = format!("written by subject-{i}, call {n}");
                let r = if n % 4 == 3 {
                    call_tool(
                        &url,
                        Some(&token),
                        "auth_status",
                        json!({"include_aws_identity": true}),
                    )
                    .await
                } else {
                    call_tool(
                        &url,
                        Some(&token),
                        "test_s3_roundtrip",
                        json!({"bucket": BUCKET, "key": format!("user-{i}/obj-{n}"), "body": body}),
                    )
                    .await
                };
                (i, n, body, r)
            })
        })
        .collect();
    let mut failures = Vec::new();
    for call in calls {
        let (i, n, body, r) = call.await.expect("join");
        let result = r.result();
        let s = &result["structuredContent"];
        let arn = s["arn"]
            .as_str()
            .or_else(|| s["aws_identity"]["arn"].as_str())
            .unwrap_or_default();
        let expected_arn =
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/subject-{i}-role/mcp-subject-{i}");
        let body_ok = n % 4 == 3 || s["body"] == body.as_str();
        if result["isError"] != false || unhashed_or_same(arn) != expected_arn || !body_ok {
            failures.push(format!("subject {i} call {n}: {result}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} calls not served as their own caller:\n{}",
        failures.len(),
        SUBJECTS * CALLS_PER_SUBJECT,
        failures.join("\n")
    );
    // One role session per subject, reused by all its calls.
    assert_eq!(
        server.app.aws.broker().assume_role_calls(),
        SUBJECTS as u64,
        "one session per subject"
    );
}
