//! Athena query execution through the server, against moto (which runs no SQL: results are
//! queued first through its API, and executions can be made to pass through QUEUED/RUNNING):
//! immediate and delayed completion, the handle and its continuation, row caps, the guard and
//! workgroup refusals before any query starts, and unknown executions.

use std::sync::Arc;

use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

async fn athena_server(moto: &Moto) -> TestServer {
    let role = moto.role("AthenaReader", "*", allow_all()).await;
    let url = moto.url.clone();
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(role);
            c.athena_output_location = Some("s3://athena-results/out/".into());
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await
}

/// Queues one result set (header row first, as Athena returns it) for the next execution.
async fn queue_results(moto: &Moto, columns: &[(&str, &str)], rows: &[Vec<String>]) {
    let header = json!({"Data": columns.iter().map(|(n, _)| json!({"VarCharValue": n})).collect::<Vec<_>>()});
    let mut all = vec![header];
    all.extend(rows.iter().map(
        |r| json!({"Data": r.iter().map(|v| json!({"VarCharValue": v})).collect::<Vec<_>>()}),
    ));
    let body = json!({"account_id": ACCOUNT, "region": "us-east-1", "results": [{
        "rows": all,
        "column_info": columns.iter().map(|(n, t)| json!({"Name": n, "Type": t})).collect::<Vec<_>>(),
    }]});
    let r = reqwest::Client::new()
        .post(format!("{}/moto-api/static/athena/query-results", moto.url))
        .json(&body)
        .send()
        .await
        .expect("seed");
    assert!(r.status().is_success());
}

async fn slow_executions(moto: &Moto, times: u32) {
    let body = json!({"model_name": "athena::execution", "transition": {"progression": "manual", "times": times}});
    let r = reqwest::Client::new()
        .post(format!(
            "{}/moto-api/state-manager/set-transition",
            moto.url
        ))
        .json(&body)
        .send()
        .await
        .expect("transition");
    assert!(r.status().is_success());
}

async fn call(server: &TestServer, tool: &str, args: Value) -> Value {
    call_tool(&server.mcp(), Some(&token("ana")), tool, args)
        .await
        .result()
        .clone()
}

fn rows(n: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| vec![format!("GENE{i}"), format!("{}.5", i)])
        .collect()
}

#[tokio::test]
async fn a_finished_query_returns_typed_columns_and_capped_rows() {
    let moto = Moto::start().await;
    let server = athena_server(&moto).await;
    queue_results(
        &moto,
        &[("gene", "varchar"), ("expression", "double")],
        &rows(3),
    )
    .await;
    let r = call(
        &server,
        "athena_query_execute",
        json!({"query": "SELECT gene, expression FROM cells", "database": "demo"}),
    )
    .await;
    assert_eq!(r["isError"], false, "{r}");
    let s = &r["structuredContent"];
    assert_eq!(s["state"], "SUCCEEDED");
    assert_eq!(
        s["columns"],
        json!([{"name": "gene", "type": "varchar"}, {"name": "expression", "type": "double"}])
    );
    assert_eq!(
        s["rows"],
        json!([["GENE0", "0.5"], ["GENE1", "1.5"], ["GENE2", "2.5"]]),
        "header row skipped"
    );
    assert_eq!(s["truncated"], false);
    assert_eq!(r["_meta"]["quilt-mcp/credential_source"], "stack_roles");

    queue_results(
        &moto,
        &[("gene", "varchar"), ("expression", "double")],
        &rows(250),
    )
    .await;
    let r = call(
        &server,
        "athena_query_execute",
        json!({"query": "SELECT * FROM cells", "max_results": 100}),
    )
    .await;
    let s = &r["structuredContent"];
    assert_eq!(s["rows"].as_array().expect("rows").len(), 100);
    assert_eq!(s["truncated"], true);
}

