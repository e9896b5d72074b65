//! Group configs (KIP-848 / KIP-932: `kafka-configs.sh --entity-type groups`): the keys Kafka
//! 4.2's `GroupConfig` defines for consumer-protocol and share groups (and 4.3's per-group
//! delivery count limit and record locks, KIP-1240), their defaults (the
//! broker's `group.consumer.*` / `group.share.*` values), the checks a new set must pass
//! (with Kafka's messages), and [`GroupConfigs`], a single broker's store kept in
//! `<log dir>/group-configs.json` (a cluster keeps them in its metadata image instead; the
//! broker layer chooses).
//!
//! A group config may be set before the group exists, and outlives it. Readers get effective
//! values from [`effective_value`]; nothing here knows groups themselves.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::broker::{Config, TimeoutBounds};
use super::value::ConfigType;

/// One group config key.
pub struct GroupKeySpec {
    pub name: &'static str,
    pub kind: ConfigType,
    pub doc: &'static str,
}

const fn key(name: &'static str, kind: ConfigType, doc: &'static str) -> GroupKeySpec {
    GroupKeySpec { name, kind, doc }
}

/// Kafka 4.2's group config keys that fjord's groups have, with 4.3's
/// `share.delivery.count.limit` and `share.partition.max.record.locks` (the `streams.*` ones are
/// left out: fjord has no streams groups; so are 4.3's `*.assignment.interval.ms`: fjord assigns
/// at once).
pub const GROUP_KEYS: &[GroupKeySpec] = &[
    key(
        "consumer.session.timeout.ms",
        ConfigType::Int,
        "The timeout to detect client failures when using the consumer group protocol.",
    ),
    key(
        "consumer.heartbeat.interval.ms",
        ConfigType::Int,
        "The heartbeat interval given to the members of a consumer group.",
    ),
    key(
        "share.session.timeout.ms",
        ConfigType::Int,
        "The timeout to detect client failures when using the share group protocol.",
    ),
    key(
        "share.heartbeat.interval.ms",
        ConfigType::Int,
        "The heartbeat interval given to the members of a share group.",
    ),
    key(
        "share.record.lock.duration.ms",
        ConfigType::Int,
        "The record acquisition lock duration in milliseconds for share groups.",
    ),
    key(
        "share.delivery.count.limit",
        ConfigType::Int,
        "The most deliveries of a record to the share group before it is archived (Kafka 4.3, KIP-1240).",
    ),
    key(
        "share.partition.max.record.locks",
        ConfigType::Int,
        "The most records of one share-partition the share group holds in flight (Kafka 4.3, KIP-1240).",
    ),
    key(
        "share.auto.offset.reset",
        ConfigType::String,
        "The strategy to initialize the share-partition start offset: earliest, latest, or by_duration:<duration> (ISO8601, PnDTnHnMn.nS, not negative).",
    ),
    key(
        "share.isolation.level",
        ConfigType::String,
        "Controls how to read records written transactionally: read_committed or read_uncommitted.",
    ),
    key(
        "share.renew.acknowledge.enable",
        ConfigType::Boolean,
        "Whether the renew acknowledge type is enabled for the share group.",
    ),
];

pub fn group_spec(name: &str) -> Option<&'static GroupKeySpec> {
    GROUP_KEYS.iter().find(|k| k.name == name)
}

/// A group key's default: the broker key it follows, or Kafka's constant.
pub fn group_default(broker: &Config, name: &str) -> Option<String> {
    let v = match name {
        "consumer.session.timeout.ms" => broker.group_consumer_session_timeout_ms.to_string(),
        "consumer.heartbeat.interval.ms" => broker.group_consumer_heartbeat_interval_ms.to_string(),
        "share.session.timeout.ms" => broker.share.session_timeout_ms.to_string(),
        "share.heartbeat.interval.ms" => broker.share.heartbeat_interval_ms.to_string(),
        "share.record.lock.duration.ms" => broker.share.record_lock_duration_ms.to_string(),
        "share.delivery.count.limit" => broker.share.delivery_count_limit.to_string(),
        "share.partition.max.record.locks" => broker.share.partition_max_record_locks.to_string(),
        "share.auto.offset.reset" => "latest".into(),
        "share.isolation.level" => "read_uncommitted".into(),
        "share.renew.acknowledge.enable" => "true".into(),
        _ => return None,
    };
    Some(v)
}

