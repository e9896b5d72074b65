//! A bound on the segment files held open (`fjord.log.max.open.files`).
//!
//! Kafka keeps every segment's files open, so a broker with many partitions needs a huge
//! descriptor limit. fjord opens a segment's `.log` file when it is used and lets this cache
//! close the least recently used ones once more than the cap are open (a CLOCK sweep: each use
//! sets a bit, the sweep spares a file whose bit is set once and clears it). The index files
//! hold no descriptor at all ([`super::index`]). A [`FileSlice`](super::FileSlice) handed to a
//! fetch keeps its own `Arc<File>`, so a file closed by the cache stays readable until the
//! fetch is written; the cap can be passed by that many, briefly.
//!
//! Writes to a segment use `O_APPEND` and reads are positioned, so a reopened file behaves as
//! the one that was closed; an fsync through a new descriptor flushes what was written through
//! the old one.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;

use super::files::SegmentPath;

/// The cache of open segment files. One per process ([`OpenFiles::shared`]), or one per test.
pub struct OpenFiles {
    cap: AtomicUsize,
    /// Files this cache has opened, in CLOCK order. Entries of dropped or closed files are
    /// removed when the sweep reaches them.
    ring: Mutex<VecDeque<Weak<Slot>>>,
    /// Files open now (counted once each).
    open: AtomicUsize,
}

impl fmt::Debug for OpenFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenFiles")
            .field("cap", &self.cap())
            .field("open", &self.open())
            .finish()
    }
}

/// Two caches are the same setting only if they are the same cache.
impl PartialEq for OpenFiles {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}
impl Eq for OpenFiles {}

/// The cap of the process's cache until [`OpenFiles::set_cap`]: no bound in practice.
const UNBOUNDED: usize = usize::MAX / 2;

impl OpenFiles {
    pub fn new(cap: usize) -> Arc<OpenFiles> {
        Arc::new(OpenFiles {
            cap: AtomicUsize::new(cap.max(1)),
            ring: Mutex::new(VecDeque::new()),
            open: AtomicUsize::new(0),
        })
    }

    /// The process's cache, which every log uses unless given another; unbounded until the
    /// broker sets its cap at start-up.
    pub fn shared() -> Arc<OpenFiles> {
        static SHARED: OnceLock<Arc<OpenFiles>> = OnceLock::new();
        SHARED.get_or_init(|| OpenFiles::new(UNBOUNDED)).clone()
    }

    pub fn set_cap(&self, cap: usize) {
        self.cap.store(cap.max(1), Ordering::Relaxed);
        self.shrink(None);
    }

    pub fn cap(&self) -> usize {
        self.cap.load(Ordering::Relaxed)
    }

    /// Segment files open now through this cache.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Record a file just opened, then close others until at most the cap are open (sparing
    /// `fresh`, the one just opened, and files in use at this instant).
    fn admit(&self, fresh: &Arc<Slot>) {
        self.open.fetch_add(1, Ordering::Relaxed);
        self.ring.lock().push_back(Arc::downgrade(fresh));
        self.shrink(Some(fresh));
    }

