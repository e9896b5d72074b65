//! The topic registry ([`TopicRegistry`]): which topics exist, their ids, configs and
//! partitions. Persisted as Kafka lays it out on disk: each `<topic>-<partition>/` directory
//! holds a `partition.metadata` file with the topic id; topic-level config overrides sit in
//! `topic.properties` inside the topic's partition 0 directory ([`files`]). Rebuilt by scanning
//! the log dir at start-up.
//!
//! **Owns:** the partitions' lifecycle (create, open, delete, add), topic settings
//! ([`settings`]), the internal topics' record format ([`internal`]), and the periodic
//! retention and compaction passes over every partition.
//!
//! **Must never:** speak the wire or know error codes (it returns [`TopicError`]s); write to or
//! read from a partition's log except through [`Partition`].

mod files;
pub mod internal;
mod settings;

pub use settings::{TopicSettings, log_config};

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use crate::config::{self, Config};
use crate::log::checkpoint::{take_clean_shutdown, write_clean_shutdown};
use crate::log::{
    LogError, REPLICATION_OFFSET_CHECKPOINT_FILE, partition_dir, read_offsets, write_offsets,
};
use crate::partition::{AppendError, Partition};
use files::{
    PARTITION_METADATA, TOPIC_PROPERTIES, read_partition_metadata, read_properties,
    write_partition_metadata, write_properties,
};

/// The cluster's metadata log directory (see `cluster`), which is not a topic.
pub const CLUSTER_METADATA_DIR: &str = "__cluster_metadata-0";

/// Kafka's limit on topic name length.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("Topic '{0}' already exists.")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidName(String),
    #[error("{0}")]
    InvalidPartitions(String),
    #[error("{0}")]
    InvalidReplicationFactor(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("This server does not host this topic-partition.")]
    UnknownTopic,
    #[error("Topic deletion is disabled.")]
    DeletionDisabled,
    #[error("storage error: {0}")]
    Log(#[from] LogError),
    #[error("storage error: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage error: {0}")]
    Append(#[from] AppendError),
}

pub struct Topic {
    pub name: String,
    pub id: Uuid,
    /// Topic-level overrides only; defaults come from the broker config.
    pub configs: RwLock<BTreeMap<String, String>>,
    /// The parsed settings the produce path needs, derived from `configs`.
    pub settings: RwLock<TopicSettings>,
    /// The partitions this node holds, by index: all of them on a single broker, the ones
    /// the cluster assigned to it in a cluster.
    pub partitions: RwLock<BTreeMap<i32, Arc<Partition>>>,
}

impl Topic {
    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        self.partitions.read().get(&index).cloned()
    }

    /// How many partitions this node holds (on a single broker: the topic's partition count).
    pub fn partition_count(&self) -> i32 {
        self.partitions.read().len() as i32
    }

    /// The partitions this node holds, in index order.
    pub fn local_partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions.read().values().cloned().collect()
    }

    /// A topic config's effective value: override, else broker default.
    pub fn config_value(&self, broker: &Config, key: &str) -> Option<String> {
        self.configs
            .read()
            .get(key)
            .cloned()
            .or_else(|| broker.topic_default(key))
    }

    pub fn is_internal(&self) -> bool {
        self.name.starts_with("__")
    }
}

/// Keys stored and described but without effect, as in Kafka 3.x: say so once per change.
fn warn_ignored_configs(topic: &str, configs: &BTreeMap<String, String>) {
    if let Some(v) = configs.get("message.format.version") {
        tracing::warn!(
            topic,
            value = %v,
            "message.format.version is ignored: the log keeps message format v2 (old clients' formats are converted)"
        );
    }
}

