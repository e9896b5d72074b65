//! AlterShareGroupOffsets (key 91), v0 (KIP-932; design §9.2): set a share group's start
//! offsets (`kafka-share-groups.sh --reset-offsets --execute`, Admin.alterShareGroupOffsets).
//!
//! A group id (INVALID_GROUP_ID), READ on the group (GROUP_AUTHORIZATION_FAILED), this node its coordinator
//! (NOT_COORDINATOR), a share group or none (an absent group is created Empty, Kafka 4.2,
//! KAFKA-19662; a group of another kind is GROUP_ID_NOT_FOUND), and no members
//! (NON_EMPTY_GROUP); all top-level errors. Per partition: UNKNOWN_TOPIC_OR_PARTITION,
//! TOPIC_AUTHORIZATION_FAILED without READ on the topic, else the share-partition's state is
//! replaced by an empty window at the offset under a new state epoch, written first
//! (KAFKA_STORAGE_ERROR when it cannot be). In a cluster the share coordinator initializes
//! it under the next state epoch, wherever the partition is led (design §14.1 step 6;
//! its error when it cannot). Async: each new state is written (awaited) before the answer.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::alter_share_group_offsets_response::{
    AlterShareGroupOffsetsResponsePartition as Partition,
    AlterShareGroupOffsetsResponseTopic as Topic,
};
use kafka_protocol::messages::{AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse};

use super::context::{RequestContext, str_bytes};
use crate::broker::TopicRef;
use crate::security::acl::AclOperation;
use crate::share::SharePartitionKey;

pub async fn handle(
    ctx: &RequestContext,
    req: AlterShareGroupOffsetsRequest,
) -> AlterShareGroupOffsetsResponse {
    let b = &ctx.broker;
    let gid = req.group_id.as_str();
    let top = |code: E, message: Option<String>| {
        AlterShareGroupOffsetsResponse::default()
            .with_error_code(code.code())
            .with_error_message(message.map(str_bytes))
    };
    if gid.is_empty() {
        return top(E::InvalidGroupId, None);
    }
    if !ctx.authorize_group(AclOperation::Read, gid) {
        return top(E::GroupAuthorizationFailed, None);
    }
    let (settings, _) = b.share_group_settings(gid);
    match b.groups.share_group_members(
        &b.topics,
        gid,
        Some(settings.session_timeout_ms),
        b.now_ms(),
    ) {
        Ok(0) => {}
        Ok(_) => {
            return top(
                E::NonEmptyGroup,
                Some(format!(
                    "Share group {gid} is not empty: its offsets can only be altered with no members."
                )),
            );
        }
        Err((code, message)) => {
            return AlterShareGroupOffsetsResponse::default()
                .with_error_code(code)
                .with_error_message((!message.is_empty()).then(|| str_bytes(message)));
        }
    }
    let views = b.topic_views();
    let mut responses = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let name = t.topic_name.as_str();
        let view = views.iter().find(|v| v.name == name);
        let allowed = ctx.authorize_topic(AclOperation::Read, name);
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let index = p.partition_index;
            let code = if !allowed {
                E::TopicAuthorizationFailed.code()
            } else if let Some(v) = view {
                // A cluster's share state is at its coordinator, wherever the partition leads.
                let here = if b.cluster.is_some() {
                    usize::try_from(index)
                        .ok()
                        .filter(|&i| i < v.partitions.len())
                        .map(|_| ())
                        .ok_or(E::UnknownTopicOrPartition.code())
                } else {
                    b.leader_partition(TopicRef::Name(name), index).map(|_| ())
                };
                match here {
                    Ok(()) => {
                        let key = SharePartitionKey {
                            group_id: gid.to_string(),
                            topic_id: v.id,
                            partition: index,
                        };
                        b.reset_share_start_offset(&key, p.start_offset)
                            .await
                            .err()
                            .unwrap_or(0)
                    }
                    Err(code) => code,
                }
            } else {
                E::UnknownTopicOrPartition.code()
            };
            partitions.push(
                Partition::default()
                    .with_partition_index(index)
                    .with_error_code(code),
            );
        }
        responses.push(
            Topic::default()
                .with_topic_name(t.topic_name.clone())
                .with_topic_id(view.map(|v| v.id).unwrap_or_default())
                .with_partitions(partitions),
        );
    }
    AlterShareGroupOffsetsResponse::default().with_responses(responses)
}
