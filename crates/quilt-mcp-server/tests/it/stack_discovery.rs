//! Stack-role discovery as it behaves against real CloudFormation: a Quilt stack has more than
//! 100 resources and may keep its roles in a nested stack. moto answers every resource at once,
//! so the stacks live in moto and the CloudFormation answers pass through `cfn_shim`, which caps
//! and pages them as AWS does. The server must page `ListStackResources`, search nested stacks
//! one level down, and report every kind of bad stack clearly in `/healthz` and
//! `discover-stack`.

use std::sync::Arc;

use quilt_mcp_aws::cache::SystemClock;
use quilt_mcp_aws::{AwsSettings, ServerIdentity};
use serde_json::{Value, json};

use crate::cfn_shim::{CfnShim, PAGE};
use crate::moto::*;
use crate::support::*;

const TOPICS: usize = 120;

fn trust() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
}

fn role(name: &str) -> Value {
    json!({"Type": "AWS::IAM::Role", "Properties": {"RoleName": name, "AssumeRolePolicyDocument": trust()}})
}

/// `TOPICS` SNS topics first, then `extra`: the roles come after the first 100 resources (moto
/// keeps the template's key order, and serde_json's map sorts keys: `Filler…` < `Roles` < `T4…`).
fn big_template(prefix: &str, extra: Value) -> Value {
    let mut resources = serde_json::Map::new();
    for i in 0..TOPICS {
        resources.insert(
            format!("Filler{i:03}"),
            json!({"Type": "AWS::SNS::Topic", "Properties": {"TopicName": format!("{prefix}-t{i}")}}),
        );
    }
    for (k, v) in extra.as_object().expect("object") {
        resources.insert(k.clone(), v.clone());
    }
    json!({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})
}

async fn create_stack(moto: &Moto, name: &str, template: &Value) {
    moto.cloudformation()
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .send()
        .await
        .expect("create stack");
}

/// A child template in moto's S3, for an `AWS::CloudFormation::Stack` resource.
async fn nested_template_url(moto: &Moto, key: &str, template: &Value) -> String {
    let s3 = moto.s3();
    let _ = s3.create_bucket().bucket("cfn-templates").send().await;
    s3.put_object()
        .bucket("cfn-templates")
        .key(key)
        .body(template.to_string().into_bytes().into())
        .send()
        .await
        .expect("put template");
    format!("https://cfn-templates.s3.amazonaws.com/{key}")
}

fn identity(shim: &CfnShim) -> ServerIdentity {
    ServerIdentity::from_static_keys(
        "AKIASERVERSERVER0001",
        "server-secret",
        AwsSettings::new("us-east-1", Some(shim.url.clone())),
    )
}

async fn server(shim: &CfnShim, stack: &str) -> TestServer {
    let url = shim.url.clone();
    let stack = stack.to_owned();
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.stack_name = Some(stack);
        },
        Some(identity(shim)),
        Arc::new(SystemClock),
    )
    .await
}

async fn healthz(server: &TestServer) -> Value {
    http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json")
}

async fn discover_stack(shim: &CfnShim, stack: &str) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_quilt-mcp-server"))
        .args(["discover-stack", "--stack-name", stack])
        .env_clear()
        .env("AWS_ENDPOINT_URL", &shim.url)
        .env("AWS_ACCESS_KEY_ID", "AKIASERVERSERVER0001")
        .env("AWS_SECRET_ACCESS_KEY", "server-secret")
        .output()
        .await
        .expect("run discover-stack");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn roles_past_the_first_100_resources_are_found_by_paging() {
    let moto = Moto::start().await;
    let shim = CfnShim::start(&moto.url).await;
    let template = big_template(
        "big",
        json!({
            "T4BucketReadRole": role("quilt-big-T4BucketReadRole-ABC123"),
            "T4BucketWriteRole": role("quilt-big-T4BucketWriteRole-DEF456"),
        }),
    );
    create_stack(&moto, "quilt-big", &template).await;

    // The shim caps as AWS does: DescribeStackResources (what discovery used to call) never
    // shows these roles, so only paging can find them.
    let described = moto_via(&shim)
        .describe_stack_resources()
        .stack_name("quilt-big")
        .send()
        .await
        .expect("describe");
    assert_eq!(described.stack_resources().len(), PAGE);
    assert!(
        !described.stack_resources().iter().any(|r| r
            .logical_resource_id()
            .is_some_and(|l| l.starts_with("T4Bucket"))),
        "the roles must lie beyond the first {PAGE} resources for this test to mean anything"
    );

    let server = server(&shim, "quilt-big").await;
    let h = healthz(&server).await;
    assert_eq!(
        h["roles"]["read"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/quilt-big-T4BucketReadRole-ABC123"),
        "{h}"
    );
    assert_eq!(
        h["roles"]["write"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/quilt-big-T4BucketWriteRole-DEF456"),
        "{h}"
    );
    assert_eq!(h["roles"]["read"]["status"], "assumed", "{h}");
    assert_eq!(h["status"], "ok", "{h}");
    let pages = shim.calls("ListStackResources");
    assert!(
        pages.iter().filter(|c| c.1 == "quilt-big").count() >= 2,
        "the server did not page: {pages:?}"
    );
    assert!(
        pages.iter().any(|c| c.2.as_deref() == Some("shim-100")),
        "no second page was asked for: {pages:?}"
    );
    let write = call_tool(
        &server.mcp(),
        Some(&token("nia")),
        "test_whoami_write",
        json!({}),
    )
    .await;
    assert!(
        write.result()["structuredContent"]["arn"]
            .as_str()
            .expect("arn")
            .contains("quilt-big-T4BucketWriteRole-DEF456/mcp-nia"),
        "{}",
        write.body
    );

    let (ok, stdout, stderr) = discover_stack(&shim, "quilt-big").await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "QUILT_WRITE_ROLE_ARN=arn:aws:iam::{ACCOUNT}:role/quilt-big-T4BucketWriteRole-DEF456"
        )),
        "{stdout}"
    );
}

