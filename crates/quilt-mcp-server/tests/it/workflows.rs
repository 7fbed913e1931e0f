//! Package writes governed by the registry's workflows, against quilt3 on the same moto: a
//! matrix of workflow configs × package inputs, each created through the server and pushed
//! by quilt3 (`quilt3_tool.py workflow-matrix`, one Python process for the whole matrix),
//! must get the same verdict, and accepted cells the same `workflow` record and top hash.
//! A refused write leaves the bucket's object versions as they were; `package_validate`
//! lists every failure at once; update and create_from_s3 are governed too.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

async fn server(moto: &Moto) -> TestServer {
    let read = moto.role("WfReadRole", "*", allow_all()).await;
    let write = moto.role("WfWriteRole", "*", allow_all()).await;
    let url = moto.url.clone();
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read);
            c.write_role_arn = Some(write);
        },
        Some(moto.identity("AKIASERVERSERVER0002", "server-secret")),
        Arc::new(SystemClock),
    )
    .await
}

async fn call(server: &TestServer, tool: &str, args: Value) -> Value {
    call_as(server, &token("alice"), tool, args).await
}

fn error_of(result: &Value) -> Option<(String, String)> {
    if result["isError"] != true {
        return None;
    }
    let e = &result["structuredContent"]["error"];
    Some((
        e["code"].as_str().unwrap_or_default().to_owned(),
        e["message"].as_str().unwrap_or_default().to_owned(),
    ))
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

/// Puts an object; its version id.
async fn put(moto: &Moto, bucket: &str, key: &str, body: &[u8]) -> Option<String> {
    let out = moto
        .s3()
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/octet-stream")
        .body(body.to_vec().into())
        .send()
        .await
        .expect("put");
    out.version_id().map(str::to_owned)
}

/// Every object version and delete marker of a bucket: what a refused write must not change.
async fn versions(moto: &Moto, bucket: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut key, mut vid) = (None::<String>, None::<String>);
    loop {
        let page = moto
            .s3()
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key.take())
            .set_version_id_marker(vid.take())
            .send()
            .await
            .expect("list versions");
        for v in page.versions() {
            out.push(format!(
                "{} {} {:?}",
                v.key().unwrap_or_default(),
                v.version_id().unwrap_or_default(),
                v.e_tag()
            ));
        }
        for d in page.delete_markers() {
            out.push(format!(
                "{} {} delete-marker",
                d.key().unwrap_or_default(),
                d.version_id().unwrap_or_default()
            ));
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key = page.next_key_marker().map(str::to_owned);
        vid = page.next_version_id_marker().map(str::to_owned);
    }
    out.sort();
    out
}

