//! Broker configuration under Kafka's own key names.
//!
//! This module owns what a Kafka config key means: its name, type, Kafka's
//! default, the checks its value must pass, where values come from and how
//! layers stack. Sources, later ones winning: `--config server.properties`,
//! then `KAFKA_*` environment variables, then `--override key=value`; dynamic
//! layers (cluster default, then this broker) go on top at runtime.
//!
//! - [`value`]: what a value is (its [`ConfigType`]), the [`ConfigError`] a bad one gets, and
//!   the layer it came from ([`Origin`]).
//! - [`broker`]: the typed, validated [`Config`] and every broker key fjord knows
//!   ([`BROKER_KEYS`]) with its Kafka default, including the keys that may change at runtime.
//! - [`topic`]: topic keys ([`TOPIC_KEYS`]), the broker keys they default from, and
//!   [`validate_topic_config`].
//! - [`properties`]: properties-file parsing, `KAFKA_*` environment mapping, `--override`, and
//!   [`Config::from_sources`] that layers them.
//! - [`dynamic`]: the dynamic broker layers (kafka-configs.sh `--alter --entity-type brokers`)
//!   and [`Config::with_dynamic`].
//! - [`group`]: group configs (`--entity-type groups`): [`group::GROUP_KEYS`], their defaults
//!   from the `group.consumer.*` / `group.share.*` broker keys, Kafka's validation, and the
//!   `group-configs.json` store.
//! - `docs`: the key tables of `docs/configuration.md`, rendered from [`BROKER_KEYS`] and
//!   [`TOPIC_KEYS`].
//!
//! This file only names the parts; none of them uses it.
//!
//! It must never know the wire protocol (requests, responses, error codes:
//! callers turn a [`ConfigError`] into a Kafka error) or the storage (logs,
//! segments, topic metadata), and imports nothing from the rest of fjord.
//! The only files it touches itself are `dynamic-broker.properties`, where
//! [`dynamic`] keeps its layers, and `group-configs.json` ([`group`]).

pub mod broker;
mod docs;
pub mod dynamic;
pub mod group;
pub mod properties;
pub mod topic;
pub mod value;

pub use broker::{
    BROKER_KEYS, CONSUMER_GROUP_ASSIGNORS, ClusterConfig, Config, DYNAMIC_BROKER_KEYS, KeySpec,
    Listener, ReplicationConfig, SecurityProtocol, ShareGroupBrokerConfig, TimeoutBounds, Voter,
    is_known, is_sensitive, spec,
};
pub use docs::markdown_tables;
pub use properties::{env_to_key, parse_properties};
pub use topic::{TOPIC_KEYS, TopicKeySpec, topic_spec, validate_topic_config};
pub use value::{ConfigError, ConfigType, Origin};

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
            &["foo.bar=1".into(), "num.network.threads=3".into()],
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
