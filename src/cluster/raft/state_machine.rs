//! The metadata quorum's state machine: committed entries are applied to the in-memory
//! [`Image`]; durability comes from the Raft log plus snapshot files (`<index>-<term>.checkpoint`
//! in `__cluster_metadata-0/`). At start-up the newest snapshot is loaded before Raft starts, and
//! openraft re-applies the committed log after it.
//!
//! **Owns:** the image behind its lock, the applied position, the current snapshot, and the
//! `watch` channel that tells the broker the image moved.
//!
//! **Must never:** hold the image lock across an await, or decide anything: `Image::apply` is
//! deterministic.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use super::snapshot_files::SnapshotFiles;
use super::types::{LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use crate::cluster::image::Image;
use crate::cluster::records::{MetaRecord, MetaResponse};

/// What the state machine and its handles share.
pub struct Shared {
    pub image: RwLock<Image>,
    applied: Mutex<(Option<LogId>, StoredMembership)>,
    current: Mutex<Option<(SnapshotMeta, Vec<u8>)>>,
    /// The last applied log index; bumped after every applied batch and installed snapshot.
    changed: watch::Sender<u64>,
}

impl Shared {
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn applied_index(&self) -> u64 {
        *self.changed.borrow()
    }

    /// The image of a broker-only node (no Raft): filled from the controller's log.
    pub fn observer() -> Arc<Shared> {
        let (changed, _) = watch::channel(0);
        Arc::new(Shared {
            image: RwLock::new(Image::default()),
            applied: Mutex::new(Default::default()),
            current: Mutex::new(None),
            changed,
        })
    }

    /// The image and the log index it reflects, read together.
    pub fn snapshot(&self) -> (u64, Image) {
        let image = self.image.read();
        let index = self.applied.lock().0.map(|l| l.index).unwrap_or(0);
        (index, image.clone())
    }

    /// A broker-only node replays records it fetched from the controller (`last`: the index
    /// they bring it to, which may pass entries that carry no record).
    pub fn apply_fetched(&self, records: &[(u64, MetaRecord)], last: u64) {
        if !records.is_empty() {
            let mut image = self.image.write();
            for (index, record) in records {
                image.apply(*index, record);
            }
        }
        if last > self.applied_index() {
            self.changed.send_replace(last);
        }
    }

    /// A broker-only node starts over from the controller's image at `index` (never going
    /// back to an older one).
    pub fn install_image(&self, index: u64, mut image: Image) {
        if index < self.applied_index() {
            return;
        }
        image.reindex();
        *self.image.write() = image;
        self.changed.send_replace(index);
    }
}

#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
    files: Arc<SnapshotFiles>,
}

impl StateMachine {
    /// Load the newest snapshot from `dir`, if any, into a fresh image.
    pub fn open(dir: &Path) -> std::io::Result<StateMachine> {
        let files = SnapshotFiles::open(dir)?;
        let (image, applied, current) = match files.load_latest::<SnapshotMeta>()? {
            Some((meta, data)) => {
                let mut image: Image = serde_json::from_slice(&data).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "metadata snapshot {} in {}: {e}",
                            meta.snapshot_id,
                            dir.display()
                        ),
                    )
                })?;
                image.reindex();
                let applied = (meta.last_log_id, meta.last_membership.clone());
                (image, applied, Some((meta, data)))
            }
            None => (Image::default(), Default::default(), None),
        };
        let index = applied.0.map(|l| l.index).unwrap_or(0);
        let (changed, _) = watch::channel(index);
        Ok(StateMachine {
            shared: Arc::new(Shared {
                image: RwLock::new(image),
                applied: Mutex::new(applied),
                current: Mutex::new(current),
                changed,
            }),
            files: Arc::new(files),
        })
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    fn snapshot_of(meta: SnapshotMeta, data: Vec<u8>) -> Snapshot {
        Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let (data, meta) = {
            let image = self.shared.image.read();
            let (last, membership) = self.shared.applied.lock().clone();
            let data =
                serde_json::to_vec(&*image).map_err(|e| StorageIOError::read_state_machine(&e))?;
            let id = last
                .map(|l| format!("{}-{}", l.index, l.leader_id.term))
                .unwrap_or_else(|| "0-0".into());
            let meta = SnapshotMeta {
                last_log_id: last,
                last_membership: membership,
                snapshot_id: id,
            };
            (data, meta)
        };
        let (index, term) = meta
            .last_log_id
            .map(|l| (l.index, l.leader_id.term))
            .unwrap_or((0, 0));
        self.files
            .save(&meta, index, term, &data)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        {
            // A snapshot installed meanwhile may be newer than this build: keep the newer.
            let mut current = self.shared.current.lock();
            let newer = current
                .as_ref()
                .is_none_or(|(m, _)| m.last_log_id <= meta.last_log_id);
            if newer {
                *current = Some((meta.clone(), data.clone()));
            }
        }
        Ok(Self::snapshot_of(meta, data))
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok(self.shared.applied.lock().clone())
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<MetaResponse>, StorageError>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        let mut last = None;
        {
            let mut image = self.shared.image.write();
            let mut applied = self.shared.applied.lock();
            for entry in entries {
                applied.0 = Some(entry.log_id);
                last = Some(entry.log_id.index);
                let response = match &entry.payload {
                    EntryPayload::Blank => MetaResponse::Applied,
                    EntryPayload::Normal(record) => {
                        let r = image.apply(entry.log_id.index, record);
                        if let MetaResponse::Rejected(why) = &r {
                            tracing::debug!(
                                index = entry.log_id.index,
                                "metadata record rejected: {why}"
                            );
                        }
                        r
                    }
                    EntryPayload::Membership(m) => {
                        applied.1 = StoredMembership::new(Some(entry.log_id), m.clone());
                        MetaResponse::Applied
                    }
                };
                out.push(response);
            }
        }
        if let Some(index) = last {
            self.shared.changed.send_replace(index);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let mut image: Image = serde_json::from_slice(&data)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        image.reindex();
        let (index, term) = meta
            .last_log_id
            .map(|l| (l.index, l.leader_id.term))
            .unwrap_or((0, 0));
        self.files
            .save(meta, index, term, &data)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        *self.shared.image.write() = image;
        *self.shared.applied.lock() = (meta.last_log_id, meta.last_membership.clone());
        *self.shared.current.lock() = Some((meta.clone(), data));
        self.shared.changed.send_replace(index);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        Ok(self
            .shared
            .current
            .lock()
            .clone()
            .map(|(meta, data)| Self::snapshot_of(meta, data)))
    }
}
