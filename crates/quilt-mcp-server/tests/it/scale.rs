//! Isolation at scale: the shipped binary, 64 concurrent subjects and over 20,000 mixed tool
//! calls, with IAM enforced in moto and a fault-injecting proxy (latency jitter, 1% 5xx) on
//! the only path from the server to AWS.
//!
//! Half the subjects carry their own IAM user's keys in the token (`jwt` source); the other
//! half name a role the server assumes for them (`role_claim`). The server's own identity is a
//! honeypot key allowed nothing but `sts:AssumeRole`. Every subject may touch only its own
//! prefix, and every object it owns holds a marker naming it.
//!
//! Proven, from three independent views:
//! - the wire (the proxy): every request was signed, by a known key; the honeypot signed
//!   nothing but AssumeRole; every S3 request under `user-N/` was signed by subject N's key;
//! - the audit trail: one line per call, naming the caller; every AWS request id in it was
//!   signed (per the proxy) by that caller's key; everything it touched is under its prefix;
//! - the answers: each names its own caller (ARN, presigned credential, subject) and carries
//!   no other subject's marker or key.
//!
//! Injected errors may fail a call, but only as a tool error `upstream_unavailable`, never a
//! wrong answer. Extends `isolation.rs` (32 subjects, no faults, in-process server).

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::Command;

use crate::fault_proxy::{FaultProxy, Seen};
use crate::moto::*;
use crate::support::*;

const SUBJECTS: usize = 64;
const CALLS_PER_SUBJECT: usize = 320;
const BUCKET: &str = "scale-bucket";
const HONEYPOT_USER: &str = "server-honeypot";

fn subject(i: usize) -> String {
    format!("subject-{i:02}")
}

/// A marker only subject `i`'s objects contain.
fn marker(i: usize) -> String {
    format!("MARK[{i:03}]")
}

