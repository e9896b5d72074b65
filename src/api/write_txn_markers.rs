//! WriteTxnMarkers (key 27), v1: a transaction coordinator on another broker asks this one,
//! the leader of some of its transaction's partitions, to write the COMMIT or ABORT markers
//! there. Markers go through the partition's one write path (`Partition::write_marker`); a
//! marker on `__consumer_offsets` also settles the producer's pending offsets in the group
//! coordinator. A partition this broker does not lead answers NOT_LEADER_OR_FOLLOWER, and the
//! coordinator retries with the new leader.

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use super::context::RequestContext;
use crate::broker::TopicRef;
use crate::broker::replication::replicated;
use crate::group::OFFSETS_TOPIC;
use crate::log::Marker;
use crate::security::acl::AclOperation;
use futures::future::join_all;

pub async fn handle(ctx: &RequestContext, req: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse {
    let b = &ctx.broker;
    let now = b.now_ms();
    // Between brokers: ClusterAction on the cluster, else every partition is refused.
    let denied = !ctx.authorize_cluster(AclOperation::ClusterAction);
    let mut markers = Vec::with_capacity(req.markers.len());
    // Markers written, to be answered once their ISR has them: (marker, topic, partition)
    // positions in the response, the partition, its epoch and the offset after the marker.
    let mut waits = Vec::new();
    for (mi, m) in req.markers.into_iter().enumerate() {
        let marker = if m.transaction_result {
            Marker::Commit
        } else {
            Marker::Abort
        };
        let mut topics = Vec::with_capacity(m.topics.len());
        for (ti, t) in m.topics.into_iter().enumerate() {
            let mut partitions = Vec::with_capacity(t.partition_indexes.len());
            for (pi, &p) in t.partition_indexes.iter().enumerate() {
                let code = match b.leader_partition(TopicRef::Name(t.name.as_str()), p) {
                    _ if denied => kafka_protocol::ResponseError::ClusterAuthorizationFailed.code(),
                    Err(code) => code,
                    Ok(part) => {
                        let epoch = part.leader_epoch();
                        match part.write_marker(
                            m.producer_id.0,
                            m.producer_epoch,
                            marker,
                            m.coordinator_epoch,
                            now,
                        ) {
                            Ok(offset) => {
                                if t.name.as_str() == OFFSETS_TOPIC {
                                    b.groups.complete_transaction(
                                        m.producer_id.0,
                                        m.transaction_result,
                                    );
                                }
                                waits.push((mi, ti, pi, part, epoch, offset + 1));
                                0
                            }
                            Err(e) => {
                                tracing::error!(topic = %t.name.as_str(), partition = p, "writing a transaction marker: {e}");
                                kafka_protocol::ResponseError::KafkaStorageError.code()
                            }
                        }
                    }
                };
                partitions.push(
                    WritableTxnMarkerPartitionResult::default()
                        .with_partition_index(p)
                        .with_error_code(code),
                );
            }
            topics.push(
                WritableTxnMarkerTopicResult::default()
                    .with_name(t.name)
                    .with_partitions(partitions),
            );
        }
        markers.push(
            WritableTxnMarkerResult::default()
                .with_producer_id(m.producer_id)
                .with_topics(topics),
        );
    }
    // Kafka writes markers with acks=all: a marker answered here survives this leader's loss.
    let settled = join_all(
        waits
            .iter()
            .map(|(_, _, _, part, epoch, required)| replicated(part, *epoch, *required)),
    )
    .await;
    for ((mi, ti, pi, ..), outcome) in waits.iter().zip(settled) {
        if let Err(code) = outcome {
            markers[*mi].topics[*ti].partitions[*pi].error_code = code;
        }
    }
    WriteTxnMarkersResponse::default().with_markers(markers)
}
