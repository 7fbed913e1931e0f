//! `package_create` and `package_create_from_s3` as MCP tasks (SEP-2663) over real HTTP against
//! moto, with a fault proxy slowing the source objects so the write outlasts the one-second
//! window: the call becomes a task; a second server sharing the key (another replica, talking to
//! moto directly) sees it working and then completed with the result a synchronous call gives,
//! and quilt3 sees the revision; a cancel before the commit point leaves no manifest and no
//! pointer; a runner cut off from S3 stops heartbeating and its task reads `failed`; shutdown
//! waits for a run within the grace period and records one past it as abandoned; another
//! caller's, a tampered and an unknown id are -32602; a deleted or altered state object, a
//! caller whose grants no longer cover the registry and one whose AWS credentials lost access
//! (IAM enforced in moto) each get their own answer and change nothing; a client without the
//! extension gets the synchronous call.

use std::sync::Arc;
use std::time::Duration;

use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::fault_proxy::{FaultProxy, Mode};
use crate::moto::*;
use crate::support::*;
use crate::tasks::task_rpc;

const REGISTRY: &str = "pkg-registry";
const SOURCE: &str = "pkg-source";
const STATE_PREFIX: &str = ".quilt/mcp-tasks/";

/// The stack roles, made in moto once per test.
async fn roles(moto: &Moto) -> (String, String) {
    let read = moto.role("PkgTaskReadRole", "*", allow_all()).await;
    let write = moto.role("PkgTaskWriteRole", "*", allow_all()).await;
    (read, write)
}

/// A replica whose S3 and STS go to `endpoint` (moto, or the proxy in front of it), acting
/// with the stack roles `roles`, heartbeats every second (a task is stale after six) and
/// `grace_s` to drain at shutdown. Every replica shares the key (the JWT secret).
async fn replica_at(
    moto: &Moto,
    endpoint: &str,
    roles: &(String, String),
    grace_s: u64,
) -> TestServer {
    let (url, read, write) = (endpoint.to_owned(), roles.0.clone(), roles.1.clone());
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read);
            c.write_role_arn = Some(write);
            c.s3_sse = "AES256".into();
            c.task_heartbeat_s = 1;
            c.shutdown_grace_s = grace_s;
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await
}

/// The runner (through the proxy at `proxy`) and another replica talking to moto directly.
async fn replicas(moto: &Moto, proxy: &str) -> (TestServer, TestServer) {
    let roles = roles(moto).await;
    let runner = replica_at(moto, proxy, &roles, 25).await;
    let replica = replica_at(moto, &moto.url, &roles, 25).await;
    (runner, replica)
}

/// The registry and `n` small source objects `data/<i>.csv`.
async fn buckets(moto: &Moto, n: usize) -> Vec<String> {
    let s3 = moto.s3();
    for b in [REGISTRY, SOURCE] {
        s3.create_bucket().bucket(b).send().await.expect("bucket");
    }
    let mut uris = Vec::new();
    for i in 0..n {
        let key = format!("data/{i:02}.csv");
        s3.put_object()
            .bucket(SOURCE)
            .key(&key)
            .body(format!("n,sq\n{i},{}\n", i * i).into_bytes().into())
            .send()
            .await
            .expect("put");
        uris.push(format!("s3://{SOURCE}/{key}"));
    }
    uris
}

async fn keys(moto: &Moto, prefix: &str) -> Vec<String> {
    crate::packaging::keys(moto, REGISTRY, prefix).await
}

fn create_args(name: &str, uris: &[String]) -> Value {
    json!({"name": "package_create", "arguments": {
        "registry": format!("s3://{REGISTRY}"),
        "package_name": name,
        "s3_uris": uris,
        "message": "tasks",
        "metadata": {"origin": "package_tasks"},
    }})
}

async fn get(server: &TestServer, token: &str, id: &str) -> Value {
    task_rpc(server, token, "tasks/get", json!({"taskId": id}), true).await
}

