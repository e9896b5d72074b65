//! Topic-level keys (CreateTopics configs, AlterConfigs on a topic): their
//! Kafka names and types, the broker keys they default from ([`TOPIC_KEYS`]),
//! and the checks a topic config value must pass.

use super::broker::Config;
use super::value::{ConfigError, ConfigType, invalid, validate_type};

use ConfigType as T;

/// A topic-level key: its Kafka name, type, and the broker key it defaults from.
pub struct TopicKeySpec {
    pub name: &'static str,
    pub kind: ConfigType,
    /// The broker key whose value is this key's default (DescribeConfigs synonym).
    pub broker_synonym: Option<&'static str>,
    /// Default when there is no broker synonym.
    pub default: &'static str,
}

const fn topic_key(
    name: &'static str,
    kind: ConfigType,
    broker_synonym: Option<&'static str>,
    default: &'static str,
) -> TopicKeySpec {
    TopicKeySpec {
        name,
        kind,
        broker_synonym,
        default,
    }
}

/// Topic configs as Kafka 4 names them; CreateTopics accepts these and DescribeConfigs lists them.
pub const TOPIC_KEYS: &[TopicKeySpec] = &[
    topic_key(
        "cleanup.policy",
        T::List,
        Some("log.cleanup.policy"),
        "delete",
    ),
    topic_key(
        "compression.type",
        T::String,
        Some("compression.type"),
        "producer",
    ),
    topic_key("delete.retention.ms", T::Long, None, "86400000"),
    topic_key("file.delete.delay.ms", T::Long, None, "60000"),
    topic_key(
        "flush.messages",
        T::Long,
        Some("log.flush.interval.messages"),
        "9223372036854775807",
    ),
    topic_key("flush.ms", T::Long, None, "9223372036854775807"),
    topic_key(
        "index.interval.bytes",
        T::Int,
        Some("log.index.interval.bytes"),
        "4096",
    ),
    topic_key(
        "max.compaction.lag.ms",
        T::Long,
        None,
        "9223372036854775807",
    ),
    topic_key(
        "max.message.bytes",
        T::Int,
        Some("message.max.bytes"),
        "1048588",
    ),
    // Kafka 3.x's; Kafka 4 dropped it. Stored and described for tools that still set it, and
    // ignored as Kafka 3.x ignored it: the log always keeps message format v2.
    topic_key(
        "message.format.version",
        T::String,
        Some("log.message.format.version"),
        "3.0-IV1",
    ),
    topic_key("message.timestamp.after.max.ms", T::Long, None, "3600000"),
    topic_key(
        "message.timestamp.before.max.ms",
        T::Long,
        None,
        "9223372036854775807",
    ),
    topic_key(
        "message.timestamp.type",
        T::String,
        Some("log.message.timestamp.type"),
        "CreateTime",
    ),
    topic_key("min.cleanable.dirty.ratio", T::Double, None, "0.5"),
    topic_key("min.compaction.lag.ms", T::Long, None, "0"),
    topic_key(
        "min.insync.replicas",
        T::Int,
        Some("min.insync.replicas"),
        "1",
    ),
    topic_key("preallocate", T::Boolean, None, "false"),
    topic_key(
        "retention.bytes",
        T::Long,
        Some("log.retention.bytes"),
        "-1",
    ),
    topic_key(
        "retention.ms",
        T::Long,
        Some("log.retention.ms"),
        "604800000",
    ),
    topic_key(
        "segment.bytes",
        T::Int,
        Some("log.segment.bytes"),
        "1073741824",
    ),
    topic_key("segment.index.bytes", T::Int, None, "10485760"),
    topic_key("segment.jitter.ms", T::Long, None, "0"),
    topic_key("segment.ms", T::Long, Some("log.roll.ms"), "604800000"),
    topic_key(
        "unclean.leader.election.enable",
        T::Boolean,
        Some("unclean.leader.election.enable"),
        "false",
    ),
];

/// The spec of a known topic key.
pub fn topic_spec(key: &str) -> Option<&'static TopicKeySpec> {
    TOPIC_KEYS.iter().find(|s| s.name == key)
}

/// Check a topic config value as CreateTopics / AlterConfigs must (INVALID_CONFIG otherwise).
pub fn validate_topic_config(key: &str, value: &str) -> Result<(), ConfigError> {
    let s = topic_spec(key).ok_or_else(|| invalid(key, value, "unknown topic config"))?;
    validate_type(key, s.kind, value)?;
    let v = value.trim();
    let bad = match key {
        "cleanup.policy" => !v
            .split(',')
            .map(str::trim)
            .all(|p| p == "delete" || p == "compact"),
        "message.timestamp.type" => v != "CreateTime" && v != "LogAppendTime",
        // A Kafka version: 0.10.2, 2.8-IV1, 3.0-IV1, ...
        "message.format.version" => {
            let (version, iv) = v.split_once("-IV").unwrap_or((v, "0"));
            v.is_empty()
                || !iv.bytes().all(|c| c.is_ascii_digit())
                || !version
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
        }
        "compression.type" => {
            !["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"].contains(&v)
        }
        // KIP-1030 (Kafka 4): a topic's segments are at least 1 MiB.
        "segment.bytes" => v.parse::<i64>().is_ok_and(|n| n < 1_048_576),
        "max.message.bytes" | "segment.ms" | "flush.messages" => {
            v.parse::<i64>().is_ok_and(|n| n < 0)
        }
        _ => false,
    };
    if bad {
        return Err(invalid(key, value, "value not allowed"));
    }
    Ok(())
}

impl Config {
    /// A topic key's broker-level default, following its synonym as Kafka does.
    pub fn topic_default(&self, key: &str) -> Option<String> {
        let s = topic_spec(key)?;
        Some(match s.broker_synonym {
            Some("log.retention.ms") => self.log_retention_ms.to_string(),
            Some("log.roll.ms") => self.log_roll_ms.to_string(),
            Some(b) => self.get(b).unwrap_or(s.default).to_string(),
            None => s.default.to_string(),
        })
    }
}
