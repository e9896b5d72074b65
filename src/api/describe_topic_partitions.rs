//! DescribeTopicPartitions (key 75), v0: what kafka-topics.sh --describe uses
//! in Kafka 4. Topics by name (none: all), paginated by
//! response_partition_limit with a cursor.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use uuid::Uuid;

use super::context::{RequestContext, str_bytes};
use crate::security::acl::{AclOperation, ResourceType};

pub fn handle(
    ctx: &RequestContext,
    req: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let b = &ctx.broker;
    // Kafka's checks: all topics lists the ones the client may Describe; a named one it may
    // not is TOPIC_AUTHORIZATION_FAILED.
    let describe = |name: &str| ctx.authorize_topic(AclOperation::Describe, name);
    let mut names: Vec<String> = if req.topics.is_empty() {
        b.topic_views()
            .into_iter()
            .map(|t| t.name)
            .filter(|n| describe(n))
            .collect()
    } else {
        req.topics
            .iter()
            .map(|t| t.name.as_str().to_string())
            .collect()
    };
    names.sort();
    names.dedup();
    let (cursor_topic, cursor_partition) = match &req.cursor {
        Some(c) => (Some(c.topic_name.as_str().to_string()), c.partition_index),
        None => (None, 0),
    };
    let limit = if req.response_partition_limit > 0 {
        req.response_partition_limit as usize
    } else {
        2000
    };
    let mut budget = limit;
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names {
        if let Some(ct) = &cursor_topic
            && &name < ct
        {
            continue;
        }
        if !describe(&name) {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_error_code(E::TopicAuthorizationFailed.code())
                    .with_name(Some(TopicName(str_bytes(name))))
                    .with_topic_id(Uuid::nil()),
            );
            continue;
        }
        let Some(t) = b.topic_view(&name) else {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_error_code(E::UnknownTopicOrPartition.code())
                    .with_name(Some(TopicName(str_bytes(name))))
                    .with_topic_id(Uuid::nil()),
            );
            continue;
        };
        let first = if cursor_topic.as_deref() == Some(name.as_str()) {
            cursor_partition.max(0)
        } else {
            0
        };
        if budget == 0 {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(TopicName(str_bytes(name)))
                    .with_partition_index(first),
            );
            break;
        }
        let count = t.partitions.len() as i32;
        let ids = |n: &[i32]| n.iter().map(|&i| BrokerId(i)).collect::<Vec<_>>();
        let mut partitions = Vec::new();
        let mut p = first;
        while p < count && budget > 0 {
            let view = &t.partitions[p as usize];
            let code = if view.leader < 0 {
                E::LeaderNotAvailable.code()
            } else {
                0
            };
            partitions.push(
                DescribeTopicPartitionsResponsePartition::default()
                    .with_error_code(code)
                    .with_partition_index(p)
                    .with_leader_id(BrokerId(view.leader))
                    .with_leader_epoch(view.leader_epoch)
                    .with_replica_nodes(ids(&view.replicas))
                    .with_isr_nodes(ids(&view.isr))
                    .with_offline_replicas(ids(&view.offline))
                    .with_eligible_leader_replicas(Some(vec![]))
                    .with_last_known_elr(Some(vec![])),
            );
            p += 1;
            budget -= 1;
        }
        // Always filled, as Kafka's handler does.
        topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(TopicName(str_bytes(t.name.clone()))))
                .with_topic_id(t.id)
                .with_is_internal(t.internal)
                .with_partitions(partitions)
                .with_topic_authorized_operations(
                    ctx.authorized_operations(ResourceType::Topic, &t.name),
                ),
        );
        if p < count {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(TopicName(str_bytes(t.name.clone())))
                    .with_partition_index(p),
            );
            break;
        }
    }
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}
