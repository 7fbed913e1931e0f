//! `bucket_object_preview` against moto, on files written by real writers: Parquet from
//! pyarrow (several row groups, nested and null columns, snappy and zstd), CSV/TSV from
//! Python's `csv`, JSON Lines and JSON from `json`, gzip from `gzip`/`zlib` (including two
//! bombs), compared with what pyarrow and Python read back from the same files
//! (`tests/python/preview_data.py`). Bad input: a corrupt footer, ragged rows, binary data
//! named `.csv`, an empty object, a missing key, a bucket outside the grants. And a 1 GiB
//! Parquet object previewed by the shipped binary through a counting proxy: a handful of
//! ranged GETs, flat memory.

use std::path::PathBuf;
use std::sync::Arc;

use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::fault_proxy::FaultProxy;
use crate::moto::*;
use crate::support::*;

const BUCKET: &str = "preview-data";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    root().join(".venv/bin/python")
}

/// Runs `tests/python/preview_data.py` with `args`; its JSON answer.
fn data_script(args: &[&str]) -> Value {
    let out = std::process::Command::new(python())
        .arg(root().join("tests/python/preview_data.py"))
        .args(args)
        .output()
        .expect("run preview_data.py");
    assert!(
        out.status.success(),
        "preview_data.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

async fn server(moto_url: &str, moto: &Moto, buckets: Option<&str>) -> TestServer {
    let read = moto.role("PreviewReadRole", "*", allow_all()).await;
    let url = moto_url.to_owned();
    let buckets = buckets.map(str::to_owned);
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read);
            if let Some(b) = buckets {
                c.buckets = vec![b];
            }
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await
}

async fn preview(server: &TestServer, args: Value) -> Value {
    let r = call_tool(
        &server.mcp(),
        Some(&token("pat")),
        "bucket_object_preview",
        args,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.result().clone()
}

async fn ok(server: &TestServer, key: &str) -> Value {
    let r = preview(server, json!({"s3_uri": format!("s3://{BUCKET}/{key}")})).await;
    assert_eq!(r["isError"], false, "{key}: {r}");
    r["structuredContent"].clone()
}

async fn err(server: &TestServer, args: Value) -> (String, String) {
    let r = preview(server, args).await;
    assert_eq!(r["isError"], true, "{r}");
    let e = &r["structuredContent"]["error"];
    (
        e["code"].as_str().expect("code").to_owned(),
        e["message"].as_str().expect("message").to_owned(),
    )
}

fn names(p: &Value) -> Vec<String> {
    p["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_owned())
        .collect()
}

fn column<'a>(p: &'a Value, name: &str) -> &'a Value {
    p["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name} in {p}"))
}

fn notes(p: &Value) -> String {
    p["notes"].to_string()
}

async fn upload_fixtures(moto: &Moto) -> Value {
    let dir = std::env::temp_dir().join(format!("preview-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let truth = data_script(&["files", dir.to_str().expect("utf-8")]);
    let s3 = moto.s3();
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    for entry in std::fs::read_dir(&dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let key = path.file_name().expect("name").to_str().expect("utf-8");
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(std::fs::read(&path).expect("read").into())
            .send()
            .await
            .expect("put");
    }
    // Two files no writer is needed for: nothing at all, and binary bytes named .csv.
    s3.put_object()
        .bucket(BUCKET)
        .key("empty.csv")
        .body(Vec::new().into())
        .send()
        .await
        .expect("put");
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 131 % 256) as u8).collect();
    s3.put_object()
        .bucket(BUCKET)
        .key("binary.csv")
        .body(binary.into())
        .send()
        .await
        .expect("put");
    std::fs::remove_dir_all(&dir).ok();
    truth
}

