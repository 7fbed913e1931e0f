//! The shipped binary as an operator runs it: fail-fast configuration, `token`,
//! `healthcheck`, `stdio` and SIGTERM. SIGTERM with calls in flight needs the fixture binary's
//! slow tool: `crates/quilt-mcp-fixture/tests/it/shutdown.rs`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_quilt-mcp-server");

#[tokio::test]
async fn serve_refuses_to_start_without_a_way_to_verify_tokens() {
    let out = command(BIN)
        .args(["serve"])
        .env("MCP_LISTEN", "127.0.0.1:0")
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MCP_JWT_SECRET") && stderr.contains("no way to verify tokens"),
        "{stderr}"
    );

    let out = command(BIN)
        .env("MCP_AUTH_DISABLED", "true")
        .env("MCP_LISTEN", "0.0.0.0:0")
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MCP_AUTH_DISABLED") && stderr.contains("not loopback"),
        "{stderr}"
    );

    let out = command(BIN)
        .env("MCP_JWT_SECRET", "too-short")
        .output()
        .await
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32 bytes"));
}

/// Settings that are free text (names AWS or the token issuer define): nothing to parse.
const FREE_TEXT: [&str; 6] = [
    "MCP_JWT_ISSUER",
    "MCP_JWT_AUDIENCE",
    "QUILT_STACK_NAME",
    "ATHENA_WORKGROUP",
    "ATHENA_ALLOWED_WORKGROUPS",
    "AWS_REGION",
];

