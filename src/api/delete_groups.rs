//! DeleteGroups (key 42), v0–v2: only empty groups; their offsets go too.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::context::RequestContext;

pub fn handle(ctx: &RequestContext, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let b = &ctx.broker;
    let ids: Vec<String> = req
        .groups_names
        .iter()
        .map(|g| g.as_str().to_string())
        .collect();
    let codes = b.groups.delete_groups(&b.topics, &ids, b.now_ms());
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
