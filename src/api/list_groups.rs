//! ListGroups (key 16), v0–v5: state filter (v4+) and type filter (v5+:
//! "classic", "consumer" or "share").

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::context::{RequestContext, str_bytes};
use crate::security::acl::AclOperation;

pub fn handle(ctx: &RequestContext, req: ListGroupsRequest) -> ListGroupsResponse {
    let v = ctx.version;
    let states: Vec<String> = req
        .states_filter
        .iter()
        .map(|s| s.as_str().to_ascii_lowercase())
        .collect();
    let types: Vec<String> = req
        .types_filter
        .iter()
        .map(|s| s.as_str().to_ascii_lowercase())
        .collect();
    // Describe on the cluster lists every group; else the groups the client may Describe.
    let all = ctx.authorize_cluster(AclOperation::Describe);
    let groups = ctx
        .broker
        .groups
        .list_groups()
        .into_iter()
        .filter(|g| states.is_empty() || states.contains(&g.state.to_ascii_lowercase()))
        .filter(|g| types.is_empty() || types.iter().any(|t| t == g.group_type))
        .filter(|g| all || ctx.authorize_group(AclOperation::Describe, &g.group_id))
        .map(|g| {
            let mut l = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(g.group_id)))
                .with_protocol_type(str_bytes(g.protocol_type));
            if v >= 4 {
                l.group_state = str_bytes(g.state);
            }
            if v >= 5 {
                l.group_type = str_bytes(g.group_type);
            }
            l
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}
