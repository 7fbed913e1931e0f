//! The Quilt stack's read and write roles: found from the CloudFormation stack when only its
//! name is given, and watched in the background so `/healthz` can say whether each can be
//! assumed. A role that cannot be found or assumed is a warning and a `failed` status —
//! never a crash: the server keeps serving the sources that do work.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use quilt_mcp_auth::RoleArn;

use crate::ambient::ServerIdentity;
use crate::cache::{Clock, REFRESH_MARGIN};
use crate::error::describe_sdk_error;
use crate::source::AccessIntent;
use crate::sts::{AssumeRequest, RoleAssumer};

/// The logical ids of the roles in a Quilt stack.
pub const READ_ROLE_LOGICAL_ID: &str = "T4BucketReadRole";
/// See [`READ_ROLE_LOGICAL_ID`].
pub const WRITE_ROLE_LOGICAL_ID: &str = "T4BucketWriteRole";

/// The subject the health checks assume the roles as.
const HEALTH_SUBJECT: &str = "quilt-mcp-server-health";
/// The issuer of the health-check identity: the server itself (a reserved name no token has).
const HEALTH_ISSUER: &str = "quilt-mcp:server";

/// A role's state, as `/healthz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleState {
    /// The last assumption worked.
    Assumed,
    /// The last assumption failed.
    Failed,
    /// Not tried yet.
    Pending,
    /// No such role configured.
    NotConfigured,
}

/// One role's health.
#[derive(Debug, Clone)]
pub struct RoleStatus {
    /// The role.
    pub arn: Option<RoleArn>,
    /// Its state.
    pub state: RoleState,
    /// When the health check's credentials expire.
    pub expires_at: Option<SystemTime>,
    /// When it was last tried.
    pub last_checked: Option<SystemTime>,
    /// The last error, when the last try failed.
    pub error: Option<String>,
}

impl RoleStatus {
    fn for_role(arn: Option<RoleArn>) -> Self {
        let state = if arn.is_some() {
            RoleState::Pending
        } else {
            RoleState::NotConfigured
        };
        Self {
            arn,
            state,
            expires_at: None,
            last_checked: None,
            error: None,
        }
    }
}

/// The roles found in a stack.
#[derive(Debug, Clone, Default)]
pub struct DiscoveredRoles {
    /// `T4BucketReadRole`, as an ARN.
    pub read: Option<RoleArn>,
    /// `T4BucketWriteRole`, as an ARN.
    pub write: Option<RoleArn>,
    /// What was missing or odd.
    pub warnings: Vec<String>,
}

/// Finds the read/write roles of the CloudFormation stack `stack_name`.
pub async fn discover(
    identity: &ServerIdentity,
    stack_name: &str,
) -> Result<DiscoveredRoles, String> {
    let resources = identity
        .cloudformation()
        .describe_stack_resources()
        .stack_name(stack_name)
        .send()
        .await
        .map_err(|e| {
            format!(
                "DescribeStackResources {stack_name}: {}",
                describe_sdk_error(&e).1
            )
        })?;
    let caller = identity
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| format!("GetCallerIdentity: {}", describe_sdk_error(&e).1))?;
    let account = caller.account().unwrap_or_default().to_owned();
    let partition = caller
        .arn()
        .and_then(|a| a.split(':').nth(1))
        .unwrap_or("aws")
        .to_owned();
    let mut found = DiscoveredRoles::default();
    for (logical_id, slot) in [
        (READ_ROLE_LOGICAL_ID, &mut found.read),
        (WRITE_ROLE_LOGICAL_ID, &mut found.write),
    ] {
        // Resources of types CloudFormation does not model may lack a logical id: skip them.
        let physical = resources
            .stack_resources()
            .iter()
            .find(|r| r.logical_resource_id() == Some(logical_id))
            .and_then(|r| r.physical_resource_id());
        let Some(physical) = physical else {
            found
                .warnings
                .push(format!("stack {stack_name} has no {logical_id}"));
            continue;
        };
        let arn = if physical.starts_with("arn:") {
            physical.to_owned()
        } else {
            format!("arn:{partition}:iam::{account}:role/{physical}")
        };
        match RoleArn::parse(&arn) {
            Ok(arn) => *slot = Some(arn),
            Err(e) => found.warnings.push(format!("{logical_id}: {e}")),
        }
    }
    Ok(found)
}

