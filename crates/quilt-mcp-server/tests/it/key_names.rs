//! S3 keys round-trip exactly, whatever characters they hold (issue 21): keys with `%XX`,
//! a bare `%`, `+`, unicode, a `?versionId=` of their own and a leading `#` are written,
//! listed and read back by the same name through every tool that names an object — put,
//! list, info (HEAD), text and fetch (GET), link (a presigned URL fetched over HTTP), preview,
//! the `s3://{bucket}/{key}` resource, and packaging (copy and reference, checked by quilt3).
//! Keys written by real writers (boto3, and quilt3's push) read back by our tools. A missing
//! key is `not_found` naming the key tried; bad URIs get their own error and change nothing.

use std::collections::BTreeSet;
use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::buckets::{bucket, server};
use crate::moto::*;
use crate::packaging::{quilt3, quilt3_browse};
use crate::support::*;

/// The keys of the issue, and a few more that break naive parsers.
const KEYS: &[&str] = &[
    "a%2Fb c%20d.txt",
    "100%",
    "x+y",
    "ünï/çødé",
    "q?versionId=1",
    "#frag",
    " lead and trail ",
    "dir/a&b=c;d,e@f$g!'()*[]{}<>|\\^`~.txt",
];

const B: &str = "key-names";
const CATALOG: &str = "http://127.0.0.1:9";

