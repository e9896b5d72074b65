//! DescribeCluster (key 60), v0–v2: the live brokers, the cluster id and the active
//! controller.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::context::{RequestContext, str_bytes};
use crate::security::acl::{AclOperation, CLUSTER_NAME, ResourceType};

pub fn handle(ctx: &RequestContext, req: DescribeClusterRequest) -> DescribeClusterResponse {
    let b = &ctx.broker;
    // endpoint_type 1 = brokers; 2 = controllers (KIP-919), which fjord has no separate listener for.
    if req.endpoint_type != 1 && req.endpoint_type != 0 {
        return DescribeClusterResponse::default()
            .with_error_code(E::UnsupportedEndpointType.code())
            .with_endpoint_type(req.endpoint_type)
            .with_cluster_id(str_bytes(b.cluster_id.clone()))
            .with_controller_id(BrokerId(-1));
    }
    let brokers = b
        .brokers(&ctx.conn.listener)
        .into_iter()
        .map(|e| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(e.id))
                .with_host(str_bytes(e.host))
                .with_port(e.port as i32)
                .with_rack(e.rack.map(str_bytes))
        })
        .collect();
    let mut resp = DescribeClusterResponse::default()
        .with_endpoint_type(1)
        .with_cluster_id(str_bytes(b.cluster_id.clone()))
        .with_controller_id(BrokerId(b.controller_id()))
        .with_brokers(brokers);
    // As Kafka: the client's operations on the cluster (KIP-430), 0 without Describe on it.
    resp.cluster_authorized_operations = if !req.include_cluster_authorized_operations {
        i32::MIN
    } else if ctx.authorize_cluster(AclOperation::Describe) {
        ctx.authorized_operations(ResourceType::Cluster, CLUSTER_NAME)
    } else {
        0
    };
    resp
}
