//! LeaveGroup (key 13), v0–v5: one member (v0–v2) or a batch (v3+, KIP-345).

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::context::RequestContext;
use crate::security::acl::AclOperation;

pub fn handle(ctx: &RequestContext, req: LeaveGroupRequest) -> LeaveGroupResponse {
    let b = &ctx.broker;
    if !ctx.authorize_group(AclOperation::Read, req.group_id.as_str()) {
        return LeaveGroupResponse::default()
            .with_error_code(kafka_protocol::ResponseError::GroupAuthorizationFailed.code());
    }
    let batched = ctx.version >= 3;
    let members: Vec<(String, Option<String>)> = if batched {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.as_str().to_string(),
                    m.group_instance_id.as_ref().map(|s| s.as_str().to_string()),
                )
            })
            .collect()
    } else {
        vec![(req.member_id.as_str().to_string(), None)]
    };
    match b
        .groups
        .leave(&b.topics, req.group_id.as_str(), &members, b.now_ms())
    {
        Err(code) => LeaveGroupResponse::default().with_error_code(code),
        Ok(codes) if !batched => LeaveGroupResponse::default().with_error_code(codes[0]),
        Ok(codes) => LeaveGroupResponse::default().with_members(
            req.members
                .iter()
                .zip(codes)
                .map(|(m, code)| {
                    MemberResponse::default()
                        .with_member_id(m.member_id.clone())
                        .with_group_instance_id(m.group_instance_id.clone())
                        .with_error_code(code)
                })
                .collect(),
        ),
    }
}
