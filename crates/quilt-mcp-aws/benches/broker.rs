//! Run with `make bench` (or `cargo bench -p quilt-mcp-aws --bench broker`).
//!
//! What a caller pays for credentials: the first call for a subject (an AssumeRole against
//! the moto emulator on loopback, so STS's own latency is moto's, a few milliseconds), and
//! every later call (a cache hit). Needs `.venv/bin/moto_server` (`make venv`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use quilt_mcp_auth::{AuthMethod, Principal, RequestContext, RoleArn};
use quilt_mcp_aws::cache::SystemClock;
use quilt_mcp_aws::stack::StackRoles;
use quilt_mcp_aws::sts::{RoleAssumer, StsAssumer};
use quilt_mcp_aws::{
    AccessIntent, AwsSettings, BrokerConfig, CredentialBroker, CredentialSource, ServerIdentity,
};

struct Moto(std::process::Child, String);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto() -> Moto {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let child = std::process::Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("moto_server (run `make venv`)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Moto(child, format!("http://127.0.0.1:{port}"))
}

fn broker(url: &str) -> CredentialBroker {
    let settings = AwsSettings::new("us-east-1", Some(url.to_owned()));
    let identity = ServerIdentity::from_static_keys("AKIABENCHBENCHBENCH1", "bench", settings);
    let assumer: Arc<dyn RoleAssumer> = Arc::new(StsAssumer::new(identity.sts()));
    // moto accepts AssumeRole for a role that does not exist while IAM enforcement is off.
    let role = RoleArn::parse("arn:aws:iam::123456789012:role/BenchReadRole").expect("arn");
    let roles = Arc::new(StackRoles::new(
        Some(role),
        None,
        Some(assumer.clone()),
        Arc::new(SystemClock),
        3600,
    ));
    CredentialBroker::new(
        BrokerConfig::new(vec![CredentialSource::StackRoles]),
        Some(assumer),
        None,
        roles,
        Arc::new(SystemClock),
    )
    .expect("broker")
}

fn ctx(subject: String) -> RequestContext {
    RequestContext::new(
        Principal::local(subject),
        AuthMethod::Hs256,
        "bench",
        "http",
    )
}

fn bench(c: &mut Criterion) {
    let moto = moto();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let broker = broker(&moto.1);
    let mut group = c.benchmark_group("credentials");
    group.measurement_time(Duration::from_secs(5));

    let n = AtomicUsize::new(0);
    group.bench_function("first_call_assume_role", |b| {
        b.to_async(&rt).iter(|| async {
            let ctx = ctx(format!("subject-{}", n.fetch_add(1, Ordering::Relaxed)));
            broker
                .resolve(&ctx, AccessIntent::Read)
                .await
                .expect("resolve")
        })
    });

    let warm = ctx("warm-subject".into());
    rt.block_on(broker.resolve(&warm, AccessIntent::Read))
        .expect("warm");
    group.bench_function("cached_call", |b| {
        b.to_async(&rt).iter(|| async {
            broker
                .resolve(&warm, AccessIntent::Read)
                .await
                .expect("resolve")
        })
    });
    group.finish();
    eprintln!(
        "AssumeRole calls made: {} for {} distinct subjects",
        broker.assume_role_calls(),
        n.load(Ordering::Relaxed) + 1
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
