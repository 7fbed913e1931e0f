//! `quilt-mcp-server healthcheck`: the container HEALTHCHECK (the image has no curl). Finds
//! the server from `MCP_LISTEN`, asks `/healthz`, exits 0 on 200 and 1 otherwise.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// The URL of `/healthz` for a server listening on `listen` (a wildcard address is reached
/// on loopback).
pub fn url_for(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/healthz", SocketAddr::new(ip, listen.port()))
}

/// Probes the server; `Ok(())` when it answers 200.
pub async fn probe(listen: SocketAddr, timeout: Duration) -> Result<(), String> {
    let url = url_for(listen);
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url}: HTTP {}", response.status()))
    }
}
