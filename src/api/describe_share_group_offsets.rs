//! DescribeShareGroupOffsets (key 90), v0–1 (KIP-932, KIP-1226; design §9.1): each share
//! group's start offset (SPSO) and, from v1, lag per partition, what `kafka-share-groups.sh
//! --describe` prints as START-OFFSET and LAG (Admin.listShareGroupOffsets).
//!
//! Per group: a group id (INVALID_GROUP_ID), DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED), this node its coordinator
//! (NOT_COORDINATOR), a share group (GROUP_ID_NOT_FOUND). Topics null: every partition with
//! share state, of topics the client may DESCRIBE. Named topics: each requested partition,
//! UNKNOWN_TOPIC_OR_PARTITION for one that does not exist, TOPIC_AUTHORIZATION_FAILED without
//! DESCRIBE on the topic, start offset -1 without state.
//!
//! Lag (v1) is Kafka's: high watermark − SPSO − delivery-complete count (the Acknowledged and
//! Archived offsets at or above the SPSO), not clamped; -1 ("uninitialized", which the Admin
//! client shows as no lag) without state or without the partition here. v0 leaves it out.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_share_group_offsets_response::{
    DescribeShareGroupOffsetsResponseGroup as Group,
    DescribeShareGroupOffsetsResponsePartition as Partition,
    DescribeShareGroupOffsetsResponseTopic as Topic,
};
use kafka_protocol::messages::{
    DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse, TopicName,
};
use uuid::Uuid;

use super::context::{RequestContext, str_bytes};
use crate::broker::{Broker, TopicView};
use crate::security::acl::AclOperation;

pub fn handle(
    ctx: &RequestContext,
    req: DescribeShareGroupOffsetsRequest,
) -> DescribeShareGroupOffsetsResponse {
    let b = &ctx.broker;
    let views = b.topic_views();
    let groups = req
        .groups
        .iter()
        .map(|g| {
            let gid = g.group_id.as_str();
            let out = Group::default().with_group_id(g.group_id.clone());
            if gid.is_empty() {
                return out.with_error_code(E::InvalidGroupId.code());
            }
            if !ctx.authorize_group(AclOperation::Describe, gid) {
                return out.with_error_code(E::GroupAuthorizationFailed.code());
            }
            if let Err((code, message)) =
                b.groups
                    .share_group_members(&b.topics, gid, None, b.now_ms())
            {
                let message = (!message.is_empty()).then(|| str_bytes(message));
                return out.with_error_code(code).with_error_message(message);
            }
            let partition = |index: i32, start_offset: i64, leader_epoch: i32| {
                Partition::default()
                    .with_partition_index(index)
                    .with_start_offset(start_offset)
                    .with_leader_epoch(leader_epoch)
            };
            // (topic id, partition) → (SPSO, delivery-complete count), read once per group.
            let offsets: BTreeMap<(Uuid, i32), (i64, i64)> = b
                .shares
                .group_offsets(gid)
                .into_iter()
                .map(|(id, index, spso, dcc)| ((id, index), (spso, dcc)))
                .collect();
            let epoch = |v: &TopicView, index: i32| {
                v.partitions
                    .iter()
                    .find(|p| p.partition == index)
                    .map_or(-1, |p| p.leader_epoch)
            };
            let with_state = |v: &TopicView, index: i32, (spso, dcc): (i64, i64)| {
                partition(index, spso, epoch(v, index)).with_lag(lag(b, v.id, index, spso, dcc))
            };
            let topics: Vec<Topic> = match &g.topics {
                None => {
                    let mut by_topic: BTreeMap<String, Topic> = BTreeMap::new();
                    for (&(id, index), &state) in &offsets {
                        let Some(view) = views.iter().find(|v| v.id == id) else {
                            continue;
                        };
                        if !ctx.authorize_topic(AclOperation::Describe, &view.name) {
                            continue;
                        }
                        by_topic
                            .entry(view.name.clone())
                            .or_insert_with(|| {
                                Topic::default()
                                    .with_topic_name(TopicName(str_bytes(view.name.clone())))
                                    .with_topic_id(id)
                            })
                            .partitions
                            .push(with_state(view, index, state));
                    }
                    by_topic.into_values().collect()
                }
                Some(requested) => requested
                    .iter()
                    .map(|t| {
                        let name = t.topic_name.as_str();
                        let view = views.iter().find(|v| v.name == name);
                        let allowed = ctx.authorize_topic(AclOperation::Describe, name);
                        let partitions = t
                            .partitions
                            .iter()
                            .map(|&index| {
                                let err =
                                    |code: E| partition(index, -1, -1).with_error_code(code.code());
                                if !allowed {
                                    return err(E::TopicAuthorizationFailed);
                                }
                                let Some(v) = view.filter(|v| {
                                    index >= 0 && (index as usize) < v.partitions.len()
                                }) else {
                                    return err(E::UnknownTopicOrPartition);
                                };
                                match offsets.get(&(v.id, index)) {
                                    Some(&state) => with_state(v, index, state),
                                    None => partition(index, -1, -1),
                                }
                            })
                            .collect();
                        Topic::default()
                            .with_topic_name(t.topic_name.clone())
                            .with_topic_id(view.map(|v| v.id).unwrap_or_default())
                            .with_partitions(partitions)
                    })
                    .collect(),
            };
            out.with_topics(topics)
        })
        .collect();
    DescribeShareGroupOffsetsResponse::default().with_groups(groups)
}

/// KIP-1226's lag: the partition's high watermark (what ListOffsets "latest" answers) minus the
/// SPSO minus the offsets at or above it already delivered for good. Not clamped, as Kafka;
/// -1 when the partition is not held here or the count is uninitialized.
fn lag(b: &Broker, topic_id: Uuid, index: i32, spso: i64, delivery_complete_count: i64) -> i64 {
    if spso < 0 || delivery_complete_count < 0 {
        return -1;
    }
    b.topics
        .get_by_id(topic_id)
        .and_then(|t| t.partition(index))
        .map_or(-1, |p| {
            p.offsets().high_watermark - spso - delivery_complete_count
        })
}
