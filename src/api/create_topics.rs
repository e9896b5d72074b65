//! CreateTopics (key 19), v2–v7: partitions, replication factor (a single
//! broker: 1, or -1 for the default), topic configs, validate_only; v5+
//! answers with the topic's configs, v7+ with its id.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::context::{RequestContext, str_bytes, topic_error};
use super::describe_configs::topic_entries;
use crate::topics::TopicError;

pub fn handle(ctx: &RequestContext, req: CreateTopicsRequest) -> CreateTopicsResponse {
    let b = &ctx.broker;
    let mut seen = std::collections::HashSet::new();
    let results = req
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.as_str().to_string();
            let mut result = CreatableTopicResult::default()
                .with_name(t.name.clone())
                .with_num_partitions(-1)
                .with_replication_factor(-1);
            if !seen.insert(name.clone()) {
                return result
                    .with_error_code(E::InvalidRequest.code())
                    .with_error_message(Some(str_bytes(format!(
                        "Create topics request from client contains a duplicate topic: {name}"
                    ))));
            }
            let mut partitions = if t.num_partitions == -1 {
                b.config.num_partitions
            } else {
                t.num_partitions
            };
            let mut rf = if t.replication_factor == -1 {
                b.config.default_replication_factor
            } else {
                t.replication_factor
            };
            if !t.assignments.is_empty() {
                if t.num_partitions != -1 || t.replication_factor != -1 {
                    return result.with_error_code(E::InvalidRequest.code()).with_error_message(
                        Some(str_bytes(
                            "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
                        )),
                    );
                }
                partitions = t.assignments.len() as i32;
                rf = t.assignments[0].broker_ids.len() as i16;
                let bad = t
                    .assignments
                    .iter()
                    .any(|a| a.broker_ids.iter().any(|id| id.0 != b.node_id));
                if bad {
                    return result
                        .with_error_code(E::InvalidReplicaAssignment.code())
                        .with_error_message(Some(str_bytes(format!(
                            "Replica assignment may only name broker {}",
                            b.node_id
                        ))));
                }
            }
            let mut configs = BTreeMap::new();
            for c in &t.configs {
                if let Some(v) = &c.value {
                    configs.insert(c.name.as_str().to_string(), v.as_str().to_string());
                }
            }
            let outcome = if req.validate_only {
                b.topics
                    .validate_create(&name, partitions, rf, &configs)
                    .map(|_| None)
            } else {
                b.topics
                    .create(&name, partitions, rf, configs.clone(), b.now_ms())
                    .map(Some)
            };
            match outcome {
                Ok(created) => {
                    result.num_partitions = partitions;
                    result.replication_factor = rf;
                    if let Some(topic) = &created {
                        result.topic_id = topic.id;
                    }
                    let entries = topic_entries(&b.topics.broker_config(), &configs, None);
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
                    result
                }
                Err(e) => {
                    if !matches!(e, TopicError::AlreadyExists(_)) {
                        tracing::info!(topic = %name, "create topic refused: {e}");
                    }
                    let (code, msg) = topic_error(&e);
                    result.with_error_code(code).with_error_message(msg)
                }
            }
        })
        .collect();
    CreateTopicsResponse::default().with_topics(results)
}