/// Every setting with a parsed form, a bad value for it, and what the refusal must say: the
/// variable's name and what it accepts.
const BAD_VALUES: &[(&str, &str, &str)] = &[
    // Parsed by clap (numbers, switches, address, enum): config::name_the_variable.
    ("MCP_LISTEN", "nowhere", "accepted: an IP address and port"),
    ("MCP_MAX_BODY_BYTES", "lots", "accepted: a whole number"),
    ("MCP_REQUEST_TIMEOUT_S", "0", "must be at least 1"),
    ("MCP_MAX_IN_FLIGHT", "0", "must be at least 1"),
    ("MCP_SHUTDOWN_GRACE_S", "-1", "accepted: a whole number"),
    ("MCP_JWT_JWKS_REFETCH_S", "1m", "accepted: a whole number"),
    ("MCP_JWT_LEEWAY_S", "30s", "accepted: a whole number"),
    ("MCP_AUTH_DISABLED", "yes", "accepted: true, false"),
    (
        "MCP_ROLE_SESSION_DURATION_S",
        "60",
        "must be between 900 and 43200",
    ),
    (
        "MCP_ROLE_CHECK_INTERVAL_S",
        "often",
        "accepted: a whole number",
    ),
    (
        "S3_MULTIPART_THRESHOLD_BYTES",
        "1024",
        "must be at least 5 MiB",
    ),
    ("MCP_REQUIRE_SCOPES", "no", "accepted: true, false"),
    (
        "MCP_PERMISSION_CACHE_TTL_S",
        "1h",
        "accepted: a whole number",
    ),
    (
        "MCP_PERMISSION_MAX_BUCKETS",
        "0",
        "must be between 1 and 1000",
    ),
    (
        "MCP_PERMISSION_CONCURRENCY",
        "65",
        "must be between 1 and 64",
    ),
    ("MCP_HEALTHZ_STRICT", "1", "accepted: true, false"),
    ("MCP_LOG_FORMAT", "xml", "accepted: text, json"),
    ("QUILT_CATALOG_TIMEOUT_S", "61", "must be between 1 and 60"),
    ("MCP_JWT_ALLOW_MISSING_AUD", "y", "accepted: true, false"),
    (
        "ATHENA_OUTSIDE_BUCKET_GRANTS",
        "on",
        "accepted: true, false",
    ),
    ("MCP_MAX_AUTHENTICATING", "0", "must be at least 1"),
    (
        "MCP_CALLER_MAX_IN_FLIGHT",
        "1000",
        "must be between 1 and MCP_MAX_IN_FLIGHT",
    ),
    ("MCP_CALLER_RATE_PER_S", "fast", "accepted: a whole number"),
    ("MCP_CALLER_BURST", "0", "must be at least 1"),
    ("MCP_TASK_HEARTBEAT_S", "0", "must be between 1 and 300"),
    // Parsed into Settings by Config::validate.
    (
        "MCP_PUBLIC_URL",
        "ftp://mcp.example.com",
        "must start with https:// or http://",
    ),
    (
        "MCP_ALLOWED_HOSTS",
        "https://mcp.example.com/",
        "must be a host name, not a URL",
    ),
    (
        "MCP_ALLOWED_ORIGINS",
        "app.example.com",
        "must start with http:// or https://",
    ),
    ("MCP_JWT_SECRET", "too-short", "must be at least 32 bytes"),
    (
        "MCP_JWT_SECRET_PREVIOUS",
        "too-short",
        "must be at least 32 bytes",
    ),
    (
        "MCP_JWT_JWKS_URL",
        "http://idp.example.com/jwks",
        "must be https (plain http only when the host is a loopback IP or localhost)",
    ),
    (
        "MCP_CREDENTIAL_SOURCES",
        "jwt,magic",
        "(known: jwt, role_claim, catalog, stack_roles, ambient)",
    ),
    (
        "MCP_ROLE_ARN_ALLOW",
        "arn:aws:iam::1:role/[x",
        "accepted: role ARN patterns with * wildcards",
    ),
    (
        "QUILT_READ_ROLE_ARN",
        "reader",
        "is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)",
    ),
    (
        "QUILT_WRITE_ROLE_ARN",
        "arn:aws:s3:::bucket",
        "is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)",
    ),
    (
        "QUILT_REGISTRY_URL",
        "http://registry.example.com",
        "must be https (plain http only when the host is a loopback IP or localhost)",
    ),
    (
        "QUILT_BUCKETS",
        "Not_A_Bucket!",
        "accepted: bucket, bucket/prefix/ or *",
    ),
    ("S3_SSE", "kms", "is not AES256, aws:kms or none"),
    (
        "S3_SSE_KMS_KEY_ID",
        "alias/data",
        "set, but S3_SSE is not aws:kms",
    ),
    (
        "ATHENA_OUTPUT_LOCATION",
        "results-bucket/prefix/",
        "must be an s3:// URI",
    ),
    (
        "AWS_ENDPOINT_URL",
        "localhost:5000",
        "must be an http(s) URL",
    ),
    (
        "MCP_SCOPE_MAP",
        "quilt:read",
        "is not server_scope=token_scope with server_scope one of quilt:read, quilt:write, athena:query",
    ),
    (
        "MCP_PERMISSION_WRITE_PROBE_PREFIX",
        "probe",
        "must be a key prefix ending with / (and not starting with one)",
    ),
    (
        "QUILT_CATALOG_URL",
        "http://catalog.example.com",
        "must be an https base URL (plain http only on loopback)",
    ),
    (
        "MCP_METRICS_NAMESPACE",
        "AWS/S3",
        "namespaces starting with AWS/ are AWS's own",
    ),
    ("MCP_HANDLE_KEY", "too-short", "must be at least 32 bytes"),
];

/// Each setting with a parsed form, set to a bad value alone, stops `serve` before it
/// listens, with one message naming the variable and what it accepts; the table covers every
/// setting `--help` documents, save the free-text ones.
#[tokio::test]
async fn every_parsed_setting_refuses_a_bad_value_at_start() {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        config: quilt_mcp_server::Config,
    }
    let documented: std::collections::BTreeSet<String> = <Cli as clap::CommandFactory>::command()
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    let covered: std::collections::BTreeSet<String> = BAD_VALUES
        .iter()
        .map(|(name, _, _)| *name)
        .chain(FREE_TEXT)
        .map(str::to_owned)
        .collect();
    assert_eq!(
        documented, covered,
        "every setting is in BAD_VALUES (parsed) or FREE_TEXT"
    );
    let runs = BAD_VALUES.iter().map(|&(name, bad, accepted)| async move {
        let mut c = command(BIN);
        c.arg("serve")
            .env("MCP_LISTEN", "127.0.0.1:0")
            .env("MCP_JWT_SECRET", SECRET);
        let out = tokio::time::timeout(Duration::from_secs(30), c.env(name, bad).output())
            .await
            .unwrap_or_else(|_| panic!("{name}={bad}: the server did not stop"))
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (name, bad, accepted, out.status.success(), stderr)
    });
    for (name, bad, accepted, success, stderr) in futures::future::join_all(runs).await {
        assert!(!success, "{name}={bad} was accepted: {stderr}");
        let line = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{name}={bad}: no error line in {stderr:?}"));
        assert!(
            line.starts_with(&format!("error: {name}: ")) && line.contains(accepted),
            "{name}={bad}: wanted the variable and {accepted:?}, got {line:?}"
        );
    }
}