/// Kafka's topic name rule.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    let err = |why: String| Err(TopicError::InvalidName(why));
    if name.is_empty() {
        return err("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return err("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return err(format!(
            "Topic name is illegal, it can't be longer than {MAX_TOPIC_NAME_LEN} characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-')
    {
        return err(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

pub struct TopicRegistry {
    log_dir: PathBuf,
    /// The effective broker configuration (static + dynamic layers): topic defaults.
    broker: RwLock<Arc<Config>>,
    topics: DashMap<String, Arc<Topic>>,
    ids: DashMap<Uuid, String>,
    /// Serialises create / delete / add-partitions so two admins cannot race.
    admin: Mutex<()>,
    /// High watermarks as last checkpointed (`replication-offset-checkpoint`), read at start-up:
    /// where a cluster's partitions start before their leaders say more.
    checkpointed_hw: std::collections::HashMap<(String, i32), i64>,
    /// Deleted partitions' directories whose removal failed, retried later.
    pending_deletes: Mutex<Vec<PathBuf>>,
}

/// The suffix of a deleted partition's directory until it is removed (Kafka's).
const DELETE_SUFFIX: &str = "-delete";

impl TopicRegistry {
    /// Open every partition found under the log dir.
    pub fn open(broker: Arc<Config>, now_ms: i64) -> Result<TopicRegistry, TopicError> {
        let log_dir = broker.log_dir.clone();
        fs::create_dir_all(&log_dir)?;
        let clean_shutdown = take_clean_shutdown(&log_dir);
        if clean_shutdown {
            tracing::info!("the last shutdown was clean: active segments are not CRC-checked");
        }
        let broker_is_cluster = broker.cluster.is_some();
        let reg = TopicRegistry {
            log_dir: log_dir.clone(),
            broker: RwLock::new(broker),
            topics: DashMap::new(),
            ids: DashMap::new(),
            admin: Mutex::new(()),
            pending_deletes: Mutex::new(Vec::new()),
            checkpointed_hw: if broker_is_cluster {
                let path = log_dir.join(REPLICATION_OFFSET_CHECKPOINT_FILE);
                read_offsets(&path).unwrap_or_else(|e| {
                    tracing::warn!("high watermarks start at the log starts: {e}");
                    Default::default()
                })
            } else {
                Default::default()
            },
        };
        let mut found: BTreeMap<String, BTreeMap<i32, PathBuf>> = BTreeMap::new();
        for entry in fs::read_dir(&log_dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.ends_with(DELETE_SUFFIX) {
                // A deleted partition whose removal did not finish before the broker stopped.
                match fs::remove_dir_all(entry.path()) {
                    Ok(()) => tracing::info!(dir = %name, "removed a deleted partition's dir"),
                    Err(e) => {
                        tracing::warn!(dir = %name, "cannot remove a deleted partition's dir: {e}")
                    }
                }
                continue;
            }
            let Some((topic, part)) = name.rsplit_once('-') else {
                continue;
            };
            let Ok(part) = part.parse::<i32>() else {
                continue;
            };
            // The metadata log of a cluster is not a topic.
            if validate_topic_name(topic).is_err() || part < 0 || name == CLUSTER_METADATA_DIR {
                continue;
            }
            found
                .entry(topic.to_string())
                .or_default()
                .insert(part, entry.path());
        }
        // What each topic is, then its partitions opened by the recovery threads.
        struct Found {
            name: String,
            id: Uuid,
            configs: BTreeMap<String, String>,
            settings: TopicSettings,
            indexes: Vec<i32>,
        }
        let mut topics = Vec::with_capacity(found.len());
        for (name, parts) in found {
            let mut id = None;
            for dir in parts.values() {
                if let Some(u) = read_partition_metadata(dir) {
                    id = Some(u);
                    break;
                }
            }
            let id = match id {
                Some(id) => id,
                None => {
                    tracing::warn!(topic = %name, "no partition.metadata found; assigning a new topic id");
                    Uuid::new_v4()
                }
            };
            let configs =
                read_properties(&log_dir.join(format!("{name}-0")).join(TOPIC_PROPERTIES));
            let settings = TopicSettings::new(&reg.broker_config(), &configs);
            // A single broker holds every partition (a missing directory is recreated empty);
            // a cluster node holds the ones found, and follows the metadata image from there.
            let indexes: Vec<i32> = if reg.broker_config().cluster.is_some() {
                parts.keys().copied().collect()
            } else {
                (0..parts.keys().max().map(|m| m + 1).unwrap_or(0)).collect()
            };
            topics.push(Found {
                name,
                id,
                configs,
                settings,
                indexes,
            });
        }
        let jobs: Vec<(usize, i32)> = topics
            .iter()
            .enumerate()
            .flat_map(|(t, f)| f.indexes.iter().map(move |&p| (t, p)))
            .collect();
        let threads = reg.broker_config().recovery_threads;
        let opened = parallel_map(&jobs, threads, |&(t, p)| {
            let f = &topics[t];
            let dir = partition_dir(&log_dir, &f.name, p);
            let lc = f.settings.log.clone();
            let (partition, files) =
                reg.open_partition(&f.name, p, &dir, lc, now_ms, clean_shutdown)?;
            // Written where missing (the topic's id came from the first one found).
            if !files.iter().any(|n| n == PARTITION_METADATA)
                && let Err(e) = write_partition_metadata(&dir, f.id)
            {
                // A full disk must not keep the broker from starting; the next start writes it.
                tracing::warn!(dir = %dir.display(), "cannot write partition.metadata: {e}");
            }
            Ok::<_, LogError>(partition)
        });
        let mut opened = jobs.iter().zip(opened);
        for f in topics {
            let mut partitions = BTreeMap::new();
            for _ in 0..f.indexes.len() {
                let Some((&(_, p), partition)) = opened.next() else {
                    break;
                };
                partitions.insert(p, partition?);
            }
            tracing::debug!(topic = %f.name, partitions = partitions.len(), "loaded topic");
            reg.ids.insert(f.id, f.name.clone());
            reg.topics.insert(
                f.name.clone(),
                Arc::new(Topic {
                    name: f.name,
                    id: f.id,
                    configs: RwLock::new(f.configs),
                    settings: RwLock::new(f.settings),
                    partitions: RwLock::new(partitions),
                }),
            );
        }
        Ok(reg)
    }

    /// Make the directories of partitions `range` of topic `name` (a new topic's, with its
    /// `properties` in partition 0, or ones added to it) and open them: all or none. On an error
    /// (out of file descriptors, disk full) the partitions opened so far are closed and every
    /// directory this call made is removed, so nothing half-made is loaded as a topic at the
    /// next start.
    fn open_new_partitions(
        &self,
        name: &str,
        id: Uuid,
        range: std::ops::Range<i32>,
        lc: &crate::log::LogConfig,
        now_ms: i64,
        properties: Option<&BTreeMap<String, String>>,
    ) -> Result<Vec<(i32, Arc<Partition>)>, TopicError> {
        let mut made = Vec::new();
        let mut dirs = Vec::new();
        // One sync for all the new files and directories, not three fsyncs per partition.
        let result =
            crate::log::files::with_one_sync(&self.log_dir, || -> Result<(), TopicError> {
                for p in range {
                    let dir = partition_dir(&self.log_dir, name, p);
                    if !dir.exists() {
                        dirs.push(dir.clone());
                    }
                    let partition = Partition::open(name, p, &dir, lc.clone(), now_ms)?;
                    made.push((p, partition));
                    write_partition_metadata(&dir, id)?;
                    if p == 0
                        && let Some(configs) = properties
                    {
                        write_properties(&dir.join(TOPIC_PROPERTIES), configs)?;
                    }
                }
                Ok(())
            })
            .map_err(LogError::from)
            .map_err(TopicError::from)
            .and_then(|r| r);
        if let Err(e) = result {
            drop(made);
            for dir in dirs {
                if let Err(err) = fs::remove_dir_all(&dir)
                    && err.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(dir = %dir.display(), "could not remove a partition dir: {err}");
                }
            }
            tracing::warn!(topic = name, "partitions not created: {e}");
            return Err(e);
        }
        Ok(made)
    }

    /// Open a partition: the single broker's lead alone; a cluster's wait for the metadata to
    /// give them a role, starting from their checkpointed high watermark.
    fn open_partition(
        &self,
        name: &str,
        index: i32,
        dir: &Path,
        lc: crate::log::LogConfig,
        now_ms: i64,
        clean_shutdown: bool,
    ) -> Result<(Arc<Partition>, Vec<String>), LogError> {
        let replica = self.broker_config().cluster.is_some().then(|| {
            self.checkpointed_hw
                .get(&(name.to_string(), index))
                .copied()
        });
        Partition::reopen(name, index, dir, lc, now_ms, replica, clean_shutdown)
    }

    /// Write every partition's high watermark to `replication-offset-checkpoint` (Kafka's
    /// file and format), where a restarted cluster node's partitions start from.
    pub fn checkpoint_high_watermarks(&self) -> Result<(), LogError> {
        let mut entries = std::collections::HashMap::new();
        for t in self.list() {
            for p in t.local_partitions() {
                entries.insert((t.name.clone(), p.index), p.offsets().high_watermark);
            }
        }
        write_offsets(
            &self.log_dir.join(REPLICATION_OFFSET_CHECKPOINT_FILE),
            &entries,
        )
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The effective broker configuration topic defaults come from.
    pub fn broker_config(&self) -> Arc<Config> {
        self.broker.read().clone()
    }

    /// A dynamic broker config changed: every topic's settings follow.
    pub fn set_broker_config(&self, broker: Arc<Config>) {
        let _guard = self.admin.lock();
        *self.broker.write() = broker.clone();
        for t in self.list() {
            let settings = TopicSettings::new(&broker, &t.configs.read());
            for p in t.partitions.read().values() {
                p.set_log_config(settings.log.clone());
            }
            *t.settings.write() = settings;
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.get(name).map(|t| t.clone())
    }

    pub fn get_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        let name = self.ids.get(&id)?.clone();
        self.get(&name)
    }

    /// All topics, sorted by name.
    pub fn list(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = self.topics.iter().map(|t| t.value().clone()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Check what CreateTopics would do, without doing it.
    pub fn validate_create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), TopicError> {
        validate_topic_name(name)?;
        if self.topics.contains_key(name) {
            return Err(TopicError::AlreadyExists(name.to_string()));
        }
        if partitions < 1 {
            return Err(TopicError::InvalidPartitions(
                "Number of partitions must be larger than 0.".into(),
            ));
        }
        if replication_factor < 1 {
            return Err(TopicError::InvalidReplicationFactor(
                "Replication factor must be larger than 0.".into(),
            ));
        }
        if replication_factor > 1 {
            return Err(TopicError::InvalidReplicationFactor(format!(
                "Unable to replicate the partition {replication_factor} time(s): The target replication factor of {replication_factor} cannot be reached because only 1 broker(s) are registered."
            )));
        }
        for (k, v) in configs {
            config::validate_topic_config(k, v)
                .map_err(|e| TopicError::InvalidConfig(e.to_string()))?;
        }
        Ok(())
    }

    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<Arc<Topic>, TopicError> {
        let _guard = self.admin.lock();
        self.validate_create(name, partitions, replication_factor, &configs)?;
        warn_ignored_configs(name, &configs);
        let id = Uuid::new_v4();
        let settings = TopicSettings::new(&self.broker_config(), &configs);
        let lc = settings.log.clone();
        let parts = self
            .open_new_partitions(name, id, 0..partitions, &lc, now_ms, Some(&configs))?
            .into_iter()
            .collect();
        let topic = Arc::new(Topic {
            name: name.to_string(),
            id,
            configs: RwLock::new(configs),
            settings: RwLock::new(settings),
            partitions: RwLock::new(parts),
        });
        self.ids.insert(id, name.to_string());
        self.topics.insert(name.to_string(), topic.clone());
        tracing::info!(topic = name, partitions, %id, "created topic");
        Ok(topic)
    }

    pub fn delete(&self, name: &str) -> Result<Uuid, TopicError> {
        if !self.broker_config().delete_topic_enable {
            return Err(TopicError::DeletionDisabled);
        }
        self.remove(name)
    }

    /// Drop a topic and its data from this node, whatever delete.topic.enable says (a cluster
    /// node follows the metadata image: the controller already checked).
    pub fn remove(&self, name: &str) -> Result<Uuid, TopicError> {
        let _guard = self.admin.lock();
        let (_, topic) = self.topics.remove(name).ok_or(TopicError::UnknownTopic)?;
        self.ids.remove(&topic.id);
        for p in topic.partitions.read().values() {
            self.delete_partition_dir(p.dir(), topic.id);
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic.id)
    }

    /// Take a deleted partition's directory out of the log dir: renamed at once to
    /// `<topic>-<partition>.<topic id>-delete` (Kafka's name for it; a start-up never loads it
    /// as a topic), then removed. A removal that fails (the process out of descriptors, say) is
    /// retried by [`Self::retry_deletes`] and at the next start, so a deleted topic never comes
    /// back and its bytes are not left behind.
    fn delete_partition_dir(&self, dir: &Path, id: Uuid) {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        let doomed = dir.with_file_name(format!("{name}.{}{DELETE_SUFFIX}", id.simple()));
        let target = match fs::rename(dir, &doomed) {
            Ok(()) => doomed,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), "could not rename a deleted partition's dir: {e}");
                dir.to_path_buf()
            }
        };
        if let Err(e) = fs::remove_dir_all(&target) {
            tracing::warn!(dir = %target.display(), "could not remove a deleted partition's dir yet (retried): {e}");
            self.pending_deletes.lock().push(target);
        }
    }

    /// Remove the deleted partitions' directories that could not be removed before.
    pub fn retry_deletes(&self) {
        let pending = std::mem::take(&mut *self.pending_deletes.lock());
        for dir in pending {
            match fs::remove_dir_all(&dir) {
                Ok(()) => tracing::info!(dir = %dir.display(), "removed a deleted partition's dir"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => self.pending_deletes.lock().push(dir),
            }
        }
    }

    /// Drop partition `index` of topic `name` (id `id`) and its data from this node, which the
    /// cluster no longer places it on (a reassignment moved it): the caller checked the image.
    /// The topic's entry goes with its last partition here.
    pub fn remove_partition(&self, name: &str, id: Uuid, index: i32) -> Result<(), TopicError> {
        let _guard = self.admin.lock();
        let topic = self
            .get(name)
            .filter(|t| t.id == id)
            .ok_or(TopicError::UnknownTopic)?;
        let partition = topic
            .partitions
            .write()
            .remove(&index)
            .ok_or(TopicError::UnknownTopic)?;
        if topic.partitions.read().is_empty() {
            self.topics.remove(name);
            self.ids.remove(&id);
        }
        self.delete_partition_dir(partition.dir(), id);
        tracing::info!(
            topic = name,
            partition = index,
            "deleted partition (no longer a replica here)"
        );
        Ok(())
    }

    /// Hold partition `index` of topic `name` (id `id`) on this node, creating the topic entry
    /// and the partition's directory when missing: a cluster node following the metadata
    /// image. A local topic of that name with another id (deleted and created again while this
    /// node was away) must be removed first: until then this is `UnknownTopic`.
    pub fn ensure_partition(
        &self,
        name: &str,
        id: Uuid,
        index: i32,
        configs: &BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<Arc<Partition>, TopicError> {
        if let Some(p) = self
            .get(name)
            .filter(|t| t.id == id)
            .and_then(|t| t.partition(index))
        {
            return Ok(p);
        }
        // A local topic of that name with another id is the image follower's to drop (only it
        // knows the old one is gone); until then this partition is not served.
        if self.get(name).is_some_and(|t| t.id != id) {
            return Err(TopicError::UnknownTopic);
        }
        let _guard = self.admin.lock();
        let topic = match self.get(name) {
            Some(t) => t,
            None => {
                let settings = TopicSettings::new(&self.broker_config(), configs);
                let topic = Arc::new(Topic {
                    name: name.to_string(),
                    id,
                    configs: RwLock::new(configs.clone()),
                    settings: RwLock::new(settings),
                    partitions: RwLock::new(BTreeMap::new()),
                });
                self.ids.insert(id, name.to_string());
                self.topics.insert(name.to_string(), topic.clone());
                topic
            }
        };
        if let Some(p) = topic.partition(index) {
            return Ok(p);
        }
        let lc = topic.settings.read().log.clone();
        let dir = partition_dir(&self.log_dir, name, index);
        let (partition, _) = self.open_partition(name, index, &dir, lc, now_ms, false)?;
        write_partition_metadata(&dir, id)?;
        topic.partitions.write().insert(index, partition.clone());
        tracing::info!(topic = name, partition = index, "hosting partition");
        Ok(partition)
    }

    /// Set a topic's config overrides as the cluster decided them (already validated).
    pub fn follow_configs(&self, name: &str, configs: &BTreeMap<String, String>) {
        let _guard = self.admin.lock();
        let Some(topic) = self.get(name) else { return };
        if *topic.configs.read() == *configs {
            return;
        }
        let settings = TopicSettings::new(&self.broker_config(), configs);
        for p in topic.partitions.read().values() {
            p.set_log_config(settings.log.clone());
        }
        *topic.settings.write() = settings;
        *topic.configs.write() = configs.clone();
    }

    /// Grow a topic to `total` partitions (CreatePartitions).
    pub fn add_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
        now_ms: i64,
    ) -> Result<(), TopicError> {
        let _guard = self.admin.lock();
        let topic = self.get(name).ok_or(TopicError::UnknownTopic)?;
        let current = topic.partition_count();
        if total < current {
            return Err(TopicError::InvalidPartitions(format!(
                "Topic currently has {current} partitions, which is higher than the requested {total}."
            )));
        }
        if total == current {
            return Err(TopicError::InvalidPartitions(format!(
                "Topic already has {current} partitions."
            )));
        }
        if validate_only {
            return Ok(());
        }
        let lc = topic.settings.read().log.clone();
        let new = self.open_new_partitions(name, topic.id, current..total, &lc, now_ms, None)?;
        topic.partitions.write().extend(new);
        tracing::info!(topic = name, partitions = total, "added partitions");
        Ok(())
    }

    /// Replace a topic's config overrides (AlterConfigs / IncrementalAlterConfigs):
    /// validated, persisted, and applied to every partition's log.
    pub fn alter_configs(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _guard = self.admin.lock();
        let topic = self.get(name).ok_or(TopicError::UnknownTopic)?;
        for (k, v) in &overrides {
            config::validate_topic_config(k, v)
                .map_err(|e| TopicError::InvalidConfig(e.to_string()))?;
        }
        if validate_only {
            return Ok(());
        }
        warn_ignored_configs(name, &overrides);
        let dir0 = self.log_dir.join(format!("{name}-0"));
        write_properties(&dir0.join(TOPIC_PROPERTIES), &overrides)?;
        let settings = TopicSettings::new(&self.broker_config(), &overrides);
        for p in topic.partitions.read().values() {
            p.set_log_config(settings.log.clone());
        }
        *topic.settings.write() = settings;
        *topic.configs.write() = overrides;
        tracing::info!(topic = name, "altered topic configs");
        Ok(())
    }

    /// Delete segments past retention.ms / retention.bytes in every topic whose
    /// cleanup.policy includes delete (never the active segment).
    pub fn enforce_retention(&self, now_ms: i64) {
        for t in self.list() {
            let settings = t.settings.read().clone();
            if !settings.cleanup_delete {
                continue;
            }
            for p in t.local_partitions() {
                let result =
                    p.apply_retention(settings.retention_ms, settings.retention_bytes, now_ms);
                match result {
                    Ok(r) if !r.deleted_segments.is_empty() => tracing::info!(
                        topic = %t.name,
                        partition = p.index,
                        segments = r.deleted_segments.len(),
                        bytes = r.deleted_bytes,
                        log_start_offset = r.new_log_start,
                        "deleted segments past retention"
                    ),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(topic = %t.name, partition = p.index, "retention failed: {e}")
                    }
                }
            }
        }
    }

    /// Compact every partition of topics whose cleanup.policy includes compact.
    pub fn run_cleaner(&self, now_ms: i64) {
        for t in self.list() {
            let settings = t.settings.read().clone();
            if !settings.cleanup_compact {
                continue;
            }
            for p in t.local_partitions() {
                let result = p.compact(
                    settings.min_compaction_lag_ms,
                    settings.delete_retention_ms,
                    now_ms,
                );
                match result {
                    None => {}
                    Some(Ok(r)) => {
                        tracing::debug!(topic = %t.name, partition = p.index, result = ?r, "compacted")
                    }
                    Some(Err(e)) => {
                        tracing::warn!(topic = %t.name, partition = p.index, "compaction failed: {e}")
                    }
                }
            }
        }
    }

    /// fsync every partition (clean shutdown). True if every one was flushed.
    pub fn flush_all(&self) -> bool {
        let mut all = true;
        for t in self.list() {
            for p in t.local_partitions() {
                if let Err(e) = p.flush() {
                    tracing::warn!(topic = %p.topic, partition = p.index, "flush failed: {e}");
                    all = false;
                }
            }
        }
        all
    }

    /// The end of a clean shutdown: flush every partition and, if that worked, write the clean
    /// shutdown marker, so the next start skips the CRC checks of the active segments. Nothing
    /// may be appended after this.
    pub fn shut_down(&self) {
        // Every partition's files made durable by one sync, not two fsyncs per partition.
        match crate::log::files::with_one_sync(&self.log_dir, || self.flush_all()) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!("cannot sync the log dir at shutdown: {e}");
                return;
            }
        }
        if let Err(e) = write_clean_shutdown(&self.log_dir) {
            tracing::warn!("cannot write the clean shutdown marker: {e}");
        }
    }
}

/// `f` over `items` on `threads` threads (the calling one among them), results in order.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let mut all: Vec<(usize, R)> = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut all = work();
        for h in helpers {
            match h.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(dir: &Path) -> Arc<Config> {
        let (c, _) =
            Config::from_sources(None, Vec::new(), &[format!("log.dirs={}", dir.display())])
                .unwrap();
        Arc::new(c)
    }

    #[test]
    fn parallel_map_keeps_the_order() {
        let items: Vec<u32> = (0..1000).collect();
        for threads in [1, 2, 7] {
            let out = parallel_map(&items, threads, |i| i * 2);
            assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
        assert!(parallel_map(&[] as &[u32], 4, |i| *i).is_empty());
    }

    #[test]
    fn topic_names_follow_kafka() {
        assert!(validate_topic_name("orders.v1_a-b").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("bad topic!").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
        assert!(validate_topic_name(&"x".repeat(249)).is_ok());
    }

    #[test]
    fn topics_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let reg = TopicRegistry::open(b.clone(), 0).unwrap();
        let mut cfg = BTreeMap::new();
        cfg.insert("retention.ms".to_string(), "1000".to_string());
        let t = reg.create("events", 3, 1, cfg, 0).unwrap();
        let id = t.id;
        assert!(matches!(
            reg.create("events", 1, 1, BTreeMap::new(), 0),
            Err(TopicError::AlreadyExists(_))
        ));
        reg.add_partitions("events", 5, false, 0).unwrap();
        drop(reg);
        let reg = TopicRegistry::open(b, 0).unwrap();
        let t = reg.get("events").unwrap();
        assert_eq!(t.id, id);
        assert_eq!(t.partition_count(), 5);
        assert_eq!(t.configs.read().get("retention.ms").unwrap(), "1000");
        assert_eq!(reg.get_by_id(id).unwrap().name, "events");
        assert_eq!(
            fs::read_to_string(dir.path().join("events-4/partition.metadata"))
                .unwrap()
                .lines()
                .next(),
            Some("version: 0")
        );
    }

    #[test]
    fn a_deleted_topic_never_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let reg = TopicRegistry::open(b.clone(), 0).unwrap();
        let id = reg.create("gone", 2, 1, BTreeMap::new(), 0).unwrap().id;
        reg.create("kept", 1, 1, BTreeMap::new(), 0).unwrap();
        reg.delete("gone").unwrap();
        let names = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.contains('-'))
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(dir.path()), ["kept-0"]);
        // A removal that did not finish (the broker stopped first): renamed, then left.
        let doomed = dir.path().join(format!("gone-1.{}-delete", id.simple()));
        fs::create_dir(&doomed).unwrap();
        fs::write(doomed.join("00000000000000000000.log"), b"x").unwrap();
        // A retry finds nothing to do while nothing failed.
        reg.retry_deletes();
        drop(reg);
        let reg = TopicRegistry::open(b, 0).unwrap();
        assert!(reg.get("gone").is_none());
        assert_eq!(names(dir.path()), ["kept-0"]);
        // The same name makes a new topic.
        let again = reg.create("gone", 1, 1, BTreeMap::new(), 0).unwrap();
        assert_ne!(again.id, id);
        assert_eq!(names(dir.path()), ["gone-0", "kept-0"]);
    }

    #[test]
    fn a_topic_that_cannot_be_created_leaves_no_directory() {
        let dir = tempfile::tempdir().unwrap();
        let b = broker(dir.path());
        let reg = TopicRegistry::open(b.clone(), 0).unwrap();
        // Partition 1's directory cannot be made (a file is in the way).
        fs::write(dir.path().join("half-1"), b"").unwrap();
        assert!(reg.create("half", 3, 1, BTreeMap::new(), 0).is_err());
        assert!(!dir.path().join("half-0").exists());
        assert!(reg.get("half").is_none());
        fs::remove_file(dir.path().join("half-1")).unwrap();
        drop(reg);
        let reg = TopicRegistry::open(b, 0).unwrap();
        assert!(reg.get("half").is_none());
        reg.create("half", 3, 1, BTreeMap::new(), 0).unwrap();
    }

    #[test]
    fn a_topic_created_on_a_full_disk_is_all_or_nothing() {
        let Some(tmpfs) = crate::log::test_util::Tmpfs::mount("size=256k") else {
            return;
        };
        let data = tmpfs.path().join("data");
        let b = broker(&data);
        let reg = TopicRegistry::open(b.clone(), 0).unwrap();
        let filler = tmpfs.path().join("filler");
        let mut f = fs::File::create(&filler).unwrap();
        while std::io::Write::write_all(&mut f, &[0u8; 4096]).is_ok() {}
        drop(f);
        let mut cfg = BTreeMap::new();
        cfg.insert("cleanup.policy".to_string(), "compact".to_string());
        assert!(reg.create("full", 2, 1, cfg.clone(), 0).is_err());
        assert!(reg.get("full").is_none());
        assert!(!data.join("full-0").exists() && !data.join("full-1").exists());
        // A restart on the full disk starts, without the topic.
        drop(reg);
        let reg = TopicRegistry::open(b.clone(), 0).unwrap();
        assert!(reg.get("full").is_none());
        fs::remove_file(&filler).unwrap();
        reg.create("full", 2, 1, cfg, 0).unwrap();
        drop(reg);
        let reg = TopicRegistry::open(b, 0).unwrap();
        let t = reg.get("full").unwrap();
        assert_eq!(t.configs.read().get("cleanup.policy").unwrap(), "compact");
    }

    #[test]
    fn delete_removes_data() {
        let dir = tempfile::tempdir().unwrap();
        let reg = TopicRegistry::open(broker(dir.path()), 0).unwrap();
        reg.create("gone", 2, 1, BTreeMap::new(), 0).unwrap();
        assert!(dir.path().join("gone-1").exists());
        reg.delete("gone").unwrap();
        assert!(!dir.path().join("gone-0").exists());
        assert!(reg.get("gone").is_none());
        assert!(matches!(reg.delete("gone"), Err(TopicError::UnknownTopic)));
    }

    #[test]
    fn remove_partition_drops_one_partition_and_the_topic_with_its_last() {
        let dir = tempfile::tempdir().unwrap();
        let reg = TopicRegistry::open(broker(dir.path()), 0).unwrap();
        let id = reg.create("moving", 2, 1, BTreeMap::new(), 0).unwrap().id;
        // Another incarnation of the topic (another id) is not touched.
        assert!(matches!(
            reg.remove_partition("moving", Uuid::new_v4(), 0),
            Err(TopicError::UnknownTopic)
        ));
        assert!(dir.path().join("moving-0").exists());
        reg.remove_partition("moving", id, 0).unwrap();
        assert!(!dir.path().join("moving-0").exists());
        assert!(dir.path().join("moving-1").exists());
        let t = reg.get("moving").unwrap();
        assert!(t.partition(0).is_none() && t.partition(1).is_some());
        assert!(matches!(
            reg.remove_partition("moving", id, 0),
            Err(TopicError::UnknownTopic)
        ));
        reg.remove_partition("moving", id, 1).unwrap();
        assert!(reg.get("moving").is_none() && reg.get_by_id(id).is_none());
        assert!(!dir.path().join("moving-1").exists());
    }

    #[test]
    fn create_validates() {
        let dir = tempfile::tempdir().unwrap();
        let reg = TopicRegistry::open(broker(dir.path()), 0).unwrap();
        let none = BTreeMap::new();
        assert!(matches!(
            reg.create("t", 0, 1, none.clone(), 0),
            Err(TopicError::InvalidPartitions(_))
        ));
        assert!(matches!(
            reg.create("t", 1, 3, none.clone(), 0),
            Err(TopicError::InvalidReplicationFactor(_))
        ));
        let mut bad = BTreeMap::new();
        bad.insert("cleanup.policy".to_string(), "sometimes".to_string());
        assert!(matches!(
            reg.create("t", 1, 1, bad, 0),
            Err(TopicError::InvalidConfig(_))
        ));
        let mut unknown = BTreeMap::new();
        unknown.insert("no.such.key".to_string(), "1".to_string());
        assert!(matches!(
            reg.create("t", 1, 1, unknown, 0),
            Err(TopicError::InvalidConfig(_))
        ));
        assert!(reg.get("t").is_none());
    }
}