/// The header (first line) of a manifest in the registry.
async fn manifest_header(moto: &Moto, bucket: &str, top_hash: &str) -> Value {
    let out = moto
        .s3()
        .get_object()
        .bucket(bucket)
        .key(format!(".quilt/packages/{top_hash}"))
        .send()
        .await
        .expect("manifest");
    let bytes = out.body.collect().await.expect("body").into_bytes();
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    serde_json::from_slice(first).expect("header JSON")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn quilt3_matrix(moto: &Moto, cells: &[Value]) -> Vec<Value> {
    let file = std::env::temp_dir().join(format!("wf-cells-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, serde_json::to_vec(cells).expect("cells")).expect("write cells");
    let out = tokio::process::Command::new(root().join(".venv/bin/python"))
        .arg(root().join("tests/python/quilt3_tool.py"))
        .args(["workflow-matrix", "--endpoint", &moto.url, "--cells"])
        .arg(&file)
        .output()
        .await
        .expect("run quilt3_tool.py");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "quilt3_tool.py workflow-matrix failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["results"].as_array().expect("results").clone()
}

const DRAFT7: &str = "http://json-schema.org/draft-07/schema#";

/// The schemas, in bucket `wf-schemas` (versioned); returns the version id of meta.json's
/// first version, which a pinned URL names (its second version is stricter).
async fn schemas(moto: &Moto) -> String {
    bucket(moto, "wf-schemas", true).await;
    let meta_v1 = json!({"$schema": DRAFT7, "type": "object", "required": ["owner"],
        "properties": {"owner": {"type": "string"}, "n": {"type": "integer", "maximum": 5}}});
    let v1 = put(
        moto,
        "wf-schemas",
        "meta.json",
        meta_v1.to_string().as_bytes(),
    )
    .await
    .expect("versioned");
    let meta_v2 = json!({"type": "object", "required": ["owner", "n"]});
    put(
        moto,
        "wf-schemas",
        "meta.json",
        meta_v2.to_string().as_bytes(),
    )
    .await;
    let entries = json!({"type": "array", "maxItems": 3, "items": {"type": "object",
        "properties": {"size": {"maximum": 1000}, "logical_key": {"pattern": "^[a-z0-9/._]+$"},
                       "meta": {"type": "object", "properties": {"kind": {"enum": ["csv", "txt"]}}}}}});
    put(
        moto,
        "wf-schemas",
        "entries.json",
        entries.to_string().as_bytes(),
    )
    .await;
    let with_ref = json!({"definitions": {"s": {"type": "string"}},
        "properties": {"owner": {"$ref": "#/definitions/s"}}});
    put(
        moto,
        "wf-schemas",
        "ref.json",
        with_ref.to_string().as_bytes(),
    )
    .await;
    put(moto, "wf-schemas", "notjson.txt", b"owner: string\n").await;
    let draft4 = json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"});
    put(
        moto,
        "wf-schemas",
        "draft4.json",
        draft4.to_string().as_bytes(),
    )
    .await;
    v1
}

/// The configs of the matrix: (bucket suffix, versioned bucket, config.yml or None).
fn configs(meta_v1: &str) -> Vec<(&'static str, bool, Option<String>)> {
    let two = "  alpha:\n    name: Alpha\n  beta:\n    name: Beta\n    is_message_required: true\n";
    let s = |id: &str, url: &str| format!("schemas:\n  {id}:\n    url: {url}\n");
    vec![
        ("none", true, None),
        ("optional", true, Some(format!("version: \"1\"\nis_workflow_required: false\nworkflows:\n{two}"))),
        ("required", true, Some(format!("version: \"1\"\nworkflows:\n{two}"))),
        ("default", true, Some(format!("version: \"1.1\"\ndefault_workflow: alpha\nworkflows:\n{two}"))),
        ("pattern", true, Some("version: \"1\"\ndefault_workflow: alpha\nworkflows:\n  alpha:\n    name: A\n    handle_pattern: ^team/[a-z]+$\n  beta:\n    name: B\n    handle_pattern: (?<!x)1$\n".into())),
        // YAML 1.1: `no` and `yes` are booleans for PyYAML.
        ("message", true, Some("version: \"1\"\nis_workflow_required: no\ndefault_workflow: beta\nworkflows:\n  alpha: {name: A}\n  beta: {name: B, is_message_required: yes}\n".into())),
        ("metadata", true, Some(format!("version: \"1\"\ndefault_workflow: alpha\nworkflows:\n  alpha: {{name: A, metadata_schema: ms}}\n  beta: {{name: B}}\n{}", s("ms", "s3://wf-schemas/meta.json")))),
        ("pinned", true, Some(format!("version: \"1\"\ndefault_workflow: alpha\nworkflows:\n  alpha: {{name: A, metadata_schema: ms}}\n  beta: {{name: B, metadata_schema: ms, entries_schema: es}}\nschemas:\n  ms:\n    url: s3://wf-schemas/meta.json?versionId={meta_v1}\n  es:\n    url: s3://wf-schemas/entries.json\n"))),
        ("entries", true, Some(format!("version: \"1\"\nis_workflow_required: false\nworkflows:\n  alpha: {{name: A, entries_schema: es}}\n  beta: {{name: B}}\n{}", s("es", "s3://wf-schemas/entries.json")))),
        ("ref", true, Some(format!("version: \"1\"\ndefault_workflow: alpha\nworkflows:\n  alpha: {{name: A, metadata_schema: r}}\n  beta: {{name: B}}\n{}", s("r", "s3://wf-schemas/ref.json")))),
        ("badyaml", true, Some("version: \"1\"\nworkflows: [alpha: {name: A}\n".into())),
        ("version2", true, Some(format!("version: \"2\"\nworkflows:\n{two}"))),
        ("badconfig", true, Some("version: \"1\"\nworkflows:\n  alpha: {title: A}\n".into())),
        ("noschema", true, Some(format!("version: \"1\"\ndefault_workflow: alpha\nworkflows:\n  alpha: {{name: A, metadata_schema: ms}}\n  beta: {{name: B}}\n{}", s("ms", "s3://wf-schemas/nope.json")))),
        ("notjson", true, Some(format!("version: \"1\"\ndefault_workflow: alpha\nworkflows:\n  alpha: {{name: A, metadata_schema: ms}}\n  beta: {{name: B}}\n{}", s("ms", "s3://wf-schemas/notjson.txt")))),
        ("draft4", true, Some(format!("version: \"1\"\nworkflows:\n  alpha: {{name: A}}\n  beta: {{name: B, metadata_schema: ms}}\n{}", s("ms", "s3://wf-schemas/draft4.json")))),
        ("unversioned", false, Some(format!("version: \"1\"\ndefault_workflow: alpha\nworkflows:\n  alpha: {{name: A, metadata_schema: ms}}\n  beta: {{name: B}}\n{}", s("ms", "s3://wf-schemas/meta.json")))),
        ("ghostdefault", true, Some(format!("version: \"1\"\ndefault_workflow: ghost\nworkflows:\n{two}"))),
    ]
}

/// A package input: name, files (logical key, bytes, entry metadata), package metadata,
/// message, workflow (`None`: absent; `Some(Value::Null)`: null).
struct Input {
    name: &'static str,
    files: Vec<(&'static str, Vec<u8>, Option<Value>)>,
    meta: Option<Value>,
    message: Option<&'static str>,
    workflow: Option<Value>,
}

fn inputs() -> Vec<Input> {
    let small = |n: usize, c: u8| vec![c; n];
    vec![
        Input {
            name: "team/alpha",
            files: vec![
                ("a.txt", small(10, b'a'), None),
                ("data/b.csv", small(20, b'b'), Some(json!({"kind": "csv"}))),
            ],
            meta: Some(json!({"owner": "ann", "n": 1})),
            message: Some("first"),
            workflow: None,
        },
        Input {
            name: "team/beta",
            files: vec![("a.txt", small(11, b'c'), None)],
            meta: None,
            message: None,
            workflow: None,
        },
        Input {
            name: "other/x1",
            files: vec![("x.txt", small(12, b'd'), Some(json!({"kind": "bin"})))],
            meta: Some(json!({"owner": 7})),
            message: Some("m"),
            workflow: Some(json!("alpha")),
        },
        Input {
            name: "team/gamma",
            files: vec![("g.txt", small(13, b'e'), None)],
            meta: Some(json!({"owner": "bo"})),
            message: Some(""),
            workflow: Some(Value::Null),
        },
        Input {
            name: "team/delta1",
            files: vec![
                ("d1.txt", small(14, b'f'), Some(json!({"kind": "txt"}))),
                ("d2.txt", small(15, b'g'), None),
            ],
            meta: Some(json!({"owner": "cy", "n": 2})),
            message: Some("m"),
            workflow: Some(json!("beta")),
        },
        Input {
            name: "team/eps",
            files: vec![("e.txt", small(16, b'h'), None)],
            meta: Some(json!({"owner": "di", "n": 3})),
            message: Some("m"),
            workflow: Some(json!("ghost")),
        },
        Input {
            name: "team/zeta",
            files: vec![
                ("Big.TXT", small(2000, b'i'), Some(json!({}))),
                ("z.txt", small(17, b'j'), None),
            ],
            meta: Some(json!({"owner": "ed", "n": 9})),
            message: Some("m"),
            workflow: None,
        },
    ]
}

#[tokio::test]
async fn writes_are_governed_exactly_as_quilt3_governs_pushes() {
    let moto = Moto::start().await;
    let server = server(&moto).await;
    let meta_v1 = schemas(&moto).await;
    bucket(&moto, "wf-src", true).await;
    let dir = std::env::temp_dir().join(format!("wf-matrix-{}", uuid::Uuid::new_v4()));
    let inputs = inputs();
    for (i, input) in inputs.iter().enumerate() {
        for (lk, bytes, _) in &input.files {
            put(&moto, "wf-src", &format!("in{i}/{lk}"), bytes).await;
            let path = dir.join(format!("in{i}")).join(lk);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, bytes).expect("write");
        }
    }
    let configs = configs(&meta_v1);
    for (suffix, versioned, config) in &configs {
        let b = format!("wf-{suffix}");
        bucket(&moto, &b, *versioned).await;
        if let Some(c) = config {
            put(&moto, &b, ".quilt/workflows/config.yml", c.as_bytes()).await;
        }
    }

    let mut ours = Vec::new();
    let mut cells = Vec::new();
    let mut refused_writes = 0;
    for (suffix, _, _) in &configs {
        let b = format!("wf-{suffix}");
        for (i, input) in inputs.iter().enumerate() {
            let entries: Vec<Value> = input
                .files
                .iter()
                .map(|(lk, _, meta)| {
                    let mut e =
                        json!({"s3_uri": format!("s3://wf-src/in{i}/{lk}"), "logical_key": lk});
                    if let Some(m) = meta {
                        e["metadata"] = m.clone();
                    }
                    e
                })
                .collect();
            let mut args = json!({"registry": format!("s3://{b}"), "package_name": input.name,
                "entries": entries, "force": true});
            let mut cell = json!({"registry": format!("s3://{b}"), "name": input.name,
                "files": input.files.iter().map(|(lk, _, meta)| {
                    let mut f = json!({"logical_key": lk,
                        "path": dir.join(format!("in{i}")).join(lk).to_string_lossy()});
                    if let Some(m) = meta { f["meta"] = m.clone(); }
                    f
                }).collect::<Vec<_>>()});
            if let Some(m) = &input.meta {
                args["metadata"] = m.clone();
                cell["meta"] = m.clone();
            }
            if let Some(m) = input.message {
                args["message"] = json!(m);
                cell["message"] = json!(m);
            }
            if let Some(w) = &input.workflow {
                args["workflow"] = w.clone();
                cell["workflow"] = w.clone();
            }
            let before = versions(&moto, &b).await;
            let result = call(&server, "package_create", args).await;
            let outcome = match error_of(&result) {
                Some((code, message)) => {
                    assert_eq!(
                        code, "invalid_argument",
                        "{suffix} × {}: {message}",
                        input.name
                    );
                    assert_eq!(
                        versions(&moto, &b).await,
                        before,
                        "a refused create left something behind ({suffix} × {})",
                        input.name
                    );
                    refused_writes += 1;
                    json!({"ok": false, "error": message})
                }
                None => {
                    let top_hash = result["structuredContent"]["top_hash"]
                        .as_str()
                        .expect("top_hash")
                        .to_owned();
                    let header = manifest_header(&moto, &b, &top_hash).await;
                    json!({"ok": true, "top_hash": top_hash, "workflow": header.get("workflow")})
                }
            };
            ours.push(((*suffix, input.name), outcome));
            cells.push(cell);
        }
    }
    let started = std::time::Instant::now();
    let theirs = quilt3_matrix(&moto, &cells).await;
    eprintln!(
        "quilt3 pushed {} cells in {:?}",
        cells.len(),
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(theirs.len(), ours.len());
    let mut mismatches = Vec::new();
    let mut table: BTreeMap<&str, String> = BTreeMap::new();
    for (((suffix, name), mine), q3) in ours.iter().zip(&theirs) {
        let same = mine["ok"] == q3["ok"]
            && (mine["ok"] == false
                || (mine["top_hash"] == q3["top_hash"] && mine["workflow"] == q3["workflow"]));
        table
            .entry(suffix)
            .or_default()
            .push(if q3["ok"] == true { '+' } else { '-' });
        if !same {
            mismatches.push(format!("{suffix} × {name}: server {mine}\n    quilt3 {q3}"));
        }
    }
    eprintln!("verdicts (+ accepted, - refused), inputs in order: {table:#?}");
    assert!(
        mismatches.is_empty(),
        "differences from quilt3:\n{}",
        mismatches.join("\n")
    );
    // The matrix must exercise both verdicts, and records with and without schemas.
    let accepted = theirs.iter().filter(|r| r["ok"] == true).count();
    assert!(
        accepted >= 20 && refused_writes >= 20,
        "{accepted} accepted, {refused_writes} refused"
    );
    let with_schemas = theirs
        .iter()
        .filter(|r| r["workflow"]["schemas"].is_object())
        .count();
    assert!(with_schemas >= 2, "records with schemas: {with_schemas}");
    let pinned = theirs.iter().any(|r| {
        r["workflow"]["schemas"]["ms"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("versionId={meta_v1}")))
    });
    assert!(pinned, "a pinned schema URL is recorded with its version");
}

#[tokio::test]
async fn package_validate_lists_every_failure_and_the_workflows() {
    let moto = Moto::start().await;
    let server = server(&moto).await;
    let meta_v1 = schemas(&moto).await;
    bucket(&moto, "wf-src", true).await;
    bucket(&moto, "wf-reg", true).await;
    put(&moto, "wf-src", "big.bin", &[1u8; 2000]).await;
    put(&moto, "wf-src", "BAD Key.txt", b"x").await;
    let config = format!(
        "version: \"1\"\ndefault_workflow: strict\nworkflows:\n  strict:\n    name: Strict\n    description: everything checked\n    handle_pattern: ^team/\n    is_message_required: true\n    metadata_schema: ms\n    entries_schema: es\n  loose:\n    name: Loose\nschemas:\n  ms:\n    url: s3://wf-schemas/meta.json?versionId={meta_v1}\n  es:\n    url: s3://wf-schemas/entries.json\n"
    );
    put(
        &moto,
        "wf-reg",
        ".quilt/workflows/config.yml",
        config.as_bytes(),
    )
    .await;
    let before = versions(&moto, "wf-reg").await;

    let bad = json!({"registry": "s3://wf-reg", "package_name": "other/pkg",
        "entries": [{"s3_uri": "s3://wf-src/big.bin", "logical_key": "big.bin", "metadata": {"kind": "exe"}},
                    {"s3_uri": "s3://wf-src/BAD Key.txt"},
                    {"s3_uri": "s3://wf-src/missing.txt"}],
        "metadata": {"owner": 1}});
    let v = call(&server, "package_validate", bad.clone()).await;
    assert_eq!(v["isError"], false, "{v}");
    let out = &v["structuredContent"];
    assert_eq!(out["valid"], false);
    let kinds: Vec<&str> = out["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| f["kind"].as_str().unwrap_or_default())
        .collect();
    // Every failure at once: the missing source, no message, the name, the metadata (owner
    // not a string), and entries (size, key, meta).
    for kind in ["source", "message", "name", "metadata", "entries"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let text: Vec<&str> = out["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .filter_map(|f| f["message"].as_str())
        .collect();
    let text = text.join("\n");
    for needle in [
        "at /owner",
        "(keyword \"type\")",
        "maximum",
        "BAD Key.txt",
        "pattern",
        "enum",
        "missing.txt",
    ] {
        assert!(text.contains(needle), "{needle} not in {text}");
    }
    assert!(
        kinds.iter().filter(|k| **k == "entries").count() >= 3,
        "{kinds:?}"
    );
    // No workflow named: the registry's workflows are listed.
    let ids: Vec<&str> = out["workflows"]
        .as_array()
        .expect("workflows listed")
        .iter()
        .map(|w| w["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["loose", "strict"]);
    assert_eq!(out["default_workflow"], "strict");
    assert!(
        out["config"]
            .as_str()
            .is_some_and(|c| c.contains("?versionId="))
    );

    // The same input written is refused with the failures named, and nothing is written.
    let mut create = bad.clone();
    create["entries"] = json!([{"s3_uri": "s3://wf-src/big.bin", "logical_key": "big.bin", "metadata": {"kind": "exe"}}]);
    let r = call(&server, "package_create", create).await;
    let (code, message) = error_of(&r).expect("refused");
    assert_eq!(code, "invalid_argument");
    for needle in ["[message]", "[name]", "[metadata]", "[entries]"] {
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    assert_eq!(
        versions(&moto, "wf-reg").await,
        before,
        "refused create wrote"
    );

    // A valid input passes validation and is written with the record validation showed.
    let good = json!({"registry": "s3://wf-reg", "package_name": "team/pkg",
        "entries": [{"s3_uri": "s3://wf-src/big.bin", "logical_key": "big.bin", "metadata": {"kind": "txt"}}],
        "metadata": {"owner": "ann", "n": 1}, "message": "ok", "workflow": "loose"});
    let v = call(&server, "package_validate", good.clone()).await;
    let out = &v["structuredContent"];
    assert_eq!(out["valid"], true, "{v}");
    assert!(
        out.get("workflows").is_none(),
        "a named workflow lists none"
    );
    assert_eq!(out["workflow"]["id"], "loose");
    let created = call(&server, "package_create", good).await;
    assert_eq!(created["isError"], false, "{created}");
    let h = created["structuredContent"]["top_hash"]
        .as_str()
        .expect("hash");
    assert_eq!(
        manifest_header(&moto, "wf-reg", h).await["workflow"],
        out["workflow"]
    );

    // An update is checked on the revision it makes: the merged metadata and all entries.
    let before = versions(&moto, "wf-reg").await;
    let upd = json!({"registry": "s3://wf-reg", "package_name": "team/pkg",
        "metadata": {"owner": 2}, "message": "m2", "remove": ["big.bin"]});
    let r = call(&server, "package_update", upd.clone()).await;
    let (code, message) = error_of(&r).expect("refused update");
    assert_eq!(code, "invalid_argument");
    assert!(
        message.contains("[metadata]") && message.contains("/owner"),
        "{message}"
    );
    assert_eq!(
        versions(&moto, "wf-reg").await,
        before,
        "refused update wrote"
    );
    let mut v_upd = upd.clone();
    v_upd["update"] = json!(true);
    let v = call(&server, "package_validate", v_upd).await;
    assert_eq!(v["structuredContent"]["valid"], false, "{v}");
    let mut ok_upd = upd;
    ok_upd["metadata"] = json!({"owner": "bo", "n": 2});
    let r = call(&server, "package_update", ok_upd).await;
    assert_eq!(r["isError"], false, "{r}");
    let h = r["structuredContent"]["top_hash"].as_str().expect("hash");
    let header = manifest_header(&moto, "wf-reg", h).await;
    assert_eq!(header["workflow"]["id"], "strict");
    assert!(
        header["workflow"]["schemas"]["es"]
            .as_str()
            .is_some_and(|u| u.contains("?versionId="))
    );

    // create_from_s3 is governed too; a null workflow where one is required is refused.
    let before = versions(&moto, "wf-reg").await;
    let r = call(
        &server,
        "package_create_from_s3",
        json!({"source_bucket": "wf-src",
        "target_registry": "s3://wf-reg", "package_name": "team/lake", "message": "m",
        "workflow": null}),
    )
    .await;
    let (code, message) = error_of(&r).expect("refused from_s3");
    assert_eq!(code, "invalid_argument");
    assert!(message.contains("Workflow required"), "{message}");
    assert_eq!(
        versions(&moto, "wf-reg").await,
        before,
        "refused create_from_s3 wrote"
    );
}
