//! Where broker keys come from before they are typed: a Java properties file
//! (`--config server.properties`), `KAFKA_*` environment variables named as
//! the Apache Kafka docker image names them, and `--override key=value`
//! arguments. The result is a plain key map; the keys' meaning is elsewhere.

use std::collections::BTreeMap;

use super::broker::{Config, is_known};
use super::value::ConfigError;

/// Environment variables of Kafka's launch scripts that are not broker keys.
const LAUNCHER_ENV: &[&str] = &[
    "KAFKA_HEAP_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_DEBUG",
    "KAFKA_HOME",
    "KAFKA_VERSION",
    "KAFKA_CLUSTER_ID",
];

/// The raw key map of the three sources, later ones winning: the properties
/// file text, then the `KAFKA_*` variables of `env`, then the `--override`
/// arguments.
pub(super) fn merge_sources(
    file: Option<&str>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &[String],
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut raw = BTreeMap::new();
    if let Some(text) = file {
        raw.extend(parse_properties(text));
    }
    for (k, v) in env {
        if let Some(key) = env_to_key(&k) {
            raw.insert(key, v);
        }
    }
    for o in overrides {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| ConfigError::Override(o.clone()))?;
        raw.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(raw)
}

/// Java-properties subset: `key=value` or `key: value`, `#`/`!` comments,
/// trailing-backslash continuation lines.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let split = entry.find(['=', ':']);
        let (k, v) = match split {
            Some(i) => (&entry[..i], &entry[i + 1..]),
            None => (entry.as_str(), ""),
        };
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    out
}

/// `KAFKA_LOG_RETENTION_HOURS` → `log.retention.hours`, following the Apache
/// Kafka docker image: `_` → `.`, `__` → `_`, `___` → `-`.
pub fn env_to_key(var: &str) -> Option<String> {
    let rest = var.strip_prefix("KAFKA_")?;
    if rest.is_empty() || LAUNCHER_ENV.contains(&var) {
        return None;
    }
    let lower = rest.to_ascii_lowercase();
    Some(
        lower
            .replace("___", "\u{1}")
            .replace("__", "\u{2}")
            .replace('_', ".")
            .replace('\u{1}', "-")
            .replace('\u{2}', "_"),
    )
}

impl Config {
    /// Build from layered sources. `file` is the properties file text, `env` the
    /// process environment, `overrides` the `--override` arguments; later wins.
    pub fn from_sources(
        file: Option<&str>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[String],
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let raw = merge_sources(file, env, overrides)?;
        let warnings = raw
            .keys()
            .filter(|k| !is_known(k))
            .map(|k| format!("unknown config key '{k}' ignored"))
            .collect();
        Ok((Self::from_map(raw)?, warnings))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::tests::build;

    #[test]
    fn precedence_file_env_override() {
        let file = "num.partitions=2\n# comment\nlog.dirs = /a,/b\nlog.segment.bytes: 1000\n";
        let c = build(
            Some(file),
            &[("KAFKA_NUM_PARTITIONS", "3"), ("KAFKA_HEAP_OPTS", "-Xmx1G")],
            &["log.segment.bytes=2000"],
        );
        assert_eq!(c.num_partitions, 3);
        assert_eq!(c.log_dir, PathBuf::from("/a"));
        assert_eq!(c.log_segment_bytes, 2000);
        assert!(!c.raw.contains_key("heap.opts"));
    }

    #[test]
    fn env_names_map_like_the_docker_image() {
        assert_eq!(env_to_key("KAFKA_LOG_DIRS").unwrap(), "log.dirs");
        assert_eq!(
            env_to_key("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP").unwrap(),
            "listener.security.protocol.map"
        );
        assert_eq!(env_to_key("KAFKA_A__B___C").unwrap(), "a_b-c");
        assert_eq!(env_to_key("KAFKA_OPTS"), None);
        assert_eq!(env_to_key("PATH"), None);
    }
}
