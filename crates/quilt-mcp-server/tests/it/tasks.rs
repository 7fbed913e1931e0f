//! MCP tasks (SEP-2663) for `athena_query_execute` over real HTTP against moto (executions
//! made to pass through QUEUED/RUNNING): a client that declares the extension gets a
//! `CreateTaskResult` for a query still running, `tasks/get` reports it working and then
//! completed with the rows inlined; a second server sharing the key (another replica)
//! resolves the same id; another caller's, a tampered and an unknown id are -32602; cancel
//! stops the execution and is idempotent; a client without the extension gets today's
//! answer; `tasks/result` is gone (-32601).

use serde_json::{Value, json};

use crate::athena::{athena_api, athena_server, queue_results, slow_executions};
use crate::moto::*;
use crate::support::*;

/// A 2026-07-28 request whose `_meta` declares the tasks extension when `tasks` is set.
pub(crate) async fn task_rpc(
    server: &TestServer,
    token: &str,
    method: &str,
    params: Value,
    tasks: bool,
) -> Value {
    let mut params = params;
    let capabilities = if tasks {
        json!({"extensions": {"io.modelcontextprotocol/tasks": {}}})
    } else {
        json!({})
    };
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "it", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    });
    let name = params
        .get("name")
        .or_else(|| params.get("taskId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut request = http()
        .post(server.mcp())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", method)
        .bearer_auth(token);
    if let Some(name) = name {
        request = request.header("mcp-name", name);
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let response = request.json(&body).send().await.expect("send");
    parse_body(&response.text().await.expect("body"))
}

async fn get(server: &TestServer, token: &str, id: &str) -> Value {
    task_rpc(server, token, "tasks/get", json!({"taskId": id}), true).await
}

/// Polls `tasks/get` until the task is terminal (at most 40 polls); the last answer and how
/// many polls saw it working.
pub(crate) async fn until_terminal(server: &TestServer, token: &str, id: &str) -> (Value, usize) {
    for working in 0..40 {
        let r = get(server, token, id).await;
        let status = r["result"]["status"]
            .as_str()
            .unwrap_or_else(|| panic!("{r}"));
        if status != "working" {
            return (r, working);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("task {id} still working after 40 polls");
}

fn executions(v: &Value) -> usize {
    v["QueryExecutionIds"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn athena_queries_become_tasks_any_replica_resolves() {
    let (audit, _capture) = AuditLog::capture();
    let moto = Moto::start().await;
    let server = athena_server(&moto).await;
    let replica = athena_server(&moto).await;
    let alice = token("alice");
    let query = json!({"name": "athena_query_execute", "arguments": {"query": "SELECT n FROM t"}});

    // Declared: a running query becomes a task.
    queue_results(
        &moto,
        &[("n", "integer")],
        &[vec!["1".into()], vec!["2".into()]],
    )
    .await;
    slow_executions(&moto, 6).await;
    let created = task_rpc(&server, &alice, "tools/call", query.clone(), true).await;
    let created = &created["result"];
    assert_eq!(created["resultType"], "task", "{created}");
    assert_eq!(created["status"], "working", "{created}");
    assert!(
        created.get("content").is_none() && created.get("task").is_none(),
        "{created}"
    );
    assert!(
        created["ttlMs"].as_u64().is_some_and(|t| t > 0),
        "{created}"
    );
    assert!(created["pollIntervalMs"].as_u64().is_some_and(|t| t > 0));
    assert!(
        created["createdAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{created}"
    );
    let id = created["taskId"].as_str().expect("taskId").to_owned();
    assert_eq!(
        executions(&athena_api(&moto.url, "ListQueryExecutions", json!({})).await),
        1
    );

    // Right away, and on another replica: the task resolves.
    let first = get(&replica, &alice, &id).await;
    assert_eq!(first["result"]["taskId"], id.as_str(), "{first}");
    assert_eq!(first["result"]["resultType"], "complete", "{first}");
    let (done, working) = until_terminal(&server, &alice, &id).await;
    let done = &done["result"];
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        first["result"]["status"] == "working" || working > 0,
        "the query was never seen running: {first}"
    );
    assert_eq!(done["result"]["isError"], false, "{done}");
    assert_eq!(done["result"]["structuredContent"]["state"], "SUCCEEDED");
    assert_eq!(
        done["result"]["structuredContent"]["rows"],
        json!([["1"], ["2"]]),
        "{done}"
    );
    assert!(done.get("requestState").is_none() && done.get("error").is_none());
    // The same on the replica once it is over.
    let again = get(&replica, &alice, &id).await;
    assert_eq!(again["result"]["status"], "completed", "{again}");
    assert_eq!(
        again["result"]["result"]["structuredContent"]["rows"],
        json!([["1"], ["2"]])
    );

    // Another caller, a tampered id, an unknown id: -32602, the same for all three.
    let mallory = token("mallory");
    let mut tampered = id.clone();
    let last = tampered.pop().expect("char");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for (who, task) in [
        (&mallory, id.as_str()),
        (&alice, tampered.as_str()),
        (&alice, "nope"),
    ] {
        let r = get(&server, who, task).await;
        assert_eq!(r["error"]["code"], -32602, "{task}: {r}");
        let r = task_rpc(&server, who, "tasks/cancel", json!({"taskId": task}), true).await;
        assert_eq!(r["error"]["code"], -32602, "cancel {task}: {r}");
    }
    // Without the extension declared, the task methods are refused (-32021).
    let r = task_rpc(&server, &alice, "tasks/get", json!({"taskId": id}), false).await;
    assert_eq!(r["error"]["code"], -32021, "{r}");
    // SEP-2663 removed tasks/result.
    let r = task_rpc(&server, &alice, "tasks/result", json!({"taskId": id}), true).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");

    // Cancel a finished task: the same empty acknowledgement, nothing changes.
    let r = task_rpc(&server, &alice, "tasks/cancel", json!({"taskId": id}), true).await;
    assert_eq!(r["result"], json!({"resultType": "complete"}), "{r}");
    assert_eq!(
        get(&server, &alice, &id).await["result"]["status"],
        "completed"
    );

    // Cancel a running one: Athena stops it and the task reads cancelled.
    queue_results(&moto, &[("n", "integer")], &[vec!["3".into()]]).await;
    slow_executions(&moto, 1000).await;
    let created = task_rpc(&server, &alice, "tools/call", query.clone(), true).await;
    let running = created["result"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let r = task_rpc(
        &server,
        &alice,
        "tasks/cancel",
        json!({"taskId": running}),
        true,
    )
    .await;
    assert_eq!(r["result"], json!({"resultType": "complete"}), "{r}");
    let (cancelled, _) = until_terminal(&server, &alice, &running).await;
    assert_eq!(cancelled["result"]["status"], "cancelled", "{cancelled}");
    assert!(cancelled["result"].get("result").is_none(), "{cancelled}");
    // Each cancel that reached Athena (two here: the finished task and this one) wrote an
    // audit line naming the caller and the role it acted as; refused ids reach nothing.
    let cancels: Vec<Value> = audit
        .lines()
        .into_iter()
        .filter(|l| l["tool"] == "tasks/cancel")
        .collect();
    assert_eq!(cancels.len(), 2, "{cancels:?}");
    assert!(
        cancels
            .iter()
            .all(|l| l["subject"] == "alice" && l["result"] == "ok"),
        "{cancels:?}"
    );
    // Refused task ids reached nothing: no call was made for mallory at all.
    assert!(
        !audit.lines().iter().any(|l| l["subject"] == "mallory"),
        "a refused task id ran something"
    );
    // tasks/get runs athena_query_results as a tool call of the caller: audited as that.
    assert!(
        audit
            .lines()
            .iter()
            .any(|l| l["tool"] == "athena_query_results" && l["subject"] == "alice")
    );

    // Not declared: the call is what it always was (a handle after max_wait_s, no task).
    let plain = task_rpc(
        &server,
        &alice,
        "tools/call",
        json!({"name": "athena_query_execute", "arguments": {"query": "SELECT 1", "max_wait_s": 1}}),
        false,
    )
    .await;
    let plain = &plain["result"];
    assert_eq!(plain["resultType"], "complete", "{plain}");
    assert!(plain.get("taskId").is_none(), "{plain}");
    assert_eq!(plain["structuredContent"]["state"], "QUEUED", "{plain}");

    // A sync tool stays sync for a client that declared tasks.
    let sync = task_rpc(
        &server,
        &alice,
        "tools/call",
        json!({"name": "auth_status", "arguments": {}}),
        true,
    )
    .await;
    assert_eq!(sync["result"]["resultType"], "complete", "{sync}");
    assert_eq!(sync["result"]["structuredContent"]["subject"], "alice");
}

/// A query that fails in Athena after the task was created: the task completes with the tool
/// error (`isError`, Athena's reason), not `failed` — SEP-2663 keeps `failed` for protocol
/// errors. (Through the Athena shim: moto runs no SQL, so nothing fails there.)
#[tokio::test]
async fn a_query_failing_in_athena_completes_its_task_with_the_tool_error() {
    let moto = Moto::start().await;
    let shim = crate::athena_shim::AthenaShim::start(&moto.url).await;
    let server = crate::athena::athena_server_at(&moto, &shim.url).await;
    let alice = token("alice");
    slow_executions(&moto, 6).await;
    let sql = format!("SELECT {} FROM t", crate::athena_shim::FAILS);
    let created = task_rpc(
        &server,
        &alice,
        "tools/call",
        json!({"name": "athena_query_execute", "arguments": {"query": sql}}),
        true,
    )
    .await;
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    let id = created["result"]["taskId"].as_str().expect("taskId");
    let (done, _) = until_terminal(&server, &alice, id).await;
    let done = &done["result"];
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done.get("error").is_none(), "{done}");
    assert_eq!(done["result"]["isError"], true, "{done}");
    let message = done["result"]["structuredContent"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains(crate::athena_shim::FAILURE_REASON),
        "{done}"
    );
}
