//! FindCoordinator (key 10), v0–v6: the broker that coordinates a group, a transactional id or
//! (key type 2, v6+, brokers only) a share-partition's state (`group:topicId:partition`).
//! A single broker coordinates everything; in a cluster it is the leader of the key's
//! `__consumer_offsets` / `__transaction_state` / `__share_group_state` partition. v4+ batches
//! keys (`coordinator_keys`).

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::context::{RequestContext, str_bytes};
use crate::broker::BrokerEndpoint;
use crate::broker::coordinators::{GROUP_KEY, SHARE_KEY, TRANSACTION_KEY};
use crate::security::acl::AclOperation;

async fn answer(
    ctx: &RequestContext,
    key_type: i8,
    key: &StrBytes,
) -> Result<BrokerEndpoint, (i16, Option<StrBytes>)> {
    if ![GROUP_KEY, TRANSACTION_KEY, SHARE_KEY].contains(&key_type) {
        return Err((
            E::InvalidRequest.code(),
            Some(str_bytes(format!("unknown key type {key_type}"))),
        ));
    }
    // Kafka's checks: Describe on the group or the transactional id.
    if key_type == GROUP_KEY && !ctx.authorize_group(AclOperation::Describe, key.as_str()) {
        return Err((E::GroupAuthorizationFailed.code(), None));
    }
    if key_type == TRANSACTION_KEY
        && !ctx.authorize_transactional_id(AclOperation::Describe, key.as_str())
    {
        return Err((E::TransactionalIdAuthorizationFailed.code(), None));
    }
    // Kafka's `getCoordinator`: the share coordinator is found with v6+ only, by a broker
    // (ClusterAction on the cluster; Kafka fails the whole request, which for v6 is every
    // key's answer).
    if key_type == SHARE_KEY && ctx.version < 6 {
        return Err((E::InvalidRequest.code(), None));
    }
    if key_type == SHARE_KEY && !ctx.authorize_cluster(AclOperation::ClusterAction) {
        let e = E::ClusterAuthorizationFailed.code();
        let text = crate::share::coordinator::kafka_message(e).map(str_bytes);
        return Err((e, text));
    }
    if key.is_empty() && key_type == GROUP_KEY {
        return Err((E::InvalidGroupId.code(), None));
    }
    ctx.broker
        .find_coordinator(key_type, key.as_str(), &ctx.conn.listener)
        .await
        .map_err(|code| (code, None))
}

pub async fn handle(ctx: &RequestContext, req: FindCoordinatorRequest) -> FindCoordinatorResponse {
    if ctx.version >= 4 {
        let mut coordinators = Vec::with_capacity(req.coordinator_keys.len());
        for k in &req.coordinator_keys {
            let c = Coordinator::default().with_key(k.clone());
            coordinators.push(match answer(ctx, req.key_type, k).await {
                Ok(e) => c
                    .with_node_id(BrokerId(e.id))
                    .with_host(str_bytes(e.host))
                    .with_port(e.port as i32),
                Err((code, msg)) => c
                    .with_error_code(code)
                    .with_error_message(msg)
                    .with_node_id(BrokerId(-1))
                    .with_port(-1),
            });
        }
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let resp = FindCoordinatorResponse::default();
    match answer(ctx, req.key_type, &req.key).await {
        Ok(e) => resp
            .with_node_id(BrokerId(e.id))
            .with_host(str_bytes(e.host))
            .with_port(e.port as i32),
        Err((code, msg)) => resp
            .with_error_code(code)
            .with_error_message(msg)
            .with_node_id(BrokerId(-1))
            .with_port(-1),
    }
}
