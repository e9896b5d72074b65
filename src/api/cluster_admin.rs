//! ListPartitionReassignments (key 46), v0: `kafka-reassign-partitions.sh --list` and
//! `Admin.listPartitionReassignments`. fjord moves no replicas (AlterPartitionReassignments is
//! not served), so nothing is ever being reassigned: the answer is empty, as Kafka's is when
//! no reassignment is in progress.

use kafka_protocol::messages::{
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

use super::context::RequestContext;

pub fn list_partition_reassignments(
    _ctx: &RequestContext,
    _req: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    ListPartitionReassignmentsResponse::default()
}
