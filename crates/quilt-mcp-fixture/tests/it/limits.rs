//! Input limits on the shipped server (the test-only fixture binary, so its memory can be read
//! from `/proc/<pid>/status`): bodies over `MCP_MAX_BODY_BYTES` with and without a
//! Content-Length, Authorization headers over the token bound and over the HTTP header bound,
//! and slow bodies sent a byte at a time. Each is refused with the status named in the test,
//! within the limits, while `/healthz` keeps answering — and the server's resident memory stays
//! bounded although far more bytes were offered than it may hold.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::support::*;

const FIXTURE_BIN: &str = env!("CARGO_BIN_EXE_quilt-mcp-fixture-server");
const MAX_BODY: usize = 1024 * 1024;
const REQUEST_TIMEOUT_S: u64 = 3;

fn vm_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

async fn start() -> (Child, u16) {
    let port = free_port();
    let child = Command::new(FIXTURE_BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .env("MCP_LISTEN", format!("127.0.0.1:{port}"))
        .env("MCP_JWT_SECRET", SECRET)
        .env("MCP_JWT_AUDIENCE", AUDIENCE)
        // 40 slow bodies of one token: above the default per-caller in-flight share.
        .env("MCP_CALLER_MAX_IN_FLIGHT", "256")
        .env("MCP_MAX_BODY_BYTES", MAX_BODY.to_string())
        .env("MCP_REQUEST_TIMEOUT_S", REQUEST_TIMEOUT_S.to_string())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http()
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "fixture server never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, port)
}

/// Sends `head` (request line and headers, without the blank line), then `body` in pieces of
/// `piece` bytes `gap` apart, stopping as soon as the server answers or closes; returns the
/// status of the answer (0 if the connection closed without one) and when it came.
async fn raw(port: u16, head: &str, body: &[u8], piece: usize, gap: Duration) -> (u16, Duration) {
    let started = Instant::now();
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let read = tokio::spawn(async move {
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
        let status = std::str::from_utf8(&answer)
            .ok()
            .and_then(|a| a.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, started.elapsed())
    });
    let write = async {
        if writer
            .write_all(format!("{head}\r\n\r\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
        for chunk in body.chunks(piece.max(1)) {
            if writer.write_all(chunk).await.is_err() {
                return;
            }
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
        }
    };
    tokio::select! {
        answer = read => answer.expect("reader"),
        () = async { write.await; std::future::pending::<()>().await } => unreachable!(),
    }
}

fn post_head(port: u16, token: Option<&str>, extra: &str) -> String {
    let mut head = format!(
        "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream"
    );
    if let Some(token) = token {
        head.push_str(&format!("\r\nauthorization: Bearer {token}"));
    }
    if !extra.is_empty() {
        head.push_str("\r\n");
        head.push_str(extra);
    }
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_slow_requests_are_refused_and_memory_stays_bounded() {
    let (server, port) = start().await;
    let pid = server.id().expect("pid");
    let token = token("limits");
    let mcp = format!("http://127.0.0.1:{port}/mcp");
    // Warm up (first requests allocate pools), then take the baseline.
    for _ in 0..20 {
        assert_eq!(auth_status(&mcp, &token).await["subject"], "limits");
    }
    let rss_before = vm_rss_kib(pid);
    let mut peak = rss_before;
    let mut figures = Vec::new();

    // 1. A declared Content-Length far over the limit: 413 before the body is read.
    let big = vec![b'x'; 256 * 1024];
    let (status, took) = raw(
        port,
        &post_head(port, Some(&token), "content-length: 1073741824"),
        &big,
        64 * 1024,
        Duration::ZERO,
    )
    .await;
    assert_eq!(status, 413, "declared 1 GiB body");
    figures.push(format!("declared 1 GiB: 413 in {took:?}"));
    // Without a token the body is not read either: 401 first.
    let (status, _) = raw(
        port,
        &post_head(port, None, "content-length: 1073741824"),
        &big,
        64 * 1024,
        Duration::ZERO,
    )
    .await;
    assert_eq!(status, 401, "declared 1 GiB body without a token");

    // 2. Chunked bodies with no Content-Length, 32 MiB each, 16 at once: 413 once the limit
    //    is passed; the server never holds more than the limit per request.
    let started = Instant::now();
    let chunked: Vec<_> = (0..16)
        .map(|_| {
            let (url, token) = (mcp.clone(), token.clone());
            tokio::spawn(async move {
                let chunks = (0..32).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024 * 1024]));
                let r = http()
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
                    .send()
                    .await;
                // The server may answer and close before the client has sent everything.
                r.map(|r| r.status().as_u16()).unwrap_or(0)
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for c in chunked {
        statuses.push(c.await.expect("join"));
        peak = peak.max(vm_rss_kib(pid));
    }
    assert!(
        statuses.iter().all(|s| *s == 413 || *s == 0) && statuses.contains(&413),
        "chunked 32 MiB bodies: {statuses:?}"
    );
    figures.push(format!(
        "16 × chunked 32 MiB: {statuses:?} in {:?}",
        started.elapsed()
    ));

    // 3. Authorization headers: over the token bound (8 KiB) → 401 naming the limit; over
    //    hyper's header bound (~400 KiB) → 431, before any auth work.
    let long = format!(
        "{}.{}.{}",
        "a".repeat(6000),
        "b".repeat(6000),
        "c".repeat(100)
    );
    let r = call_tool(&mcp, Some(&long), "auth_status", json!({})).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("8192")),
        "{}",
        r.body
    );
    let huge = "h".repeat(1024 * 1024);
    let (status, took) = raw(
        port,
        &post_head(port, Some(&huge), "content-length: 2"),
        b"{}",
        2,
        Duration::ZERO,
    )
    .await;
    assert_eq!(status, 431, "1 MiB Authorization header");
    figures.push(format!("1 MiB Authorization: {status} in {took:?}"));

    // 4. Slow bodies (a byte every 200 ms, 40 connections at once): cut off at the request
    //    timeout with 504, while /healthz stays fast.
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let slow: Vec<_> = (0..40)
        .map(|_| {
            let head = post_head(
                port,
                Some(&token),
                &format!("content-length: {}", body.len() * 10),
            );
            tokio::spawn(async move {
                raw(port, &head, &body.repeat(10), 1, Duration::from_millis(200)).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let probe = Instant::now();
    let health = http()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let health_took = probe.elapsed();
    let mut slowest = Duration::ZERO;
    for s in slow {
        let (status, took) = s.await.expect("join");
        assert_eq!(
            status, 504,
            "a slow body was not cut off at the request timeout"
        );
        slowest = slowest.max(took);
    }
    assert!(
        slowest < Duration::from_secs(REQUEST_TIMEOUT_S * 4),
        "slow bodies held for {slowest:?}"
    );
    peak = peak.max(vm_rss_kib(pid));
    figures.push(format!(
        "40 slow bodies: 504 by {slowest:?} (request timeout {REQUEST_TIMEOUT_S} s); /healthz meanwhile {health_took:?}"
    ));

    // Still serving, and memory bounded: 16 × 32 MiB + 1 GiB declared were offered.
    assert_eq!(auth_status(&mcp, &token).await["subject"], "limits");
    let rss_after = vm_rss_kib(pid);
    eprintln!(
        "limits: {}; RSS before {rss_before} KiB, peak {peak} KiB, after {rss_after} KiB",
        figures.join("; ")
    );
    assert!(
        peak - rss_before < 128 * 1024,
        "RSS grew by {} KiB",
        peak - rss_before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_connections_do_not_stop_the_server_serving() {
    let (server, port) = start().await;
    let pid = server.id().expect("pid");
    let rss_before = vm_rss_kib(pid);
    // 200 connections that send a request head one byte every 100 ms and never finish it.
    let head = post_head(port, Some(&token("slow")), "x-pad: ") + &"p".repeat(200);
    let started = Instant::now();
    let slow: Vec<_> = (0..200)
        .map(|_| {
            let head = head.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(("127.0.0.1", port))
                    .await
                    .expect("connect");
                for b in head.as_bytes() {
                    if stream.write_all(&[*b]).await.is_err() {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if started.elapsed() > Duration::from_secs(6) {
                        return false;
                    }
                }
                false
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let probe = Instant::now();
    assert_eq!(
        auth_status(&format!("http://127.0.0.1:{port}/mcp"), &token("fast")).await["subject"],
        "fast"
    );
    let served_in = probe.elapsed();
    let rss_during = vm_rss_kib(pid);
    let mut closed_by_server = 0;
    for s in slow {
        if s.await.expect("join") {
            closed_by_server += 1;
        }
    }
    eprintln!(
        "slow headers: 200 connections; a normal call served in {served_in:?} meanwhile; \
         {closed_by_server} closed by the server within 6 s; RSS {rss_before} → {rss_during} KiB"
    );
    assert!(
        rss_during - rss_before < 64 * 1024,
        "RSS grew by {} KiB",
        rss_during - rss_before
    );
}
