//! ReadShareGroupState (key 84), v0, between brokers of a cluster: a share-partition leader
//! reads the state the share coordinator keeps for it (`share::coordinator`, design §14.1).
//! A leader epoch above the stored one is written before the answer (fencing older leaders),
//! so the answer waits for that record's ISR (`coordinator_writes.rs`). What the five
//! share-state APIs (83–87) share is `share_state_rpcs.rs`.

use kafka_protocol::messages::read_share_group_state_response::{PartitionResult, StateBatch};
use kafka_protocol::messages::{ReadShareGroupStateRequest, ReadShareGroupStateResponse};

use super::context::RequestContext;
use super::share_state_rpcs::{answer, share_state_codec};

share_state_codec!(
    read_share_group_state_request::ReadShareGroupStateRequest,
    read_share_group_state_response::{ReadShareGroupStateResponse, ReadStateResult},
    refused(r) {
        r.state_epoch = 0;
        r.start_offset = -1;
        r.state_batches.clear();
    },
);

pub fn handle(
    ctx: &RequestContext,
    req: ReadShareGroupStateRequest,
) -> ReadShareGroupStateResponse {
    let b = &ctx.broker;
    let now = b.now_ms();
    answer(ctx, &req, |key, p, known| {
        let s = b
            .share_coordinator
            .read(&b.topics, key, p.leader_epoch, known, now)?;
        let batches = s
            .runs
            .iter()
            .map(|r| {
                StateBatch::default()
                    .with_first_offset(r.first_offset)
                    .with_last_offset(r.last_offset)
                    .with_delivery_state(r.state.id())
                    .with_delivery_count(r.delivery_count)
            })
            .collect();
        Ok(PartitionResult::default()
            .with_state_epoch(s.state_epoch)
            .with_start_offset(s.start_offset)
            .with_state_batches(batches))
    })
}
