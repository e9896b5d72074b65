//! Dynamic broker configs (kafka-configs.sh --alter --entity-type brokers):
//! a cluster-wide default layer (entity name "") and this broker's own layer
//! (entity name = node id) over the static configuration, for the keys Kafka
//! lets change at runtime ([`DYNAMIC_BROKER_KEYS`]). Persisted in
//! `<log dir>/dynamic-broker.properties` (Kafka keeps them in its metadata log).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::broker::{Config, DYNAMIC_BROKER_KEYS};
use super::properties::parse_properties;
use super::value::{ConfigError, Origin};

/// Which dynamic layer a change goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    ClusterDefault,
    Broker,
}

const FILE: &str = "dynamic-broker.properties";

#[derive(Default, Clone)]
struct Layers {
    cluster: BTreeMap<String, String>,
    broker: BTreeMap<String, String>,
}

pub struct DynamicConfigs {
    static_config: Arc<Config>,
    path: PathBuf,
    layers: Mutex<Layers>,
}

#[derive(Debug, thiserror::Error)]
pub enum DynamicError {
    #[error("Cannot update these configs dynamically: {0:?}")]
    NotDynamic(Vec<String>),
    #[error("{0}")]
    Invalid(#[from] ConfigError),
    #[error("storing dynamic configs: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Request(String),
}

impl DynamicConfigs {
    /// Load the dynamic layers; returns them and the effective configuration.
    pub fn open(static_config: Arc<Config>, log_dir: &Path) -> (DynamicConfigs, Arc<Config>) {
        let path = log_dir.join(FILE);
        let mut layers = Layers::default();
        if let Ok(text) = fs::read_to_string(&path) {
            for (k, v) in parse_properties(&text) {
                if let Some(key) = k.strip_prefix("default|") {
                    layers.cluster.insert(key.to_string(), v);
                } else if let Some(key) = k.strip_prefix("broker|") {
                    layers.broker.insert(key.to_string(), v);
                }
            }
        }
        let effective = match static_config.with_dynamic(&layers.cluster, &layers.broker) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::warn!("ignoring stored dynamic broker configs: {e}");
                layers = Layers::default();
                static_config.clone()
            }
        };
        let d = DynamicConfigs {
            static_config,
            path,
            layers: Mutex::new(layers),
        };
        (d, effective)
    }

    /// Change one layer; returns the new effective configuration (nothing is
    /// stored when `validate_only`).
    pub fn alter(
        &self,
        level: Level,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), String>,
        validate_only: bool,
    ) -> Result<Arc<Config>, DynamicError> {
        let mut layers = self.layers.lock();
        let mut next = layers.clone();
        let layer = match level {
            Level::ClusterDefault => &mut next.cluster,
            Level::Broker => &mut next.broker,
        };
        change(layer).map_err(DynamicError::Request)?;
        only_dynamic_keys(layer)?;
        let effective = Arc::new(
            self.static_config
                .with_dynamic(&next.cluster, &next.broker)?,
        );
        if validate_only {
            return Ok(effective);
        }
        let mut text = String::new();
        for (k, v) in &next.cluster {
            text.push_str(&format!("default|{k}={v}\n"));
        }
        for (k, v) in &next.broker {
            text.push_str(&format!("broker|{k}={v}\n"));
        }
        let tmp = self.path.with_extension("tmp");
        if let Err(e) = fs::write(&tmp, text).and_then(|()| fs::rename(&tmp, &self.path)) {
            // A full disk: the old file stays, and the half-written one goes.
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        *layers = next;
        Ok(effective)
    }
}

impl DynamicConfigs {
    /// The two layers as they are (cluster-wide default, this broker's).
    pub fn layers(&self) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let l = self.layers.lock();
        (l.cluster.clone(), l.broker.clone())
    }

    /// Check a new version of one layer without applying it: only dynamic keys, values that
    /// make a valid configuration together with the other layer.
    pub fn check_layer(
        &self,
        level: Level,
        layer: &BTreeMap<String, String>,
    ) -> Result<(), DynamicError> {
        only_dynamic_keys(layer)?;
        let (cluster, broker) = self.layers();
        match level {
            Level::ClusterDefault => self.static_config.with_dynamic(layer, &broker)?,
            Level::Broker => self.static_config.with_dynamic(&cluster, layer)?,
        };
        Ok(())
    }

    /// Replace both layers (a cluster node following its metadata image); returns the new
    /// effective configuration. Values the controller accepted but that do not make a valid
    /// configuration here are refused and the layers stay as they were.
    pub fn set_layers(
        &self,
        cluster: BTreeMap<String, String>,
        broker: BTreeMap<String, String>,
    ) -> Result<Arc<Config>, DynamicError> {
        let mut layers = self.layers.lock();
        let effective = Arc::new(self.static_config.with_dynamic(&cluster, &broker)?);
        *layers = Layers { cluster, broker };
        Ok(effective)
    }
}

/// A layer may hold only the keys Kafka lets change at runtime.
fn only_dynamic_keys(layer: &BTreeMap<String, String>) -> Result<(), DynamicError> {
    let not_dynamic: Vec<String> = layer
        .keys()
        .filter(|k| !DYNAMIC_BROKER_KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    if not_dynamic.is_empty() {
        Ok(())
    } else {
        Err(DynamicError::NotDynamic(not_dynamic))
    }
}

impl Config {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;

    #[test]
    fn layers_stack_persist_and_refuse_static_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (c, _) =
            Config::from_sources(None, Vec::new(), &["log.retention.hours=10".to_string()])
                .unwrap();
        let c = Arc::new(c);
        let (d, eff) = DynamicConfigs::open(c.clone(), dir.path());
        assert_eq!(eff.log_retention_ms, 10 * 3_600_000);
        let eff = d
            .alter(
                Level::ClusterDefault,
                |m| {
                    m.insert("log.retention.ms".into(), "5000".into());
                    Ok(())
                },
                false,
            )
            .unwrap();
        assert_eq!(eff.log_retention_ms, 5000);
        assert_eq!(
            eff.origin_of("log.retention.ms"),
            Some(Origin::DynamicDefault)
        );
        let eff = d
            .alter(
                Level::Broker,
                |m| {
                    m.insert("log.retention.ms".into(), "7000".into());
                    Ok(())
                },
                false,
            )
            .unwrap();
        assert_eq!(eff.log_retention_ms, 7000);
        assert_eq!(
            eff.origin_of("log.retention.ms"),
            Some(Origin::DynamicBroker)
        );
        assert_eq!(eff.origin_of("log.retention.hours"), Some(Origin::Static));
        assert!(matches!(
            d.alter(
                Level::Broker,
                |m| {
                    m.insert("num.partitions".into(), "3".into());
                    Ok(())
                },
                false
            ),
            Err(DynamicError::NotDynamic(_))
        ));
        assert!(matches!(
            d.alter(
                Level::Broker,
                |m| {
                    m.insert("message.max.bytes".into(), "lots".into());
                    Ok(())
                },
                false
            ),
            Err(DynamicError::Invalid(_))
        ));
        // Reopen: both layers are back, the broker's wins.
        let (_, eff) = DynamicConfigs::open(c.clone(), dir.path());
        assert_eq!(eff.log_retention_ms, 7000);
        let (d, _) = DynamicConfigs::open(c, dir.path());
        let eff = d
            .alter(
                Level::Broker,
                |m| {
                    m.remove("log.retention.ms");
                    Ok(())
                },
                false,
            )
            .unwrap();
        assert_eq!(eff.log_retention_ms, 5000, "back to the cluster default");
    }
}
