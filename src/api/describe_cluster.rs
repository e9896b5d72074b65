//! DescribeCluster (key 60), v0–v2: the live brokers, the cluster id and the active
//! controller.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::context::{RequestContext, str_bytes};

/// Bits of the cluster operations (AclOperation codes CREATE=5, ALTER=7, DESCRIBE=8,
/// CLUSTER_ACTION=9, DESCRIBE_CONFIGS=10, ALTER_CONFIGS=11, IDEMPOTENT_WRITE=12,
/// CREATE_TOKENS=13, DESCRIBE_TOKENS=14): no ACLs, so everything is allowed.
const ALL_CLUSTER_OPERATIONS: i32 =
    1 << 5 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 13 | 1 << 14;

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
    resp.cluster_authorized_operations = if req.include_cluster_authorized_operations {
        ALL_CLUSTER_OPERATIONS
    } else {
        i32::MIN
    };
    resp
}
