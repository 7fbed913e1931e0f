//! Resources and completions through the official Python MCP client
//! (`tests/python/mcp_resources.py`), on both protocol eras: the two templates, reads of
//! small objects (text and blob), previews of Parquet and of package entries (by name and
//! pinned by hash, against what pyarrow and Python's csv read), a missing key and a bucket
//! outside the grants as JSON-RPC errors, and completions of buckets, key prefixes and
//! package names with the caller's credentials — one request each, none outside the grants.
//! Also `bucket_object_preview` of a package entry.

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::fault_proxy::FaultProxy;
use crate::moto::*;
use crate::support::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the Python client with `ops`; its JSON answer. (Async: the server under test runs on
/// this test's runtime, so a blocking wait here would starve it.)
pub(crate) async fn client(url: &str, token: &str, mode: &str, ops: &Value) -> Value {
    let out = tokio::process::Command::new(root().join(".venv/bin/python"))
        .arg(root().join("tests/python/mcp_resources.py"))
        .args([url, token, mode, &ops.to_string()])
        .output()
        .await
        .expect("run mcp_resources.py");
    assert!(
        out.status.success(),
        "mcp_resources.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

pub(crate) fn values(r: &Value) -> Vec<String> {
    r["completion"]["values"]
        .as_array()
        .unwrap_or_else(|| panic!("no completion: {r}"))
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect()
}

fn preview_of(r: &Value) -> Value {
    let c = &r["contents"][0];
    assert_eq!(c["mimeType"], "application/json", "{r}");
    serde_json::from_str(c["text"].as_str().expect("text")).expect("preview json")
}

#[tokio::test]
async fn resources_and_completions_through_the_python_client() {
    let moto = Moto::start().await;
    let dir = std::env::temp_dir().join(format!("resources-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let out = std::process::Command::new(root().join(".venv/bin/python"))
        .arg(root().join("tests/python/preview_data.py"))
        .args(["files", dir.to_str().expect("utf-8")])
        .output()
        .expect("preview_data.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: Value = serde_json::from_slice(&out.stdout).expect("json");

    let s3 = moto.s3();
    for b in ["res-data", "res-two", "not-granted"] {
        s3.create_bucket().bucket(b).send().await.expect("bucket");
    }
    let put = |key: &'static str, body: Vec<u8>| {
        let s3 = s3.clone();
        async move {
            s3.put_object()
                .bucket("res-data")
                .key(key)
                .body(body.into())
                .send()
                .await
                .expect("put");
        }
    };
    let readme = "Café data — read me.\n".repeat(10);
    put("notes/readme.txt", readme.clone().into_bytes()).await;
    let blob: Vec<u8> = (0..300u32).map(|i| (i * 7 % 256) as u8).collect();
    put("bin/blob.bin", blob.clone()).await;
    put(
        "tables/nested.parquet",
        std::fs::read(dir.join("nested.parquet")).expect("read"),
    )
    .await;
    put(
        "tables/data.csv",
        std::fs::read(dir.join("data.csv")).expect("read"),
    )
    .await;
    std::fs::remove_dir_all(&dir).ok();

    let proxy = FaultProxy::start(&moto.url).await;
    let read_role = moto.role("ResRead", "*", allow_all()).await;
    let write_role = moto.role("ResWrite", "*", allow_all()).await;
    let url = proxy.url.clone();
    let server = TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read_role);
            c.write_role_arn = Some(write_role);
            c.buckets = vec!["res-data".into(), "res-two".into()];
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await;
    let created = call_tool(
        &server.mcp(),
        Some(&token("ria")),
        "package_create",
        json!({"registry": "s3://res-data", "package_name": "team/tables", "copy": false,
               "entries": [{"s3_uri": "s3://res-data/tables/data.csv", "logical_key": "raw/data.csv"},
                           {"s3_uri": "s3://res-data/tables/nested.parquet", "logical_key": "raw/nested.parquet"}]}),
    )
    .await;
    let created = created.result().clone();
    assert_eq!(created["isError"], false, "{created}");
    let top_hash = created["structuredContent"]["top_hash"]
        .as_str()
        .expect("hash")
        .to_owned();

    // The tool reads a package entry too.
    let entry = call_tool(
        &server.mcp(),
        Some(&token("ria")),
        "bucket_object_preview",
        json!({"registry": "s3://res-data", "package_name": "team/tables", "path": "raw/data.csv"}),
    )
    .await;
    let entry = &entry.result()["structuredContent"];
    assert_eq!(entry["rows"], truth["data.csv"]["rows"], "{entry}");
    assert_eq!(entry["package"]["top_hash"], top_hash.as_str());
    assert_eq!(entry["s3_uri"], "s3://res-data/tables/data.csv");

    for mode in ["legacy", "auto"] {
        let ops = json!([
            {"op": "templates"},
            {"op": "list"},
            {"op": "read", "uri": "s3://res-data/notes/readme.txt"},
            {"op": "read", "uri": "s3://res-data/bin/blob.bin"},
            {"op": "read", "uri": "s3://res-data/tables/nested.parquet"},
            {"op": "read", "uri": "quilt+s3://res-data#package=team/tables&path=raw/nested.parquet"},
            {"op": "read", "uri": format!("quilt+s3://res-data#package=team/tables@{}&path=raw%2Fdata.csv", &top_hash[..12])},
            {"op": "read", "uri": "s3://res-data/no/such.txt"},
            {"op": "read", "uri": "s3://not-granted/x.txt"},
            {"op": "read", "uri": "quilt+s3://res-data#package=team/tables&path=raw/none.csv"},
            {"op": "complete", "template": "s3://{bucket}/{key}", "name": "bucket", "value": "res"},
            {"op": "complete", "template": "s3://{bucket}/{key}", "name": "bucket", "value": "res-d"},
            {"op": "complete", "template": "s3://{bucket}/{key}", "name": "key", "value": "", "context": {"bucket": "res-data"}},
            {"op": "complete", "template": "s3://{bucket}/{key}", "name": "key", "value": "tables/", "context": {"bucket": "res-data"}},
            {"op": "complete", "template": "quilt+s3://{bucket}#package={name}&path={path}", "name": "name", "value": "", "context": {"bucket": "res-data"}},
            {"op": "complete", "template": "quilt+s3://{bucket}#package={name}&path={path}", "name": "name", "value": "team/", "context": {"bucket": "res-data"}},
        ]);
        let out = client(&server.mcp(), &token("ria"), mode, &ops).await;
        let r = out["results"].as_array().expect("results");
        assert!(out["capabilities"]["resources"].is_object(), "{out}");
        assert!(out["capabilities"]["completions"].is_object(), "{out}");

        let templates: Vec<&str> = r[0]["resourceTemplates"]
            .as_array()
            .expect("templates")
            .iter()
            .map(|t| t["uriTemplate"].as_str().expect("uri"))
            .collect();
        assert_eq!(
            templates,
            [
                "s3://{bucket}/{key}",
                "quilt+s3://{bucket}#package={name}&path={path}"
            ],
            "{mode}"
        );
        assert_eq!(r[1]["resources"], json!([]), "resources/list lists nothing");

        assert_eq!(r[2]["contents"][0]["text"], readme.as_str(), "{mode}");
        let b64 = r[3]["contents"][0]["blob"].as_str().expect("blob");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("base64"),
            blob
        );

        let parquet = preview_of(&r[4]);
        assert_eq!(parquet["format"], "parquet");
        assert_eq!(parquet["rows"], truth["nested.parquet"]["rows"]);
        let by_entry = preview_of(&r[5]);
        assert_eq!(by_entry["rows"], truth["nested.parquet"]["rows"]);
        assert_eq!(by_entry["package"]["path"], "raw/nested.parquet");
        let pinned = preview_of(&r[6]);
        assert_eq!(pinned["rows"], truth["data.csv"]["rows"], "{mode}");
        assert_eq!(pinned["package"]["top_hash"], top_hash.as_str());

        // MCP 2026-07-28 reports a missing resource as invalid params (rmcp converts);
        // older protocols keep -32002. The tool error's code travels in data either way.
        let not_found = if mode == "legacy" { -32002 } else { -32602 };
        assert_eq!(r[7]["error"]["code"], not_found, "missing key: {}", r[7]);
        assert_eq!(r[7]["error"]["data"]["code"], "not_found");
        assert_eq!(r[7]["error"]["data"]["uri"], "s3://res-data/no/such.txt");
        assert_eq!(r[8]["error"]["code"], -32602, "{}", r[8]);
        assert_eq!(r[8]["error"]["data"]["code"], "not_permitted");
        assert_eq!(r[9]["error"]["code"], not_found, "missing entry: {}", r[9]);
        assert_eq!(r[9]["error"]["data"]["code"], "not_found");
        assert_eq!(
            r[9]["error"]["data"]["uri"],
            "quilt+s3://res-data#package=team/tables&path=raw/none.csv"
        );

        assert_eq!(values(&r[10]), ["res-data", "res-two"], "{mode}");
        assert_eq!(values(&r[11]), ["res-data"]);
        // The registry's own `.quilt/` is a folder of the bucket like any other.
        assert_eq!(
            values(&r[12]),
            [".quilt/", "bin/", "notes/", "tables/"],
            "{}",
            r[12]
        );
        assert_eq!(values(&r[13]), ["tables/data.csv", "tables/nested.parquet"]);
        assert_eq!(values(&r[14]), ["team/"]);
        assert_eq!(values(&r[15]), ["team/tables"]);
    }

    // A bucket outside the grants completes to nothing and costs no request.
    let before = proxy.seen().len();
    let out = client(
        &server.mcp(),
        &token("ria"),
        "legacy",
        &json!([{"op": "complete", "template": "s3://{bucket}/{key}", "name": "key", "value": "", "context": {"bucket": "not-granted"}},
                {"op": "read", "uri": "s3://not-granted/x.txt"}]),
    )
    .await;
    assert_eq!(values(&out["results"][0]), Vec::<String>::new());
    assert_eq!(out["results"][1]["error"]["data"]["code"], "not_permitted");
    assert_eq!(proxy.seen().len(), before, "{:?}", &proxy.seen()[before..]);

    // Without quilt:read, reads and completions are refused.
    let no_read = hs256(&claims("ria", json!({"scope": "athena:query"})), SECRET);
    let out = client(
        &server.mcp(),
        &no_read,
        "legacy",
        &json!([{"op": "read", "uri": "s3://res-data/notes/readme.txt"}]),
    )
    .await;
    assert_eq!(
        out["results"][0]["error"]["data"]["code"], "not_permitted",
        "{out}"
    );
}
