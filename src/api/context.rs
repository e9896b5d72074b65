//! What every handler works with besides its typed request and response: the
//! [`RequestContext`] (broker core, connection, version), response [`Chunk`]s (and the helpers
//! that splice file-backed records into Fetch and ShareFetch answers), and the mapping
//! of the lower layers' typed errors to Kafka error codes.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::config::SecurityProtocol;
use crate::log::FileSlice;
use crate::security::Principal;

/// What a handler knows about the connection a request came on.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    /// Unique per client connection of this process (from 1; 0: not a connection, as the HTTP
    /// API's requests). Share sessions remember the connection they live on.
    pub conn_id: u64,
    pub listener: String,
    /// The listener's security protocol.
    pub protocol: SecurityProtocol,
    pub peer: std::net::SocketAddr,
    /// The client library, as its ApiVersions (v3+, KIP-511) names it.
    pub client_software: Arc<std::sync::OnceLock<String>>,
    /// Who the client is: `User:ANONYMOUS` until TLS or SASL says otherwise.
    pub principal: Principal,
}

/// What a handler gets besides its request.
pub struct RequestContext {
    pub broker: Arc<Broker>,
    pub conn: ConnectionInfo,
    pub version: i16,
    pub client_id: Option<StrBytes>,
}

/// A piece of a response frame: encoded bytes, or a range of a segment file
/// that the connection copies to the socket itself (fetch data never passes
/// through an encoding buffer).
#[derive(Debug)]
pub enum Chunk {
    Bytes(Bytes),
    File(FileSlice),
}

impl Chunk {
    pub fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::File(f) => f.len as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `StrBytes` from anything string-like.
pub fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// Kafka's error for a storage engine error.
pub fn log_error_code(e: &crate::log::LogError) -> kafka_protocol::ResponseError {
    use crate::log::LogError as L;
    use kafka_protocol::ResponseError as E;
    match e {
        L::CorruptMessage(_) => E::CorruptMessage,
        L::MessageTooLarge(_) => E::MessageTooLarge,
        L::InvalidRecord(_) => E::InvalidRecord,
        L::OffsetOutOfRange { .. } => E::OffsetOutOfRange,
        _ => E::KafkaStorageError,
    }
}

// --- spliced encoding (the file-backed records of Fetch and ShareFetch answers) ---

/// An unsigned varint, as the flexible versions' lengths are written.
pub fn put_uvarint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// A length: a varint of n + 1 in flexible versions, an int32 before.
pub fn put_len(buf: &mut BytesMut, n: usize, flexible: bool) {
    if flexible {
        put_uvarint(buf, n as u32 + 1);
    } else {
        buf.put_i32(n as i32);
    }
}

/// The file ranges of partition `pi` of topic `ti` in a reply's `records` (empty: the
/// partition's own `records` field is encoded as it is).
pub fn slices_at(records: &[Vec<Vec<FileSlice>>], ti: usize, pi: usize) -> &[FileSlice] {
    records
        .get(ti)
        .and_then(|ps| ps.get(pi))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// After a partition's fields up to its records: the records' length, then the bytes so far
/// as one chunk and the file ranges as the next ones.
pub fn splice_records(
    buf: &mut BytesMut,
    chunks: &mut Vec<Chunk>,
    slices: &[FileSlice],
    flexible: bool,
) -> anyhow::Result<()> {
    let total: u64 = slices.iter().map(|s| s.len).sum();
    anyhow::ensure!(total < i32::MAX as u64, "fetch data too large");
    put_len(buf, total as usize, flexible);
    chunks.push(Chunk::Bytes(buf.split().freeze()));
    chunks.extend(slices.iter().cloned().map(Chunk::File));
    Ok(())
}

/// For the spliced-encoding tests of `fetch.rs` and `share_fetch.rs`: a file of known bytes
/// to cut [`FileSlice`]s from, and a reply's chunks read back into one buffer.
#[cfg(test)]
pub mod test_chunks {
    use crate::api::context::Chunk;
    use crate::log::FileSlice;
    use std::io::Write;
    use std::sync::Arc;

    /// 5,000 bytes of a fixed pattern in a temporary file.
    pub struct TestSegment {
        _dir: tempfile::TempDir,
        file: Arc<std::fs::File>,
        pub content: Vec<u8>,
    }

    impl TestSegment {
        pub fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("seg");
            let content: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
            std::fs::File::create(&path)
                .unwrap()
                .write_all(&content)
                .unwrap();
            let file = Arc::new(std::fs::File::open(&path).unwrap());
            TestSegment {
                _dir: dir,
                file,
                content,
            }
        }

        pub fn slice(&self, position: u64, len: u64) -> FileSlice {
            FileSlice {
                file: self.file.clone(),
                position,
                len,
                verified: None,
            }
        }

        /// The bytes a slice stands for.
        pub fn bytes(&self, s: &FileSlice) -> Vec<u8> {
            self.content[s.position as usize..(s.position + s.len) as usize].to_vec()
        }

        /// Lengths that cross the 1-byte/2-byte varint boundary (127/128), two ranges in one
        /// partition, and none.
        pub fn shapes(&self) -> Vec<Vec<FileSlice>> {
            vec![
                vec![self.slice(0, 10)],
                vec![self.slice(100, 126)],
                vec![self.slice(100, 127)],
                vec![self.slice(3, 200), self.slice(1000, 3000)],
                vec![],
            ]
        }
    }

    /// The chunks of a reply as the bytes the connection would write.
    pub fn materialize(chunks: &[Chunk]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            match c {
                Chunk::Bytes(b) => out.extend_from_slice(b),
                Chunk::File(f) => out.extend_from_slice(&f.read().unwrap()),
            }
        }
        out
    }
}
