//! Load shedding: with the in-flight bound reached, the next MCP request gets 503 with
//! `Retry-After` at once, health stays reachable, and capacity comes back when calls finish.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn requests_over_the_in_flight_bound_get_503_and_health_stays_up() {
    let server = TestServer::start(|c| c.max_in_flight = 3).await;
    let token = token("busy");
    let slow: Vec<_> = (0..3)
        .map(|_| {
            let (url, token) = (server.mcp(), token.clone());
            tokio::spawn(async move {
                call_tool(&url, Some(&token), "test_sleep", json!({"ms": 1500})).await
            })
        })
        .collect();
    // Wait until all three are admitted.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.app.admission.in_flight() < 3 {
        assert!(
            Instant::now() < deadline,
            "slow calls never became in-flight"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let shed = call_tool(&server.mcp(), Some(&token), "auth_status", json!({})).await;
    assert_eq!(shed.status, 503, "{}", shed.body);
    assert_eq!(shed.headers["retry-after"], "1");
    assert_eq!(shed.body["error"], "overloaded");
    // Health and metadata do not queue behind /mcp.
    let health = http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let h: serde_json::Value = health.json().await.expect("json");
    assert_eq!(
        (h["in_flight"].as_u64(), h["max_in_flight"].as_u64()),
        (Some(3), Some(3))
    );
    assert!(server.app.admission.in_flight() <= 3);

    for call in slow {
        let r = call.await.expect("join");
        assert_eq!(r.result()["structuredContent"]["slept_ms"], 1500);
    }
    assert_eq!(server.app.admission.in_flight(), 0);
    assert_eq!(
        auth_status(&server.mcp(), &token).await["subject"],
        "busy",
        "capacity is back"
    );
}

#[tokio::test]
async fn offered_load_beyond_the_bound_never_exceeds_it() {
    let server = TestServer::start(|c| c.max_in_flight = 4).await;
    let token = token("flood");
    let calls: Vec<_> = (0..24)
        .map(|_| {
            let (url, token) = (server.mcp(), token.clone());
            tokio::spawn(async move {
                call_tool(&url, Some(&token), "test_sleep", json!({"ms": 300}))
                    .await
                    .status
            })
        })
        .collect();
    let mut peak = 0;
    let sampler = async {
        for _ in 0..60 {
            peak = peak.max(server.app.admission.in_flight());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    sampler.await;
    let mut ok = 0;
    let mut shed = 0;
    for c in calls {
        match c.await.expect("join").as_u16() {
            200 => ok += 1,
            503 => shed += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(peak <= 4, "in-flight peaked at {peak}");
    assert!(ok >= 4 && shed >= 1, "ok={ok} shed={shed}");
}