async fn cancel(server: &TestServer, token: &str, id: &str) -> Value {
    task_rpc(server, token, "tasks/cancel", json!({"taskId": id}), true).await
}

/// Polls `tasks/get` (every 250 ms, at most 60 s) until the task is not working; the last
/// answer and what each working answer said (its `statusMessage`, else "working").
async fn until_over(server: &TestServer, token: &str, id: &str) -> (Value, Vec<String>) {
    let mut seen = Vec::new();
    for _ in 0..240 {
        let r = get(server, token, id).await;
        let status = r["result"]["status"]
            .as_str()
            .unwrap_or_else(|| panic!("{r}"))
            .to_owned();
        if status != "working" {
            return (r, seen);
        }
        // What a working task says of itself: its progress message, when it has one.
        seen.push(
            r["result"]["statusMessage"]
                .as_str()
                .unwrap_or(&status)
                .to_owned(),
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("task {id} still working after 60 s");
}

/// Starts a task of `args` on `server` as `token`; its id.
async fn start_task(server: &TestServer, token: &str, args: Value) -> String {
    let created = task_rpc(server, token, "tools/call", args, true).await;
    let created = &created["result"];
    assert_eq!(created["resultType"], "task", "{created}");
    assert_eq!(created["status"], "working", "{created}");
    assert!(
        created["ttlMs"].as_u64().is_some_and(|t| t > 0),
        "{created}"
    );
    created["taskId"].as_str().expect("taskId").to_owned()
}

#[tokio::test]
async fn a_slow_package_create_becomes_a_task_any_replica_resolves() {
    let moto = Moto::start().await;
    let proxy = FaultProxy::start(&moto.url).await;
    let uris = buckets(&moto, 20).await;
    let (runner, replica) = replicas(&moto, &proxy.url).await;
    let alice = token("alice");

    // The reference: the same package written synchronously (no tasks declared).
    let sync = call_as(
        &replica,
        &alice,
        "package_create",
        create_args("alice/sync", &uris)["arguments"].clone(),
    )
    .await;
    let sync = ok(&sync).clone();
    assert!(
        keys(&moto, STATE_PREFIX).await.is_empty(),
        "a synchronous call wrote task state"
    );

    // Slow source objects: the write outlasts the window and becomes a task.
    // Slow source and copied objects (1 s a request; 20 objects, 16 at a time: two waves).
    proxy.set_slow_path(Some(("data/", 1000)));
    let id = start_task(&runner, &alice, create_args("alice/task", &uris)).await;
    let state = keys(&moto, STATE_PREFIX).await;
    assert_eq!(state.len(), 1, "{state:?}");
    assert!(state[0].ends_with(".json"), "{state:?}");

    // The other replica resolves the id: working, then completed with the synchronous result.
    let first = get(&replica, &alice, &id).await;
    assert_eq!(first["result"]["status"], "working", "{first}");
    assert_eq!(first["result"]["taskId"], id.as_str(), "{first}");
    let (done, seen) = until_over(&replica, &alice, &id).await;
    let done = &done["result"];
    assert_eq!(done["status"], "completed", "{done}");
    // The runner's progress reached the other replica through the state object.
    assert!(
        seen.iter().any(|m| m.contains("/20 objects")),
        "no progress seen: {seen:?}"
    );
    assert_eq!(done["result"]["isError"], false, "{done}");
    let result = &done["result"]["structuredContent"];
    assert_eq!(result["top_hash"], sync["top_hash"], "{done}");
    assert_eq!(result["entries"], 20);
    assert_eq!(result["package_name"], "alice/task");
    // The runner's replica says the same.
    let again = get(&runner, &alice, &id).await;
    assert_eq!(again["result"]["status"], "completed", "{again}");
    assert_eq!(
        again["result"]["result"]["structuredContent"]["top_hash"],
        sync["top_hash"]
    );

    // The revision is there for the package tools and for quilt3.
    let browsed = call_as(
        &replica,
        &alice,
        "package_browse",
        json!({"registry": format!("s3://{REGISTRY}"), "package_name": "alice/task"}),
    )
    .await;
    assert_eq!(ok(&browsed)["top_hash"], sync["top_hash"]);
    let theirs = crate::packaging::quilt3_browse(&moto, REGISTRY, "alice/task", None).await;
    assert_eq!(theirs["top_hash"], sync["top_hash"], "{theirs}");

    // Cancelling a completed task changes nothing and answers the same acknowledgement.
    let r = cancel(&replica, &alice, &id).await;
    assert_eq!(r["result"], json!({"resultType": "complete"}), "{r}");
    assert_eq!(
        get(&replica, &alice, &id).await["result"]["status"],
        "completed"
    );
    assert!(
        !keys(&moto, STATE_PREFIX)
            .await
            .iter()
            .any(|k| k.ends_with(".cancel"))
    );

    // Another caller, a tampered id, an id never issued: -32602 on both replicas, nothing read.
    let mallory = token("mallory");
    let mut tampered = id.clone();
    let last = tampered.pop().expect("char");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for server in [&runner, &replica] {
        for (who, task) in [
            (&mallory, id.as_str()),
            (&alice, tampered.as_str()),
            (&alice, "nope"),
        ] {
            let r = get(server, who, task).await;
            assert_eq!(r["error"]["code"], -32602, "{task}: {r}");
            assert_eq!(r["error"]["message"], "unknown task id", "{r}");
            let r = cancel(server, who, task).await;
            assert_eq!(r["error"]["code"], -32602, "cancel {task}: {r}");
        }
    }
    // Alice whose grants no longer include the registry: refused before any AWS call.
    let narrowed = hs256(&claims("alice", json!({"buckets": [SOURCE]})), SECRET);
    let r = get(&replica, &narrowed, &id).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert_eq!(r["error"]["data"]["code"], "not_permitted", "{r}");
    // Without the extension declared the task methods do not exist for the client (rmcp).
    let r = task_rpc(&replica, &alice, "tasks/get", json!({"taskId": id}), false).await;
    assert_eq!(r["error"]["code"], -32021, "{r}");

    // A client without the extension: the same slow write is one synchronous call.
    let plain = task_rpc(
        &runner,
        &alice,
        "tools/call",
        create_args("alice/plain", &uris),
        false,
    )
    .await;
    let plain = &plain["result"];
    assert_eq!(plain["resultType"], "complete", "{plain}");
    assert!(plain.get("taskId").is_none(), "{plain}");
    assert_eq!(
        plain["structuredContent"]["top_hash"], sync["top_hash"],
        "{plain}"
    );
    assert_eq!(
        keys(&moto, STATE_PREFIX).await.len(),
        1,
        "a plain call wrote task state"
    );

    // The state object altered by someone who may write the bucket: the task reads failed.
    moto.s3()
        .put_object()
        .bucket(REGISTRY)
        .key(&state[0])
        .body(
            br#"{"v":1,"state":"{\"status\":\"completed\"}","mac":"AAAA"}"#
                .to_vec()
                .into(),
        )
        .send()
        .await
        .expect("forge");
    let r = get(&replica, &alice, &id).await;
    assert_eq!(r["result"]["status"], "failed", "{r}");
    let message = r["result"]["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("changed outside this server"), "{r}");
    // Deleted (or expired by a lifecycle rule): an unknown task, saying why.
    moto.s3()
        .delete_object()
        .bucket(REGISTRY)
        .key(&state[0])
        .send()
        .await
        .expect("delete");
    let r = get(&replica, &alice, &id).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("no longer exists"), "{r}");
    let r = cancel(&replica, &alice, &id).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
}

#[tokio::test]
async fn a_cancel_before_the_commit_point_leaves_no_manifest_and_no_pointer() {
    let moto = Moto::start().await;
    let proxy = FaultProxy::start(&moto.url).await;
    buckets(&moto, 16).await;
    let (runner, replica) = replicas(&moto, &proxy.url).await;
    let alice = token("alice");
    proxy.set_slow_path(Some(("data/", 1000)));
    let manifests_before = keys(&moto, ".quilt/packages/").await;
    let args = json!({"name": "package_create_from_s3", "arguments": {
        "source_bucket": SOURCE,
        "source_prefix": "data/",
        "target_registry": format!("s3://{REGISTRY}"),
        "package_name": "alice/cancelled",
    }});
    let id = start_task(&runner, &alice, args).await;
    // Another caller cannot cancel it.
    let r = cancel(&replica, &token("mallory"), &id).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    // Alice cancels through the other replica; the runner sees it through S3.
    let r = cancel(&replica, &alice, &id).await;
    assert_eq!(r["result"], json!({"resultType": "complete"}), "{r}");
    let (over, _) = until_over(&replica, &alice, &id).await;
    assert_eq!(over["result"]["status"], "cancelled", "{over}");
    assert!(over["result"].get("result").is_none(), "{over}");
    proxy.set_slow_path(None);
    // Nothing committed: no pointer, no new manifest.
    assert!(
        keys(&moto, ".quilt/named_packages/alice/cancelled/")
            .await
            .is_empty()
    );
    assert_eq!(keys(&moto, ".quilt/packages/").await, manifests_before);
    let browsed = call_as(
        &replica,
        &alice,
        "package_browse",
        json!({"registry": format!("s3://{REGISTRY}"), "package_name": "alice/cancelled"}),
    )
    .await;
    assert_eq!(err(&browsed).0, "not_found", "{browsed}");
    // Cancelling again changes nothing.
    let r = cancel(&runner, &alice, &id).await;
    assert_eq!(r["result"], json!({"resultType": "complete"}), "{r}");
    assert_eq!(
        get(&runner, &alice, &id).await["result"]["status"],
        "cancelled"
    );
}

#[tokio::test]
async fn a_runner_that_stops_heartbeating_reads_failed_on_the_other_replica() {
    let moto = Moto::start().await;
    let proxy = FaultProxy::start(&moto.url).await;
    let uris = buckets(&moto, 12).await;
    let (runner, replica) = replicas(&moto, &proxy.url).await;
    let alice = token("alice");
    proxy.set_slow_path(Some(("data/", 1000)));
    let id = start_task(&runner, &alice, create_args("alice/stale", &uris)).await;
    assert_eq!(
        get(&replica, &alice, &id).await["result"]["status"],
        "working"
    );
    // The runner's replica loses S3 for good: no heartbeat, no outcome reaches the bucket.
    proxy.set_mode(Mode::Cut);
    let cut_at = std::time::Instant::now();
    let (over, seen) = until_over(&replica, &alice, &id).await;
    let over = &over["result"];
    assert_eq!(over["status"], "failed", "{over}");
    let message = over["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("the run stopped") && message.contains("no heartbeat"),
        "{over}"
    );
    assert!(
        message.contains("no manifest or pointer was written"),
        "{over}"
    );
    // Working until six heartbeats (6 s) had passed, not before.
    assert!(
        !seen.is_empty() && cut_at.elapsed() >= Duration::from_secs(5),
        "{seen:?}"
    );
    assert!(
        keys(&moto, ".quilt/named_packages/alice/stale/")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn shutdown_waits_for_runs_within_the_grace_period_and_records_the_rest_as_abandoned() {
    let moto = Moto::start().await;
    let proxy = FaultProxy::start(&moto.url).await;
    let uris = buckets(&moto, 4).await;
    let roles = roles(&moto).await;
    let patient = replica_at(&moto, &proxy.url, &roles, 20).await;
    let hasty = replica_at(&moto, &proxy.url, &roles, 1).await;
    let replica = replica_at(&moto, &moto.url, &roles, 25).await;
    let alice = token("alice");
    // Each source request takes 2 s: a write (HEADs, then copies) takes over 4 s.
    proxy.set_slow_path(Some(("data/", 2000)));
    let finishing = start_task(&patient, &alice, create_args("alice/finishing", &uris)).await;
    let abandoned = start_task(&hasty, &alice, create_args("alice/abandoned", &uris)).await;

    // Both replicas get SIGTERM now. With 20 s of grace, shutdown waits for the run, which
    // completes; with 1 s the run is stopped and records why, with nothing committed.
    let began = std::time::Instant::now();
    let (a, b) = tokio::join!(patient.shutdown(), hasty.shutdown());
    a.expect("shutdown");
    b.expect("shutdown");
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_secs(2),
        "did not wait for the run: {waited:?}"
    );
    let r = get(&replica, &alice, &finishing).await;
    assert_eq!(r["result"]["status"], "completed", "{r}");
    assert_eq!(r["result"]["result"]["isError"], false, "{r}");
    assert_eq!(
        keys(&moto, ".quilt/named_packages/alice/finishing/")
            .await
            .len(),
        2
    );
    let r = get(&replica, &alice, &abandoned).await;
    assert_eq!(r["result"]["status"], "failed", "{r}");
    let message = r["result"]["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("stopped (shutdown)"), "{r}");
    assert!(
        keys(&moto, ".quilt/named_packages/alice/abandoned/")
            .await
            .is_empty()
    );
}

/// Alice's task, then Alice with other AWS credentials (the `jwt` source, IAM enforced in
/// moto): read-only ones cannot cancel (`access_denied`, the run goes on and completes), and
/// ones without S3 read cannot even read the state (`access_denied`); nothing changes.
#[tokio::test]
async fn a_caller_whose_credentials_lost_access_gets_access_denied_and_changes_nothing() {
    let mut moto = Moto::start().await;
    moto.create_admin().await;
    let proxy = FaultProxy::start(&moto.url).await;
    let uris = buckets(&moto, 4).await;
    let writer = moto.user("pkg-writer", allow_all()).await;
    let reader = moto
        .user(
            "pkg-reader",
            allow(&["s3:GetObject", "s3:ListBucket"], &["*"]),
        )
        .await;
    let nobody = moto
        .user("pkg-nobody", allow(&["sts:GetCallerIdentity"], &["*"]))
        .await;
    moto.enforce_iam().await;
    let start = |endpoint: &str| {
        let url = endpoint.to_owned();
        TestServer::start_with_aws(
            move |c| {
                c.aws_endpoint_url = Some(url);
                c.credential_sources = vec!["jwt".into()];
                c.s3_sse = "AES256".into();
                c.task_heartbeat_s = 1;
            },
            Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
            Arc::new(SystemClock),
        )
    };
    let runner = start(&proxy.url).await;
    let replica = start(&moto.url).await;
    let alice_with = |(akid, secret): &(String, String)| {
        hs256(
            &claims(
                "alice",
                json!({"aws_credentials": {"access_key_id": akid, "secret_access_key": secret}}),
            ),
            SECRET,
        )
    };
    proxy.set_slow_path(Some(("data/", 2000)));
    let id = start_task(
        &runner,
        &alice_with(&writer),
        create_args("alice/denied", &uris),
    )
    .await;

    let r = cancel(&replica, &alice_with(&reader), &id).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert_eq!(r["error"]["data"]["code"], "access_denied", "{r}");
    let r = get(&replica, &alice_with(&nobody), &id).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert_eq!(r["error"]["data"]["code"], "access_denied", "{r}");
    // Nothing changed: no cancel marker, and the run completes.
    assert!(
        !keys(&moto, STATE_PREFIX)
            .await
            .iter()
            .any(|k| k.ends_with(".cancel"))
    );
    let (over, _) = until_over(&replica, &alice_with(&reader), &id).await;
    assert_eq!(over["result"]["status"], "completed", "{over}");
    assert_eq!(over["result"]["result"]["isError"], false, "{over}");
}
