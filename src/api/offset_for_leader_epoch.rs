//! OffsetForLeaderEpoch (key 23), v2–v4: clients validate their positions after a leader
//! change (KIP-320). Answered from the partition's leader-epoch cache: the largest epoch at or
//! below the one asked and the offset where it ended. A single broker's partitions stay at
//! epoch 0, which ends at the log end offset.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::context::RequestContext;
use crate::broker::TopicRef;
use crate::security::acl::AclOperation;

pub fn handle(
    ctx: &RequestContext,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    // A follower (replica id set, v3+) needs ClusterAction on the cluster, a consumer Describe
    // on each topic.
    let follower = ctx.version >= 3 && req.replica_id.0 >= 0;
    let follower_denied = follower && !ctx.authorize_cluster(AclOperation::ClusterAction);
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let name = t.topic.as_str().to_string();
            let denied = if follower {
                follower_denied.then_some(E::ClusterAuthorizationFailed)
            } else {
                (!ctx.authorize_topic(AclOperation::Describe, &name))
                    .then_some(E::TopicAuthorizationFailed)
            };
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    if let Some(code) = denied {
                        return r.with_error_code(code.code());
                    }
                    let part = match ctx
                        .broker
                        .leader_partition(TopicRef::Name(&name), p.partition)
                    {
                        Ok(part) => part,
                        Err(code) => return r.with_error_code(code),
                    };
                    let current = part.leader_epoch();
                    if p.current_leader_epoch > current {
                        // The client knows of a newer epoch than this leader: it must refresh.
                        return r.with_error_code(E::UnknownLeaderEpoch.code());
                    }
                    if p.current_leader_epoch >= 0 && p.current_leader_epoch < current {
                        return r.with_error_code(E::FencedLeaderEpoch.code());
                    }
                    if p.leader_epoch < 0 {
                        return r; // before the first epoch: undefined
                    }
                    // From the leader-epoch cache: the largest epoch <= the one asked and where it
                    // ended (the next epoch's first offset). An epoch newer than any batch's (a
                    // leader that has not written in its epoch yet, or an empty log) ends at the
                    // log end, as Kafka's leader does once it assigned its epoch's start.
                    match part.end_offset_for_epoch(p.leader_epoch) {
                        (epoch, end) if epoch >= 0 => {
                            r.with_leader_epoch(epoch).with_end_offset(end)
                        }
                        _ => r
                            .with_leader_epoch(p.leader_epoch.min(current))
                            .with_end_offset(part.offsets().log_end_offset),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
