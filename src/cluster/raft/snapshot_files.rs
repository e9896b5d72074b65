//! Snapshot files of the metadata quorum: the state machine's durable checkpoints in
//! `<log.dirs>/__cluster_metadata-0/` (Kafka names its metadata snapshots
//! `<offset>-<epoch>.checkpoint` too).
//!
//! **Owns:** the files named `<20-digit last index>-<10-digit term>.checkpoint` in its
//! directory, and their `.checkpoint.tmp` forms while being written. The Raft log's files in
//! the same directory belong to [`super::store`].
//!
//! **Format** of a checkpoint (all integers big-endian):
//! `[u32 crc32c of everything after it][u32 meta length][meta: JSON][data: to the end]`.
//! The meta is whatever the caller passes (openraft's `SnapshotMeta` for the state machine);
//! the data is opaque bytes.
//!
//! [`SnapshotFiles::save`] writes `<name>.tmp`, fsyncs it, renames it to `<name>`, fsyncs the
//! directory, and only then deletes every other checkpoint: the file just saved is the current
//! snapshot (openraft: "all other snapshots should be deleted"). A crash leaves either the old
//! or the new checkpoint complete, plus maybe a `.tmp` that [`SnapshotFiles::load_latest`]
//! deletes. `load_latest` returns the newest checkpoint (highest index, then term) that reads
//! back whole; one that does not (bad CRC, short, meta that does not decode) is skipped with a
//! warning and left in place, and the next older one is tried.
//!
//! **Must never:** expose a checkpoint under its final name before its bytes are fsynced;
//! delete the previous checkpoint before the new one is durable; panic on bad file contents;
//! touch files it does not own.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::log::files::sync_dir;

/// Suffix of a checkpoint file.
pub const CHECKPOINT_SUFFIX: &str = ".checkpoint";
/// Extra suffix of a checkpoint being written.
const TMP: &str = ".tmp";
/// Bytes before the meta: CRC and meta length.
const HEADER: usize = 8;

/// The snapshot files of one directory.
#[derive(Clone, Debug)]
pub struct SnapshotFiles {
    dir: PathBuf,
}

