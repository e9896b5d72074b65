//! DeleteShareGroupState (key 86), v0, between brokers of a cluster: tombstone a
//! share-partition's state at the share coordinator (`share::coordinator`, design §14.1;
//! DeleteShareGroupOffsets, DeleteGroups). A key without state is deleted already (nothing is
//! written). The answer waits for the tombstone's ISR (`coordinator_writes.rs`).

use kafka_protocol::messages::delete_share_group_state_response::PartitionResult;
use kafka_protocol::messages::{DeleteShareGroupStateRequest, DeleteShareGroupStateResponse};

use super::context::RequestContext;
use super::share_state_rpcs::{answer, share_state_codec};

share_state_codec!(
    delete_share_group_state_request::DeleteShareGroupStateRequest,
    delete_share_group_state_response::{DeleteShareGroupStateResponse, DeleteStateResult},
);

pub fn handle(
    ctx: &RequestContext,
    req: DeleteShareGroupStateRequest,
) -> DeleteShareGroupStateResponse {
    let b = &ctx.broker;
    let now = b.now_ms();
    answer(ctx, &req, |key, _, known| {
        b.share_coordinator
            .delete(&b.topics, key, known, now)
            .map(|()| PartitionResult::default())
    })
}
