//! IncrementalAlterConfigs (key 44), v0–v1, and AlterConfigs (key 33), v0–v2:
//! topic configs (kafka-configs.sh --alter --entity-type topics). Broker
//! configs are static in fjord (set them in server.properties): altering one
//! is refused with INVALID_REQUEST, as Kafka refuses a non-dynamic key.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_TOPIC};
use super::{RequestContext, str_bytes, topic_error};

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// The new overrides of a topic, or an error code and message.
type Outcome = Result<(), (i16, String)>;

fn apply_topic(
    ctx: &RequestContext,
    name: &str,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Outcome,
    validate_only: bool,
) -> Outcome {
    let b = &ctx.broker;
    let Some(topic) = b.topics.get(name) else {
        return Err((
            E::UnknownTopicOrPartition.code(),
            format!("Topic {name} does not exist."),
        ));
    };
    let mut overrides = topic.configs.read().clone();
    change(&mut overrides)?;
    b.topics
        .alter_configs(name, overrides, validate_only)
        .map_err(|e| {
            let (code, msg) = topic_error(&e);
            (code, msg.map(|m| m.to_string()).unwrap_or_default())
        })
}

fn non_topic(resource_type: i8) -> Outcome {
    match resource_type {
        RESOURCE_BROKER | RESOURCE_BROKER_LOGGER => Err((
            E::InvalidRequest.code(),
            "fjord's broker configs are static: set them in server.properties or with --override"
                .into(),
        )),
        other => Err((
            E::InvalidRequest.code(),
            format!("Unsupported resource type {other}"),
        )),
    }
}

fn list_of(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn handle_incremental(
    ctx: &RequestContext,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let outcome = if r.resource_type == RESOURCE_TOPIC {
                apply_topic(
                    ctx,
                    r.resource_name.as_str(),
                    |m| {
                        for c in &r.configs {
                            let key = c.name.as_str().to_string();
                            let value = c.value.as_ref().map(|v| v.as_str().to_string());
                            match c.config_operation {
                                SET => {
                                    m.insert(key, value.unwrap_or_default());
                                }
                                DELETE => {
                                    m.remove(&key);
                                }
                                APPEND | SUBTRACT => {
                                    let current = m
                                        .get(&key)
                                        .cloned()
                                        .or_else(|| ctx.broker.config.topic_default(&key))
                                        .unwrap_or_default();
                                    let mut items = list_of(&current);
                                    for v in list_of(&value.unwrap_or_default()) {
                                        if c.config_operation == APPEND {
                                            if !items.contains(&v) {
                                                items.push(v);
                                            }
                                        } else {
                                            items.retain(|i| *i != v);
                                        }
                                    }
                                    m.insert(key, items.join(","));
                                }
                                op => {
                                    return Err((
                                        E::InvalidRequest.code(),
                                        format!("Unknown config operation {op}"),
                                    ));
                                }
                            }
                        }
                        Ok(())
                    },
                    req.validate_only,
                )
            } else {
                non_topic(r.resource_type)
            };
            let (code, msg) = match outcome {
                Ok(()) => (0, None),
                Err((c, m)) => (c, Some(str_bytes(m))),
            };
            AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(msg)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone())
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

pub fn handle_alter(ctx: &RequestContext, req: AlterConfigsRequest) -> AlterConfigsResponse {
    use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let outcome = if r.resource_type == RESOURCE_TOPIC {
                // AlterConfigs replaces the whole set of overrides.
                apply_topic(
                    ctx,
                    r.resource_name.as_str(),
                    |m| {
                        m.clear();
                        for c in &r.configs {
                            if let Some(v) = &c.value {
                                m.insert(c.name.as_str().to_string(), v.as_str().to_string());
                            }
                        }
                        Ok(())
                    },
                    req.validate_only,
                )
            } else {
                non_topic(r.resource_type)
            };
            let (code, msg): (i16, Option<StrBytes>) = match outcome {
                Ok(()) => (0, None),
                Err((c, m)) => (c, Some(str_bytes(m))),
            };
            AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(msg)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone())
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}
