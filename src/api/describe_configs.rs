//! DescribeConfigs (key 32), v1–v4: topic configs (override or broker
//! default, with synonyms), broker configs and group configs (resource type 32), with Kafka's
//! config sources and (v3+) types and documentation.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::context::{RequestContext, str_bytes};
use crate::config::{
    BROKER_KEYS, Config, ConfigType, DYNAMIC_BROKER_KEYS, Origin, TOPIC_KEYS, is_sensitive, spec,
};

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;
pub const RESOURCE_GROUP: i8 = 32;

/// Kafka's DescribeConfigsResponse.ConfigSource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    TopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    Default = 5,
    GroupConfig = 8,
}

impl ConfigSource {
    fn of(origin: Option<Origin>) -> ConfigSource {
        match origin {
            Some(Origin::DynamicBroker) => ConfigSource::DynamicBrokerConfig,
            Some(Origin::DynamicDefault) => ConfigSource::DynamicDefaultBrokerConfig,
            Some(Origin::Static) => ConfigSource::StaticBrokerConfig,
            None => ConfigSource::Default,
        }
    }
}

/// One described config with its synonyms (most specific first).
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
    pub kind: ConfigType,
    pub synonyms: Vec<(String, Option<String>, ConfigSource)>,
    pub doc: Option<&'static str>,
    pub read_only: bool,
}

