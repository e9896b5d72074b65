//! CRC checks of stored batches when they are read.
//!
//! Data this process appended was validated on the way in, and a recovery walk at open checks
//! the active segment after a crash; everything else (older segments, or the active one after a
//! clean shutdown) is checked the first time a read hands it out, and each segment remembers the
//! prefix it has checked, so the cost is paid once per byte per process start. A batch that no
//! longer matches its CRC (a flipped bit on disk) ends the read before it: the batches before
//! it are served, and a read that starts at it fails with [`LogError::CorruptMessage`] naming
//! the offset, which the caller logs and answers with CORRUPT_MESSAGE (Kafka's brokers leave
//! this to the consumer's CRC check; fjord's never hand a damaged batch out).
//!
//! **Must never:** hold the partition lock (reads happen after it is released), panic on any
//! bytes.

use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;

use super::LogError;
use super::batch::{BatchHeader, HEADER_SIZE, MAGIC_V2, MIN_BATCH_LENGTH, compute_crc};
use super::files::FileSlice;

/// A damaged batch found by [`verify_slices`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The batch's base offset as its header says (the header itself may be damaged).
    pub offset: i64,
    /// Byte position in the segment file.
    pub position: u64,
    pub reason: String,
}

/// Check the batches of `slices` (one read's, in order) that are not known good; on the first
/// damaged one, cut the read just before it. `Ok(None)`: all good; `Ok(Some(damage))`: the read
/// was cut and still holds the batches before it; `Err(CorruptMessage)`: the very first batch
/// is damaged, nothing is left to serve.
pub fn verify_slices(slices: &mut Vec<FileSlice>) -> Result<Option<Damage>, LogError> {
    for i in 0..slices.len() {
        let Some(damage) = verify_slice(&slices[i])? else {
            continue;
        };
        let good = damage.position - slices[i].position;
        slices.truncate(i + 1);
        if good == 0 {
            slices.pop();
        } else {
            slices[i].len = good;
        }
        if slices.is_empty() {
            return Err(LogError::CorruptMessage(format!(
                "batch at offset {} (byte {} of its segment) is damaged: {}",
                damage.offset, damage.position, damage.reason
            )));
        }
        return Ok(Some(damage));
    }
    Ok(None)
}

/// Check one slice's batches past its segment's checked prefix; None if all match.
fn verify_slice(s: &FileSlice) -> Result<Option<Damage>, LogError> {
    let Some(verified) = &s.verified else {
        return Ok(None);
    };
    let end = s.position + s.len;
    let known = verified.load(Ordering::Acquire);
    if end <= known {
        return Ok(None);
    }
    // The checked prefix ends on a batch boundary, and so does the slice's start.
    let extends_prefix = s.position <= known;
    let mut pos = if extends_prefix { known } else { s.position };
    let mut buf = Vec::new();
    while pos < end {
        let mut hdr = [0u8; HEADER_SIZE];
        let damaged = |offset: i64, reason: String| Damage {
            offset,
            position: pos,
            reason,
        };
        if end - pos < HEADER_SIZE as u64 {
            return Ok(Some(damaged(-1, "truncated batch header".into())));
        }
        s.file.read_exact_at(&mut hdr, pos)?;
        let Some(h) = BatchHeader::parse(&hdr) else {
            return Ok(Some(damaged(-1, "unreadable batch header".into())));
        };
        if h.magic != MAGIC_V2 || h.batch_length < MIN_BATCH_LENGTH || pos + h.size() > end {
            return Ok(Some(damaged(
                h.base_offset,
                format!(
                    "batch header out of shape (magic {}, length {})",
                    h.magic, h.batch_length
                ),
            )));
        }
        buf.resize(h.size() as usize, 0);
        s.file.read_exact_at(&mut buf, pos)?;
        let crc = compute_crc(&buf);
        if crc != h.crc {
            return Ok(Some(damaged(
                h.base_offset,
                format!("CRC-32C {crc:#010x} where the header says {:#010x}", h.crc),
            )));
        }
        pos += h.size();
    }
    if extends_prefix {
        verified.fetch_max(end, Ordering::AcqRel);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::test_util::*;
    use crate::log::{LogConfig, PartitionLog};
    use kafka_protocol::records::Compression;
    use std::io::Write;

    fn flip(path: &std::path::Path, at: u64) {
        let mut data = std::fs::read(path).unwrap();
        data[at as usize] ^= 0x10;
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .unwrap()
            .write_all(&data)
            .unwrap();
    }

    #[test]
    fn a_flipped_byte_ends_the_read_before_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), LogConfig::default(), 0).unwrap();
        let mut sizes = Vec::new();
        for i in 0..5 {
            let b = batch_bytes(&[(1, &format!("value-{i}"))], Compression::None);
            sizes.push(b.len() as u64);
            append_payload(&mut log, &b, 0);
        }
        // Appended by this process: known good, nothing is read to check it.
        let mut slices = log.slices_up_to(0, usize::MAX, true, 5).unwrap();
        assert_eq!(verify_slices(&mut slices).unwrap(), None);
        drop(log);
        // Batch 3 is damaged on disk; a clean reopen does not look (as after a clean shutdown).
        let seg = dir.path().join("00000000000000000000.log");
        flip(&seg, sizes[..3].iter().sum::<u64>() + 70);
        let log = PartitionLog::open_with(dir.path(), LogConfig::default(), 0, true).unwrap();
        let mut slices = log.slices_up_to(0, usize::MAX, true, 5).unwrap();
        let damage = verify_slices(&mut slices).unwrap().unwrap();
        assert_eq!(damage.offset, 3);
        assert!(damage.reason.contains("CRC-32C"), "{damage:?}");
        let served: Vec<i64> = decode_values(&slices[0].read().unwrap())
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(served, vec![0, 1, 2]);
        // The good prefix is remembered; a read from the damaged batch fails; past it, serves.
        let mut from_3 = log.slices_up_to(3, usize::MAX, true, 5).unwrap();
        assert!(matches!(
            verify_slices(&mut from_3),
            Err(LogError::CorruptMessage(m)) if m.contains("offset 3")
        ));
        let mut from_4 = log.slices_up_to(4, usize::MAX, true, 5).unwrap();
        assert_eq!(verify_slices(&mut from_4).unwrap(), None);
        assert_eq!(from_4.len(), 1);
    }

    #[test]
    fn a_damaged_header_is_caught_too() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), LogConfig::default(), 0).unwrap();
        let b = batch_bytes(&[(1, "a")], Compression::None);
        append_payload(&mut log, &b, 0);
        append_payload(&mut log, &b, 0);
        let mut slices = log.slices_up_to(0, usize::MAX, true, 2).unwrap();
        // As if the prefix were unknown, and the second batch's length field were garbage.
        let v = slices[0].verified.clone().unwrap();
        v.store(0, Ordering::Release);
        flip(&log.segments()[0].log_path(), b.len() as u64 + 9);
        let damage = verify_slices(&mut slices).unwrap().unwrap();
        assert_eq!(damage.position, b.len() as u64);
        assert_eq!(slices[0].len, b.len() as u64);
    }
}
