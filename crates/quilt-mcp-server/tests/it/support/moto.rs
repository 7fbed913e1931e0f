//! Real AWS parts for the tests: the moto emulator (started on a free loopback port and
//! killed when dropped), a loopback TCP proxy that can be switched off to simulate an outage,
//! and a loopback stand-in for the Quilt catalog's credential exchange (no real catalog can
//! run here; it serves credentials the test made in moto).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use quilt_mcp_aws::{AwsSettings, ServerIdentity};
use serde_json::{Value, json};

use super::free_port;

pub const ACCOUNT: &str = "123456789012";

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A moto server of this test's own.
pub struct Moto {
    pub url: String,
    child: std::process::Child,
    admin: (String, String),
}

impl Moto {
    pub async fn start() -> Self {
        let bin = workspace_root().join(".venv/bin/moto_server");
        assert!(
            bin.exists(),
            "{} is missing: run `make venv` (make test does)",
            bin.display()
        );
        let port = free_port();
        let child = std::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let http = reqwest::Client::new();
        loop {
            if http
                .get(format!("{url}/moto-api/"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            assert!(Instant::now() < deadline, "moto did not start on {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            url,
            child,
            admin: ("AKIAADMINADMINADMIN0".into(), "admin-secret".into()),
        }
    }

    pub fn settings(&self) -> AwsSettings {
        AwsSettings::new("us-east-1", Some(self.url.clone()))
    }

    fn creds(&self) -> Credentials {
        Credentials::new(&self.admin.0, &self.admin.1, None, None, "test-admin")
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        let c = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(self.creds())
            .build();
        aws_sdk_iam::Client::from_conf(c)
    }

    /// S3 signed with the given key.
    pub fn s3_as(&self, akid: &str, secret: &str) -> aws_sdk_s3::Client {
        let c = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                akid, secret, None, None, "test",
            ))
            .build();
        aws_sdk_s3::Client::from_conf(c)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        self.s3_as(&self.admin.0.clone(), &self.admin.1.clone())
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        let c = aws_sdk_cloudformation::Config::builder()
            .behavior_version(aws_sdk_cloudformation::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudformation::config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
                &self.admin.0,
                &self.admin.1,
                None,
                None,
                "test",
            ))
            .build();
        aws_sdk_cloudformation::Client::from_conf(c)
    }

    /// A Quilt-like stack: the two bucket roles, a bucket, and a resource type moto does not
    /// model (it comes back without a logical id).
    pub async fn quilt_stack(&self, name: &str, with_write_role: bool) {
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]});
        let mut resources = json!({
            "T4BucketReadRole": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": format!("{name}-T4BucketReadRole-ABC123"), "AssumeRolePolicyDocument": trust}},
            "DataBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": format!("{name}-data")}},
            "Odd": {"Type": "AWS::WAFv2::IPSet", "Properties": {"Name": "odd", "Scope": "REGIONAL", "IPAddressVersion": "IPV4", "Addresses": []}},
        });
        if with_write_role {
            resources["T4BucketWriteRole"] = json!({"Type": "AWS::IAM::Role", "Properties": {"RoleName": format!("{name}-T4BucketWriteRole-DEF456"), "AssumeRolePolicyDocument": trust}});
        }
        let template = json!({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources});
        self.cloudformation()
            .create_stack()
            .stack_name(name)
            .template_body(template.to_string())
            .send()
            .await
            .expect("create stack");
    }

    pub fn glue(&self) -> aws_sdk_glue::Client {
        let c = aws_sdk_glue::Config::builder()
            .behavior_version(aws_sdk_glue::config::BehaviorVersion::latest())
            .region(aws_sdk_glue::config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_glue::config::Credentials::new(
                &self.admin.0,
                &self.admin.1,
                None,
                None,
                "test",
            ))
            .build();
        aws_sdk_glue::Client::from_conf(c)
    }

    /// An IAM user with an inline policy and an access key.
    pub async fn user(&self, name: &str, policy: Value) -> (String, String) {
        let iam = self.iam();
        iam.create_user()
            .user_name(name)
            .send()
            .await
            .expect("create user");
        iam.put_user_policy()
            .user_name(name)
            .policy_name("p")
            .policy_document(policy.to_string())
            .send()
            .await
            .expect("policy");
        let key = iam
            .create_access_key()
            .user_name(name)
            .send()
            .await
            .expect("key");
        let key = key.access_key().expect("access key");
        (
            key.access_key_id().to_owned(),
            key.secret_access_key().to_owned(),
        )
    }

    /// A role trusting `trusted` (an ARN, or `*`), with an inline policy.
    pub async fn role(&self, name: &str, trusted: &str, policy: Value) -> String {
        let trust = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": trusted},
            "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}]});
        let iam = self.iam();
        let role = iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .expect("role");
        iam.put_role_policy()
            .role_name(name)
            .policy_name("p")
            .policy_document(policy.to_string())
            .send()
            .await
            .expect("policy");
        role.role().expect("role").arn().to_owned()
    }

    /// Makes the admin user (full access) that test set-up uses once enforcement is on.
    pub async fn create_admin(&mut self) {
        let admin = self.user("test-admin", allow_all()).await;
        self.admin = admin;
    }

    /// Turns IAM enforcement on (identity policies, role trust, signatures).
    pub async fn enforce_iam(&self) {
        let r = reqwest::Client::new()
            .post(format!("{}/moto-api/reset-auth", self.url))
            .header("content-type", "text/plain")
            .body("0")
            .send()
            .await
            .expect("reset-auth");
        assert!(r.status().is_success());
    }

    /// The server identity with a fixed key (a honeypot the tests can recognise).
    pub fn identity(&self, akid: &str, secret: &str) -> ServerIdentity {
        ServerIdentity::from_static_keys(akid, secret, self.settings())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn allow_all() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
}

