//! DescribeQuorum (key 55), v0–v2: the metadata quorum (`__cluster_metadata-0`), as
//! `kafka-metadata-quorum.sh describe --status` and `Admin.describeMetadataQuorum` show it:
//! the leader and its epoch (the Raft term), the high watermark, and each voter's log end and
//! lag as the leader sees them. Any broker answers, asking the active controller. A single
//! broker is a quorum of one: itself, with no metadata log (epoch 0, high watermark 0).

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{BrokerId, DescribeQuorumRequest, DescribeQuorumResponse};
use std::time::Duration;

use super::context::{RequestContext, str_bytes};
use crate::cluster::controller::{ControllerReply, ControllerRequest, QuorumInfo, ReplicaProgress};
use crate::security::acl::AclOperation;

/// Kafka's name for the metadata log's topic.
const METADATA_TOPIC: &str = "__cluster_metadata";

fn replica(p: &ReplicaProgress) -> ReplicaState {
    ReplicaState::default()
        .with_replica_id(BrokerId(p.node_id))
        .with_log_end_offset(p.log_end_offset)
        .with_last_fetch_timestamp(p.last_fetch_ms)
        .with_last_caught_up_timestamp(p.last_caught_up_ms)
}

pub async fn handle(ctx: &RequestContext, req: DescribeQuorumRequest) -> DescribeQuorumResponse {
    let b = &ctx.broker;
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return DescribeQuorumResponse::default()
            .with_error_code(E::ClusterAuthorizationFailed.code())
            .with_error_message(Some(str_bytes("Cluster authorization failed.")));
    }
    let wanted = req.topics.len() == 1
        && req.topics[0].topic_name.as_str() == METADATA_TOPIC
        && req.topics[0].partitions.len() == 1
        && req.topics[0].partitions[0].partition_index == 0;
    if !wanted {
        return DescribeQuorumResponse::default()
            .with_error_code(E::InvalidRequest.code())
            .with_error_message(Some(str_bytes(format!(
                "DescribeQuorum describes only {METADATA_TOPIC}-0"
            ))));
    }
    let (info, nodes) = match &b.cluster {
        None => {
            let me = ReplicaProgress {
                node_id: b.node_id,
                log_end_offset: 0,
                last_fetch_ms: b.now_ms(),
                last_caught_up_ms: b.now_ms(),
            };
            let info = QuorumInfo {
                leader: b.node_id,
                epoch: 0,
                high_watermark: 0,
                voters: vec![me],
                observers: vec![],
            };
            (info, vec![])
        }
        Some(c) => {
            let reply = c
                .request(ControllerRequest::DescribeQuorum, Duration::from_secs(10))
                .await;
            let info = match reply {
                Ok(ControllerReply::Quorum(q)) => q,
                Ok(_) | Err(_) => {
                    return DescribeQuorumResponse::default()
                        .with_error_code(E::NotLeaderOrFollower.code())
                        .with_error_message(Some(str_bytes("no active controller answered")));
                }
            };
            let name = c
                .config
                .controller_listener
                .as_ref()
                .map(|l| l.name.clone())
                .unwrap_or_else(|| "CONTROLLER".into());
            let nodes = c
                .config
                .voters
                .iter()
                .map(|v| {
                    Node::default()
                        .with_node_id(BrokerId(v.id))
                        .with_listeners(vec![
                            Listener::default()
                                .with_name(str_bytes(name.clone()))
                                .with_host(str_bytes(v.host.clone()))
                                .with_port(v.port),
                        ])
                })
                .collect();
            (info, nodes)
        }
    };
    let partition = PartitionData::default()
        .with_partition_index(0)
        .with_leader_id(BrokerId(info.leader))
        .with_leader_epoch(info.epoch)
        .with_high_watermark(info.high_watermark)
        .with_current_voters(info.voters.iter().map(replica).collect())
        .with_observers(info.observers.iter().map(replica).collect());
    DescribeQuorumResponse::default()
        .with_topics(vec![
            TopicData::default()
                .with_topic_name(kafka_protocol::messages::TopicName(str_bytes(
                    METADATA_TOPIC,
                )))
                .with_partitions(vec![partition]),
        ])
        .with_nodes(nodes_for(ctx.version, nodes))
}

/// The voters' endpoints exist from v2 on; older versions cannot carry them.
fn nodes_for(version: i16, nodes: Vec<Node>) -> Vec<Node> {
    if version >= 2 { nodes } else { Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Encodable;

    /// A cluster's answer (with voter endpoints) encodes at every advertised version.
    #[test]
    fn a_cluster_answer_encodes_at_every_version() {
        for version in 0..=2i16 {
            let nodes = vec![Node::default().with_node_id(BrokerId(1))];
            let resp = DescribeQuorumResponse::default().with_nodes(nodes_for(version, nodes));
            let mut buf = bytes::BytesMut::new();
            resp.encode(&mut buf, version)
                .unwrap_or_else(|e| panic!("DescribeQuorum v{version}: {e}"));
        }
    }
}