/// A client of the test's own through the shim (admin keys; moto does not enforce IAM here).
fn moto_via(shim: &CfnShim) -> aws_sdk_cloudformation::Client {
    let c = aws_sdk_cloudformation::Config::builder()
        .behavior_version(aws_sdk_cloudformation::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudformation::config::Region::new("us-east-1"))
        .endpoint_url(&shim.url)
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
            "AKIAADMINADMINADMIN0",
            "admin-secret",
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_cloudformation::Client::from_conf(c)
}

#[tokio::test]
async fn roles_in_a_nested_stack_one_level_down_are_found() {
    let moto = Moto::start().await;
    let shim = CfnShim::start(&moto.url).await;
    // The child has more than a page of resources too, the roles last.
    let child = big_template(
        "child",
        json!({
            "T4BucketReadRole": role("quilt-nest-Roles-T4BucketReadRole-N1"),
            "T4BucketWriteRole": role("quilt-nest-Roles-T4BucketWriteRole-N2"),
        }),
    );
    let url = nested_template_url(&moto, "roles.json", &child).await;
    let parent = big_template(
        "parent",
        json!({"Roles": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url}}}),
    );
    create_stack(&moto, "quilt-nest", &parent).await;

    let server = server(&shim, "quilt-nest").await;
    let h = healthz(&server).await;
    assert_eq!(
        (
            h["roles"]["read"]["arn"].as_str(),
            h["roles"]["write"]["arn"].as_str()
        ),
        (
            Some(
                format!("arn:aws:iam::{ACCOUNT}:role/quilt-nest-Roles-T4BucketReadRole-N1")
                    .as_str()
            ),
            Some(
                format!("arn:aws:iam::{ACCOUNT}:role/quilt-nest-Roles-T4BucketWriteRole-N2")
                    .as_str()
            )
        ),
        "{h}"
    );
    assert_eq!(h["roles"]["write"]["status"], "assumed", "{h}");
    // The nested stack was listed by its physical id, past its own first page.
    let calls = shim.calls("ListStackResources");
    let nested: Vec<_> = calls.iter().filter(|c| c.1 != "quilt-nest").collect();
    assert!(
        nested.len() >= 2 && nested.iter().all(|c| c.1.starts_with("quilt-nest-Roles-")),
        "nested stack not paged by its physical id: {calls:?}"
    );

    let (ok, stdout, stderr) = discover_stack(&shim, "quilt-nest").await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("quilt-nest-Roles-T4BucketReadRole-N1"),
        "{stdout}"
    );
    assert!(
        stderr.contains("found quilt-nest/Roles/T4BucketReadRole"),
        "{stderr}"
    );
}

#[tokio::test]
async fn bad_stacks_are_reported_in_healthz_and_by_discover_stack() {
    let moto = Moto::start().await;
    let shim = CfnShim::start(&moto.url).await;
    // No roles at all (but more than a page of resources, and a nested stack without them).
    let empty_child = nested_template_url(
        &moto,
        "empty.json",
        &json!({"Resources": {"Q": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "q"}}}}),
    )
    .await;
    create_stack(
        &moto,
        "quilt-roleless",
        &big_template(
            "roleless",
            json!({"Inner": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": empty_child}}}),
        ),
    )
    .await;
    // A T4BucketReadRole that is no role: its physical id (an SNS topic ARN) fails the role
    // ARN rule.
    create_stack(
        &moto,
        "quilt-odd",
        &json!({"Resources": {
            "T4BucketReadRole": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "not-a-role"}},
        }}),
    )
    .await;

    // (stack, what /healthz's read error and discover-stack's message must say)
    let cases = [
        ("no-such-stack", "ListStackResources no-such-stack"),
        ("quilt-roleless", "has no T4BucketReadRole"),
        ("quilt-odd", "fails the role ARN rule"),
    ];
    for (stack, phrase) in cases {
        let server = server(&shim, stack).await;
        let h = healthz(&server).await;
        assert_eq!(h["status"], "degraded", "{stack}: {h}");
        assert_eq!(h["roles"]["read"]["status"], "failed", "{stack}: {h}");
        assert!(h["roles"]["read"]["arn"].is_null(), "{stack}: {h}");
        let error = h["roles"]["read"]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(phrase),
            "{stack}: /healthz error {error:?} lacks {phrase:?}"
        );
        // Callers get a clear refusal, not another identity.
        let r = call_tool(
            &server.mcp(),
            Some(&token("nia")),
            "test_whoami_write",
            json!({}),
        )
        .await;
        assert_eq!(r.result()["isError"], true, "{stack}: {}", r.body);
        assert_eq!(
            r.result()["structuredContent"]["error"]["code"],
            "not_permitted",
            "{stack}: {}",
            r.body
        );

        let (ok, stdout, stderr) = discover_stack(&shim, stack).await;
        assert!(!ok, "{stack}: discover-stack succeeded: {stdout}");
        assert!(
            stderr.contains(phrase),
            "{stack}: discover-stack said {stderr:?}, not {phrase:?}"
        );
        // Nothing that looks like a role to use (a stack that cannot be read prints nothing).
        assert!(!stdout.contains("arn:"), "{stack}: {stdout}");
    }
}
