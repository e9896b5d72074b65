//! TxnOffsetCommit (key 28), v0–v5: offsets that count only if the
//! transaction commits; member and generation checked when given (KIP-447).

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use kafka_protocol::ResponseError as E;

use super::context::RequestContext;
use crate::group::CommittedOffset;
use crate::security::acl::AclOperation;
use crate::txn::coordinator::TxnProducer;

pub fn handle(ctx: &RequestContext, req: TxnOffsetCommitRequest) -> TxnOffsetCommitResponse {
    let b = &ctx.broker;
    let now = b.now_ms();
    // Kafka's checks: Write on the transactional id and Read on the group (else every
    // partition fails), Read on each topic.
    let denied_all = if !ctx.authorize_transactional_id(AclOperation::Write, &req.transactional_id)
    {
        Some(E::TransactionalIdAuthorizationFailed.code())
    } else if !ctx.authorize_group(AclOperation::Read, req.group_id.as_str()) {
        Some(E::GroupAuthorizationFailed.code())
    } else {
        None
    };
    let topic_ok = ctx.authorize_topics(
        AclOperation::Read,
        req.topics.iter().map(|t| t.name.as_str()),
    );
    let offsets: Vec<(String, i32, CommittedOffset)> = req
        .topics
        .iter()
        .filter(|t| denied_all.is_none() && topic_ok[t.name.as_str()])
        .flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    t.name.as_str().to_string(),
                    p.partition_index,
                    CommittedOffset {
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p
                            .committed_metadata
                            .as_ref()
                            .map(|m| m.as_str().to_string())
                            .unwrap_or_default(),
                        commit_timestamp_ms: now,
                    },
                )
            })
        })
        .collect();
    let total = offsets.len();
    // The transaction is checked where it is coordinated: here on a single broker, and in a
    // cluster when this node is also its transaction coordinator.
    let txn_check = if total == 0 {
        Ok(())
    } else if b
        .check_txn_coordinator(req.transactional_id.as_str())
        .is_ok()
    {
        b.txns.check_offset_commit(
            TxnProducer {
                transactional_id: req.transactional_id.as_str(),
                producer_id: req.producer_id.0,
                producer_epoch: req.producer_epoch,
            },
            b.groups.partition_for(req.group_id.as_str()),
        )
    } else {
        Ok(())
    };
    let outcome = txn_check.and_then(|_| {
        if total == 0 {
            return Ok(vec![]);
        }
        let (generation, member) = if ctx.version >= 3 {
            (req.generation_id, req.member_id.as_str())
        } else {
            (-1, "")
        };
        b.groups.txn_commit_offsets(
            &b.topics,
            req.group_id.as_str(),
            req.producer_id.0,
            req.producer_epoch,
            member,
            req.group_instance_id.as_ref().map(|s| s.as_str()),
            generation,
            offsets,
            now,
        )
    });
    let codes = match outcome {
        Ok(c) => c,
        Err(code) => vec![code; total],
    };
    let mut codes = codes.into_iter();
    TxnOffsetCommitResponse::default().with_topics(
        req.topics
            .iter()
            .map(|t| {
                TxnOffsetCommitResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                let code = match denied_all {
                                    Some(code) => code,
                                    None if !topic_ok[t.name.as_str()] => {
                                        E::TopicAuthorizationFailed.code()
                                    }
                                    None => codes.next().unwrap_or(0),
                                };
                                TxnOffsetCommitResponsePartition::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(code)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
