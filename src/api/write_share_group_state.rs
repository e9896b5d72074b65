//! WriteShareGroupState (key 85), v0–1, between brokers of a cluster: a share-partition leader's
//! whole window replaces the state the share coordinator keeps (`share::coordinator`; fjord's
//! leader always sends its full snapshot, design §14.1). Fenced by leader and state epoch; the
//! answer waits for the record's ISR (`coordinator_writes.rs`). v0 carries no
//! delivery-complete count (the codec's default, -1: unknown); v1 does (KIP-1226).

use kafka_protocol::messages::write_share_group_state_response::PartitionResult;
use kafka_protocol::messages::{WriteShareGroupStateRequest, WriteShareGroupStateResponse};

use super::context::RequestContext;
use super::share_state_rpcs::{answer, share_state_codec};
use crate::share::StateWriteRequest;

share_state_codec!(
    write_share_group_state_request::WriteShareGroupStateRequest,
    write_share_group_state_response::{WriteShareGroupStateResponse, WriteStateResult},
);

pub fn handle(
    ctx: &RequestContext,
    req: WriteShareGroupStateRequest,
) -> WriteShareGroupStateResponse {
    let b = &ctx.broker;
    let now = b.now_ms();
    answer(ctx, &req, |key, p, known| {
        let write = StateWriteRequest {
            state_epoch: p.state_epoch,
            leader_epoch: p.leader_epoch,
            start_offset: p.start_offset,
            delivery_complete_count: p.delivery_complete_count,
            batches: p
                .state_batches
                .iter()
                .map(|s| {
                    (
                        s.first_offset,
                        s.last_offset,
                        s.delivery_state,
                        s.delivery_count,
                    )
                })
                .collect(),
        };
        b.share_coordinator
            .write(&b.topics, key, &write, known, now)
            .map(|()| PartitionResult::default())
    })
}
