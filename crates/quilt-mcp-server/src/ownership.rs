//! Who owns what a tool started in a shared service, decided by the server: under
//! `stack_roles` every caller is the same IAM role, so IAM cannot keep one caller's Athena
//! executions from another. Each execution this server starts carries its owner — a keyed
//! hash of the caller's identity ([`crate::seal::Owner`]) — in a first SQL comment line:
//!
//! ```sql
//! -- quilt-mcp:owner=<32 hex digits>
//! SELECT …
//! ```
//!
//! Athena keeps the query text with the execution, so every task of the service can read the
//! owner back (`GetQueryExecution`) without any state of its own. A caller cannot forge
//! another's tag without the server key, and the SQL a caller sends comes after the tag, so
//! it cannot replace it. History shows only the caller's own executions, with the tag removed;
//! results and status of any other execution — another caller's, one started outside this
//! server, or one in a workgroup the server does not allow — are `not_found`, the same answer
//! as for an id that does not exist, so ids cannot be probed.
//!
//! Athena is also outside the bucket grants (a query reads any table the role can), so a
//! caller whose buckets are restricted may not use the query tools unless the operator says
//! so ([`GrantsPolicy`]).

use aws_sdk_athena::types::QueryExecution;
use quilt_mcp_auth::Principal;

use crate::seal::Owner;
use crate::tool_error::{ErrorCode, ToolError};

/// The first line of every query this server starts, before the owner's hex.
const TAG: &str = "-- quilt-mcp:owner=";

/// `sql` with `owner`'s tag line in front.
pub(crate) fn tag_query(owner: &Owner, sql: &str) -> String {
    format!("{TAG}{}\n{sql}", owner.hex())
}

/// The owner a query's text names, when it starts with this server's tag.
pub(crate) fn query_owner(sql: &str) -> Option<Owner> {
    let (first, _) = sql.split_once('\n')?;
    Owner::from_hex(first.strip_prefix(TAG)?)
}

/// The query as the caller wrote it (without the tag line).
pub(crate) fn untagged(sql: &str) -> &str {
    match sql.split_once('\n') {
        Some((first, rest)) if first.starts_with(TAG) => rest,
        _ => sql,
    }
}

/// Whether `execution` is `owner`'s and runs in one of the `allowed` workgroups.
pub(crate) fn owns(execution: &QueryExecution, owner: &Owner, allowed: &[String]) -> bool {
    let in_allowed = execution
        .work_group()
        .is_some_and(|wg| allowed.iter().any(|a| a == wg));
    in_allowed && execution.query().and_then(query_owner) == Some(*owner)
}

/// The answer for an execution the caller may not see (or that does not exist): one message
/// for every case.
pub(crate) fn not_found(id: &str) -> ToolError {
    ToolError::new(
        ErrorCode::NotFound,
        format!("no query execution {id} of yours in the workgroups you may use"),
    )
    .with_hint("athena_query_history lists your executions")
}

/// Whether bucket-restricted callers may use the Athena query tools.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GrantsPolicy {
    /// `QUILT_BUCKETS` is set: the operator restricts every caller's buckets.
    pub server_restricts: bool,
    /// `ATHENA_OUTSIDE_BUCKET_GRANTS=true`: Athena is allowed anyway.
    pub athena_allowed: bool,
}

impl GrantsPolicy {
    /// Refuses the query tools for a caller whose buckets are restricted (by the token's
    /// `buckets` claim or `QUILT_BUCKETS`) unless the operator allowed Athena explicitly.
    pub(crate) fn check(&self, principal: &Principal) -> Result<(), ToolError> {
        let restricted = self.server_restricts || principal.buckets.is_some();
        if restricted && !self.athena_allowed {
            return Err(ToolError::not_permitted(
                "Athena is outside bucket grants: a query can read any table the role can, and your buckets are restricted",
            )
            .with_hint("the operator can allow it with ATHENA_OUTSIDE_BUCKET_GRANTS=true"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::SealKey;

    #[test]
    fn the_tag_names_the_owner_and_comes_off_for_display() {
        let key = SealKey::random();
        let alice = key.owner(&Principal::local("alice"));
        let bob = key.owner(&Principal::local("bob"));
        let sql = "SELECT 1\n-- quilt-mcp:owner=00000000000000000000000000000000";
        let tagged = tag_query(&alice, sql);
        assert_eq!(query_owner(&tagged), Some(alice));
        assert_ne!(query_owner(&tagged), Some(bob));
        assert_eq!(untagged(&tagged), sql);
        // A caller's own SQL cannot name an owner: only the first line counts.
        assert_eq!(query_owner(sql), None);
        assert_eq!(untagged(sql), sql);
        for bad in [
            "-- quilt-mcp:owner=zz\nSELECT 1",
            "-- quilt-mcp:owner=\nSELECT 1",
            "-- quilt-mcp:owner=00000000000000000000000000000000",
            " -- quilt-mcp:owner=00000000000000000000000000000000\nSELECT 1",
        ] {
            assert_eq!(query_owner(bad), None, "{bad}");
        }
    }

    #[test]
    fn ownership_needs_the_owner_and_an_allowed_workgroup() {
        let key = SealKey::random();
        let alice = key.owner(&Principal::local("alice"));
        let bob = key.owner(&Principal::local("bob"));
        let x = |wg: &str, sql: &str| QueryExecution::builder().work_group(wg).query(sql).build();
        let allowed = vec!["primary".to_owned()];
        let mine = tag_query(&alice, "SELECT 1");
        assert!(owns(&x("primary", &mine), &alice, &allowed));
        assert!(!owns(&x("primary", &mine), &bob, &allowed));
        assert!(!owns(&x("admin", &mine), &alice, &allowed));
        assert!(!owns(&x("primary", "SELECT 1"), &alice, &allowed));
        assert!(!owns(
            &QueryExecution::builder().query(mine).build(),
            &alice,
            &allowed
        ));
    }

    #[test]
    fn restricted_callers_need_the_operator_to_allow_athena() {
        let open = Principal::local("a");
        let mut restricted = Principal::local("b");
        restricted.buckets = Some(quilt_mcp_auth::BucketGrants::parse(["data"]).expect("grants"));
        let default = GrantsPolicy::default();
        assert!(default.check(&open).is_ok());
        let e = default.check(&restricted).expect_err("refused");
        assert_eq!(e.code, ErrorCode::NotPermitted);
        assert!(
            e.message.contains("Athena is outside bucket grants"),
            "{}",
            e.message
        );
        let server = GrantsPolicy {
            server_restricts: true,
            athena_allowed: false,
        };
        assert!(server.check(&open).is_err());
        let allowed = GrantsPolicy {
            server_restricts: true,
            athena_allowed: true,
        };
        assert!(allowed.check(&restricted).is_ok());
    }
}
