//! A real client: the official Python `mcp` package (2.x) lists and calls `auth_status`
//! with a bearer token, in both protocol eras. The venv is made by `make venv`
//! (`.venv/` at the workspace root); `tests/python/mcp_client.py` is the client.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::*;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn run_client(url: &str, token: &str, mode: &str) -> (bool, Value) {
    let root = workspace_root();
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make venv` (make test does) to install the Python MCP client",
        python.display()
    );
    let output = tokio::process::Command::new(python)
        .arg(root.join("tests/python/mcp_client.py"))
        .args([url, token, mode])
        .output()
        .await
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "client output is not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), value)
}

#[tokio::test]
async fn python_mcp_client_lists_and_calls_auth_status_in_both_eras() {
    let server = TestServer::start(|_| {}).await;
    for (mode, version) in [("legacy", LEGACY), ("modern", MODERN)] {
        let subject = format!("python-{mode}");
        let (ok, out) = run_client(&server.mcp(), &token(&subject), mode).await;
        assert!(ok, "{mode}: {out}");
        assert_eq!(out["protocol_version"], version, "{out}");
        assert!(
            out["tools"]
                .as_array()
                .expect("tools")
                .contains(&Value::from("auth_status"))
        );
        assert_eq!(out["structuredContent"]["subject"], subject.as_str());
        assert_eq!(out["isError"], false);
    }
}

#[tokio::test]
async fn python_mcp_client_without_a_valid_token_is_refused() {
    let server = TestServer::start(|_| {}).await;
    let (ok, out) = run_client(&server.mcp(), "not-a-token", "legacy").await;
    assert!(!ok, "{out}");
    assert!(
        out["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{out}"
    );
    assert_eq!(server.calls.get(), 0);
}
