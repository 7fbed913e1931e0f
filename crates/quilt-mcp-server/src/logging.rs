//! Log set-up: `RUST_LOG` filtering (default `info,rmcp=warn`: rmcp logs every stateless
//! request's start and end at info), text or JSON lines (`MCP_LOG_FORMAT=json` on ECS), to
//! stderr — stdout belongs to the stdio transport's protocol stream. Text is coloured only
//! when stderr is a terminal: a log file or a pipe gets plain lines, no ANSI escapes.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber once; later calls are no-ops (tests start many servers).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rmcp=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
