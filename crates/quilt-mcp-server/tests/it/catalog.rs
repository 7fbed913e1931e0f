//! The Quilt catalog tools through the server, against the catalog stand-in
//! (`catalog_standin.rs`: graphql-core on the catalog's real schema, answering from moto):
//! search by package name, metadata and entry key and objects by key; every hit once across
//! pages; grants filter hits even when the catalog returns other buckets; a JWKS-verified
//! token never reaches the catalog and does not list the catalog tools; catalog URLs open on
//! the stand-in and `quilt+s3` URIs lead quilt3 to the same revision and entry; Tabulator
//! set/list/rename/delete round-trip and a Tabulator query through the SQL guard; each bad
//! input gets its own error and sends nothing.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quilt_mcp_aws::cache::SystemClock;
use quilt_mcp_server::config::Config;
use serde_json::{Value, json};

use crate::catalog_standin::{CatalogStandIn, TABULATOR_CATALOG};
use crate::moto::*;
use crate::support::*;

const DATA: &str = "cat-data";
const OTHER: &str = "cat-other";

async fn server_with(
    moto: &Moto,
    catalog_url: &str,
    configure: impl FnOnce(&mut Config) + Send + 'static,
) -> TestServer {
    let read = moto
        .role(
            &format!("CatRead{}", uuid::Uuid::new_v4().simple()),
            "*",
            allow_all(),
        )
        .await;
    let write = moto
        .role(
            &format!("CatWrite{}", uuid::Uuid::new_v4().simple()),
            "*",
            allow_all(),
        )
        .await;
    let (url, catalog) = (moto.url.clone(), catalog_url.to_owned());
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read);
            c.write_role_arn = Some(write);
            c.catalog_url = Some(catalog);
            configure(c);
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await
}

async fn put(moto: &Moto, bucket: &str, key: &str, body: &str) {
    moto.s3()
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/octet-stream")
        .body(body.as_bytes().to_vec().into())
        .send()
        .await
        .expect("put");
}

async fn buckets(moto: &Moto) {
    for b in [DATA, OTHER] {
        moto.s3()
            .create_bucket()
            .bucket(b)
            .send()
            .await
            .expect("bucket");
    }
}

fn bucket_configs() -> Value {
    json!([
        {"name": DATA, "title": "Catalogued data", "description": "Zebrafish screens", "tags": ["imaging", "fish"], "relevanceScore": 7},
        {"name": OTHER, "title": "Other", "relevanceScore": 1},
    ])
}

/// Packages and objects the searches find: names, metadata, messages and entry keys that
/// each match exactly one package.
async fn seed(moto: &Moto, server: &TestServer, token: &str) -> (String, String) {
    put(moto, DATA, "raw/alpha.csv", "a,b\n1,2\n").await;
    put(moto, DATA, "raw/beta.csv", "b\n").await;
    put(moto, DATA, "other/gamma.csv", "g\n").await;
    put(moto, DATA, "reads/omega.fastq", "@r\nACGT\n").await;
    put(moto, OTHER, "hidden/delta.csv", "d\n").await;
    let alpha = call_as(
        server,
        token,
        "package_create",
        json!({"registry": format!("s3://{DATA}"), "package_name": "team/alpha",
               "entries": [{"s3_uri": format!("s3://{DATA}/raw/alpha.csv"), "logical_key": "data/alpha.csv"}],
               "metadata": {"project": "zebrafish"}, "message": "first screen"}),
    )
    .await;
    let alpha = ok(&alpha)["top_hash"].as_str().expect("hash").to_owned();
    let beta = call_as(
        server,
        token,
        "package_create",
        json!({"registry": format!("s3://{DATA}"), "package_name": "team/beta",
               "entries": [{"s3_uri": format!("s3://{DATA}/reads/omega.fastq"), "logical_key": "reads/omega.fastq"}],
               "metadata": {"project": "yeast"}}),
    )
    .await;
    let beta = ok(&beta)["top_hash"].as_str().expect("hash").to_owned();
    let hidden = call_as(
        server,
        token,
        "package_create",
        json!({"registry": format!("s3://{OTHER}"), "package_name": "team/alphabet",
               "entries": [{"s3_uri": format!("s3://{OTHER}/hidden/delta.csv"), "logical_key": "delta.csv"}]}),
    )
    .await;
    ok(&hidden);
    (alpha, beta)
}

