//! SyncGroup (key 14), v0–v5: the leader hands in the assignment, every member
//! (the leader too) waits for it.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::context::{RequestContext, str_bytes};
use crate::group::classic::{Reply, SyncRequest, SyncResult};
use crate::security::acl::AclOperation;

pub async fn handle(ctx: &RequestContext, req: SyncGroupRequest) -> SyncGroupResponse {
    let b = &ctx.broker;
    if !ctx.authorize_group(AclOperation::Read, req.group_id.as_str()) {
        return SyncGroupResponse::default().with_error_code(E::GroupAuthorizationFailed.code());
    }
    let sync = SyncRequest {
        member_id: req.member_id.as_str().to_string(),
        group_instance_id: req
            .group_instance_id
            .as_ref()
            .map(|s| s.as_str().to_string()),
        generation_id: req.generation_id,
        protocol_type: req.protocol_type.as_ref().map(|s| s.as_str().to_string()),
        protocol_name: req.protocol_name.as_ref().map(|s| s.as_str().to_string()),
        assignments: req
            .assignments
            .iter()
            .map(|a| (a.member_id.as_str().to_string(), a.assignment.clone()))
            .collect(),
    };
    let reply = b
        .groups
        .sync(&b.topics, req.group_id.as_str(), sync, b.now_ms());
    let r = match reply {
        Reply::Now(r) => r,
        Reply::Later(rx) => rx.await.unwrap_or(SyncResult {
            error: E::UnknownMemberId.code(),
            protocol_type: None,
            protocol_name: None,
            assignment: Default::default(),
        }),
    };
    let mut resp = SyncGroupResponse::default()
        .with_error_code(r.error)
        .with_assignment(r.assignment);
    if ctx.version >= 5 {
        resp.protocol_type = r.protocol_type.map(str_bytes);
        resp.protocol_name = r.protocol_name.map(str_bytes);
    }
    resp
}