fn body_of(key: &str) -> String {
    format!("the object named {key:?}\n")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every key S3 itself holds in `bucket` (moto's own client, not ours).
async fn stored_keys(moto: &Moto, bucket: &str) -> BTreeSet<String> {
    let out = moto
        .s3()
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// `bucket_objects_list` of the whole bucket: key → s3_uri.
async fn listed(server: &TestServer, token: &str, bucket: &str) -> Vec<(String, String)> {
    let page = call_as(
        server,
        token,
        "bucket_objects_list",
        json!({"bucket": bucket, "max_keys": 1000}),
    )
    .await;
    ok(&page)["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            (
                o["key"].as_str().expect("key").to_owned(),
                o["s3_uri"].as_str().expect("s3_uri").to_owned(),
            )
        })
        .collect()
}

/// Reads `uri` with every read tool and the resource; each must give `body`.
async fn read_everywhere(server: &TestServer, token: &str, uri: &str, key: &str, body: &str) {
    let info = call_as(server, token, "bucket_object_info", json!({"s3_uri": uri})).await;
    let info = ok(&info);
    assert_eq!(
        (info["key"].as_str(), info["size"].as_u64()),
        (Some(key), Some(body.len() as u64)),
        "info {uri}"
    );
    let text = call_as(server, token, "bucket_object_text", json!({"s3_uri": uri})).await;
    assert_eq!(ok(&text)["text"], body, "text {uri}");
    assert_eq!(ok(&text)["s3_uri"], uri, "text names the object as asked");
    let fetched = call_as(server, token, "bucket_object_fetch", json!({"s3_uri": uri})).await;
    let data = base64::engine::general_purpose::STANDARD
        .decode(ok(&fetched)["data"].as_str().expect("data"))
        .expect("base64");
    assert_eq!(data, body.as_bytes(), "fetch {uri}");
    let link = call_as(server, token, "bucket_object_link", json!({"s3_uri": uri})).await;
    let url = ok(&link)["url"].as_str().expect("url").to_owned();
    let got = http().get(&url).send().await.expect("GET presigned");
    assert_eq!(got.status(), 200, "presigned {url}");
    assert_eq!(got.text().await.expect("body"), body, "presigned {url}");
    let preview = call_as(
        server,
        token,
        "bucket_object_preview",
        json!({"s3_uri": uri}),
    )
    .await;
    let preview = ok(&preview);
    assert_eq!(preview["s3_uri"], uri, "preview");
    assert_eq!(preview["size"], body.len(), "preview {uri}");
    let read = rpc(
        &server.mcp(),
        Some(token),
        LEGACY,
        "resources/read",
        json!({"uri": uri}),
    )
    .await;
    let contents = &read.result()["contents"][0];
    assert_eq!(
        (contents["uri"].as_str(), contents["text"].as_str()),
        (Some(uri), Some(body)),
        "resource {uri}"
    );
}

#[tokio::test]
async fn every_bucket_tool_round_trips_keys_by_the_name_s3_lists() {
    let moto = Moto::start().await;
    bucket(&moto, B, true).await;
    // A catalog URL (nothing listens: only the links on answers are built from it).
    let server = server(&moto, |c| c.catalog_url = Some(CATALOG.into())).await;
    let token = token("kim");

    let items: Vec<Value> = KEYS
        .iter()
        .map(|k| json!({"key": k, "text": body_of(k)}))
        .collect();
    let put = call_as(
        &server,
        &token,
        "bucket_objects_put",
        json!({"bucket": B, "items": items}),
    )
    .await;
    let put = ok(&put);
    assert_eq!(put["succeeded"], KEYS.len(), "{put}");
    let mut versions = Vec::new();
    for (r, k) in put["results"].as_array().expect("results").iter().zip(KEYS) {
        assert_eq!(r["key"], *k);
        versions.push(r["version_id"].as_str().expect("versioned").to_owned());
    }
    // S3 holds exactly these names (asked with moto's own client).
    let wanted: BTreeSet<String> = KEYS.iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(stored_keys(&moto, B).await, wanted);

    // The listing names each object by its key, and its s3_uri is the key verbatim — with
    // an empty version after a key that holds `?versionId=` itself.
    let listing = listed(&server, &token, B).await;
    assert_eq!(
        listing
            .iter()
            .map(|(k, _)| k.clone())
            .collect::<BTreeSet<_>>(),
        wanted
    );
    for (key, uri) in &listing {
        let expected = if key.contains("?versionId=") {
            format!("s3://{B}/{key}?versionId=")
        } else {
            format!("s3://{B}/{key}")
        };
        assert_eq!(uri, &expected);
        read_everywhere(&server, &token, uri, key, &body_of(key)).await;
    }
    // The catalog link of each object is the catalog's encoding of the same key: decoded,
    // its path after /tree/ is the key again.
    let page = call_as(
        &server,
        &token,
        "bucket_objects_list",
        json!({"bucket": B, "max_keys": 1000}),
    )
    .await;
    for o in ok(&page)["objects"].as_array().expect("objects") {
        let link = o["catalog_url"].as_str().expect("catalog_url");
        let path = link
            .strip_prefix(&format!("{CATALOG}/b/{B}/tree/"))
            .unwrap_or_else(|| panic!("{link}"));
        assert!(!path.contains(['?', '#', ' ']), "{link} is one URL path");
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .expect("utf-8");
        assert_eq!(decoded, o["key"].as_str().expect("key"), "{link}");
    }

    // A version, written by hand after the key: the last `?versionId=` is the version.
    for (key, version) in KEYS.iter().zip(&versions) {
        let uri = format!("s3://{B}/{key}?versionId={version}");
        let info = call_as(
            &server,
            &token,
            "bucket_object_info",
            json!({"s3_uri": uri}),
        )
        .await;
        assert_eq!(
            (ok(&info)["key"].as_str(), ok(&info)["version_id"].as_str()),
            (Some(*key), Some(version.as_str())),
            "{uri}"
        );
        let text = call_as(
            &server,
            &token,
            "bucket_object_text",
            json!({"s3_uri": uri}),
        )
        .await;
        assert_eq!(ok(&text)["text"], body_of(key), "{uri}");
    }
    // `q` does not exist: `s3://B/q?versionId=1` asks for version 1 of it, not the other key.
    let q = call_as(
        &server,
        &token,
        "bucket_object_info",
        json!({"s3_uri": format!("s3://{B}/q?versionId=1")}),
    )
    .await;
    let (code, message) = err(&q);
    assert_eq!(code, "not_found");
    assert!(message.contains(r#"key "q", version "1""#), "{message}");

    // Packaging: by copy (CopyObject of each source) and by reference (the manifest holds
    // quilt3's percent-encoded physical key); quilt3 fetches and verifies every entry.
    let entries: Vec<Value> = listing
        .iter()
        .enumerate()
        .map(|(i, (_, uri))| json!({"s3_uri": uri, "logical_key": format!("f{i}.txt")}))
        .collect();
    for (name, copy) in [("keys/copied", true), ("keys/referenced", false)] {
        let created = call_as(
            &server,
            &token,
            "package_create",
            json!({"registry": format!("s3://{B}"), "package_name": name,
                   "entries": entries, "copy": copy}),
        )
        .await;
        let top_hash = ok(&created)["top_hash"]
            .as_str()
            .expect("top hash")
            .to_owned();
        let q3 = quilt3_browse(&moto, B, name, Some(&top_hash)).await;
        assert_eq!(q3["all_verified"], true, "{name}: {q3}");
        assert_eq!(q3["top_hash"], top_hash.as_str());
        let browsed = call_as(
            &server,
            &token,
            "package_browse",
            json!({"registry": format!("s3://{B}"), "package_name": name}),
        )
        .await;
        for e in ok(&browsed)["entries"].as_array().expect("entries") {
            let i: usize = e["logical_key"].as_str().expect("lk")[1..]
                .trim_end_matches(".txt")
                .parse()
                .expect("index");
            let (key, _) = &listing[i];
            let uri = e["s3_uri"].as_str().expect("entry s3_uri");
            let text = call_as(
                &server,
                &token,
                "bucket_object_text",
                json!({"s3_uri": uri}),
            )
            .await;
            assert_eq!(ok(&text)["text"], body_of(key), "{name} entry {uri}");
            if !copy {
                // The physical key is quilt3's URL of the source (quilt3 read it above).
                let pk = e["physical_key"].as_str().expect("physical key");
                let q3_pk = q3["entries"]
                    .as_array()
                    .expect("quilt3 entries")
                    .iter()
                    .find(|q| q["logical_key"] == e["logical_key"])
                    .expect("same entry in quilt3")["physical_key"]
                    .clone();
                assert_eq!(q3_pk, pk, "quilt3 and we agree on the physical key");
                assert!(uri.starts_with(&format!("s3://{B}/{key}")), "{uri}");
            }
        }
    }
}

#[tokio::test]
async fn keys_written_by_boto3_and_quilt3_read_back_by_the_name_they_list_under() {
    let moto = Moto::start().await;
    bucket(&moto, "boto-keys", false).await;
    bucket(&moto, "q3-keys", false).await;
    // boto3, the reference S3 writer, puts each key with its body.
    let script = r#"
import json, sys, boto3
endpoint, bucket, keys = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
for k in keys:
    s3.put_object(Bucket=bucket, Key=k, Body=("the object named %s\n" % json.dumps(k, ensure_ascii=False)).encode())
"#;
    let out = tokio::process::Command::new(root().join(".venv/bin/python"))
        .args([
            "-c",
            script,
            &moto.url,
            "boto-keys",
            &json!(KEYS).to_string(),
        ])
        .output()
        .await
        .expect("run boto3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Rust's {:?} and Python's json.dumps(ensure_ascii=False) agree on these keys.
    let server = server(&moto, |_| {}).await;
    let token = token("kim");
    let listing = listed(&server, &token, "boto-keys").await;
    assert_eq!(listing.len(), KEYS.len());
    for (key, uri) in &listing {
        assert!(KEYS.contains(&key.as_str()), "{key}");
        let text = call_as(
            &server,
            &token,
            "bucket_object_text",
            json!({"s3_uri": uri}),
        )
        .await;
        assert_eq!(ok(&text)["text"], body_of(key), "{uri}");
        let info = call_as(
            &server,
            &token,
            "bucket_object_info",
            json!({"s3_uri": uri}),
        )
        .await;
        assert_eq!(ok(&info)["key"], key.as_str());
    }

    // quilt3 pushes files with such names (no '/': they are file names) into a registry.
    let dir = std::env::temp_dir().join(format!("key-names-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let files: Vec<&str> = KEYS.iter().copied().filter(|k| !k.contains('/')).collect();
    for f in &files {
        std::fs::write(dir.join(f), body_of(f)).expect("write");
    }
    let pushed = quilt3(&[
        "push",
        "--endpoint",
        &moto.url,
        "--registry",
        "s3://q3-keys",
        "--name",
        "q3/odd",
        "--dir",
        dir.to_str().expect("utf-8 dir"),
    ])
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let top_hash = pushed["top_hash"].as_str().expect("top hash");
    let browsed = call_as(
        &server,
        &token,
        "package_browse",
        json!({"registry": "s3://q3-keys", "package_name": "q3/odd"}),
    )
    .await;
    let browsed = ok(&browsed);
    assert_eq!(browsed["top_hash"], top_hash);
    let entries = browsed["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), files.len());
    for e in entries {
        let lk = e["logical_key"].as_str().expect("lk");
        assert!(files.contains(&lk), "{lk}");
        // quilt3 stored the object at <name>/<logical key>: S3 lists that exact name, and
        // the entry's s3_uri reads it.
        let uri = e["s3_uri"].as_str().expect("s3_uri");
        let text = call_as(
            &server,
            &token,
            "bucket_object_text",
            json!({"s3_uri": uri}),
        )
        .await;
        assert_eq!(ok(&text)["text"], body_of(lk), "{uri}");
    }
    let stored = stored_keys(&moto, "q3-keys").await;
    for f in &files {
        assert!(stored.contains(&format!("q3/odd/{f}")), "{f} in {stored:?}");
    }
}

#[tokio::test]
async fn a_missing_key_is_not_found_naming_the_key_and_bad_uris_get_their_own_error() {
    let moto = Moto::start().await;
    bucket(&moto, B, true).await;
    let server = server(&moto, |_| {}).await;
    let token = token("kim");
    let put = call_as(
        &server,
        &token,
        "bucket_objects_put",
        json!({"bucket": B, "items": [{"key": "x+y", "text": "here"}]}),
    )
    .await;
    ok(&put);

    // GET (NoSuchKey), HEAD (a bare 404), a version that does not exist, preview, packaging.
    let cases = [
        (
            "bucket_object_text",
            format!("s3://{B}/missing%20key.txt"),
            r#"key "missing%20key.txt""#,
        ),
        (
            "bucket_object_fetch",
            format!("s3://{B}/x y"),
            r#"key "x y""#,
        ),
        (
            "bucket_object_info",
            format!("s3://{B}/no such+key"),
            r#"key "no such+key""#,
        ),
        (
            "bucket_object_info",
            format!("s3://{B}/x+y?versionId=nope"),
            r#"key "x+y", version "nope""#,
        ),
        (
            "bucket_object_preview",
            format!("s3://{B}/ünï 100%"),
            r#"key "ünï 100%""#,
        ),
    ];
    for (tool, uri, named) in &cases {
        let r = call_as(&server, &token, tool, json!({"s3_uri": uri})).await;
        let (code, message) = err(&r);
        assert_eq!(code, "not_found", "{tool} {uri}");
        assert!(message.contains(named), "{tool}: {message}");
        assert!(message.contains(&format!("bucket \"{B}\"")), "{message}");
        // Nothing about the credentials that signed the request.
        for secret in ["ASIA", "AKIA", "Signature", "X-Amz"] {
            assert!(!message.contains(secret), "{tool}: {message}");
        }
    }
    let created = call_as(
        &server,
        &token,
        "package_create",
        json!({"registry": format!("s3://{B}"), "package_name": "keys/missing",
               "s3_uris": [format!("s3://{B}/gone%2Fkey")]}),
    )
    .await;
    let (code, message) = err(&created);
    assert_eq!(code, "not_found");
    assert!(message.contains(r#"key "gone%2Fkey""#), "{message}");
    let read = rpc(
        &server.mcp(),
        Some(&token),
        LEGACY,
        "resources/read",
        json!({"uri": format!("s3://{B}/nope#frag")}),
    )
    .await;
    let error = &read.body["error"];
    assert_eq!(error["code"], -32002, "{}", read.body);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains(r##"key "nope#frag""##)),
        "{error}"
    );

    // Bad URIs: each its own invalid_argument, nothing written or read.
    let bad = [
        ("s3:/key-names/x", "not an S3 URI"),
        ("https://key-names/x", "not an S3 URI"),
        ("s3://Key_Names/x", "not a valid S3 bucket name"),
        ("s3://key-names", "names no object key"),
        ("s3://key-names/", "names no object key"),
        ("s3://key-names/?versionId=v1", "names no object key"),
        ("s3://key-names/x?versionId=a&b=c", "versionId is malformed"),
        ("s3://key-names/x?versionId=a b", "versionId is malformed"),
        ("s3://key-names/a\u{7}b", "control characters"),
    ];
    let long = format!("s3://{B}/{}", "k".repeat(1025));
    let bad_long = [(long.as_str(), "longer than 1024 bytes")];
    for (uri, says) in bad.iter().chain(&bad_long) {
        for tool in [
            "bucket_object_text",
            "bucket_object_info",
            "bucket_object_link",
        ] {
            let r = call_as(&server, &token, tool, json!({"s3_uri": uri})).await;
            let (code, message) = err(&r);
            assert_eq!(code, "invalid_argument", "{tool} {uri}");
            assert!(message.contains(says), "{tool} {uri}: {message}");
        }
    }
    let stored = stored_keys(&moto, B).await;
    assert_eq!(stored, BTreeSet::from(["x+y".to_owned()]));
}
