//! Confirmation before destruction: a tool about to delete or overwrite something calls
//! [`confirm`] with one sentence saying what will change, after it has validated its input and
//! checked the caller's rights and before it writes anything. Whether and how the user is
//! asked depends on the client, fixed per call by [`Confirmation::for_request`]:
//!
//! - **2026-07-28 with the elicitation capability** (declared in the request's `_meta`): the
//!   server is stateless, so it cannot wait for an answer. The call ends with an MCP
//!   `InputRequiredResult` carrying one `elicitation/create` request and a sealed
//!   `requestState`; the client asks its user and sends the same call again with the answer.
//!   The tool runs again from the start (validation and authorization included) and, at the
//!   same point, [`confirm`] reads the answer: accept proceeds, decline or cancel ends the
//!   call with a `declined` tool error and nothing changed. The state is sealed with the
//!   server key (`seal.rs`), bound to the caller, the tool and a digest of its arguments, and
//!   expires after [`STATE_TTL_S`]: an acceptance cannot be replayed for other arguments, by
//!   another caller, or later.
//! - **A session peer that declared elicitation** (stdio, before 2026-07-28): the server sends
//!   `elicitation/create` to the client and waits for its answer inside the call.
//! - **Anything else** — no elicitation capability, or the stateless HTTP transport before
//!   2026-07-28 (no session to carry a server-to-client request, and no declared
//!   capabilities): no question is asked and the tool proceeds as it always did. Its
//!   annotations (`destructiveHint`) are what the client has to go on then.
//!
//! The rounds are driven here rather than with rmcp's `Peer::elicit`, which refuses
//! server-to-client requests on 2026-07-28 (the protocol forbids them) and cannot resume a
//! stateless call.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, ClientResult, ElicitResult, ElicitationAction, InputRequest,
    InputRequiredResult, InputResponses, ProtocolVersion, ServerRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest as _;

use crate::seal::SealKey;
use crate::tool_error::{ErrorCode, ToolError};

/// The key of the confirmation in `inputRequests` / `inputResponses`.
const INPUT_KEY: &str = "confirm";
/// What sealed confirmation states are for (a page token is not accepted as one).
const PURPOSE: &str = "confirm";
/// How long a client has to come back with the answer.
pub(crate) const STATE_TTL_S: u64 = 600;
/// How long a session peer has to answer.
const PEER_REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// How the current call can ask its user. See the module docs.
#[derive(Debug)]
pub struct Confirmation {
    channel: Channel,
    /// The question to send back when a 2026-07-28 call must end to ask it.
    pending: Mutex<Option<InputRequiredResult>>,
}

#[derive(Debug)]
enum Channel {
    /// The client cannot be asked: proceed.
    None,
    /// 2026-07-28: ask with an `InputRequiredResult`; the answer comes with the retried call.
    Rounds {
        key: Arc<SealKey>,
        tool: String,
        digest: String,
        responses: Option<InputResponses>,
        state: Option<String>,
    },
    /// A session peer: ask with `elicitation/create` and wait.
    Peer(rmcp::Peer<RoleServer>),
}

/// What the sealed `requestState` says.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    /// The tool.
    t: String,
    /// Digest of the tool's arguments.
    d: String,
    /// Expiry, Unix seconds.
    e: u64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// SHA-256 of the tool name and its arguments as JSON (hex).
