//! ListPartitionReassignments (key 46), v0: the reassignments in progress (KIP-455; what
//! `kafka-reassign-partitions.sh --verify` and Admin `listPartitionReassignments` ask), each
//! with the whole replica set and the replicas being added and removed. Partitions named but
//! not being reassigned, or unknown, are left out, as Kafka does. A single broker never
//! reassigns anything.

use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    BrokerId, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};

use super::context::{RequestContext, str_bytes};
use crate::security::acl::AclOperation;

pub async fn handle(
    ctx: &RequestContext,
    req: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return ListPartitionReassignmentsResponse::default()
            .with_error_code(kafka_protocol::ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(Some(str_bytes("Cluster authorization failed.")));
    }
    let asked = req.topics.map(|topics| {
        topics
            .into_iter()
            .flat_map(|t| {
                let name = t.name.as_str().to_string();
                t.partition_indexes
                    .into_iter()
                    .map(move |p| (name.clone(), p))
            })
            .collect()
    });
    let ongoing = match ctx.broker.list_reassignments(asked).await {
        Ok(list) => list,
        Err(e) => {
            return ListPartitionReassignmentsResponse::default()
                .with_error_code(e.code)
                .with_error_message(Some(str_bytes(e.message)));
        }
    };
    let ids = |v: Vec<i32>| v.into_iter().map(BrokerId).collect::<Vec<_>>();
    // By topic: the list comes sorted by topic, then partition.
    let mut topics: Vec<OngoingTopicReassignment> = Vec::new();
    for r in ongoing {
        let partition = OngoingPartitionReassignment::default()
            .with_partition_index(r.partition)
            .with_replicas(ids(r.replicas))
            .with_adding_replicas(ids(r.adding))
            .with_removing_replicas(ids(r.removing));
        match topics.last_mut() {
            Some(t) if t.name.as_str() == r.topic => t.partitions.push(partition),
            _ => topics.push(
                OngoingTopicReassignment::default()
                    .with_name(TopicName(str_bytes(r.topic)))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    ListPartitionReassignmentsResponse::default()
        .with_error_message(None)
        .with_topics(topics)
}
