//! ShareGroupHeartbeat (key 76), v1 (v0 was Kafka 4.0's early access, removed in 4.1): a
//! share-group member (KIP-932) joins, heartbeats and leaves; the answer carries its epoch,
//! the heartbeat interval and, when it changed, its assignment by topic id.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::share_group_heartbeat_response::{
    Assignment as WireAssignment, TopicPartitions,
};
use kafka_protocol::messages::{ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse};

use super::context::{RequestContext, str_bytes};
use crate::group::share::ShareHeartbeat;
use crate::security::acl::AclOperation;

pub fn handle(
    ctx: &RequestContext,
    req: ShareGroupHeartbeatRequest,
) -> ShareGroupHeartbeatResponse {
    // Kafka's checks: Read on the group, Describe on every subscribed topic.
    if !ctx.authorize_group(AclOperation::Read, req.group_id.as_str()) {
        return ShareGroupHeartbeatResponse::default()
            .with_error_code(E::GroupAuthorizationFailed.code());
    }
    if let Some(names) = &req.subscribed_topic_names {
        let denied: Vec<&str> = names
            .iter()
            .map(|t| t.as_str())
            .filter(|t| !ctx.authorize_topic(AclOperation::Describe, t))
            .collect();
        if !denied.is_empty() {
            return ShareGroupHeartbeatResponse::default()
                .with_error_code(E::TopicAuthorizationFailed.code())
                .with_error_message(Some(str_bytes(format!(
                    "The client is not authorized to access topics: [{}]",
                    denied.join(", ")
                ))));
        }
    }
    let hb = ShareHeartbeat {
        member_id: req.member_id.as_str().to_string(),
        member_epoch: req.member_epoch,
        rack_id: req.rack_id.as_ref().map(|s| s.as_str().to_string()),
        subscribed_topic_names: req
            .subscribed_topic_names
            .as_ref()
            .map(|ts| ts.iter().map(|t| t.as_str().to_string()).collect()),
        client_id: ctx
            .client_id
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        client_host: format!("/{}", ctx.conn.peer.ip()),
    };
    let (r, interval) = ctx.broker.share_group_heartbeat(req.group_id.as_str(), hb);
    if r.error != 0 {
        // Kafka answers an error with its code and message only.
        return ShareGroupHeartbeatResponse::default()
            .with_error_code(r.error)
            .with_error_message(r.error_message.map(str_bytes));
    }
    let mut resp = ShareGroupHeartbeatResponse::default()
        .with_member_id(Some(str_bytes(r.member_id)))
        .with_member_epoch(r.member_epoch);
    if r.member_epoch >= 0 {
        resp.heartbeat_interval_ms = interval;
    }
    resp.assignment = r.assignment.map(|a| {
        WireAssignment::default().with_topic_partitions(
            a.into_iter()
                .map(|(topic_id, ps)| {
                    TopicPartitions::default()
                        .with_topic_id(topic_id)
                        .with_partitions(ps.into_iter().collect())
                })
                .collect(),
        )
    });
    resp
}
