//! DescribeGroups (key 15), v0–v6. An unknown group is "Dead" without error
//! before v6 and GROUP_ID_NOT_FOUND from v6 (KIP-1043), as Kafka answers; so is a share group
//! ("Group X is not a classic group." from v6).

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::context::{RequestContext, str_bytes};
use crate::security::acl::{AclOperation, ResourceType};

pub fn handle(ctx: &RequestContext, req: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let v = ctx.version;
    let groups = req
        .groups
        .iter()
        .map(|id| {
            let mut d = DescribedGroup::default().with_group_id(id.clone());
            if !ctx.authorize_group(AclOperation::Describe, id.as_str()) {
                return d.with_error_code(E::GroupAuthorizationFailed.code());
            }
            if v >= 3 && req.include_authorized_operations {
                d.authorized_operations =
                    ctx.authorized_operations(ResourceType::Group, id.as_str());
            }
            if let Err(code) = ctx.broker.check_group_coordinator(id.as_str()) {
                return d.with_error_code(code);
            }
            let Some(g) = ctx.broker.groups.describe(id.as_str()) else {
                d.group_state = str_bytes("Dead");
                if v >= 6 {
                    d.error_code = E::GroupIdNotFound.code();
                    d.error_message = Some(str_bytes(
                        if ctx.broker.groups.is_share_group(id.as_str()) {
                            format!("Group {} is not a classic group.", id.as_str())
                        } else {
                            format!("Group {} not found.", id.as_str())
                        },
                    ));
                }
                return d;
            };
            d.group_state = str_bytes(g.state.name());
            d.protocol_type = str_bytes(g.protocol_type);
            d.protocol_data = str_bytes(g.protocol_name);
            d.members = g
                .members
                .into_iter()
                .map(|m| {
                    let dm = DescribedGroupMember::default()
                        .with_member_id(str_bytes(m.member_id))
                        .with_client_id(str_bytes(m.client_id))
                        .with_client_host(str_bytes(m.client_host))
                        .with_member_metadata(m.metadata)
                        .with_member_assignment(m.assignment);
                    if v >= 4 {
                        dm.with_group_instance_id(m.group_instance_id.map(str_bytes))
                    } else {
                        dm
                    }
                })
                .collect();
            d
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
