//! Serving HTTP with a graceful end: on SIGTERM/SIGINT readiness flips at once, the listener
//! stops accepting, in-flight requests get `MCP_SHUTDOWN_GRACE_S` to finish, and the process
//! exits 0. Past the grace period remaining work is cancelled (Fargate would kill it anyway).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::aws::Aws;
use crate::config::{Config, Mode};
use crate::logging;

/// Everything `serve` does before serving: validate the configuration, start logging, bring
/// up AWS access (server identity, stack roles), build the app, fetch the JWKS, and bind.
pub async fn prepare(config: Config) -> anyhow::Result<(Arc<App>, TcpListener)> {
    let settings = config.validate(Mode::Http)?;
    logging::init(settings.log_format);
    crate::metrics::init(settings.metrics_namespace.as_deref());
    let aws = Aws::bootstrap(&settings).await?;
    let app = App::new(settings, aws)?;
    if let Some(verifier) = &app.verifier {
        verifier.prefetch().await;
    }
    let listener = TcpListener::bind(app.settings.http.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", app.settings.http.listen))?;
    if app.verifier.is_none() {
        tracing::warn!(
            "authentication is DISABLED (MCP_AUTH_DISABLED=true): loopback development only"
        );
    }
    Ok((app, listener))
}

/// Serves `router` on `listener` until `stop` resolves, then drains.
pub async fn serve(
    app: Arc<App>,
    router: Router,
    listener: TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let draining = CancellationToken::new();
    let drain_started = Arc::new(std::sync::OnceLock::new());
    let signal = {
        let app = app.clone();
        let draining = draining.clone();
        let drain_started = drain_started.clone();
        async move {
            stop.await;
            let _ = drain_started.set(tokio::time::Instant::now());
            app.lifecycle.set_draining();
            tracing::info!(
                grace_s = app.settings.http.shutdown_grace.as_secs(),
                in_flight = app.admission.in_flight(),
                "shutting down: draining in-flight requests"
            );
            draining.cancel();
        }
    };
    app.lifecycle.set_ready();
    let server = axum::serve(listener, router).with_graceful_shutdown(signal);
    let grace = app.settings.http.shutdown_grace;
    let deadline = async {
        draining.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    let result = tokio::select! {
        result = server.into_future() => result,
        () = deadline => {
            tracing::warn!(in_flight = app.admission.in_flight(), "grace period over; abandoning remaining requests");
            Ok(())
        }
    };
    // Package task runs (background.rs) outlive their requests: they get what is left of the
    // grace period, then are told to stop and record themselves as abandoned (a bounded write).
    let left = drain_started
        .get()
        .map_or(grace, |at| grace.saturating_sub(at.elapsed()));
    if tokio::time::timeout(left, app.background.idle())
        .await
        .is_err()
    {
        tracing::warn!(
            runs = app.background.running(),
            "grace period over; abandoning package task runs"
        );
        app.background.stop();
        let _ = tokio::time::timeout(ABANDON_WRITE, app.background.idle()).await;
    }
    app.shutdown.cancel();
    tracing::info!("stopped");
    result
}

/// How long stopped background runs get to record themselves as abandoned.
const ABANDON_WRITE: std::time::Duration = std::time::Duration::from_secs(3);

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}
