//! [`CredentialBroker`]: a caller and an intent in, the caller's AWS credentials out.
//!
//! The operator lists sources in `MCP_CREDENTIAL_SOURCES`; the first that *applies* to the
//! caller is used. A source that applies but fails is an error naming it — the broker never
//! steps down to the next source, and above all never to the server's own identity: that is
//! how a user's uploads once ran as the ECS task role for two days. `ambient` is a source
//! only when listed.
//!
//! | source | applies when | credentials |
//! |---|---|---|
//! | `jwt` | the token has `aws_credentials` | used as they are, until they expire |
//! | `role_claim` | the token has `role_arn` | AssumeRole, ARN matched against `MCP_ROLE_ARN_ALLOW` |
//! | `catalog` | `QUILT_REGISTRY_URL` is set | the registry's credential exchange, with the caller's token |
//! | `stack_roles` | a read or write role is configured | AssumeRole into the role for the intent |
//! | `ambient` | listed | the process's own chain |

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quilt_mcp_auth::{IdentityKey, Principal, RequestContext, RoleArn};
use sha2::{Digest, Sha256};

use crate::ambient::ServerIdentity;
use crate::cache::{Clock, CredentialCache};
use crate::catalog::{CatalogClient, RegistryLookup};
use crate::credentials::{AwsCredentials, parse_expiration};
use crate::error::{CredentialError, ErrorKind};
use crate::role_allow::RoleArnAllow;
use crate::source::{AccessIntent, CredentialSource};
use crate::stack::StackRoles;
use crate::sts::{AssumeRequest, RoleAssumer};

/// What the broker needs from configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BrokerConfig {
    /// Sources in order.
    pub sources: Vec<CredentialSource>,
    /// ARN patterns (`*` wildcards) a `role_arn` claim must match; empty refuses every claim.
    pub role_arn_allow: RoleArnAllow,
    /// Lifetime requested from AssumeRole.
    pub session_duration_s: i32,
    /// The Quilt registry, for the `catalog` source.
    pub registry_url: Option<String>,
    /// Without `registry_url`: how to find the registry when first needed.
    pub registry_lookup: Option<RegistryLookup>,
}

impl BrokerConfig {
    /// A configuration with these sources and defaults for the rest.
    pub fn new(sources: Vec<CredentialSource>) -> Self {
        Self {
            sources,
            role_arn_allow: RoleArnAllow::default(),
            session_duration_s: 3600,
            registry_url: None,
            registry_lookup: None,
        }
    }
}

/// Credentials for one request, and where they came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The credentials.
    pub credentials: AwsCredentials,
    /// The source that produced them.
    pub source: CredentialSource,
    /// The role assumed, for `role_claim` and `stack_roles`.
    pub role_arn: Option<RoleArn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CacheKey {
    Assumed {
        source: CredentialSource,
        role: RoleArn,
        /// The caller: (issuer, subject), never the subject alone.
        caller: IdentityKey,
        tags: u64,
    },
    Catalog {
        token_sha256: [u8; 32],
    },
}

/// The broker. See the module docs.
#[derive(Debug)]
pub struct CredentialBroker {
    sources: Vec<CredentialSource>,
    allow: RoleArnAllow,
    duration_s: i32,
    assumer: Option<Arc<dyn RoleAssumer>>,
    catalog: Option<CatalogClient>,
    identity: Option<ServerIdentity>,
    stack: Arc<StackRoles>,
    cache: CredentialCache<CacheKey>,
    clock: Arc<dyn Clock>,
    assume_calls: AtomicU64,
    catalog_calls: AtomicU64,
    resolutions: AtomicU64,
}

