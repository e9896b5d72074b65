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
//!
//! In a cluster the state is at the share coordinators: the group coordinator asks them
//! (ReadShareGroupStateSummary v1, per coordinator node) and the partitions' leaders for the
//! high watermarks (`broker/share_admin.rs`, design §14.1 step 6); a partition whose
//! coordinator does not answer in time carries its error. Async for those calls.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup as RequestGroup;
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
use crate::broker::TopicView;
use crate::security::acl::AclOperation;

pub async fn handle(
    ctx: &RequestContext,
    req: DescribeShareGroupOffsetsRequest,
) -> DescribeShareGroupOffsetsResponse {
    let b = &ctx.broker;
    let views = b.topic_views();
    let mut groups = Vec::with_capacity(req.groups.len());
    for g in &req.groups {
        groups.push(describe_group(ctx, &views, g).await);
    }
    DescribeShareGroupOffsetsResponse::default().with_groups(groups)
}

/// A share-partition's state as the describe needs it: (SPSO, delivery-complete count), or the
/// error its share coordinator answered (a cluster only).
type Offsets = BTreeMap<(Uuid, i32), Result<(i64, i64), i16>>;

async fn describe_group(ctx: &RequestContext, views: &[TopicView], g: &RequestGroup) -> Group {
    let b = &ctx.broker;
    let gid = g.group_id.as_str();
    let out = Group::default().with_group_id(g.group_id.clone());
    if gid.is_empty() {
        return out.with_error_code(E::InvalidGroupId.code());
    }
    if !ctx.authorize_group(AclOperation::Describe, gid) {
        return out.with_error_code(E::GroupAuthorizationFailed.code());
    }
    if let Err((code, message)) = b
        .groups
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
    let (offsets, high_watermarks) = group_offsets(ctx, views, g).await;
    let epoch = |v: &TopicView, index: i32| {
        v.partitions
            .iter()
            .find(|p| p.partition == index)
            .map_or(-1, |p| p.leader_epoch)
    };
    let with_state = |v: &TopicView, index: i32, state: Result<(i64, i64), i16>| match state {
        Ok((spso, dcc)) => {
            let hw = high_watermarks.get(&(v.id, index)).copied().unwrap_or(-1);
            partition(index, spso, epoch(v, index)).with_lag(lag(hw, spso, dcc))
        }
        Err(code) => partition(index, -1, -1).with_error_code(code),
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
                        let err = |code: E| partition(index, -1, -1).with_error_code(code.code());
                        if !allowed {
                            return err(E::TopicAuthorizationFailed);
                        }
                        let Some(v) = view.filter(|v| exists(v, index)) else {
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
}

fn exists(v: &TopicView, index: i32) -> bool {
    index >= 0 && (index as usize) < v.partitions.len()
}

/// The share-partitions of group `g` with state, and their high watermarks. A single broker
/// reads its own share manager and partitions. A cluster asks the share coordinators for the
/// summaries of the requested partitions, or with no topics named of every partition of every
/// topic the client may DESCRIBE (fjord does not record which topics a group has state for,
/// design §14.1 step 6), keeping those with state; high watermarks come from the leaders.
async fn group_offsets(
    ctx: &RequestContext,
    views: &[TopicView],
    g: &RequestGroup,
) -> (Offsets, BTreeMap<(Uuid, i32), i64>) {
    let b = &ctx.broker;
    let gid = g.group_id.as_str();
    if b.cluster.is_none() {
        let offsets: Offsets = b
            .shares
            .group_offsets(gid)
            .into_iter()
            .map(|(id, index, spso, dcc)| ((id, index), Ok((spso, dcc))))
            .collect();
        let hws = offsets
            .keys()
            .filter_map(|&(id, index)| {
                let p = b.topics.get_by_id(id)?.partition(index)?;
                Some(((id, index), p.offsets().high_watermark))
            })
            .collect();
        return (offsets, hws);
    }
    let keys: Vec<(Uuid, i32)> = match &g.topics {
        None => views
            .iter()
            .filter(|v| !v.internal && ctx.authorize_topic(AclOperation::Describe, &v.name))
            .flat_map(|v| (0..v.partitions.len() as i32).map(move |i| (v.id, i)))
            .collect(),
        Some(requested) => requested
            .iter()
            .filter(|t| ctx.authorize_topic(AclOperation::Describe, t.topic_name.as_str()))
            .filter_map(|t| views.iter().find(|v| v.name == t.topic_name.as_str()))
            .flat_map(|v| {
                let t = requested.iter().find(|t| t.topic_name.as_str() == v.name);
                t.into_iter()
                    .flat_map(|t| &t.partitions)
                    .filter(|&&i| exists(v, i))
                    .map(|&i| (v.id, i))
            })
            .collect(),
    };
    let offsets: Offsets = b
        .share_state_summaries(gid, &keys)
        .await
        .into_iter()
        .filter_map(|(k, s)| match s {
            Ok(s) if s.start_offset < 0 => None,
            Ok(s) => Some((
                k,
                Ok((s.start_offset, i64::from(s.delivery_complete_count))),
            )),
            Err(code) => Some((k, Err(code))),
        })
        .collect();
    let named: Vec<((Uuid, i32), String)> = offsets
        .iter()
        .filter(|(_, s)| s.is_ok())
        .filter_map(|(&(id, index), _)| {
            let v = views.iter().find(|v| v.id == id)?;
            Some(((id, index), v.name.clone()))
        })
        .collect();
    let hws = b.share_high_watermarks(&named).await;
    (offsets, hws)
}

/// KIP-1226's lag: the partition's high watermark (what ListOffsets "latest" answers) minus the
/// SPSO minus the offsets at or above it already delivered for good. Not clamped, as Kafka;
/// -1 when the high watermark is unknown (a single broker: the partition is not held here) or
/// the count is uninitialized.
fn lag(high_watermark: i64, spso: i64, delivery_complete_count: i64) -> i64 {
    if spso < 0 || delivery_complete_count < 0 || high_watermark < 0 {
        return -1;
    }
    high_watermark - spso - delivery_complete_count
}
