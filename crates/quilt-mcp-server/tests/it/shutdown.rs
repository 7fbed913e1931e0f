//! Graceful drain: when shutdown begins, readiness flips at once, the listener stops taking
//! new connections, and requests already in flight complete; the server then stops cleanly.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn in_flight_calls_finish_after_shutdown_begins() {
    let mut server = TestServer::start(|c| c.shutdown_grace_s = 10).await;
    let token = token("draining");
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let (url, token) = (server.mcp(), token.clone());
            tokio::spawn(async move {
                call_tool(
                    &url,
                    Some(&token),
                    "test_sleep",
                    json!({"ms": 800 + i * 50}),
                )
                .await
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.app.admission.in_flight() < 8 {
        assert!(Instant::now() < deadline, "calls never became in-flight");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!server.app.lifecycle.is_ready(), "readiness flips at once");
    // New connections are no longer accepted.
    let late = reqwest::Client::new()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        late.is_err(),
        "listener still accepting after shutdown began"
    );

    for (i, call) in calls.into_iter().enumerate() {
        let r = call.await.expect("join");
        assert_eq!(r.status, 200, "call {i}");
        assert_eq!(r.result()["structuredContent"]["subject"], "draining");
    }
    server.shutdown().await.expect("clean stop");
}

#[tokio::test]
async fn calls_past_the_grace_period_are_abandoned_and_the_server_still_stops() {
    let mut server = TestServer::start(|c| c.shutdown_grace_s = 1).await;
    let (url, token) = (server.mcp(), token("slowpoke"));
    let call = tokio::spawn(async move {
        call_tool(&url, Some(&token), "test_sleep", json!({"ms": 20000})).await
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.app.admission.in_flight() < 1 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    server.begin_shutdown();
    server.shutdown().await.expect("stops");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    call.abort();
}