fn digest(request: &CallToolRequestParams) -> String {
    let mut hash = sha2::Sha256::new();
    hash.update(request.name.as_bytes());
    hash.update([0]);
    hash.update(serde_json::to_vec(&request.arguments).unwrap_or_default());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Confirmation {
    /// No way to ask (today's behaviour).
    pub fn none() -> Arc<Self> {
        Arc::new(Self {
            channel: Channel::None,
            pending: Mutex::new(None),
        })
    }

    /// How `request` can ask its user: `key` seals the 2026-07-28 state (none: no
    /// confirmation), `session` says whether the peer is a session that can answer a
    /// server-to-client request (stdio).
    pub fn for_request(
        key: Option<&Arc<SealKey>>,
        session: bool,
        request: &CallToolRequestParams,
        ctx: &rmcp::service::RequestContext<RoleServer>,
    ) -> Arc<Self> {
        let elicits = ctx
            .client_capabilities()
            .and_then(|c| c.elicitation)
            // `{}` is form mode (backward compatibility); a URL-only client cannot confirm.
            .is_some_and(|e| e.form.is_some() || e.url.is_none());
        let modern = ctx
            .protocol_version()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
        let channel = match (elicits, modern, key) {
            (false, _, _) => Channel::None,
            (true, true, Some(key)) => Channel::Rounds {
                key: key.clone(),
                tool: request.name.to_string(),
                digest: digest(request),
                responses: request.input_responses.clone(),
                state: request.request_state.clone(),
            },
            (true, false, _) if session => Channel::Peer(ctx.peer.clone()),
            _ => Channel::None,
        };
        Arc::new(Self {
            channel,
            pending: Mutex::new(None),
        })
    }

    /// The question the call ended to ask, if it did.
    pub fn take_pending(&self) -> Option<InputRequiredResult> {
        self.pending.lock().ok().and_then(|mut p| p.take())
    }

    /// Whether the call ended to ask its user (for the audit line's outcome).
    pub fn awaiting(&self) -> bool {
        self.pending.lock().is_ok_and(|p| p.is_some())
    }
}

/// The elicitation asking to confirm `message`: no fields to fill, accept or decline.
fn question(message: &str) -> Result<InputRequest, ToolError> {
    serde_json::from_value(json!({
        "method": "elicitation/create",
        "params": {
            "message": message,
            "requestedSchema": {"type": "object", "properties": {}},
        },
    }))
    .map_err(|e| ToolError::internal(format!("cannot build the confirmation request: {e}")))
}

fn declined(message: &str) -> ToolError {
    ToolError::new(
        ErrorCode::Declined,
        format!("the user declined: {message} Nothing was changed."),
    )
}

/// Asks the user of the current call to confirm `message` (one sentence: what will change).
/// `Ok` means go ahead — confirmed, or the client cannot be asked (see the module docs); an
/// error means stop, with nothing changed: `declined`, or (2026-07-28) the call ends here to
/// ask, and the client comes back with the answer.
pub(crate) async fn confirm(message: &str) -> Result<(), ToolError> {
    let Some(confirmation) = crate::call_scope::confirmation() else {
        return Ok(());
    };
    match &confirmation.channel {
        Channel::None => Ok(()),
        Channel::Peer(peer) => {
            let InputRequest::Elicitation(request) = question(message)? else {
                return Err(ToolError::internal(
                    "the confirmation is not an elicitation",
                ));
            };
            let reply = tokio::time::timeout(
                PEER_REPLY_TIMEOUT,
                peer.send_request(ServerRequest::from(request)),
            )
            .await;
            match reply {
                Ok(Ok(ClientResult::ElicitResult(r))) if r.action == ElicitationAction::Accept => {
                    Ok(())
                }
                Ok(Ok(ClientResult::ElicitResult(_))) => Err(declined(message)),
                Ok(Ok(_)) | Ok(Err(_)) => Err(ToolError::new(
                    ErrorCode::Declined,
                    format!(
                        "the client did not answer the confirmation ({message}); nothing was changed"
                    ),
                )),
                Err(_) => Err(ToolError::new(
                    ErrorCode::Timeout,
                    format!(
                        "no answer to the confirmation ({message}) in time; nothing was changed"
                    ),
                )),
            }
        }
        Channel::Rounds {
            key,
            tool,
            digest,
            responses,
            state,
        } => {
            let ctx = crate::call_scope::context()?;
            let owner = key.owner(ctx.principal());
            let answer = responses.as_ref().and_then(|r| r.get(INPUT_KEY));
            if let (Some(answer), Some(state)) = (answer, state) {
                let opened: State = key.open(PURPOSE, &owner, state).map_err(|_| {
                    ToolError::invalid_argument(
                        "requestState is not the confirmation this server asked for",
                    )
                })?;
                if &opened.t != tool || &opened.d != digest {
                    return Err(ToolError::invalid_argument(
                        "the confirmation was given for another call (other tool or arguments); nothing was changed",
                    ));
                }
                if opened.e < now() {
                    return Err(ToolError::invalid_argument(
                        "the confirmation has expired; call the tool again",
                    ));
                }
                let result: ElicitResult = serde_json::from_value(answer.clone()).map_err(|e| {
                    ToolError::invalid_argument(format!(
                        "inputResponses.{INPUT_KEY} is not an elicitation result: {e}"
                    ))
                })?;
                return if result.action == ElicitationAction::Accept {
                    Ok(())
                } else {
                    Err(declined(message))
                };
            }
            let sealed = key.seal(
                PURPOSE,
                &owner,
                &State {
                    t: tool.clone(),
                    d: digest.clone(),
                    e: now() + STATE_TTL_S,
                },
            );
            let requests = [(INPUT_KEY.to_owned(), question(message)?)]
                .into_iter()
                .collect();
            if let Ok(mut pending) = confirmation.pending.lock() {
                *pending = Some(InputRequiredResult::new(Some(requests), Some(sealed)));
            }
            Err(ToolError::new(
                ErrorCode::Declined,
                format!("waiting for the user to confirm: {message}"),
            ))
        }
    }
}
