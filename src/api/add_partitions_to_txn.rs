//! AddPartitionsToTxn (key 24), v0–v5: v0–v3 as producers send it (one
//! transaction), v4+ batched with verify_only (KIP-890).

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};

use kafka_protocol::ResponseError as E;

use super::context::RequestContext;
use crate::security::acl::AclOperation;
use crate::txn::coordinator::TxnProducer;

fn results(
    ctx: &RequestContext,
    id: &str,
    pid: i64,
    epoch: i16,
    topics: &[AddPartitionsToTxnTopic],
    verify_only: bool,
) -> Vec<AddPartitionsToTxnTopicResult> {
    let b = &ctx.broker;
    // A producer's request (v0–v3) needs Write on the transactional id and on each topic; any
    // topic refused fails the whole request, the others OPERATION_NOT_ATTEMPTED (Kafka).
    if !verify_only {
        let txn_ok = ctx.authorize_transactional_id(AclOperation::Write, id);
        let topic_ok: Vec<bool> = topics
            .iter()
            .map(|t| ctx.authorize_topic(AclOperation::Write, t.name.as_str()))
            .collect();
        if !txn_ok || topic_ok.contains(&false) {
            return topics
                .iter()
                .zip(topic_ok)
                .map(|(t, ok)| {
                    let code = if !txn_ok {
                        E::TransactionalIdAuthorizationFailed
                    } else if !ok {
                        E::TopicAuthorizationFailed
                    } else {
                        E::OperationNotAttempted
                    };
                    topic_result(t, || code.code())
                })
                .collect();
        }
    }
    let partitions: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.as_str().to_string(), *p))
        })
        .collect();
    let who = TxnProducer {
        transactional_id: id,
        producer_id: pid,
        producer_epoch: epoch,
    };
    let added = b.check_txn_coordinator(id).and_then(|()| {
        b.txns
            .add_partitions(&b.txn_context(), who, &partitions, verify_only, b.now_ms())
    });
    let codes = match added {
        Ok(codes) => codes,
        Err(code) => vec![code; partitions.len()],
    };
    let mut codes = codes.into_iter();
    topics
        .iter()
        .map(|t| topic_result(t, || codes.next().unwrap_or(0)))
        .collect()
}

/// A topic's result: each of its partitions, in order, with the next error code.
fn topic_result(
    t: &AddPartitionsToTxnTopic,
    mut code: impl FnMut() -> i16,
) -> AddPartitionsToTxnTopicResult {
    AddPartitionsToTxnTopicResult::default()
        .with_name(t.name.clone())
        .with_results_by_partition(
            t.partitions
                .iter()
                .map(|p| {
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(*p)
                        .with_partition_error_code(code())
                })
                .collect(),
        )
}

pub fn handle(ctx: &RequestContext, req: AddPartitionsToTxnRequest) -> AddPartitionsToTxnResponse {
    if ctx.version <= 3 {
        let r = results(
            ctx,
            req.v3_and_below_transactional_id.as_str(),
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            &req.v3_and_below_topics,
            false,
        );
        return AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(r);
    }
    // v4+ comes from brokers (KIP-890): ClusterAction on the cluster.
    if !ctx.authorize_cluster(AclOperation::ClusterAction) {
        return AddPartitionsToTxnResponse::default()
            .with_error_code(E::ClusterAuthorizationFailed.code());
    }
    let by_txn = req
        .transactions
        .iter()
        .map(|t| {
            AddPartitionsToTxnResult::default()
                .with_transactional_id(t.transactional_id.clone())
                .with_topic_results(results(
                    ctx,
                    t.transactional_id.as_str(),
                    t.producer_id.0,
                    t.producer_epoch,
                    &t.topics,
                    t.verify_only,
                ))
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_transaction(by_txn)
}
