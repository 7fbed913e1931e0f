//! Identity isolation under concurrency: many simultaneous calls with distinct subjects, each
//! answer carries exactly its own caller — including across an await inside the tool.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn each_concurrent_caller_sees_only_its_own_subject() {
    let server = TestServer::start(|c| c.max_in_flight = 1024).await;
    let calls: Vec<_> = (0..256)
        .map(|i| {
            let url = server.mcp();
            tokio::spawn(async move {
                let subject = format!("user-{i:03}");
                let token = token(&subject);
                // Half sleep inside the tool, so many contexts are live at once across awaits.
                let r = if i % 2 == 0 {
                    call_tool(&url, Some(&token), "test_sleep", json!({"ms": 50})).await
                } else {
                    call_tool(&url, Some(&token), "auth_status", json!({})).await
                };
                (
                    subject,
                    r.result()["structuredContent"]["subject"]
                        .as_str()
                        .map(str::to_owned),
                )
            })
        })
        .collect();
    let mut mismatches = Vec::new();
    for call in calls {
        let (expected, got) = call.await.expect("join");
        if got.as_deref() != Some(expected.as_str()) {
            mismatches.push((expected, got));
        }
    }
    assert!(
        mismatches.is_empty(),
        "answers for the wrong caller: {mismatches:?}"
    );
}
