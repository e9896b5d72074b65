//! The names of the files in a partition directory, and the small filesystem steps every
//! storage part shares.
//!
//! A partition directory is `<log.dirs>/<topic>-<partition>/`. A segment is three files named by
//! its base offset, 20 digits zero-padded: `<base>.log`, `<base>.index`, `<base>.timeindex`.
//! During a compaction the same names carry a `.cleaned` or `.swap` suffix (see
//! [`super::recovery`]). Other files in the directory belong to the layers above
//! (`partition.metadata`, `transactions.index`, ...) or to [`super::checkpoint`].

use std::cell::Cell;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// A byte range of a segment file holding whole batches: what a fetch sends.
/// Holding the `Arc<File>` keeps the data readable after the partition lock is
/// released, even if the segment is deleted meanwhile.
#[derive(Clone, Debug)]
pub struct FileSlice {
    pub file: Arc<File>,
    pub position: u64,
    pub len: u64,
    /// The segment's CRC-checked prefix (bytes), shared with it: a read checks what lies past
    /// it once ([`super::verify::verify_slices`]). None: not checked on read.
    pub verified: Option<Arc<AtomicU64>>,
}

impl FileSlice {
    /// Copy the range into `buf` (exactly `len` bytes).
    pub fn read_into(&self, buf: &mut [u8], offset_in_slice: u64) -> io::Result<()> {
        self.file
            .read_exact_at(buf, self.position + offset_in_slice)
    }

    pub fn read(&self) -> io::Result<Vec<u8>> {
        let mut v = vec![0u8; self.len as usize];
        self.read_into(&mut v, 0)?;
        Ok(v)
    }
}

/// Where a segment's file lives, without a path of its own: the partition directory (one
/// allocation, shared by all its files) and the parts of the name. A partition holds several
/// of these, and 100,000 idle partitions notice the bytes of full paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentPath {
    pub dir: Arc<Path>,
    pub base: i64,
    /// `.log`, `.index` or `.timeindex`.
    pub suffix: &'static str,
    /// `""`, or [`CLEANED`] / [`SWAP`] during a compaction.
    pub extra: &'static str,
}

impl SegmentPath {
    pub fn new(dir: &Arc<Path>, base: i64, suffix: &'static str) -> SegmentPath {
        SegmentPath {
            dir: dir.clone(),
            base,
            suffix,
            extra: "",
        }
    }

    pub fn path(&self) -> PathBuf {
        segment_path(&self.dir, self.base, self.suffix, self.extra)
    }
}

/// Suffix of a compacted segment's files while they are being built.
pub const CLEANED: &str = ".cleaned";
/// Suffix of a compacted segment's files between commit and install.
pub const SWAP: &str = ".swap";
/// The three files of a segment.
pub const SEGMENT_SUFFIXES: [&str; 3] = [".log", ".index", ".timeindex"];

/// `<log_dir>/<topic>-<partition>`, Kafka's partition directory naming.
pub fn partition_dir(log_dir: &Path, topic: &str, partition: i32) -> PathBuf {
    log_dir.join(format!("{topic}-{partition}"))
}

/// File name of a segment file: 20-digit zero-padded base offset plus `suffix` (e.g. ".log").
pub fn segment_file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

/// `dir/<base><suffix><extra>`, e.g. `00000000000000000042.index.swap`.
pub fn segment_path(dir: &Path, base: i64, suffix: &str, extra: &str) -> PathBuf {
    dir.join(format!("{}{extra}", segment_file_name(base, suffix)))
}

/// `00000000000000000042.log` → `(42, ".log")` for the three segment file kinds.
pub fn parse_segment_file_name(name: &str) -> Option<(i64, &str)> {
    if name.len() <= 20 || !name.is_char_boundary(20) {
        return None;
    }
    let (digits, suffix) = name.split_at(20);
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !SEGMENT_SUFFIXES.contains(&suffix) {
        return None;
    }
    let base = i64::try_from(digits.parse::<u64>().ok()?).ok()?;
    Some((base, suffix))
}

thread_local! {
    /// Inside [`with_one_sync`] on this thread: fsyncs are left to its final `syncfs`.
    static DEFERRED: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread's fsyncs are deferred to an enclosing [`with_one_sync`].
pub fn syncs_deferred() -> bool {
    DEFERRED.with(Cell::get)
}

/// Run `f` (synchronous storage work: creating many partitions, flushing them all at a
/// shutdown) with the storage engine's fsyncs left out, then make everything it wrote durable
/// with one `syncfs(2)` of `dir`'s filesystem: one flush instead of several fsyncs per
/// partition, each of which waits for the disk. The price: the `syncfs` also writes back
/// other dirty data of that filesystem, which the kernel would have written within seconds
/// anyway. Nested calls sync once, at the outermost. `Err`: the final sync failed (`f` ran).
pub fn with_one_sync<T>(dir: &Path, f: impl FnOnce() -> T) -> io::Result<T> {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEFERRED.with(|d| d.set(self.0));
        }
    }
    let outer = !DEFERRED.with(|d| d.replace(true));
    let out = {
        let _restore = Restore(!outer);
        f()
    };
    if outer {
        let d = File::open(dir)?;
        rustix::fs::syncfs(&d)?;
    }
    Ok(out)
}

/// `fdatasync`, unless deferred to a [`with_one_sync`].
pub fn sync_data(f: &File) -> io::Result<()> {
    if syncs_deferred() {
        return Ok(());
    }
    f.sync_data()
}

/// `fsync`, unless deferred to a [`with_one_sync`].
pub fn sync_all(f: &File) -> io::Result<()> {
    if syncs_deferred() {
        return Ok(());
    }
    f.sync_all()
}

/// fsync a directory so new/removed file names are durable (best effort: some filesystems
/// refuse). Deferred inside a [`with_one_sync`].
pub fn sync_dir(dir: &Path) {
    if syncs_deferred() {
        return;
    }
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "directory fsync failed");
    }
}

/// Delete a file; a missing one is not an error.
pub fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