#[tokio::test]
async fn help_documents_every_setting_with_its_environment_variable() {
    let out = command(BIN)
        .args(["serve", "--help"])
        .output()
        .await
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "MCP_LISTEN",
        "MCP_PUBLIC_URL",
        "MCP_ALLOWED_HOSTS",
        "MCP_ALLOWED_ORIGINS",
        "MCP_MAX_BODY_BYTES",
        "MCP_REQUEST_TIMEOUT_S",
        "MCP_MAX_IN_FLIGHT",
        "MCP_SHUTDOWN_GRACE_S",
        "MCP_JWT_SECRET",
        "MCP_JWT_SECRET_PREVIOUS",
        "MCP_JWT_JWKS_URL",
        "MCP_JWT_ISSUER",
        "MCP_JWT_AUDIENCE",
        "MCP_AUTH_DISABLED",
        "MCP_CREDENTIAL_SOURCES",
        "MCP_HEALTHZ_STRICT",
        "MCP_LOG_FORMAT",
    ] {
        assert!(help.contains(&format!("[env: {var}")), "--help lacks {var}");
    }
}

#[tokio::test]
async fn minted_tokens_work_healthcheck_probes_and_sigterm_exits_zero() {
    let port = free_port();
    let mut server = command(BIN)
        .env("MCP_LISTEN", format!("127.0.0.1:{port}"))
        .env("MCP_JWT_SECRET", SECRET)
        .env("MCP_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_ready(port).await;

    let out = command(BIN)
        .args(["token", "--subject", "minted", "--bucket", "alpha,beta/p/"])
        .env("MCP_JWT_SECRET", SECRET)
        // The server requires `aud` = its resource URL by default; the command derives it
        // from the same MCP_LISTEN.
        .env("MCP_LISTEN", format!("127.0.0.1:{port}"))
        .output()
        .await
        .expect("token");
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    let status = auth_status(&format!("http://127.0.0.1:{port}/mcp"), &token).await;
    assert_eq!(status["subject"], "minted");
    assert_eq!(status["buckets"], json!(["alpha", "beta/p/"]));

    let ok = command(BIN)
        .arg("healthcheck")
        .env("MCP_LISTEN", format!("0.0.0.0:{port}"))
        .status()
        .await
        .expect("run");
    assert!(ok.success(), "healthcheck of a running server");
    let down = command(BIN)
        .arg("healthcheck")
        .env("MCP_LISTEN", format!("127.0.0.1:{}", free_port()))
        .status()
        .await
        .expect("run");
    assert!(!down.success(), "healthcheck with nothing listening");

    sigterm(&server);
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("exits")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
    // JSON logs: every stderr line is a JSON object, and the token never appears.
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(server.stderr.as_mut().expect("stderr"), &mut stderr)
        .await
        .expect("read");
    assert!(!stderr.contains(&token) && !stderr.contains(SECRET));
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }
    assert!(
        stderr.contains("\"target\":\"audit\""),
        "audit line missing: {stderr}"
    );
}

#[tokio::test]
async fn stdio_serves_the_local_user_with_the_same_tools() {
    let mut child = command(BIN)
        .arg("stdio")
        .env("USER", "desk")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "auth_status", "arguments": {}}}),
    ];
    for m in &messages {
        stdin
            .write_all(format!("{m}\n").as_bytes())
            .await
            .expect("write");
    }
    stdin.flush().await.expect("flush");
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("answer")
            .expect("read")
            .expect("line");
        answers.push(serde_json::from_str::<Value>(&line).expect("json"));
    }
    assert_eq!(answers[0]["result"]["serverInfo"]["name"], "quilt-mcp");
    let status = &answers[1]["result"]["structuredContent"];
    assert_eq!(status["subject"], "local:desk");
    assert_eq!(status["auth_method"], "local");
    assert_eq!(
        status["credential_source"], "ambient",
        "stdio defaults to the process's own credentials"
    );
    drop(stdin);
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits")
        .expect("wait");
    assert!(exit.success());
}
