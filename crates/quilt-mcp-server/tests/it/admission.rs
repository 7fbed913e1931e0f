//! Load shedding: with the in-flight bound reached, the next MCP request gets 503 with
//! `Retry-After` at once, health stays reachable, and capacity comes back when calls finish;
//! under sustained load at twice capacity the bound holds (observed inside the tools), the
//! excess is shed without queueing, and `/healthz` stays fast. The load comes from distinct
//! callers: one caller's own excess is a 429 (`fairness.rs`).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn requests_over_the_in_flight_bound_get_503_and_health_stays_up() {
    let server = TestServer::start(|c| c.max_in_flight = 3).await;
    let token = token("busy");
    let slow: Vec<_> = (0..3)
        .map(|i| {
            let (url, token) = (server.mcp(), crate::support::token(&format!("busy-{i}")));
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
    let calls: Vec<_> = (0..24)
        .map(|i| {
            let (url, token) = (server.mcp(), token(&format!("flood-{i}")));
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

/// Percentile of sorted durations.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_load_at_twice_capacity_is_shed_fast_and_health_stays_fast() {
    const BOUND: usize = 16;
    const CLIENTS: usize = 2 * BOUND;
    const SLEEP_MS: u64 = 1000;
    let server = TestServer::start(|c| c.max_in_flight = BOUND).await;
    let client = pooled_http();
    let deadline = Instant::now() + Duration::from_secs(5);
    // 2x capacity, closed loop: every client calls again as soon as it has an answer (after
    // a 503, with a 10 ms pause, like a client honouring a short back-off).
    let loads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (client, url, token) = (client.clone(), server.mcp(), token(&format!("load-{i}")));
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while Instant::now() < deadline {
                    let started = Instant::now();
                    let status = call_tool_with(
                        &client,
                        &url,
                        &token,
                        "test_sleep",
                        json!({"ms": SLEEP_MS}),
                    )
                    .await
                    .map(|r| r.status.as_u16())
                    .unwrap_or(0);
                    answers.push((status, started.elapsed()));
                    if status == 503 {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                answers
            })
        })
        .collect();
    let health = {
        let (client, url) = (http(), server.url("/healthz"));
        tokio::spawn(async move {
            let mut probes = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let r = client.get(&url).send().await.expect("healthz");
                let status = r.status().as_u16();
                let h: serde_json::Value = r.json().await.expect("json");
                probes.push((
                    status,
                    started.elapsed(),
                    h["in_flight"].as_u64().unwrap_or(u64::MAX),
                ));
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            probes
        })
    };
    let mut ok = Vec::new();
    let mut shed = Vec::new();
    for load in loads {
        for (status, took) in load.await.expect("join") {
            match status {
                200 => ok.push(took),
                503 => shed.push(took),
                other => panic!("unexpected answer {other} under load"),
            }
        }
    }
    let probes = health.await.expect("join");
    shed.sort();
    ok.sort();
    let mut health_times: Vec<Duration> = probes.iter().map(|p| p.1).collect();
    health_times.sort();
    eprintln!(
        "admission: bound {BOUND}, {CLIENTS} clients: {} served, {} shed (503 p50 {:?}, p99 {:?}, max {:?}); \
         peak in tools {}; /healthz {} probes p50 {:?}, max {:?}",
        ok.len(),
        shed.len(),
        pct(&shed, 0.5),
        pct(&shed, 0.99),
        pct(&shed, 1.0),
        server.calls.peak_sleeping(),
        probes.len(),
        pct(&health_times, 0.5),
        pct(&health_times, 1.0),
    );
    // Observed inside the tools: never more running than the bound, and the bound was reached.
    assert!(
        server.calls.peak_sleeping() <= BOUND,
        "{} calls ran at once with a bound of {BOUND}",
        server.calls.peak_sleeping()
    );
    assert_eq!(
        server.calls.peak_sleeping(),
        BOUND,
        "the load never filled the bound"
    );
    assert!(
        probes.iter().all(|p| p.0 == 200 && p.2 <= BOUND as u64),
        "health failed or reported more in flight than the bound"
    );
    assert!(!ok.is_empty() && !shed.is_empty());
    // Shed means not queued: a 503 that waited for a slot would take about a whole call.
    assert!(
        pct(&shed, 1.0) < Duration::from_millis(SLEEP_MS),
        "a 503 took {:?}: excess load waited instead of being shed",
        pct(&shed, 1.0)
    );
    assert!(
        pct(&health_times, 1.0) < Duration::from_millis(SLEEP_MS),
        "/healthz took {:?} under load",
        pct(&health_times, 1.0)
    );
}