fn names(result: &Value) -> Vec<String> {
    ok(result)["packages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p["bucket"].as_str().unwrap_or(""),
                        p["name"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_packages_and_objects_pages_once_and_respects_grants() {
    let moto = Moto::start().await;
    buckets(&moto).await;
    let standin = CatalogStandIn::start(&moto.url, SECRET, &bucket_configs());
    let server = server_with(&moto, &standin.url, |_| {}).await;
    let alice = token("alice");
    let (alpha, beta) = seed(&moto, &server, &alice).await;

    // By name (the other bucket's "team/alphabet" matches too: no grants restrict alice).
    let by_name = call_as(&server, &alice, "search_catalog", json!({"query": "alpha"})).await;
    let found = names(&by_name);
    assert!(found.contains(&format!("{DATA}/team/alpha")), "{by_name}");
    assert!(
        found.contains(&format!("{OTHER}/team/alphabet")),
        "{by_name}"
    );
    let hit = ok(&by_name)["packages"]
        .as_array()
        .expect("hits")
        .iter()
        .find(|p| p["name"] == "team/alpha")
        .expect("team/alpha")
        .clone();
    assert_eq!(hit["hash"], alpha.as_str());
    assert_eq!(hit["comment"], "first screen");
    // Its catalog URL opens that revision on the catalog.
    let (status, page) = standin
        .open(hit["catalog_url"].as_str().expect("url"))
        .await;
    assert_eq!(
        (status, &page["kind"], &page["hash"]),
        (200, &json!("revision"), &json!(alpha)),
        "{page}"
    );

    // By metadata, and by an entry's logical key (listed among matching entries).
    let by_meta = call_as(
        &server,
        &alice,
        "search_catalog",
        json!({"query": "zebrafish"}),
    )
    .await;
    assert_eq!(names(&by_meta), [format!("{DATA}/team/alpha")]);
    let by_entry = call_as(
        &server,
        &alice,
        "search_catalog",
        json!({"query": "omega.fastq", "latest_only": true}),
    )
    .await;
    assert_eq!(names(&by_entry), [format!("{DATA}/team/beta")]);
    let beta_hit = &ok(&by_entry)["packages"][0];
    assert_eq!(beta_hit["hash"], beta.as_str());
    assert_eq!(beta_hit["matching_entries"], json!(["reads/omega.fastq"]));

    // An object by key, whose catalog URL opens that object.
    let object = call_as(
        &server,
        &alice,
        "search_catalog",
        json!({"query": "beta.csv", "scope": "objects", "buckets": [DATA]}),
    )
    .await;
    let objects = ok(&object)["objects"].as_array().expect("objects").clone();
    assert_eq!(objects.len(), 1, "{object}");
    assert_eq!(objects[0]["key"], "raw/beta.csv");
    let (status, page) = standin
        .open(objects[0]["catalog_url"].as_str().expect("url"))
        .await;
    assert_eq!(
        (status, &page["key"]),
        (200, &json!("raw/beta.csv")),
        "{page}"
    );

    // Pagination: 7 objects, pages of 3, each hit exactly once, then no token.
    for i in 0..7 {
        put(&moto, DATA, &format!("page/obj-{i}.txt"), "x").await;
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"query": "obj-", "scope": "objects", "limit": 3});
        if let Some(t) = &next {
            args["next_token"] = json!(t);
        }
        let page = call_as(&server, &alice, "search_catalog", args).await;
        let page = ok(&page).clone();
        pages += 1;
        seen.extend(
            page["objects"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|o| o["key"].as_str().expect("key").to_owned()),
        );
        match page["next_token"].as_str() {
            Some(t) => next = Some(t.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(
        unique,
        (0..7)
            .map(|i| format!("page/obj-{i}.txt"))
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(pages, 3);

    // The stand-in saw alice's own token on every GraphQL request, and accepted it.
    let graphql = standin.graphql().await;
    assert!(!graphql.is_empty());
    assert!(
        graphql
            .iter()
            .all(|r| r["token"] == alice.as_str() && r["accepted"] == true),
        "{graphql:?}"
    );

    // Grants: a token limited to cat-data/raw/ never gets hits elsewhere — not even when the
    // catalog answers from every bucket whatever it was asked.
    let limited = hs256(
        &claims("bob", json!({"buckets": [format!("{DATA}/raw/")]})),
        SECRET,
    );
    standin.control(json!({"ignore_buckets": true})).await;
    let objects = call_as(
        &server,
        &limited,
        "search_catalog",
        json!({"query": "csv", "scope": "objects"}),
    )
    .await;
    let keys: Vec<_> = ok(&objects)["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["bucket"].as_str().unwrap_or(""),
                o["key"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        keys.iter().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            format!("{DATA}/raw/alpha.csv"),
            format!("{DATA}/raw/beta.csv")
        ])
    );
    assert!(ok(&objects)["filtered"].as_u64() >= Some(2), "{objects}");
    let packages = call_as(
        &server,
        &limited,
        "search_catalog",
        json!({"query": "alpha"}),
    )
    .await;
    assert_eq!(names(&packages), Vec::<String>::new(), "{packages}");
    assert!(ok(&packages)["filtered"].as_u64() >= Some(2), "{packages}");
    let outside = call_as(
        &server,
        &limited,
        "search_catalog",
        json!({"query": "x", "buckets": [OTHER]}),
    )
    .await;
    assert_eq!(err(&outside).0, "not_permitted");
    standin.control(json!({"ignore_buckets": false})).await;

    // Bad input: each its own error, and nothing sent to the catalog.
    let before = standin.graphql().await.len();
    for (args, code, needle) in [
        (
            json!({"query": "x", "limit": 0}),
            "invalid_argument",
            "limit",
        ),
        (
            json!({"query": "x", "limit": 10000}),
            "invalid_argument",
            "limit",
        ),
        (json!({"query": "  "}), "invalid_argument", "query"),
        (
            json!({"query": "x", "buckets": ["Not A Bucket"]}),
            "invalid_argument",
            "bucket name",
        ),
        (
            json!({"query": "x", "next_token": "garbage"}),
            "invalid_argument",
            "next_token",
        ),
        (
            json!({"query": "x", "scope": "objects", "latest_only": true}),
            "invalid_argument",
            "latest_only",
        ),
    ] {
        let r = call_as(&server, &alice, "search_catalog", args.clone()).await;
        let (c, m) = err(&r);
        assert_eq!(c, code, "{args}: {m}");
        assert!(m.contains(needle), "{args}: {m}");
    }
    assert_eq!(
        standin.graphql().await.len(),
        before,
        "a refused call reached the catalog"
    );
    // A search syntax error is the catalog's InvalidInput arm: invalid_argument with its reason.
    let syntax = call_as(
        &server,
        &alice,
        "search_catalog",
        json!({"query": "\"unbalanced"}),
    )
    .await;
    let (code, message) = err(&syntax);
    assert_eq!(code, "invalid_argument");
    assert!(message.contains("QuerySyntaxError"), "{message}");

    // bucket_list: the catalog's configs beside the permission engine's access.
    let listed = call_as(&server, &alice, "bucket_list", json!({})).await;
    let entry = ok(&listed)["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .find(|b| b["name"] == DATA)
        .expect("cat-data")
        .clone();
    assert_eq!(entry["catalog"]["title"], "Catalogued data");
    assert_eq!(entry["catalog"]["tags"], json!(["imaging", "fish"]));
    assert_eq!(entry["catalog"]["relevance_score"], 7);
    assert_eq!(entry["access"]["list"], true, "{entry}");
    let (status, _) = standin
        .open(entry["catalog"]["url"].as_str().expect("url"))
        .await;
    assert_eq!(status, 200);
    // Grants filter bucket_list too: bob sees only cat-data, though the catalog knows both.
    let listed = call_as(&server, &limited, "bucket_list", json!({})).await;
    let names: Vec<_> = ok(&listed)["buckets"]
        .as_array()
        .expect("b")
        .iter()
        .map(|b| b["name"].clone())
        .collect();
    assert_eq!(names, [json!(DATA)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_urls_open_and_quilt_uris_lead_quilt3_to_the_same_revision_and_entry() {
    let moto = Moto::start().await;
    buckets(&moto).await;
    let standin = CatalogStandIn::start(&moto.url, SECRET, &bucket_configs());
    let server = server_with(&moto, &standin.url, |_| {}).await;
    let alice = token("alice");
    let (first, _) = seed(&moto, &server, &alice).await;
    // A second revision of team/alpha: the first one must still be what the URI names.
    put(&moto, DATA, "raw/alpha-v2.csv", "changed\n").await;
    let second = call_as(
        &server,
        &alice,
        "package_update",
        json!({"registry": format!("s3://{DATA}"), "package_name": "team/alpha",
               "entries": [{"s3_uri": format!("s3://{DATA}/raw/alpha-v2.csv"), "logical_key": "data/alpha.csv"}],
               // Referenced in place: a copy would overwrite the bytes the first revision points to.
               "copy": false}),
    )
    .await;
    let second_url = ok(&second)["catalog_url"]
        .as_str()
        .expect("package_update answers its catalog URL")
        .to_owned();
    let second = ok(&second)["top_hash"].as_str().expect("hash").to_owned();
    assert_ne!(first, second);
    let (status, page) = standin.open(&second_url).await;
    assert_eq!(
        (status, &page["kind"], &page["hash"]),
        (200, &json!("revision"), &json!(second)),
        "{second_url}: {page}"
    );
    // package_diff names both revisions; each URL opens that revision.
    let diff = call_as(
        &server,
        &alice,
        "package_diff",
        json!({"registry": format!("s3://{DATA}"), "package1_name": "team/alpha",
               "package1_hash": first, "package2_hash": second}),
    )
    .await;
    for (field, hash) in [
        ("package1_catalog_url", &first),
        ("package2_catalog_url", &second),
    ] {
        let url = ok(&diff)[field].as_str().expect(field);
        let (status, page) = standin.open(url).await;
        assert_eq!(
            (status, &page["kind"], &page["hash"]),
            (200, &json!("revision"), &json!(hash)),
            "{field} {url}: {page}"
        );
    }

    let uri = call_as(&server, &alice, "catalog_uri", json!({"bucket": DATA, "package_name": "team/alpha", "top_hash": first, "path": "data/alpha.csv"})).await;
    let uri = ok(&uri)["uri"].as_str().expect("uri").to_owned();
    assert!(
        uri.starts_with(&format!(
            "quilt+s3://{DATA}#package=team/alpha@{first}&path=data%2Falpha.csv&catalog=127.0.0.1"
        )),
        "{uri}"
    );
    let opened = quilt_uri(&moto, &uri).await;
    assert_eq!(opened["top_hash"], first.as_str());
    assert_eq!(opened["logical_key"], "data/alpha.csv");
    assert_eq!(opened["verified"], true);
    assert_eq!(opened["text"], "a,b\n1,2\n", "the first revision's bytes");
    // Without a hash: latest.
    let latest = call_as(
        &server,
        &alice,
        "catalog_uri",
        json!({"bucket": DATA, "package_name": "team/alpha", "path": "data/alpha.csv"}),
    )
    .await;
    let opened = quilt_uri(&moto, ok(&latest)["uri"].as_str().expect("uri")).await;
    assert_eq!(opened["top_hash"], second.as_str());
    assert_eq!(opened["text"], "changed\n");

    // catalog_url: the same revision and entry, a folder, an object — each opens on the catalog.
    for (args, kind, check) in [
        (
            json!({"bucket": DATA, "package_name": "team/alpha", "top_hash": first, "path": "data/alpha.csv"}),
            "entry",
            ("hash", json!(first)),
        ),
        (
            json!({"bucket": DATA, "package_name": "team/alpha"}),
            "package",
            ("hash", json!(second)),
        ),
        (
            json!({"bucket": DATA, "path": "raw/"}),
            "prefix",
            ("prefix", json!("raw/")),
        ),
        (
            json!({"bucket": DATA, "path": "reads/omega.fastq"}),
            "object",
            ("key", json!("reads/omega.fastq")),
        ),
    ] {
        let url = call_as(&server, &alice, "catalog_url", args.clone()).await;
        let url = ok(&url)["url"].as_str().expect("url").to_owned();
        let (status, page) = standin.open(&url).await;
        assert_eq!(status, 200, "{args} -> {url}");
        assert_eq!(page["kind"], kind, "{url}: {page}");
        assert_eq!(page[check.0], check.1, "{url}: {page}");
    }
    // A URL of something that does not exist does not open (the check can fail).
    let missing = call_as(
        &server,
        &alice,
        "catalog_url",
        json!({"bucket": DATA, "path": "no/such.csv"}),
    )
    .await;
    assert_eq!(
        standin
            .open(ok(&missing)["url"].as_str().expect("url"))
            .await
            .0,
        404
    );

    // Answers of other tools carry catalog URLs.
    let listing = call_as(
        &server,
        &alice,
        "bucket_objects_list",
        json!({"bucket": DATA, "prefix": "raw/"}),
    )
    .await;
    let first_object = &ok(&listing)["objects"][0];
    let (status, page) = standin
        .open(first_object["catalog_url"].as_str().expect("catalog_url"))
        .await;
    assert_eq!((status, &page["key"]), (200, &first_object["key"]));
    let info = call_as(
        &server,
        &alice,
        "bucket_object_info",
        json!({"s3_uri": format!("s3://{DATA}/raw/beta.csv")}),
    )
    .await;
    assert_eq!(
        standin
            .open(ok(&info)["catalog_url"].as_str().expect("catalog_url"))
            .await
            .0,
        200
    );

    // Every answer that names an object carries the URL of that object.
    for (tool, args) in [
        (
            "bucket_object_text",
            json!({"s3_uri": format!("s3://{DATA}/raw/beta.csv")}),
        ),
        (
            "bucket_object_fetch",
            json!({"s3_uri": format!("s3://{DATA}/raw/beta.csv")}),
        ),
        (
            "bucket_object_link",
            json!({"s3_uri": format!("s3://{DATA}/raw/beta.csv")}),
        ),
        (
            "bucket_object_preview",
            json!({"s3_uri": format!("s3://{DATA}/raw/beta.csv")}),
        ),
    ] {
        let r = call_as(&server, &alice, tool, args).await;
        let url = ok(&r)["catalog_url"]
            .as_str()
            .unwrap_or_else(|| panic!("{tool} has no catalog_url: {r}"));
        let (status, page) = standin.open(url).await;
        assert_eq!(
            (status, &page["kind"], &page["key"]),
            (200, &json!("object"), &json!("raw/beta.csv")),
            "{tool} {url}: {page}"
        );
    }
    let put = call_as(
        &server,
        &alice,
        "bucket_objects_put",
        json!({"bucket": DATA, "items": [{"key": "notes/new note.txt", "text": "hi"}]}),
    )
    .await;
    let url = ok(&put)["results"][0]["catalog_url"]
        .as_str()
        .expect("put result catalog_url");
    let (status, page) = standin.open(url).await;
    assert_eq!(
        (status, &page["key"]),
        (200, &json!("notes/new note.txt")),
        "{url}: {page}"
    );
    let entry = call_as(
        &server,
        &alice,
        "bucket_object_preview",
        json!({"registry": format!("s3://{DATA}"), "package_name": "team/alpha",
               "top_hash": first, "path": "data/alpha.csv"}),
    )
    .await;
    let url = ok(&entry)["catalog_url"]
        .as_str()
        .expect("entry catalog_url");
    let (status, page) = standin.open(url).await;
    assert_eq!(
        (status, &page["kind"], &page["hash"]),
        (200, &json!("entry"), &json!(first)),
        "{url}: {page}"
    );

    let list = call_as(
        &server,
        &alice,
        "package_list",
        json!({"registry": format!("s3://{DATA}")}),
    )
    .await;
    let listed = ok(&list)["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "team/alpha")
        .expect("team/alpha")
        .clone();
    let (status, page) = standin
        .open(listed["catalog_url"].as_str().expect("catalog_url"))
        .await;
    assert_eq!(
        (status, &page["kind"], &page["hash"]),
        (200, &json!("package"), &json!(second)),
        "{page}"
    );
    let browse = call_as(&server, &alice, "package_browse", json!({"registry": format!("s3://{DATA}"), "package_name": "team/alpha", "top_hash": first})).await;
    let (status, page) = standin
        .open(ok(&browse)["catalog_url"].as_str().expect("catalog_url"))
        .await;
    assert_eq!(
        (status, &page["kind"], &page["hash"]),
        (200, &json!("revision"), &json!(first)),
        "{page}"
    );

    // Bad input.
    for (tool, args, needle) in [
        (
            "catalog_uri",
            json!({"bucket": DATA, "package_name": "noslash"}),
            "package",
        ),
        (
            "catalog_uri",
            json!({"bucket": DATA, "package_name": "a/b", "top_hash": "abc"}),
            "top_hash",
        ),
        (
            "catalog_uri",
            json!({"bucket": DATA, "package_name": "a/b", "top_hash": first, "tag": "latest"}),
            "not both",
        ),
        (
            "catalog_url",
            json!({"bucket": "Bad Bucket"}),
            "bucket name",
        ),
        (
            "catalog_url",
            json!({"bucket": DATA, "top_hash": first}),
            "package_name",
        ),
    ] {
        let r = call_as(&server, &alice, tool, args.clone()).await;
        let (code, message) = err(&r);
        assert_eq!(code, "invalid_argument", "{args}");
        assert!(message.contains(needle), "{args}: {message}");
    }
}

async fn quilt_uri(moto: &Moto, uri: &str) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = tokio::process::Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/catalog/quilt_uri.py"))
        .args(["--endpoint", &moto.url, uri])
        .output()
        .await
        .expect("quilt_uri.py");
    assert!(
        out.status.success(),
        "quilt_uri.py {uri}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

const TABLE: &str = "schema:\n  - name: a\n    type: STRING\n  - name: b\n    type: INT\nsource:\n  type: quilt-packages\n  package_name: \"^team/(?<pkg>[^/]+)$\"\n  logical_key: \"data/(?<file>[^/]+)\\\\.csv$\"\nparser:\n  format: csv\n  header: true\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabulator_tables_round_trip_and_queries_go_through_the_guard() {
    let moto = Moto::start().await;
    buckets(&moto).await;
    let standin = CatalogStandIn::start(&moto.url, SECRET, &bucket_configs());
    let server = server_with(&moto, &standin.url, |c| {
        c.athena_output_location = Some("s3://cat-data/athena/".into());
    })
    .await;
    let alice = token("alice");
    let tables = |r: &Value| -> Vec<String> {
        ok(r)["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .map(|t| t["name"].as_str().expect("name").to_owned())
            .collect()
    };

    let set = call_as(
        &server,
        &alice,
        "tabulator_table_set",
        json!({"bucket": DATA, "table_name": "screens", "config": TABLE}),
    )
    .await;
    assert_eq!(tables(&set), ["screens"]);
    let listed = call_as(
        &server,
        &alice,
        "tabulator_tables_list",
        json!({"bucket": DATA}),
    )
    .await;
    let table = &ok(&listed)["tables"][0];
    assert_eq!(table["config"], TABLE);
    assert_eq!(
        table["parsed"]["schema"][1],
        json!({"name": "b", "type": "INT"})
    );
    assert_eq!(table["parsed"]["parser"]["format"], "csv");
    // Replace.
    let replaced = TABLE.replace("type: INT", "type: BIGINT");
    call_as(
        &server,
        &alice,
        "tabulator_table_set",
        json!({"bucket": DATA, "table_name": "screens", "config": replaced}),
    )
    .await;
    let listed = call_as(
        &server,
        &alice,
        "tabulator_tables_list",
        json!({"bucket": DATA}),
    )
    .await;
    assert_eq!(
        ok(&listed)["tables"][0]["parsed"]["schema"][1]["type"],
        "BIGINT"
    );
    // Rename, and a rename onto an existing table: the catalog's InvalidInput arm.
    let renamed = call_as(
        &server,
        &alice,
        "tabulator_table_rename",
        json!({"bucket": DATA, "table_name": "screens", "new_table_name": "screens_v2"}),
    )
    .await;
    assert_eq!(tables(&renamed), ["screens_v2"]);
    call_as(
        &server,
        &alice,
        "tabulator_table_set",
        json!({"bucket": DATA, "table_name": "other", "config": TABLE}),
    )
    .await;
    let clash = call_as(
        &server,
        &alice,
        "tabulator_table_rename",
        json!({"bucket": DATA, "table_name": "other", "new_table_name": "screens_v2"}),
    )
    .await;
    let (code, message) = err(&clash);
    assert_eq!(code, "invalid_argument");
    assert!(message.contains("TableAlreadyExists"), "{message}");
    // Delete (a set with a null config: the stand-in saw config null).
    let deleted = call_as(
        &server,
        &alice,
        "tabulator_table_delete",
        json!({"bucket": DATA, "table_name": "other"}),
    )
    .await;
    assert_eq!(tables(&deleted), ["screens_v2"]);
    let last = standin.graphql().await.last().cloned().expect("a request");
    assert_eq!(
        (last["operation"].as_str(), &last["variables"]["config"]),
        (Some("bucketTabulatorTableSet"), &Value::Null)
    );
    let listed = call_as(
        &server,
        &alice,
        "tabulator_tables_list",
        json!({"bucket": DATA}),
    )
    .await;
    assert_eq!(tables(&listed), ["screens_v2"]);

    // Bad input: nothing sent, nothing changed.
    let before = standin.graphql().await.len();
    for (tool, args, code, needle) in [
        (
            "tabulator_table_set",
            json!({"bucket": DATA, "table_name": "t", "config": "schema: [unclosed"}),
            "invalid_argument",
            "not YAML",
        ),
        (
            "tabulator_table_set",
            json!({"bucket": DATA, "table_name": "t", "config": TABLE.replace("format: csv", "format: xlsx")}),
            "invalid_argument",
            "not a known parser",
        ),
        (
            "tabulator_table_set",
            json!({"bucket": DATA, "table_name": "my table", "config": TABLE}),
            "invalid_argument",
            "no spaces",
        ),
        (
            "tabulator_table_rename",
            json!({"bucket": DATA, "table_name": "screens_v2", "new_table_name": "new name"}),
            "invalid_argument",
            "no spaces",
        ),
        (
            "tabulator_tables_list",
            json!({"bucket": "no such bucket"}),
            "invalid_argument",
            "bucket name",
        ),
    ] {
        let r = call_as(&server, &alice, tool, args.clone()).await;
        let (c, m) = err(&r);
        assert_eq!(c, code, "{tool} {args}: {m}");
        assert!(m.contains(needle), "{tool} {args}: {m}");
    }
    assert_eq!(
        standin.graphql().await.len(),
        before,
        "a refused call reached the catalog"
    );
    // A bucket the grants allow but the catalog does not know.
    moto.s3()
        .create_bucket()
        .bucket("cat-unknown")
        .send()
        .await
        .expect("bucket");
    let unknown = call_as(
        &server,
        &alice,
        "tabulator_tables_list",
        json!({"bucket": "cat-unknown"}),
    )
    .await;
    assert_eq!(err(&unknown).0, "not_found");
    // Writes need quilt:write.
    let reader = hs256(
        &claims("carol", json!({"scope": "quilt:read athena:query"})),
        SECRET,
    );
    let r = call_as(
        &server,
        &reader,
        "tabulator_table_delete",
        json!({"bucket": DATA, "table_name": "screens_v2"}),
    )
    .await;
    assert_eq!(err(&r).0, "not_permitted");
    let listed = call_as(
        &server,
        &alice,
        "tabulator_tables_list",
        json!({"bucket": DATA}),
    )
    .await;
    assert_eq!(tables(&listed), ["screens_v2"], "nothing changed");

    // A Tabulator query: through athena_query_execute's guard (a write is refused and starts
    // nothing), then a read against the data catalog the catalog's config.json names.
    let athena = athena_client(&moto);
    let refused = call_as(
        &server,
        &alice,
        "tabulator_query_execute",
        json!({"bucket": DATA, "query": "DROP TABLE screens_v2"}),
    )
    .await;
    let (code, message) = err(&refused);
    assert_eq!(code, "invalid_argument");
    assert!(message.contains("refused"), "{message}");
    assert_eq!(
        athena
            .list_query_executions()
            .send()
            .await
            .expect("list")
            .query_execution_ids()
            .len(),
        0
    );
    queue_result(&moto).await;
    let result = call_as(
        &server,
        &alice,
        "tabulator_query_execute",
        json!({"bucket": DATA, "query": "SELECT a, b FROM screens_v2"}),
    )
    .await;
    let result = ok(&result);
    assert_eq!(result["state"], "SUCCEEDED", "{result}");
    assert_eq!(result["rows"], json!([["x", "1"]]));
    let id = result["execution_id"].as_str().expect("id");
    let execution = athena
        .get_query_execution()
        .query_execution_id(id)
        .send()
        .await
        .expect("get");
    let context = execution
        .query_execution()
        .and_then(|e| e.query_execution_context())
        .expect("context");
    assert_eq!(
        (context.catalog(), context.database()),
        (Some(TABULATOR_CATALOG), Some(DATA))
    );
    // The same query as an MCP task, for a client that declares the extension (tasks.rs):
    // a task while Athena runs it, then completed with the rows.
    queue_result(&moto).await;
    crate::athena::slow_executions(&moto, 6).await;
    let created = crate::tasks::task_rpc(
        &server,
        &alice,
        "tools/call",
        json!({"name": "tabulator_query_execute",
               "arguments": {"bucket": DATA, "query": "SELECT a, b FROM screens_v2"}}),
        true,
    )
    .await;
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    let task_id = created["result"]["taskId"].as_str().expect("taskId");
    let (done, _) = crate::tasks::until_terminal(&server, &alice, task_id).await;
    assert_eq!(done["result"]["status"], "completed", "{done}");
    assert_eq!(
        done["result"]["result"]["structuredContent"]["rows"],
        json!([["x", "1"]]),
        "{done}"
    );
    let outside = call_as(
        &server,
        &hs256(&claims("bob", json!({"buckets": [OTHER]})), SECRET),
        "tabulator_query_execute",
        json!({"bucket": DATA, "query": "SELECT 1"}),
    )
    .await;
    assert_eq!(err(&outside).0, "not_permitted");
}

fn athena_client(moto: &Moto) -> aws_sdk_athena::Client {
    let c = aws_sdk_athena::Config::builder()
        .behavior_version(aws_sdk_athena::config::BehaviorVersion::latest())
        .region(aws_sdk_athena::config::Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .credentials_provider(aws_sdk_athena::config::Credentials::new(
            "AKIAADMINADMINADMIN0",
            "admin-secret",
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_athena::Client::from_conf(c)
}

async fn queue_result(moto: &Moto) {
    let body = json!({"account_id": ACCOUNT, "region": "us-east-1", "results": [{
        "rows": [{"Data": [{"VarCharValue": "a"}, {"VarCharValue": "b"}]}, {"Data": [{"VarCharValue": "x"}, {"VarCharValue": "1"}]}],
        "column_info": [{"Name": "a", "Type": "varchar"}, {"Name": "b", "Type": "integer"}]}]});
    let r = reqwest::Client::new()
        .post(format!("{}/moto-api/static/athena/query-results", moto.url))
        .json(&body)
        .send()
        .await
        .expect("queue");
    assert!(r.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_token_never_reaches_the_catalog_and_lists_no_catalog_tools() {
    let moto = Moto::start().await;
    buckets(&moto).await;
    let standin = CatalogStandIn::start(&moto.url, SECRET, &bucket_configs());
    let jwks = crate::jwt::Jwks::start(vec![crate::jwt::jwk(
        crate::jwt::RSA1,
        jsonwebtoken::Algorithm::RS256,
        "rsa-1",
    )])
    .await;
    let jwks_url = jwks.url.clone();
    let server = server_with(&moto, &standin.url, move |c| {
        c.jwt_jwks_url = Some(jwks_url);
    })
    .await;
    let rs = crate::jwt::sign(
        crate::jwt::RSA1,
        jsonwebtoken::Algorithm::RS256,
        Some("rsa-1"),
        &claims("idp-user", json!({})),
    );
    let hs = token("alice");

    let listed = |t: String| {
        let url = server.mcp();
        async move {
            let r = rpc(&url, Some(&t), LEGACY, "tools/list", json!({})).await;
            r.result()["tools"]
                .as_array()
                .expect("tools")
                .iter()
                .map(|t| t["name"].as_str().expect("name").to_owned())
                .collect::<BTreeSet<_>>()
        }
    };
    let for_jwks = listed(rs.clone()).await;
    let for_catalog = listed(hs.clone()).await;
    for tool in [
        "search_catalog",
        "tabulator_tables_list",
        "tabulator_table_set",
        "tabulator_table_rename",
        "tabulator_table_delete",
    ] {
        assert!(!for_jwks.contains(tool), "{tool} listed for a JWKS token");
        assert!(
            for_catalog.contains(tool),
            "{tool} not listed for a catalog token"
        );
    }
    // Pure tools and Athena stay (they send nothing to the catalog).
    assert!(for_jwks.contains("catalog_url") && for_jwks.contains("tabulator_query_execute"));

    // Called anyway: refused before anything is sent; bucket_list works without the catalog.
    let r = call_as(&server, &rs, "search_catalog", json!({"query": "x"})).await;
    assert_eq!(err(&r).0, "not_permitted");
    let r = call_as(
        &server,
        &rs,
        "tabulator_table_delete",
        json!({"bucket": DATA, "table_name": "t"}),
    )
    .await;
    assert_eq!(err(&r).0, "not_permitted");
    let r = call_as(&server, &rs, "bucket_list", json!({})).await;
    assert!(
        ok(&r)["buckets"]
            .as_array()
            .expect("b")
            .iter()
            .all(|b| b.get("catalog").is_none()),
        "{r}"
    );
    let records = standin.records().await;
    assert!(
        records.iter().all(|r| r["token"] != rs.as_str()),
        "the JWKS token reached the catalog: {records:?}"
    );
    assert!(
        standin.graphql().await.is_empty(),
        "nothing was meant to reach /graphql yet"
    );

    // The catalog token does reach it (the record can show a token at all).
    let r = call_as(&server, &hs, "search_catalog", json!({"query": "x"})).await;
    ok(&r);
    let graphql = standin.graphql().await;
    assert_eq!(graphql.len(), 1);
    assert_eq!(graphql[0]["token"], hs.as_str());
    assert!(
        standin
            .records()
            .await
            .iter()
            .all(|r| r["token"] != rs.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_outages_and_refusals_are_specific_errors() {
    let moto = Moto::start().await;
    buckets(&moto).await;
    let standin = CatalogStandIn::start(&moto.url, SECRET, &bucket_configs());
    let server = server_with(&moto, &standin.url, |c| c.catalog_timeout_s = 2).await;
    let alice = token("alice");
    let search = |t: String| {
        let url = server.mcp();
        async move {
            let r = call_tool(&url, Some(&t), "search_catalog", json!({"query": "x"})).await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.result().clone()
        }
    };
    // Healthy first (the config.json fetch is cached from here on).
    ok(&search(alice.clone()).await);

    // A token the catalog refuses: expired by its clock (inside this server's leeway), and one
    // signed with a secret the catalog does not share (this server's previous secret).
    let expired = hs256(&claims("alice", json!({"exp": now() - 5})), SECRET);
    let (code, message) = err(&search(expired).await);
    assert_eq!(code, "access_denied", "{message}");
    let previous = hs256(&claims("alice", json!({})), PREVIOUS_SECRET);
    assert_eq!(err(&search(previous).await).0, "access_denied");

    // A GraphQL error, an HTML page, a slow catalog: upstream_unavailable, in bounded time.
    standin.control(json!({"graphql_error": true})).await;
    let (code, message) = err(&search(alice.clone()).await);
    assert_eq!(code, "upstream_unavailable");
    assert!(message.contains("Internal server error"), "{message}");
    standin
        .control(json!({"graphql_error": false, "html": true}))
        .await;
    let (code, message) = err(&search(alice.clone()).await);
    assert_eq!(code, "upstream_unavailable");
    assert!(message.contains("HTML"), "{message}");
    standin.control(json!({"html": false, "delay_s": 5})).await;
    let started = Instant::now();
    let (code, message) = err(&search(alice.clone()).await);
    assert_eq!(code, "upstream_unavailable");
    assert!(message.contains("no answer within"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    standin.control(json!({"delay_s": 0})).await;
    ok(&search(alice.clone()).await);

    // An unreachable catalog.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let down = server_with(&moto, &closed, |_| {}).await;
    let r = call_as(&down, &alice, "search_catalog", json!({"query": "x"})).await;
    let (code, message) = err(&r);
    assert_eq!(code, "upstream_unavailable");
    assert!(message.contains("cannot connect"), "{message}");
}

/// The `tools/list` cost of the catalog tools for a caller with a catalog token: each new
/// tool's JSON bytes, and the whole list with and without a catalog (figures printed for
/// docs/PERFORMANCE.md with `--no-capture`; the bound only catches a runaway description).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_bytes_of_the_catalog_tools() {
    let without = TestServer::start(|_| {}).await;
    let with = TestServer::start(|c| c.catalog_url = Some("http://127.0.0.1:9".into())).await;
    let alice = token("alice");
    let tools = |server: &TestServer| {
        let (url, t) = (server.mcp(), alice.clone());
        async move {
            let r = rpc(&url, Some(&t), LEGACY, "tools/list", json!({})).await;
            r.result()["tools"].as_array().expect("tools").clone()
        }
    };
    let (before, after) = (tools(&without).await, tools(&with).await);
    let bytes = |v: &[Value]| serde_json::to_vec(v).expect("json").len();
    let new: Vec<&Value> = after
        .iter()
        .filter(|t| !before.iter().any(|b| b["name"] == t["name"]))
        .collect();
    let mut total_new = 0;
    for tool in &new {
        let n = serde_json::to_vec(tool).expect("json").len();
        total_new += n;
        println!(
            "{:<26} {n:>6} bytes",
            tool["name"].as_str().unwrap_or_default()
        );
    }
    println!(
        "new tools: {} ({total_new} bytes); tools/list {} -> {} bytes",
        new.len(),
        bytes(&before),
        bytes(&after)
    );
    assert_eq!(new.len(), 8, "{new:?}");
    assert!(total_new < 16 * 1024, "{total_new}");
}
