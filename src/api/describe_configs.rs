//! DescribeConfigs (key 32), v1–v4: topic configs (override or broker
//! default, with synonyms) and broker configs, with Kafka's config sources
//! and (v3+) types and documentation.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use super::{RequestContext, str_bytes};
use crate::config::{BROKER_KEYS, Config, ConfigType, DYNAMIC_BROKER_KEYS, Origin, TOPIC_KEYS};

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;

/// Kafka's DescribeConfigsResponse.ConfigSource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    TopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    Default = 5,
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
            if let Some(bk) = s.broker_synonym
                && broker.is_set(bk)
            {
                synonyms.push((
                    bk.to_string(),
                    broker.get(bk).map(str::to_string),
                    ConfigSource::of(broker.origin_of(bk)),
                ));
            }
            let default = s
                .broker_synonym
                .and_then(|bk| crate::config::spec(bk).and_then(|k| k.default))
                .unwrap_or(s.default);
            synonyms.push((
                s.broker_synonym.unwrap_or(s.name).to_string(),
                Some(default.to_string()),
                ConfigSource::Default,
            ));
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

/// The broker's own configs, optionally only `keys`.
pub fn broker_entries(broker: &Config, keys: Option<&[String]>) -> Vec<ConfigEntry> {
    BROKER_KEYS
        .iter()
        .filter(|s| keys.is_none_or(|k| k.iter().any(|k| k == s.name)))
        .map(|s| {
            let source = ConfigSource::of(broker.origin_of(s.name));
            let value = broker.get(s.name).map(str::to_string);
            ConfigEntry {
                name: s.name.to_string(),
                value: value.clone(),
                source,
                kind: s.kind,
                synonyms: vec![(s.name.to_string(), value, source)],
                doc: Some(s.doc),
                read_only: !DYNAMIC_BROKER_KEYS.contains(&s.name),
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
            let entries = match r.resource_type {
                RESOURCE_TOPIC => match b.topics.get(r.resource_name.as_str()) {
                    Some(t) => topic_entries(
                        &b.topics.broker_config(),
                        &t.configs.read(),
                        keys.as_deref(),
                    ),
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
                    broker_entries(&b.topics.broker_config(), keys.as_deref())
                }
                RESOURCE_BROKER_LOGGER => Vec::new(),
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
                    let mut c = DescribeConfigsResourceResult::default()
                        .with_name(str_bytes(e.name))
                        .with_value(e.value.map(str_bytes))
                        .with_read_only(e.read_only)
                        .with_config_source(e.source as i8)
                        .with_is_sensitive(false)
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