#[tokio::test]
async fn parquet_previews_match_what_pyarrow_reads() {
    let moto = Moto::start().await;
    let truth = upload_fixtures(&moto).await;
    let server = server(&moto.url, &moto, None).await;

    let t = &truth["nested.parquet"];
    let p = ok(&server, "nested.parquet").await;
    assert_eq!(p["format"], "parquet", "{p}");
    assert_eq!(p["total_rows"], t["num_rows"]);
    assert_eq!(p["parquet"]["row_groups"], t["row_groups"]);
    let group_rows: Vec<Value> = p["parquet"]["row_group_sizes"]
        .as_array()
        .expect("sizes")
        .iter()
        .map(|g| g["rows"].clone())
        .collect();
    assert_eq!(Value::from(group_rows), t["row_group_rows"]);
    assert_eq!(Value::from(names(&p)), t["columns"]);
    assert_eq!(p["parquet"]["created_by"], t["created_by"]);
    assert_eq!(column(&p, "name")["nullable"], true);
    assert!(
        column(&p, "name")["type"]
            .as_str()
            .is_some_and(|t| t.contains("BYTE_ARRAY") && t.contains("String")),
        "{p}"
    );
    // The first rows, nulls and nested values included, as pyarrow reads them.
    assert_eq!(p["rows"], t["rows"], "rows differ from pyarrow's");
    assert_eq!(p["truncated"], true);
    // A small file: the HEAD and one GET of its tail, which holds the whole row group too.
    assert_eq!(p["cost"]["requests"], 2, "{p}");

    let z = ok(&server, "zstd.parquet").await;
    assert_eq!(z["rows"], t["rows"], "the zstd file reads the same");
    assert!(z["parquet"]["codecs"].to_string().contains("ZSTD"), "{z}");

    let fewer = preview(
        &server,
        json!({"s3_uri": format!("s3://{BUCKET}/nested.parquet"), "max_rows": 3}),
    )
    .await;
    assert_eq!(
        fewer["structuredContent"]["rows"],
        Value::from(t["rows"].as_array().expect("rows")[..3].to_vec())
    );

    let (code, message) = err(
        &server,
        json!({"s3_uri": format!("s3://{BUCKET}/corrupt.parquet")}),
    )
    .await;
    assert_eq!(code, "invalid_argument");
    assert!(message.contains("footer metadata is corrupt"), "{message}");
}

#[tokio::test]
async fn text_previews_detect_delimiters_headers_types_and_records() {
    let moto = Moto::start().await;
    let truth = upload_fixtures(&moto).await;
    let server = server(&moto.url, &moto, None).await;

    for (key, format, delimiter) in [
        ("data.csv", "csv", ","),
        ("data.tsv", "tsv", "\t"),
        ("semi.csv", "csv", ";"),
        ("data.csv.gz", "csv", ","),
    ] {
        let t = &truth[key];
        let p = ok(&server, key).await;
        assert_eq!(p["format"], format, "{key}: {p}");
        assert_eq!(p["table"]["delimiter"], delimiter, "{key}");
        assert_eq!(p["table"]["header"], true, "{key}");
        assert_eq!(Value::from(names(&p)), t["columns"], "{key}");
        assert_eq!(p["rows"], t["rows"], "{key}: rows differ from Python's csv");
        let types: Vec<&str> = ["sample", "count", "ratio", "flag", "day"]
            .iter()
            .map(|c| column(&p, c)["type"].as_str().expect("type"))
            .collect();
        assert_eq!(
            types,
            ["string", "integer", "number", "boolean", "date"],
            "{key}"
        );
        assert_eq!(p["truncated"], true, "{key}: 40 rows, 10 shown");
    }
    let gz = ok(&server, "data.csv.gz").await;
    assert_eq!(gz["compression"], "gzip");

    let p = ok(&server, "noheader.csv").await;
    assert_eq!(p["table"]["header"], false, "{p}");
    assert_eq!(p["rows"], truth["noheader.csv"]["rows"]);
    assert_eq!(names(&p), ["column_1", "column_2", "column_3"]);
    assert_eq!(column(&p, "column_3")["type"], "number");

    let p = ok(&server, "quoted.csv").await;
    assert_eq!(
        p["rows"], truth["quoted.csv"]["rows"],
        "quoting, embedded delimiters and newlines"
    );

    // Ragged rows: a flagged answer, not a failure.
    let p = ok(&server, "ragged.csv").await;
    assert_eq!(p["table"]["ragged_rows"], 2, "{p}");
    assert!(
        notes(&p).contains("different number of fields"),
        "{}",
        notes(&p)
    );

    let t = &truth["records.jsonl"];
    let p = ok(&server, "records.jsonl").await;
    assert_eq!(p["format"], "jsonl");
    assert_eq!(p["rows"], t["rows"]);
    assert_eq!(column(&p, "id")["type"], "integer");
    assert_eq!(column(&p, "id")["nullable"], false);
    let value_types = column(&p, "value")["type"].as_str().expect("type");
    assert!(
        value_types.contains("null") && value_types.contains("number"),
        "{value_types}"
    );
    assert_eq!(
        column(&p, "extra")["nullable"],
        true,
        "a key in one record only"
    );

    let p = ok(&server, "array.json").await;
    assert_eq!(p["format"], "json");
    assert_eq!(p["rows"], truth["array.json"]["rows"]);
}

