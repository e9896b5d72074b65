//! OffsetForLeaderEpoch (key 23), v2–v4: clients validate their positions
//! after a leader change (KIP-320). fjord's partitions have one leader epoch,
//! 0, which ends at the log end offset.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::context::RequestContext;
use crate::broker::TopicRef;

pub fn handle(
    ctx: &RequestContext,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let name = t.topic.as_str().to_string();
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
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
                    // Every epoch's data is still here (no replica ever truncates one: data
                    // replication comes later), so each epoch up to the current one ends no
                    // earlier than the log end; the log end is a safe answer that never makes
                    // a consumer think its position was truncated.
                    let end = part.offsets().log_end_offset;
                    r.with_leader_epoch(p.leader_epoch.min(current))
                        .with_end_offset(end)
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
