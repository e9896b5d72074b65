//! ListTransactions (key 66), v0–v2: state and producer id filters, v1
//! duration filter (running longer than), v2 transactional id pattern.

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};

use super::context::{RequestContext, str_bytes};
use crate::security::acl::AclOperation;

const STATES: &[&str] = &[
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

pub fn handle(ctx: &RequestContext, req: ListTransactionsRequest) -> ListTransactionsResponse {
    let now = ctx.broker.now_ms();
    let states: Vec<String> = req
        .state_filters
        .iter()
        .map(|s| s.as_str().to_string())
        .collect();
    let unknown: Vec<_> = req
        .state_filters
        .iter()
        .filter(|s| !STATES.contains(&s.as_str()))
        .cloned()
        .collect();
    let pids: Vec<i64> = req.producer_id_filters.iter().map(|p| p.0).collect();
    let pattern = match req.transactional_id_pattern.as_ref().map(|p| p.as_str()) {
        Some(p) if !p.is_empty() => match regex::Regex::new(&format!("^(?:{p})$")) {
            Ok(re) => Some(re),
            Err(_) => {
                return ListTransactionsResponse::default().with_error_code(
                    kafka_protocol::ResponseError::InvalidRegularExpression.code(),
                );
            }
        },
        _ => None,
    };
    let listed = ctx
        .broker
        .txns
        .list()
        .into_iter()
        .filter(|m| states.is_empty() || states.iter().any(|s| s == m.state.name()))
        .filter(|m| pids.is_empty() || pids.contains(&m.producer_id))
        .filter(|m| {
            req.duration_filter < 0 || (m.start_ms >= 0 && now - m.start_ms > req.duration_filter)
        })
        .filter(|m| {
            pattern
                .as_ref()
                .is_none_or(|re| re.is_match(&m.transactional_id))
        })
        .filter(|m| ctx.authorize_transactional_id(AclOperation::Describe, &m.transactional_id))
        .map(|m| {
            TransactionState::default()
                .with_transactional_id(TransactionalId(str_bytes(m.transactional_id)))
                .with_producer_id(ProducerId(m.producer_id))
                .with_transaction_state(str_bytes(m.state.name()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(listed)
}
