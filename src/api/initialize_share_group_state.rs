//! InitializeShareGroupState (key 83), v0, between brokers of a cluster: start a
//! share-partition's state afresh (a new state epoch, a start offset, an empty window) at the
//! share coordinator (`share::coordinator`, design §14.1): a share-partition's first
//! initialization, or AlterShareGroupOffsets. A stored state epoch above the request's is
//! FENCED_STATE_EPOCH. The answer waits for the record's ISR (`coordinator_writes.rs`).

use kafka_protocol::messages::initialize_share_group_state_response::PartitionResult;
use kafka_protocol::messages::{
    InitializeShareGroupStateRequest, InitializeShareGroupStateResponse,
};

use super::context::RequestContext;
use super::share_state_rpcs::{answer, share_state_codec};

share_state_codec!(
    initialize_share_group_state_request::InitializeShareGroupStateRequest,
    initialize_share_group_state_response::{
        InitializeShareGroupStateResponse,
        InitializeStateResult
    },
);

pub fn handle(
    ctx: &RequestContext,
    req: InitializeShareGroupStateRequest,
) -> InitializeShareGroupStateResponse {
    let b = &ctx.broker;
    let now = b.now_ms();
    answer(ctx, &req, |key, p, known| {
        b.share_coordinator
            .initialize(&b.topics, key, p.state_epoch, p.start_offset, known, now)
            .map(|()| PartitionResult::default())
    })
}