impl CredentialBroker {
    /// Builds a broker. `assumer` signs AssumeRole with the server's identity; `identity` is
    /// given the `ambient` source only when `ambient` is listed.
    pub fn new(
        config: BrokerConfig,
        assumer: Option<Arc<dyn RoleAssumer>>,
        identity: Option<ServerIdentity>,
        stack: Arc<StackRoles>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let catalog = match (&config.registry_url, &config.registry_lookup) {
            (Some(url), _) => Some(CatalogClient::new(url, Duration::from_secs(10))?),
            (None, Some(lookup)) => Some(CatalogClient::with_lookup(
                lookup.clone(),
                Duration::from_secs(10),
            )?),
            (None, None) => None,
        };
        let identity = identity.filter(|_| config.sources.contains(&CredentialSource::Ambient));
        Ok(Self {
            allow: config.role_arn_allow,
            sources: config.sources,
            duration_s: config.session_duration_s,
            assumer,
            catalog,
            identity,
            stack,
            cache: CredentialCache::new(clock.clone()),
            clock,
            assume_calls: AtomicU64::new(0),
            catalog_calls: AtomicU64::new(0),
            resolutions: AtomicU64::new(0),
        })
    }

    /// The configured sources, in order.
    pub fn sources(&self) -> &[CredentialSource] {
        &self.sources
    }

    /// The stack roles.
    pub fn stack_roles(&self) -> &Arc<StackRoles> {
        &self.stack
    }

    /// AssumeRole calls made for callers so far (health checks excluded).
    pub fn assume_role_calls(&self) -> u64 {
        self.assume_calls.load(Ordering::Relaxed)
    }

    /// Credential resolutions so far (one per client built for a caller).
    pub fn resolutions(&self) -> u64 {
        self.resolutions.load(Ordering::Relaxed)
    }

    /// Catalog credential exchanges made so far.
    pub fn catalog_calls(&self) -> u64 {
        self.catalog_calls.load(Ordering::Relaxed)
    }

    /// The first configured source that applies to `principal` for `intent`.
    pub fn source_for(
        &self,
        principal: &Principal,
        intent: AccessIntent,
    ) -> Option<CredentialSource> {
        self.sources
            .iter()
            .copied()
            .find(|s| self.applies(*s, principal, intent))
    }

    fn applies(&self, source: CredentialSource, p: &Principal, intent: AccessIntent) -> bool {
        match source {
            CredentialSource::Jwt => p.aws_credentials.is_some(),
            CredentialSource::RoleClaim => p.role_arn.is_some(),
            CredentialSource::Catalog => self.catalog.is_some() && p.catalog_token().is_some(),
            CredentialSource::StackRoles => self.stack.role_for(intent).is_some(),
            CredentialSource::Ambient => true,
        }
    }

    /// Why `source` does not apply to this caller, in words an operator can act on.
    fn why_not(&self, source: CredentialSource, p: &Principal, intent: AccessIntent) -> String {
        let reason = match source {
            CredentialSource::Jwt => "the token carries no aws_credentials",
            CredentialSource::RoleClaim => "the token carries no role_arn",
            CredentialSource::Catalog if self.catalog.is_none() => {
                "neither QUILT_REGISTRY_URL nor QUILT_CATALOG_URL is set"
            }
            CredentialSource::Catalog if p.catalog_token().is_none() => {
                "the token was not issued by the Quilt catalog (only catalog-issued tokens are \
                 exchanged there)"
            }
            CredentialSource::StackRoles => match intent {
                AccessIntent::Read => "no stack read role is configured",
                AccessIntent::Write => "no stack write role is configured",
            },
            CredentialSource::Catalog | CredentialSource::Ambient => "it applies",
        };
        format!("{}: {reason}", source.as_str())
    }

