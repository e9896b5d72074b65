//! ShareGroupDescribe (key 77), v1 (v0 was Kafka 4.0's early access): share groups (KIP-932)
//! with their members and assignments. A group of another kind, or none, is
//! GROUP_ID_NOT_FOUND with Kafka's messages; DESCRIBE on the group is needed, and on every
//! topic its members subscribe to or are assigned (else TOPIC_AUTHORIZATION_FAILED).

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::share_group_describe_response::{
    Assignment as WireAssignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{ShareGroupDescribeRequest, ShareGroupDescribeResponse, TopicName};

use super::context::{RequestContext, str_bytes};
use crate::group::consumer::Assignment;
use crate::security::acl::{AclOperation, ResourceType};

pub fn handle(ctx: &RequestContext, req: ShareGroupDescribeRequest) -> ShareGroupDescribeResponse {
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
            if let Err(code) = b.check_group_coordinator(gid.as_str()) {
                return d.with_error_code(code);
            }
            let g = match b.groups.share_describe(gid.as_str()) {
                Ok(g) => g,
                Err(message) => {
                    return d
                        .with_error_code(E::GroupIdNotFound.code())
                        .with_error_message(Some(str_bytes(message)));
                }
            };
            // Kafka: a group whose members name a topic the client may not Describe is not
            // described at all.
            let denied = g.members.iter().any(|m| {
                m.subscribed_topic_names
                    .iter()
                    .map(String::as_str)
                    .chain(m.assigned.keys().filter_map(|id| names.get(id).map(String::as_str)))
                    .any(|t| !ctx.authorize_topic(AclOperation::Describe, t))
            });
            if denied {
                return d
                    .with_error_code(E::TopicAuthorizationFailed.code())
                    .with_error_message(Some(str_bytes(
                        "The described group uses topics that the client is not authorized to describe.",
                    )));
            }
            if req.include_authorized_operations {
                d.authorized_operations =
                    ctx.authorized_operations(ResourceType::Group, gid.as_str());
            }
            d.group_state = str_bytes(g.state);
            d.group_epoch = g.group_epoch;
            d.assignment_epoch = g.assignment_epoch;
            d.assignor_name = str_bytes(g.assignor);
            d.members = g
                .members
                .iter()
                .map(|m| {
                    Member::default()
                        .with_member_id(str_bytes(m.member_id.clone()))
                        .with_rack_id(m.rack_id.clone().map(str_bytes))
                        .with_member_epoch(m.member_epoch)
                        .with_client_id(str_bytes(m.client_id.clone()))
                        .with_client_host(str_bytes(m.client_host.clone()))
                        .with_subscribed_topic_names(
                            m.subscribed_topic_names
                                .iter()
                                .map(|t| TopicName(str_bytes(t.clone())))
                                .collect(),
                        )
                        .with_assignment(wire(&m.assigned))
                })
                .collect();
            d
        })
        .collect();
    ShareGroupDescribeResponse::default().with_groups(groups)
}
