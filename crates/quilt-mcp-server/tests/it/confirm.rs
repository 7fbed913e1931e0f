//! Confirmation before destruction (`src/confirm.rs`) through the server, with the official
//! Python client (`tests/python/mcp_confirm.py`) answering the question: on 2026-07-28 a
//! client that declares elicitation is asked before `package_delete` and a forced
//! `package_update`; declined → a `declined` tool error and S3 unchanged (read back from
//! moto), accepted → done; a client without elicitation, or the stateless legacy era, is not
//! asked (today's behaviour). The sealed `requestState` binds the answer to the caller, tool
//! and arguments: replayed for other arguments, by another caller, or forged, it is refused
//! and nothing changes. Over stdio (a session) the server asks inside the call and waits.

use std::path::PathBuf;
use std::sync::Arc;

use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

const REG: &str = "confirm-reg";

pub async fn server(
    moto: &Moto,
    configure: impl FnOnce(&mut quilt_mcp_server::Config) + Send + 'static,
) -> TestServer {
    let read = moto
        .role(
            &format!("ConfRead{}", uuid::Uuid::new_v4().simple()),
            "*",
            allow_all(),
        )
        .await;
    let write = moto
        .role(
            &format!("ConfWrite{}", uuid::Uuid::new_v4().simple()),
            "*",
            allow_all(),
        )
        .await;
    let url = moto.url.clone();
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read);
            c.write_role_arn = Some(write);
            configure(c);
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await
}

/// Runs `mcp_confirm.py`: the client answers every confirmation with `answer`.
pub async fn python(url: &str, token: &str, mode: &str, answer: &str, calls: Value) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = tokio::process::Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/python/mcp_confirm.py"))
        .args([url, token, mode, answer, &calls.to_string()])
        .output()
        .await
        .expect("run python");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "client output is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

async fn exists(moto: &Moto, key: &str) -> bool {
    moto.s3()
        .head_object()
        .bucket(REG)
        .key(key)
        .send()
        .await
        .is_ok()
}

async fn latest(moto: &Moto, name: &str) -> String {
    let o = moto
        .s3()
        .get_object()
        .bucket(REG)
        .key(format!(".quilt/named_packages/{name}/latest"))
        .send()
        .await
        .expect("latest");
    let bytes = o.body.collect().await.expect("body").into_bytes();
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

async fn create(server: &TestServer, name: &str) -> String {
    let r = call_tool(
        &server.mcp(),
        Some(&token("alice")),
        "package_create",
        json!({"registry": format!("s3://{REG}"), "package_name": name,
               "entries": [{"s3_uri": format!("s3://{REG}/data/a.csv"), "logical_key": "a.csv"}]}),
    )
    .await;
    let result = r.result();
    assert_eq!(result["isError"], false, "{result}");
    result["structuredContent"]["top_hash"]
        .as_str()
        .expect("hash")
        .to_owned()
}

/// A raw 2026-07-28 `tools/call` declaring elicitation, with optional answers and state.
async fn modern_call(
    server: &TestServer,
    token: &str,
    tool: &str,
    args: Value,
    retry: Option<(Value, &str)>,
) -> Value {
    let mut params = json!({"name": tool, "arguments": args, "_meta": {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "it", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
    }});
    if let Some((responses, state)) = retry {
        params["inputResponses"] = responses;
        params["requestState"] = json!(state);
    }
    let r = http()
        .post(server.mcp())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .bearer_auth(token)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}))
        .send()
        .await
        .expect("send");
    let text = r.text().await.expect("body");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
    body["result"].clone()
}

