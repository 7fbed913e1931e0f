//! Glue catalog browsing through the server, against moto: databases and tables with
//! pagination, a table's schema, and bad input (unknown database or table, page sizes).

use std::sync::Arc;

use aws_sdk_glue::types::{Column, DatabaseInput, SerDeInfo, StorageDescriptor, TableInput};
use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

async fn seed(moto: &Moto) {
    let glue = moto.glue();
    for db in ["genomics", "imaging", "sales"] {
        glue.create_database()
            .database_input(
                DatabaseInput::builder()
                    .name(db)
                    .description(format!("{db} data"))
                    .build()
                    .expect("db"),
            )
            .send()
            .await
            .expect("create db");
    }
    for i in 0..7 {
        let sd = StorageDescriptor::builder()
            .columns(
                Column::builder()
                    .name("cell_id")
                    .r#type("int")
                    .build()
                    .expect("col"),
            )
            .columns(
                Column::builder()
                    .name("gene")
                    .r#type("string")
                    .comment("HGNC symbol")
                    .build()
                    .expect("col"),
            )
            .location(format!("s3://data-bucket/cells_{i}/"))
            .input_format("org.apache.hadoop.mapred.TextInputFormat")
            .output_format("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
            .serde_info(
                SerDeInfo::builder()
                    .serialization_library("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe")
                    .build(),
            )
            .build();
        let table = TableInput::builder()
            .name(format!("cells_{i}"))
            .table_type("EXTERNAL_TABLE")
            .storage_descriptor(sd)
            .partition_keys(
                Column::builder()
                    .name("dt")
                    .r#type("string")
                    .build()
                    .expect("col"),
            )
            .build()
            .expect("table");
        glue.create_table()
            .database_name("genomics")
            .table_input(table)
            .send()
            .await
            .expect("create table");
    }
}

async fn glue_server(moto: &Moto) -> TestServer {
    let role = moto.role("GlueReader", "*", allow_all()).await;
    let url = moto.url.clone();
    TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(role);
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await
}

async fn call(server: &TestServer, tool: &str, args: Value) -> Value {
    call_as(server, &token("ana"), tool, args).await
}

#[tokio::test]
async fn databases_and_tables_page_and_schemas_are_compact() {
    let moto = Moto::start().await;
    seed(&moto).await;
    let server = glue_server(&moto).await;

    let dbs = call(&server, "athena_databases_list", json!({})).await;
    let names: Vec<&str> = dbs["structuredContent"]["databases"]
        .as_array()
        .expect("dbs")
        .iter()
        .map(|d| d["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["genomics", "imaging", "sales"]);
    assert_eq!(dbs["_meta"]["quilt-mcp/credential_source"], "stack_roles");

    let mut tables = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"database": "genomics", "max_results": 3});
        if let Some(t) = &next {
            args["next_token"] = json!(t);
        }
        let page = call(&server, "athena_tables_list", args).await;
        let page = &page["structuredContent"];
        pages += 1;
        let got = page["tables"].as_array().expect("tables");
        assert!(got.len() <= 3, "a page holds at most max_results: {page}");
        for t in got {
            tables.push(t["name"].as_str().expect("name").to_owned());
            assert_eq!(
                (t["columns"].as_u64(), t["partition_keys"].clone()),
                (Some(2), json!(["dt"])),
                "{t}"
            );
        }
        next = page["next_token"].as_str().map(str::to_owned);
        if next.is_none() {
            break;
        }
        assert!(pages < 10, "pagination does not end");
    }
    // moto 5.2.5 ignores MaxResults (every table at once, no NextToken): the server's own
    // token continues inside that answer, as it would inside a Glue page cut short.
    assert_eq!(pages, 3, "7 tables in pages of 3");
    let mut unique = tables.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7, "every table exactly once: {tables:?}");

    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..3 {
        let mut args = json!({"max_results": 1});
        if let Some(t) = &next {
            args["next_token"] = json!(t);
        }
        let page = call(&server, "athena_databases_list", args).await;
        let page = &page["structuredContent"];
        seen.extend(
            page["databases"]
                .as_array()
                .expect("dbs")
                .iter()
                .map(|d| d["name"].clone()),
        );
        next = page["next_token"].as_str().map(str::to_owned);
    }
    assert_eq!(
        seen,
        json!(["genomics", "imaging", "sales"])
            .as_array()
            .expect("names")
            .clone()
    );
    assert!(next.is_none(), "the third page of one is the last");
    let bad = call(
        &server,
        "athena_tables_list",
        json!({"database": "genomics", "next_token": "%%"}),
    )
    .await;
    assert_eq!(
        bad["structuredContent"]["error"]["code"], "invalid_argument",
        "{bad}"
    );

    let schema = call(
        &server,
        "athena_table_schema",
        json!({"database": "genomics", "table": "cells_3"}),
    )
    .await;
    let s = &schema["structuredContent"];
    assert_eq!(
        s["columns"],
        json!([{"name": "cell_id", "type": "int"}, {"name": "gene", "type": "string", "comment": "HGNC symbol"}])
    );
    assert_eq!(
        s["partition_keys"],
        json!([{"name": "dt", "type": "string"}])
    );
    assert_eq!(s["location"], "s3://data-bucket/cells_3/");
    assert_eq!(
        s["serde"],
        "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    );
}

#[tokio::test]
async fn unknown_databases_and_tables_are_not_found_and_page_sizes_are_checked() {
    let moto = Moto::start().await;
    seed(&moto).await;
    let server = glue_server(&moto).await;
    for (tool, args) in [
        ("athena_tables_list", json!({"database": "no_such_db"})),
        (
            "athena_table_schema",
            json!({"database": "genomics", "table": "no_such_table"}),
        ),
        (
            "athena_table_schema",
            json!({"database": "no_such_db", "table": "t"}),
        ),
    ] {
        let r = call(&server, tool, args.clone()).await;
        assert_eq!(r["isError"], true, "{tool} {args}: {r}");
        assert_eq!(
            r["structuredContent"]["error"]["code"], "not_found",
            "{tool} {args}: {r}"
        );
    }
    for bad in [0, 101] {
        let r = call(
            &server,
            "athena_databases_list",
            json!({"max_results": bad}),
        )
        .await;
        assert_eq!(r["structuredContent"]["error"]["code"], "invalid_argument");
    }
    let r = call(
        &server,
        "athena_table_schema",
        json!({"database": "", "table": "t"}),
    )
    .await;
    assert_eq!(r["structuredContent"]["error"]["code"], "invalid_argument");
}
