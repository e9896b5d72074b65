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
use crate::group::OFFSETS_TOPIC;
use crate::log::Marker;

pub fn handle(ctx: &RequestContext, req: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse {
    let b = &ctx.broker;
    let now = b.now_ms();
    let markers = req
        .markers
        .into_iter()
        .map(|m| {
            let marker = if m.transaction_result {
                Marker::Commit
            } else {
                Marker::Abort
            };
            let topics = m
                .topics
                .into_iter()
                .map(|t| {
                    let partitions = t
                        .partition_indexes
                        .iter()
                        .map(|&p| {
                            let code = match b.leader_partition(TopicRef::Name(t.name.as_str()), p)
                            {
                                Err(code) => code,
                                Ok(part) => match part.write_marker(
                                    m.producer_id.0,
                                    m.producer_epoch,
                                    marker,
                                    m.coordinator_epoch,
                                    now,
                                ) {
                                    Ok(_) => {
                                        if t.name.as_str() == OFFSETS_TOPIC {
                                            b.groups.complete_transaction(
                                                m.producer_id.0,
                                                m.transaction_result,
                                            );
                                        }
                                        0
                                    }
                                    Err(e) => {
                                        tracing::error!(topic = %t.name.as_str(), partition = p, "writing a transaction marker: {e}");
                                        kafka_protocol::ResponseError::KafkaStorageError.code()
                                    }
                                },
                            };
                            WritableTxnMarkerPartitionResult::default()
                                .with_partition_index(p)
                                .with_error_code(code)
                        })
                        .collect();
                    WritableTxnMarkerTopicResult::default()
                        .with_name(t.name)
                        .with_partitions(partitions)
                })
                .collect();
            WritableTxnMarkerResult::default()
                .with_producer_id(m.producer_id)
                .with_topics(topics)
        })
        .collect();
    WriteTxnMarkersResponse::default().with_markers(markers)
}
