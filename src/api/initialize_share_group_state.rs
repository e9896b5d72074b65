//! InitializeShareGroupState (key 83), v0, between brokers of a cluster: start a
//! share-partition's state afresh (a new state epoch, a start offset, an empty window) at the
//! share coordinator (`share::coordinator`, design §14.1): a share-partition's first
//! initialization, or AlterShareGroupOffsets. A stored state epoch above the request's is
//! FENCED_STATE_EPOCH. The answer waits for the record's ISR (`coordinator_writes.rs`).

use kafka_protocol::messages::initialize_share_group_state_response::{
    InitializeStateResult, PartitionResult,
};
use kafka_protocol::messages::{
    InitializeShareGroupStateRequest, InitializeShareGroupStateResponse,
};

use super::context::RequestContext;
use super::read_share_group_state::{authorized, known, message, state_key};

pub fn handle(
    ctx: &RequestContext,
    req: InitializeShareGroupStateRequest,
) -> InitializeShareGroupStateResponse {
    let allowed = authorized(ctx);
    let b = &ctx.broker;
    let now = b.now_ms();
    let mut results = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let key = state_key(&req.group_id, t.topic_id, p.partition);
            let known = known(ctx, t.topic_id, p.partition);
            let done = allowed.clone().and_then(|()| {
                b.share_coordinator.initialize(
                    &b.topics,
                    &key,
                    p.state_epoch,
                    p.start_offset,
                    known,
                    now,
                )
            });
            let result = PartitionResult::default().with_partition(p.partition);
            partitions.push(match done {
                Ok(()) => result,
                Err(e) => result
                    .with_error_code(e.code)
                    .with_error_message(message(&e)),
            });
        }
        results.push(
            InitializeStateResult::default()
                .with_topic_id(t.topic_id)
                .with_partitions(partitions),
        );
    }
    InitializeShareGroupStateResponse::default().with_results(results)
}
