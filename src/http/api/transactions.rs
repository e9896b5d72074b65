//! `/api/v1/transactions`: the transaction coordinator's transactions through ListTransactions
//! (v2) and DescribeTransactions (v0), as kafka-transactions.sh list and describe see them, with
//! the same authorization (DESCRIBE on the transactional id) and errors. A transaction still
//! open past its timeout is flagged `hanging`: the coordinator aborts an Ongoing one at its
//! timeout, so one that stays open (markers that cannot be written, an abort that failed) needs
//! an operator.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_transactions_response::TransactionState;
use kafka_protocol::messages::*;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Answer, ApiError, Caller, check, ctx};
use crate::api::{self, str_bytes};
use crate::broker::Broker;

/// The most transactions one list answer describes (`total` says how many matched).
pub const MAX_LISTED: usize = 1000;

/// The states in which a transaction is open: begun and not yet completed.
const OPEN_STATES: &[&str] = &[
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "PrepareEpochFence",
];

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// States, comma-separated (Ongoing,PrepareCommit).
    pub state: Option<String>,
    /// Producer ids, comma-separated.
    pub producer_id: Option<String>,
    /// Only transactions begun longer ago than this, in any state (ListTransactions v1's
    /// duration filter).
    pub running_longer_than_ms: Option<i64>,
    /// A regular expression the whole transactional id must match (ListTransactions v2).
    pub transactional_id_pattern: Option<String>,
}

