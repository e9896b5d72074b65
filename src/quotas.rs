//! Client quotas (KIP-546): stored and reported, not enforced — a local broker
//! has nobody to throttle. Kept in `<log dir>/client-quotas` (one line per
//! entity: `type=name;type=<default>` TAB `key=value,key=value`) so
//! kafka-configs.sh sees what it set after a restart.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

/// An entity: (type, name) pairs sorted by type; a None name is the default entity.
pub type Entity = Vec<(String, Option<String>)>;

pub const ENTITY_TYPES: &[&str] = &["user", "client-id", "ip"];
pub const KEYS: &[&str] = &[
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
    "connection_creation_rate",
];

pub struct ClientQuotas {
    path: PathBuf,
    quotas: Mutex<BTreeMap<Entity, BTreeMap<String, f64>>>,
}

const DEFAULT: &str = "<default>";

fn encode_entity(e: &Entity) -> String {
    e.iter()
        .map(|(t, n)| format!("{t}={}", n.as_deref().unwrap_or(DEFAULT)))
        .collect::<Vec<_>>()
        .join(";")
}

fn decode_entity(s: &str) -> Option<Entity> {
    s.split(';')
        .map(|part| {
            let (t, n) = part.split_once('=')?;
            Some((t.to_string(), (n != DEFAULT).then(|| n.to_string())))
        })
        .collect()
}

impl ClientQuotas {
    pub fn open(log_dir: &Path) -> ClientQuotas {
        let path = log_dir.join("client-quotas");
        let mut quotas = BTreeMap::new();
        if let Ok(text) = fs::read_to_string(&path) {
            for line in text.lines() {
                let Some((e, vals)) = line.split_once('\t') else {
                    continue;
                };
                let Some(entity) = decode_entity(e) else {
                    continue;
                };
                let values: BTreeMap<String, f64> = vals
                    .split(',')
                    .filter_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        Some((k.to_string(), v.parse().ok()?))
                    })
                    .collect();
                if !values.is_empty() {
                    quotas.insert(entity, values);
                }
            }
        }
        ClientQuotas {
            path,
            quotas: Mutex::new(quotas),
        }
    }

    fn save(&self, quotas: &BTreeMap<Entity, BTreeMap<String, f64>>) -> std::io::Result<()> {
        let mut text = String::new();
        for (e, vals) in quotas {
            let v: Vec<String> = vals.iter().map(|(k, v)| format!("{k}={v}")).collect();
            text.push_str(&format!("{}\t{}\n", encode_entity(e), v.join(",")));
        }
        let tmp = self.path.with_extension("tmp");
        fs::write(&tmp, text)?;
        fs::rename(&tmp, &self.path)
    }

    /// Apply (key, value, remove) operations to an entity.
    pub fn alter(
        &self,
        mut entity: Entity,
        ops: &[(String, f64, bool)],
        validate_only: bool,
    ) -> Result<(), String> {
        if entity.is_empty() {
            return Err("an entity needs at least one component".into());
        }
        for (t, _) in &entity {
            if !ENTITY_TYPES.contains(&t.as_str()) {
                return Err(format!("unknown entity type {t}"));
            }
        }
        for (k, v, remove) in ops {
            if !KEYS.contains(&k.as_str()) {
                return Err(format!("unknown quota key {k}"));
            }
            if !remove && *v <= 0.0 {
                return Err(format!("quota {k} must be positive"));
            }
        }
        entity.sort();
        if validate_only {
            return Ok(());
        }
        let mut q = self.quotas.lock();
        let vals = q.entry(entity.clone()).or_default();
        for (k, v, remove) in ops {
            if *remove {
                vals.remove(k);
            } else {
                vals.insert(k.clone(), *v);
            }
        }
        if vals.is_empty() {
            q.remove(&entity);
        }
        self.save(&q).map_err(|e| format!("storing quotas: {e}"))
    }

    pub fn all(&self) -> Vec<(Entity, BTreeMap<String, f64>)> {
        self.quotas
            .lock()
            .iter()
            .map(|(e, v)| (e.clone(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_persist_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let q = ClientQuotas::open(dir.path());
        let e: Entity = vec![("client-id".into(), Some("app".into()))];
        q.alter(
            e.clone(),
            &[("producer_byte_rate".into(), 1024.0, false)],
            false,
        )
        .unwrap();
        q.alter(
            vec![("user".into(), None)],
            &[("consumer_byte_rate".into(), 2048.0, false)],
            false,
        )
        .unwrap();
        assert!(
            q.alter(e.clone(), &[("bogus".into(), 1.0, false)], false)
                .is_err()
        );
        let q = ClientQuotas::open(dir.path());
        assert_eq!(q.all().len(), 2);
        q.alter(e, &[("producer_byte_rate".into(), 0.0, true)], false)
            .unwrap();
        let q = ClientQuotas::open(dir.path());
        let all = q.all();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, vec![("user".to_string(), None)]);
        assert_eq!(all[0].1["consumer_byte_rate"], 2048.0);
    }
}