pub fn allow(actions: &[&str], resources: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]})
}

/// A loopback TCP proxy to `target` that can be switched off (connections refused-ish: closed
/// at once) and on again.
pub struct Switch {
    pub url: String,
    up: Arc<AtomicBool>,
}

impl Switch {
    pub async fn start(target: &str) -> Self {
        let target: SocketAddr = target
            .trim_start_matches("http://")
            .parse()
            .expect("target addr");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let up = Arc::new(AtomicBool::new(true));
        let flag = up.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { url, up }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

/// What the catalog stand-in answers.
#[derive(Clone)]
pub enum CatalogAnswer {
    Credentials { akid: String, secret: String },
    Html,
}

/// A loopback stand-in for the catalog's `/api/auth/get_credentials`: answers only to the
/// expected bearer token, and counts exchanges. Its `/config.json` names itself as the
/// registry, as a catalog whose web app and registry share a host would.
pub struct Catalog {
    pub url: String,
    pub exchanges: Arc<AtomicUsize>,
}

impl Catalog {
    pub async fn start(expected_token: String, answer: CatalogAnswer) -> Self {
        let exchanges = Arc::new(AtomicUsize::new(0));
        let count = exchanges.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let config = json!({"registryUrl": url});
        let router = axum::Router::new().route(
            "/config.json",
            axum::routing::get(move || async move { axum::Json(config) }),
        );
        let router = router.route(
            "/api/auth/get_credentials",
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let (answer, expected, count) =
                    (answer.clone(), expected_token.clone(), count.clone());
                async move {
                    use axum::response::IntoResponse;
                    count.fetch_add(1, Ordering::SeqCst);
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    if auth != format!("Bearer {expected}") {
                        return axum::http::StatusCode::UNAUTHORIZED.into_response();
                    }
                    match answer {
                        CatalogAnswer::Html => (
                            [("content-type", "text/html; charset=utf-8")],
                            "<!doctype html><html><body>Quilt catalog</body></html>",
                        )
                            .into_response(),
                        CatalogAnswer::Credentials { akid, secret } => axum::Json(json!({
                            "AccessKeyId": akid, "SecretAccessKey": secret, "SessionToken": null,
                            "Expiration": "2099-01-01T00:00:00+00:00", // Python isoformat(), as a Python registry writes it
                        }))
                        .into_response(),
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, exchanges }
    }
}
