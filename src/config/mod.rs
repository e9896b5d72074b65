//! Broker configuration under Kafka's own key names.
//!
//! This module owns what a Kafka config key means: its name, type, Kafka's
//! default, the checks its value must pass, where values come from and how
//! layers stack. Sources, later ones winning: `--config server.properties`,
//! then `KAFKA_*` environment variables, then `--override key=value`; dynamic
//! layers (cluster default, then this broker) go on top at runtime.
//!
//! - [`broker`]: every broker key fjord knows ([`BROKER_KEYS`]) with its Kafka
//!   default, the keys that may change at runtime, and how a key map becomes
//!   the typed, validated [`Config`].
//! - [`topic`]: topic keys ([`TOPIC_KEYS`]), the broker keys they default
//!   from, and [`validate_topic_config`].
//! - [`properties`]: properties-file parsing, `KAFKA_*` environment mapping
//!   and `--override`.
//! - [`dynamic`]: the dynamic broker layers (kafka-configs.sh `--alter
//!   --entity-type brokers`).
//! - here: [`Config`] and the glue — [`Config::from_sources`], the dynamic
//!   layering, and the key tables of `docs/configuration.md` (the prose
//!   version of [`BROKER_KEYS`] and [`TOPIC_KEYS`]).
//!
//! It must never know the wire protocol (requests, responses, error codes:
//! callers turn a [`ConfigError`] into a Kafka error) or the storage (logs,
//! segments, topic metadata), and imports nothing from the rest of fjord.
//! The only file it touches itself is `dynamic-broker.properties`, where
//! [`dynamic`] keeps its layers.

pub mod broker;
pub mod dynamic;
pub mod properties;
pub mod topic;

pub use broker::{
    BROKER_KEYS, CONSUMER_GROUP_ASSIGNORS, DYNAMIC_BROKER_KEYS, KeySpec, Listener, spec,
};
pub use properties::{env_to_key, parse_properties};
pub use topic::{TOPIC_KEYS, TopicKeySpec, topic_spec, validate_topic_config};

use std::collections::BTreeMap;
use std::path::PathBuf;

use broker::IGNORED_KEYS;

/// What kind of value a key holds, as DescribeConfigs reports it (config_type, KIP-569).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid value '{value}' for {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("malformed --override '{0}': expected key=value")]
    Override(String),
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn validate_type(key: &str, kind: ConfigType, value: &str) -> Result<(), ConfigError> {
    let v = value.trim();
    let ok = match kind {
        ConfigType::Boolean => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        ConfigType::Int => v.parse::<i32>().is_ok(),
        ConfigType::Short => v.parse::<i16>().is_ok(),
        ConfigType::Long => v.parse::<i64>().is_ok(),
        ConfigType::Double => v.parse::<f64>().is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(key, value, format!("expected {kind:?}")))
    }
}

/// Where a broker key's value comes from (DescribeConfigs' config source).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// server.properties, KAFKA_* environment, --override (STATIC_BROKER_CONFIG).
    Static,
    /// Set for all brokers at runtime (DYNAMIC_DEFAULT_BROKER_CONFIG).
    DynamicDefault,
    /// Set for this broker at runtime (DYNAMIC_BROKER_CONFIG).
    DynamicBroker,
}

/// The typed broker configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Every key as given (after precedence), for DescribeConfigs.
    pub raw: BTreeMap<String, String>,
    /// Which layer each key of `raw` comes from.
    pub origin: BTreeMap<String, Origin>,
    /// PLAINTEXT listeners to bind.
    pub listeners: Vec<Listener>,
    /// What Metadata advertises, matched to `listeners` by name.
    pub advertised_listeners: Vec<Listener>,
    pub log_dir: PathBuf,
    pub node_id: i32,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub log_retention_ms: i64,
    pub log_retention_bytes: i64,
    pub log_segment_bytes: i32,
    pub log_roll_ms: i64,
    pub log_index_interval_bytes: i32,
    pub log_flush_interval_messages: i64,
    pub message_max_bytes: i32,
    pub socket_request_max_bytes: i32,
    pub cluster_id: Option<String>,
    pub group_initial_rebalance_delay_ms: i64,
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub offsets_retention_ms: i64,
    pub offsets_retention_check_interval_ms: i64,
    pub offset_metadata_max_bytes: usize,
    pub group_consumer_session_timeout_ms: i32,
    pub group_consumer_heartbeat_interval_ms: i32,
    pub group_consumer_assignors: Vec<String>,
    pub transaction_max_timeout_ms: i32,
    pub log_retention_check_interval_ms: i64,
}