/// A group key's effective value: the group's own, else the default.
pub fn effective_value(
    broker: &Config,
    configs: &BTreeMap<String, String>,
    name: &str,
) -> Option<String> {
    configs
        .get(name)
        .cloned()
        .or_else(|| group_default(broker, name))
}

/// Kafka's `ConfigException` text: "Invalid value V for configuration K: reason".
fn invalid_value(key: &str, value: &str, reason: &str) -> String {
    format!("Invalid value {value} for configuration {key}: {reason}")
}

/// Whether `s` is an ISO-8601 duration as Java's `Duration.parse` takes it (`PnDTnHnMn.nS`,
/// each part optional, an optional sign before the P and before each number).
fn is_iso_duration(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let Some(rest) = s.strip_prefix(['P', 'p']) else {
        return false;
    };
    let (days, time) = match rest.find(['T', 't']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let number = |n: &str, fraction: bool| {
        let n = n.strip_prefix(['-', '+']).unwrap_or(n);
        let (whole, frac) = match n.split_once(['.', ',']) {
            Some((w, f)) if fraction => (w, Some(f)),
            Some(_) => return false,
            None => (n, None),
        };
        !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && frac.is_none_or(|f| {
                !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit())
            })
    };
    let mut any = false;
    if !days.is_empty() {
        let Some(n) = days.strip_suffix(['D', 'd']) else {
            return false;
        };
        if !number(n, false) {
            return false;
        }
        any = true;
    }
    if let Some(mut t) = time {
        if t.is_empty() {
            return false;
        }
        for unit in ['H', 'M', 'S'] {
            let lower = unit.to_ascii_lowercase();
            if let Some(i) = t.find([unit, lower]) {
                if !number(&t[..i], unit == 'S') {
                    return false;
                }
                t = &t[i + 1..];
                any = true;
            }
        }
        if !t.is_empty() {
            return false;
        }
    }
    any
}

/// `share.auto.offset.reset` as a share-partition's initialization uses it: `earliest`,
/// `latest`, or `by_duration:` with the duration in milliseconds (Kafka's
/// `ShareGroupAutoOffsetResetStrategy`). `None` for a value the validator refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareAutoOffsetReset {
    Earliest,
    Latest,
    ByDuration(i64),
}

impl ShareAutoOffsetReset {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "earliest" => Some(Self::Earliest),
            "latest" => Some(Self::Latest),
            _ => {
                let d = value.strip_prefix("by_duration:")?;
                (!d.contains('-') && is_iso_duration(d))
                    .then(|| iso_duration_ms(d))
                    .flatten()
                    .map(Self::ByDuration)
            }
        }
    }
}

/// The milliseconds of a non-negative duration [`is_iso_duration`] accepts (fractions of a
/// second below a millisecond dropped, saturating).
fn iso_duration_ms(s: &str) -> Option<i64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let rest = s.strip_prefix(['P', 'p'])?;
    let (days, time) = match rest.find(['T', 't']) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let whole = |n: &str| n.trim_start_matches('+').parse::<i64>().ok();
    let mut ms: i64 = 0;
    if let Some(n) = days.strip_suffix(['D', 'd']) {
        ms = ms.saturating_add(whole(n)?.saturating_mul(86_400_000));
    }
    let mut t = time;
    for (unit, scale) in [('H', 3_600_000i64), ('M', 60_000)] {
        if let Some(i) = t.find([unit, unit.to_ascii_lowercase()]) {
            ms = ms.saturating_add(whole(&t[..i])?.saturating_mul(scale));
            t = &t[i + 1..];
        }
    }
    if let Some(n) = t.strip_suffix(['S', 's']) {
        let (w, f) = n.split_once(['.', ',']).unwrap_or((n, ""));
        let frac: String = f.chars().chain("000".chars()).take(3).collect();
        ms = ms
            .saturating_add(whole(w)?.saturating_mul(1000))
            .saturating_add(frac.parse::<i64>().ok()?);
    }
    Some(ms)
}

