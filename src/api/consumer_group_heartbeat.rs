//! ConsumerGroupHeartbeat (key 68), v0–v1: the KIP-848 consumer protocol. In v0
//! the coordinator names a joining member that brings no id; from v1 the client
//! names itself.

use kafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment as WireAssignment, TopicPartitions,
};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};

use super::context::{RequestContext, str_bytes};
use crate::group::consumer::{Assignment, HeartbeatRequest};
use crate::security::acl::AclOperation;

pub fn handle(
    ctx: &RequestContext,
    req: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    let b = &ctx.broker;
    // Kafka's checks: Read on the group, Describe on every subscribed topic.
    if !ctx.authorize_group(AclOperation::Read, req.group_id.as_str()) {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(kafka_protocol::ResponseError::GroupAuthorizationFailed.code());
    }
    if let Some(names) = &req.subscribed_topic_names {
        let denied: Vec<&str> = names
            .iter()
            .map(|t| t.as_str())
            .filter(|t| !ctx.authorize_topic(AclOperation::Describe, t))
            .collect();
        if !denied.is_empty() {
            return ConsumerGroupHeartbeatResponse::default()
                .with_error_code(kafka_protocol::ResponseError::TopicAuthorizationFailed.code())
                .with_error_message(Some(str_bytes(format!(
                    "The client is not authorized to access topics: [{}]",
                    denied.join(", ")
                ))));
        }
    }
    let mut member_id = req.member_id.as_str().to_string();
    if member_id.is_empty() && req.member_epoch == 0 && ctx.version == 0 {
        member_id = uuid::Uuid::new_v4().to_string();
    }
    let owned = req.topic_partitions.as_ref().map(|tps| {
        let mut a = Assignment::new();
        for tp in tps {
            a.entry(tp.topic_id)
                .or_default()
                .extend(tp.partitions.iter().copied());
        }
        a
    });
    let hb = HeartbeatRequest {
        member_id,
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.as_ref().map(|s| s.as_str().to_string()),
        rack_id: req.rack_id.as_ref().map(|s| s.as_str().to_string()),
        rebalance_timeout_ms: req.rebalance_timeout_ms,
        subscribed_topic_names: req
            .subscribed_topic_names
            .as_ref()
            .map(|ts| ts.iter().map(|t| t.as_str().to_string()).collect()),
        subscribed_topic_regex: req
            .subscribed_topic_regex
            .as_ref()
            .map(|s| s.as_str().to_string()),
        server_assignor: req.server_assignor.as_ref().map(|s| s.as_str().to_string()),
        owned,
        client_id: ctx
            .client_id
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        client_host: format!("/{}", ctx.conn.peer.ip()),
    };
    let r = b
        .groups
        .consumer_heartbeat(&b.topics, req.group_id.as_str(), hb, b.now_ms());
    let mut resp = ConsumerGroupHeartbeatResponse::default()
        .with_error_code(r.error)
        .with_error_message(r.error_message.map(str_bytes))
        .with_member_id(Some(str_bytes(r.member_id)))
        .with_member_epoch(r.member_epoch);
    if r.error == 0 {
        resp.heartbeat_interval_ms = b.groups.consumer_heartbeat_interval_ms;
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
    }
    resp
}
