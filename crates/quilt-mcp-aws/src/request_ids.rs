//! The AWS request id of every call a caller's client makes, handed to whoever keeps the
//! call's record (the server's audit line), by an SDK interceptor that [`ClientFactory`]
//! puts on every client it builds — so no call site has to remember to note it.
//!
//! The id is read from the final response of each operation (after the SDK's retries), the
//! same header the SDK's own `request_id()` reads (`x-amzn-requestid`, else S3's
//! `x-amz-request-id`), for failed operations too: an `AccessDenied` has an id AWS support
//! can trace. An operation that never got a response (connection refused, timeout) has none.
//! This crate does not know where the ids go: the sink is a plain callback, so the layering
//! stays one way (the server's call scope is above it).
//!
//! [`ClientFactory`]: crate::ClientFactory

use std::sync::Arc;

use aws_sdk_sts::operation::RequestId as _;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Where the request ids go: called once per operation with its AWS request id, on the task
/// that made the call (so a task-local of the caller's is in reach).
pub type RequestIdSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The interceptor. See the module docs.
#[derive(Clone)]
pub(crate) struct RecordRequestIds(pub(crate) RequestIdSink);

impl std::fmt::Debug for RecordRequestIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordRequestIds")
    }
}

impl Intercept for RecordRequestIds {
    fn name(&self) -> &'static str {
        "RecordRequestIds"
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(id) = context.response().and_then(|r| r.request_id()) {
            (self.0)(id);
        }
        Ok(())
    }
}