/// Kafka's `ShareGroupAutoOffsetResetStrategy.Validator`: `earliest`, `latest` (exactly) or
/// `by_duration:` and a duration Java's `Duration.parse` takes that is not negative. (A
/// duration with a negative part is refused even when the whole is positive, as `PT1H-30M`.)
fn check_auto_offset_reset(key: &str, value: &str) -> Result<(), String> {
    let ok = match value.strip_prefix("by_duration:") {
        Some(d) => !d.contains('-') && is_iso_duration(d),
        None => value == "earliest" || value == "latest",
    };
    if ok {
        return Ok(());
    }
    Err(invalid_value(
        key,
        value,
        &format!(
            "Invalid value `{value}` for configuration {key}. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS.>'."
        ),
    ))
}

/// Check a group's whole new set of configs as Kafka's `GroupConfig.validate` does: names,
/// types and ranges, then the broker's bounds, with the broker defaults filling unset keys.
/// The error is Kafka's INVALID_CONFIG message.
pub fn validate_group_config(
    broker: &Config,
    configs: &BTreeMap<String, String>,
) -> Result<(), String> {
    for name in configs.keys() {
        if group_spec(name).is_none() {
            return Err(format!("Unknown group config name: {name}"));
        }
    }
    let mut ints: BTreeMap<&str, i64> = BTreeMap::new();
    for spec in GROUP_KEYS {
        let Some(raw) = configs.get(spec.name) else {
            if let Some(v) = group_default(broker, spec.name).and_then(|d| d.parse::<i64>().ok()) {
                ints.insert(spec.name, v);
            }
            continue;
        };
        let value = raw.trim();
        match spec.kind {
            ConfigType::Int => {
                let v: i32 = value
                    .parse()
                    .map_err(|_| invalid_value(spec.name, raw, "Not a number of type INT"))?;
                // Kafka's `atLeast` per key.
                let min = match spec.name {
                    "share.record.lock.duration.ms" => 1000,
                    "share.delivery.count.limit" => 2,
                    "share.partition.max.record.locks" => 100,
                    _ => 1,
                };
                if v < min {
                    return Err(invalid_value(
                        spec.name,
                        raw,
                        &format!("Value must be at least {min}"),
                    ));
                }
                ints.insert(spec.name, v as i64);
            }
            ConfigType::Boolean => {
                if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                    return Err(invalid_value(
                        spec.name,
                        raw,
                        "Expected value to be either true or false",
                    ));
                }
            }
            _ => match spec.name {
                "share.auto.offset.reset" => check_auto_offset_reset(spec.name, value)?,
                "share.isolation.level"
                    if value != "read_committed" && value != "read_uncommitted" =>
                {
                    return Err(invalid_value(
                        spec.name,
                        raw,
                        "String must be one of: read_committed, read_uncommitted",
                    ));
                }
                _ => {}
            },
        }
    }
    let get = |k: &str| ints.get(k).copied().unwrap_or_default();
    let within = |key: &str, prefix: &str, bounds: (i32, i32), what: &str| {
        let v = get(key);
        if v < bounds.0 as i64 {
            return Err(format!(
                "{key} must be greater than or equal to {prefix}.min.{what}"
            ));
        }
        if v > bounds.1 as i64 {
            return Err(format!(
                "{key} must be less than or equal to {prefix}.max.{what}"
            ));
        }
        Ok(())
    };
    let timeouts = |kind: &str, prefix: &str, b: &TimeoutBounds| {
        within(
            &format!("{kind}.heartbeat.interval.ms"),
            prefix,
            (b.min_heartbeat_interval_ms, b.max_heartbeat_interval_ms),
            "heartbeat.interval.ms",
        )?;
        within(
            &format!("{kind}.session.timeout.ms"),
            prefix,
            (b.min_session_timeout_ms, b.max_session_timeout_ms),
            "session.timeout.ms",
        )
    };
    timeouts("consumer", "group.consumer", &broker.group_consumer_bounds)?;
    timeouts("share", "group.share", &broker.share.bounds)?;
    within(
        "share.record.lock.duration.ms",
        "group.share",
        (
            broker.share.min_record_lock_duration_ms,
            broker.share.max_record_lock_duration_ms,
        ),
        "record.lock.duration.ms",
    )?;
    within(
        "share.delivery.count.limit",
        "group.share",
        (
            broker.share.min_delivery_count_limit,
            broker.share.max_delivery_count_limit,
        ),
        "delivery.count.limit",
    )?;
    within(
        "share.partition.max.record.locks",
        "group.share",
        (
            broker.share.min_partition_max_record_locks,
            broker.share.max_partition_max_record_locks,
        ),
        "partition.max.record.locks",
    )?;
    for kind in ["consumer", "share"] {
        if get(&format!("{kind}.session.timeout.ms"))
            <= get(&format!("{kind}.heartbeat.interval.ms"))
        {
            return Err(format!(
                "{kind}.session.timeout.ms must be greater than {kind}.heartbeat.interval.ms"
            ));
        }
    }
    Ok(())
}