#[tokio::test]
async fn bad_input_gets_specific_errors_or_flagged_answers_with_bounded_work() {
    let moto = Moto::start().await;
    upload_fixtures(&moto).await;
    moto.s3()
        .create_bucket()
        .bucket("not-granted")
        .send()
        .await
        .expect("bucket");
    let proxy = FaultProxy::start(&moto.url).await;
    let server = server(&proxy.url, &moto, Some(BUCKET)).await;

    // A gzip bomb of zeros: 512 MiB in half a megabyte. The output is capped; what was
    // fetched is the compressed start, once.
    let started = std::time::Instant::now();
    let p = ok(&server, "bomb.txt.gz").await;
    assert_eq!(p["compression"], "gzip");
    assert_eq!(p["format"], "binary", "zeros are not text: {p}");
    assert!(notes(&p).contains("decompressed output capped"), "{p}");
    assert!(p["cost"]["bytes_fetched"].as_u64().expect("n") <= 1 << 20);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // A bomb of CSV text: rows from its start, flagged as capped.
    let p = ok(&server, "bomb.csv.gz").await;
    assert_eq!(p["format"], "csv");
    assert_eq!(
        p["rows"][3],
        json!({"n": "3", "kind": "row", "double": "6"})
    );
    assert!(notes(&p).contains("decompressed output capped"), "{p}");
    assert_eq!(p["truncated"], true);

    let p = ok(&server, "empty.csv").await;
    assert_eq!(p["format"], "empty");
    assert_eq!(p["size"], 0);
    assert_eq!(p["cost"]["requests"], 1, "a HEAD and nothing else");

    let p = ok(&server, "binary.csv").await;
    assert_eq!(p["format"], "binary");
    assert!(notes(&p).contains("the name says CSV"), "{p}");
    assert!(
        p["hex"].as_str().is_some_and(|h| h.starts_with("00 83 06")),
        "{p}"
    );

    let (code, message) = err(
        &server,
        json!({"s3_uri": format!("s3://{BUCKET}/no/such/key.parquet")}),
    )
    .await;
    assert_eq!(code, "not_found", "{message}");

    let before = proxy.seen().len();
    let (code, _) = err(&server, json!({"s3_uri": "s3://not-granted/data.csv"})).await;
    assert_eq!(code, "not_permitted");
    assert_eq!(
        proxy.seen().len(),
        before,
        "a bucket outside the grants costs no AWS request"
    );

    for bad in [
        json!({}),
        json!({"s3_uri": format!("s3://{BUCKET}/data.csv"), "registry": format!("s3://{BUCKET}")}),
        json!({"s3_uri": format!("s3://{BUCKET}/data.csv"), "max_rows": 101}),
        json!({"s3_uri": "http://example.com/x"}),
        json!({"registry": format!("s3://{BUCKET}"), "package_name": "a/b"}),
    ] {
        let (code, message) = err(&server, bad.clone()).await;
        assert_eq!(code, "invalid_argument", "{bad}: {message}");
    }
}

