//! A topic's effective settings: its config overrides over the broker's topic defaults, parsed
//! once (and again whenever either changes) so the write path never parses strings.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::log::LogConfig;

/// A topic's effective settings, parsed once from its configs.
#[derive(Clone, Debug)]
pub struct TopicSettings {
    pub log: LogConfig,
    /// cleanup.policy contains delete / compact.
    pub cleanup_delete: bool,
    pub cleanup_compact: bool,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub delete_retention_ms: i64,
    pub min_compaction_lag_ms: i64,
    /// acks=all writes need this many in-sync replicas (NOT_ENOUGH_REPLICAS below).
    pub min_insync_replicas: usize,
}

impl TopicSettings {
    pub fn new(broker: &Config, overrides: &BTreeMap<String, String>) -> TopicSettings {
        let value = |k: &str| {
            overrides
                .get(k)
                .cloned()
                .or_else(|| broker.topic_default(k))
                .unwrap_or_default()
        };
        let num = |k: &str, default: i64| value(k).trim().parse().unwrap_or(default);
        let policy = value("cleanup.policy");
        TopicSettings {
            log: log_config(broker, overrides),
            cleanup_delete: policy.split(',').any(|p| p.trim() == "delete"),
            cleanup_compact: policy.split(',').any(|p| p.trim() == "compact"),
            retention_ms: num("retention.ms", 604_800_000),
            retention_bytes: num("retention.bytes", -1),
            delete_retention_ms: num("delete.retention.ms", 86_400_000),
            min_compaction_lag_ms: num("min.compaction.lag.ms", 0),
            min_insync_replicas: num("min.insync.replicas", 1).max(1) as usize,
        }
    }
}

/// The log settings of a topic: its overrides over the broker defaults.
pub fn log_config(broker: &Config, overrides: &BTreeMap<String, String>) -> LogConfig {
    let get = |k: &str| -> i64 {
        overrides
            .get(k)
            .cloned()
            .or_else(|| broker.topic_default(k))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let max_message_bytes = get("max.message.bytes").max(0) as usize;
    LogConfig {
        segment_bytes: get("segment.bytes").max(14) as u64,
        segment_ms: get("segment.ms").max(1),
        index_interval_bytes: get("index.interval.bytes").clamp(0, u32::MAX as i64) as u32,
        max_message_bytes,
        max_inflated_batch_bytes: (broker.socket_request_max_bytes.max(0) as usize)
            .max(max_message_bytes),
        flush_interval_messages: get("flush.messages").max(1) as u64,
        compact: overrides
            .get("cleanup.policy")
            .cloned()
            .or_else(|| broker.topic_default("cleanup.policy"))
            .is_some_and(|p| p.split(',').any(|p| p.trim() == "compact")),
        log_append_time: overrides
            .get("message.timestamp.type")
            .cloned()
            .or_else(|| broker.topic_default("message.timestamp.type"))
            .as_deref()
            == Some("LogAppendTime"),
        open_files: crate::log::OpenFiles::shared(),
    }
}
