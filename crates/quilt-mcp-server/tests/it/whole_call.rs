//! Whole-call limits through the server: a call that answers as an SSE stream (it sent
//! progress) keeps its admission permit until it ends and is cut at the request deadline, a
//! JSON call past the deadline is a `timeout` tool error, and every call that started has its
//! audit line — also one cut at the deadline and a `package_create` dropped half way by its
//! client, whose line names the objects it had written.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

/// Posts a `tools/call` that asks for progress; returns the response as soon as its headers
/// are in (the stream still running).
async fn call_with_progress(url: &str, token: &str, tool: &str, args: Value) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "_meta": {"progressToken": "p"}, "arguments": args}});
    http()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", LEGACY)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post")
}

fn sse_messages(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

#[tokio::test]
async fn a_streaming_call_holds_its_permit_to_the_end_and_is_cut_at_the_deadline() {
    let (audit, _capture) = AuditLog::capture();
    let server = TestServer::start(|c| {
        c.max_in_flight = 1;
        c.request_timeout_s = 2;
    })
    .await;
    let alice = token("alice");
    let started = Instant::now();
    let response = call_with_progress(
        &server.mcp(),
        &alice,
        "test_progress_sleep",
        json!({"ms": 10_000}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/event-stream"),
        "progress makes the answer a stream"
    );
    // The headers are out and the tool still runs: it still holds the only permit, so the
    // next request is shed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.app.admission.in_flight(),
        1,
        "the streaming call holds its permit"
    );
    let shed = call_tool(&server.mcp(), Some(&token("bob")), "auth_status", json!({})).await;
    assert_eq!(shed.status, 503, "{}", shed.body);

    let text = response.text().await.expect("stream");
    let took = started.elapsed();
    let messages = sse_messages(&text);
    let progress = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .count();
    assert!(progress >= 5, "it streamed progress until cut: {text}");
    let result = messages.iter().find(|m| m["id"] == 1).expect("a result");
    assert_eq!(result["result"]["isError"], true, "{result}");
    assert_eq!(
        result["result"]["structuredContent"]["error"]["code"], "timeout",
        "{result}"
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "cut at the 2 s deadline, not after the tool's 10 s: {took:?}"
    );
    // The permit came back with the end of the call.
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.app.admission.in_flight() != 0 {
        assert!(Instant::now() < deadline, "permit never released");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(auth_status(&server.mcp(), &alice).await["subject"], "alice");

    // A JSON answer past the deadline: a timeout tool error (before the HTTP layer's 504).
    let r = call_tool(
        &server.mcp(),
        Some(&alice),
        "test_sleep",
        json!({"ms": 10_000}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.result()["structuredContent"]["error"]["code"],
        "timeout",
        "{}",
        r.body
    );

    let lines = audit.lines();
    let cut: Vec<&Value> = lines.iter().filter(|l| l["result"] == "timeout").collect();
    assert_eq!(cut.len(), 2, "one audit line per cut call: {lines:?}");
    assert_eq!(cut[0]["tool"], "test_progress_sleep");
    assert_eq!(cut[0]["subject"], "alice");
    assert_eq!(cut[0]["error_code"], "timeout");
    assert!(cut[0]["elapsed_ms"].as_u64().expect("elapsed") >= 1500);
    assert_eq!(cut[1]["tool"], "test_sleep");
    assert_eq!(
        lines.iter().filter(|l| l["tool"] == "auth_status").count(),
        1,
        "the shed request ran no tool and has no line; the later one has: {lines:?}"
    );
}

#[tokio::test]
async fn a_package_create_dropped_by_its_client_is_audited_with_what_it_wrote() {
    let (audit, _capture) = AuditLog::capture();
    let moto = Moto::start().await;
    let s3 = moto.s3();
    for b in ["src", "reg"] {
        s3.create_bucket().bucket(b).send().await.expect("bucket");
    }
    const N: usize = 300;
    let mut uris = Vec::new();
    for i in 0..N {
        let key = format!("obj{i:04}.txt");
        s3.put_object()
            .bucket("src")
            .key(&key)
            .content_type("application/octet-stream")
            .body(format!("object {i}").into_bytes().into())
            .send()
            .await
            .expect("put");
        uris.push(format!("s3://src/{key}"));
    }
    let read = moto.role("CutRead", "*", allow_all()).await;
    let write = moto.role("CutWrite", "*", allow_all()).await;
    let url = moto.url.clone();
    let server = TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read);
            c.write_role_arn = Some(write);
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await;
    let response = call_with_progress(
        &server.mcp(),
        &token("alice"),
        "package_create",
        json!({"registry": "s3://reg", "package_name": "cut/short", "s3_uris": uris}),
    )
    .await;
    assert_eq!(response.status(), 200);
    // Read the stream until a report says objects were copied, then go away.
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    let copied = loop {
        let chunk = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("progress in time")
            .expect("stream open")
            .expect("bytes");
        seen.push_str(&String::from_utf8_lossy(&chunk));
        let done = sse_messages(&seen).iter().find_map(|m| {
            let message = m["params"]["message"].as_str()?;
            let n: usize = message.split('/').next()?.parse().ok()?;
            (n > 0).then_some(n)
        });
        if let Some(n) = done {
            break n;
        }
    };
    assert!(
        copied < N,
        "the create must still be running when the client leaves"
    );
    drop(stream);

    // The server notices, drops the call, and audits it as cancelled.
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        if let Some(l) = audit
            .lines()
            .into_iter()
            .find(|l| l["tool"] == "package_create")
        {
            break l;
        }
        assert!(
            Instant::now() < deadline,
            "no audit line for the dropped call"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(line["result"], "cancelled", "{line}");
    assert_eq!(line["subject"], "alice");
    let count = line["written_count"].as_u64().expect("written_count") as usize;
    assert!(
        count >= copied && count < N,
        "{copied} copied by the last report, {count} audited: {line}"
    );
    let written: Vec<&str> = line["written"]
        .as_str()
        .expect("written")
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(written.len(), count.min(32), "{line}");
    // Every object the line names is really in the registry.
    for w in &written {
        let key = w.strip_prefix("reg/").expect("in the registry");
        assert!(key.starts_with("cut/short/obj"), "{w}");
        s3.head_object()
            .bucket("reg")
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{w} named as written but absent: {e:?}"));
    }
    // No manifest or pointer: the package was never completed.
    let pointers = s3
        .list_objects_v2()
        .bucket("reg")
        .prefix(".quilt/")
        .send()
        .await
        .expect("list");
    assert_eq!(pointers.key_count(), Some(0), "{pointers:?}");
}
