//! ConsumerGroupDescribe (key 69), v0–v1: KIP-848 groups with their members'
//! current and target assignments. A classic group is GROUP_ID_NOT_FOUND here
//! (clients then fall back to DescribeGroups, as they do against Kafka).

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment as WireAssignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, TopicName,
};

use super::context::{RequestContext, str_bytes};
use crate::group::consumer::Assignment;
use crate::security::acl::{AclOperation, ResourceType};

pub fn handle(
    ctx: &RequestContext,
    req: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let b = &ctx.broker;
    let names: std::collections::HashMap<uuid::Uuid, String> = b
        .topic_views()
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let wire = |a: &Assignment| {
        WireAssignment::default().with_topic_partitions(
            a.iter()
                .map(|(id, ps)| {
                    TopicPartitions::default()
                        .with_topic_id(*id)
                        .with_topic_name(TopicName(str_bytes(
                            names.get(id).cloned().unwrap_or_default(),
                        )))
                        .with_partitions(ps.iter().copied().collect())
                })
                .collect(),
        )
    };
    let groups = req
        .group_ids
        .iter()
        .map(|gid| {
            let mut d = DescribedGroup::default().with_group_id(gid.clone());
            if !ctx.authorize_group(AclOperation::Describe, gid.as_str()) {
                return d.with_error_code(E::GroupAuthorizationFailed.code());
            }
            if req.include_authorized_operations {
                d.authorized_operations =
                    ctx.authorized_operations(ResourceType::Group, gid.as_str());
            }
            if let Err(code) = b.check_group_coordinator(gid.as_str()) {
                return d.with_error_code(code);
            }
            let Some(g) = b.groups.consumer_describe(gid.as_str()) else {
                return d
                    .with_error_code(E::GroupIdNotFound.code())
                    .with_error_message(Some(str_bytes(format!(
                        "Group {} is not a consumer group.",
                        gid.as_str()
                    ))));
            };
            d.group_state = str_bytes(g.state);
            d.group_epoch = g.group_epoch;
            d.assignment_epoch = g.assignment_epoch;
            d.assignor_name = str_bytes(g.assignor);
            d.members = g
                .members
                .iter()
                .map(|m| {
                    let mm = &m.member;
                    let mut out = Member::default()
                        .with_member_id(str_bytes(mm.member_id.clone()))
                        .with_instance_id(mm.instance_id.clone().map(str_bytes))
                        .with_rack_id(mm.rack_id.clone().map(str_bytes))
                        .with_member_epoch(mm.member_epoch)
                        .with_client_id(str_bytes(mm.client_id.clone()))
                        .with_client_host(str_bytes(mm.client_host.clone()))
                        .with_subscribed_topic_names(
                            mm.subscribed_topic_names
                                .iter()
                                .map(|t| TopicName(str_bytes(t.clone())))
                                .collect(),
                        )
                        .with_subscribed_topic_regex(
                            mm.subscribed_topic_regex.clone().map(str_bytes),
                        )
                        .with_assignment(wire(&mm.assigned))
                        .with_target_assignment(wire(&m.target));
                    if ctx.version >= 1 {
                        out.member_type = 1; // a consumer-protocol member
                    }
                    out
                })
                .collect();
            d
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}
