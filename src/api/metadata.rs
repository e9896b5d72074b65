//! Metadata (key 3), v0–v13: brokers, cluster id, controller, topics with
//! their ids and partitions; auto-creates unknown topics when both the
//! request (v4+) and auto.create.topics.enable allow it.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::context::{RequestContext, str_bytes, topic_error};
use crate::topics::{Topic, validate_topic_name};

/// Bits of the topic operations (AclOperation codes READ=3, WRITE=4, CREATE=5, DELETE=6,
/// ALTER=7, DESCRIBE=8, DESCRIBE_CONFIGS=10, ALTER_CONFIGS=11): no ACLs, so all allowed.
const ALL_TOPIC_OPERATIONS: i32 =
    1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 8 | 1 << 10 | 1 << 11;

pub fn handle(ctx: &RequestContext, req: MetadataRequest) -> MetadataResponse {
    let b = &ctx.broker;
    let v = ctx.version;
    let advertised = b.config.advertised_for(&ctx.conn.listener);
    let brokers = advertised
        .map(|l| {
            vec![
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(b.node_id))
                    .with_host(str_bytes(l.host.clone()))
                    .with_port(l.port as i32),
            ]
        })
        .unwrap_or_default();

    // v0: an empty list means all topics; v1+: null means all topics.
    let wanted = match req.topics {
        None => None,
        Some(t) if t.is_empty() && v == 0 => None,
        Some(t) => Some(t),
    };
    let allow_auto = v < 4 || req.allow_auto_topic_creation;
    let auth_ops = req.include_topic_authorized_operations;

    let topics = match wanted {
        None => b
            .topics
            .list()
            .iter()
            .map(|t| describe(t, b.node_id, auth_ops))
            .collect(),
        Some(list) => list
            .into_iter()
            .map(|rt| match rt.name {
                // v10+: a topic may be named by id only (name null, or empty from lenient clients).
                Some(name) if !name.is_empty() || rt.topic_id.is_nil() => {
                    by_name(ctx, name, allow_auto, auth_ops)
                }
                _ => match b.topics.get_by_id(rt.topic_id) {
                    Some(t) => describe(&t, b.node_id, auth_ops),
                    None => MetadataResponseTopic::default()
                        .with_topic_id(rt.topic_id)
                        .with_error_code(E::UnknownTopicId.code()),
                },
            })
            .collect(),
    };

    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(str_bytes(b.cluster_id.clone())))
        .with_controller_id(BrokerId(b.node_id))
        .with_topics(topics)
}

fn by_name(
    ctx: &RequestContext,
    name: TopicName,
    allow_auto: bool,
    auth_ops: bool,
) -> MetadataResponseTopic {
    let b = &ctx.broker;
    if let Some(t) = b.topics.get(name.as_str()) {
        return describe(&t, b.node_id, auth_ops);
    }
    let unknown = |code: i16| {
        MetadataResponseTopic::default()
            .with_name(Some(name.clone()))
            .with_topic_id(Uuid::nil())
            .with_error_code(code)
    };
    if let Err(e) = validate_topic_name(name.as_str()) {
        return unknown(topic_error(&e).0);
    }
    if !(allow_auto && b.config.auto_create_topics_enable) {
        return unknown(E::UnknownTopicOrPartition.code());
    }
    let created = b.topics.create(
        name.as_str(),
        b.config.num_partitions,
        1,
        BTreeMap::new(),
        b.now_ms(),
    );
    match created {
        Ok(t) => describe(&t, b.node_id, auth_ops),
        // Lost a race with another creator: describe what is there now.
        Err(_) if b.topics.get(name.as_str()).is_some() => describe(
            &b.topics.get(name.as_str()).expect("checked"),
            b.node_id,
            auth_ops,
        ),
        Err(e) => {
            tracing::warn!(topic = %name.as_str(), "auto-create failed: {e}");
            unknown(topic_error(&e).0)
        }
    }
}

/// A topic as Metadata describes it: this broker leads every partition.
pub fn describe(t: &Topic, node_id: i32, auth_ops: bool) -> MetadataResponseTopic {
    let partitions = (0..t.partition_count())
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p)
                .with_leader_id(BrokerId(node_id))
                .with_leader_epoch(0)
                .with_replica_nodes(vec![BrokerId(node_id)])
                .with_isr_nodes(vec![BrokerId(node_id)])
        })
        .collect();
    let mut topic = MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_topic_id(t.id)
        .with_is_internal(t.is_internal())
        .with_partitions(partitions);
    if auth_ops {
        topic.topic_authorized_operations = ALL_TOPIC_OPERATIONS;
    }
    topic
}