fn comma_list(s: &Option<String>) -> Vec<&str> {
    s.as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The ListTransactions request a list query asks for.
pub fn list_request(q: &ListQuery) -> Result<ListTransactionsRequest, ApiError> {
    let mut req = ListTransactionsRequest::default();
    req.state_filters = comma_list(&q.state).into_iter().map(str_bytes).collect();
    req.producer_id_filters = comma_list(&q.producer_id)
        .into_iter()
        .map(|p| {
            p.parse::<i64>().map(ProducerId).map_err(|_| {
                ApiError::invalid(format!(
                    "producer_id={p:?}: producer ids are numbers (comma-separated)"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    req.duration_filter = match q.running_longer_than_ms {
        None => -1,
        Some(ms) if ms >= 0 => ms,
        Some(_) => {
            return Err(ApiError::invalid(
                "running_longer_than_ms is milliseconds (0 or more)",
            ));
        }
    };
    req.transactional_id_pattern = q.transactional_id_pattern.as_deref().map(str_bytes);
    Ok(req)
}

/// Whether a transaction in `state`, begun `age_ms` ago, has outlived its timeout while open.
pub fn hanging(state: &str, age_ms: Option<i64>, timeout_ms: i32) -> bool {
    OPEN_STATES.contains(&state) && age_ms.is_some_and(|a| a > timeout_ms as i64)
}

/// One described transaction as the API shows it.
fn transaction_json(t: &TransactionState, now_ms: i64) -> Value {
    let state = t.transaction_state.as_str();
    let start = (t.transaction_start_time_ms >= 0).then_some(t.transaction_start_time_ms);
    let age_ms = start.map(|s| (now_ms - s).max(0));
    let topics: Vec<Value> = t
        .topics
        .iter()
        .map(|d| json!({"topic": d.topic.0.as_str(), "partitions": d.partitions}))
        .collect();
    json!({
        "transactional_id": t.transactional_id.0.as_str(),
        "state": state,
        "producer_id": t.producer_id.0,
        "producer_epoch": t.producer_epoch,
        "timeout_ms": t.transaction_timeout_ms,
        "start_time_ms": start,
        "age_ms": age_ms,
        "open": OPEN_STATES.contains(&state),
        "hanging": hanging(state, age_ms, t.transaction_timeout_ms),
        "topics": topics,
    })
}

async fn describe(
    b: &Arc<Broker>,
    caller: &Caller,
    ids: Vec<TransactionalId>,
) -> Result<Vec<TransactionState>, ApiError> {
    let mut req = DescribeTransactionsRequest::default();
    req.transactional_ids = ids;
    let r = call!(b, caller, 0, DescribeTransactions, req)?;
    Ok(r.transaction_states)
}

pub async fn list_transactions(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Answer {
    let Query(q) = q.map_err(|e| ApiError::invalid(e.body_text()))?;
    let req = list_request(&q)?;
    let listed = call!(&b, &caller, 2, ListTransactions, req)?;
    if listed.error_code == E::InvalidRegularExpression.code() {
        let p = q.transactional_id_pattern.unwrap_or_default();
        return Err(ApiError::kafka(
            listed.error_code,
            Some(&str_bytes(format!(
                "transactional_id_pattern={p:?} is not a regular expression"
            ))),
        ));
    }
    check(listed.error_code, None)?;
    let total = listed.transaction_states.len();
    let ids: Vec<TransactionalId> = listed
        .transaction_states
        .into_iter()
        .take(MAX_LISTED)
        .map(|t| t.transactional_id)
        .collect();
    let described = if ids.is_empty() {
        Vec::new()
    } else {
        describe(&b, &caller, ids).await?
    };
    let now = b.now_ms();
    // One that went away between the two requests is left out.
    let transactions: Vec<Value> = described
        .iter()
        .filter(|t| t.error_code == 0)
        .map(|t| transaction_json(t, now))
        .collect();
    let unknown: Vec<&str> = listed
        .unknown_state_filters
        .iter()
        .map(|s| s.as_str())
        .collect();
    Ok(Json(json!({
        "transactions": transactions,
        "total": total,
        "unknown_state_filters": unknown,
    })))
}

pub async fn transaction(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer {
    let described = describe(&b, &caller, vec![TransactionalId(str_bytes(&id))]).await?;
    let t = described
        .first()
        .ok_or_else(|| ApiError::kafka(E::UnknownServerError.code(), None))?;
    if t.error_code == E::TransactionalIdNotFound.code() {
        return Err(ApiError::kafka(
            t.error_code,
            Some(&str_bytes(format!(
                "The transaction coordinator knows no transactional id {id:?}."
            ))),
        ));
    }
    check(t.error_code, None)?;
    Ok(Json(transaction_json(t, b.now_ms())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hanging_is_open_past_the_timeout() {
        assert!(!hanging("Ongoing", Some(60_000), 60_000), "at the timeout");
        assert!(hanging("Ongoing", Some(60_001), 60_000));
        assert!(hanging("PrepareCommit", Some(90_000), 60_000));
        assert!(!hanging("CompleteCommit", Some(90_000), 60_000), "closed");
        assert!(!hanging("Empty", None, 60_000));
        assert!(!hanging("Ongoing", None, 60_000));
    }

    #[test]
    fn list_queries() {
        let q = ListQuery {
            state: Some("Ongoing, PrepareCommit,".into()),
            producer_id: Some("7,9".into()),
            running_longer_than_ms: Some(500),
            transactional_id_pattern: Some("tx-.*".into()),
        };
        let r = list_request(&q).unwrap();
        assert_eq!(
            r.state_filters
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            ["Ongoing", "PrepareCommit"]
        );
        assert_eq!(r.producer_id_filters, [ProducerId(7), ProducerId(9)]);
        assert_eq!(r.duration_filter, 500);
        let all = list_request(&ListQuery::default()).unwrap();
        assert!(all.state_filters.is_empty() && all.producer_id_filters.is_empty());
        assert_eq!(all.duration_filter, -1);
        assert_eq!(all.transactional_id_pattern, None);
        let bad = ListQuery {
            producer_id: Some("7,x".into()),
            ..Default::default()
        };
        assert_eq!(
            list_request(&bad).unwrap_err().message,
            "producer_id=\"x\": producer ids are numbers (comma-separated)"
        );
        let bad = ListQuery {
            running_longer_than_ms: Some(-1),
            ..Default::default()
        };
        assert!(list_request(&bad).is_err());
    }
}
