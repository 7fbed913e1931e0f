//! A loopback stand-in for the parts of Athena's behaviour that moto 5.2.5 does not model,
//! placed in front of a real moto that does everything else. This is a mock, used only because
//! no real Athena can run here; each behaviour it adds is Athena's documented one:
//! - `GetQueryResults` pages: at most `MaxResults` rows (Athena refuses more than 1,000) and a
//!   `NextToken` while rows remain (moto returns every row at once and never a token);
//! - a query whose SQL contains [`FAILS`] ends `FAILED` with a `StateChangeReason` (moto runs no
//!   SQL, so nothing ever fails there);
//! - an unknown execution id gets HTTP 400 `InvalidRequestException` (moto answers 500).
//!
//! Every other request goes to moto unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// SQL containing this fails in the shim, with [`FAILURE_REASON`].
pub const FAILS: &str = "no_such_column_here";
pub const FAILURE_REASON: &str =
    "COLUMN_NOT_FOUND: line 1:8: Column 'no_such_column_here' cannot be resolved";

pub struct AthenaShim {
    pub url: String,
    /// `MaxResults` of every `GetQueryResults` seen, in order.
    pub asked: Arc<Mutex<Vec<i64>>>,
}

#[derive(Clone)]
struct State {
    moto: String,
    client: reqwest::Client,
    /// Full results fetched from moto once per execution id.
    results: Arc<Mutex<HashMap<String, Arc<Value>>>>,
    asked: Arc<Mutex<Vec<i64>>>,
}

impl AthenaShim {
    pub async fn start(moto: &str) -> Self {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let state = State {
            moto: moto.to_owned(),
            client: reqwest::Client::new(),
            results: Arc::default(),
            asked: asked.clone(),
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
        Self { url, asked }
    }
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

fn athena_json(value: &Value) -> Response {
    (
        [("content-type", "application/x-amz-json-1.1")],
        value.to_string(),
    )
        .into_response()
}

fn invalid_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-errortype", "InvalidRequestException"),
        ],
        json!({"__type": "InvalidRequestException", "Message": message}).to_string(),
    )
        .into_response()
}

async fn handle(
    state: State,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    match target.as_str() {
        "AmazonAthena.GetQueryExecution" => {
            let (status, out_headers, bytes) = forward(&state, method, &uri, &headers, body).await;
            if status.is_server_error() {
                // moto's answer to an id it does not know.
                return invalid_request("QueryExecution was not found");
            }
            let mut answer: Value = serde_json::from_slice(&bytes).expect("moto json");
            // Fails where moto would have succeeded, so QUEUED/RUNNING still come first.
            let fails = answer["QueryExecution"]["Query"]
                .as_str()
                .is_some_and(|q| q.contains(FAILS))
                && answer["QueryExecution"]["Status"]["State"] == "SUCCEEDED";
            if fails {
                let status = &mut answer["QueryExecution"]["Status"];
                status["State"] = json!("FAILED");
                status["StateChangeReason"] = json!(FAILURE_REASON);
                status["AthenaError"] = json!({"ErrorCategory": 2, "ErrorType": 1006});
                return athena_json(&answer);
            }
            (status, out_headers, bytes).into_response()
        }
        "AmazonAthena.GetQueryResults" => {
            let request: Value = serde_json::from_slice(&body).expect("request json");
            let id = request["QueryExecutionId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let max = request["MaxResults"].as_i64().unwrap_or(1000);
            state.asked.lock().expect("lock").push(max);
            if !(1..=1000).contains(&max) {
                return invalid_request("MaxResults must be between 1 and 1000");
            }
            let offset = match request["NextToken"].as_str() {
                None => 0,
                Some(t) => match t
                    .strip_prefix("shim-")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(n) => n,
                    None => return invalid_request("NextToken is invalid"),
                },
            };
            let cached = state.results.lock().expect("lock").get(&id).cloned();
            let full = match cached {
                Some(full) => full,
                None => {
                    let (status, out_headers, bytes) =
                        forward(&state, method, &uri, &headers, body).await;
                    if !status.is_success() {
                        return (status, out_headers, bytes).into_response();
                    }
                    let full: Arc<Value> =
                        Arc::new(serde_json::from_slice(&bytes).expect("moto json"));
                    state.results.lock().expect("lock").insert(id, full.clone());
                    full
                }
            };
            let rows = full["ResultSet"]["Rows"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let end = (offset + max as usize).min(rows.len());
            let mut answer = json!({
                "ResultSet": {
                    "Rows": rows.get(offset..end).unwrap_or_default(),
                    "ResultSetMetadata": full["ResultSet"]["ResultSetMetadata"].clone(),
                },
                "UpdateCount": 0,
            });
            if end < rows.len() {
                answer["NextToken"] = json!(format!("shim-{end}"));
            }
            athena_json(&answer)
        }
        _ => {
            let (status, out_headers, bytes) = forward(&state, method, &uri, &headers, body).await;
            (status, out_headers, bytes).into_response()
        }
    }
}
