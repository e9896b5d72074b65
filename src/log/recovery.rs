//! Start-up recovery of a partition directory from an interrupted compaction.
//!
//! A compaction commits each rewritten segment by renaming its cleaned files to `.swap` names,
//! the `.log` last (the commit point), then moves them to their final names (see
//! [`super::cleaner`]). A crash can stop that anywhere; at open, before any segment is read:
//! every `*.cleaned` file is deleted (an unfinished or uninstalled build); for every `B.log.swap`
//! the swap is completed (its index `.swap` files are moved into place, or, if missing, the old
//! index files are deleted so they are rebuilt from the data); index `.swap` files without a
//! `B.log.swap` are deleted.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use super::LogError;
use super::files::{CLEANED, SWAP, remove_if_exists, segment_path, sync_dir};

/// Resolve leftovers of an interrupted compaction in a partition directory (see the module docs):
/// delete `*.cleaned`, complete committed swaps (`B.log.swap`), delete other `*.swap`. `names`
/// are the directory's entries; true if anything was changed (the listing is stale then).
pub fn recover_leftovers<'a>(
    dir: &Path,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<bool, LogError> {
    let mut swaps = Vec::new();
    let mut touched = false;
    for name in names {
        if name.ends_with(CLEANED) {
            let path = dir.join(name);
            tracing::warn!(file = %path.display(), "deleting leftover of an unfinished compaction");
            remove_if_exists(&path)?;
            touched = true;
        } else if let Some(inner) = name.strip_suffix(SWAP) {
            swaps.push(inner.to_owned());
        }
    }
    let base_of = |inner: &str, sfx: &str| -> Option<i64> {
        let digits = inner.strip_suffix(sfx)?;
        if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        i64::try_from(digits.parse::<u64>().ok()?).ok()
    };
    let committed: HashSet<i64> = swaps.iter().filter_map(|n| base_of(n, ".log")).collect();
    let mut bases: Vec<i64> = committed.iter().copied().collect();
    bases.sort_unstable();
    for base in bases {
        for sfx in [".index", ".timeindex"] {
            let swap = segment_path(dir, base, sfx, SWAP);
            let target = segment_path(dir, base, sfx, "");
            if swap.exists() {
                fs::rename(&swap, &target)?;
            } else {
                remove_if_exists(&target)?;
            }
        }
        fs::rename(
            segment_path(dir, base, ".log", SWAP),
            segment_path(dir, base, ".log", ""),
        )?;
        tracing::warn!(dir = %dir.display(), base_offset = base, "completed interrupted compaction swap");
        touched = true;
    }
    for inner in &swaps {
        let uncommitted = [".index", ".timeindex"]
            .iter()
            .any(|sfx| base_of(inner, sfx).is_some_and(|b| !committed.contains(&b)));
        if uncommitted {
            let p = dir.join(format!("{inner}{SWAP}"));
            tracing::warn!(file = %p.display(), "deleting uncommitted compaction swap file");
            remove_if_exists(&p)?;
            touched = true;
        }
    }
    if touched {
        sync_dir(dir);
    }
    Ok(touched)
}