impl SnapshotFiles {
    /// Snapshot files in `dir`, which is created if missing.
    pub fn open(dir: &Path) -> io::Result<SnapshotFiles> {
        super::store::create_dir_durably(dir)?;
        Ok(SnapshotFiles {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// File name of the checkpoint of `last_index` written in `term`.
    pub fn file_name(last_index: u64, term: u64) -> String {
        format!("{last_index:020}-{term:010}{CHECKPOINT_SUFFIX}")
    }

    /// Durably write the checkpoint of `last_index`/`term` with `meta` and `data`, then delete
    /// every other checkpoint (see the module docs). Blocking.
    pub fn save<M: Serialize>(
        &self,
        meta: &M,
        last_index: u64,
        term: u64,
        data: &[u8],
    ) -> io::Result<()> {
        let meta = serde_json::to_vec(meta).map_err(io::Error::other)?;
        let meta_len = u32::try_from(meta.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "snapshot meta is too large")
        })?;
        let mut crc = crc32c::crc32c(&meta_len.to_be_bytes());
        crc = crc32c::crc32c_append(crc, &meta);
        crc = crc32c::crc32c_append(crc, data);

        let name = Self::file_name(last_index, term);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!("{name}{TMP}"));
        let written = (|| -> io::Result<()> {
            let mut w = BufWriter::new(File::create(&tmp)?);
            w.write_all(&crc.to_be_bytes())?;
            w.write_all(&meta_len.to_be_bytes())?;
            w.write_all(&meta)?;
            w.write_all(data)?;
            let f = w.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        sync_dir(&self.dir);

        // The new checkpoint is durable: failing to clean up is only logged.
        let others = self.list().unwrap_or_else(|e| {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot list old metadata snapshots");
            Vec::new()
        });
        // Only older ones: a build of an older state can finish after a newer snapshot was
        // installed (openraft runs them concurrently), and must not delete it.
        for (index, other_term, other) in others {
            if other != name && (index, other_term) < (last_index, term) {
                let p = self.dir.join(&other);
                match fs::remove_file(&p) {
                    Ok(()) => {
                        tracing::debug!(file = %p.display(), "deleted an old metadata snapshot")
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(file = %p.display(), error = %e, "cannot delete an old metadata snapshot")
                    }
                }
            }
        }
        sync_dir(&self.dir);
        Ok(())
    }

    /// The newest checkpoint that reads back whole, as `(meta, data)`; None if there is none.
    /// Deletes leftover `.checkpoint.tmp` files. Blocking.
    pub fn load_latest<M: DeserializeOwned>(&self) -> io::Result<Option<(M, Vec<u8>)>> {
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if name
                .strip_suffix(TMP)
                .is_some_and(|n| parse_file_name(n).is_some())
            {
                let p = self.dir.join(name);
                match fs::remove_file(&p) {
                    Ok(()) => {
                        tracing::info!(file = %p.display(), "removed a half-written metadata snapshot")
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let mut files = self.list()?;
        files.sort_unstable_by_key(|f| std::cmp::Reverse((f.0, f.1)));
        for (_, _, name) in files {
            let path = self.dir.join(&name);
            match read_checkpoint(&path) {
                Ok(found) => return Ok(Some(found)),
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    tracing::warn!(file = %path.display(), error = %e, "skipping an unreadable metadata snapshot");
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// `(last index, term, file name)` of every checkpoint in the directory.
    fn list(&self) -> io::Result<Vec<(u64, u64, String)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            if let Some(name) = name.to_str()
                && let Some((index, term)) = parse_file_name(name)
            {
                out.push((index, term, name.to_string()));
            }
        }
        Ok(out)
    }
}

/// `00000000000000000042-0000000003.checkpoint` → `(42, 3)`.
fn parse_file_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(CHECKPOINT_SUFFIX)?;
    let (index, term) = stem.split_once('-')?;
    // At least 20 and 10 digits: a term above 9999999999 just makes the name longer.
    let digits = |s: &str, n: usize| s.len() >= n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(index, 20) || !digits(term, 10) {
        return None;
    }
    Some((index.parse().ok()?, term.parse().ok()?))
}

/// Read and check one checkpoint; `InvalidData` if it is damaged.
fn read_checkpoint<M: DeserializeOwned>(path: &Path) -> io::Result<(M, Vec<u8>)> {
    let mut bytes = fs::read(path)?;
    let bad = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {what}", path.display()),
        )
    };
    if bytes.len() < HEADER {
        return Err(bad("shorter than its header"));
    }
    let crc = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if crc32c::crc32c(&bytes[4..]) != crc {
        return Err(bad("CRC mismatch"));
    }
    let meta_len = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let Some(meta) = bytes.get(HEADER..HEADER.saturating_add(meta_len)) else {
        return Err(bad("meta length beyond the end of the file"));
    };
    let meta: M =
        serde_json::from_slice(meta).map_err(|e| bad(&format!("meta does not decode: {e}")))?;
    let data = bytes.split_off(HEADER + meta_len);
    Ok((meta, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Meta {
        id: String,
        last: u64,
    }

    fn meta(id: &str, last: u64) -> Meta {
        Meta {
            id: id.into(),
            last,
        }
    }

    fn checkpoints(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn empty_dir_has_no_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(dir.path()).unwrap();
        assert!(files.load_latest::<Meta>().unwrap().is_none());
    }

    #[test]
    fn save_two_newest_loaded_older_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(dir.path()).unwrap();
        files.save(&meta("a", 10), 10, 1, b"first").unwrap();
        files.save(&meta("b", 25), 25, 2, b"second").unwrap();
        assert_eq!(
            checkpoints(dir.path()),
            vec!["00000000000000000025-0000000002.checkpoint".to_string()]
        );
        let (m, data) = files.load_latest::<Meta>().unwrap().unwrap();
        assert_eq!(m, meta("b", 25));
        assert_eq!(data, b"second");

        // A fresh handle on the same directory (a restart) sees the same.
        let again = SnapshotFiles::open(dir.path()).unwrap();
        assert_eq!(again.load_latest::<Meta>().unwrap().unwrap().1, b"second");
    }

    #[test]
    fn empty_data_and_same_name_resave() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(dir.path()).unwrap();
        files.save(&meta("a", 7), 7, 1, b"").unwrap();
        assert_eq!(
            files.load_latest::<Meta>().unwrap().unwrap(),
            (meta("a", 7), vec![])
        );
        files.save(&meta("b", 7), 7, 1, b"x").unwrap();
        assert_eq!(checkpoints(dir.path()).len(), 1);
        assert_eq!(
            files.load_latest::<Meta>().unwrap().unwrap(),
            (meta("b", 7), b"x".to_vec())
        );
    }

    #[test]
    fn corrupt_newest_falls_back_to_older() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(dir.path()).unwrap();
        files.save(&meta("a", 10), 10, 1, b"older").unwrap();
        // An older checkpoint kept by hand (save deletes them) next to a damaged newer one.
        let older = fs::read(dir.path().join(SnapshotFiles::file_name(10, 1))).unwrap();
        files.save(&meta("b", 20), 20, 1, b"newer").unwrap();
        fs::write(dir.path().join(SnapshotFiles::file_name(10, 1)), &older).unwrap();
        let newest = dir.path().join(SnapshotFiles::file_name(20, 1));
        let mut bytes = fs::read(&newest).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&newest, &bytes).unwrap();

        let (m, data) = files.load_latest::<Meta>().unwrap().unwrap();
        assert_eq!((m, data), (meta("a", 10), b"older".to_vec()));
        assert!(
            newest.exists(),
            "a damaged checkpoint is left for inspection"
        );
    }

    #[test]
    fn corrupt_only_snapshot_gives_none() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(dir.path()).unwrap();
        files.save(&meta("a", 10), 10, 1, b"data").unwrap();
        let path = dir.path().join(SnapshotFiles::file_name(10, 1));
        let full = fs::read(&path).unwrap();
        // Cut short, header only, empty, and a meta length pointing past the end.
        let mut bad_len = full.clone();
        bad_len[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let crc = crc32c::crc32c(&bad_len[4..]);
        bad_len[0..4].copy_from_slice(&crc.to_be_bytes());
        for damaged in [
            full[..full.len() - 2].to_vec(),
            full[..8].to_vec(),
            vec![],
            bad_len,
        ] {
            fs::write(&path, &damaged).unwrap();
            assert!(files.load_latest::<Meta>().unwrap().is_none());
        }
        // Meta with a good CRC but of another type.
        files.save(&"just a string", 10, 1, b"data").unwrap();
        assert!(files.load_latest::<Meta>().unwrap().is_none());
    }

    #[test]
    fn leftover_tmp_ignored_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(dir.path()).unwrap();
        files.save(&meta("a", 5), 5, 1, b"good").unwrap();
        let tmp = dir
            .path()
            .join(format!("{}.tmp", SnapshotFiles::file_name(9, 2)));
        fs::write(&tmp, b"half-writ").unwrap();
        let other = dir.path().join("quorum-state.tmp");
        fs::write(&other, b"{}").unwrap();

        let (m, data) = files.load_latest::<Meta>().unwrap().unwrap();
        assert_eq!((m, data), (meta("a", 5), b"good".to_vec()));
        assert!(!tmp.exists(), "the half-written checkpoint is deleted");
        assert!(other.exists(), "files of others are left alone");
    }

    #[test]
    fn file_names_parse_and_sort() {
        assert_eq!(
            SnapshotFiles::file_name(42, 3),
            "00000000000000000042-0000000003.checkpoint"
        );
        assert_eq!(
            parse_file_name("00000000000000000042-0000000003.checkpoint"),
            Some((42, 3))
        );
        assert_eq!(parse_file_name("42-3.checkpoint"), None);
        let long_term = SnapshotFiles::file_name(1, 12_345_678_901);
        assert_eq!(parse_file_name(&long_term), Some((1, 12_345_678_901)));
        assert_eq!(
            parse_file_name("00000000000000000042-0000000003.checkpoint.tmp"),
            None
        );
        assert_eq!(parse_file_name("00000000000000000000.log"), None);
    }
}
