//! The shipped binary as an operator runs it: fail-fast configuration, `token`,
//! `healthcheck`, `stdio` and SIGTERM. SIGTERM with calls in flight needs the fixture binary's
//! slow tool: `crates/quilt-mcp-fixture/tests/it/shutdown.rs`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_quilt-mcp-server");

#[tokio::test]
async fn serve_refuses_to_start_without_a_way_to_verify_tokens() {
    let out = command(BIN)
        .args(["serve"])
        .env("MCP_LISTEN", "127.0.0.1:0")
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MCP_JWT_SECRET") && stderr.contains("no way to verify tokens"),
        "{stderr}"
    );

    let out = command(BIN)
        .env("MCP_AUTH_DISABLED", "true")
        .env("MCP_LISTEN", "0.0.0.0:0")
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MCP_AUTH_DISABLED") && stderr.contains("not loopback"),
        "{stderr}"
    );

    let out = command(BIN)
        .env("MCP_JWT_SECRET", "too-short")
        .output()
        .await
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32 bytes"));
}

#[tokio::test]
async fn help_documents_every_setting_with_its_environment_variable() {
    let out = command(BIN)
        .args(["serve", "--help"])
        .output()
        .await
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "MCP_LISTEN",
        "MCP_PUBLIC_URL",
        "MCP_ALLOWED_HOSTS",
        "MCP_ALLOWED_ORIGINS",
        "MCP_MAX_BODY_BYTES",
        "MCP_REQUEST_TIMEOUT_S",
        "MCP_MAX_IN_FLIGHT",
        "MCP_SHUTDOWN_GRACE_S",
        "MCP_JWT_SECRET",
        "MCP_JWT_SECRET_PREVIOUS",
        "MCP_JWT_JWKS_URL",
        "MCP_JWT_ISSUER",
        "MCP_JWT_AUDIENCE",
        "MCP_AUTH_DISABLED",
        "MCP_CREDENTIAL_SOURCES",
        "MCP_HEALTHZ_STRICT",
        "MCP_LOG_FORMAT",
    ] {
        assert!(help.contains(&format!("[env: {var}")), "--help lacks {var}");
    }
}

#[tokio::test]
async fn minted_tokens_work_healthcheck_probes_and_sigterm_exits_zero() {
    let port = free_port();
    let mut server = command(BIN)
        .env("MCP_LISTEN", format!("127.0.0.1:{port}"))
        .env("MCP_JWT_SECRET", SECRET)
        .env("MCP_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_ready(port).await;

    let out = command(BIN)
        .args(["token", "--subject", "minted", "--bucket", "alpha,beta/p/"])
        .env("MCP_JWT_SECRET", SECRET)
        // The server requires `aud` = its resource URL by default; the command derives it
        // from the same MCP_LISTEN.
        .env("MCP_LISTEN", format!("127.0.0.1:{port}"))
        .output()
        .await
        .expect("token");
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    let status = auth_status(&format!("http://127.0.0.1:{port}/mcp"), &token).await;
    assert_eq!(status["subject"], "minted");
    assert_eq!(status["buckets"], json!(["alpha", "beta/p/"]));

    let ok = command(BIN)
        .arg("healthcheck")
        .env("MCP_LISTEN", format!("0.0.0.0:{port}"))
        .status()
        .await
        .expect("run");
    assert!(ok.success(), "healthcheck of a running server");
    let down = command(BIN)
        .arg("healthcheck")
        .env("MCP_LISTEN", format!("127.0.0.1:{}", free_port()))
        .status()
        .await
        .expect("run");
    assert!(!down.success(), "healthcheck with nothing listening");

    sigterm(&server);
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("exits")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
    // JSON logs: every stderr line is a JSON object, and the token never appears.
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(server.stderr.as_mut().expect("stderr"), &mut stderr)
        .await
        .expect("read");
    assert!(!stderr.contains(&token) && !stderr.contains(SECRET));
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }
    assert!(
        stderr.contains("\"target\":\"audit\""),
        "audit line missing: {stderr}"
    );
}

#[tokio::test]
async fn stdio_serves_the_local_user_with_the_same_tools() {
    let mut child = command(BIN)
        .arg("stdio")
        .env("USER", "desk")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "auth_status", "arguments": {}}}),
    ];
    for m in &messages {
        stdin
            .write_all(format!("{m}\n").as_bytes())
            .await
            .expect("write");
    }
    stdin.flush().await.expect("flush");
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("answer")
            .expect("read")
            .expect("line");
        answers.push(serde_json::from_str::<Value>(&line).expect("json"));
    }
    assert_eq!(answers[0]["result"]["serverInfo"]["name"], "quilt-mcp");
    let status = &answers[1]["result"]["structuredContent"];
    assert_eq!(status["subject"], "local:desk");
    assert_eq!(status["auth_method"], "local");
    assert_eq!(
        status["credential_source"], "ambient",
        "stdio defaults to the process's own credentials"
    );
    drop(stdin);
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits")
        .expect("wait");
    assert!(exit.success());
}