    fn shrink(&self, spare: Option<&Arc<Slot>>) {
        let mut ring = self.ring.lock();
        // Two turns of the clock: the first may only clear use bits.
        let mut budget = ring.len() * 2;
        while self.open() > self.cap() && budget > 0 {
            budget -= 1;
            let Some(weak) = ring.pop_front() else { break };
            let Some(slot) = weak.upgrade() else { continue };
            if spare.is_some_and(|s| Arc::ptr_eq(s, &slot))
                || slot.used.swap(false, Ordering::Relaxed)
            {
                ring.push_back(weak);
                continue;
            }
            // Never wait here: a file whose lock is taken is in use; try it next turn.
            let Some(mut file) = slot.file.try_lock() else {
                ring.push_back(weak);
                continue;
            };
            if file.take().is_some() {
                self.open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

struct Slot {
    file: Mutex<Option<Arc<File>>>,
    used: AtomicBool,
    cache: Arc<OpenFiles>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.file.get_mut().is_some() {
            self.cache.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A segment's `.log` file: opened (read + append) when used, possibly closed by its cache in
/// between.
pub struct SegmentFile {
    path: SegmentPath,
    slot: Arc<Slot>,
}

impl fmt::Debug for SegmentFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentFile")
            .field("path", &self.path)
            .field("open", &self.slot.file.lock().is_some())
            .finish()
    }
}

fn open_options(create_new: bool) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(true).append(true).create_new(create_new);
    o
}

impl SegmentFile {
    /// Open an existing file (`create_new`: create it, failing if it exists) and admit it.
    pub fn open(
        path: SegmentPath,
        create_new: bool,
        cache: &Arc<OpenFiles>,
    ) -> io::Result<SegmentFile> {
        let file = Arc::new(open_options(create_new).open(path.path())?);
        let slot = Arc::new(Slot {
            file: Mutex::new(Some(file)),
            used: AtomicBool::new(true),
            cache: cache.clone(),
        });
        cache.admit(&slot);
        Ok(SegmentFile { path, slot })
    }

    /// An existing file, not opened until its first use ([`Self::get`]): a partition's
    /// start-up needs only its size.
    pub fn unopened(path: SegmentPath, cache: &Arc<OpenFiles>) -> SegmentFile {
        let slot = Arc::new(Slot {
            file: Mutex::new(None),
            used: AtomicBool::new(false),
            cache: cache.clone(),
        });
        SegmentFile { path, slot }
    }

    /// The open file, reopened if the cache closed it.
    pub fn get(&self) -> io::Result<Arc<File>> {
        let mut file = self.slot.file.lock();
        if let Some(f) = &*file {
            self.slot.used.store(true, Ordering::Relaxed);
            return Ok(f.clone());
        }
        let f = Arc::new(open_options(false).open(self.path.path())?);
        *file = Some(f.clone());
        drop(file);
        self.slot.used.store(true, Ordering::Relaxed);
        self.slot.cache.admit(&self.slot);
        Ok(f)
    }

    pub fn path(&self) -> PathBuf {
        self.path.path()
    }

    /// Whether the file is open now (tests).
    pub fn is_open(&self) -> bool {
        self.slot.file.lock().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    use std::path::Path;

    fn at(dir: &Path, base: i64) -> SegmentPath {
        SegmentPath::new(&Arc::from(dir), base, ".log")
    }

    fn files(dir: &Path, n: usize, cache: &Arc<OpenFiles>) -> Vec<SegmentFile> {
        (0..n)
            .map(|i| SegmentFile::open(at(dir, i as i64), true, cache).unwrap())
            .collect()
    }

    #[test]
    fn never_more_than_the_cap_are_open() {
        let dir = tempfile::tempdir().unwrap();
        let cache = OpenFiles::new(4);
        let fs = files(dir.path(), 10, &cache);
        assert_eq!(cache.open(), 4);
        assert_eq!(fs.iter().filter(|f| f.is_open()).count(), 4);
        for round in 0..3 {
            for (i, f) in fs.iter().enumerate() {
                (&*f.get().unwrap())
                    .write_all(format!("{round}:{i};").as_bytes())
                    .unwrap();
                assert!(cache.open() <= 4, "{} open", cache.open());
                assert!(f.is_open());
            }
        }
        // Appends through reopened descriptors land at the end, in order.
        for (i, f) in fs.iter().enumerate() {
            let data = std::fs::read(f.path()).unwrap();
            assert_eq!(data, format!("0:{i};1:{i};2:{i};").as_bytes());
            let mut buf = [0u8; 4];
            f.get().unwrap().read_exact_at(&mut buf, 4).unwrap();
            assert_eq!(&buf, format!("1:{i};").as_bytes().get(..4).unwrap());
        }
        drop(fs);
        assert_eq!(cache.open(), 0);
    }

    #[test]
    fn recently_used_files_are_spared() {
        let dir = tempfile::tempdir().unwrap();
        let cache = OpenFiles::new(3);
        let fs = files(dir.path(), 3, &cache);
        // All three were used since opening: the sweep clears their bits, then closes the
        // oldest.
        let x = SegmentFile::open(at(dir.path(), 100), true, &cache).unwrap();
        let open = |fs: &[SegmentFile]| fs.iter().map(SegmentFile::is_open).collect::<Vec<_>>();
        assert_eq!(open(&fs), [false, true, true]);
        assert!(x.is_open());
        // File 1 is used again: the next sweep spares it and closes file 2.
        fs[1].get().unwrap();
        let y = SegmentFile::open(at(dir.path(), 101), true, &cache).unwrap();
        assert_eq!(open(&fs), [false, true, false]);
        assert!(x.is_open() && y.is_open());
        assert_eq!(cache.open(), 3);
        // A closed file reopens on use, and another one is closed for it.
        fs[0].get().unwrap();
        assert!(fs[0].is_open());
        assert_eq!(cache.open(), 3);
    }

    #[test]
    fn a_lower_cap_closes_files_at_once_and_a_held_file_stays_readable() {
        let dir = tempfile::tempdir().unwrap();
        let cache = OpenFiles::new(100);
        let fs = files(dir.path(), 10, &cache);
        (&*fs[0].get().unwrap()).write_all(b"kept").unwrap();
        let held = fs[0].get().unwrap();
        cache.set_cap(2);
        assert_eq!(cache.open(), 2);
        let mut buf = [0u8; 4];
        held.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"kept");
    }
}
