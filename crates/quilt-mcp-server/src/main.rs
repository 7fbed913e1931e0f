//! The `quilt-mcp-server` binary: `serve` (default), `stdio`, `healthcheck`, `token`,
//! `discover-stack`.
//! Run with `cargo run -p quilt-mcp-server -- --help`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use quilt_mcp_aws::{AwsSettings, ServerIdentity};
use quilt_mcp_server::aws::Aws;
use quilt_mcp_server::config::{Config, Mode};
use quilt_mcp_server::mcp::{Identity, McpServer};
use quilt_mcp_server::token::TokenArgs;
use quilt_mcp_server::{ToolRegistry, app, healthcheck, logging, token, transport};

/// A stateless MCP server for governed access to data in AWS.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP over streamable HTTP (the default).
    Serve(Config),
    /// Serve MCP over stdin/stdout for a desktop client, as the local user.
    Stdio(Config),
    /// Probe /healthz of the server at MCP_LISTEN; exit 0 when healthy.
    Healthcheck {
        /// Address the server listens on.
        #[arg(long, env = "MCP_LISTEN", default_value = "127.0.0.1:8000")]
        listen: std::net::SocketAddr,
        /// Timeout in seconds.
        #[arg(long, default_value_t = 3)]
        timeout_s: u64,
    },
    /// Mint an HS256 token for development and tests.
    Token(TokenArgs),
    /// Check that a bucket enforces SSE-S3: three probe writes (no SSE must be denied, AES256
    /// accepted, aws:kms denied) with your own AWS credentials; non-zero exit on a failure.
    S3PolicyTest {
        /// The bucket.
        #[arg(long)]
        bucket: String,
        /// Key prefix for the probe objects (they are deleted afterwards).
        #[arg(long, default_value = "")]
        prefix: String,
        /// AWS region.
        #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
        aws_region: String,
        /// AWS endpoint override (local emulators).
        #[arg(long, env = "AWS_ENDPOINT_URL")]
        aws_endpoint_url: Option<String>,
    },
    /// Print the read/write role ARNs of a Quilt CloudFormation stack.
    DiscoverStack {
        /// The stack.
        #[arg(long, env = "QUILT_STACK_NAME")]
        stack_name: String,
        /// AWS region.
        #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
        aws_region: String,
        /// AWS endpoint override (local emulators).
        #[arg(long, env = "AWS_ENDPOINT_URL")]
        aws_endpoint_url: Option<String>,
    },
}

fn main() -> ExitCode {
    // Values clap parses itself are refused naming their environment variable (config.rs).
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => quilt_mcp_server::config::name_the_variable(
            e,
            &<Cli as clap::CommandFactory>::command(),
        )
        .exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            None => serve(cli.serve).await,
            Some(Command::Serve(config)) => serve(config).await,
            Some(Command::Stdio(config)) => stdio(config).await,
            Some(Command::Healthcheck { listen, timeout_s }) => {
                healthcheck::probe(listen, Duration::from_secs(timeout_s))
                    .await
                    .map_err(anyhow::Error::msg)
            }
            Some(Command::Token(args)) => token::mint(&args)
                .map(|t| println!("{t}"))
                .map_err(anyhow::Error::msg),
            Some(Command::S3PolicyTest {
                bucket,
                prefix,
                aws_region,
                aws_endpoint_url,
            }) => s3_policy_test(&bucket, &prefix, aws_region, aws_endpoint_url).await,
            Some(Command::DiscoverStack {
                stack_name,
                aws_region,
                aws_endpoint_url,
            }) => discover_stack(&stack_name, aws_region, aws_endpoint_url).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let (app, listener) = transport::http::prepare(config).await?;
    tracing::info!(listen = %app.settings.http.listen, public_url = app.settings.http.public_url, auth = app.verifier.is_some(), "serving MCP over HTTP");
    let tools =
        Arc::new(ToolRegistry::product(&app.aws, &app.settings).with_background(&app.background));
    let router = app::router(app.clone(), move || {
        McpServer::new(tools.clone(), Identity::Http)
    });
    transport::http::serve(app, router, listener, transport::http::shutdown_signal()).await?;
    Ok(())
}

async fn stdio(config: Config) -> anyhow::Result<()> {
    let settings = config.validate(Mode::Stdio)?;
    logging::init(settings.log_format);
    let aws = Aws::bootstrap(&settings).await?;
    transport::stdio::serve(Arc::new(ToolRegistry::product(&aws, &settings))).await
}

async fn s3_policy_test(
    bucket: &str,
    prefix: &str,
    region: String,
    endpoint_url: Option<String>,
) -> anyhow::Result<()> {
    // The operator's own credentials, as over stdio: a local principal with the ambient source.
    let mut config = Config::with_defaults("127.0.0.1:0".parse()?);
    config.aws_region = region;
    config.aws_endpoint_url = endpoint_url;
    let settings = config.validate(Mode::Stdio)?;
    let aws = Aws::bootstrap(&settings).await?;
    let (probes, cleanup) = quilt_mcp_server::policy_test::run(&aws, bucket, prefix).await?;
    print!(
        "{}",
        quilt_mcp_server::policy_test::table(bucket, prefix, &probes)
    );
    for problem in &cleanup {
        eprintln!("warning: {problem}");
    }
    let failed = probes.iter().filter(|p| !p.passed()).count();
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} probes did not match the policy's expectation",
            probes.len()
        );
    }
    Ok(())
}

async fn discover_stack(
    stack_name: &str,
    region: String,
    endpoint_url: Option<String>,
) -> anyhow::Result<()> {
    let identity = ServerIdentity::load(AwsSettings::new(region, endpoint_url))
        .await
        .map_err(anyhow::Error::msg)?;
    let found = quilt_mcp_aws::stack::discover(&identity, stack_name)
        .await
        .map_err(anyhow::Error::msg)?;
    for place in &found.found_in {
        eprintln!("found {place}");
    }
    for warning in found.warnings() {
        eprintln!("warning: {warning}");
    }
    let show = |arn: &Option<quilt_mcp_auth::RoleArn>| {
        arn.as_ref().map(ToString::to_string).unwrap_or_default()
    };
    println!("QUILT_READ_ROLE_ARN={}", show(&found.read));
    println!("QUILT_WRITE_ROLE_ARN={}", show(&found.write));
    if found.read.is_none() {
        anyhow::bail!(
            "stack {stack_name} has no usable {}: {}",
            quilt_mcp_aws::stack::READ_ROLE_LOGICAL_ID,
            found.read_problem.as_deref().unwrap_or("not found")
        );
    }
    Ok(())
}
