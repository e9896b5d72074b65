//! CreateTopics (key 19), v2–v7: partitions, replication factor (-1 for the default) or an
//! explicit replica assignment, topic configs, validate_only; v5+ answers with the topic's
//! configs, v7+ with its id. In a cluster the active controller places and creates the topic.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::context::{RequestContext, str_bytes};
use super::describe_configs::topic_entries;
use crate::cluster::controller::NewTopic;
use crate::security::acl::AclOperation;

pub async fn handle(ctx: &RequestContext, req: CreateTopicsRequest) -> CreateTopicsResponse {
    let b = &ctx.broker;
    let mut seen = std::collections::HashSet::new();
    // Each topic's result, or the spec to create it with (answered after the broker has).
    let mut results: Vec<CreatableTopicResult> = Vec::with_capacity(req.topics.len());
    let mut specs: Vec<(usize, NewTopic)> = Vec::new();
    // Kafka's checks: Create on the cluster, or else on each topic; the configs of a created
    // topic are shown only with DescribeConfigs on it.
    let create_all = ctx.authorize_cluster(AclOperation::Create);
    for t in req.topics {
        let name = t.name.as_str().to_string();
        // Kafka sends a null message with success (the codec's default is an empty string).
        let result = CreatableTopicResult::default()
            .with_name(t.name.clone())
            .with_error_message(None)
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        if !seen.insert(name.clone()) {
            results.push(
                result
                    .with_error_code(E::InvalidRequest.code())
                    .with_error_message(Some(str_bytes(format!(
                        "Create topics request from client contains a duplicate topic: {name}"
                    )))),
            );
            continue;
        }
        if !create_all && !ctx.authorize_topic(AclOperation::Create, &name) {
            results.push(
                result
                    .with_error_code(E::TopicAuthorizationFailed.code())
                    .with_error_message(Some(str_bytes("Authorization failed."))),
            );
            continue;
        }
        if !t.assignments.is_empty() && (t.num_partitions != -1 || t.replication_factor != -1) {
            results.push(result.with_error_code(E::InvalidRequest.code()).with_error_message(
                Some(str_bytes(
                    "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
                )),
            ));
            continue;
        }
        let partitions = if t.num_partitions == -1 {
            b.config.num_partitions
        } else {
            t.num_partitions
        };
        let internal_default = name == "__consumer_offsets" || name == "__transaction_state";
        let rf = match t.replication_factor {
            // An internal topic takes its own factor (offsets.topic.replication.factor …).
            -1 if internal_default && b.cluster.is_some() => -1,
            -1 => b.config.default_replication_factor,
            rf => rf,
        };
        let mut assignments: Vec<(i32, Vec<i32>)> = t
            .assignments
            .iter()
            .map(|a| {
                (
                    a.partition_index,
                    a.broker_ids.iter().map(|id| id.0).collect(),
                )
            })
            .collect();
        assignments.sort_by_key(|(p, _)| *p);
        if assignments
            .iter()
            .enumerate()
            .any(|(i, (p, _))| *p != i as i32)
        {
            results.push(
                result
                    .with_error_code(E::InvalidReplicaAssignment.code())
                    .with_error_message(Some(str_bytes(
                        "Partitions should be a consecutive 0-based integer sequence",
                    ))),
            );
            continue;
        }
        let mut configs = BTreeMap::new();
        for c in &t.configs {
            if let Some(v) = &c.value {
                configs.insert(c.name.as_str().to_string(), v.as_str().to_string());
            }
        }
        specs.push((
            results.len(),
            NewTopic {
                name,
                partitions,
                replication_factor: rf,
                assignments: assignments.into_iter().map(|(_, r)| r).collect(),
                configs,
            },
        ));
        results.push(result);
    }
    let slots: Vec<usize> = specs.iter().map(|(i, _)| *i).collect();
    let configs: Vec<BTreeMap<String, String>> =
        specs.iter().map(|(_, s)| s.configs.clone()).collect();
    let outcomes = b
        .create_topics(
            specs.into_iter().map(|(_, s)| s).collect(),
            req.validate_only,
        )
        .await;
    let broker_config = b.topics.broker_config();
    for ((slot, outcome), configs) in slots.into_iter().zip(outcomes).zip(configs) {
        let result = &mut results[slot];
        match outcome {
            Ok(created) => {
                result.num_partitions = created.partitions;
                result.replication_factor = created.replication_factor;
                result.topic_id = created.id;
                if !ctx.authorize_topic(AclOperation::DescribeConfigs, result.name.as_str()) {
                    if ctx.version >= 5 {
                        result.topic_config_error_code = E::TopicAuthorizationFailed.code();
                    }
                    continue;
                }
                let entries = topic_entries(&broker_config, &configs, None);
                result.configs = Some(
                    entries
                        .into_iter()
                        .map(|e| {
                            CreatableTopicConfigs::default()
                                .with_name(str_bytes(e.name))
                                .with_value(e.value.map(str_bytes))
                                .with_read_only(false)
                                .with_config_source(e.source as i8)
                                .with_is_sensitive(false)
                        })
                        .collect(),
                );
            }
            Err(e) => {
                if e.code != E::TopicAlreadyExists.code() {
                    tracing::info!(topic = %result.name.as_str(), "create topic refused: {}", e.message);
                }
                result.error_code = e.code;
                result.error_message = Some(str_bytes(e.message));
            }
        }
    }
    CreateTopicsResponse::default().with_topics(results)
}
