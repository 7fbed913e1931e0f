//! Athena ownership through the server, against moto (behind the Athena shim where Athena's
//! own answers matter: result pages, unknown ids): callers that share one stack role cannot
//! see each other's history, results, status or page tokens (`not_found`, the answer an
//! unknown id gets); forged and truncated tokens are `invalid_argument`; tokens and ownership
//! hold across every task that shares the key, and only there; executions in workgroups the
//! server does not allow are invisible; bucket-restricted tokens may not query unless the
//! operator says Athena is outside bucket grants.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use quilt_mcp_aws::cache::SystemClock;
use quilt_mcp_server::config::Config;
use serde_json::{Value, json};

use crate::athena::{athena_api, queue_results, slow_executions};
use crate::athena_shim::AthenaShim;
use crate::moto::*;
use crate::support::*;

/// A server on `endpoint` where every caller is the same stack role, with `configure` applied.
async fn shared_role_server(
    moto: &Moto,
    endpoint: &str,
    configure: impl FnOnce(&mut Config) + Send + 'static,
) -> TestServer {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let role = moto
        .role(&format!("SharedAthena{n}"), "*", allow_all())
        .await;
    let url = endpoint.to_owned();
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(role);
            c.athena_output_location = Some("s3://athena-results/out/".into());
            configure(c);
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await
}

fn rows(n: usize) -> Vec<Vec<String>> {
    (0..n).map(|i| vec![format!("row{i:04}")]).collect()
}

