//! The packaging tools against moto, through the server, with quilt3 as the reference reader
//! and writer (`tests/python/quilt3_tool.py`): packages created here browse in quilt3 with
//! the same top hash and pass its hash verification (unicode keys, float and nested
//! metadata, an empty object, a 21 MiB object; copy and reference modes); a package quilt3
//! pushed browses here identically; update, delete, diff, create_from_s3; conflicts; every
//! bad input refused with nothing written; progress notifications.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

const BIG: usize = 21 * 1024 * 1024;

async fn server(moto: &Moto) -> TestServer {
    let read = moto.role("PkgReadRole", "*", allow_all()).await;
    let write = moto.role("PkgWriteRole", "*", allow_all()).await;
    let url = moto.url.clone();
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read);
            c.write_role_arn = Some(write);
            c.s3_sse = "AES256".into();
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await
}

async fn call(server: &TestServer, tool: &str, args: Value) -> Value {
    call_as(server, &token("alice"), tool, args).await
}

async fn bucket(moto: &Moto, name: &str, versioned: bool) {
    let s3 = moto.s3();
    s3.create_bucket()
        .bucket(name)
        .send()
        .await
        .expect("bucket");
    if versioned {
        let cfg = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(cfg)
            .send()
            .await
            .expect("versioning");
    }
}

async fn put(moto: &Moto, bucket: &str, key: &str, body: Vec<u8>) {
    moto.s3()
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/octet-stream")
        .body(body.into())
        .send()
        .await
        .expect("put");
}

pub(crate) async fn keys(moto: &Moto, bucket: &str, prefix: &str) -> Vec<String> {
    let out = moto
        .s3()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("list");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

async fn get(moto: &Moto, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let out = moto
        .s3()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    Some(
        out.body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec(),
    )
}

/// Deterministic pseudo-random bytes (xorshift), so large objects are not compressible runs.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `quilt3_tool.py` with `args`; its JSON answer.
pub(crate) async fn quilt3(args: &[&str]) -> Value {
    let out = tokio::process::Command::new(root().join(".venv/bin/python"))
        .arg(root().join("tests/python/quilt3_tool.py"))
        .args(args)
        .output()
        .await
        .expect("run quilt3_tool.py");
    assert!(
        out.status.success(),
        "quilt3_tool.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("quilt3_tool.py prints JSON")
}

pub(crate) async fn quilt3_browse(
    moto: &Moto,
    registry: &str,
    name: &str,
    top_hash: Option<&str>,
) -> Value {
    let reg = format!("s3://{registry}");
    let mut args = vec![
        "browse",
        "--endpoint",
        &moto.url,
        "--registry",
        &reg,
        "--name",
        name,
    ];
    if let Some(h) = top_hash {
        args.extend(["--top-hash", h]);
    }
    quilt3(&args).await
}

/// The objects of the interop packages: walk-order traps, unicode, `+` and space, an empty
/// object, and one over 20 MiB (more than one 8 MiB chunk).
fn interop_objects() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("B.txt", b"B\n".to_vec()),
        ("a/b.txt", b"ab\n".to_vec()),
        ("a-c.txt", b"dash\n".to_vec()),
        ("a.txt", b"dot\n".to_vec()),
        ("données/é ü+1.txt", "é\n".as_bytes().to_vec()),
        ("empty.bin", Vec::new()),
        ("big/blob.bin", noise(BIG, 7)),
    ]
}

fn entry_metadata() -> Value {
    json!({"f": 1.0, "g": 2.5, "tiny": 1e-07, "huge": 1e16, "n": 3, "ünï": "☃",
           "nested": {"z": [1, 2.0, {"deep": null}], "a": "x\ty"}})
}

fn package_metadata() -> Value {
    json!({"title": "Tëst ☃", "version": 2.0, "params": {"lr": 0.001, "layers": [64, 32]}})
}

