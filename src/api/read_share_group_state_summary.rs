//! ReadShareGroupStateSummary (key 87), v0–1, between brokers of a cluster: the group
//! coordinator asks the share coordinator (`share::coordinator`, design §14.1) for a
//! share-partition's start offset and epochs (DescribeShareGroupOffsets). Writes nothing and
//! fences nothing; a key without state answers start offset -1. v0 has no delivery-complete
//! count (v1 adds it).

use kafka_protocol::messages::read_share_group_state_summary_response::{
    PartitionResult, ReadStateSummaryResult,
};
use kafka_protocol::messages::{
    ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse,
};

use super::context::RequestContext;
use super::read_share_group_state::{authorized, known, message, state_key};

pub fn handle(
    ctx: &RequestContext,
    req: ReadShareGroupStateSummaryRequest,
) -> ReadShareGroupStateSummaryResponse {
    let allowed = authorized(ctx);
    let b = &ctx.broker;
    let mut results = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let key = state_key(&req.group_id, t.topic_id, p.partition);
            let known = known(ctx, t.topic_id, p.partition);
            let done = allowed
                .clone()
                .and_then(|()| b.share_coordinator.summary(&key, known));
            let result = PartitionResult::default().with_partition(p.partition);
            partitions.push(match done {
                Ok(s) => result
                    .with_state_epoch(s.state_epoch)
                    .with_leader_epoch(s.leader_epoch)
                    .with_start_offset(s.start_offset)
                    .with_delivery_complete_count(s.delivery_complete_count),
                Err(e) => result
                    .with_error_code(e.code)
                    .with_error_message(message(&e))
                    .with_start_offset(-1),
            });
        }
        results.push(
            ReadStateSummaryResult::default()
                .with_topic_id(t.topic_id)
                .with_partitions(partitions),
        );
    }
    ReadShareGroupStateSummaryResponse::default().with_results(results)
}
