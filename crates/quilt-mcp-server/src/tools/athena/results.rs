//! `athena_query_results` (the caller's own executions only) and the page of rows an Athena
//! answer carries, within the row and byte caps, continued with a sealed page token.

use quilt_mcp_aws::AccessIntent;

use super::page_token::{PageToken, PageTokens, bad_token};
use super::{
    AthenaSettings, MAX_RESULT_BYTES, MAX_ROWS, QueryOutput, ResultColumn, ResultsInput, describe,
    failed, owned_execution, rows_cap,
};
use crate::aws::{Aws, sdk_error};
use crate::ownership;
use crate::seal::SealError;
use crate::tool_error::ToolError;

/// `athena_query_results`: the caller's own execution only (ownership.rs), anything else —
/// including another caller's page token — `not_found`.
pub(super) async fn results(
    aws: &Aws,
    settings: &AthenaSettings,
    input: ResultsInput,
) -> Result<QueryOutput, ToolError> {
    let owner = settings.owner()?;
    let max_rows = rows_cap(input.max_results)?;
    let id = input.execution_id;
    if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
        return Err(ToolError::invalid_argument(
            "execution_id must be 1 to 128 printable characters",
        ));
    }
    let tokens = settings.result_tokens(&id)?;
    let token = match tokens.open(input.next_token.as_deref()) {
        Ok(token) => token,
        Err(SealError::NotYours) => return Err(ownership::not_found(&id)),
        Err(SealError::Invalid) => return Err(bad_token()),
    };
    let athena = aws.athena(AccessIntent::Read).await?;
    let execution = owned_execution(&athena.client, settings, &owner, &id).await?;
    let mut output = describe(&id, Some(&execution));
    match execution.status().and_then(|s| s.state()) {
        Some(aws_sdk_athena::types::QueryExecutionState::Succeeded) => {
            page(&athena.client, &mut output, &tokens, token, max_rows).await?;
            Ok(output)
        }
        Some(aws_sdk_athena::types::QueryExecutionState::Failed) => Err(failed(Some(&execution))),
        _ => Ok(output),
    }
}
/// Fills `out` with one page of results, within the row and byte caps.
pub(super) async fn page(
    client: &aws_sdk_athena::Client,
    out: &mut QueryOutput,
    tokens: &PageTokens,
    token: PageToken,
    max_rows: usize,
) -> Result<(), ToolError> {
    // Athena's first page of a SELECT starts with a header row: ask for one more.
    let first_page = token.upstream.is_none();
    let ask = (token.skip + max_rows + usize::from(first_page)).min(MAX_ROWS) as i32;
    let results = client
        .get_query_results()
        .query_execution_id(&out.execution_id)
        .set_next_token(token.upstream.clone())
        .max_results(ask)
        .send()
        .await
        .map_err(|e| sdk_error("GetQueryResults", &e))?;
    let Some(set) = results.result_set() else {
        return Ok(());
    };
    out.columns = set
        .result_set_metadata()
        .map(|m| {
            m.column_info()
                .iter()
                .map(|c| ResultColumn {
                    name: c.name().to_owned(),
                    column_type: c.r#type().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut data = set.rows();
    if first_page {
        // Skip the header row when it repeats the column names.
        let is_header = data.first().is_some_and(|row| {
            row.data().len() == out.columns.len()
                && row
                    .data()
                    .iter()
                    .zip(&out.columns)
                    .all(|(d, c)| d.var_char_value() == Some(c.name.as_str()))
        });
        if is_header {
            data = &data[1..];
        }
    }
    let rows = data.get(token.skip..).unwrap_or_default();
    let mut bytes = 0;
    for row in rows {
        let cells: Vec<Option<String>> = row
            .data()
            .iter()
            .map(|d| d.var_char_value().map(str::to_owned))
            .collect();
        let size: usize = cells
            .iter()
            .map(|c| c.as_ref().map_or(4, String::len))
            .sum();
        // Always return at least one row, so a single huge row cannot stall the pages.
        if out.rows.len() >= max_rows || (!out.rows.is_empty() && bytes + size > MAX_RESULT_BYTES) {
            break;
        }
        bytes += size;
        out.rows.push(cells);
    }
    let consumed = token.skip + out.rows.len();
    let next = if consumed < data.len() {
        // Rows of this page are left: continue inside it.
        Some(PageToken {
            upstream: token.upstream,
            skip: consumed,
        })
    } else {
        results.next_token().map(|t| PageToken {
            upstream: Some(t.to_owned()),
            skip: 0,
        })
    };
    if first_page && next.is_none() {
        out.total_rows = Some(data.len());
    }
    out.truncated = next.is_some();
    out.next_token = next.map(|t| tokens.seal(&t));
    Ok(())
}
