//! ReadShareGroupState (key 84), v0, between brokers of a cluster: a share-partition leader
//! reads the state the share coordinator keeps for it (`share::coordinator`, design §14.1).
//! A leader epoch above the stored one is written before the answer (fencing older leaders),
//! so the answer waits for that record's ISR (`coordinator_writes.rs`).
//!
//! Also the helpers the five share-state APIs (83–87) share: ClusterAction on the cluster as
//! Kafka's `KafkaApis` checks it (a refusal fails every partition of the request), whether the
//! topic-partition exists, and the per-partition error text.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::read_share_group_state_response::{
    PartitionResult, ReadStateResult, StateBatch,
};
use kafka_protocol::messages::{ReadShareGroupStateRequest, ReadShareGroupStateResponse};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::context::{RequestContext, str_bytes};
use crate::security::acl::AclOperation;
use crate::share::StateError;
use crate::share::records::StateKey;

/// Kafka's check for all five share-state APIs: a broker's request, ClusterAction on the
/// cluster, else CLUSTER_AUTHORIZATION_FAILED for every partition.
pub(super) fn authorized(ctx: &RequestContext) -> Result<(), StateError> {
    if ctx.authorize_cluster(AclOperation::ClusterAction) {
        Ok(())
    } else {
        Err(StateError::new(E::ClusterAuthorizationFailed))
    }
}

pub(super) fn state_key(group: &StrBytes, topic_id: Uuid, partition: i32) -> StateKey {
    StateKey {
        group: group.to_string(),
        topic_id,
        partition,
    }
}

/// Whether the cluster has this topic-partition (Kafka's coordinator asks its metadata image;
/// UNKNOWN_TOPIC_OR_PARTITION otherwise).
pub(super) fn known(ctx: &RequestContext, topic_id: Uuid, partition: i32) -> bool {
    ctx.broker
        .topic_view_by_id(topic_id)
        .is_some_and(|t| usize::try_from(partition).is_ok_and(|p| p < t.partitions.len()))
}

/// The error text of a refused partition: Kafka's validation message, else the code's.
pub(super) fn message(e: &StateError) -> Option<StrBytes> {
    e.message.map(str_bytes)
}

pub fn handle(
    ctx: &RequestContext,
    req: ReadShareGroupStateRequest,
) -> ReadShareGroupStateResponse {
    let allowed = authorized(ctx);
    let b = &ctx.broker;
    let now = b.now_ms();
    let mut results = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let key = state_key(&req.group_id, t.topic_id, p.partition);
            let known = known(ctx, t.topic_id, p.partition);
            let read = allowed.clone().and_then(|()| {
                b.share_coordinator
                    .read(&b.topics, &key, p.leader_epoch, known, now)
            });
            let result = PartitionResult::default().with_partition(p.partition);
            partitions.push(match read {
                Ok(s) => {
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
                    result
                        .with_state_epoch(s.state_epoch)
                        .with_start_offset(s.start_offset)
                        .with_state_batches(batches)
                }
                Err(e) => result
                    .with_error_code(e.code)
                    .with_error_message(message(&e))
                    .with_start_offset(-1),
            });
        }
        results.push(
            ReadStateResult::default()
                .with_topic_id(t.topic_id)
                .with_partitions(partitions),
        );
    }
    ReadShareGroupStateResponse::default().with_results(results)
}