/// The server's peak resident memory (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A 1 GiB Parquet object (16 row groups of 64 MiB, written by pyarrow straight into moto),
/// previewed by the shipped binary through a counting proxy: a HEAD, the footer and a prefix
/// of each column of the first row group — never the object — and flat memory.
#[tokio::test]
async fn a_1gib_parquet_object_costs_a_handful_of_ranged_gets_and_flat_memory() {
    let moto = Moto::start().await;
    moto.s3()
        .create_bucket()
        .bucket("big-data")
        .send()
        .await
        .expect("bucket");
    let key = "genomes/expression.parquet";
    let truth = data_script(&["big", &moto.url, "big-data", key, &(1u64 << 30).to_string()]);
    let size = truth["size"].as_u64().expect("size");
    assert!(size >= 1 << 30, "{truth}");
    let proxy = FaultProxy::start(&moto.url).await;
    let role = moto.role("PreviewBig", "*", allow_all()).await;
    let (mut child, pid, base) = spawn_stack_role_binary(&proxy.url, &role, &[]).await;
    let mcp = format!("{base}/mcp");
    // Warm up on a small object: the baseline includes what any preview allocates.
    moto.s3()
        .put_object()
        .bucket("big-data")
        .key("small.csv")
        .body(b"a,b\n1,2\n".to_vec().into())
        .send()
        .await
        .expect("put");
    let warm = call_tool(
        &mcp,
        Some(&token("pat")),
        "bucket_object_preview",
        json!({"s3_uri": "s3://big-data/small.csv"}),
    )
    .await;
    assert_eq!(warm.result()["isError"], false, "{}", warm.body);
    let before = peak_rss_kib(pid);
    let seen_before = proxy.seen().len();

    let r = call_tool(
        &mcp,
        Some(&token("pat")),
        "bucket_object_preview",
        json!({"s3_uri": format!("s3://big-data/{key}"), "max_rows": 5}),
    )
    .await;
    let p = &r.result()["structuredContent"];
    assert_eq!(r.result()["isError"], false, "{}", r.body);
    let after = peak_rss_kib(pid);
    let requests: Vec<_> = proxy.seen()[seen_before..]
        .iter()
        .filter(|s| s.path.contains("expression.parquet"))
        .cloned()
        .collect();
    eprintln!(
        "1 GiB Parquet preview: {} S3 requests ({:?}), {} bytes fetched; peak RSS {before} KiB -> {after} KiB",
        requests.len(),
        requests.iter().map(|s| s.status).collect::<Vec<_>>(),
        p["cost"]["bytes_fetched"]
    );
    assert_eq!(p["size"], size);
    assert_eq!(p["total_rows"], truth["num_rows"]);
    assert_eq!(p["parquet"]["row_groups"], truth["row_groups"]);
    let rows = p["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 5, "{p}");
    for (got, want) in rows.iter().zip(truth["rows"].as_array().expect("rows")) {
        assert_eq!(got["id"], want["id"]);
        let shown = got["payload"]
            .as_str()
            .expect("payload")
            .trim_end_matches('…');
        assert!(
            want["payload"]
                .as_str()
                .is_some_and(|w| w.starts_with(shown) && shown.len() >= 500),
            "a long cell is cut, not changed"
        );
    }
    assert!(
        requests.len() <= 5,
        "a handful of requests, not a read of the object: {requests:?}"
    );
    assert_eq!(
        p["cost"]["requests"].as_u64(),
        Some(requests.len() as u64),
        "the answer reports the requests the proxy saw"
    );
    let fetched = p["cost"]["bytes_fetched"].as_u64().expect("bytes");
    assert!(fetched <= 16 << 20, "{fetched} bytes fetched");
    let grew_kib = after.saturating_sub(before);
    assert!(
        grew_kib < 64 * 1024,
        "peak memory grew by {grew_kib} KiB previewing a {size}-byte object"
    );
    child.kill().await.expect("kill");
}
