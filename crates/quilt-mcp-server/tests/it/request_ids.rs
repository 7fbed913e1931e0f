//! The audit line's `aws_request_ids` name every AWS call a tool made with the caller's
//! clients — failed ones too — because an interceptor on each client `ClientFactory` builds
//! notes them into the call scope (`quilt-mcp-aws/src/request_ids.rs`), not the call sites.
//! The ids are compared with what AWS (moto, behind the recording fault proxy) actually
//! answered to requests signed with the caller's key during that call.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::fault_proxy::FaultProxy;
use crate::moto::*;
use crate::support::*;

const BUCKET: &str = "request-ids";
const CALLER_KEY: &str = "AKIAREQUESTIDS000001";

/// The request ids upstream answered to the caller's requests among `seen[from..]`.
fn caller_ids(proxy: &FaultProxy, from: usize) -> BTreeSet<String> {
    proxy.seen()[from..]
        .iter()
        .filter(|s| s.access_key.as_deref() == Some(CALLER_KEY))
        .filter_map(|s| s.request_id.clone())
        .collect()
}

/// The `aws_request_ids` of the last audit line (the call just made).
fn audited_ids(log: &AuditLog) -> BTreeSet<String> {
    let lines = log.lines();
    let line: &Value = lines.last().expect("an audit line");
    line["aws_request_ids"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_aws_call_of_a_tool_failed_ones_too_has_its_request_id_in_the_audit_line() {
    let (log, _capture) = AuditLog::capture();
    let moto = Moto::start().await;
    let s3 = moto.s3();
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    s3.put_object()
        .bucket(BUCKET)
        .key("there.txt")
        .body(b"hello".to_vec().into())
        .send()
        .await
        .expect("put");
    let proxy = FaultProxy::start(&moto.url).await;
    let url = proxy.url.clone();
    let server = TestServer::start(move |c| {
        c.aws_endpoint_url = Some(url);
        c.credential_sources = vec!["jwt".into()];
    })
    .await;
    let token = hs256(
        &claims(
            "ids",
            json!({"aws_credentials": {"access_key_id": CALLER_KEY, "secret_access_key": "ids-secret"}}),
        ),
        SECRET,
    );
    for (what, key, error) in [
        ("an object that is there", "there.txt", None),
        (
            "a missing object (HeadObject 404)",
            "missing.txt",
            Some("not_found"),
        ),
    ] {
        let from = proxy.seen().len();
        let r = call_tool(
            &server.mcp(),
            Some(&token),
            "bucket_object_info",
            json!({"s3_uri": format!("s3://{BUCKET}/{key}")}),
        )
        .await;
        let result = r.result();
        assert_eq!(
            result["structuredContent"]["error"]["code"].as_str(),
            error,
            "{what}: {result}"
        );
        let answered = caller_ids(&proxy, from);
        assert!(!answered.is_empty(), "{what}: AWS answered no request id");
        assert_eq!(audited_ids(&log), answered, "{what}");
    }
}
