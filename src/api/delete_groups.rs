//! DeleteGroups (key 42), v0–v2: only empty groups; their offsets go too, and a share
//! group's share-partition state before the group (`broker/shares.rs`; awaited, as the
//! share state's writes are).

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::context::RequestContext;
use crate::security::acl::AclOperation;

pub async fn handle(ctx: &RequestContext, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let b = &ctx.broker;
    // Delete on each group; the others are left alone.
    let allowed: Vec<bool> = req
        .groups_names
        .iter()
        .map(|g| ctx.authorize_group(AclOperation::Delete, g.as_str()))
        .collect();
    let ids: Vec<String> = req
        .groups_names
        .iter()
        .zip(&allowed)
        .filter(|(_, ok)| **ok)
        .map(|(g, _)| g.as_str().to_string())
        .collect();
    let mut deleted = b.delete_groups(&ids).await.into_iter();
    let denied = kafka_protocol::ResponseError::GroupAuthorizationFailed.code();
    let codes: Vec<i16> = allowed
        .iter()
        .map(|&ok| {
            if ok {
                deleted.next().unwrap_or(0)
            } else {
                denied
            }
        })
        .collect();
    DeleteGroupsResponse::default().with_results(
        req.groups_names
            .into_iter()
            .zip(codes)
            .map(|(g, code)| {
                DeletableGroupResult::default()
                    .with_group_id(g)
                    .with_error_code(code)
            })
            .collect(),
    )
}