/// Kafka's broker synonyms of a broker key, most specific first.
fn broker_synonyms(key: &'static str) -> &'static [&'static str] {
    match key {
        "log.retention.ms" => &[
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours",
        ],
        "log.roll.ms" => &["log.roll.ms", "log.roll.hours"],
        _ => std::slice::from_ref(
            BROKER_KEYS
                .iter()
                .find(|k| k.name == key)
                .map_or(&"", |k| &k.name),
        ),
    }
}

/// Kafka's ConfigHelper.configSynonyms: every synonym set in a layer (dynamic
/// broker, dynamic default, static, then defaults), from the first entry that
/// is `primary` itself on (an unset primary hides its coarser synonyms).
fn config_synonyms(
    broker: &Config,
    primary: &str,
    synonyms: &[&str],
) -> Vec<(String, Option<String>, ConfigSource)> {
    let mut all = Vec::new();
    for origin in [
        Origin::DynamicBroker,
        Origin::DynamicDefault,
        Origin::Static,
    ] {
        for s in synonyms {
            if broker.origin_of(s) == Some(origin) {
                all.push((
                    s.to_string(),
                    broker.raw.get(*s).cloned(),
                    ConfigSource::of(Some(origin)),
                ));
            }
        }
    }
    for s in synonyms {
        if let Some(d) = crate::config::spec(s).and_then(|k| k.default) {
            all.push((s.to_string(), Some(d.to_string()), ConfigSource::Default));
        }
    }
    let first = all
        .iter()
        .position(|(n, _, _)| n == primary)
        .unwrap_or(all.len());
    all.split_off(first)
}

/// The configs of a topic with `overrides`, optionally only `keys`.
pub fn topic_entries(
    broker: &Config,
    overrides: &BTreeMap<String, String>,
    keys: Option<&[String]>,
) -> Vec<ConfigEntry> {
    TOPIC_KEYS
        .iter()
        .filter(|s| keys.is_none_or(|k| k.iter().any(|k| k == s.name)))
        .map(|s| {
            let mut synonyms = Vec::new();
            if let Some(v) = overrides.get(s.name) {
                synonyms.push((
                    s.name.to_string(),
                    Some(v.clone()),
                    ConfigSource::TopicConfig,
                ));
            }
            if let Some(bk) = s.broker_synonym {
                synonyms.extend(config_synonyms(broker, bk, broker_synonyms(bk)));
            }
            let (value, source) = match overrides.get(s.name) {
                Some(v) => (Some(v.clone()), ConfigSource::TopicConfig),
                None => {
                    let src =
                        ConfigSource::of(s.broker_synonym.and_then(|bk| broker.origin_of(bk)));
                    (broker.topic_default(s.name), src)
                }
            };
            ConfigEntry {
                name: s.name.to_string(),
                value,
                source,
                kind: s.kind,
                synonyms,
                doc: None,
                read_only: false,
            }
        })
        .collect()
}

/// The broker's own configs, optionally only `keys`: every key fjord knows, then the
/// per-listener keys set (`listener.name.<listener>.…`), as Kafka lists them.
pub fn broker_entries(broker: &Config, keys: Option<&[String]>) -> Vec<ConfigEntry> {
    let wanted = |name: &str| keys.is_none_or(|k| k.iter().any(|k| k == name));
    let known = BROKER_KEYS.iter().filter(|s| wanted(s.name)).map(|s| {
        let source = ConfigSource::of(broker.origin_of(s.name));
        let value = broker.get(s.name).map(str::to_string);
        ConfigEntry {
            name: s.name.to_string(),
            value,
            source,
            kind: s.kind,
            synonyms: config_synonyms(broker, s.name, broker_synonyms(s.name)),
            doc: Some(s.doc),
            read_only: !DYNAMIC_BROKER_KEYS.contains(&s.name),
        }
    });
    let per_listener = broker
        .raw
        .iter()
        .filter(|(k, _)| k.starts_with("listener.name.") && wanted(k))
        .filter_map(|(k, v)| {
            let s = spec(k)?;
            let source = ConfigSource::of(broker.origin_of(k));
            Some(ConfigEntry {
                name: k.clone(),
                value: Some(v.clone()),
                source,
                kind: s.kind,
                synonyms: vec![(k.clone(), Some(v.clone()), source)],
                doc: Some(s.doc),
                read_only: true,
            })
        });
    known.chain(per_listener).collect()
}

/// The cluster-wide dynamic defaults (broker resource ""): only what was set.
pub fn cluster_default_entries(broker: &Config, keys: Option<&[String]>) -> Vec<ConfigEntry> {
    BROKER_KEYS
        .iter()
        .filter(|s| broker.origin_of(s.name) == Some(Origin::DynamicDefault))
        .filter(|s| keys.is_none_or(|k| k.iter().any(|k| k == s.name)))
        .map(|s| {
            let value = broker.raw.get(s.name).cloned();
            ConfigEntry {
                name: s.name.to_string(),
                value: value.clone(),
                source: ConfigSource::DynamicDefaultBrokerConfig,
                kind: s.kind,
                synonyms: vec![(
                    s.name.to_string(),
                    value,
                    ConfigSource::DynamicDefaultBrokerConfig,
                )],
                doc: Some(s.doc),
                read_only: false,
            }
        })
        .collect()
}

/// A group's configs (Kafka's `ConfigHelper.createGroupConfigEntry`): every group key with its
/// effective value; those the group sets have source GROUP_CONFIG and themselves as synonym,
/// the others DEFAULT_CONFIG (the broker value they follow included) and no synonym.
pub fn group_entries(
    broker: &Config,
    configs: &BTreeMap<String, String>,
    keys: Option<&[String]>,
) -> Vec<ConfigEntry> {
    crate::config::group::GROUP_KEYS
        .iter()
        .filter(|s| keys.is_none_or(|k| k.iter().any(|k| k == s.name)))
        .map(|s| {
            let own = configs.get(s.name).cloned();
            let (source, synonyms) = match &own {
                Some(v) => (
                    ConfigSource::GroupConfig,
                    vec![(
                        s.name.to_string(),
                        Some(v.clone()),
                        ConfigSource::GroupConfig,
                    )],
                ),
                None => (ConfigSource::Default, Vec::new()),
            };
            ConfigEntry {
                name: s.name.to_string(),
                value: crate::config::group::effective_value(broker, configs, s.name),
                source,
                kind: s.kind,
                synonyms,
                doc: Some(s.doc),
                read_only: false,
            }
        })
        .collect()
}

pub fn handle(ctx: &RequestContext, req: DescribeConfigsRequest) -> DescribeConfigsResponse {
    let b = &ctx.broker;
    let results = req
        .resources
        .into_iter()
        .map(|r| {
            let keys: Option<Vec<String>> = r
                .configuration_keys
                .as_ref()
                .map(|ks| ks.iter().map(|k| k.as_str().to_string()).collect());
            let result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            if let Err((code, msg)) = ctx.authorize_config_resource(
                crate::security::acl::AclOperation::DescribeConfigs,
                r.resource_type,
                r.resource_name.as_str(),
            ) {
                return result
                    .with_error_code(code)
                    .with_error_message(Some(str_bytes(msg)));
            }
            let entries = match r.resource_type {
                RESOURCE_TOPIC => match b.topic_configs(r.resource_name.as_str()) {
                    Some(configs) => {
                        topic_entries(&b.topics.broker_config(), &configs, keys.as_deref())
                    }
                    None => {
                        return result
                            .with_error_code(E::UnknownTopicOrPartition.code())
                            .with_error_message(Some(str_bytes(format!(
                                "Topic '{}' does not exist.",
                                r.resource_name.as_str()
                            ))));
                    }
                },
                RESOURCE_BROKER => {
                    let name = r.resource_name.as_str();
                    if !name.is_empty() && name != b.node_id.to_string() {
                        return result
                            .with_error_code(E::InvalidRequest.code())
                            .with_error_message(Some(str_bytes(format!(
                                "Unexpected broker id, expected {} or empty string, but received {name}",
                                b.node_id
                            ))));
                    }
                    if name.is_empty() {
                        cluster_default_entries(&b.topics.broker_config(), keys.as_deref())
                    } else {
                        broker_entries(&b.topics.broker_config(), keys.as_deref())
                    }
                }
                RESOURCE_BROKER_LOGGER => Vec::new(),
                RESOURCE_GROUP => {
                    let name = r.resource_name.as_str();
                    if name.is_empty() {
                        return result
                            .with_error_code(E::InvalidRequest.code())
                            .with_error_message(Some(str_bytes("Group name must not be empty")));
                    }
                    group_entries(
                        &b.topics.broker_config(),
                        &b.group_configs_of(name),
                        keys.as_deref(),
                    )
                }
                other => {
                    return result
                        .with_error_code(E::InvalidRequest.code())
                        .with_error_message(Some(str_bytes(format!(
                            "Unsupported resource type {other}"
                        ))));
                }
            };
            let configs = entries
                .into_iter()
                .map(|e| {
                    let synonyms = if req.include_synonyms {
                        e.synonyms
                            .into_iter()
                            .map(|(n, v, s)| {
                                DescribeConfigsSynonym::default()
                                    .with_name(str_bytes(n))
                                    .with_value(v.map(str_bytes))
                                    .with_source(s as i8)
                            })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    // A secret is reported as set, never shown (Kafka: value null).
                    let sensitive = is_sensitive(&e.name);
                    let value = if sensitive { None } else { e.value };
                    let synonyms = if sensitive {
                        synonyms
                            .into_iter()
                            .map(|s| s.with_value(None))
                            .collect()
                    } else {
                        synonyms
                    };
                    let mut c = DescribeConfigsResourceResult::default()
                        .with_name(str_bytes(e.name))
                        .with_value(value.map(str_bytes))
                        .with_read_only(e.read_only)
                        .with_config_source(e.source as i8)
                        .with_is_sensitive(sensitive)
                        .with_synonyms(synonyms);
                    if ctx.version >= 3 {
                        c.config_type = e.kind as i8;
                        if req.include_documentation {
                            c.documentation = e.doc.map(str_bytes);
                        }
                    }
                    c
                })
                .collect();
            result.with_configs(configs)
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}
