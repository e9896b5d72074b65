//! ReadShareGroupStateSummary (key 87), v0–1, between brokers of a cluster: the group
//! coordinator asks the share coordinator (`share::coordinator`, design §14.1) for a
//! share-partition's start offset and epochs (DescribeShareGroupOffsets). Writes nothing and
//! fences nothing; a key without state answers start offset -1. v0 has no delivery-complete
//! count (v1 adds it).

use kafka_protocol::messages::read_share_group_state_summary_response::PartitionResult;
use kafka_protocol::messages::{
    ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse,
};

use super::context::RequestContext;
use super::share_state_rpcs::{answer, share_state_codec};

share_state_codec!(
    read_share_group_state_summary_request::ReadShareGroupStateSummaryRequest,
    read_share_group_state_summary_response::{
        ReadShareGroupStateSummaryResponse,
        ReadStateSummaryResult
    },
    // The delivery-complete count stays as it is: -1 (unknown) on a refusal, and a
    // success's count where `settle` turns a success into an error.
    refused(r) {
        r.state_epoch = 0;
        r.leader_epoch = 0;
        r.start_offset = -1;
    },
);

pub fn handle(
    ctx: &RequestContext,
    req: ReadShareGroupStateSummaryRequest,
) -> ReadShareGroupStateSummaryResponse {
    let b = &ctx.broker;
    answer(ctx, &req, |key, _, known| {
        let s = b.share_coordinator.summary(key, known)?;
        Ok(PartitionResult::default()
            .with_state_epoch(s.state_epoch)
            .with_leader_epoch(s.leader_epoch)
            .with_start_offset(s.start_offset)
            .with_delivery_complete_count(s.delivery_complete_count))
    })
}
