//! WriteShareGroupState (key 85), v0–1, between brokers of a cluster: a share-partition leader's
//! whole window replaces the state the share coordinator keeps (`share::coordinator`; fjord's
//! leader always sends its full snapshot, design §14.1). Fenced by leader and state epoch; the
//! answer waits for the record's ISR (`coordinator_writes.rs`). v0 carries no
//! delivery-complete count (the codec's default, -1: unknown); v1 does (KIP-1226).

use kafka_protocol::messages::write_share_group_state_response::{
    PartitionResult, WriteStateResult,
};
use kafka_protocol::messages::{WriteShareGroupStateRequest, WriteShareGroupStateResponse};

use super::context::RequestContext;
use super::read_share_group_state::{authorized, known, message, state_key};
use crate::share::StateWriteRequest;

pub fn handle(
    ctx: &RequestContext,
    req: WriteShareGroupStateRequest,
) -> WriteShareGroupStateResponse {
    let allowed = authorized(ctx);
    let b = &ctx.broker;
    let now = b.now_ms();
    let mut results = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let key = state_key(&req.group_id, t.topic_id, p.partition);
            let known = known(ctx, t.topic_id, p.partition);
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
            let done = allowed.clone().and_then(|()| {
                b.share_coordinator
                    .write(&b.topics, &key, &write, known, now)
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
            WriteStateResult::default()
                .with_topic_id(t.topic_id)
                .with_partitions(partitions),
        );
    }
    WriteShareGroupStateResponse::default().with_results(results)
}
