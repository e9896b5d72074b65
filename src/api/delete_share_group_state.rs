//! DeleteShareGroupState (key 86), v0, between brokers of a cluster: tombstone a
//! share-partition's state at the share coordinator (`share::coordinator`, design §14.1;
//! DeleteShareGroupOffsets, DeleteGroups). A key without state is deleted already (nothing is
//! written). The answer waits for the tombstone's ISR (`coordinator_writes.rs`).

use kafka_protocol::messages::delete_share_group_state_response::{
    DeleteStateResult, PartitionResult,
};
use kafka_protocol::messages::{DeleteShareGroupStateRequest, DeleteShareGroupStateResponse};

use super::context::RequestContext;
use super::read_share_group_state::{authorized, known, message, state_key};

pub fn handle(
    ctx: &RequestContext,
    req: DeleteShareGroupStateRequest,
) -> DeleteShareGroupStateResponse {
    let allowed = authorized(ctx);
    let b = &ctx.broker;
    let now = b.now_ms();
    let mut results = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let key = state_key(&req.group_id, t.topic_id, p.partition);
            let known = known(ctx, t.topic_id, p.partition);
            let done = allowed
                .clone()
                .and_then(|()| b.share_coordinator.delete(&b.topics, &key, known, now));
            let result = PartitionResult::default().with_partition(p.partition);
            partitions.push(match done {
                Ok(()) => result,
                Err(e) => result
                    .with_error_code(e.code)
                    .with_error_message(message(&e)),
            });
        }
        results.push(
            DeleteStateResult::default()
                .with_topic_id(t.topic_id)
                .with_partitions(partitions),
        );
    }
    DeleteShareGroupStateResponse::default().with_results(results)
}