const FILE: &str = "group-configs.json";

/// Why a change to the store failed.
#[derive(Debug, thiserror::Error)]
pub enum GroupConfigError {
    /// INVALID_CONFIG, with Kafka's message.
    #[error("{0}")]
    Invalid(String),
    #[error("storing group configs: {0}")]
    Io(#[from] std::io::Error),
}

/// The group configs of a single broker, by group id, kept in `group-configs.json` (replaced
/// whole through a temporary file, so a crash leaves the old or the new file).
pub struct GroupConfigs {
    path: PathBuf,
    groups: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
}

impl GroupConfigs {
    /// Load the stored configs; an unreadable file is logged and ignored (it holds only
    /// overrides of defaults).
    pub fn open(log_dir: &Path) -> GroupConfigs {
        let path = log_dir.join(FILE);
        let groups = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("ignoring unreadable {}: {e}", path.display());
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        GroupConfigs {
            path,
            groups: Mutex::new(groups),
        }
    }

    /// A group's own configs (empty when none are set).
    pub fn get(&self, group: &str) -> BTreeMap<String, String> {
        self.groups.lock().get(group).cloned().unwrap_or_default()
    }

    /// Change a group's configs with `change`; the result is validated against `broker` and
    /// stored (nothing is stored when `validate_only`).
    pub fn alter(
        &self,
        broker: &Config,
        group: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<(), String>,
        validate_only: bool,
    ) -> Result<(), GroupConfigError> {
        let mut groups = self.groups.lock();
        let mut configs = groups.get(group).cloned().unwrap_or_default();
        change(&mut configs).map_err(GroupConfigError::Invalid)?;
        validate_group_config(broker, &configs).map_err(GroupConfigError::Invalid)?;
        if validate_only {
            return Ok(());
        }
        let mut next = groups.clone();
        if configs.is_empty() {
            next.remove(group);
        } else {
            next.insert(group.to_string(), configs);
        }
        let text = serde_json::to_vec_pretty(&next).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("json.tmp");
        if let Err(e) = fs::write(&tmp, text).and_then(|()| fs::rename(&tmp, &self.path)) {
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        *groups = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn share_auto_offset_reset_values() {
        use ShareAutoOffsetReset as R;
        assert_eq!(R::parse("earliest"), Some(R::Earliest));
        assert_eq!(R::parse("latest"), Some(R::Latest));
        assert_eq!(R::parse("by_duration:PT1H"), Some(R::ByDuration(3_600_000)));
        assert_eq!(
            R::parse("by_duration:P1DT2H3M4.5S"),
            Some(R::ByDuration(86_400_000 + 7_200_000 + 180_000 + 4_500))
        );
        assert_eq!(R::parse("by_duration:PT-1H"), None);
        assert_eq!(R::parse("sometime"), None);
    }
    use super::*;

    fn broker(ov: &[&str]) -> Config {
        let ov: Vec<String> = ov.iter().map(|s| s.to_string()).collect();
        Config::from_sources(None, Vec::new(), &ov).unwrap().0
    }

    fn check(b: &Config, pairs: &[(&str, &str)]) -> Result<(), String> {
        let m = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        validate_group_config(b, &m)
    }

    #[test]
    fn defaults_follow_the_broker_keys() {
        let b = broker(&[]);
        let d = |k| group_default(&b, k).unwrap();
        assert_eq!(d("share.record.lock.duration.ms"), "30000");
        assert_eq!(d("share.session.timeout.ms"), "45000");
        assert_eq!(d("share.heartbeat.interval.ms"), "5000");
        assert_eq!(d("consumer.session.timeout.ms"), "45000");
        assert_eq!(d("consumer.heartbeat.interval.ms"), "5000");
        assert_eq!(d("share.auto.offset.reset"), "latest");
        assert_eq!(d("share.isolation.level"), "read_uncommitted");
        assert_eq!(d("share.renew.acknowledge.enable"), "true");
        assert_eq!(d("share.delivery.count.limit"), "5");
        assert_eq!(d("share.partition.max.record.locks"), "2000");
        let b = broker(&[
            "group.share.record.lock.duration.ms=20000",
            "group.share.min.record.lock.duration.ms=1000",
        ]);
        assert_eq!(
            group_default(&b, "share.record.lock.duration.ms").as_deref(),
            Some("20000")
        );
        assert_eq!(group_default(&b, "nope"), None);
    }

    #[test]
    fn kip_1240_keys_are_held_to_the_broker_bounds() {
        let b = broker(&[]);
        let ok = [
            ("share.delivery.count.limit", "2"),
            ("share.delivery.count.limit", "10"),
            ("share.partition.max.record.locks", "100"),
            ("share.partition.max.record.locks", "4000"),
        ];
        for (k, v) in ok {
            assert_eq!(check(&b, &[(k, v)]), Ok(()), "{k}={v}");
        }
        let refused = [
            (
                ("share.delivery.count.limit", "1"),
                "Invalid value 1 for configuration share.delivery.count.limit: Value must be at least 2",
            ),
            (
                ("share.delivery.count.limit", "11"),
                "share.delivery.count.limit must be less than or equal to group.share.max.delivery.count.limit",
            ),
            (
                ("share.partition.max.record.locks", "99"),
                "Invalid value 99 for configuration share.partition.max.record.locks: Value must be at least 100",
            ),
            (
                ("share.partition.max.record.locks", "4001"),
                "share.partition.max.record.locks must be less than or equal to group.share.max.partition.max.record.locks",
            ),
        ];
        for ((k, v), message) in refused {
            assert_eq!(check(&b, &[(k, v)]), Err(message.to_string()), "{k}={v}");
        }
        let b = broker(&["group.share.min.delivery.count.limit=4"]);
        assert_eq!(
            check(&b, &[("share.delivery.count.limit", "3")]),
            Err("share.delivery.count.limit must be greater than or equal to group.share.min.delivery.count.limit".to_string())
        );
    }

    #[test]
    fn validation_has_kafkas_messages() {
        let b = broker(&[]);
        assert_eq!(check(&b, &[]), Ok(()));
        assert_eq!(
            check(
                &b,
                &[
                    ("share.auto.offset.reset", "earliest"),
                    ("share.isolation.level", "read_committed"),
                    ("share.record.lock.duration.ms", "60000"),
                    ("share.session.timeout.ms", "50000"),
                    ("share.heartbeat.interval.ms", "15000"),
                    ("consumer.session.timeout.ms", "60000"),
                    ("share.renew.acknowledge.enable", "false"),
                ]
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &b,
                &[("share.auto.offset.reset", "by_duration:P1DT2H3M4.5S")]
            ),
            Ok(())
        );
        assert_eq!(
            check(&b, &[("share.auto.offset.reset", "by_duration:PT1H")]),
            Ok(())
        );
        assert_eq!(
            check(&b, &[("foo", "1")]),
            Err("Unknown group config name: foo".into())
        );
        assert_eq!(
            check(&b, &[("share.record.lock.duration.ms", "10000")]),
            Err("share.record.lock.duration.ms must be greater than or equal to group.share.min.record.lock.duration.ms".into())
        );
        assert_eq!(
            check(&b, &[("share.record.lock.duration.ms", "60001")]),
            Err("share.record.lock.duration.ms must be less than or equal to group.share.max.record.lock.duration.ms".into())
        );
        assert_eq!(
            check(&b, &[("share.record.lock.duration.ms", "999")]),
            Err("Invalid value 999 for configuration share.record.lock.duration.ms: Value must be at least 1000".into())
        );
        assert_eq!(
            check(&b, &[("share.session.timeout.ms", "x")]),
            Err("Invalid value x for configuration share.session.timeout.ms: Not a number of type INT".into())
        );
        assert_eq!(
            check(&b, &[("share.isolation.level", "READ_COMMITTED")]),
            Err("Invalid value READ_COMMITTED for configuration share.isolation.level: String must be one of: read_committed, read_uncommitted".into())
        );
        assert_eq!(
            check(&b, &[("share.auto.offset.reset", "middle")]),
            Err("Invalid value middle for configuration share.auto.offset.reset: Invalid value `middle` for configuration share.auto.offset.reset. The value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS.>'.".into())
        );
        assert!(check(&b, &[("share.auto.offset.reset", "EARLIEST")]).is_err());
        assert!(check(&b, &[("share.auto.offset.reset", "by_duration")]).is_err());
        assert_eq!(
            check(&b, &[("share.auto.offset.reset", " earliest ")]),
            Ok(())
        );
        assert!(check(&b, &[("share.auto.offset.reset", "by_duration:1H")]).is_err());
        assert!(check(&b, &[("share.auto.offset.reset", "by_duration:-PT1H")]).is_err());
        assert_eq!(
            check(&b, &[("share.heartbeat.interval.ms", "4999")]),
            Err("share.heartbeat.interval.ms must be greater than or equal to group.share.min.heartbeat.interval.ms".into())
        );
        assert_eq!(
            check(&b, &[("consumer.session.timeout.ms", "60001")]),
            Err("consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms".into())
        );
        let b = broker(&[
            "group.share.min.session.timeout.ms=1000",
            "group.share.max.heartbeat.interval.ms=60000",
        ]);
        assert_eq!(
            check(&b, &[("share.session.timeout.ms", "5000")]),
            Err("share.session.timeout.ms must be greater than share.heartbeat.interval.ms".into())
        );
        assert_eq!(
            check(&b, &[("share.renew.acknowledge.enable", "yes")]),
            Err("Invalid value yes for configuration share.renew.acknowledge.enable: Expected value to be either true or false".into())
        );
    }

    #[test]
    fn the_store_survives_a_reopen_and_refuses_bad_sets() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(&[]);
        let s = GroupConfigs::open(dir.path());
        assert!(s.get("g").is_empty());
        let set = |k: &str, v: &str| {
            let (k, v) = (k.to_string(), v.to_string());
            move |m: &mut BTreeMap<String, String>| {
                m.insert(k, v);
                Ok(())
            }
        };
        s.alter(&b, "g", set("share.auto.offset.reset", "earliest"), false)
            .unwrap();
        s.alter(
            &b,
            "g",
            set("share.isolation.level", "read_committed"),
            true,
        )
        .unwrap();
        assert!(matches!(
            s.alter(&b, "g", set("share.isolation.level", "no"), false),
            Err(GroupConfigError::Invalid(_))
        ));
        let s = GroupConfigs::open(dir.path());
        let want: BTreeMap<String, String> = [(
            "share.auto.offset.reset".to_string(),
            "earliest".to_string(),
        )]
        .into();
        assert_eq!(s.get("g"), want);
        assert_eq!(
            effective_value(&b, &s.get("g"), "share.isolation.level").as_deref(),
            Some("read_uncommitted")
        );
        s.alter(
            &b,
            "g",
            |m| {
                m.remove("share.auto.offset.reset");
                Ok(())
            },
            false,
        )
        .unwrap();
        assert!(GroupConfigs::open(dir.path()).get("g").is_empty());
    }
}
