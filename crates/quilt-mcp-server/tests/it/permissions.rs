//! The permission engine against moto with IAM enforced: callers (IAM users through the `jwt`
//! source, a role through `role_claim`) whose policies allow read-only, write-only-to-a-prefix,
//! list-only and no access. Every answer must match the policy, and `discover_permissions`,
//! `check_bucket_access` and `bucket_list` must agree on every bucket. Also: the seeds' bug
//! (write guessed from list) pinned, write probes that leave nothing behind or report what they
//! could not delete, unknown buckets, probes outside the grants, single-flight, STS failures.
//!
//! moto 5.2.5 answers IAM `SimulatePrincipalPolicy` with HTTP 500, so the engine does not use
//! policy simulation; write access is proven by the opt-in probe only.

use std::sync::Arc;

use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

const DATA: &str = "perm-data";
const EMPTY: &str = "perm-empty";
const VERSIONED: &str = "perm-versioned";
const PROBE_PREFIX: &str = "uploads/.quilt-mcp-probe/";

fn policy(statements: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn bucket_arns(actions: &[&str], buckets: &[&str], objects: bool) -> Value {
    let resources: Vec<String> = buckets
        .iter()
        .map(|b| {
            if objects {
                format!("arn:aws:s3:::{b}/*")
            } else {
                format!("arn:aws:s3:::{b}")
            }
        })
        .collect();
    json!({"Effect": "Allow", "Action": actions, "Resource": resources})
}

/// Credentials of a caller, as they go into a token.
#[derive(Clone)]
enum Creds {
    User(String, String),
    Role(String),
}

struct World {
    moto: Moto,
    server_key: (String, String),
}

impl World {
    /// moto with the buckets and an admin; IAM enforcement is switched on by [`World::enforce`].
    async fn start() -> Self {
        let mut moto = Moto::start().await;
        moto.create_admin().await;
        let s3 = moto.s3();
        for b in [DATA, EMPTY, VERSIONED] {
            s3.create_bucket().bucket(b).send().await.expect("bucket");
        }
        s3.put_bucket_versioning()
            .bucket(VERSIONED)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("versioning");
        for (b, k) in [(DATA, "data/a.csv"), (VERSIONED, "data/v.txt")] {
            s3.put_object()
                .bucket(b)
                .key(k)
                .content_type("text/csv")
                .body(b"a,b\n1,2\n".to_vec().into())
                .send()
                .await
                .expect("object");
        }
        let server_key = moto
            .user(
                "perm-server",
                allow(
                    &["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                    &["*"],
                ),
            )
            .await;
        Self { moto, server_key }
    }

    async fn user(&self, name: &str, statements: Value) -> Creds {
        let (k, s) = self.moto.user(name, policy(statements)).await;
        Creds::User(k, s)
    }

    async fn role(&self, name: &str, statements: Value) -> Creds {
        Creds::Role(self.moto.role(name, "*", policy(statements)).await)
    }

    async fn enforce(&self) {
        self.moto.enforce_iam().await;
        // Negative control: the server's own key may not touch S3.
        let denied = self
            .moto
            .s3_as(&self.server_key.0, &self.server_key.1)
            .list_objects_v2()
            .bucket(DATA)
            .send()
            .await;
        assert!(denied.is_err(), "IAM enforcement is off");
    }

    async fn server(&self, configure: impl FnOnce(&mut quilt_mcp_server::Config)) -> TestServer {
        let url = self.moto.url.clone();
        TestServer::start_with_aws(
            move |c| {
                c.aws_endpoint_url = Some(url);
                c.credential_sources = vec!["jwt".into(), "role_claim".into()];
                c.role_arn_allow = vec![format!("arn:aws:iam::{ACCOUNT}:role/perm-*")];
                c.permission_write_probe_prefix = Some(PROBE_PREFIX.into());
                configure(c);
            },
            Some(self.moto.identity(&self.server_key.0, &self.server_key.1)),
            Arc::new(SystemClock),
        )
        .await
    }

    /// Keys under `prefix` in `bucket`, every version and delete marker included.
    async fn versions_under(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self
            .moto
            .s3()
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("versions");
        out.versions()
            .iter()
            .filter_map(|v| v.key())
            .chain(out.delete_markers().iter().filter_map(|m| m.key()))
            .map(str::to_owned)
            .collect()
    }
}

fn token_for(sub: &str, creds: &Creds, extra: Value) -> String {
    let mut c = match creds {
        Creds::User(k, s) => claims(
            sub,
            json!({"aws_credentials": {"access_key_id": k, "secret_access_key": s}}),
        ),
        Creds::Role(arn) => claims(sub, json!({"role_arn": arn})),
    };
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
        c.extend(extra);
    }
    hs256(&c, SECRET)
}

/// (list, read, write) of an answer.
fn triple(a: &Value) -> (Value, Value, Value) {
    (a["list"].clone(), a["read"].clone(), a["write"].clone())
}

fn expect(list: Value, read: Value, write: Value) -> (Value, Value, Value) {
    (list, read, write)
}

/// The answers of the three tools for `bucket`, asserted equal; returns the
/// check_bucket_access answer (probed afresh).
async fn agreed(server: &TestServer, token: &str, bucket: &str) -> Value {
    let discovered = call_as(server, token, "discover_permissions", json!({})).await;
    let discovered = ok(&discovered);
    let from_discover = discovered["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .find(|b| b["bucket"] == bucket)
        .unwrap_or_else(|| panic!("{bucket} not in {discovered}"))
        .clone();
    let listed = call_as(server, token, "bucket_list", json!({})).await;
    let listed = ok(&listed);
    let from_list = listed["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .find(|b| b["name"] == bucket)
        .unwrap_or_else(|| panic!("{bucket} not in {listed}"))["access"]
        .clone();
    // A fresh probe, not the cached answer the other two may have shared.
    let checked = call_as(
        server,
        token,
        "check_bucket_access",
        json!({"bucket": bucket, "force_refresh": true}),
    )
    .await;
    let checked = ok(&checked).clone();
    assert_eq!(checked["cached"], false, "force_refresh probes again");
    assert_eq!(
        triple(&from_discover),
        triple(&checked),
        "discover vs check on {bucket}"
    );
    assert_eq!(
        triple(&from_list),
        triple(&checked),
        "bucket_list vs check on {bucket}"
    );
    for op in ["list", "read", "write"] {
        assert_eq!(
            from_discover["evidence"][op]["reason"], checked["evidence"][op]["reason"],
            "{op} reason on {bucket}"
        );
    }
    checked
}

#[tokio::test]
async fn every_answer_matches_the_policy_and_the_three_tools_agree() {
    let w = World::start().await;
    let reader = w
        .role(
            "perm-reader",
            json!([
                bucket_arns(&["s3:ListBucket"], &[DATA, EMPTY], false),
                bucket_arns(&["s3:GetObject"], &[DATA, EMPTY], true),
            ]),
        )
        .await;
    let prefix_writer = w
        .user(
            "prefix-writer",
            json!([{"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
                    "Resource": [format!("arn:aws:s3:::{DATA}/uploads/*")]}]),
        )
        .await;
    let lister = w
        .user(
            "lister",
            json!([bucket_arns(&["s3:ListBucket"], &[DATA, EMPTY], false)]),
        )
        .await;
    let nobody = w
        .user(
            "nobody",
            json!([{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]),
        )
        .await;
    w.enforce().await;
    let server = w.server(|_| {}).await;
    let grants = json!({"buckets": [DATA, EMPTY]});

    let t = json!(true);
    let f = json!(false);
    let u = json!("unknown");
    let cases = [
        (
            "reader",
            &reader,
            expect(t.clone(), t.clone(), f.clone()),
            expect(t.clone(), u.clone(), f.clone()),
        ),
        (
            "prefix-writer",
            &prefix_writer,
            // Cannot list, so no real key is known to try reading; the probe under
            // uploads/ is allowed.
            expect(f.clone(), u.clone(), t.clone()),
            expect(f.clone(), u.clone(), f.clone()),
        ),
        (
            "lister",
            &lister,
            expect(t.clone(), f.clone(), f.clone()),
            expect(t.clone(), u.clone(), f.clone()),
        ),
        (
            "nobody",
            &nobody,
            expect(f.clone(), u.clone(), f.clone()),
            expect(f.clone(), u.clone(), f.clone()),
        ),
    ];
    for (who, creds, on_data, on_empty) in cases {
        let token = token_for(who, creds, grants.clone());
        let data = agreed(&server, &token, DATA).await;
        assert_eq!(triple(&data), on_data, "{who} on {DATA}: {data}");
        let empty = agreed(&server, &token, EMPTY).await;
        assert_eq!(triple(&empty), on_empty, "{who} on {EMPTY}: {empty}");
        // Unknowns say why.
        for a in [&data, &empty] {
            for op in ["list", "read", "write"] {
                let reason = a["evidence"][op]["reason"].as_str().expect("reason");
                match &a[op] {
                    Value::Bool(true) => assert_eq!(reason, "allowed", "{who} {op}: {a}"),
                    Value::Bool(false) => assert_eq!(reason, "access_denied", "{who} {op}: {a}"),
                    _ => assert!(
                        ["no_object", "list_denied"].contains(&reason),
                        "{who} {op}: {a}"
                    ),
                }
            }
        }
        if empty["list"] == true {
            assert_eq!(empty["evidence"]["read"]["reason"], "no_object", "{empty}");
        }
    }

    // Evidence names who asked: the role for the role_claim caller.
    let token = token_for("reader", &reader, grants.clone());
    let checked = call_as(
        &server,
        &token,
        "check_bucket_access",
        json!({"bucket": DATA}),
    )
    .await;
    assert_eq!(
        checked["_meta"]["quilt-mcp/credential_source"],
        "role_claim"
    );
    let evidence = &ok(&checked)["evidence"];
    assert_eq!(evidence["list"]["credential_source"], "role_claim");
    assert!(
        evidence["read"]["role_arn"]
            .as_str()
            .is_some_and(|r| r.ends_with("role/perm-reader")),
        "{evidence}"
    );
    assert!(
        evidence["read"]["check"]
            .as_str()
            .is_some_and(|c| c.contains("data/a.csv")),
        "read was tried on a real key: {evidence}"
    );

    // Categories of discover_permissions follow the answers.
    let token = token_for("prefix-writer", &prefix_writer, grants.clone());
    let d = call_as(&server, &token, "discover_permissions", json!({})).await;
    let d = ok(&d);
    assert_eq!(d["bucket_source"], "grants");
    assert_eq!(d["categories"]["writable"], json!([DATA]));
    assert_eq!(d["categories"]["undetermined"], json!([EMPTY]));
    assert!(
        d["identity"]["arn"]
            .as_str()
            .is_some_and(|a| a.ends_with("user/prefix-writer")),
        "{d}"
    );
    let token = token_for("lister", &lister, grants.clone());
    let d = call_as(&server, &token, "discover_permissions", json!({})).await;
    assert_eq!(ok(&d)["categories"]["list_only"], json!([DATA]));

    // Every probe cleaned up after itself.
    assert_eq!(
        w.versions_under(DATA, "uploads/").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn read_only_caller_is_never_reported_writable() {
    // The seeds' bug: a caller who can list (and read) was reported as able to write.
    let w = World::start().await;
    let reader = w
        .user(
            "seed-reader",
            json!([
                bucket_arns(&["s3:ListBucket", "s3:ListBucketVersions"], &[DATA], false),
                bucket_arns(&["s3:GetObject", "s3:GetObjectVersion"], &[DATA], true),
            ]),
        )
        .await;
    w.enforce().await;
    let with_probes = w.server(|_| {}).await;
    let without_probes = w.server(|c| c.permission_write_probe_prefix = None).await;
    let token = token_for("seed-reader", &reader, json!({"buckets": [DATA]}));

    let probed = agreed(&with_probes, &token, DATA).await;
    assert_eq!(
        triple(&probed),
        (json!(true), json!(true), json!(false)),
        "{probed}"
    );
    assert_eq!(probed["evidence"]["write"]["reason"], "access_denied");

    let unprobed = agreed(&without_probes, &token, DATA).await;
    assert_eq!(
        triple(&unprobed),
        (json!(true), json!(true), json!("unknown")),
        "without a probe, write is not guessed from list or read: {unprobed}"
    );
    assert_eq!(unprobed["evidence"]["write"]["reason"], "probe_disabled");
    let d = call_as(&without_probes, &token, "discover_permissions", json!({})).await;
    let d = ok(&d);
    assert_eq!(d["categories"]["writable"], json!([]));
    assert_eq!(d["categories"]["readable"], json!([DATA]));
    assert_eq!(d["write_probes"], false);

    // The tools say so in their annotations too: read-only without probes, not with them.
    for (server, read_only) in [(&without_probes, true), (&with_probes, false)] {
        let listed = rpc(&server.mcp(), Some(&token), MODERN, "tools/list", json!({})).await;
        let tools = listed.result()["tools"].as_array().expect("tools").clone();
        for name in ["discover_permissions", "check_bucket_access", "bucket_list"] {
            let tool = tools
                .iter()
                .find(|t| t["name"] == name)
                .unwrap_or_else(|| panic!("{name} listed"));
            assert_eq!(tool["annotations"]["readOnlyHint"], read_only, "{name}");
        }
    }
}

#[tokio::test]
async fn write_probe_leaves_nothing_behind_and_reports_a_refused_delete() {
    let w = World::start().await;
    let full = w
        .user(
            "full",
            json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
        )
        .await;
    let sticky = w
        .user(
            "sticky",
            json!([{"Effect": "Allow", "Action": ["s3:PutObject"],
                    "Resource": [format!("arn:aws:s3:::{DATA}/uploads/*")]}]),
        )
        .await;
    w.enforce().await;
    let server = w.server(|_| {}).await;

    // A versioned bucket: the exact version written is deleted, no delete marker is left.
    let token = token_for("full", &full, json!({}));
    for bucket in [DATA, VERSIONED] {
        let a = call_as(
            &server,
            &token,
            "check_bucket_access",
            json!({"bucket": bucket}),
        )
        .await;
        let a = ok(&a);
        assert_eq!(triple(a), (json!(true), json!(true), json!(true)), "{a}");
        assert!(a["evidence"]["write"].get("leftover").is_none(), "{a}");
        assert!(
            a["evidence"]["write"]["check"]
                .as_str()
                .is_some_and(|c| c.contains(PROBE_PREFIX) && c.contains("SSE AES256")),
            "the probe is under the probe prefix, with the configured SSE: {a}"
        );
        assert_eq!(
            w.versions_under(bucket, "uploads/").await,
            Vec::<String>::new(),
            "nothing left in {bucket}"
        );
    }

    // The probe carries the same SSE as bucket_objects_put: with aws:kms, so does the probe.
    let kms = w
        .server(|c| {
            c.s3_sse = "aws:kms".into();
            c.s3_sse_kms_key_id = Some("alias/quilt".into());
        })
        .await;
    let a = call_as(
        &kms,
        &token,
        "check_bucket_access",
        json!({"bucket": DATA, "operations": ["write"]}),
    )
    .await;
    let a = ok(&a);
    assert_eq!(a["write"], true, "{a}");
    assert!(
        a["evidence"]["write"]["check"]
            .as_str()
            .is_some_and(|c| c.contains("SSE aws:kms")),
        "{a}"
    );
    assert_eq!(
        w.versions_under(DATA, "uploads/").await,
        Vec::<String>::new()
    );

    // Delete refused: still writable, and the object left behind is reported.
    let token = token_for("sticky", &sticky, json!({}));
    let a = call_as(
        &server,
        &token,
        "check_bucket_access",
        json!({"bucket": DATA, "operations": ["write"]}),
    )
    .await;
    let a = ok(&a);
    assert_eq!(a["write"], true, "{a}");
    assert_eq!(
        (a["list"].clone(), a["evidence"]["list"]["reason"].clone()),
        (json!("unknown"), json!("not_requested"))
    );
    let leftover = a["evidence"]["write"]["leftover"]
        .as_str()
        .expect("leftover reported");
    let detail = a["evidence"]["write"]["detail"].as_str().expect("detail");
    assert!(
        detail.contains("deleting the probe object failed"),
        "{detail}"
    );
    let key = leftover
        .strip_prefix(&format!("s3://{DATA}/"))
        .expect("s3 uri");
    assert!(key.starts_with(PROBE_PREFIX), "{key}");
    assert_eq!(
        w.versions_under(DATA, PROBE_PREFIX).await,
        vec![key.to_owned()]
    );
    w.moto
        .s3()
        .delete_object()
        .bucket(DATA)
        .key(key)
        .send()
        .await
        .expect("clean up");
}

#[tokio::test]
async fn unknown_bucket_is_false_everywhere_not_an_error() {
    let w = World::start().await;
    let full = w
        .user(
            "full",
            json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
        )
        .await;
    w.enforce().await;
    let server = w.server(|_| {}).await;
    let token = token_for("full", &full, json!({}));

    let a = call_as(
        &server,
        &token,
        "check_bucket_access",
        json!({"bucket": "perm-no-such-bucket"}),
    )
    .await;
    let a = ok(&a);
    assert_eq!(triple(a), (json!(false), json!(false), json!(false)), "{a}");
    for op in ["list", "read", "write"] {
        assert_eq!(a["evidence"][op]["reason"], "no_such_bucket", "{op}: {a}");
    }

    let d = call_as(
        &server,
        &token,
        "discover_permissions",
        json!({"check_buckets": [DATA, "perm-no-such-bucket", "Not_A_Bucket!", DATA]}),
    )
    .await;
    let d = ok(&d);
    assert_eq!(d["bucket_source"], "check_buckets");
    let names: Vec<&str> = d["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b["bucket"].as_str().expect("bucket"))
        .collect();
    assert_eq!(
        names,
        [DATA, "perm-no-such-bucket"],
        "duplicates checked once"
    );
    assert_eq!(d["categories"]["no_access"], json!(["perm-no-such-bucket"]));
    assert_eq!(d["skipped"][0]["bucket"], "Not_A_Bucket!");

    // Bad arguments are tool errors that change nothing.
    for args in [
        json!({"bucket": "Not_A_Bucket!"}),
        json!({"bucket": DATA, "operations": []}),
        json!({"bucket": DATA, "operations": ["delete"]}),
    ] {
        let (code, message) =
            err(&call_as(&server, &token, "check_bucket_access", args.clone()).await);
        assert_eq!(code, "invalid_argument", "{args}: {message}");
    }
    let (code, _) = err(&call_as(
        &server,
        &token,
        "discover_permissions",
        json!({"check_buckets": []}),
    )
    .await);
    assert_eq!(code, "invalid_argument");
    assert_eq!(
        w.versions_under(DATA, "uploads/").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn probe_outside_the_grants_or_without_write_scope_leaves_write_unknown() {
    let w = World::start().await;
    let full = w
        .user(
            "full",
            json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
        )
        .await;
    w.enforce().await;
    let server = w.server(|_| {}).await;

    // Granted only data/: the bucket is checked at data/, the probe prefix is outside.
    let token = token_for("full", &full, json!({"buckets": [format!("{DATA}/data/")]}));
    let a = agreed(&server, &token, DATA).await;
    assert_eq!(a["prefix"], "data/");
    assert_eq!(
        triple(&a),
        (json!(true), json!(true), json!("unknown")),
        "{a}"
    );
    assert_eq!(a["evidence"]["write"]["reason"], "probe_outside_grants");
    let (code, _) = err(&call_as(
        &server,
        &token,
        "check_bucket_access",
        json!({"bucket": format!("{DATA}/uploads/")}),
    )
    .await);
    assert_eq!(
        code, "not_permitted",
        "a prefix outside the grants is refused"
    );

    // A token without quilt:write: the server writes nothing on its behalf.
    let mut c = claims("reader-scope", json!({}));
    c["scope"] = json!("quilt:read");
    let Creds::User(k, s) = &full else {
        unreachable!()
    };
    c["aws_credentials"] = json!({"access_key_id": k, "secret_access_key": s});
    let token = hs256(&c, SECRET);
    let a = call_as(
        &server,
        &token,
        "check_bucket_access",
        json!({"bucket": DATA}),
    )
    .await;
    let a = ok(&a);
    assert_eq!(a["write"], "unknown");
    assert_eq!(a["evidence"]["write"]["reason"], "no_write_scope");
    assert_eq!(
        w.versions_under(DATA, "uploads/").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn concurrent_identical_checks_share_one_probe_and_force_refresh_probes_again() {
    let w = World::start().await;
    let full = w
        .user(
            "full",
            json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
        )
        .await;
    w.enforce().await;
    let server = w.server(|_| {}).await;
    let token = token_for("full", &full, json!({}));
    let calls = (0..8).map(|_| {
        let (url, token) = (server.mcp(), token.clone());
        async move {
            call_tool(
                &url,
                Some(&token),
                "check_bucket_access",
                json!({"bucket": DATA}),
            )
            .await
            .result()
            .clone()
        }
    });
    let answers = futures::future::join_all(calls).await;
    let probe_ids = |a: &Value| {
        ["list", "read", "write"].map(|op| {
            a["structuredContent"]["evidence"][op]["probe_id"]
                .as_str()
                .expect("probe id")
                .to_owned()
        })
    };
    let first = probe_ids(&answers[0]);
    for a in &answers {
        assert_eq!(
            probe_ids(a),
            first,
            "one probe per operation for all 8 calls"
        );
    }
    let again = call_as(
        &server,
        &token,
        "check_bucket_access",
        json!({"bucket": DATA}),
    )
    .await;
    assert_eq!(ok(&again)["cached"], true);
    assert_eq!(probe_ids(&again), first);
    let fresh = call_as(
        &server,
        &token,
        "check_bucket_access",
        json!({"bucket": DATA, "force_refresh": true}),
    )
    .await;
    let fresh_ids = probe_ids(&fresh);
    for (a, b) in fresh_ids.iter().zip(&first) {
        assert_ne!(a, b, "force_refresh probed again");
    }
    // Another caller never shares a probe (or a cached answer) with this one.
    let other = w
        .user(
            "other-full",
            json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
        )
        .await;
    let other_token = token_for("other", &other, json!({}));
    let theirs = call_as(
        &server,
        &other_token,
        "check_bucket_access",
        json!({"bucket": DATA}),
    )
    .await;
    assert_eq!(ok(&theirs)["cached"], false);
    assert_ne!(probe_ids(&theirs)[0], fresh_ids[0]);
    assert_eq!(
        w.versions_under(DATA, "uploads/").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn credential_and_sts_failures_are_clear_tool_errors() {
    let w = World::start().await;
    let reader = w
        .role(
            "perm-reader",
            json!([bucket_arns(&["s3:ListBucket"], &[DATA], false)]),
        )
        .await;
    w.enforce().await;

    // STS refuses the caller's credentials (a key IAM does not know).
    let server = w.server(|_| {}).await;
    let bogus = Creds::User("AKIAUNKNOWNUNKNOWN01".into(), "nope".into());
    let token = token_for("bogus", &bogus, json!({}));
    let (code, message) = err(&call_as(
        &server,
        &token,
        "discover_permissions",
        json!({"check_buckets": [DATA]}),
    )
    .await);
    assert_eq!(code, "access_denied", "{message}");
    assert!(
        message.contains("GetCallerIdentity") && message.contains("jwt"),
        "{message}"
    );
    assert!(!message.contains("nope"), "no secret in errors");

    // The server cannot assume the caller's role (its identity lacks sts:AssumeRole).
    let (k, s) = w
        .moto
        .user(
            "perm-server-without-sts",
            allow(&["s3:ListAllMyBuckets"], &["*"]),
        )
        .await;
    let url = w.moto.url.clone();
    let server = TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["role_claim".into()];
            c.role_arn_allow = vec![format!("arn:aws:iam::{ACCOUNT}:role/perm-*")];
        },
        Some(w.moto.identity(&k, &s)),
        Arc::new(SystemClock),
    )
    .await;
    let token = token_for("reader", &reader, json!({}));
    for (tool, args) in [
        ("discover_permissions", json!({"check_buckets": [DATA]})),
        ("check_bucket_access", json!({"bucket": DATA})),
    ] {
        let r = call_as(&server, &token, tool, args).await;
        let (code, message) = err(&r);
        assert_eq!(code, "access_denied", "{tool}: {message}");
        assert_eq!(
            r["structuredContent"]["error"]["credential_source"], "role_claim",
            "{tool}"
        );
    }
}

#[tokio::test]
async fn work_per_call_is_capped_and_what_was_skipped_is_reported() {
    let w = World::start().await;
    let full = w
        .user(
            "full",
            json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
        )
        .await;
    w.enforce().await;
    let server = w
        .server(|c| {
            c.permission_max_buckets = 2;
            c.permission_concurrency = 2;
        })
        .await;
    let token = token_for("full", &full, json!({"buckets": [DATA, EMPTY, VERSIONED]}));

    let d = call_as(&server, &token, "discover_permissions", json!({})).await;
    let d = ok(&d);
    let checked: Vec<&str> = d["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b["bucket"].as_str().expect("bucket"))
        .collect();
    assert_eq!(checked, [DATA, EMPTY]);
    assert_eq!(d["skipped"].as_array().map(Vec::len), Some(1), "{d}");
    assert_eq!(d["skipped"][0]["bucket"], VERSIONED);
    assert!(
        d["skipped"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("MCP_PERMISSION_MAX_BUCKETS")),
        "{d}"
    );

    let listed = call_as(&server, &token, "bucket_list", json!({})).await;
    let listed = ok(&listed);
    assert_eq!(listed["not_checked"], json!([VERSIONED]));
    let buckets = listed["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 3, "every bucket is listed, checked or not");
    assert!(buckets[2]["access"].is_null(), "{listed}");
    assert_eq!(
        buckets[0]["access"]["cached"], true,
        "discover's answer reused"
    );
    // The skipped bucket can still be asked about on its own.
    let one = call_as(
        &server,
        &token,
        "check_bucket_access",
        json!({"bucket": VERSIONED}),
    )
    .await;
    assert_eq!(triple(ok(&one)), (json!(true), json!(true), json!(true)));
}

#[tokio::test]
async fn an_s3_outage_is_unknown_and_never_cached() {
    use crate::fault_proxy::{FaultProxy, Mode};
    let w = World::start().await;
    let full = w
        .user(
            "full",
            json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
        )
        .await;
    w.enforce().await;
    let proxy = FaultProxy::start(&w.moto.url).await;
    let url = proxy.url.clone();
    let server = TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["jwt".into()];
            c.permission_write_probe_prefix = Some(PROBE_PREFIX.into());
        },
        None,
        Arc::new(SystemClock),
    )
    .await;
    let token = token_for("full", &full, json!({}));

    proxy.set_mode(Mode::Unavailable);
    let a = call_as(
        &server,
        &token,
        "check_bucket_access",
        json!({"bucket": DATA}),
    )
    .await;
    let a = ok(&a).clone();
    assert_eq!(
        triple(&a),
        (json!("unknown"), json!("unknown"), json!("unknown")),
        "an outage proves nothing: {a}"
    );
    for op in ["list", "read", "write"] {
        assert_eq!(a["evidence"][op]["reason"], "inconclusive", "{op}: {a}");
    }

    proxy.set_mode(Mode::Pass);
    // (List and read only: the test proxy drops Content-Length, which breaks the signature
    // of a zero-byte PUT; the write probe is shown against moto directly elsewhere.)
    let b = call_as(
        &server,
        &token,
        "check_bucket_access",
        json!({"bucket": DATA, "operations": ["list", "read"]}),
    )
    .await;
    let b = ok(&b);
    assert_eq!(b["cached"], false, "the outage's answers were not kept");
    assert_eq!(
        (b["list"].clone(), b["read"].clone()),
        (json!(true), json!(true)),
        "{b}"
    );
    // Every request the engine made was signed with the caller's own key.
    let Creds::User(key, _) = &full else {
        unreachable!()
    };
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    for s in &seen {
        assert_eq!(s.access_key.as_deref(), Some(key.as_str()), "{}", s.path);
    }
    assert_eq!(
        w.versions_under(DATA, "uploads/").await,
        Vec::<String>::new()
    );
}
