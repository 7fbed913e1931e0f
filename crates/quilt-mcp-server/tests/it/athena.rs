//! Athena query execution through the server, against moto (which runs no SQL: results are
//! queued first through its API, and executions can be made to pass through QUEUED/RUNNING):
//! immediate and delayed completion, the handle and its continuation, row and byte caps and
//! pages, the guard and workgroup refusals before any query starts, history, an abandoned wait
//! stopping its query, and — through [`AthenaShim`], for what moto does not model — Athena's
//! own result pages, failed queries and unknown executions.

use std::sync::Arc;

use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::athena_shim::{AthenaShim, FAILS, FAILURE_REASON};
use crate::moto::*;
use crate::support::*;

pub(crate) async fn athena_server(moto: &Moto) -> TestServer {
    athena_server_at(moto, &moto.url).await
}

/// A server whose AWS endpoint is `endpoint` (moto, or a shim in front of it).
pub(crate) async fn athena_server_at(moto: &Moto, endpoint: &str) -> TestServer {
    static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let role = moto
        .role(&format!("AthenaReader{n}"), "*", allow_all())
        .await;
    let url = endpoint.to_owned();
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
pub(crate) async fn queue_results(moto: &Moto, columns: &[(&str, &str)], rows: &[Vec<String>]) {
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

pub(crate) async fn slow_executions(moto: &Moto, times: u32) {
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
    call_as(server, &token("ana"), tool, args).await
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
    let listed = athena_api(&moto.url, "ListQueryExecutions", json!({})).await;
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

/// Calls moto's Athena API directly (moto checks no signature while IAM enforcement is off).
pub(crate) async fn athena_api(url: &str, action: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{url}/"))
        .header("X-Amz-Target", format!("AmazonAthena.{action}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=AKIATEST/20260101/us-east-1/athena/aws4_request, SignedHeaders=host, Signature=0")
        .body(body.to_string())
        .send()
        .await
        .expect("athena api")
        .json()
        .await
        .expect("json")
}

/// Follows `first`'s next_token to the end; returns every row and the answers.
async fn all_pages(
    server: &TestServer,
    first: Value,
    max_results: usize,
) -> (Vec<Value>, Vec<Value>) {
    let mut answers = vec![first];
    loop {
        let s = &answers.last().expect("answer")["structuredContent"];
        assert!(s.get("error").is_none(), "{s}");
        let Some(token) = s["next_token"].as_str() else {
            break;
        };
        assert_eq!(
            s["truncated"], true,
            "a page with a next_token is truncated: {s}"
        );
        let id = s["execution_id"].as_str().expect("id").to_owned();
        let next = call(
            server,
            "athena_query_results",
            json!({"execution_id": id, "next_token": token, "max_results": max_results}),
        )
        .await;
        answers.push(next);
        assert!(answers.len() < 50, "pages never end");
    }
    let rows = answers
        .iter()
        .flat_map(|a| {
            a["structuredContent"]["rows"]
                .as_array()
                .expect("rows")
                .clone()
        })
        .collect();
    (rows, answers)
}

fn as_json(rows: &[Vec<String>]) -> Vec<Value> {
    rows.iter().map(|r| json!(r)).collect()
}

#[tokio::test]
async fn pages_return_every_row_exactly_once_within_the_caps() {
    let moto = Moto::start().await;
    let shim = AthenaShim::start(&moto.url).await;
    let cols = [("gene", "varchar"), ("expression", "double")];
    // moto returns every row in one answer (no pages); the shim pages as Athena does.
    for endpoint in [moto.url.clone(), shim.url.clone()] {
        let server = athena_server_at(&moto, &endpoint).await;
        let expected = rows(2500);
        queue_results(&moto, &cols, &expected).await;
        let first = call(
            &server,
            "athena_query_execute",
            json!({"query": "SELECT * FROM cells", "max_results": 1000}),
        )
        .await;
        let (got, answers) = all_pages(&server, first, 1000).await;
        assert_eq!(got.len(), expected.len(), "via {endpoint}");
        assert_eq!(
            got,
            as_json(&expected),
            "every row once, in order, via {endpoint}"
        );
        assert_eq!(answers.len(), 3, "1,000-row pages via {endpoint}");
        let last = &answers.last().expect("last")["structuredContent"];
        assert_eq!(last["truncated"], false);
        for page in &answers {
            let n = page["structuredContent"]["rows"]
                .as_array()
                .expect("rows")
                .len();
            assert!(n <= 1000, "row cap: {n}");
        }
        if endpoint == moto.url {
            assert_eq!(
                last["total_rows"], 2500,
                "moto gave every row, so the total is known"
            );
        }
    }
    let asked = shim.asked.lock().expect("lock").clone();
    assert!(!asked.is_empty());
    assert!(
        asked.iter().all(|m| (1..=1000).contains(m)),
        "Athena's page limit: {asked:?}"
    );

    // The byte cap (1 MiB of cells) ends a page early without losing the rest of it.
    let server = athena_server_at(&moto, &shim.url).await;
    let big: Vec<Vec<String>> = (0..5)
        .map(|i| vec![format!("{i}{}", "x".repeat(400_000))])
        .collect();
    queue_results(&moto, &[("blob", "varchar")], &big).await;
    let first = call(
        &server,
        "athena_query_execute",
        json!({"query": "SELECT blob FROM blobs"}),
    )
    .await;
    let (got, answers) = all_pages(&server, first, 100).await;
    assert_eq!(got, as_json(&big), "no row lost at the byte cap");
    let sizes: Vec<usize> = answers
        .iter()
        .map(|a| {
            a["structuredContent"]["rows"]
                .as_array()
                .expect("rows")
                .len()
        })
        .collect();
    assert_eq!(
        sizes,
        [2, 2, 1],
        "two 400 kB rows fit in 1 MiB, three do not"
    );

    // A token this server did not issue is refused, naming the argument.
    let id = answers[0]["structuredContent"]["execution_id"]
        .as_str()
        .expect("id")
        .to_owned();
    for bad in [
        "not base64 !",
        "eyJub3QiOiJhIHRva2VuIn0x",
        &"A".repeat(5000),
    ] {
        let r = call(
            &server,
            "athena_query_results",
            json!({"execution_id": id, "next_token": bad}),
        )
        .await;
        let e = &r["structuredContent"]["error"];
        assert_eq!(e["code"], "invalid_argument", "{bad}: {r}");
        assert!(
            e["message"]
                .as_str()
                .expect("message")
                .contains("next_token"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn a_query_that_fails_in_athena_passes_its_reason_through() {
    let moto = Moto::start().await;
    let shim = AthenaShim::start(&moto.url).await;
    let server = athena_server_at(&moto, &shim.url).await;
    let sql = format!("SELECT {FAILS} FROM cells");
    let r = call(&server, "athena_query_execute", json!({"query": sql})).await;
    assert_eq!(r["isError"], true, "{r}");
    let e = &r["structuredContent"]["error"];
    assert_eq!(e["code"], "invalid_argument", "{r}");
    assert!(
        e["message"]
            .as_str()
            .expect("message")
            .contains(FAILURE_REASON),
        "Athena's reason, verbatim: {e}"
    );
    // The same through a handle: a query still running, then failed when continued.
    slow_executions(&moto, 2).await;
    let handle = call(
        &server,
        "athena_query_execute",
        json!({"query": sql, "max_wait_s": 0}),
    )
    .await;
    let id = handle["structuredContent"]["execution_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut last = Value::Null;
    for _ in 0..5 {
        last = call(&server, "athena_query_results", json!({"execution_id": id})).await;
        if last["isError"] == true {
            break;
        }
    }
    assert!(
        last["structuredContent"]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(FAILURE_REASON)),
        "{last}"
    );
    // An execution id Athena does not know is not_found.
    let r = call(
        &server,
        "athena_query_results",
        json!({"execution_id": "00000000-0000-0000-0000-000000000000"}),
    )
    .await;
    assert_eq!(r["structuredContent"]["error"]["code"], "not_found", "{r}");
}

#[tokio::test]
async fn history_lists_recent_executions_newest_first() {
    let moto = Moto::start().await;
    let shim = AthenaShim::start(&moto.url).await;
    let server = athena_server_at(&moto, &shim.url).await;
    queue_results(&moto, &[("a", "bigint")], &[vec!["1".into()]]).await;
    let ok = call(
        &server,
        "athena_query_execute",
        json!({"query": "SELECT 1 AS a", "database": "demo"}),
    )
    .await;
    assert_eq!(ok["isError"], false, "{ok}");
    let failed = call(
        &server,
        "athena_query_execute",
        json!({"query": format!("SELECT {FAILS} FROM t")}),
    )
    .await;
    assert_eq!(failed["isError"], true);
    let refused = call(
        &server,
        "athena_query_execute",
        json!({"query": "DROP TABLE t"}),
    )
    .await;
    assert_eq!(refused["isError"], true);
    queue_results(&moto, &[("b", "bigint")], &[vec!["3".into()]]).await;
    let last = call(
        &server,
        "athena_query_execute",
        json!({"query": "SELECT 3 AS b"}),
    )
    .await;
    assert_eq!(last["isError"], false, "{last}");

    let r = call(&server, "athena_query_history", json!({})).await;
    assert_eq!(r["isError"], false, "{r}");
    let s = &r["structuredContent"];
    assert_eq!(s["workgroups"], json!(["primary"]));
    let runs = s["executions"].as_array().expect("executions");
    let queries: Vec<&str> = runs
        .iter()
        .map(|x| x["query"].as_str().expect("query"))
        .collect();
    assert_eq!(
        queries,
        [
            "SELECT 3 AS b",
            &format!("SELECT {FAILS} FROM t"),
            "SELECT 1 AS a"
        ],
        "newest first; the refused DROP never reached Athena: {s}"
    );
    assert_eq!(
        runs[0]["execution_id"],
        last["structuredContent"]["execution_id"]
    );
    assert_eq!(runs[0]["state"], "SUCCEEDED");
    assert_eq!(runs[1]["state"], "FAILED");
    assert_eq!(runs[1]["state_reason"], FAILURE_REASON);
    assert_eq!(runs[2]["database"], "demo");
    assert_eq!(runs[2]["workgroup"], "primary");
    assert!(
        runs[2]["submitted"]
            .as_str()
            .is_some_and(|t| t.contains('T')),
        "{}",
        runs[2]
    );

    let one = call(&server, "athena_query_history", json!({"max_results": 1})).await;
    assert_eq!(
        one["structuredContent"]["executions"]
            .as_array()
            .expect("runs")
            .len(),
        1
    );
    for (args, code) in [
        (json!({"workgroup": "admin"}), "not_permitted"),
        (json!({"max_results": 0}), "invalid_argument"),
        (json!({"max_results": 51}), "invalid_argument"),
    ] {
        let r = call(&server, "athena_query_history", args.clone()).await;
        assert_eq!(r["structuredContent"]["error"]["code"], code, "{args}: {r}");
    }
}

#[tokio::test]
async fn a_client_that_gives_up_waiting_stops_its_query() {
    let moto = Moto::start().await;
    let server = athena_server(&moto).await;
    slow_executions(&moto, 100_000).await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "athena_query_execute", "arguments": {"query": "SELECT 1", "max_wait_s": 40}}});
    let gave_up = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(1500))
        .build()
        .expect("client")
        .post(server.mcp())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", LEGACY)
        .bearer_auth(token("ana"))
        .json(&body)
        .send()
        .await;
    assert!(gave_up.is_err(), "the query should still have been running");
    // The server notices the closed connection and stops the Athena query.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let listed = athena_api(&moto.url, "ListQueryExecutions", json!({})).await;
        let ids = listed["QueryExecutionIds"].as_array().expect("ids").clone();
        assert_eq!(ids.len(), 1, "{listed}");
        let x = athena_api(
            &moto.url,
            "GetQueryExecution",
            json!({"QueryExecutionId": ids[0]}),
        )
        .await;
        if x["QueryExecution"]["Status"]["State"] == "CANCELLED" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "an abandoned query must be stopped: {x}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The server's peak resident memory, from `/proc/<pid>/status` (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// The shipped binary (its own process, so its memory is its own), reading pages of a result
/// set far larger than a page: its peak memory must not grow with the result set. The shim
/// pages as Athena does; straight against moto, which ignores MaxResults and sends every row
/// on every call, this same test fails (the peak grows by more than the whole set).
#[tokio::test]
async fn memory_stays_flat_paging_a_large_result_set() {
    let moto = Moto::start().await;
    let shim = AthenaShim::start(&moto.url).await;
    let role = moto.role("AthenaBig", "*", allow_all()).await;
    let (mut child, pid, base) = spawn_stack_role_binary(
        &shim.url,
        &role,
        &[("ATHENA_OUTPUT_LOCATION", "s3://athena-results/out/")],
    )
    .await;
    let mcp = format!("{base}/mcp");
    let tool = |name: &'static str, args: Value| {
        let mcp = mcp.clone();
        async move {
            call_tool(&mcp, Some(&token("ana")), name, args)
                .await
                .result()
                .clone()
        }
    };
    // Warm up on a small result: the baseline includes everything a query path allocates.
    queue_results(&moto, &[("n", "bigint")], &[vec!["1".into()]]).await;
    let warm = tool("athena_query_execute", json!({"query": "SELECT 1 AS n"})).await;
    assert_eq!(warm["isError"], false, "{warm}");

    let n_rows = 100_000;
    let big: Vec<Vec<String>> = (0..n_rows)
        .map(|i| {
            vec![
                format!("GENE{i:08}"),
                format!("{i}.25"),
                format!("sample-{}", i % 97),
            ]
        })
        .collect();
    queue_results(
        &moto,
        &[
            ("gene", "varchar"),
            ("expression", "double"),
            ("sample", "varchar"),
        ],
        &big,
    )
    .await;
    let set_bytes: usize = big.iter().flatten().map(String::len).sum();
    let first = tool(
        "athena_query_execute",
        json!({"query": "SELECT * FROM big", "max_results": 1000}),
    )
    .await;
    assert_eq!(first["isError"], false, "{first}");
    let id = first["structuredContent"]["execution_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let before = peak_rss_kib(pid);
    let mut token = first["structuredContent"]["next_token"]
        .as_str()
        .expect("more")
        .to_owned();
    let mut seen = first["structuredContent"]["rows"]
        .as_array()
        .expect("rows")
        .len();
    for _ in 0..20 {
        let page = tool(
            "athena_query_results",
            json!({"execution_id": id, "next_token": token, "max_results": 1000}),
        )
        .await;
        let s = &page["structuredContent"];
        let rows = s["rows"].as_array().expect("rows");
        assert_eq!(
            rows[0][0],
            format!("GENE{seen:08}"),
            "pages continue where the last ended"
        );
        seen += rows.len();
        token = s["next_token"].as_str().expect("more pages").to_owned();
    }
    let after = peak_rss_kib(pid);
    let grew_kib = after.saturating_sub(before);
    eprintln!(
        "peak RSS {before} KiB -> {after} KiB after {seen} rows in 1,000-row pages of a {n_rows}-row result ({} MiB of cells)",
        set_bytes / (1 << 20)
    );
    assert!(
        (grew_kib as usize) * 1024 < set_bytes / 2,
        "peak memory grew by {grew_kib} KiB reading pages of a {set_bytes}-byte result set"
    );
    child.kill().await.expect("kill");
}
