//! AlterPartitionReassignments (key 45), v0–v1: move partitions to other brokers, or cancel a
//! move in progress (KIP-455; what `kafka-reassign-partitions.sh --execute` and `--cancel`
//! send). v1 carries KIP-860's `allow_replication_factor_change`, echoed in the response.
//! The controller decides (see `cluster::controller`); a single broker answers as a one-broker
//! Kafka would.

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
};

use super::context::{RequestContext, str_bytes};
use crate::cluster::controller::Reassignment;
use crate::security::acl::AclOperation;

pub async fn handle(
    ctx: &RequestContext,
    req: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    // v0 has no such field: the replication factor may change, as before KIP-860.
    let allow_rf_change = ctx.version < 1 || req.allow_replication_factor_change;
    if !ctx.authorize_cluster(AclOperation::Alter) {
        let mut resp = AlterPartitionReassignmentsResponse::default()
            .with_error_code(kafka_protocol::ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(Some(str_bytes("Cluster authorization failed.")));
        if ctx.version >= 1 {
            resp.allow_replication_factor_change = allow_rf_change;
        }
        return resp;
    }
    let mut responses = Vec::with_capacity(req.topics.len());
    let mut asked = Vec::new();
    for t in req.topics {
        let topic = t.name.as_str().to_string();
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            partitions.push(
                ReassignablePartitionResponse::default()
                    .with_partition_index(p.partition_index)
                    .with_error_message(None),
            );
            asked.push(Reassignment {
                topic: topic.clone(),
                partition: p.partition_index,
                target: p
                    .replicas
                    .map(|ids| ids.into_iter().map(|id| id.0).collect()),
            });
        }
        responses.push(
            ReassignableTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    let mut outcomes = ctx
        .broker
        .alter_reassignments(asked, allow_rf_change)
        .await
        .into_iter();
    for p in responses.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
        if let Some(Err(e)) = outcomes.next() {
            p.error_code = e.code;
            p.error_message = Some(str_bytes(e.message));
        }
    }
    let mut resp = AlterPartitionReassignmentsResponse::default()
        .with_error_message(None)
        .with_responses(responses);
    if ctx.version >= 1 {
        resp.allow_replication_factor_change = allow_rf_change;
    }
    resp
}
