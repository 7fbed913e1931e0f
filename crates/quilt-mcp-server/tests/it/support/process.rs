//! Running a server binary as a test's child process: a clean environment, a free loopback
//! port, readiness, SIGTERM. Depends on no server crate, so the fixture crate's tests include
//! this same file (`#[path]`).

use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::http;

/// A command with a clean environment: only what the test sets reaches the server.
pub fn command(bin: &str) -> Command {
    let mut c = Command::new(bin);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    c.kill_on_drop(true);
    c
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http()
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && r.status() == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "server on {port} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn sigterm(child: &Child) {
    let pid = child.id().expect("running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}
