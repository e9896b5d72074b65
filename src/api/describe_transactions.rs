//! DescribeTransactions (key 65), v0: kafka-transactions.sh describe.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
};

use super::context::{RequestContext, str_bytes};
use crate::security::acl::AclOperation;

pub fn handle(
    ctx: &RequestContext,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let states = req
        .transactional_ids
        .into_iter()
        .map(|id| {
            let s = TransactionState::default().with_transactional_id(id.clone());
            if !ctx.authorize_transactional_id(AclOperation::Describe, id.as_str()) {
                return s
                    .with_error_code(E::TransactionalIdAuthorizationFailed.code())
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
                    .with_transaction_start_time_ms(-1);
            }
            if let Err(code) = ctx.broker.check_txn_coordinator(id.as_str()) {
                return s.with_error_code(code);
            }
            let Some(m) = ctx.broker.txns.describe(id.as_str()) else {
                return s
                    .with_error_code(E::TransactionalIdNotFound.code())
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
                    .with_transaction_start_time_ms(-1);
            };
            let mut topics: Vec<TopicData> = Vec::new();
            // Only the topics the client may Describe, as Kafka.
            for (t, p) in &m.partitions {
                if !ctx.authorize_topic(AclOperation::Describe, t) {
                    continue;
                }
                match topics.iter_mut().find(|d| d.topic.as_str() == t) {
                    Some(d) => d.partitions.push(*p),
                    None => topics.push(
                        TopicData::default()
                            .with_topic(TopicName(str_bytes(t.clone())))
                            .with_partitions(vec![*p]),
                    ),
                }
            }
            s.with_transaction_state(str_bytes(m.state.name()))
                .with_transaction_timeout_ms(m.timeout_ms)
                .with_transaction_start_time_ms(m.start_ms)
                .with_producer_id(ProducerId(m.producer_id))
                .with_producer_epoch(m.producer_epoch)
                .with_topics(topics)
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}