impl Config {
    /// Value of `key` as configured, or its Kafka default.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.raw
            .get(key)
            .map(String::as_str)
            .or_else(|| spec(key).and_then(|s| s.default))
    }

    /// Whether `key` was set explicitly (DescribeConfigs source STATIC_BROKER_CONFIG).
    pub fn is_set(&self, key: &str) -> bool {
        self.raw.contains_key(key)
    }

    /// Build from layered sources. `file` is the properties file text, `env` the
    /// process environment, `overrides` the `--override` arguments; later wins.
    pub fn from_sources(
        file: Option<&str>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[String],
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let raw = properties::merge_sources(file, env, overrides)?;
        let warnings = raw
            .keys()
            .filter(|k| spec(k).is_none() && !IGNORED_KEYS.contains(&k.as_str()))
            .map(|k| format!("unknown config key '{k}' ignored"))
            .collect();
        Ok((Self::from_map(raw)?, warnings))
    }

    /// This (static) configuration with dynamic layers on top: the cluster-wide
    /// defaults, then this broker's own; later wins.
    pub fn with_dynamic(
        &self,
        cluster: &BTreeMap<String, String>,
        broker: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut raw: BTreeMap<String, String> = self
            .raw
            .iter()
            .filter(|(k, _)| self.origin.get(*k) == Some(&Origin::Static))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut origin: BTreeMap<String, Origin> =
            raw.keys().map(|k| (k.clone(), Origin::Static)).collect();
        for (layer, o) in [
            (cluster, Origin::DynamicDefault),
            (broker, Origin::DynamicBroker),
        ] {
            for (k, v) in layer {
                raw.insert(k.clone(), v.clone());
                origin.insert(k.clone(), o);
            }
        }
        let mut c = Config::from_map(raw)?;
        c.origin = origin;
        Ok(c)
    }

    /// The layer a key's value comes from, or None for Kafka's default.
    pub fn origin_of(&self, key: &str) -> Option<Origin> {
        self.origin.get(key).copied()
    }

    /// The listener advertised for the listener a client connected to.
    pub fn advertised_for(&self, listener: &str) -> Option<&Listener> {
        self.advertised_listeners
            .iter()
            .find(|l| l.name == listener)
            .or(self.advertised_listeners.first())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::from_map(BTreeMap::new()).expect("defaults are valid")
    }
}

/// The key tables of docs/configuration.md, rendered from [`BROKER_KEYS`],
/// [`IGNORED_KEYS`] and [`TOPIC_KEYS`] (a unit test keeps the doc in step).
pub fn markdown_tables() -> String {
    let mut s = String::from(
        "| key | type | default | what fjord does with it |\n| --- | --- | --- | --- |\n",
    );
    for k in BROKER_KEYS {
        s.push_str(&format!(
            "| `{}` | {:?} | `{}` | {} |\n",
            k.name,
            k.kind,
            k.default.unwrap_or("(none)"),
            k.doc
        ));
    }
    s.push_str("\nAccepted without effect (meaningless for a single fjord broker): ");
    let ignored: Vec<String> = IGNORED_KEYS.iter().map(|k| format!("`{k}`")).collect();
    s.push_str(&ignored.join(", "));
    s.push_str(".\n\nTopic keys:\n\n| key | type | broker synonym | default |\n| --- | --- | --- | --- |\n");
    for k in TOPIC_KEYS {
        s.push_str(&format!(
            "| `{}` | {:?} | {} | `{}` |\n",
            k.name,
            k.kind,
            k.broker_synonym
                .map(|b| format!("`{b}`"))
                .unwrap_or_else(|| "—".into()),
            k.default
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn build(file: Option<&str>, env: &[(&str, &str)], ov: &[&str]) -> Config {
        let env = env.iter().map(|(a, b)| (a.to_string(), b.to_string()));
        let ov: Vec<String> = ov.iter().map(|s| s.to_string()).collect();
        Config::from_sources(file, env, &ov).unwrap().0
    }

    #[test]
    fn unknown_keys_warn_known_ignored_do_not() {
        let (_, w) = Config::from_sources(
            None,
            Vec::new(),
            &["foo.bar=1".into(), "process.roles=broker".into()],
        )
        .unwrap();
        assert_eq!(w, vec!["unknown config key 'foo.bar' ignored".to_string()]);
    }

    /// docs/configuration.md carries the tables as rendered here. To refresh:
    /// `FJORD_UPDATE_DOCS=1 cargo test --lib docs_configuration`.
    #[test]
    fn docs_configuration_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (begin, end) = ("<!-- keys:begin -->\n", "<!-- keys:end -->");
        let (Some(a), Some(b)) = (doc.find(begin), doc.find(end)) else {
            panic!("docs/configuration.md lacks the {begin:?} / {end:?} markers");
        };
        let current = &doc[a + begin.len()..b];
        let want = markdown_tables();
        if current != want {
            if std::env::var_os("FJORD_UPDATE_DOCS").is_some() {
                let updated = format!("{}{want}{}", &doc[..a + begin.len()], &doc[b..]);
                std::fs::write(path, updated).unwrap();
            } else {
                panic!(
                    "docs/configuration.md is stale; run FJORD_UPDATE_DOCS=1 cargo test --lib docs_configuration"
                );
            }
        }
    }
}
