//! Prompts and their argument completion through the official Python MCP client
//! (`tests/python/mcp_resources.py`), on both protocol eras: `prompts/list` by scope,
//! `prompts/get` of each prompt with its arguments in the text, each bad argument as invalid
//! params, and completion of a prompt's bucket, package and Athena workgroup — the workgroups
//! from one `ListWorkGroups` with the caller's credentials, only those the server allows,
//! nothing (and no request) for a caller without the Athena scope.

use std::sync::Arc;

use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::athena::athena_api;
use crate::fault_proxy::FaultProxy;
use crate::moto::*;
use crate::resources::{client, values};
use crate::support::*;

fn prompt_text(r: &Value) -> String {
    r["messages"][0]["content"]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no prompt text: {r}"))
        .to_owned()
}

fn invalid(r: &Value, code: &str, what: &str) {
    assert_eq!(r["error"]["code"], -32602, "{what}: {r}");
    assert_eq!(r["error"]["data"]["code"], code, "{what}: {r}");
}

#[tokio::test]
async fn prompts_and_workgroup_completion_through_the_python_client() {
    let moto = Moto::start().await;
    let s3 = moto.s3();
    s3.create_bucket()
        .bucket("pr-data")
        .send()
        .await
        .expect("bucket");
    s3.put_object()
        .bucket("pr-data")
        .key("raw/a.csv")
        .body(b"a,b\n1,2\n".to_vec().into())
        .send()
        .await
        .expect("put");
    // Athena has `primary`; `archive` is allowed but does not exist; `other` exists but is
    // not allowed.
    for wg in ["analytics", "analysts-adhoc", "other"] {
        athena_api(&moto.url, "CreateWorkGroup", json!({"Name": wg})).await;
    }
    let proxy = FaultProxy::start(&moto.url).await;
    let read_role = moto.role("PrRead", "*", allow_all()).await;
    let write_role = moto.role("PrWrite", "*", allow_all()).await;
    let url = proxy.url.clone();
    let server = TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read_role);
            c.write_role_arn = Some(write_role);
            c.buckets = vec!["pr-data".into()];
            c.athena_outside_bucket_grants = true;
            c.athena_allowed_workgroups = ["primary", "analytics", "analysts-adhoc", "archive"]
                .map(String::from)
                .to_vec();
        },
        Some(moto.identity("AKIASERVERSERVER0002", "server-secret")),
        Arc::new(SystemClock),
    )
    .await;
    let created = call_tool(
        &server.mcp(),
        Some(&token("pia")),
        "package_create",
        json!({"registry": "s3://pr-data", "package_name": "team/tables", "copy": false,
               "entries": [{"s3_uri": "s3://pr-data/raw/a.csv", "logical_key": "a.csv"}]}),
    )
    .await;
    assert_eq!(created.result()["isError"], false, "{}", created.body);

    for mode in ["legacy", "auto"] {
        let ops = json!([
            {"op": "prompts"},
            {"op": "prompt", "name": "package_summary", "arguments": {"bucket": "pr-data", "package": "team/tables"}},
            {"op": "prompt", "name": "package_summary", "arguments": {"bucket": "pr-data"}},
            {"op": "prompt", "name": "package_summary", "arguments": {"bucket": "Bad_Bucket!", "package": "team/tables"}},
            {"op": "prompt", "name": "package_summary", "arguments": {"bucket": "pr-data", "package": "noslash"}},
            {"op": "prompt", "name": "athena_explore", "arguments": {"workgroup": "analytics", "database": "sales"}},
            {"op": "prompt", "name": "athena_explore", "arguments": {"workgroup": "other"}},
            {"op": "prompt", "name": "no_such_prompt", "arguments": {}},
            {"op": "complete", "prompt": "athena_explore", "name": "workgroup", "value": ""},
            {"op": "complete", "prompt": "athena_explore", "name": "workgroup", "value": "ana"},
            {"op": "complete", "prompt": "package_summary", "name": "bucket", "value": "pr"},
            {"op": "complete", "prompt": "package_summary", "name": "package", "value": "", "context": {"bucket": "pr-data"}},
            {"op": "complete", "prompt": "package_summary", "name": "package", "value": "team/", "context": {"bucket": "pr-data"}},
            {"op": "prompt", "name": "athena_explore", "arguments": {}},
        ]);
        let before = proxy.seen().len();
        let out = client(&server.mcp(), &token("pia"), mode, &ops).await;
        let r = out["results"].as_array().expect("results");
        assert!(out["capabilities"]["prompts"].is_object(), "{out}");

        let listed: Vec<(&str, &str)> = r[0]["prompts"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r[0]))
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().expect("name"),
                    p["title"].as_str().expect("title"),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("package_summary", "Summarize a package"),
                ("athena_explore", "Explore data with Athena")
            ],
            "{mode}"
        );
        assert_eq!(r[0]["prompts"][0]["arguments"][1]["required"], true);

        let summary = prompt_text(&r[1]);
        assert_eq!(r[1]["messages"][0]["role"], "user");
        for needle in [
            "team/tables",
            "s3://pr-data",
            "package_browse",
            "bucket_object_preview",
        ] {
            assert!(summary.contains(needle), "{needle} missing: {summary}");
        }
        invalid(&r[2], "invalid_argument", "missing package");
        assert!(
            r[2]["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("package")),
            "{}",
            r[2]
        );
        invalid(&r[3], "invalid_argument", "bad bucket");
        invalid(&r[4], "invalid_argument", "bad package name");
        let explore = prompt_text(&r[5]);
        for needle in [
            "workgroup analytics",
            "database sales",
            "athena_query_execute",
        ] {
            assert!(explore.contains(needle), "{needle} missing: {explore}");
        }
        invalid(&r[6], "invalid_argument", "workgroup not allowed");
        invalid(&r[7], "not_found", "unknown prompt");
        // Only allowed workgroups that Athena has: not `other`, not `archive`.
        assert_eq!(
            values(&r[8]),
            ["analysts-adhoc", "analytics", "primary"],
            "{mode}: {}",
            r[8]
        );
        assert_eq!(values(&r[9]), ["analysts-adhoc", "analytics"]);
        assert_eq!(values(&r[10]), ["pr-data"]);
        assert_eq!(values(&r[11]), ["team/"]);
        assert_eq!(values(&r[12]), ["team/tables"]);
        assert!(prompt_text(&r[13]).contains("athena_databases_list"));
        // The two workgroup completions cost one ListWorkGroups each, signed by the caller's
        // (read role's) credentials, not the server's.
        let lists: Vec<_> = proxy.seen()[before..]
            .iter()
            .filter(|s| s.action.as_deref() == Some("AmazonAthena.ListWorkGroups"))
            .cloned()
            .collect();
        assert_eq!(lists.len(), 2, "{mode}: {lists:?}");
        assert!(
            lists
                .iter()
                .all(|s| s.access_key.as_deref() != Some("AKIASERVERSERVER0002")),
            "{lists:?}"
        );
    }

    // Without the Athena scope: athena_explore is not listed, not served, and its workgroup
    // completes to nothing without a request.
    let read_only = hs256(&claims("pia", json!({"scope": "quilt:read"})), SECRET);
    let before = proxy.seen().len();
    let out = client(
        &server.mcp(),
        &read_only,
        "auto",
        &json!([
            {"op": "prompts"},
            {"op": "prompt", "name": "athena_explore", "arguments": {}},
            {"op": "complete", "prompt": "athena_explore", "name": "workgroup", "value": ""},
        ]),
    )
    .await;
    let r = &out["results"];
    assert_eq!(r[0]["prompts"].as_array().map(Vec::len), Some(1), "{out}");
    assert_eq!(r[0]["prompts"][0]["name"], "package_summary");
    invalid(&r[1], "not_permitted", "no athena scope");
    assert_eq!(values(&r[2]), Vec::<String>::new());
    assert_eq!(proxy.seen().len(), before, "{:?}", &proxy.seen()[before..]);
}
