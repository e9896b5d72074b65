//! JoinGroup (key 11), v0–v9: the MEMBER_ID_REQUIRED handshake from v4,
//! static membership (group.instance.id) from v5, skip_assignment in v9.
//! A join that must wait for the rebalance parks until the group completes it;
//! the first join of an empty group completes from a timer (see
//! `group::classic::INITIAL_JOIN_WINDOW_MS`), which this handler arms.

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::context::{RequestContext, str_bytes};
use crate::group::classic::{JoinRequest, JoinResult, Reply, initial_join_window_ms};
use crate::security::acl::AclOperation;

pub async fn handle(ctx: &RequestContext, req: JoinGroupRequest) -> JoinGroupResponse {
    let b = &ctx.broker;
    let v = ctx.version;
    let join = JoinRequest {
        member_id: req.member_id.as_str().to_string(),
        group_instance_id: req
            .group_instance_id
            .as_ref()
            .map(|s| s.as_str().to_string()),
        client_id: ctx
            .client_id
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        client_host: format!("/{}", ctx.conn.peer.ip()),
        session_timeout_ms: req.session_timeout_ms,
        // v0 has no rebalance timeout: it equals the session timeout.
        rebalance_timeout_ms: if v == 0 {
            req.session_timeout_ms
        } else {
            req.rebalance_timeout_ms
        },
        protocol_type: req.protocol_type.as_str().to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| (p.name.as_str().to_string(), p.metadata.clone()))
            .collect(),
        require_known_member_id: v >= 4,
        join_window_ms: initial_join_window_ms(ctx.conn.client_software.get().map(String::as_str)),
    };
    let group_id = req.group_id.as_str();
    let now = b.now_ms();
    let result = if !ctx.authorize_group(AclOperation::Read, group_id) {
        JoinResult::error(
            kafka_protocol::ResponseError::GroupAuthorizationFailed.code(),
            req.member_id.as_str(),
        )
    } else {
        let reply = b.groups.join(&b.topics, group_id, join, now);
        if b.groups.join_deadline(group_id).is_some() {
            b.wake_group_join(group_id);
        }
        match reply {
            Reply::Now(r) => r,
            Reply::Later(rx) => rx.await.unwrap_or_else(|_| {
                JoinResult::error(
                    kafka_protocol::ResponseError::UnknownMemberId.code(),
                    req.member_id.as_str(),
                )
            }),
        }
    };
    let mut resp = JoinGroupResponse::default()
        .with_error_code(result.error)
        .with_generation_id(result.generation_id)
        .with_leader(str_bytes(result.leader))
        .with_member_id(str_bytes(result.member_id))
        .with_members(
            result
                .members
                .into_iter()
                .map(|(id, instance, metadata)| {
                    let m = JoinGroupResponseMember::default()
                        .with_member_id(str_bytes(id))
                        .with_metadata(metadata);
                    if v >= 5 {
                        m.with_group_instance_id(instance.map(str_bytes))
                    } else {
                        m
                    }
                })
                .collect(),
        );
    // protocol_name is nullable only from v7; earlier versions need a string.
    resp.protocol_name = match result.protocol_name {
        Some(p) => Some(str_bytes(p)),
        None if v < 7 => Some(str_bytes("")),
        None => None,
    };
    if v >= 7 {
        resp.protocol_type = result.protocol_type.map(str_bytes);
    }
    if v >= 9 {
        resp.skip_assignment = result.skip_assignment;
    }
    resp
}
