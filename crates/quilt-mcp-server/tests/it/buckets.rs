//! The bucket tools against moto: every tool and its bad inputs, unicode and space keys,
//! versioned and unversioned buckets, pagination across 2,500 objects, a 16 MiB multipart
//! put, SSE on every write (checked from what moto stored), grants enforced before any AWS
//! call, and S3's AccessDenied named with the credential source and role.

use std::sync::Arc;

use base64::Engine as _;
use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

/// A server on moto acting through stack roles that may do anything.
pub(crate) async fn server(
    moto: &Moto,
    configure: impl FnOnce(&mut quilt_mcp_server::Config),
) -> TestServer {
    static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let read = moto
        .role(&format!("BucketsReadRole{n}"), "*", allow_all())
        .await;
    let write = moto
        .role(&format!("BucketsWriteRole{n}"), "*", allow_all())
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

pub(crate) async fn bucket(moto: &Moto, name: &str, versioned: bool) {
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

#[tokio::test]
async fn put_then_read_back_with_unicode_keys_sse_and_metadata() {
    let moto = Moto::start().await;
    bucket(&moto, "plain-bucket", false).await;
    let server = server(&moto, |_| {}).await;
    let token = token("uma");
    let key = "dir/naïve file ü.txt";
    let text = "héllo wörld\nline two\n";
    let put = call_as(
        &server,
        &token,
        "bucket_objects_put",
        json!({"bucket": "plain-bucket", "items": [
            {"key": key, "text": text, "metadata": {"owner": "uma"}},
            {"key": "bin/blob.dat", "data": base64::engine::general_purpose::STANDARD.encode([0u8, 159, 146, 150, 255]), "content_type": "application/x-test"},
        ]}),
    )
    .await;
    let out = ok(&put);
    assert_eq!(
        (out["succeeded"].as_u64(), out["failed"].as_u64()),
        (Some(2), Some(0)),
        "{out}"
    );
    assert_eq!(
        out["results"][0]["version_id"],
        Value::Null,
        "unversioned bucket: no version"
    );
    assert_eq!(put["_meta"]["quilt-mcp/credential_source"], "stack_roles");
    assert!(
        put["_meta"]["quilt-mcp/role_arn"]
            .as_str()
            .expect("role")
            .contains("BucketsWriteRole"),
        "writes use the write role"
    );

    // What moto stored: encrypted, typed, with metadata.
    for k in [key, "bin/blob.dat"] {
        let head = moto
            .s3()
            .head_object()
            .bucket("plain-bucket")
            .key(k)
            .send()
            .await
            .expect("head");
        assert_eq!(
            head.server_side_encryption().map(|s| s.as_str()),
            Some("AES256"),
            "SSE on {k}"
        );
    }

    let uri = format!("s3://plain-bucket/{key}");
    let info = call_as(
        &server,
        &token,
        "bucket_object_info",
        json!({"s3_uri": uri}),
    )
    .await;
    let info = ok(&info);
    assert_eq!(info["key"], key);
    assert_eq!(info["size"], text.len());
    assert_eq!(info["metadata"]["owner"], "uma");
    assert_eq!(info["server_side_encryption"], "AES256");
    // Keys are verbatim: the percent-encoded URL quilt3 would write for this object names
    // another key, and the error says which one was tried and why it may be wrong.
    let encoded = "s3://plain-bucket/dir/na%C3%AFve%20file%20%C3%BC.txt";
    let missing = call_as(
        &server,
        &token,
        "bucket_object_info",
        json!({"s3_uri": encoded}),
    )
    .await;
    let (code, message) = err(&missing);
    assert_eq!(code, "not_found");
    assert!(
        message.contains(r#"key "dir/na%C3%AFve%20file%20%C3%BC.txt""#),
        "{message}"
    );
    assert!(
        missing["structuredContent"]["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("verbatim")),
        "{missing}"
    );

    let full = call_as(
        &server,
        &token,
        "bucket_object_text",
        json!({"s3_uri": uri}),
    )
    .await;
    let full = ok(&full);
    assert_eq!(
        (full["text"].as_str(), full["truncated"].as_bool()),
        (Some(text), Some(false))
    );
    // "héllo": 'é' is two bytes; reading 2 bytes cuts it: the partial character is dropped.
    let part = call_as(
        &server,
        &token,
        "bucket_object_text",
        json!({"s3_uri": uri, "max_bytes": 2}),
    )
    .await;
    let part = ok(&part);
    assert_eq!(
        (
            part["text"].as_str(),
            part["truncated"].as_bool(),
            part["size"].as_u64()
        ),
        (Some("h"), Some(true), Some(text.len() as u64))
    );
    let offset = text.find("line").expect("second line");
    let tail = call_as(
        &server,
        &token,
        "bucket_object_text",
        json!({"s3_uri": uri, "offset": offset, "max_bytes": 100}),
    )
    .await;
    assert_eq!(ok(&tail)["text"], "line two\n");
    // An offset near u64::MAX: the range end (offset + max_bytes - 1) would overflow. A
    // specific invalid_argument, before any credential is resolved or AWS is called.
    let resolutions = server.app.aws.broker().resolutions();
    for (offset, max_bytes) in [(u64::MAX - 10, json!(100)), (u64::MAX, Value::Null)] {
        let mut args = json!({"s3_uri": uri, "offset": offset});
        if !max_bytes.is_null() {
            args["max_bytes"] = max_bytes;
        }
        let (code, message) = err(&call_as(&server, &token, "bucket_object_text", args).await);
        assert_eq!(code, "invalid_argument");
        assert!(
            message.contains(&format!("offset {offset} is too large")),
            "{message}"
        );
    }
    assert_eq!(server.app.aws.broker().resolutions(), resolutions);

    let binary = call_as(
        &server,
        &token,
        "bucket_object_text",
        json!({"s3_uri": "s3://plain-bucket/bin/blob.dat"}),
    )
    .await;
    let (code, message) = err(&binary);
    assert_eq!(code, "invalid_argument");
    assert!(message.contains("not UTF-8"), "{message}");
    let fetched = call_as(
        &server,
        &token,
        "bucket_object_fetch",
        json!({"s3_uri": "s3://plain-bucket/bin/blob.dat"}),
    )
    .await;
    let fetched = ok(&fetched);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(fetched["data"].as_str().expect("data"))
            .expect("b64"),
        [0u8, 159, 146, 150, 255]
    );
    assert_eq!(fetched["content_type"], "application/x-test");

    let as_text = call_as(
        &server,
        &token,
        "bucket_object_fetch",
        json!({"s3_uri": uri, "base64_encode": false}),
    )
    .await;
    assert_eq!(ok(&as_text)["text"], text);
    let binary_as_text = call_as(
        &server,
        &token,
        "bucket_object_fetch",
        json!({"s3_uri": "s3://plain-bucket/bin/blob.dat", "base64_encode": false}),
    )
    .await;
    assert_eq!(err(&binary_as_text).0, "invalid_argument");
    let link = call_as(
        &server,
        &token,
        "bucket_object_link",
        json!({"s3_uri": uri, "expiration": 600}),
    )
    .await;
    let link = ok(&link);
    assert!(link["expires_in"].as_u64().expect("secs") <= 600);
    let body = http()
        .get(link["url"].as_str().expect("url"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert_eq!(body, text, "the presigned URL works");

    let missing = call_as(
        &server,
        &token,
        "bucket_object_info",
        json!({"s3_uri": "s3://plain-bucket/no/such key"}),
    )
    .await;
    assert_eq!(err(&missing).0, "not_found");
    let missing = call_as(
        &server,
        &token,
        "bucket_object_text",
        json!({"s3_uri": "s3://plain-bucket/no/such key"}),
    )
    .await;
    assert_eq!(err(&missing).0, "not_found");
}

#[tokio::test]
async fn versions_are_addressable_by_uri() {
    let moto = Moto::start().await;
    bucket(&moto, "versioned-bucket", true).await;
    let server = server(&moto, |_| {}).await;
    let token = token("vic");
    let mut versions = Vec::new();
    for body in ["first", "second"] {
        let put = call_as(
            &server,
            &token,
            "bucket_objects_put",
            json!({"bucket": "versioned-bucket", "items": [{"key": "v.txt", "text": body}]}),
        )
        .await;
        versions.push(
            ok(&put)["results"][0]["version_id"]
                .as_str()
                .expect("versioned")
                .to_owned(),
        );
    }
    assert_ne!(versions[0], versions[1]);
    let latest = call_as(
        &server,
        &token,
        "bucket_object_text",
        json!({"s3_uri": "s3://versioned-bucket/v.txt"}),
    )
    .await;
    assert_eq!(ok(&latest)["text"], "second");
    let first = call_as(
        &server,
        &token,
        "bucket_object_text",
        json!({"s3_uri": format!("s3://versioned-bucket/v.txt?versionId={}", versions[0])}),
    )
    .await;
    assert_eq!(ok(&first)["text"], "first");
    let info = call_as(
        &server,
        &token,
        "bucket_object_info",
        json!({"s3_uri": format!("s3://versioned-bucket/v.txt?versionId={}", versions[0])}),
    )
    .await;
    assert_eq!(ok(&info)["version_id"], versions[0].as_str());
    let bogus = call_as(
        &server,
        &token,
        "bucket_object_info",
        json!({"s3_uri": "s3://versioned-bucket/v.txt?versionId=nope"}),
    )
    .await;
    let (code, _) = err(&bogus);
    assert_eq!(code, "not_found", "an unknown version is not found");
}

#[tokio::test]
async fn listing_pages_through_2500_objects_with_one_credential_resolution_per_call() {
    let moto = Moto::start().await;
    bucket(&moto, "many-bucket", false).await;
    let s3 = moto.s3();
    let puts = futures::stream::iter((0..2500).map(|i| {
        let s3 = s3.clone();
        async move {
            let key = if i % 500 == 0 {
                format!("folder-{}/obj {i:04}.txt", i / 500)
            } else {
                format!("obj-{i:04}.txt")
            };
            s3.put_object()
                .bucket("many-bucket")
                .key(key)
                .body(b"x".to_vec().into())
                .send()
                .await
                .expect("put");
        }
    }));
    futures::StreamExt::for_each_concurrent(puts, 32, |f| f).await;
    let server = server(&moto, |_| {}).await;
    let token = token("page");
    let mut keys = Vec::new();
    let mut token_next: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"bucket": "many-bucket", "max_keys": 1000});
        if let Some(t) = &token_next {
            args["continuation_token"] = json!(t);
        }
        let page = call_as(&server, &token, "bucket_objects_list", args).await;
        let page = ok(&page);
        pages += 1;
        keys.extend(
            page["objects"]
                .as_array()
                .expect("objects")
                .iter()
                .map(|o| o["key"].as_str().expect("key").to_owned()),
        );
        if page["is_truncated"] == false {
            break;
        }
        token_next = page["next_continuation_token"].as_str().map(str::to_owned);
        assert!(token_next.is_some());
    }
    assert_eq!((pages, keys.len()), (3, 2500));
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 2500, "no duplicates across pages");

    let folders = call_as(
        &server,
        &token,
        "bucket_objects_list",
        json!({"bucket": "many-bucket", "delimiter": "/", "max_keys": 10}),
    )
    .await;
    let folders = ok(&folders);
    assert_eq!(
        folders["common_prefixes"],
        json!([
            "folder-0/",
            "folder-1/",
            "folder-2/",
            "folder-3/",
            "folder-4/"
        ])
    );

    let before = server.app.aws.broker().resolutions();
    let signed = call_as(
        &server,
        &token,
        "bucket_objects_list",
        json!({"bucket": "many-bucket", "max_keys": 1000, "include_signed_urls": true}),
    )
    .await;
    let signed = ok(&signed);
    let objects = signed["objects"].as_array().expect("objects");
    assert_eq!(objects.len(), 1000);
    assert!(objects.iter().all(|o| {
        o["signed_url"]
            .as_str()
            .is_some_and(|u| u.contains("X-Amz-Signature"))
    }));
    assert_eq!(
        server.app.aws.broker().resolutions() - before,
        1,
        "one credential resolution for 1,000 signed URLs"
    );
    let body = http()
        .get(objects[0]["signed_url"].as_str().expect("url"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "x");

    for bad in [0, 1001, -5] {
        let r = call_as(
            &server,
            &token,
            "bucket_objects_list",
            json!({"bucket": "many-bucket", "max_keys": bad}),
        )
        .await;
        let (code, message) = err(&r);
        assert_eq!(code, "invalid_argument");
        assert!(
            message.contains("max_keys must be between 1 and 1000"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_16_mib_put_goes_through_multipart_with_sse() {
    let moto = Moto::start().await;
    bucket(&moto, "big-bucket", false).await;
    let server = server(&moto, |c| c.max_body_bytes = 32 * 1024 * 1024).await;
    let token = token("big");
    let data: Vec<u8> = (0..16 * 1024 * 1024 + 3)
        .map(|i: usize| (i % 251) as u8)
        .collect();
    let put = call_as(
        &server,
        &token,
        "bucket_objects_put",
        json!({"bucket": "big-bucket", "items": [{"key": "big/blob.bin", "data": base64::engine::general_purpose::STANDARD.encode(&data)}]}),
    )
    .await;
    let result = &ok(&put)["results"][0];
    assert_eq!(
        (result["ok"].as_bool(), result["multipart"].as_bool()),
        (Some(true), Some(true)),
        "{result}"
    );
    let head = moto
        .s3()
        .head_object()
        .bucket("big-bucket")
        .key("big/blob.bin")
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_length(), Some(data.len() as i64));
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    let got = moto
        .s3()
        .get_object()
        .bucket("big-bucket")
        .key("big/blob.bin")
        .send()
        .await
        .expect("get")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();
    assert!(
        got.as_ref() == data.as_slice(),
        "content survives multipart"
    );
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let moto = Moto::start().await;
    bucket(&moto, "strict-bucket", false).await;
    let server = server(&moto, |c| c.max_body_bytes = 64 * 1024).await;
    let token = token("bad");
    let cases = [
        (
            "bucket_object_info",
            json!({"s3_uri": "http://strict-bucket/k"}),
            "invalid_argument",
            "not an S3 URI",
        ),
        (
            "bucket_object_info",
            json!({"s3_uri": "s3://Strict_Bucket/k"}),
            "invalid_argument",
            "Strict_Bucket",
        ),
        (
            "bucket_object_text",
            json!({"s3_uri": "s3://strict-bucket/"}),
            "invalid_argument",
            "names no object key",
        ),
        (
            "bucket_object_text",
            json!({"s3_uri": "s3://strict-bucket/k", "max_bytes": 0}),
            "invalid_argument",
            "max_bytes",
        ),
        (
            "bucket_object_link",
            json!({"s3_uri": "s3://strict-bucket/k", "expiration": 999999999}),
            "invalid_argument",
            "expiration",
        ),
        (
            "bucket_objects_put",
            json!({"bucket": "strict-bucket", "items": []}),
            "invalid_argument",
            "1 to 100",
        ),
        (
            "bucket_objects_put",
            json!({"bucket": "strict-bucket", "items": [{"key": "a", "text": "x"}, {"key": "b", "data": "%%%not base64"}]}),
            "invalid_argument",
            "not valid base64",
        ),
        (
            "bucket_objects_put",
            json!({"bucket": "strict-bucket", "items": [{"key": "a", "text": "x", "data": "eA=="}]}),
            "invalid_argument",
            "exactly one of text or data",
        ),
        (
            "bucket_objects_put",
            json!({"bucket": "strict-bucket", "items": [{"key": "a", "text": "x".repeat(70 * 1024)}]}),
            "too_large",
            "byte limit",
        ),
        (
            "bucket_objects_put",
            json!({"bucket": "strict-bucket", "items": [{"key": "", "text": "x"}]}),
            "invalid_argument",
            "names no object key",
        ),
    ];
    for (tool, args, code, needle) in cases {
        let r = call_tool(&server.mcp(), Some(&token), tool, args.clone()).await;
        if r.status == 413 {
            // Over the HTTP body limit: refused before the tool (the envelope's 413).
            assert_eq!(code, "too_large");
            continue;
        }
        let (got, message) = err(r.result());
        assert_eq!(got, code, "{tool} {args}: {message}");
        assert!(
            message.contains(needle),
            "{tool}: {message:?} lacks {needle:?}"
        );
    }
    // The invalid batch wrote nothing, not even its valid first item.
    let listing = moto
        .s3()
        .list_objects_v2()
        .bucket("strict-bucket")
        .send()
        .await
        .expect("list");
    assert_eq!(listing.key_count(), Some(0));
}

#[tokio::test]
async fn grants_are_enforced_before_any_aws_call() {
    let moto = Moto::start().await;
    bucket(&moto, "alpha-bucket", false).await;
    bucket(&moto, "beta-bucket", false).await;
    moto.s3()
        .put_object()
        .bucket("alpha-bucket")
        .key("team/a.txt")
        .body(b"a".to_vec().into())
        .send()
        .await
        .expect("put");
    moto.s3()
        .put_object()
        .bucket("alpha-bucket")
        .key("other/b.txt")
        .body(b"b".to_vec().into())
        .send()
        .await
        .expect("put");
    let server = server(&moto, |c| {
        c.buckets = vec!["alpha-bucket".into(), "beta-bucket".into()]
    })
    .await;
    let token = hs256(
        &claims("gus", json!({"buckets": ["alpha-bucket/team/"]})),
        SECRET,
    );
    let broker = server.app.aws.broker();

    let before = broker.resolutions();
    for (tool, args) in [
        ("bucket_objects_list", json!({"bucket": "beta-bucket"})),
        (
            "bucket_object_text",
            json!({"s3_uri": "s3://alpha-bucket/other/b.txt"}),
        ),
        (
            "bucket_object_info",
            json!({"s3_uri": "s3://beta-bucket/x"}),
        ),
        (
            "bucket_object_link",
            json!({"s3_uri": "s3://alpha-bucket/other/b.txt"}),
        ),
        (
            "bucket_objects_list",
            json!({"bucket": "alpha-bucket", "prefix": "other/"}),
        ),
    ] {
        let (code, message) = err(&call_as(&server, &token, tool, args.clone()).await);
        assert_eq!(code, "not_permitted", "{tool} {args}: {message}");
    }
    assert_eq!(broker.resolutions(), before, "refusals made no AWS call");

    let listing = call_as(
        &server,
        &token,
        "bucket_objects_list",
        json!({"bucket": "alpha-bucket"}),
    )
    .await;
    let listing = ok(&listing);
    assert_eq!(
        listing["prefix"], "team/",
        "listing forced inside the granted prefix"
    );
    assert_eq!(listing["objects"].as_array().expect("objects").len(), 1);

    let buckets = call_as(&server, &token, "bucket_list", json!({})).await;
    let buckets = ok(&buckets);
    assert_eq!(buckets["source"], "grants");
    let entries = buckets["buckets"].as_array().expect("buckets");
    assert_eq!(entries.len(), 1, "{buckets}");
    assert_eq!(
        (&entries[0]["name"], &entries[0]["prefixes"]),
        (&json!("alpha-bucket"), &json!(["team/"]))
    );
    // Access from the permission engine, checked inside the granted prefix; no write probes
    // are configured, so write is not guessed.
    let access = &entries[0]["access"];
    assert_eq!(access["prefix"], "team/");
    assert_eq!(
        (&access["list"], &access["read"], &access["write"]),
        (&json!(true), &json!(true), &json!("unknown")),
        "{access}"
    );

    // A put batch: the item outside the grant fails alone; the other is written.
    let put = call_as(&server, &token, "bucket_objects_put", json!({"bucket": "alpha-bucket", "items": [{"key": "team/new.txt", "text": "ok"}, {"key": "other/new.txt", "text": "no"}]})).await;
    let put = ok(&put);
    assert_eq!(
        (put["succeeded"].as_u64(), put["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(put["results"][1]["error"]["code"], "not_permitted");
    assert!(
        moto.s3()
            .head_object()
            .bucket("alpha-bucket")
            .key("other/new.txt")
            .send()
            .await
            .is_err()
    );

    // Without restrictions, bucket_list asks S3 with the caller's credentials.
    let open = crate::buckets::server(&moto, |_| {}).await;
    let all = call_as(&open, &token_for_all(), "bucket_list", json!({})).await;
    let all = ok(&all);
    assert_eq!(all["source"], "list_buckets");
    let names: Vec<&str> = all["buckets"]
        .as_array()
        .expect("b")
        .iter()
        .map(|b| b["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["alpha-bucket", "beta-bucket"]);
}

fn token_for_all() -> String {
    token("wide")
}

#[tokio::test]
async fn access_denied_names_the_source_and_role() {
    let mut moto = Moto::start().await;
    moto.create_admin().await;
    bucket(&moto, "locked-bucket", false).await;
    moto.s3()
        .put_object()
        .bucket("locked-bucket")
        .key("secret.txt")
        .body(b"s".to_vec().into())
        .send()
        .await
        .expect("put");
    let (akid, secret) = moto
        .user("server-id", allow(&["sts:AssumeRole"], &["*"]))
        .await;
    let role = moto
        .role("NoS3Role", "*", allow(&["s3:ListBucket"], &["*"]))
        .await;
    moto.enforce_iam().await;
    let url = moto.url.clone();
    let role_for_config = role.clone();
    let server = TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(role_for_config);
        },
        Some(moto.identity(&akid, &secret)),
        Arc::new(SystemClock),
    )
    .await;
    let r = call_as(
        &server,
        &token("denied"),
        "bucket_object_text",
        json!({"s3_uri": "s3://locked-bucket/secret.txt"}),
    )
    .await;
    let (code, message) = err(&r);
    assert_eq!(code, "access_denied");
    assert!(
        message.contains("stack_roles") && message.contains(&role),
        "{message}"
    );
    assert_eq!(
        r["structuredContent"]["error"]["credential_source"],
        "stack_roles"
    );
}

#[tokio::test]
async fn kms_encryption_is_applied_when_configured() {
    let moto = Moto::start().await;
    bucket(&moto, "kms-bucket", false).await;
    let server = server(&moto, |c| {
        c.s3_sse = "aws:kms".into();
        c.s3_sse_kms_key_id = Some("alias/quilt".into());
    })
    .await;
    let put = call_as(
        &server,
        &token("kms"),
        "bucket_objects_put",
        json!({"bucket": "kms-bucket", "items": [{"key": "k.txt", "text": "x"}]}),
    )
    .await;
    ok(&put);
    let head = moto
        .s3()
        .head_object()
        .bucket("kms-bucket")
        .key("k.txt")
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
    assert_eq!(head.ssekms_key_id(), Some("alias/quilt"));
}

#[tokio::test]
async fn s3_policy_test_reports_a_bucket_that_does_not_enforce_sse() {
    // moto does not evaluate bucket policies, so all three probes succeed: the two that a
    // correct policy denies must be reported as failures, and the command must fail.
    let moto = Moto::start().await;
    bucket(&moto, "snapshots", false).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_quilt-mcp-server"))
        .args([
            "s3-policy-test",
            "--bucket",
            "snapshots",
            "--prefix",
            "probe/",
        ])
        .env_clear()
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "AKIAOPERATOROPERATOR")
        .env("AWS_SECRET_ACCESS_KEY", "operator-secret")
        .output()
        .await
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("no-sse").contains("denied")
            && line("no-sse").contains("succeeded")
            && line("no-sse").ends_with("FAIL"),
        "{stdout}"
    );
    assert!(line("aes256").ends_with("PASS"), "{stdout}");
    assert!(line("aws-kms").ends_with("FAIL"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 of 3 probes"));
    let left = moto
        .s3()
        .list_objects_v2()
        .bucket("snapshots")
        .send()
        .await
        .expect("list");
    assert_eq!(left.key_count(), Some(0), "probe objects are deleted");
}
