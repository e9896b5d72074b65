//! IncrementalAlterConfigs (key 44), v0–v1, and AlterConfigs (key 33), v0–v2:
//! topic configs, the broker configs Kafka lets change at runtime, and group configs
//! (kafka-configs.sh --alter --entity-type topics|brokers|groups). Altering a static
//! broker key is refused with INVALID_REQUEST, as Kafka refuses it.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::context::{RequestContext, str_bytes};
use super::describe_configs::{
    RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_GROUP, RESOURCE_TOPIC,
};
use crate::cluster::controller::ApiError;
use crate::config::dynamic::{DynamicError, Level};
use crate::config::{self, ConfigType};
use crate::security::acl::AclOperation;

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// The new overrides of a topic, or an error code and message.
type Outcome = Result<(), (i16, String)>;

async fn apply_topic(
    ctx: &RequestContext,
    name: &str,
    change: impl Fn(&mut BTreeMap<String, String>) -> Outcome + Sync,
    validate_only: bool,
) -> Outcome {
    let change = |m: &mut BTreeMap<String, String>| {
        change(m).map_err(|(code, message)| ApiError { code, message })
    };
    ctx.broker
        .alter_topic_configs(name, &change, validate_only)
        .await
        .map_err(|e| (e.code, e.message))
}

/// Change a dynamic broker layer: entity "" is the cluster-wide default,
/// a node id that broker's own (Kafka's two levels). In a cluster the layer is checked here
/// and written to the metadata log, and every broker applies it.
async fn apply_broker(
    ctx: &RequestContext,
    name: &str,
    change: impl Fn(&mut BTreeMap<String, String>) -> Result<(), String> + Sync,
    validate_only: bool,
) -> Outcome {
    let b = &ctx.broker;
    let node: Option<i32> = if name.is_empty() {
        None
    } else {
        match name.parse::<i32>() {
            Ok(id) if id == b.node_id => Some(id),
            Ok(id)
                if b.cluster.is_some()
                    && b.brokers(&ctx.conn.listener).iter().any(|e| e.id == id) =>
            {
                Some(id)
            }
            _ => {
                return Err((
                    E::InvalidRequest.code(),
                    format!(
                        "Unexpected broker id, expected {} or empty string, but received {name}",
                        b.node_id
                    ),
                ));
            }
        }
    };
    let level = if node.is_none() {
        Level::ClusterDefault
    } else {
        Level::Broker
    };
    let dynamic_error = |e: DynamicError| match e {
        e @ DynamicError::NotDynamic(_) => (E::InvalidRequest.code(), e.to_string()),
        e @ DynamicError::Invalid(_) => (E::InvalidConfig.code(), e.to_string()),
        e @ DynamicError::Io(_) => (E::KafkaStorageError.code(), e.to_string()),
        DynamicError::Request(m) => (E::InvalidConfig.code(), m),
    };
    if b.cluster.is_some() {
        // Checked against this node's static config; another broker's layer is checked the
        // same way (its own static config may differ: it then logs and keeps its old one).
        let checked = |layer: &mut BTreeMap<String, String>| {
            change(layer).map_err(|message| ApiError {
                code: E::InvalidConfig.code(),
                message,
            })?;
            b.dynamic.check_layer(level, layer).map_err(|e| {
                let (code, message) = dynamic_error(e);
                ApiError { code, message }
            })
        };
        b.alter_broker_configs(node, &checked, validate_only)
            .await
            .map_err(|e| (e.code, e.message))?;
        if !validate_only {
            tracing::info!(level = ?level, "altered dynamic broker configs cluster-wide");
        }
        return Ok(());
    }
    match b.dynamic.alter(level, change, validate_only) {
        Ok(effective) => {
            if !validate_only {
                b.topics.set_broker_config(effective);
                tracing::info!(level = ?level, "altered dynamic broker configs");
            }
            Ok(())
        }
        Err(e) => Err(dynamic_error(e)),
    }
}

/// Change a group's configs (stored even when the group does not exist, as Kafka does); in a
/// cluster through the metadata log. The new set is checked here, against this broker's
/// configuration, as Kafka's controller checks it against its own.
async fn apply_group(
    ctx: &RequestContext,
    name: &str,
    change: impl Fn(&mut BTreeMap<String, String>) -> Result<(), String> + Sync,
    validate_only: bool,
) -> Outcome {
    let b = &ctx.broker;
    if name.is_empty() {
        return Err((
            E::InvalidRequest.code(),
            "Group name must not be empty".into(),
        ));
    }
    let broker = b.topics.broker_config();
    let checked = |m: &mut BTreeMap<String, String>| {
        change(m)
            .and_then(|()| config::group::validate_group_config(&broker, m))
            .map_err(|message| ApiError {
                code: E::InvalidConfig.code(),
                message,
            })
    };
    b.alter_group_configs(name, &checked, validate_only)
        .await
        .map_err(|e| (e.code, e.message))?;
    if !validate_only {
        tracing::info!(group = name, "altered group configs");
    }
    Ok(())
}

