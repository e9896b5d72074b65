//! Heartbeat (key 12), v0–v4.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::context::RequestContext;
use crate::security::acl::AclOperation;

pub fn handle(ctx: &RequestContext, req: HeartbeatRequest) -> HeartbeatResponse {
    let b = &ctx.broker;
    if !ctx.authorize_group(AclOperation::Read, req.group_id.as_str()) {
        return HeartbeatResponse::default().with_error_code(E::GroupAuthorizationFailed.code());
    }
    let code = b.groups.heartbeat(
        req.group_id.as_str(),
        req.member_id.as_str(),
        req.group_instance_id.as_ref().map(|s| s.as_str()),
        req.generation_id,
        b.now_ms(),
    );
    HeartbeatResponse::default().with_error_code(code)
}
