//! Metadata (key 3), v0–v13: live brokers, cluster id, the active controller, topics with
//! their ids and partitions (leader, leader epoch, replicas, ISR, offline replicas);
//! auto-creates unknown topics when both the request (v4+) and auto.create.topics.enable allow
//! it (in a cluster, through the active controller).
//!
//! Authorization as Kafka's: an all-topics request lists only the topics the client may
//! Describe; a named topic it may not Describe is TOPIC_AUTHORIZATION_FAILED (whether it
//! exists or not), and auto-creating one needs Create on the cluster or on the topic.

use std::collections::BTreeMap;

use crate::broker::TopicView;
use crate::broker::view::api_error;
use crate::cluster::controller::NewTopic;
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::context::{RequestContext, str_bytes};
use crate::security::acl::{AclOperation, CLUSTER_NAME, ResourceType};
use crate::topics::validate_topic_name;

pub async fn handle(ctx: &RequestContext, req: MetadataRequest) -> MetadataResponse {
    let b = &ctx.broker;
    let v = ctx.version;
    let brokers = b
        .brokers(&ctx.conn.listener)
        .into_iter()
        .map(|e| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(e.id))
                .with_host(str_bytes(e.host))
                .with_port(e.port as i32)
                .with_rack(e.rack.map(str_bytes))
        })
        .collect();

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
            .topic_views()
            .iter()
            .filter(|t| ctx.authorize_topic(AclOperation::Describe, &t.name))
            .map(|t| describe(ctx, t, auth_ops))
            .collect(),
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for rt in list {
                out.push(match rt.name {
                    // v10+: a topic may be named by id only (name null, or empty from lenient clients).
                    Some(name) if !name.is_empty() || rt.topic_id.is_nil() => {
                        by_name(ctx, name, allow_auto, auth_ops).await
                    }
                    _ => match b.topic_view_by_id(rt.topic_id) {
                        Some(t) if ctx.authorize_topic(AclOperation::Describe, &t.name) => {
                            describe(ctx, &t, auth_ops)
                        }
                        // Named by id: the id is no secret, the name is (Kafka answers null,
                        // which the name field can carry from v12).
                        Some(_) => {
                            let r = MetadataResponseTopic::default()
                                .with_topic_id(rt.topic_id)
                                .with_error_code(E::TopicAuthorizationFailed.code());
                            if v >= 12 { r.with_name(None) } else { r }
                        }
                        None => MetadataResponseTopic::default()
                            .with_topic_id(rt.topic_id)
                            .with_error_code(E::UnknownTopicId.code()),
                    },
                });
            }
            out
        }
    };

    let mut resp = MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(str_bytes(b.cluster_id.clone())))
        .with_controller_id(BrokerId(b.controller_id()))
        .with_topics(topics);
    // v8–v10 carry the cluster's operations (KIP-430), 0 without Describe on it.
    if (8..=10).contains(&v) && req.include_cluster_authorized_operations {
        resp.cluster_authorized_operations = if ctx.authorize_cluster(AclOperation::Describe) {
            ctx.authorized_operations(ResourceType::Cluster, CLUSTER_NAME)
        } else {
            0
        };
    }
    resp
}

async fn by_name(
    ctx: &RequestContext,
    name: TopicName,
    allow_auto: bool,
    auth_ops: bool,
) -> MetadataResponseTopic {
    let b = &ctx.broker;
    let unknown = |code: i16| {
        MetadataResponseTopic::default()
            .with_name(Some(name.clone()))
            .with_topic_id(Uuid::nil())
            .with_error_code(code)
    };
    if !ctx.authorize_topic(AclOperation::Describe, name.as_str()) {
        return unknown(E::TopicAuthorizationFailed.code());
    }
    if let Some(t) = b.topic_view(name.as_str()) {
        return describe(ctx, &t, auth_ops);
    }
    if let Err(e) = validate_topic_name(name.as_str()) {
        return unknown(api_error(&e).code);
    }
    if !(allow_auto && b.config.auto_create_topics_enable) {
        return unknown(E::UnknownTopicOrPartition.code());
    }
    if !ctx.authorize_cluster(AclOperation::Create)
        && !ctx.authorize_topic(AclOperation::Create, name.as_str())
    {
        return unknown(E::TopicAuthorizationFailed.code());
    }
    let rf = if b.cluster.is_some() {
        b.config.default_replication_factor
    } else {
        1
    };
    let spec = NewTopic {
        name: name.as_str().to_string(),
        partitions: b.config.num_partitions,
        replication_factor: rf,
        assignments: vec![],
        configs: BTreeMap::new(),
    };
    let created = b.create_topics(vec![spec], false).await.remove(0);
    // Lost a race with another creator: describe what is there now.
    match (created, b.topic_view(name.as_str())) {
        (_, Some(t)) => describe(ctx, &t, auth_ops),
        (Ok(_), None) => unknown(E::LeaderNotAvailable.code()),
        (Err(e), None) => {
            tracing::warn!(topic = %name.as_str(), "auto-create failed: {}", e.message);
            unknown(e.code)
        }
    }
}

fn ids(nodes: &[i32]) -> Vec<BrokerId> {
    nodes.iter().map(|&n| BrokerId(n)).collect()
}

/// A topic as Metadata describes it; a partition without a leader says LEADER_NOT_AVAILABLE.
/// `auth_ops`: with the client's authorized operations on it.
pub fn describe(ctx: &RequestContext, t: &TopicView, auth_ops: bool) -> MetadataResponseTopic {
    let partitions = t
        .partitions
        .iter()
        .map(|p| {
            let code = if p.leader < 0 {
                E::LeaderNotAvailable.code()
            } else {
                0
            };
            MetadataResponsePartition::default()
                .with_error_code(code)
                .with_partition_index(p.partition)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(ids(&p.replicas))
                .with_isr_nodes(ids(&p.isr))
                .with_offline_replicas(ids(&p.offline))
        })
        .collect();
    let mut topic = MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_topic_id(t.id)
        .with_is_internal(t.internal)
        .with_partitions(partitions);
    if auth_ops {
        topic.topic_authorized_operations = ctx.authorized_operations(ResourceType::Topic, &t.name);
    }
    topic
}
