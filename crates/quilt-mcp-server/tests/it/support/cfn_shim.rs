//! A loopback stand-in for how real CloudFormation caps and pages resource listings, placed in
//! front of a real moto that does everything else. moto 5.2.5 returns every resource of a
//! stack in one answer; AWS does not:
//! - `ListStackResources` answers at most [`PAGE`] summaries and a `NextToken` while more
//!   remain (the shim pages moto's full answer by offset);
//! - `DescribeStackResources` answers only the first [`PAGE`] resources, with no token at all
//!   (its documented limit: "only the first 100 resources will be returned").
//!
//! Every other request goes to moto unchanged. Each intercepted call is recorded, so tests can
//! show that the server really paged.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// Resources per answer, as AWS.
pub const PAGE: usize = 100;

/// One intercepted call: (action, stack name, the NextToken sent).
pub type Call = (String, String, Option<String>);

pub struct CfnShim {
    pub url: String,
    pub calls: Arc<Mutex<Vec<Call>>>,
}

#[derive(Clone)]
struct State {
    moto: String,
    client: reqwest::Client,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CfnShim {
    pub async fn start(moto: &str) -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = State {
            moto: moto.to_owned(),
            client: reqwest::Client::new(),
            calls: calls.clone(),
        };
        let router = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { handle(state, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, calls }
    }

    /// The intercepted calls for `action`.
    pub fn calls(&self, action: &str) -> Vec<Call> {
        self.calls
            .lock()
            .expect("lock")
            .iter()
            .filter(|c| c.0 == action)
            .cloned()
            .collect()
    }
}

/// The form parameters of an awsQuery body, decoded.
fn form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

async fn forward(
    state: &State,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, Bytes) {
    crate::support::forward_to_moto(&state.client, &state.moto, method, uri, headers, body).await
}

/// Splits moto's XML at the resource list `list`: (before the members, the members, after).
fn members<'a>(xml: &'a str, list: &str) -> Option<(&'a str, Vec<&'a str>, &'a str)> {
    let open = format!("<{list}>");
    let close = format!("</{list}>");
    let start = xml.find(&open)? + open.len();
    let end = xml.find(&close)?;
    let inner = &xml[start..end];
    let items = inner
        .split_inclusive("</member>")
        .filter(|m| m.contains("<member>"))
        .collect();
    Some((&xml[..start], items, &xml[end..]))
}

async fn handle(
    state: State,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = form(&body);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let action = get("Action").unwrap_or_default();
    if action != "ListStackResources" && action != "DescribeStackResources" {
        return forward(&state, method, &uri, &headers, body)
            .await
            .into_response();
    }
    let token = get("NextToken");
    state.calls.lock().expect("lock").push((
        action.clone(),
        get("StackName").unwrap_or_default(),
        token.clone(),
    ));
    let offset = match token.as_deref() {
        None => 0,
        Some(t) => match t
            .strip_prefix("shim-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    [("content-type", "text/xml")],
                    "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Invalid NextToken</Message></Error></ErrorResponse>",
                )
                    .into_response();
            }
        },
    };
    // moto gets the request without the shim's token and answers everything.
    let upstream: String = params
        .iter()
        .filter(|(k, _)| k != "NextToken")
        .map(|(k, v)| {
            format!(
                "{}={}",
                k,
                v.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let (status, out_headers, bytes) =
        forward(&state, method, &uri, &headers, Bytes::from(upstream)).await;
    if !status.is_success() {
        return (status, out_headers, bytes).into_response();
    }
    let xml = String::from_utf8_lossy(&bytes).into_owned();
    let list = if action == "ListStackResources" {
        "StackResourceSummaries"
    } else {
        "StackResources"
    };
    let Some((head, items, tail)) = members(&xml, list) else {
        return (status, out_headers, bytes).into_response();
    };
    let end = (offset + PAGE).min(items.len());
    let page = items.get(offset..end).unwrap_or_default().concat();
    let mut answer = format!("{head}{page}{tail}");
    if action == "ListStackResources" && end < items.len() {
        let result_close = "</ListStackResourcesResult>";
        answer = answer.replacen(
            result_close,
            &format!("<NextToken>shim-{end}</NextToken>{result_close}"),
            1,
        );
    }
    ([("content-type", "text/xml")], answer).into_response()
}
