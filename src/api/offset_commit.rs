//! OffsetCommit (key 8), v2–v9. v2–v4's retention_time_ms is ignored (Kafka
//! does likewise since KIP-211: offsets.retention.minutes governs expiry).

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use kafka_protocol::ResponseError as E;

use super::context::RequestContext;
use crate::group::CommittedOffset;
use crate::security::acl::AclOperation;

pub fn handle(ctx: &RequestContext, req: OffsetCommitRequest) -> OffsetCommitResponse {
    let b = &ctx.broker;
    let now = b.now_ms();
    // Kafka's checks: Read on the group (else every partition fails), Read on each topic.
    let group_ok = ctx.authorize_group(AclOperation::Read, req.group_id.as_str());
    let topic_ok = ctx.authorize_topics(
        AclOperation::Read,
        req.topics.iter().map(|t| t.name.as_str()),
    );
    let offsets: Vec<(String, i32, CommittedOffset)> = req
        .topics
        .iter()
        .filter(|t| group_ok && topic_ok[t.name.as_str()])
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
    let codes = if total == 0 {
        vec![]
    } else {
        match b.groups.commit_offsets(
            &b.topics,
            req.group_id.as_str(),
            req.member_id.as_str(),
            req.group_instance_id.as_ref().map(|s| s.as_str()),
            req.generation_id_or_member_epoch,
            offsets,
            now,
        ) {
            Ok(codes) => codes,
            Err(code) => vec![code; total],
        }
    };
    let mut codes = codes.into_iter();
    let topics = req
        .topics
        .iter()
        .map(|t| {
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            let code = if !group_ok {
                                E::GroupAuthorizationFailed.code()
                            } else if !topic_ok[t.name.as_str()] {
                                E::TopicAuthorizationFailed.code()
                            } else {
                                codes.next().unwrap_or(0)
                            };
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}
