//! SIGTERM with calls in flight, on the fixture binary (the product server plus `test_sleep`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

const FIXTURE_BIN: &str = env!("CARGO_BIN_EXE_quilt-mcp-fixture-server");

#[tokio::test]
async fn sigterm_lets_in_flight_calls_finish_then_exits_zero() {
    let port = free_port();
    let mut server = command(FIXTURE_BIN)
        .env("MCP_LISTEN", format!("127.0.0.1:{port}"))
        .env("MCP_JWT_SECRET", SECRET)
        .env("MCP_JWT_AUDIENCE", AUDIENCE)
        .env("MCP_SHUTDOWN_GRACE_S", "20")
        .spawn()
        .expect("spawn");
    wait_ready(port).await;
    let url = format!("http://127.0.0.1:{port}/mcp");
    // 200 calls, each long enough that all are in flight together when the signal lands.
    const IN_FLIGHT: u64 = 200;
    let calls: Vec<_> = (0..IN_FLIGHT)
        .map(|i| {
            let (url, token) = (url.clone(), token(&format!("drain-{i}")));
            tokio::spawn(async move {
                call_tool(&url, Some(&token), "test_sleep", json!({"ms": 5000})).await
            })
        })
        .collect();
    // Let every call reach the server before the signal.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h: Value = http()
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .expect("healthz")
            .json()
            .await
            .expect("json");
        if h["in_flight"].as_u64() == Some(IN_FLIGHT) {
            break;
        }
        assert!(Instant::now() < deadline, "calls never all in flight: {h}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sigterm(&server);
    let signalled = Instant::now();
    for (i, call) in calls.into_iter().enumerate() {
        let r = call.await.expect("join");
        assert_eq!(r.status, 200, "call {i}: {}", r.body);
        assert_eq!(
            r.result()["structuredContent"]["subject"],
            format!("drain-{i}")
        );
    }
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("exits")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
    eprintln!(
        "sigterm: {IN_FLIGHT} in-flight calls completed, exit 0, {:?} after the signal",
        signalled.elapsed()
    );
}