fn ids(history: &Value) -> Vec<String> {
    ok(history)["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .map(|x| x["execution_id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn two_callers_under_one_stack_role_cannot_see_each_others_athena_work() {
    let moto = Moto::start().await;
    let shim = AthenaShim::start(&moto.url).await;
    let server = shared_role_server(&moto, &shim.url, |_| {}).await;
    let (alice, bob) = (token("alice"), token("bob"));

    // Alice: a finished query with more pages, and one still running (a handle).
    queue_results(&moto, &[("r", "varchar")], &rows(250)).await;
    let a1 = call_as(
        &server,
        &alice,
        "athena_query_execute",
        json!({"query": "SELECT r FROM alice_private", "max_results": 100}),
    )
    .await;
    let a1 = ok(&a1).clone();
    let a1_id = a1["execution_id"].as_str().expect("id").to_owned();
    let a1_next = a1["next_token"].as_str().expect("more pages").to_owned();
    slow_executions(&moto, 3).await;
    queue_results(&moto, &[("r", "varchar")], &rows(1)).await;
    let a2 = call_as(
        &server,
        &alice,
        "athena_query_execute",
        json!({"query": "SELECT r FROM alice_running", "max_wait_s": 0}),
    )
    .await;
    let a2_id = ok(&a2)["execution_id"].as_str().expect("id").to_owned();
    assert_ne!(ok(&a2)["state"], "SUCCEEDED", "{a2}");
    // Bob: one query of his own.
    queue_results(&moto, &[("r", "varchar")], &rows(1)).await;
    let b1 = call_as(
        &server,
        &bob,
        "athena_query_execute",
        json!({"query": "SELECT r FROM bob_table"}),
    )
    .await;
    let b1_id = ok(&b1)["execution_id"].as_str().expect("id").to_owned();
    // Someone using the same account outside this server.
    let outside = athena_api(
        &moto.url,
        "StartQueryExecution",
        json!({"QueryString": "SELECT secret FROM elsewhere", "WorkGroup": "primary"}),
    )
    .await;
    let x_id = outside["QueryExecutionId"].as_str().expect("id").to_owned();

    // What Athena holds: the owner as a keyed tag, not the caller's name.
    let raw = athena_api(
        &moto.url,
        "GetQueryExecution",
        json!({"QueryExecutionId": a1_id}),
    )
    .await;
    let text = raw["QueryExecution"]["Query"].as_str().expect("query");
    assert!(text.starts_with("-- quilt-mcp:owner="), "{text}");
    assert!(text.ends_with("\nSELECT r FROM alice_private"), "{text}");
    assert!(
        !text.contains("alice\n") && !text.contains("=alice"),
        "{text}"
    );

    // Histories: each caller sees exactly their own, as they wrote it.
    let mut alice_ids = ids(&call_as(&server, &alice, "athena_query_history", json!({})).await);
    alice_ids.sort();
    let mut expected = vec![a1_id.clone(), a2_id.clone()];
    expected.sort();
    assert_eq!(alice_ids, expected);
    let bob_history = call_as(&server, &bob, "athena_query_history", json!({})).await;
    assert_eq!(ids(&bob_history), vec![b1_id.clone()]);
    assert_eq!(
        ok(&bob_history)["executions"][0]["query"],
        "SELECT r FROM bob_table"
    );

    // Bob asks for Alice's results, her running query's status, the outsider's query, and an
    // id that does not exist: the same not_found each time.
    let unknown = "00000000-0000-0000-0000-000000000000";
    let unknown_answer = err(&call_as(
        &server,
        &bob,
        "athena_query_results",
        json!({"execution_id": unknown}),
    )
    .await);
    assert_eq!(unknown_answer.0, "not_found");
    for id in [&a1_id, &a2_id, &x_id] {
        let (code, message) = err(&call_as(
            &server,
            &bob,
            "athena_query_results",
            json!({"execution_id": id}),
        )
        .await);
        assert_eq!(code, "not_found", "{id}");
        assert_eq!(
            message.replace(id.as_str(), "ID"),
            unknown_answer.1.replace(unknown, "ID"),
            "a foreign id is answered like an unknown one"
        );
        assert!(
            !message.contains("alice") && !message.contains("SELECT"),
            "{message}"
        );
    }
    // Alice's own page token: not_found for Bob, whatever execution he names with it.
    let stolen = call_as(
        &server,
        &bob,
        "athena_query_results",
        json!({"execution_id": a1_id, "next_token": a1_next}),
    )
    .await;
    assert_eq!(err(&stolen).0, "not_found", "{stolen}");
    let reused = call_as(
        &server,
        &bob,
        "athena_query_results",
        json!({"execution_id": b1_id, "next_token": a1_next}),
    )
    .await;
    assert_eq!(err(&reused).0, "invalid_argument", "{reused}");

    // Alice: forged and truncated tokens are refused; hers continues where the page ended.
    let mut forged = a1_next.clone().into_bytes();
    let mid = forged.len() / 2;
    forged[mid] = if forged[mid] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    for (what, bad) in [
        ("forged", forged.as_str()),
        ("truncated", &a1_next[..a1_next.len() - 4]),
        ("cut in half", &a1_next[..mid]),
    ] {
        let r = call_as(
            &server,
            &alice,
            "athena_query_results",
            json!({"execution_id": a1_id, "next_token": bad}),
        )
        .await;
        let (code, message) = err(&r);
        assert_eq!(code, "invalid_argument", "{what}: {r}");
        assert!(message.contains("next_token"), "{what}: {message}");
    }
    let next = call_as(
        &server,
        &alice,
        "athena_query_results",
        json!({"execution_id": a1_id, "next_token": a1_next, "max_results": 100}),
    )
    .await;
    assert_eq!(ok(&next)["rows"][0], json!(["row0100"]), "{next}");
    // Her handle: she may follow it to the end; Bob may not (checked above).
    let mut last = Value::Null;
    for _ in 0..10 {
        last = call_as(
            &server,
            &alice,
            "athena_query_results",
            json!({"execution_id": a2_id}),
        )
        .await;
        if ok(&last)["state"] == "SUCCEEDED" {
            break;
        }
    }
    assert_eq!(ok(&last)["state"], "SUCCEEDED", "{last}");
}

#[tokio::test]
async fn ownership_holds_on_every_task_with_the_key_and_only_in_allowed_workgroups() {
    let moto = Moto::start().await;
    let shim = AthenaShim::start(&moto.url).await;
    let created = athena_api(
        &moto.url,
        "CreateWorkGroup",
        json!({"Name": "other", "Configuration": {"ResultConfiguration": {"OutputLocation": "s3://athena-results/other/"}}}),
    )
    .await;
    assert!(created.get("__type").is_none(), "{created}");
    // Two tasks of one deployment (the same JWT secret, so the same derived key), one of them
    // allowing a second workgroup; and a task of another deployment (its own handle key).
    let wide = shared_role_server(&moto, &shim.url, |c| {
        c.athena_allowed_workgroups = vec!["primary".into(), "other".into()];
    })
    .await;
    let narrow = shared_role_server(&moto, &shim.url, |_| {}).await;
    let foreign = shared_role_server(&moto, &shim.url, |c| {
        c.handle_key = Some("another-deployment-handle-key-0123456789".into());
    })
    .await;
    let alice = token("alice");

    queue_results(&moto, &[("r", "varchar")], &rows(1)).await;
    let o1 = call_as(
        &wide,
        &alice,
        "athena_query_execute",
        json!({"query": "SELECT r FROM t", "workgroup": "other"}),
    )
    .await;
    let o1_id = ok(&o1)["execution_id"].as_str().expect("id").to_owned();
    queue_results(&moto, &[("r", "varchar")], &rows(250)).await;
    let p1 = call_as(
        &wide,
        &alice,
        "athena_query_execute",
        json!({"query": "SELECT r FROM t", "max_results": 100}),
    )
    .await;
    let p1_id = ok(&p1)["execution_id"].as_str().expect("id").to_owned();
    let p1_next = ok(&p1)["next_token"].as_str().expect("more").to_owned();

    // Another task of the deployment accepts the handle and the page token.
    let next = call_as(
        &narrow,
        &alice,
        "athena_query_results",
        json!({"execution_id": p1_id, "next_token": p1_next, "max_results": 100}),
    )
    .await;
    assert_eq!(ok(&next)["rows"][0], json!(["row0100"]), "{next}");
    // But not the execution in a workgroup it does not allow, in results or history.
    let hidden = call_as(
        &narrow,
        &alice,
        "athena_query_results",
        json!({"execution_id": o1_id}),
    )
    .await;
    assert_eq!(err(&hidden).0, "not_found", "{hidden}");
    assert_eq!(
        ids(&call_as(&narrow, &alice, "athena_query_history", json!({})).await),
        vec![p1_id.clone()]
    );
    let mut both = ids(&call_as(&wide, &alice, "athena_query_history", json!({})).await);
    both.sort();
    let mut expected = vec![o1_id.clone(), p1_id.clone()];
    expected.sort();
    assert_eq!(both, expected);

    // A deployment with another key: the same caller owns nothing there, and its tokens fail.
    let r = call_as(
        &foreign,
        &alice,
        "athena_query_results",
        json!({"execution_id": p1_id}),
    )
    .await;
    assert_eq!(err(&r).0, "not_found", "{r}");
    let r = call_as(
        &foreign,
        &alice,
        "athena_query_results",
        json!({"execution_id": p1_id, "next_token": p1_next}),
    )
    .await;
    assert_eq!(err(&r).0, "invalid_argument", "{r}");
    assert_eq!(
        ids(&call_as(&foreign, &alice, "athena_query_history", json!({})).await),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn bucket_restricted_callers_may_not_query_unless_athena_is_allowed_outside_grants() {
    let moto = Moto::start().await;
    let restricted = hs256(&claims("carol", json!({"buckets": ["data"]})), SECRET);
    let open = token("dave");

    let server = shared_role_server(&moto, &moto.url, |_| {}).await;
    for (tool, args) in [
        ("athena_query_execute", json!({"query": "SELECT 1"})),
        ("athena_query_history", json!({})),
        (
            "athena_query_results",
            json!({"execution_id": "00000000-0000-0000-0000-000000000000"}),
        ),
    ] {
        let r = call_as(&server, &restricted, tool, args).await;
        let (code, message) = err(&r);
        assert_eq!(code, "not_permitted", "{tool}: {r}");
        assert!(
            message.contains("Athena is outside bucket grants"),
            "{tool}: {message}"
        );
    }
    let listed = athena_api(&moto.url, "ListQueryExecutions", json!({})).await;
    assert_eq!(
        listed["QueryExecutionIds"],
        json!([]),
        "nothing started: {listed}"
    );
    // The same token and query are fine for an unrestricted caller on the same server.
    queue_results(&moto, &[("n", "bigint")], &[vec!["1".into()]]).await;
    let r = call_as(
        &server,
        &open,
        "athena_query_execute",
        json!({"query": "SELECT 1 AS n"}),
    )
    .await;
    assert_eq!(ok(&r)["rows"], json!([["1"]]));

    // QUILT_BUCKETS restricts every caller.
    let server = shared_role_server(&moto, &moto.url, |c| c.buckets = vec!["data".into()]).await;
    let r = call_as(
        &server,
        &open,
        "athena_query_execute",
        json!({"query": "SELECT 1"}),
    )
    .await;
    assert_eq!(err(&r).0, "not_permitted", "{r}");

    // The operator may allow it explicitly.
    let server = shared_role_server(&moto, &moto.url, |c| {
        c.buckets = vec!["data".into()];
        c.athena_outside_bucket_grants = true;
    })
    .await;
    queue_results(&moto, &[("n", "bigint")], &[vec!["2".into()]]).await;
    let r = call_as(
        &server,
        &restricted,
        "athena_query_execute",
        json!({"query": "SELECT 2 AS n"}),
    )
    .await;
    assert_eq!(ok(&r)["rows"], json!([["2"]]));
}
