//! The everyday edges a new user meets first (issue 21), each through a real server: an
//! oversized body answered so that ordinary clients (httpx, the official Python MCP client)
//! read the 413 and its JSON body instead of a reset connection; a 12 MiB put with default
//! settings (the body limit leaves room above the multipart threshold); gzip for clients that
//! ask for it, a plain body for an encoding the server does not speak.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use quilt_mcp_aws::cache::SystemClock;
use quilt_mcp_server::config::DEFAULT_MAX_BODY_BYTES;
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A server with default settings on moto, acting through stack roles that may do anything.
async fn server_on_moto(moto: &Moto, tag: &str) -> TestServer {
    let read = moto
        .role(&format!("EverydayRead{tag}"), "*", allow_all())
        .await;
    let write = moto
        .role(&format!("EverydayWrite{tag}"), "*", allow_all())
        .await;
    let url = moto.url.clone();
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read);
            c.write_role_arn = Some(write);
        },
        Some(moto.identity("AKIASERVERSERVER0021", "server-secret")),
        Arc::new(SystemClock),
    )
    .await
}

#[tokio::test]
async fn oversized_bodies_reach_httpx_and_the_python_mcp_client_as_a_413_with_its_json() {
    let server = TestServer::start(|_| {}).await;
    assert_eq!(
        server.app.settings.http.max_body_bytes, DEFAULT_MAX_BODY_BYTES,
        "default settings"
    );
    let python = workspace_root().join(".venv/bin/python");
    assert!(python.exists(), "run `make venv` first");
    // httpx posts a 50 MB JSON-RPC body; the MCP client puts 20 MiB (27 MiB once base64).
    let output = tokio::process::Command::new(python)
        .arg(workspace_root().join("tests/python/oversized.py"))
        .args([
            server.mcp(),
            token("big-sender"),
            "50000000".into(),
            (20 * 1024 * 1024).to_string(),
        ])
        .output()
        .await
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let out: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    eprintln!("oversized: {out}");

    // httpx: the status and the JSON-RPC error body, which names the limit and the largest put.
    let raw = &out["httpx"];
    assert_eq!(raw["status"], 413, "httpx saw: {raw}");
    assert_eq!(raw["connection"], "close", "{raw}");
    let message = raw["body"]["error"]["message"].as_str().expect("message");
    assert_eq!(raw["body"]["error"]["code"], -32600, "{raw}");
    assert!(
        message.contains(&DEFAULT_MAX_BODY_BYTES.to_string())
            && message.contains("MCP_MAX_BODY_BYTES")
            && message.contains(
                &quilt_mcp_server::envelope::max_put_payload(DEFAULT_MAX_BODY_BYTES).to_string()
            ),
        "{message}"
    );

    // The MCP client: the server's JSON-RPC error itself (it read the 413's body), not a bare
    // ReadError.
    let errors = out["mcp"]["errors"].as_array().expect("the call failed");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["type"], "MCPError", "{errors:?}");
    assert_eq!(errors[0]["message"], message, "{errors:?}");
    assert_eq!(server.calls.get(), 0, "no tool ran");
}

#[tokio::test]
async fn a_12_mib_put_works_with_default_settings_and_goes_multipart() {
    let moto = Moto::start().await;
    moto.s3()
        .create_bucket()
        .bucket("everyday-put")
        .send()
        .await
        .expect("bucket");
    let server = server_on_moto(&moto, "Put").await;
    // Not a repeated byte: every part differs, so a reordered or dropped part would show.
    let data: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let r = call_tool(
        &server.mcp(),
        Some(&token("putter")),
        "bucket_objects_put",
        json!({"bucket": "everyday-put", "items": [{
            "key": "big/twelve.bin",
            "data": base64::engine::general_purpose::STANDARD.encode(&data),
        }]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let result = r.result();
    assert_eq!(result["isError"], false, "{result}");
    let item = &result["structuredContent"]["results"][0];
    assert_eq!(item["multipart"], true, "{item}");
    let stored = moto
        .s3()
        .get_object()
        .bucket("everyday-put")
        .key("big/twelve.bin")
        .send()
        .await
        .expect("get")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    assert_eq!(stored.len(), data.len());
    assert!(stored.as_ref() == data.as_slice(), "stored bytes differ");
}

/// `tools/list` with the given `Accept-Encoding`: the status, `Content-Encoding` and raw body.
async fn tools_list(
    server: &TestServer,
    accept_encoding: Option<&str>,
) -> (u16, Option<String>, Vec<u8>) {
    let mut request = http()
        .post(server.mcp())
        .bearer_auth(token("gzip"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", LEGACY)
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
    if let Some(e) = accept_encoding {
        request = request.header("accept-encoding", e);
    }
    let response = request.send().await.expect("send");
    let encoding = response
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let status = response.status().as_u16();
    (
        status,
        encoding,
        response.bytes().await.expect("body").to_vec(),
    )
}

#[tokio::test]
async fn tools_list_is_gzipped_when_asked_and_plain_for_other_encodings() {
    let moto = Moto::start().await;
    let server = server_on_moto(&moto, "Gzip").await;
    let (status, encoding, plain) = tools_list(&server, None).await;
    assert_eq!((status, encoding), (200, None), "no Accept-Encoding: plain");
    let plain: Value = serde_json::from_slice(&plain).expect("plain JSON");
    assert!(
        plain["result"]["tools"]
            .as_array()
            .is_some_and(|t| t.len() > 10),
        "{plain}"
    );
    let plain_len = serde_json::to_vec(&plain).expect("json").len();

    let (status, encoding, zipped) = tools_list(&server, Some("gzip")).await;
    assert_eq!((status, encoding.as_deref()), (200, Some("gzip")));
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(zipped.as_slice())
        .read_to_end(&mut decoded)
        .expect("valid gzip");
    let unzipped: Value = serde_json::from_slice(&decoded).expect("gzipped JSON");
    assert_eq!(unzipped, plain, "the same answer");
    eprintln!(
        "tools/list: {plain_len} bytes plain, {} gzipped",
        zipped.len()
    );
    assert!(
        zipped.len() * 3 < plain_len,
        "gzip {} vs plain {plain_len}",
        zipped.len()
    );

    // Encodings not compiled in (and gzip refused with q=0) get the plain body, not an error.
    for other in ["br", "zstd", "deflate;q=1, gzip;q=0", "x-unknown"] {
        let (status, encoding, body) = tools_list(&server, Some(other)).await;
        assert_eq!((status, encoding.as_deref()), (200, None), "{other}");
        let v: Value = serde_json::from_slice(&body).expect("plain JSON");
        assert_eq!(v, plain, "{other}");
    }
}
