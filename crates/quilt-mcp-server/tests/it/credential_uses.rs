//! Every role a call used, with what for (issue 21): a package written through two stack roles
//! — sources read with the read role, the manifest written with the write role, each role
//! allowed only its own part by moto's IAM enforcement — names both roles with their use in
//! the result's `_meta` (`quilt-mcp/credentials`) and in its audit line (`credentials`); a
//! read-only call names the read role, for reading, alone.

use std::collections::BTreeSet;
use std::sync::Arc;

use quilt_mcp_aws::cache::SystemClock;
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

const SRC: &str = "two-roles-src";
const REG: &str = "two-roles-reg";

/// `_meta["quilt-mcp/credentials"]` as a set of (source, role, uses).
fn meta_credentials(result: &Value) -> BTreeSet<(String, String, Vec<String>)> {
    result["_meta"]["quilt-mcp/credentials"]
        .as_array()
        .unwrap_or_else(|| panic!("no quilt-mcp/credentials in {result}"))
        .iter()
        .map(|c| {
            (
                c["source"].as_str().expect("source").to_owned(),
                c["role_arn"].as_str().unwrap_or_default().to_owned(),
                c["used_for"]
                    .as_array()
                    .expect("used_for")
                    .iter()
                    .map(|u| u.as_str().expect("use").to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// The `credentials` field of the one audit line of `tool`, split into its entries.
fn audit_credentials(log: &AuditLog, tool: &str) -> BTreeSet<String> {
    let lines: Vec<Value> = log
        .lines()
        .into_iter()
        .filter(|l| l["tool"] == tool)
        .collect();
    assert_eq!(lines.len(), 1, "one audit line for {tool}: {lines:?}");
    lines[0]["credentials"]
        .as_str()
        .unwrap_or_else(|| panic!("no credentials field: {}", lines[0]))
        .split(' ')
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_write_through_two_roles_names_both_with_their_use_and_a_read_names_one() {
    let (log, _capture) = AuditLog::capture();
    let mut moto = Moto::start().await;
    moto.create_admin().await;
    let s3 = moto.s3();
    for b in [SRC, REG] {
        s3.create_bucket().bucket(b).send().await.expect("bucket");
    }
    s3.put_object()
        .bucket(SRC)
        .key("data/a.csv")
        .body(b"a,b\n1,2\n".to_vec().into())
        .send()
        .await
        .expect("put");
    let (akid, secret) = moto
        .user("two-roles-server", allow(&["sts:*"], &["*"]))
        .await;
    // The read role reads anything and writes nothing; the write role may use only the
    // registry: a source read with it, or a write with the read role, would be denied.
    let read_role = moto
        .role(
            "TwoRolesRead",
            "*",
            allow(&["s3:Get*", "s3:List*", "s3:Head*"], &["*"]),
        )
        .await;
    let write_role = moto
        .role(
            "TwoRolesWrite",
            "*",
            allow(
                &["s3:*"],
                &[
                    &format!("arn:aws:s3:::{REG}"),
                    &format!("arn:aws:s3:::{REG}/*"),
                ],
            ),
        )
        .await;
    moto.enforce_iam().await;
    let url = moto.url.clone();
    let (read_cfg, write_cfg) = (read_role.clone(), write_role.clone());
    let server = TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read_cfg);
            c.write_role_arn = Some(write_cfg);
        },
        Some(moto.identity(&akid, &secret)),
        Arc::new(SystemClock),
    )
    .await;
    let token = token("two-roles");

    // Each role really is limited to its part (so the call below cannot pass any other way).
    let denied = call_tool(
        &server.mcp(),
        Some(&token),
        "bucket_objects_put",
        json!({"bucket": SRC, "items": [{"key": "nope.txt", "text": "x"}]}),
    )
    .await;
    let denied = denied.result();
    assert_eq!(
        denied["structuredContent"]["error"]["code"], "access_denied",
        "{denied}"
    );
    assert_eq!(
        meta_credentials(denied),
        BTreeSet::from([(
            "stack_roles".to_owned(),
            write_role.clone(),
            vec!["write".to_owned()]
        )])
    );

    let created = call_tool(
        &server.mcp(),
        Some(&token),
        "package_create",
        json!({"registry": format!("s3://{REG}"), "package_name": "two/roles",
               "s3_uris": [format!("s3://{SRC}/data/a.csv")], "copy": false}),
    )
    .await;
    let created = created.result();
    assert_eq!(created["isError"], false, "{created}");
    let read = (
        "stack_roles".to_owned(),
        read_role.clone(),
        vec!["read".to_owned()],
    );
    let write = (
        "stack_roles".to_owned(),
        write_role.clone(),
        vec!["write".to_owned()],
    );
    assert_eq!(
        meta_credentials(created),
        BTreeSet::from([read.clone(), write.clone()]),
        "{created}"
    );
    assert_eq!(
        audit_credentials(&log, "package_create"),
        BTreeSet::from([
            format!("read:stack_roles:{read_role}"),
            format!("write:stack_roles:{write_role}"),
        ])
    );
    // The write landed in the registry (seen with the admin's own client).
    let pointers = s3
        .list_objects_v2()
        .bucket(REG)
        .prefix(".quilt/named_packages/two/roles/")
        .send()
        .await
        .expect("list");
    assert!(
        pointers
            .contents()
            .iter()
            .any(|o| o.key() == Some(".quilt/named_packages/two/roles/latest")),
        "{pointers:?}"
    );

    // A read-only call: the read role, for reading, and nothing else.
    let browsed = call_tool(
        &server.mcp(),
        Some(&token),
        "package_browse",
        json!({"registry": format!("s3://{REG}"), "package_name": "two/roles"}),
    )
    .await;
    let browsed = browsed.result();
    assert_eq!(browsed["isError"], false, "{browsed}");
    assert_eq!(meta_credentials(browsed), BTreeSet::from([read]));
    assert_eq!(
        audit_credentials(&log, "package_browse"),
        BTreeSet::from([format!("read:stack_roles:{read_role}")])
    );
}

#[tokio::test]
async fn one_source_for_reading_and_writing_is_listed_once_with_both_uses() {
    let (log, _capture) = AuditLog::capture();
    let moto = Moto::start().await;
    let s3 = moto.s3();
    for b in [SRC, REG] {
        s3.create_bucket().bucket(b).send().await.expect("bucket");
    }
    s3.put_object()
        .bucket(SRC)
        .key("data/a.csv")
        .body(b"a,b\n1,2\n".to_vec().into())
        .send()
        .await
        .expect("put");
    // Only a read role: writes fall back to it (DESIGN), so one role serves both uses.
    let read_role = moto.role("OnlyRole", "*", allow_all()).await;
    let url = moto.url.clone();
    let read_cfg = read_role.clone();
    let server = TestServer::start_with_aws(
        move |c| {
            c.aws_endpoint_url = Some(url);
            c.credential_sources = vec!["stack_roles".into()];
            c.read_role_arn = Some(read_cfg);
        },
        Some(moto.identity("AKIASERVERSERVER0001", "server-secret")),
        Arc::new(SystemClock),
    )
    .await;
    let created = call_tool(
        &server.mcp(),
        Some(&token("one-role")),
        "package_create",
        json!({"registry": format!("s3://{REG}"), "package_name": "one/role",
               "s3_uris": [format!("s3://{SRC}/data/a.csv")], "copy": false}),
    )
    .await;
    let created = created.result();
    assert_eq!(created["isError"], false, "{created}");
    assert_eq!(
        meta_credentials(created),
        BTreeSet::from([(
            "stack_roles".to_owned(),
            read_role.clone(),
            vec!["read".to_owned(), "write".to_owned()]
        )])
    );
    assert_eq!(
        audit_credentials(&log, "package_create"),
        BTreeSet::from([format!("read+write:stack_roles:{read_role}")])
    );
}