fn code(result: &Value) -> &str {
    assert_eq!(result["isError"], true, "{result}");
    result["structuredContent"]["error"]["code"]
        .as_str()
        .expect("code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn package_delete_and_forced_update_ask_first_and_a_declined_answer_changes_nothing() {
    let moto = Moto::start().await;
    moto.s3()
        .create_bucket()
        .bucket(REG)
        .send()
        .await
        .expect("bucket");
    moto.s3()
        .put_object()
        .bucket(REG)
        .key("data/a.csv")
        .body(b"a\n1\n".to_vec().into())
        .send()
        .await
        .expect("put");
    let server = server(&moto, |_| {}).await;
    let alice = token("alice");
    for name in ["team/a", "team/b", "team/c", "team/d"] {
        create(&server, name).await;
    }
    let delete = |name: &str| json!([{"tool": "package_delete", "arguments": {"registry": format!("s3://{REG}"), "package_name": name}}]);
    let pointer = |name: &str| format!(".quilt/named_packages/{name}/latest");

    // Declined: asked once, with what will change; a `declined` error; the pointers remain.
    let out = python(&server.mcp(), &alice, "auto", "decline", delete("team/a")).await;
    assert_eq!(out["protocol_version"], MODERN, "{out}");
    let questions = out["questions"].as_array().expect("questions");
    assert_eq!(questions.len(), 1, "{out}");
    assert!(
        questions[0]
            .as_str()
            .is_some_and(|q| q.contains("Delete package team/a") && q.contains(REG)),
        "{out}"
    );
    let result = &out["results"][0];
    assert_eq!(code(result), "declined");
    assert!(
        result["structuredContent"]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Nothing was changed"))
    );
    assert!(
        exists(&moto, &pointer("team/a")).await,
        "a declined delete deleted"
    );
    // Cancelled (dismissed): the same.
    let out = python(&server.mcp(), &alice, "auto", "cancel", delete("team/a")).await;
    assert_eq!(code(&out["results"][0]), "declined");
    assert!(exists(&moto, &pointer("team/a")).await);

    // Accepted: deleted.
    let out = python(&server.mcp(), &alice, "auto", "accept", delete("team/a")).await;
    assert_eq!(out["questions"].as_array().map(Vec::len), Some(1), "{out}");
    assert_eq!(out["results"][0]["isError"], false, "{out}");
    assert!(
        !exists(&moto, &pointer("team/a")).await,
        "an accepted delete did not delete"
    );

    // No elicitation capability: not asked, deleted as before (today's behaviour).
    let out = python(&server.mcp(), &alice, "auto", "none", delete("team/b")).await;
    assert_eq!(out["questions"], json!([]), "{out}");
    assert_eq!(out["results"][0]["isError"], false, "{out}");
    assert!(!exists(&moto, &pointer("team/b")).await);
    // The stateless legacy era cannot carry the question: not asked either (documented).
    let out = python(&server.mcp(), &alice, "legacy", "decline", delete("team/d")).await;
    assert_eq!(out["questions"], json!([]), "{out}");
    assert_eq!(out["results"][0]["isError"], false, "{out}");
    assert!(!exists(&moto, &pointer("team/d")).await);

    // A forced update: declined → latest unchanged; accepted → moved. Without force: not asked.
    let before = latest(&moto, "team/c").await;
    let update = |force: bool| json!([{"tool": "package_update", "arguments": {"registry": format!("s3://{REG}"), "package_name": "team/c", "message": "forced", "force": force}}]);
    let out = python(&server.mcp(), &alice, "auto", "decline", update(true)).await;
    assert_eq!(code(&out["results"][0]), "declined", "{out}");
    assert!(
        out["questions"][0]
            .as_str()
            .is_some_and(|q| q.contains("Force a new latest revision of team/c")),
        "{out}"
    );
    assert_eq!(
        latest(&moto, "team/c").await,
        before,
        "a declined forced update moved latest"
    );
    let out = python(&server.mcp(), &alice, "auto", "accept", update(true)).await;
    assert_eq!(out["results"][0]["isError"], false, "{out}");
    let after = latest(&moto, "team/c").await;
    assert_ne!(after, before);
    let out = python(&server.mcp(), &alice, "auto", "decline", update(false)).await;
    assert_eq!(out["questions"], json!([]), "{out}");
    assert_eq!(out["results"][0]["isError"], false, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acceptance_is_bound_to_its_caller_tool_and_arguments() {
    let moto = Moto::start().await;
    moto.s3()
        .create_bucket()
        .bucket(REG)
        .send()
        .await
        .expect("bucket");
    moto.s3()
        .put_object()
        .bucket(REG)
        .key("data/a.csv")
        .body(b"a\n".to_vec().into())
        .send()
        .await
        .expect("put");
    let server = server(&moto, |_| {}).await;
    let (alice, bob) = (token("alice"), token("bob"));
    create(&server, "team/x").await;
    create(&server, "team/y").await;
    let args = |name: &str| json!({"registry": format!("s3://{REG}"), "package_name": name});

    // First round: the call ends with the question and a sealed state; nothing deleted.
    let asked = modern_call(&server, &alice, "package_delete", args("team/x"), None).await;
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let question = &asked["inputRequests"]["confirm"];
    assert_eq!(question["method"], "elicitation/create", "{asked}");
    let state = asked["requestState"].as_str().expect("state").to_owned();
    assert!(exists(&moto, ".quilt/named_packages/team/x/latest").await);
    let accept = json!({"confirm": {"action": "accept", "content": {}}});

    // The acceptance replayed for other arguments, by another caller, or with a forged state.
    let other = modern_call(
        &server,
        &alice,
        "package_delete",
        args("team/y"),
        Some((accept.clone(), &state)),
    )
    .await;
    assert_eq!(code(&other), "invalid_argument", "{other}");
    let stolen = modern_call(
        &server,
        &bob,
        "package_delete",
        args("team/x"),
        Some((accept.clone(), &state)),
    )
    .await;
    assert_eq!(code(&stolen), "invalid_argument", "{stolen}");
    let forged = modern_call(
        &server,
        &alice,
        "package_delete",
        args("team/x"),
        Some((accept.clone(), "AAAA")),
    )
    .await;
    assert_eq!(code(&forged), "invalid_argument", "{forged}");
    for name in ["team/x", "team/y"] {
        assert!(
            exists(&moto, &format!(".quilt/named_packages/{name}/latest")).await,
            "{name} was deleted"
        );
    }
    // The genuine answer works.
    let done = modern_call(
        &server,
        &alice,
        "package_delete",
        args("team/x"),
        Some((accept, &state)),
    )
    .await;
    assert_eq!(done["isError"], false, "{done}");
    assert!(!exists(&moto, ".quilt/named_packages/team/x/latest").await);
}

/// The next message the stdio server writes (a response or a request to the client).
async fn next_message(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> Value {
    let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("a message in time")
        .expect("read")
        .expect("a line");
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_stdio_a_client_with_elicitation_is_asked_inside_the_call() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

    let moto = Moto::start().await;
    moto.s3()
        .create_bucket()
        .bucket(REG)
        .send()
        .await
        .expect("bucket");
    moto.s3()
        .put_object()
        .bucket(REG)
        .key("data/a.csv")
        .body(b"a\n".to_vec().into())
        .send()
        .await
        .expect("put");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_quilt-mcp-server"))
        .arg("stdio")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("USER", "desk")
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAADMINADMINADMIN0")
        .env("AWS_SECRET_ACCESS_KEY", "admin-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    async fn write(stdin: &mut tokio::process::ChildStdin, m: Value) {
        stdin
            .write_all(format!("{m}\n").as_bytes())
            .await
            .expect("write");
        stdin.flush().await.expect("flush");
    }
    write(&mut stdin, json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": LEGACY, "capabilities": {"elicitation": {}}, "clientInfo": {"name": "it", "version": "1"}}})).await;
    assert_eq!(next_message(&mut lines).await["id"], 1);
    write(
        &mut stdin,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    write(&mut stdin, json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "package_create", "arguments": {
        "registry": format!("s3://{REG}"), "package_name": "team/s",
        "entries": [{"s3_uri": format!("s3://{REG}/data/a.csv"), "logical_key": "a.csv"}]}}})).await;
    let created = next_message(&mut lines).await;
    assert_eq!(created["result"]["isError"], false, "{created}");
    let pointer = ".quilt/named_packages/team/s/latest";
    assert!(exists(&moto, pointer).await);

    for (id, answer) in [(3, "decline"), (4, "accept")] {
        write(&mut stdin, json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "package_delete", "arguments": {
            "registry": format!("s3://{REG}"), "package_name": "team/s"}}})).await;
        // The server asks inside the call, before deleting anything.
        let ask = next_message(&mut lines).await;
        assert_eq!(ask["method"], "elicitation/create", "{ask}");
        assert!(
            ask["params"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("Delete package team/s")),
            "{ask}"
        );
        assert!(exists(&moto, pointer).await, "deleted before the answer");
        write(
            &mut stdin,
            json!({"jsonrpc": "2.0", "id": ask["id"].clone(), "result": {"action": answer}}),
        )
        .await;
        let result = next_message(&mut lines).await;
        assert_eq!(result["id"], id, "{result}");
        if answer == "decline" {
            assert_eq!(
                result["result"]["structuredContent"]["error"]["code"], "declined",
                "{result}"
            );
            assert!(exists(&moto, pointer).await, "a declined delete deleted");
        } else {
            assert_eq!(result["result"]["isError"], false, "{result}");
            assert!(
                !exists(&moto, pointer).await,
                "an accepted delete did not delete"
            );
        }
    }
    drop(stdin);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait()).await;
}