fn subject_policy(i: usize) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": [format!("arn:aws:s3:::{BUCKET}/user-{i:02}/*")]},
        {"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "glue:GetDatabases", "glue:GetDatabase"], "Resource": "*"},
    ]})
}

/// How subject `i` gets its credentials.
#[derive(Clone)]
enum Creds {
    /// Its own IAM user's keys, in the token.
    User { akid: String, secret: String },
    /// A role the server assumes for it.
    Role { arn: String },
}

fn uses_role(i: usize) -> bool {
    i % 2 == 1
}

fn token_for(i: usize, creds: &Creds) -> String {
    let extra = match creds {
        Creds::User { akid, secret } => {
            json!({"aws_credentials": {"access_key_id": akid, "secret_access_key": secret}})
        }
        Creds::Role { arn } => json!({"role_arn": arn}),
    };
    hs256(&claims(&subject(i), extra), SECRET)
}

/// The call subject `i` makes as its `n`th. About one call in six reaches AWS (PutObject,
/// GetObject, GetCallerIdentity, Glue GetDatabases): moto, one Python process, is the
/// bottleneck. The others resolve the caller's credentials and presign with them locally
/// (`bucket_object_link`) or report the caller (`auth_status`), so every call still goes
/// through the caller's identity and credential path.
fn plan(i: usize, n: usize) -> (&'static str, Value) {
    let seed = format!("s3://{BUCKET}/user-{i:02}/seed.txt");
    match n % 40 {
        0 | 20 => (
            "bucket_objects_put",
            json!({"bucket": BUCKET, "items": [{"key": format!("user-{i:02}/w-{n}.txt"), "text": format!("{} write {n}", marker(i))}]}),
        ),
        7 | 27 => ("bucket_object_text", json!({"s3_uri": seed})),
        14 | 34 => ("auth_status", json!({"include_aws_identity": true})),
        37 => ("athena_databases_list", json!({})),
        odd if odd % 2 == 1 => ("bucket_object_link", json!({"s3_uri": seed})),
        _ => ("auth_status", json!({})),
    }
}

struct Outcome {
    i: usize,
    n: usize,
    tool: &'static str,
    rpc: Result<Rpc, String>,
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_subjects_never_see_or_sign_as_each_other_under_faults() {
    let started = Instant::now();
    let mut moto = Moto::start().await;
    moto.create_admin().await;
    moto.s3()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    moto.glue()
        .create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name("scale_db")
                .build()
                .expect("db"),
        )
        .send()
        .await
        .expect("glue database");
    let (honeypot_key, honeypot_secret) = moto
        .user(
            HONEYPOT_USER,
            allow(
                &["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                &["*"],
            ),
        )
        .await;
    let honeypot_arn = format!("arn:aws:iam::{ACCOUNT}:user/{HONEYPOT_USER}");
    let mut creds = Vec::new();
    // Which subject each static key belongs to (assumed-role keys are learnt at the proxy).
    let mut owner: HashMap<String, usize> = HashMap::new();
    for i in 0..SUBJECTS {
        let c = if uses_role(i) {
            let arn = moto
                .role(
                    &format!("{}-role", subject(i)),
                    &honeypot_arn,
                    subject_policy(i),
                )
                .await;
            Creds::Role { arn }
        } else {
            let (akid, secret) = moto.user(&subject(i), subject_policy(i)).await;
            owner.insert(akid.clone(), i);
            Creds::User { akid, secret }
        };
        moto.s3()
            .put_object()
            .bucket(BUCKET)
            .key(format!("user-{i:02}/seed.txt"))
            .content_type("text/plain")
            .body(
                format!("{} seed: this object belongs to {}", marker(i), subject(i))
                    .into_bytes()
                    .into(),
            )
            .send()
            .await
            .expect("seed");
        creds.push(c);
    }
    moto.enforce_iam().await;
    // Negative control: enforcement is on (the honeypot may not read S3 itself).
    let denied = moto
        .s3_as(&honeypot_key, &honeypot_secret)
        .get_object()
        .bucket(BUCKET)
        .key("user-00/seed.txt")
        .send()
        .await;
    assert!(
        denied.is_err(),
        "IAM enforcement is off: the honeypot could read"
    );

    let proxy = FaultProxy::start(&moto.url).await;
    proxy.set_jitter_ms(3);
    proxy.set_error_per_mille(10);

    let port = free_port();
    let logs = tempfile_path("scale-server.log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_quilt-mcp-server"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MCP_LISTEN", format!("127.0.0.1:{port}"))
        .env("MCP_JWT_SECRET", SECRET)
        .env("MCP_JWT_AUDIENCE", AUDIENCE)
        .env("MCP_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn,audit=info")
        .env("MCP_MAX_IN_FLIGHT", "512")
        .env("MCP_CREDENTIAL_SOURCES", "jwt,role_claim")
        .env(
            "MCP_ROLE_ARN_ALLOW",
            format!("arn:aws:iam::{ACCOUNT}:role/subject-*"),
        )
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .env("AWS_ACCESS_KEY_ID", &honeypot_key)
        .env("AWS_SECRET_ACCESS_KEY", &honeypot_secret)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stderr(Stdio::from(std::fs::File::create(&logs).expect("log file")))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn server");
    let base = format!("http://127.0.0.1:{port}");
    let mcp = format!("{base}/mcp");
    let deadline = Instant::now() + Duration::from_secs(30);
    while http()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "server never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = server.id().expect("pid");
    let rss_before = vm_rss_kib(pid);
    let tokens: Vec<String> = (0..SUBJECTS).map(|i| token_for(i, &creds[i])).collect();
    let client = pooled_http();

    // Negative control: a subject's credentials cannot read another subject's object.
    let cross = call_tool_with(
        &client,
        &mcp,
        &tokens[0],
        "bucket_object_text",
        json!({"s3_uri": format!("s3://{BUCKET}/user-01/seed.txt")}),
    )
    .await
    .expect("cross call");
    assert_eq!(
        cross.result()["structuredContent"]["error"]["code"],
        "access_denied",
        "policies are not enforced: {}",
        cross.body
    );

    let load_started = Instant::now();
    let workers: Vec<_> = (0..SUBJECTS)
        .map(|i| {
            let (client, mcp, token) = (client.clone(), mcp.clone(), tokens[i].clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::with_capacity(CALLS_PER_SUBJECT);
                for n in 0..CALLS_PER_SUBJECT {
                    let (tool, args) = plan(i, n);
                    let rpc = call_tool_with(&client, &mcp, &token, tool, args)
                        .await
                        .map_err(|e| e.to_string());
                    outcomes.push(Outcome { i, n, tool, rpc });
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(w.await.expect("worker"));
    }
    let load_time = load_started.elapsed();
    let rss_after = vm_rss_kib(pid);

    // SIGTERM: the server drains and exits 0, and its audit lines are complete.
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    let exit = tokio::time::timeout(Duration::from_secs(30), server.wait())
        .await
        .expect("server exits")
        .expect("wait");
    assert_eq!(exit.code(), Some(0));

    let seen = proxy.seen();
    // Assumed-role keys: the proxy saw STS hand them out, per session.
    for s in &seen {
        if let Some(issued) = &s.issued {
            let i: usize = issued
                .session_name
                .strip_prefix("mcp-subject-")
                .and_then(|n| n.split('-').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected session {issued:?}"));
            owner.insert(issued.access_key.clone(), i);
        }
    }
    let mut wrong = Vec::new();
    check_wire(&seen, &owner, &honeypot_key, &mut wrong);
    let by_request_id: HashMap<&str, &Seen> = seen
        .iter()
        .filter(|s| !s.injected)
        .filter_map(|s| s.request_id.as_deref().map(|id| (id, s)))
        .collect();
    let keys_of: BTreeMap<usize, Vec<&str>> =
        owner.iter().fold(BTreeMap::new(), |mut m, (k, i)| {
            m.entry(*i).or_insert_with(Vec::new).push(k.as_str());
            m
        });
    let mut failed_upstream = 0;
    for o in &outcomes {
        check_answer(
            o,
            &creds,
            &keys_of,
            &honeypot_key,
            &mut wrong,
            &mut failed_upstream,
        );
    }
    let audited = check_audit(
        &std::fs::read_to_string(&logs).expect("logs"),
        &by_request_id,
        &owner,
        &mut wrong,
    );

    let injected = seen.iter().filter(|s| s.injected).count();
    let signed_by_subjects = seen
        .iter()
        .filter(|s| s.access_key.as_deref() != Some(honeypot_key.as_str()))
        .count();
    eprintln!(
        "scale: {} calls by {SUBJECTS} subjects in {load_time:?} ({:.0} calls/s); {} AWS requests \
         at the proxy ({signed_by_subjects} signed by subjects, {} AssumeRole), {injected} injected \
         5xx, {failed_upstream} calls failed upstream_unavailable; {audited} audit lines; server \
         RSS {rss_before:?} → {rss_after:?} KiB; whole test {:?}",
        outcomes.len(),
        outcomes.len() as f64 / load_time.as_secs_f64(),
        seen.len(),
        seen.iter().filter(|s| s.issued.is_some()).count(),
        started.elapsed(),
    );
    assert!(
        wrong.is_empty(),
        "{} isolation failures, first 20:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(outcomes.len() >= 20_000);
    assert!(
        injected > 0,
        "no fault was injected: the proxy is not in the path"
    );
    // One audit line per tool call (the negative control included).
    assert_eq!(audited, outcomes.len() + 1, "audit lines ≠ tool calls");
    // Injected faults are retried by the SDK; the few that exhaust retries are visible
    // failures, never more than there were faults.
    assert!(
        failed_upstream <= injected,
        "{failed_upstream} failed calls for {injected} injected faults"
    );
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("quilt-mcp-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// The wire: every request signed by a known key; the honeypot only assumes roles; S3 paths
/// under `user-N/` signed by subject N.
fn check_wire(
    seen: &[Seen],
    owner: &HashMap<String, usize>,
    honeypot: &str,
    wrong: &mut Vec<String>,
) {
    for s in seen {
        let Some(key) = s.access_key.as_deref() else {
            wrong.push(format!("unsigned request: {s:?}"));
            continue;
        };
        if key == honeypot {
            if s.action.as_deref() != Some("AssumeRole") {
                wrong.push(format!("the server's own key signed a data request: {s:?}"));
            }
            continue;
        }
        let Some(&signer) = owner.get(key) else {
            wrong.push(format!("signed with a key no subject owns: {s:?}"));
            continue;
        };
        if let Some(rest) = s.path.strip_prefix(&format!("/{BUCKET}/user-")) {
            let target: Option<usize> = rest.get(..2).and_then(|n| n.parse().ok());
            // The one negative control (subject 0 reading subject 1) is expected and denied.
            let control = signer == 0 && target == Some(1) && s.status == 403;
            if target != Some(signer) && !control {
                wrong.push(format!(
                    "subject {signer} signed a request for {rest}: {s:?}"
                ));
            }
        }
    }
}

/// One answer: its own caller, nobody else's data or keys.
fn check_answer(
    o: &Outcome,
    creds: &[Creds],
    keys_of: &BTreeMap<usize, Vec<&str>>,
    honeypot: &str,
    wrong: &mut Vec<String>,
    failed_upstream: &mut usize,
) {
    let (i, n) = (o.i, o.n);
    let rpc = match &o.rpc {
        Ok(rpc) => rpc,
        Err(e) => {
            wrong.push(format!(
                "subject {i} call {n} ({}): transport error {e}",
                o.tool
            ));
            return;
        }
    };
    if rpc.status != 200 || rpc.body.get("error").is_some() {
        wrong.push(format!(
            "subject {i} call {n} ({}): HTTP {} {}",
            o.tool, rpc.status, rpc.body
        ));
        return;
    }
    let text = rpc.body.to_string();
    for j in (0..SUBJECTS).filter(|j| *j != i) {
        if text.contains(&marker(j))
            || keys_of
                .get(&j)
                .is_some_and(|ks| ks.iter().any(|k| text.contains(k)))
        {
            wrong.push(format!(
                "subject {i} call {n} ({}) carries subject {j}'s data: {text}",
                o.tool
            ));
        }
    }
    if text.contains(honeypot) {
        wrong.push(format!(
            "subject {i} call {n} ({}) carries the server's key",
            o.tool
        ));
    }
    let result = &rpc.body["result"];
    let s = &result["structuredContent"];
    if result["isError"] == true {
        if s["error"]["code"] == "upstream_unavailable" {
            *failed_upstream += 1;
        } else {
            wrong.push(format!("subject {i} call {n} ({}): {s}", o.tool));
        }
        return;
    }
    let own_arn = match &creds[i] {
        Creds::User { .. } => format!("arn:aws:iam::{ACCOUNT}:user/{}", subject(i)),
        Creds::Role { .. } => format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/{}-role/mcp-{}",
            subject(i),
            subject(i)
        ),
    };
    let ok = match o.tool {
        "bucket_objects_put" => {
            s["succeeded"] == 1
                && s["results"][0]["key"]
                    .as_str()
                    .is_some_and(|k| k.starts_with(&format!("user-{i:02}/")))
        }
        "bucket_object_text" => s["text"]
            .as_str()
            .is_some_and(|t| t.starts_with(&format!("{} seed", marker(i)))),
        "bucket_object_link" => s["url"].as_str().is_some_and(|u| {
            let query = u.split_once('?').map(|(_, q)| q).unwrap_or_default();
            crate::fault_proxy::signer(None, query)
                .is_some_and(|k| keys_of.get(&i).is_some_and(|ks| ks.contains(&k.as_str())))
        }),
        "athena_databases_list" => s["databases"].as_array().is_some_and(|d| !d.is_empty()),
        "auth_status" => {
            s["subject"] == subject(i).as_str()
                // Assumed-role session names end in the caller's identity hash.
                && (s["aws_identity"].is_null()
                    || s["aws_identity"]["arn"].as_str().map(unhashed_or_same) == Some(own_arn.clone()))
        }
        other => panic!("unplanned tool {other}"),
    };
    if !ok {
        wrong.push(format!(
            "subject {i} call {n} ({}) not answered as its caller: {s}",
            o.tool
        ));
    }
}

/// The audit trail: one line per call; its AWS requests signed by its subject; everything it
/// touched under the subject's prefix. Returns the number of tool-call lines.
fn check_audit(
    logs: &str,
    by_request_id: &HashMap<&str, &Seen>,
    owner: &HashMap<String, usize>,
    wrong: &mut Vec<String>,
) -> usize {
    let mut lines = 0;
    let mut ids_checked = 0;
    for line in logs.lines() {
        let Ok(l) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if l["target"] != "audit" || l["event"] != "tool_call" {
            continue;
        }
        lines += 1;
        let Some(i) = l["subject"]
            .as_str()
            .and_then(|s| s.strip_prefix("subject-"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            wrong.push(format!("audit line for an unknown subject: {l}"));
            continue;
        };
        let control = i == 0 && l["error_code"] == "access_denied";
        for touched in l["touched"].as_str().unwrap_or_default().split_whitespace() {
            if !touched.starts_with(&format!("{BUCKET}/user-{i:02}/")) && !control {
                wrong.push(format!("subject {i} touched {touched}: {l}"));
            }
        }
        for id in l["aws_request_ids"]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
        {
            let Some(s) = by_request_id.get(id) else {
                continue;
            };
            ids_checked += 1;
            let signer = s.access_key.as_deref().and_then(|k| owner.get(k));
            if signer != Some(&i) {
                wrong.push(format!(
                    "audit line of subject {i} names request {id}, signed by {signer:?}: {s:?}"
                ));
            }
        }
    }
    // The cross-check must actually have happened.
    if ids_checked < 1000 {
        wrong.push(format!(
            "only {ids_checked} audited AWS request ids matched the proxy's log"
        ));
    }
    eprintln!("scale: {ids_checked} audited AWS request ids matched to their signer at the proxy");
    lines
}