#[tokio::test]
async fn a_slow_query_returns_a_handle_to_continue_with() {
    let moto = Moto::start().await;
    let server = athena_server(&moto).await;
    queue_results(&moto, &[("n", "bigint")], &[vec!["42".into()]]).await;
    slow_executions(&moto, 3).await;
    let r = call(
        &server,
        "athena_query_execute",
        json!({"query": "SELECT 42 AS n", "max_wait_s": 0}),
    )
    .await;
    assert_eq!(r["isError"], false, "a handle, not an error: {r}");
    let handle = &r["structuredContent"];
    assert!(
        ["QUEUED", "RUNNING"].contains(&handle["state"].as_str().expect("state")),
        "{handle}"
    );
    let id = handle["execution_id"].as_str().expect("id").to_owned();
    let mut last = Value::Null;
    for _ in 0..10 {
        last = call(&server, "athena_query_results", json!({"execution_id": id})).await;
        if last["structuredContent"]["state"] == "SUCCEEDED" {
            break;
        }
    }
    assert_eq!(last["structuredContent"]["state"], "SUCCEEDED", "{last}");
    assert_eq!(last["structuredContent"]["rows"], json!([["42"]]));
}

#[tokio::test]
async fn refused_queries_and_workgroups_start_nothing() {
    let moto = Moto::start().await;
    let server = athena_server(&moto).await;
    for (args, code, needle) in [
        (
            json!({"query": "UNLOAD (SELECT * FROM t) TO 's3://b/p/' WITH (format = 'PARQUET')"}),
            "invalid_argument",
            "UNLOAD",
        ),
        (
            json!({"query": "CREATE TABLE t2 AS SELECT * FROM t"}),
            "invalid_argument",
            "CREATE TABLE AS SELECT",
        ),
        (
            json!({"query": "SELECT 1; SELECT 2"}),
            "invalid_argument",
            "exactly one statement",
        ),
        (
            json!({"query": "SELEC 1"}),
            "invalid_argument",
            "syntax error",
        ),
        (
            json!({"query": "SELECT 1", "workgroup": "admin"}),
            "not_permitted",
            "workgroup admin is not allowed",
        ),
        (
            json!({"query": "SELECT 1", "max_wait_s": 600}),
            "invalid_argument",
            "max_wait_s",
        ),
        (
            json!({"query": "SELECT 1", "max_results": 0}),
            "invalid_argument",
            "max_results",
        ),
    ] {
        let r = call(&server, "athena_query_execute", args.clone()).await;
        let e = &r["structuredContent"]["error"];
        assert_eq!(e["code"], code, "{args}: {r}");
        assert!(
            e["message"].as_str().expect("message").contains(needle),
            "{args}: {e}"
        );
    }
    // Nothing was started in Athena.
    let listed: Value = reqwest::Client::new()
        .post(format!("{}/", moto.url))
        .header("X-Amz-Target", "AmazonAthena.ListQueryExecutions")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=AKIATEST/20260101/us-east-1/athena/aws4_request, SignedHeaders=host, Signature=0")
        .body("{}")
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["QueryExecutionIds"], json!([]), "{listed}");
    let history = call(&server, "athena_workgroups_list", json!({})).await;
    assert_eq!(
        history["structuredContent"]["workgroups"][0]["name"], "primary",
        "{history}"
    );
    assert_eq!(
        history["structuredContent"]["workgroups"][0]["default"],
        true
    );
    let r = call(
        &server,
        "athena_query_results",
        json!({"execution_id": "x".repeat(200)}),
    )
    .await;
    assert_eq!(
        r["structuredContent"]["error"]["code"], "invalid_argument",
        "{r}"
    );
    // Athena answers InvalidRequestException for an unknown id (mapped to not_found); moto
    // 5.2.5 answers HTTP 500, which must still be a clear tool error, not a protocol failure.
    let r = call(
        &server,
        "athena_query_results",
        json!({"execution_id": "00000000-0000-0000-0000-000000000000"}),
    )
    .await;
    assert_eq!(
        r["structuredContent"]["error"]["code"], "upstream_unavailable",
        "{r}"
    );
}