    /// The caller's credentials for `intent`. See the module docs.
    pub async fn resolve(
        &self,
        ctx: &RequestContext,
        intent: AccessIntent,
    ) -> Result<Resolved, CredentialError> {
        self.resolutions.fetch_add(1, Ordering::Relaxed);
        let principal = ctx.principal();
        let Some(source) = self.source_for(principal, intent) else {
            return Err(CredentialError::NoSource {
                configured: self
                    .sources
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                hint: self
                    .sources
                    .iter()
                    .map(|s| self.why_not(*s, principal, intent))
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        };
        let fail = |kind, message: String| CredentialError::failed(source, kind, message);
        match source {
            CredentialSource::Jwt => {
                let Some(embedded) = &principal.aws_credentials else {
                    unreachable!("jwt applies only with aws_credentials")
                };
                let expires_at = match &embedded.expiration {
                    None => None,
                    Some(e) => Some(parse_expiration(e).ok_or_else(|| {
                        fail(
                            ErrorKind::InvalidCredentials,
                            "aws_credentials.expiration is not a date".into(),
                        )
                    })?),
                };
                if expires_at.is_some_and(|e| e <= self.clock.now()) {
                    return Err(fail(
                        ErrorKind::InvalidCredentials,
                        "the token's aws_credentials have expired".into(),
                    ));
                }
                let credentials = AwsCredentials::new(
                    embedded.access_key_id.clone(),
                    embedded.secret_access_key.clone(),
                    embedded.session_token.clone(),
                    expires_at,
                );
                Ok(Resolved {
                    credentials,
                    source,
                    role_arn: None,
                })
            }
            CredentialSource::RoleClaim => {
                let Some(role) = principal.role_arn.clone() else {
                    unreachable!("role_claim applies only with role_arn")
                };
                if self.allow.is_empty() {
                    return Err(fail(
                        ErrorKind::NotPermitted,
                        "role_arn claims are refused: MCP_ROLE_ARN_ALLOW is empty".into(),
                    ));
                }
                if !self.allow.is_match(role.as_str()) {
                    return Err(fail(
                        ErrorKind::NotPermitted,
                        format!("role {role} is not allowed by MCP_ROLE_ARN_ALLOW"),
                    ));
                }
                self.assume(source, role, principal).await
            }
            CredentialSource::StackRoles => {
                let Some(role) = self.stack.role_for(intent).cloned() else {
                    unreachable!("stack_roles applies only with a role")
                };
                self.assume(source, role, principal).await
            }
            CredentialSource::Catalog => {
                let (Some(catalog), Some(token)) = (&self.catalog, principal.catalog_token())
                else {
                    unreachable!("catalog applies only with a registry and a token")
                };
                let key = CacheKey::Catalog {
                    token_sha256: Sha256::digest(token.expose().as_bytes()).into(),
                };
                let credentials = self
                    .cache
                    .get_or_fetch(&key, || async {
                        self.catalog_calls.fetch_add(1, Ordering::Relaxed);
                        catalog
                            .exchange(token)
                            .await
                            .map_err(|(kind, message)| fail(kind, message))
                    })
                    .await?;
                Ok(Resolved {
                    credentials,
                    source,
                    role_arn: None,
                })
            }
            CredentialSource::Ambient => {
                let Some(identity) = &self.identity else {
                    return Err(fail(
                        ErrorKind::Unavailable,
                        "the process has no AWS identity".into(),
                    ));
                };
                let credentials = identity
                    .credentials()
                    .await
                    .map_err(|m| fail(ErrorKind::Unavailable, m))?;
                Ok(Resolved {
                    credentials,
                    source,
                    role_arn: None,
                })
            }
        }
    }

    async fn assume(
        &self,
        source: CredentialSource,
        role: RoleArn,
        principal: &Principal,
    ) -> Result<Resolved, CredentialError> {
        let Some(assumer) = &self.assumer else {
            return Err(CredentialError::failed(
                source,
                ErrorKind::Unavailable,
                "the server has no AWS identity to assume roles with",
            ));
        };
        let key = CacheKey::Assumed {
            source,
            role: role.clone(),
            caller: principal.identity_key(),
            tags: hash_tags(&principal.session_tags, &principal.transitive_tag_keys),
        };
        let credentials = self
            .cache
            .get_or_fetch(&key, || async {
                let mut request = AssumeRequest::for_caller(
                    role.clone(),
                    &principal.issuer,
                    &principal.subject,
                    self.duration_s,
                );
                request.tags = principal.session_tags.clone();
                request.transitive_tag_keys = principal.transitive_tag_keys.clone();
                self.assume_calls.fetch_add(1, Ordering::Relaxed);
                assumer.assume(request).await.map_err(|f| {
                    CredentialError::failed(
                        source,
                        f.kind,
                        format!("AssumeRole {role} failed: {}", f.message),
                    )
                })
            })
            .await?;
        Ok(Resolved {
            credentials,
            source,
            role_arn: Some(role),
        })
    }
}

fn hash_tags(tags: &BTreeMap<String, String>, transitive: &[String]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    tags.hash(&mut h);
    transitive.hash(&mut h);
    h.finish()
}
