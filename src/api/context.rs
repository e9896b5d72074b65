//! What every handler works with besides its typed request and response: the
//! [`RequestContext`] (broker core, connection, version), response [`Chunk`]s, and the mapping
//! of the lower layers' typed errors to Kafka error codes.

use std::sync::Arc;

use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::config::SecurityProtocol;
use crate::log::FileSlice;
use crate::security::Principal;
use bytes::Bytes;

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
