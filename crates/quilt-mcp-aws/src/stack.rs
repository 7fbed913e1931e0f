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
    /// Why `read` was not found (missing, ambiguous, not a role ARN).
    pub read_problem: Option<String>,
    /// Why `write` was not found.
    pub write_problem: Option<String>,
    /// Where each role was found (`stack/logical id`), for the operator.
    pub found_in: Vec<String>,
}

impl DiscoveredRoles {
    /// Every problem, for logs and the `discover-stack` command.
    pub fn warnings(&self) -> Vec<String> {
        self.read_problem
            .iter()
            .chain(self.write_problem.iter())
            .cloned()
            .collect()
    }
}

/// One stack resource, as `ListStackResources` summarises it.
#[derive(Debug, Clone)]
struct Resource {
    logical_id: String,
    physical_id: Option<String>,
    kind: Option<String>,
}

const NESTED_STACK_TYPE: &str = "AWS::CloudFormation::Stack";
const ROLE_TYPE: &str = "AWS::IAM::Role";
/// Nested stacks searched at most (a Quilt stack has a handful; this bounds the calls a
/// misnamed stack can cost at start-up).
const MAX_NESTED_STACKS: usize = 50;

/// Every resource of `stack`, through all pages of `ListStackResources`. (Not
/// `DescribeStackResources`: that returns only the first 100 resources, and a Quilt stack has
/// more, so the roles could be cut off.)
async fn list_resources(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<Vec<Resource>, String> {
    let mut pages = cfn
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| format!("ListStackResources {stack}: {}", describe_sdk_error(&e).1))?;
        out.extend(page.stack_resource_summaries().iter().filter_map(|r| {
            // Resources of types CloudFormation does not model may lack a logical id: skip them.
            Some(Resource {
                logical_id: r.logical_resource_id()?.to_owned(),
                physical_id: r.physical_resource_id().map(str::to_owned),
                kind: r.resource_type().map(str::to_owned),
            })
        }));
    }
    Ok(out)
}

/// Finds the read/write roles of the CloudFormation stack `stack_name`: by logical id in the
/// stack itself, or else in its nested stacks, one level down (a Quilt stack may keep its roles
/// in a nested stack). `Err` only when the stack itself cannot be read; a role that is missing,
/// found in more than one nested stack, of another type or not a valid role ARN is a problem
/// named in the result.
pub async fn discover(
    identity: &ServerIdentity,
    stack_name: &str,
) -> Result<DiscoveredRoles, String> {
    let cfn = identity.cloudformation();
    let top = list_resources(&cfn, stack_name).await?;
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

    // Nested stacks are listed only when the top level lacks a role.
    let wanted = [READ_ROLE_LOGICAL_ID, WRITE_ROLE_LOGICAL_ID];
    let top_has_all = wanted
        .iter()
        .all(|id| top.iter().any(|r| r.logical_id == *id));
    let mut nested: Vec<(String, Vec<Resource>)> = Vec::new();
    let mut nested_errors: Vec<String> = Vec::new();
    if !top_has_all {
        let children: Vec<&Resource> = top
            .iter()
            .filter(|r| r.kind.as_deref() == Some(NESTED_STACK_TYPE))
            .collect();
        for child in children.into_iter().take(MAX_NESTED_STACKS) {
            let Some(id) = child.physical_id.as_deref() else {
                continue;
            };
            match list_resources(&cfn, id).await {
                Ok(resources) => {
                    nested.push((format!("{stack_name}/{}", child.logical_id), resources))
                }
                Err(e) => nested_errors.push(e),
            }
        }
    }

    let mut found = DiscoveredRoles::default();
    for logical_id in wanted {
        let outcome = locate(stack_name, &top, &nested, logical_id).and_then(|(place, r)| {
            role_arn(logical_id, &place, r, &partition, &account).map(|arn| (place, arn))
        });
        let (slot, problem) = if logical_id == READ_ROLE_LOGICAL_ID {
            (&mut found.read, &mut found.read_problem)
        } else {
            (&mut found.write, &mut found.write_problem)
        };
        match outcome {
            Ok((place, arn)) => {
                found.found_in.push(format!("{place}/{logical_id}"));
                *slot = Some(arn);
            }
            Err(mut e) => {
                if !nested_errors.is_empty() {
                    e.push_str(&format!(
                        " (nested stacks not readable: {})",
                        nested_errors.join("; ")
                    ));
                }
                *problem = Some(e);
            }
        }
    }
    Ok(found)
}

/// Where `logical_id` is: the top level first, else exactly one nested stack.
fn locate<'a>(
    stack_name: &str,
    top: &'a [Resource],
    nested: &'a [(String, Vec<Resource>)],
    logical_id: &str,
) -> Result<(String, &'a Resource), String> {
    if let Some(r) = top.iter().find(|r| r.logical_id == logical_id) {
        return Ok((stack_name.to_owned(), r));
    }
    let hits: Vec<(&String, &Resource)> = nested
        .iter()
        .filter_map(|(place, rs)| {
            rs.iter()
                .find(|r| r.logical_id == logical_id)
                .map(|r| (place, r))
        })
        .collect();
    match hits.as_slice() {
        [] => Err(format!(
            "stack {stack_name} has no {logical_id} (searched {} resources and {} nested stacks)",
            top.len(),
            nested.len()
        )),
        [(place, r)] => Ok(((*place).clone(), r)),
        many => Err(format!(
            "stack {stack_name}: {logical_id} is in several nested stacks ({}); give its ARN explicitly",
            many.iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The role ARN of a found resource: its physical id is the role name (CloudFormation's
/// physical id of an `AWS::IAM::Role`), made an ARN with the server's partition and account,
/// or an ARN already; either way it must pass the role ARN rule.
fn role_arn(
    logical_id: &str,
    place: &str,
    r: &Resource,
    partition: &str,
    account: &str,
) -> Result<RoleArn, String> {
    let Some(physical) = r.physical_id.as_deref().filter(|p| !p.is_empty()) else {
        return Err(format!(
            "{place}/{logical_id} has no physical id yet (is the stack still being created?)"
        ));
    };
    let arn = if physical.starts_with("arn:") {
        physical.to_owned()
    } else {
        format!("arn:{partition}:iam::{account}:role/{physical}")
    };
    let arn = RoleArn::parse(&arn)
        .map_err(|e| format!("{place}/{logical_id}: {arn} fails the role ARN rule: {e}"))?;
    match r.kind.as_deref() {
        Some(kind) if kind != ROLE_TYPE => Err(format!(
            "{place}/{logical_id} is a {kind}, not an {ROLE_TYPE}"
        )),
        _ => Ok(arn),
    }
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

    /// Records why stack discovery found no read or write role, so `/healthz` says so: a
    /// missing read role is `failed` (nothing can serve `stack_roles`), a missing write role
    /// stays `not_configured` (write intent uses the read role) with the reason as its error.
    /// Roles that were found or given are left alone.
    pub fn record_discovery_problems(&self, read: Option<String>, write: Option<String>) {
        let mut status = self
            .status
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.clock.now();
        if let (None, Some(error)) = (&self.read, read) {
            status.0.state = RoleState::Failed;
            status.0.last_checked = Some(now);
            status.0.error = Some(error);
        }
        if let (None, Some(error)) = (&self.write, write) {
            status.1.last_checked = Some(now);
            status.1.error = Some(error);
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