fn unsupported(resource_type: i8) -> Outcome {
    match resource_type {
        RESOURCE_BROKER_LOGGER => Err((
            E::InvalidRequest.code(),
            "fjord's log levels are set with FJORD_LOG at start-up".into(),
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

/// Apply IncrementalAlterConfigs operations to a set of overrides; `current`
/// gives a key's effective value for APPEND / SUBTRACT.
fn apply_ops(
    m: &mut BTreeMap<String, String>,
    configs: &[kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig],
    current: impl Fn(&str) -> Option<String>,
    is_list: impl Fn(&str) -> bool,
) -> Result<(), String> {
    for c in configs {
        let key = c.name.as_str().to_string();
        let value = c.value.as_ref().map(|v| v.as_str().to_string());
        match c.config_operation {
            SET => {
                m.insert(key, value.unwrap_or_default());
            }
            DELETE => {
                m.remove(&key);
            }
            APPEND | SUBTRACT if !is_list(&key) => {
                return Err(format!(
                    "Config {key} is not a list: APPEND and SUBTRACT apply to list configs only"
                ));
            }
            APPEND | SUBTRACT => {
                let now = m
                    .get(&key)
                    .cloned()
                    .or_else(|| current(&key))
                    .unwrap_or_default();
                let mut items = list_of(&now);
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
            op => return Err(format!("Unknown config operation {op}")),
        }
    }
    Ok(())
}

pub async fn handle_incremental(
    ctx: &RequestContext,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
    let effective = ctx.broker.topics.broker_config();
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources.iter() {
        let name = r.resource_name.as_str();
        let authorized =
            ctx.authorize_config_resource(AclOperation::AlterConfigs, r.resource_type, name);
        let outcome = match r.resource_type {
            _ if authorized.is_err() => authorized.clone(),
            RESOURCE_TOPIC => {
                apply_topic(
                    ctx,
                    name,
                    |m| {
                        apply_ops(
                            m,
                            &r.configs,
                            |k| effective.topic_default(k),
                            |k| config::topic_spec(k).is_some_and(|s| s.kind == ConfigType::List),
                        )
                        .map_err(|e| (E::InvalidConfig.code(), e))
                    },
                    req.validate_only,
                )
                .await
            }
            RESOURCE_BROKER => {
                apply_broker(
                    ctx,
                    name,
                    |m| {
                        apply_ops(
                            m,
                            &r.configs,
                            |k| effective.get(k).map(str::to_string),
                            |k| config::spec(k).is_some_and(|s| s.kind == ConfigType::List),
                        )
                    },
                    req.validate_only,
                )
                .await
            }
            // No group key is a list: APPEND / SUBTRACT are refused.
            RESOURCE_GROUP => {
                apply_group(
                    ctx,
                    name,
                    |m| apply_ops(m, &r.configs, |_| None, |_| false),
                    req.validate_only,
                )
                .await
            }
            other => unsupported(other),
        };
        let (code, msg) = match outcome {
            Ok(()) => (0, None),
            Err((c, m)) => (c, Some(str_bytes(m))),
        };
        responses.push(
            AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(msg)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone()),
        );
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

pub async fn handle_alter(ctx: &RequestContext, req: AlterConfigsRequest) -> AlterConfigsResponse {
    use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in req.resources.iter() {
        // AlterConfigs replaces the whole set of overrides (or of a broker layer).
        let replace = |m: &mut BTreeMap<String, String>| {
            m.clear();
            for c in &r.configs {
                if let Some(v) = &c.value {
                    m.insert(c.name.as_str().to_string(), v.as_str().to_string());
                }
            }
        };
        let name = r.resource_name.as_str();
        let authorized =
            ctx.authorize_config_resource(AclOperation::AlterConfigs, r.resource_type, name);
        let outcome = match r.resource_type {
            _ if authorized.is_err() => authorized.clone(),
            RESOURCE_TOPIC => {
                apply_topic(
                    ctx,
                    name,
                    |m| {
                        replace(m);
                        Ok(())
                    },
                    req.validate_only,
                )
                .await
            }
            RESOURCE_BROKER => {
                apply_broker(
                    ctx,
                    name,
                    |m| {
                        replace(m);
                        Ok(())
                    },
                    req.validate_only,
                )
                .await
            }
            RESOURCE_GROUP => {
                apply_group(
                    ctx,
                    name,
                    |m| {
                        replace(m);
                        Ok(())
                    },
                    req.validate_only,
                )
                .await
            }
            other => unsupported(other),
        };
        let (code, msg): (i16, Option<StrBytes>) = match outcome {
            Ok(()) => (0, None),
            Err((c, m)) => (c, Some(str_bytes(m))),
        };
        responses.push(
            AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(msg)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone()),
        );
    }
    AlterConfigsResponse::default().with_responses(responses)
}