/// The configured stack roles and their health.
#[derive(Debug)]
pub struct StackRoles {
    read: Option<RoleArn>,
    write: Option<RoleArn>,
    status: RwLock<(RoleStatus, RoleStatus)>,
    assumer: Option<Arc<dyn RoleAssumer>>,
    clock: Arc<dyn Clock>,
    duration_s: i32,
}

impl StackRoles {
    /// Roles `read` and `write`, checked with `assumer` (none when the server has no identity).
    pub fn new(
        read: Option<RoleArn>,
        write: Option<RoleArn>,
        assumer: Option<Arc<dyn RoleAssumer>>,
        clock: Arc<dyn Clock>,
        duration_s: i32,
    ) -> Self {
        let status = RwLock::new((
            RoleStatus::for_role(read.clone()),
            RoleStatus::for_role(write.clone()),
        ));
        Self {
            read,
            write,
            status,
            assumer,
            clock,
            duration_s,
        }
    }

    /// Whether any stack role is configured.
    pub fn is_configured(&self) -> bool {
        self.read.is_some() || self.write.is_some()
    }

    /// The role for `intent`: write intent uses the write role, or the read role when there
    /// is no write role.
    pub fn role_for(&self, intent: AccessIntent) -> Option<&RoleArn> {
        match intent {
            AccessIntent::Read => self.read.as_ref(),
            AccessIntent::Write => self.write.as_ref().or(self.read.as_ref()),
        }
    }

    /// The read and write roles' health.
    pub fn status(&self) -> (RoleStatus, RoleStatus) {
        self.status
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Assumes every configured role once and records the outcome (logged per role).
    pub async fn check(&self) {
        for (name, arn) in [("read", self.read.clone()), ("write", self.write.clone())] {
            let Some(arn) = arn else { continue };
            let outcome = match &self.assumer {
                None => Err("the server has no AWS identity to assume roles with".to_owned()),
                Some(assumer) => assumer
                    .assume(AssumeRequest::for_caller(
                        arn.clone(),
                        HEALTH_ISSUER,
                        HEALTH_SUBJECT,
                        self.duration_s,
                    ))
                    .await
                    .map_err(|f| f.message),
            };
            let now = self.clock.now();
            let mut status = self
                .status
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let slot = if name == "read" {
                &mut status.0
            } else {
                &mut status.1
            };
            slot.last_checked = Some(now);
            match outcome {
                Ok(creds) => {
                    if slot.state != RoleState::Assumed {
                        tracing::info!(role = name, arn = %arn, "stack role assumed");
                    }
                    slot.state = RoleState::Assumed;
                    slot.expires_at = creds.expires_at();
                    slot.error = None;
                }
                Err(error) => {
                    tracing::warn!(role = name, arn = %arn, %error, "stack role cannot be assumed");
                    slot.state = RoleState::Failed;
                    slot.expires_at = None;
                    slot.error = Some(error);
                }
            }
        }
    }

    /// Whether a role needs checking again: failed, pending, or near its expiry.
    fn needs_check(&self) -> bool {
        let (read, write) = self.status();
        let now = self.clock.now();
        [read, write].iter().any(|s| match s.state {
            RoleState::NotConfigured => false,
            RoleState::Pending | RoleState::Failed => true,
            RoleState::Assumed => s.expires_at.is_none_or(|e| now + REFRESH_MARGIN >= e),
        })
    }

    /// Re-checks in the background every `every` while needed; stops when `self` is dropped.
    pub fn spawn_refresh(self: &Arc<Self>, every: Duration) {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(roles) = weak.upgrade() else { return };
                if roles.needs_check() {
                    roles.check().await;
                }
            }
        });
    }
}
