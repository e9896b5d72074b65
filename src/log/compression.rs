//! Bounded decompression of a batch's records (codecs 1 gzip, 2 snappy, 3 lz4, 4 zstd).
//!
//! The log stores batches compressed as producers sent them and opens one only where it must
//! look at records: compaction, ListOffsets by timestamp, transaction markers, the keyed-record
//! check of compacted topics and conversion to and from the old message formats. A client
//! controls what a batch inflates to — a few KiB of zstd or gzip can expand to gigabytes — so
//! every decompression here stops at a caller's limit ([`crate::log::LogConfig::max_inflated_batch_bytes`])
//! and says so instead of allocating on ([`InflateError::TooBig`]).
//!
//! **Must never:** allocate more than `limit` bytes of output (plus one read buffer), panic on
//! bad input.

use std::io::Read;

/// Why a batch's records could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflateError {
    /// The output would exceed the limit: nothing more was decompressed.
    TooBig { limit: usize },
    /// Not valid data for its codec, or an unknown codec.
    Corrupt(String),
}

impl std::fmt::Display for InflateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InflateError::TooBig { limit } => write!(f, "records inflate past {limit} bytes"),
            InflateError::Corrupt(why) => write!(f, "cannot decompress: {why}"),
        }
    }
}

/// Decompress `data`, compressed with Kafka codec `codec` (0: none, copied), into at most
/// `limit` bytes.
pub fn inflate(codec: u8, data: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    match codec {
        0 if data.len() > limit => Err(InflateError::TooBig { limit }),
        0 => Ok(data.to_vec()),
        // Java's GZIPInputStream reads concatenated members; so does this.
        1 => read_bounded(flate2::read::MultiGzDecoder::new(data), limit, "gzip"),
        2 => snappy(data, limit),
        3 => {
            let d = lz4::Decoder::new(data).map_err(|e| corrupt("lz4", e))?;
            read_bounded(d, limit, "lz4")
        }
        4 => {
            let d = zstd::stream::read::Decoder::new(data).map_err(|e| corrupt("zstd", e))?;
            read_bounded(d, limit, "zstd")
        }
        n => Err(InflateError::Corrupt(format!(
            "unknown compression codec {n}"
        ))),
    }
}

fn corrupt(codec: &str, e: impl std::fmt::Display) -> InflateError {
    InflateError::Corrupt(format!("{codec}: {e}"))
}

fn read_bounded(r: impl Read, limit: usize, codec: &str) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    r.take((limit as u64).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > limit {
        return Err(InflateError::TooBig { limit });
    }
    Ok(out)
}

/// The Java client's snappy (xerial framing: a 16-byte header, then length-prefixed raw snappy
/// blocks), or one raw snappy block (librdkafka's). Each block states its inflated size up
/// front, so the limit is checked before anything is allocated.
fn snappy(data: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    const XERIAL: &[u8; 8] = b"\x82SNAPPY\x00";
    let mut out = Vec::new();
    let block = |b: &[u8], out: &mut Vec<u8>| -> Result<(), InflateError> {
        let n = snap::raw::decompress_len(b).map_err(|e| corrupt("snappy", e))?;
        if n > limit - out.len() {
            return Err(InflateError::TooBig { limit });
        }
        let start = out.len();
        out.resize(start + n, 0);
        snap::raw::Decoder::new()
            .decompress(b, &mut out[start..])
            .map_err(|e| corrupt("snappy", e))?;
        Ok(())
    };
    if data.len() >= 16 && data[..8] == XERIAL[..] {
        let mut p = 16;
        while p < data.len() {
            let Some(len) = data.get(p..p + 4) else {
                return Err(corrupt("snappy", "truncated block length"));
            };
            let n = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            p += 4;
            if n > data.len() - p {
                return Err(corrupt("snappy", "truncated block"));
            }
            block(&data[p..p + n], &mut out)?;
            p += n;
        }
    } else {
        block(data, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(codec: u8, raw: &[u8]) -> Vec<u8> {
        crate::log::records::compress(codec, raw).unwrap()
    }

    #[test]
    fn every_codec_round_trips_within_the_limit() {
        let raw: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for codec in 0..=4 {
            let c = compress(codec, &raw);
            assert_eq!(inflate(codec, &c, raw.len()).unwrap(), raw, "codec {codec}");
        }
        // Raw snappy, as librdkafka writes it.
        let c = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        assert_eq!(inflate(2, &c, raw.len()).unwrap(), raw);
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        // 64 MiB of zeros: each codec squeezes it into a small batch.
        let raw = vec![0u8; 64 << 20];
        for codec in 0..=4 {
            let c = compress(codec, &raw);
            if codec != 0 {
                assert!(c.len() < 4 << 20, "codec {codec}: {} bytes", c.len());
            }
            assert_eq!(
                inflate(codec, &c, 1 << 20),
                Err(InflateError::TooBig { limit: 1 << 20 }),
                "codec {codec}"
            );
            assert_eq!(inflate(codec, &c, raw.len()).unwrap().len(), raw.len());
        }
        let c = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        assert_eq!(
            inflate(2, &c, 1000),
            Err(InflateError::TooBig { limit: 1000 })
        );
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        for codec in 1..=4 {
            for junk in [
                &b"\xff\xff\xff\xff\xff\xff\xff\xff"[..],
                b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01\xff",
            ] {
                assert!(
                    matches!(inflate(codec, junk, 1 << 20), Err(InflateError::Corrupt(_))),
                    "codec {codec} {junk:?}"
                );
            }
        }
        assert!(matches!(
            inflate(7, b"x", 10),
            Err(InflateError::Corrupt(_))
        ));
    }
}