/// Checks quilt3's view of a package against ours and against what went in.
fn assert_same_package(ours: &Value, theirs: &Value, objects: &[(&str, Vec<u8>)]) {
    assert_eq!(theirs["top_hash"], ours["top_hash"], "quilt3's top hash");
    assert_eq!(
        theirs["all_verified"], true,
        "quilt3 hash verification: {theirs}"
    );
    let their_entries: BTreeMap<&str, &Value> = theirs["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (e["logical_key"].as_str().expect("key"), e))
        .collect();
    let our_entries: BTreeMap<&str, &Value> = ours["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (e["logical_key"].as_str().expect("key"), e))
        .collect();
    assert_eq!(their_entries.len(), objects.len(), "{theirs}");
    assert_eq!(our_entries.len(), objects.len(), "{ours}");
    for (key, body) in objects {
        let t = their_entries[key];
        let o = our_entries[key];
        assert_eq!(t["size"].as_u64(), Some(body.len() as u64), "{key}");
        assert_eq!(o["size"], t["size"], "{key}");
        assert_eq!(o["hash"], t["hash"], "{key}");
        assert_eq!(o["physical_key"], t["physical_key"], "{key}");
    }
}

async fn create_interop_sources(moto: &Moto, bucket_name: &str, versioned: bool) {
    bucket(moto, bucket_name, versioned).await;
    for (key, body) in interop_objects() {
        put(moto, bucket_name, key, body).await;
    }
}

fn interop_entries(bucket: &str) -> Value {
    let entries: Vec<Value> = interop_objects()
        .iter()
        .map(|(key, _)| {
            let mut e = json!({"s3_uri": format!("s3://{bucket}/{key}")});
            if *key == "données/é ü+1.txt" || *key == "big/blob.bin" {
                e["metadata"] = entry_metadata();
            }
            e
        })
        .collect();
    Value::Array(entries)
}

#[tokio::test]
async fn packages_created_here_browse_in_quilt3_with_the_same_top_hash_copy_and_reference() {
    let moto = Moto::start().await;
    bucket(&moto, "reg", false).await;
    create_interop_sources(&moto, "src-plain", false).await;
    create_interop_sources(&moto, "src-versioned", true).await;
    let server = server(&moto).await;
    let objects = interop_objects();

    for (name, source, copy) in [
        ("alice/copied", "src-plain", true),
        ("alice/referenced", "src-versioned", false),
    ] {
        let created = call(
            &server,
            "package_create",
            json!({"registry": "s3://reg", "package_name": name, "entries": interop_entries(source),
                   "metadata": package_metadata(), "message": "first ✓", "copy": copy}),
        )
        .await;
        let created = ok(&created).clone();
        assert_eq!(created["entries"], objects.len(), "{created}");
        let (copied, referenced) = if copy { (7, 0) } else { (0, 7) };
        assert_eq!(
            (created["copied"].as_u64(), created["referenced"].as_u64()),
            (Some(copied), Some(referenced)),
            "{created}"
        );
        let top_hash = created["top_hash"].as_str().expect("top hash").to_owned();

        let ours = call(
            &server,
            "package_browse",
            json!({"registry": "s3://reg", "package_name": name}),
        )
        .await;
        let ours = ok(&ours).clone();
        assert_eq!(ours["top_hash"], top_hash.as_str());
        assert_eq!(ours["message"], "first ✓");
        assert_eq!(ours["metadata"], package_metadata());
        let theirs = quilt3_browse(&moto, "reg", name, None).await;
        assert_same_package(&ours, &theirs, &objects);
        assert_eq!(theirs["user_meta"], package_metadata());
        assert_eq!(theirs["message"], "first ✓");
        let unicode = theirs["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .find(|e| e["logical_key"] == "données/é ü+1.txt")
            .expect("unicode entry");
        let meta = &unicode["meta"];
        let user_meta = if meta.get("user_meta").is_some() {
            &meta["user_meta"]
        } else {
            meta
        };
        assert_eq!(
            user_meta,
            &entry_metadata(),
            "entry metadata as quilt3 reads it"
        );

        for e in ours["entries"].as_array().expect("entries") {
            let pk = e["physical_key"].as_str().expect("pk");
            if copy {
                assert!(pk.starts_with(&format!("s3://reg/{name}/")), "{pk}");
            } else {
                assert!(
                    pk.starts_with("s3://src-versioned/") && pk.contains("?versionId="),
                    "{pk}"
                );
            }
        }
    }
    // Copies carry the configured SSE.
    let head = moto
        .s3()
        .head_object()
        .bucket("reg")
        .key("alice/copied/big/blob.bin")
        .send()
        .await
        .expect("head copy");
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    assert_eq!(head.content_length(), Some(BIG as i64));
}

#[tokio::test]
async fn a_package_pushed_by_quilt3_browses_here_with_the_same_top_hash() {
    let moto = Moto::start().await;
    bucket(&moto, "reg", false).await;
    let dir = std::env::temp_dir().join(format!("pkg-push-{}", uuid::Uuid::new_v4()));
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("README.md", b"hello world\n".to_vec()),
        ("data/table.csv", b"a,b\n1,2\n".to_vec()),
        ("données/é.txt", "é\n".as_bytes().to_vec()),
        ("empty.bin", Vec::new()),
        ("mid/noise.bin", noise(3 * 1024 * 1024 + 5, 3)),
    ];
    for (k, body) in &files {
        let p = dir.join(k);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, body).expect("write");
    }
    let pushed = quilt3(&[
        "push",
        "--endpoint",
        &moto.url,
        "--registry",
        "s3://reg",
        "--name",
        "q3/pushed",
        "--dir",
        dir.to_str().expect("utf-8 dir"),
        "--meta",
        r#"{"k": [1, 2.5, {"x": null}]}"#,
        "--message",
        "from quilt3",
    ])
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let server = server(&moto).await;
    let ours = call(
        &server,
        "package_browse",
        json!({"registry": "s3://reg", "package_name": "q3/pushed"}),
    )
    .await;
    let ours = ok(&ours).clone();
    assert_eq!(ours["top_hash"], pushed["top_hash"]);
    assert_eq!(ours["message"], "from quilt3");
    assert_eq!(ours["metadata"], json!({"k": [1, 2.5, {"x": null}]}));
    let theirs = quilt3_browse(&moto, "reg", "q3/pushed", None).await;
    assert_same_package(&ours, &theirs, &files);

    // A prefix filter and an entry limit.
    let some = call(
        &server,
        "package_browse",
        json!({"registry": "s3://reg", "package_name": "q3/pushed", "prefix": "d", "max_entries": 1,
               "include_signed_urls": true}),
    )
    .await;
    let some = ok(&some);
    assert_eq!(some["total_entries"], 5);
    assert_eq!(some["matched_entries"], 2, "data/ and données/: {some}");
    assert_eq!(some["entries"].as_array().expect("entries").len(), 1);
    assert_eq!(some["truncated"], true);
    let url = some["entries"][0]["signed_url"]
        .as_str()
        .expect("signed url");
    let fetched = http().get(url).send().await.expect("presigned GET");
    assert!(fetched.status().is_success());
    let key = some["entries"][0]["logical_key"].as_str().expect("key");
    let expected = &files.iter().find(|(k, _)| *k == key).expect("file").1;
    assert_eq!(&fetched.bytes().await.expect("bytes").to_vec(), expected);

    // package_list sees it.
    let listed = call(&server, "package_list", json!({"registry": "s3://reg"})).await;
    let listed = ok(&listed);
    assert_eq!(listed["packages"][0]["name"], "q3/pushed", "{listed}");
    assert_eq!(listed["packages"][0]["has_latest"], true);
}

#[tokio::test]
async fn update_delete_and_diff_behave_like_quilt3() {
    let moto = Moto::start().await;
    bucket(&moto, "reg", false).await;
    bucket(&moto, "src", false).await;
    for (k, v) in [
        ("one.txt", "1"),
        ("two.txt", "2"),
        ("three.txt", "3"),
        ("two-v2.txt", "2 again"),
    ] {
        put(&moto, "src", k, v.as_bytes().to_vec()).await;
    }
    let server = server(&moto).await;
    let v1 = call(
        &server,
        "package_create",
        json!({"registry": "s3://reg", "package_name": "team/data",
               "s3_uris": ["s3://src/one.txt", "s3://src/two.txt"], "metadata": {"a": 1, "b": {"c": 2}}}),
    )
    .await;
    let h1 = ok(&v1)["top_hash"].as_str().expect("hash").to_owned();
    let v2 = call(
        &server,
        "package_update",
        json!({"registry": "s3://reg", "package_name": "team/data", "top_hash": h1,
               "entries": [{"s3_uri": "s3://src/three.txt", "logical_key": "sub/three.txt", "metadata": {"w": 0.5}},
                           {"s3_uri": "s3://src/two-v2.txt", "logical_key": "two.txt"}],
               "remove": ["one.txt"], "metadata": {"b": "replaced", "d": 4}, "message": "v2"}),
    )
    .await;
    let v2 = ok(&v2).clone();
    assert_eq!(
        (
            v2["added"].as_u64(),
            v2["replaced"].as_u64(),
            v2["removed"].as_u64(),
            v2["entries"].as_u64()
        ),
        (Some(1), Some(1), Some(1), Some(2)),
        "{v2}"
    );
    assert_eq!(v2["previous_top_hash"], h1.as_str());
    let h2 = v2["top_hash"].as_str().expect("hash").to_owned();
    let theirs = quilt3_browse(&moto, "reg", "team/data", None).await;
    assert_eq!(theirs["top_hash"], h2.as_str());
    assert_eq!(theirs["all_verified"], true, "{theirs}");
    assert_eq!(
        theirs["user_meta"],
        json!({"a": 1, "b": "replaced", "d": 4})
    );
    let keys_now: Vec<&str> = theirs["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["logical_key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys_now, ["sub/three.txt", "two.txt"]);

    // The first revision is still there, by prefix and by its timestamp pointer.
    let old = call(
        &server,
        "package_browse",
        json!({"registry": "s3://reg", "package_name": "team/data", "top_hash": &h1[..8]}),
    )
    .await;
    assert_eq!(ok(&old)["top_hash"], h1.as_str());
    let t1 = ok(&v1)["timestamp"].as_u64().expect("timestamp");
    let by_time = call(
        &server,
        "package_browse",
        json!({"registry": "s3://reg", "package_name": "team/data", "timestamp": t1}),
    )
    .await;
    // Both revisions may share a second; the pointer then names the later one.
    let named = ok(&by_time)["top_hash"].as_str().expect("hash").to_owned();
    assert!(named == h1 || named == h2, "{named}");

    let diff = call(
        &server,
        "package_diff",
        json!({"registry": "s3://reg", "package1_name": "team/data", "package1_hash": h1}),
    )
    .await;
    let diff = ok(&diff);
    assert_eq!(diff["added"], json!(["sub/three.txt"]));
    assert_eq!(diff["removed"], json!(["one.txt"]));
    assert_eq!(diff["modified"], json!(["two.txt"]));
    assert_eq!(diff["metadata_changed"], true);
    assert_eq!(diff["package2_hash"], h2.as_str());

    // Removing a key that is not there changes nothing.
    let bad = call(
        &server,
        "package_update",
        json!({"registry": "s3://reg", "package_name": "team/data", "remove": ["nope.txt"]}),
    )
    .await;
    let (code, message) = err(&bad);
    assert_eq!(code, "invalid_argument");
    assert!(message.contains("nope.txt"), "{message}");

    // Delete: pointers go, manifests stay.
    let pointers = keys(&moto, "reg", ".quilt/named_packages/team/data/").await;
    let deleted = call(
        &server,
        "package_delete",
        json!({"registry": "s3://reg", "package_name": "team/data"}),
    )
    .await;
    let mut gone: Vec<String> = ok(&deleted)["deleted_pointers"]
        .as_array()
        .expect("deleted")
        .iter()
        .map(|k| k.as_str().expect("key").to_owned())
        .collect();
    gone.sort();
    assert_eq!(gone, pointers);
    assert!(
        keys(&moto, "reg", ".quilt/named_packages/")
            .await
            .is_empty()
    );
    for h in [&h1, &h2] {
        assert!(
            get(&moto, "reg", &format!(".quilt/packages/{h}"))
                .await
                .is_some()
        );
    }
    let after = call(
        &server,
        "package_browse",
        json!({"registry": "s3://reg", "package_name": "team/data"}),
    )
    .await;
    assert_eq!(err(&after).0, "not_found");
    let again = call(
        &server,
        "package_delete",
        json!({"registry": "s3://reg", "package_name": "team/data"}),
    )
    .await;
    assert_eq!(err(&again).0, "not_found");
}

#[tokio::test]
async fn create_from_s3_filters_by_globs_and_dry_run_writes_nothing() {
    let moto = Moto::start().await;
    bucket(&moto, "reg", false).await;
    bucket(&moto, "lake", false).await;
    for key in [
        "runs/r1/a.csv",
        "runs/r1/deep/b.csv",
        "runs/r1/notes.txt",
        "runs/r1/tmp/c.csv",
        "runs/r1/folder/",
        "runs/r2/other.csv",
    ] {
        put(&moto, "lake", key, key.as_bytes().to_vec()).await;
    }
    let server = server(&moto).await;
    let args = json!({"source_bucket": "lake", "source_prefix": "runs/r1/", "target_registry": "s3://reg",
                      "package_name": "lake/r1", "include_patterns": ["*.csv"], "exclude_patterns": ["tmp/**"],
                      "dry_run": true});
    let dry = call(&server, "package_create_from_s3", args.clone()).await;
    let dry = ok(&dry).clone();
    let planned: Vec<&str> = dry["planned"]
        .as_array()
        .expect("planned")
        .iter()
        .map(|p| p["logical_key"].as_str().expect("key"))
        .collect();
    assert_eq!(planned, ["a.csv", "deep/b.csv"], "{dry}");
    assert_eq!(
        dry["excluded"], 3,
        "notes.txt, tmp/c.csv, the folder marker"
    );
    assert!(
        keys(&moto, "reg", "").await.is_empty(),
        "a dry run writes nothing"
    );

    let mut real = args;
    real["dry_run"] = json!(false);
    let created = call(&server, "package_create_from_s3", real).await;
    let created = ok(&created).clone();
    let top_hash = created["created"]["top_hash"].as_str().expect("hash");
    let theirs = quilt3_browse(&moto, "reg", "lake/r1", None).await;
    assert_eq!(theirs["top_hash"], top_hash);
    assert_eq!(theirs["all_verified"], true, "{theirs}");
    let keys_in: Vec<&str> = theirs["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["logical_key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys_in, ["a.csv", "deep/b.csv"]);

    let bad_glob = call(
        &server,
        "package_create_from_s3",
        json!({"source_bucket": "lake", "target_registry": "s3://reg", "package_name": "lake/x",
               "include_patterns": ["a[.csv"], "dry_run": true}),
    )
    .await;
    let (code, message) = err(&bad_glob);
    assert_eq!(code, "invalid_argument");
    assert!(message.contains("include_patterns[0]"), "{message}");
}

#[tokio::test]
async fn conflicting_writes_are_refused_unless_forced() {
    let moto = Moto::start().await;
    bucket(&moto, "reg", false).await;
    bucket(&moto, "src", false).await;
    put(&moto, "src", "x.txt", b"x".to_vec()).await;
    put(&moto, "src", "y.txt", b"y".to_vec()).await;
    let server = server(&moto).await;
    let create = |msg: &str, extra: Value| {
        let mut a = json!({"registry": "s3://reg", "package_name": "c/p", "s3_uris": ["s3://src/x.txt"], "message": msg});
        if let (Some(a), Value::Object(extra)) = (a.as_object_mut(), extra) {
            a.extend(extra);
        }
        a
    };
    let first = call(&server, "package_create", create("one", json!({}))).await;
    let h1 = ok(&first)["top_hash"].as_str().expect("hash").to_owned();
    let latest = || get(&moto, "reg", ".quilt/named_packages/c/p/latest");

    let over = call(&server, "package_create", create("two", json!({}))).await;
    let (code, message) = err(&over);
    assert_eq!(code, "conflict");
    assert!(message.contains(&h1), "{message}");
    let stale = "0".repeat(64);
    let wrong = call(
        &server,
        "package_create",
        create("two", json!({"top_hash": stale})),
    )
    .await;
    assert_eq!(err(&wrong).0, "conflict");
    assert_eq!(latest().await.expect("latest"), h1.as_bytes());

    let second = call(
        &server,
        "package_create",
        create("two", json!({"top_hash": h1})),
    )
    .await;
    let h2 = ok(&second)["top_hash"].as_str().expect("hash").to_owned();
    assert_ne!(h1, h2);
    let stale_update = call(
        &server,
        "package_update",
        json!({"registry": "s3://reg", "package_name": "c/p", "top_hash": h1, "s3_uris": ["s3://src/y.txt"]}),
    )
    .await;
    assert_eq!(err(&stale_update).0, "conflict");
    assert_eq!(latest().await.expect("latest"), h2.as_bytes());
    let forced = call(
        &server,
        "package_update",
        json!({"registry": "s3://reg", "package_name": "c/p", "top_hash": h1, "s3_uris": ["s3://src/y.txt"], "force": true}),
    )
    .await;
    let h3 = ok(&forced)["top_hash"].as_str().expect("hash").to_owned();
    assert_eq!(latest().await.expect("latest"), h3.as_bytes());
    let forced_create = call(
        &server,
        "package_create",
        create("three", json!({"force": true})),
    )
    .await;
    let h4 = ok(&forced_create)["top_hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    assert_eq!(latest().await.expect("latest"), h4.as_bytes());
}

#[tokio::test]
async fn bad_input_is_refused_with_a_specific_error_and_writes_nothing() {
    let moto = Moto::start().await;
    bucket(&moto, "reg", false).await;
    bucket(&moto, "src", false).await;
    put(&moto, "src", "a", b"a".to_vec()).await;
    put(&moto, "src", "a/b", b"b".to_vec()).await;
    put(&moto, "src", "x/same.txt", b"1".to_vec()).await;
    put(&moto, "src", "y/same.txt", b"2".to_vec()).await;
    let server = server(&moto).await;
    let base = |extra: Value| {
        let mut a =
            json!({"registry": "s3://reg", "package_name": "ok/name", "s3_uris": ["s3://src/a"]});
        if let (Some(a), Value::Object(extra)) = (a.as_object_mut(), extra) {
            a.extend(extra);
        }
        a
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            base(json!({"package_name": "noslash"})),
            "invalid_argument",
            "noslash",
        ),
        (
            base(json!({"package_name": "a/b/c"})),
            "invalid_argument",
            "a/b/c",
        ),
        (
            base(json!({"package_name": "a/b\n"})),
            "invalid_argument",
            "package_name",
        ),
        (
            base(json!({"registry": "s3://Bad_Bucket"})),
            "invalid_argument",
            "registry",
        ),
        (
            base(
                json!({"s3_uris": [], "entries": [{"s3_uri": "s3://src/a", "logical_key": "../up"}]}),
            ),
            "invalid_argument",
            "\"..\"",
        ),
        (
            base(
                json!({"s3_uris": [], "entries": [{"s3_uri": "s3://src/a", "logical_key": "a//b"}]}),
            ),
            "invalid_argument",
            "empty path component",
        ),
        (
            base(
                json!({"s3_uris": [], "entries": [{"s3_uri": "s3://src/a", "logical_key": "dir/"}]}),
            ),
            "invalid_argument",
            "ends with '/'",
        ),
        (
            base(json!({"s3_uris": ["s3://src/a", "s3://src/a/b"]})),
            "invalid_argument",
            "both a file and a directory",
        ),
        (
            base(
                json!({"s3_uris": ["s3://src/x/same.txt", "s3://src/y/same.txt"], "flatten": true}),
            ),
            "invalid_argument",
            "duplicate logical key \"same.txt\"",
        ),
        (
            base(json!({"metadata": [1, 2]})),
            "invalid_argument",
            "metadata must be a JSON object",
        ),
        (
            base(json!({"top_hash": "abc"})),
            "invalid_argument",
            "top_hash",
        ),
        (
            base(json!({"s3_uris": ["https://example.com/a"]})),
            "invalid_argument",
            "s3_uris[0]",
        ),
        (
            base(json!({"metadata": {"blob": "x".repeat(1_000_100)}})),
            "too_large",
            "1000000",
        ),
        (
            base(json!({"s3_uris": ["s3://src/gone.txt"]})),
            "not_found",
            "s3://src/gone.txt",
        ),
    ];
    for (args, code, needle) in cases {
        let r = call(&server, "package_create", args.clone()).await;
        let (c, message) = err(&r);
        assert_eq!(c, code, "{args}: {message}");
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
    assert!(
        keys(&moto, "reg", "").await.is_empty(),
        "nothing written to the registry"
    );
    let short = call(
        &server,
        "package_browse",
        json!({"registry": "s3://reg", "package_name": "ok/name", "top_hash": "abcde"}),
    )
    .await;
    let (code, message) = err(&short);
    assert_eq!(code, "invalid_argument");
    assert!(message.contains("prefix"), "{message}");
}

#[tokio::test]
async fn a_source_that_vanished_is_not_found_and_leaves_no_latest() {
    let moto = Moto::start().await;
    bucket(&moto, "reg", true).await;
    bucket(&moto, "src", false).await;
    let mut uris = Vec::new();
    for i in 0..40 {
        let key = format!("f{i:02}.txt");
        put(&moto, "src", &key, key.as_bytes().to_vec()).await;
        uris.push(format!("s3://src/{key}"));
    }
    // Deleted after the caller listed it: gone by the time the package is made.
    moto.s3()
        .delete_object()
        .bucket("src")
        .key("f17.txt")
        .send()
        .await
        .expect("delete");
    let server = server(&moto).await;
    let r = call(
        &server,
        "package_create",
        json!({"registry": "s3://reg", "package_name": "v/anished", "s3_uris": uris}),
    )
    .await;
    let (code, message) = err(&r);
    assert_eq!(code, "not_found");
    assert!(message.contains("s3://src/f17.txt"), "{message}");
    assert!(
        keys(&moto, "reg", "").await.is_empty(),
        "nothing copied, no manifest, no pointer"
    );
}

#[tokio::test]
async fn a_registry_outside_your_grants_or_iam_is_refused_and_untouched() {
    let mut moto = Moto::start().await;
    moto.create_admin().await;
    bucket(&moto, "reg", false).await;
    bucket(&moto, "src", false).await;
    put(&moto, "src", "x.txt", b"x".to_vec()).await;
    let (akid, secret) = moto
        .user("server-id", allow(&["sts:AssumeRole"], &["*"]))
        .await;
    let reader = moto
        .role(
            "PkgOnlyRead",
            "*",
            allow(&["s3:GetObject", "s3:ListBucket"], &["*"]),
        )
        .await;
    moto.enforce_iam().await;
    let url = moto.url.clone();
    let server = TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(reader.clone());
            c.write_role_arn = Some(reader);
        },
        Some(moto.identity(&akid, &secret)),
        Arc::new(SystemClock),
    )
    .await;
    let args =
        json!({"registry": "s3://reg", "package_name": "g/p", "s3_uris": ["s3://src/x.txt"]});
    // The token may use only the source bucket: refused before any AWS call.
    let limited = hs256(&claims("gina", json!({"buckets": ["src"]})), SECRET);
    let r = call_as(&server, &limited, "package_create", args.clone()).await;
    let (code, message) = err(&r);
    assert_eq!(code, "not_permitted");
    assert!(message.contains("reg"), "{message}");
    // The credentials may not write: S3 says no, nothing is left behind.
    let r = call(&server, "package_create", args.clone()).await;
    assert_eq!(err(&r).0, "access_denied", "{r}");
    let r = call(&server, "package_create", json!({"registry": "s3://reg", "package_name": "g/p", "s3_uris": ["s3://src/x.txt"], "copy": false})).await;
    assert_eq!(err(&r).0, "access_denied", "{r}");
    let admin = moto.s3();
    let listed = admin
        .list_objects_v2()
        .bucket("reg")
        .send()
        .await
        .expect("list");
    assert!(listed.contents().is_empty(), "nothing written");
    // A token without quilt:write neither sees nor runs the write tools.
    let reader_token = hs256(&claims("rita", json!({"scope": "quilt:read"})), SECRET);
    let r = call_as(&server, &reader_token, "package_create", args).await;
    assert_eq!(err(&r).0, "not_permitted");
    let listed = rpc(
        &server.mcp(),
        Some(&reader_token),
        LEGACY,
        "tools/list",
        json!({}),
    )
    .await;
    let names: Vec<&str> = listed.result()["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .filter(|n| n.starts_with("package_"))
        .collect();
    assert_eq!(
        names,
        [
            "package_list",
            "package_browse",
            "package_diff",
            "package_validate"
        ]
    );
}

#[tokio::test]
async fn malformed_manifests_are_refused_with_what_is_wrong() {
    let moto = Moto::start().await;
    bucket(&moto, "reg", false).await;
    let server = server(&moto).await;
    let header = r#"{"version": "v0", "message": null}"#;
    let entry = |key: &str, meta: &str| {
        format!(
            r#"{{"logical_key": "{key}", "physical_keys": ["s3://reg/{key}"], "size": 1, "hash": {{"type": "sha2-256-chunked", "value": "x"}}{meta}}}"#
        )
    };
    let long = format!(
        r#"{{"version": "v0", "message": "{}"}}"#,
        "x".repeat(1_000_001)
    );
    let cases: Vec<(String, &str, &str)> = vec![
        (
            format!("{header}\n{{not json\n"),
            "invalid_argument",
            "line 2",
        ),
        (
            format!("{header}\n{}\n", entry("a.txt", "")),
            "invalid_argument",
            "\"meta\"",
        ),
        (
            format!(
                "{header}\n{}\n",
                entry("a.txt", r#", "meta": {"k": 1, "k": 2}"#)
            ),
            "invalid_argument",
            "duplicate JSON object key",
        ),
        (
            format!(
                "{header}\n{}\n{}\n",
                entry("a.txt", r#", "meta": {}"#),
                entry("a.txt", r#", "meta": {}"#)
            ),
            "invalid_argument",
            "a.txt",
        ),
        (format!("{long}\n"), "too_large", "1000000"),
        (String::new(), "invalid_argument", "empty"),
    ];
    for (i, (body, code, needle)) in cases.into_iter().enumerate() {
        let hash = format!("{i:064x}");
        put(
            &moto,
            "reg",
            &format!(".quilt/packages/{hash}"),
            body.into_bytes(),
        )
        .await;
        let r = call(
            &server,
            "package_browse",
            json!({"registry": "s3://reg", "package_name": "m/p", "top_hash": hash}),
        )
        .await;
        let (c, message) = err(&r);
        assert_eq!(c, code, "case {i}: {message}");
        assert!(
            message.contains(needle),
            "case {i}: {needle:?} not in {message:?}"
        );
    }
    // Well-formed, but not the manifest its name says.
    let hash = "f".repeat(64);
    put(
        &moto,
        "reg",
        &format!(".quilt/packages/{hash}"),
        format!("{header}\n").into_bytes(),
    )
    .await;
    let r = call(
        &server,
        "package_browse",
        json!({"registry": "s3://reg", "package_name": "m/p", "top_hash": hash}),
    )
    .await;
    let (_, message) = err(&r);
    assert!(message.contains("hashes to"), "{message}");
}

#[tokio::test]
async fn progress_is_notified_when_the_client_asks() {
    let moto = Moto::start().await;
    bucket(&moto, "reg", false).await;
    bucket(&moto, "src", false).await;
    let mut uris = Vec::new();
    for i in 0..5 {
        let key = format!("p{i}.bin");
        put(&moto, "src", &key, noise(1000 + i, i as u64 + 1)).await;
        uris.push(format!("s3://src/{key}"));
    }
    let server = server(&moto).await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "package_create", "_meta": {"progressToken": "pt-1"},
                   "arguments": {"registry": "s3://reg", "package_name": "p/rogress", "s3_uris": uris}}});
    let response = http()
        .post(server.mcp())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", LEGACY)
        .bearer_auth(token("alice"))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    let messages: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect();
    let progress: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| &m["params"])
        .collect();
    assert!(progress.len() >= 2, "{text}");
    let values: Vec<f64> = progress
        .iter()
        .map(|p| p["progress"].as_f64().expect("progress"))
        .collect();
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "progress must increase: {values:?}"
    );
    let last = progress.last().expect("last");
    assert_eq!(last["progressToken"], "pt-1");
    assert_eq!(
        last["progress"], last["total"],
        "the last report is complete: {last}"
    );
    assert!(
        last["message"]
            .as_str()
            .expect("message")
            .starts_with("5/5 objects"),
        "{last}"
    );
    let result = messages.iter().find(|m| m["id"] == 1).expect("result");
    assert_eq!(result["result"]["isError"], false, "{result}");
}
