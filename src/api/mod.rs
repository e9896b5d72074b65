//! The Kafka APIs: one module per API key, each a function from a typed
//! request (kafka-protocol) and the broker core to a typed response. This is
//! the only layer that knows protocol versions; it maps the typed errors of
//! the layers below (`LogError`, `AppendError`, `TopicError`) to Kafka's error
//! codes ([`crate::error`], which the coordinators use directly).
//!
//! [`SUPPORTED`] is the single source of truth for what fjord advertises in
//! ApiVersions and accepts: an API or version is listed only once it is
//! implemented and covered by a real-client test (docs/compatibility.md).

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::broker::Broker;
use crate::log::FileSlice;

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod api_versions;
pub mod client_quotas;
pub mod cluster_admin;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_producers;
pub mod describe_topic_partitions;
pub mod describe_transactions;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;
pub mod txn_offset_commit;

/// (API, lowest advertised version, highest advertised version).
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    // Advertised from v0 as Kafka 4 does (KAFKA-18659: librdkafka reads the
    // range to detect features); v0-v2 requests are refused, see `accepts`.
    (ApiKey::Produce, 0, 13),
    (ApiKey::Fetch, 4, 18),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 0, 13),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    // v6 exists, but the codec decodes requests only up to v5.
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DescribeCluster, 0, 2),
    // Consumer groups (classic protocol).
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    // v10 exists, but the codec decodes requests only up to v9.
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    // Consumer groups (KIP-848 consumer protocol).
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    // Transactions.
    (ApiKey::AddPartitionsToTxn, 0, 5),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::EndTxn, 0, 5),
    (ApiKey::TxnOffsetCommit, 0, 5),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 2),
    // Admin surface.
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::DescribeTopicPartitions, 0, 0),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::ListPartitionReassignments, 0, 0),
    (ApiKey::ElectLeaders, 0, 2),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::DescribeClientQuotas, 0, 1),
    (ApiKey::AlterClientQuotas, 0, 1),
    (ApiKey::DeleteRecords, 0, 2),
];

/// The advertised range of an API, if any.
pub fn advertised(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, lo, hi)| (lo, hi))
}

/// Whether a request of this API and version is served.
pub fn accepts(key: ApiKey, version: i16) -> bool {
    let floor = key.valid_versions().min; // what the codec can decode
    matches!(advertised(key), Some((lo, hi)) if version >= lo.max(floor) && version <= hi)
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("request frame of {0} bytes is too short for a header")]
    Short(usize),
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    #[error("unsupported version {1} of {0:?}")]
    UnsupportedVersion(ApiKey, i16),
    #[error("cannot decode {0:?} v{1} request: {2}")]
    Decode(ApiKey, i16, String),
    #[error("cannot encode {0:?} v{1} response: {2}")]
    Encode(ApiKey, i16, String),
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

/// Handle one request frame (without its length prefix). Returns the
/// response frame (with its length prefix) as chunks, `None` when the request
/// takes no response (Produce with acks=0), or an error after which the
/// connection is closed.
pub async fn handle_frame(
    broker: &Arc<Broker>,
    conn: &ConnectionInfo,
    mut frame: Bytes,
) -> Result<Option<Vec<Chunk>>, FrameError> {
    if frame.len() < 8 {
        return Err(FrameError::Short(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let key = ApiKey::try_from(raw_key).map_err(|_| FrameError::UnknownApiKey(raw_key))?;

    if !accepts(key, version) {
        if key == ApiKey::ApiVersions {
            // KIP-511: answer an unknown ApiVersions version in v0 format with
            // UNSUPPORTED_VERSION and our ranges, so the client can retry lower.
            let resp = api_versions::unsupported_version_response();
            return encode_response(key, 0, correlation_id, &ResponseKind::ApiVersions(resp))
                .map(|b| Some(vec![Chunk::Bytes(b.freeze())]));
        }
        return Err(FrameError::UnsupportedVersion(key, version));
    }

    let header = RequestHeader::decode(&mut frame, key.request_header_version(version))
        .map_err(|e| FrameError::Decode(key, version, e.to_string()))?;
    let request = RequestKind::decode(key, &mut frame, version)
        .map_err(|e| FrameError::Decode(key, version, e.to_string()))?;
    if frame.has_remaining() {
        tracing::debug!(
            ?key,
            version,
            extra = frame.remaining(),
            "trailing bytes after request"
        );
    }
    let ctx = RequestContext {
        broker: broker.clone(),
        conn: conn.clone(),
        version,
        client_id: header.client_id.clone(),
    };
    if let RequestKind::Fetch(req) = request {
        let reply = fetch::handle(&ctx, req).await;
        return encode_fetch(&reply, version, header.correlation_id).map(Some);
    }
    let Some(response) = dispatch(&ctx, request).await else {
        return Ok(None);
    };
    encode_response(key, version, header.correlation_id, &response)
        .map(|b| Some(vec![Chunk::Bytes(b.freeze())]))
}

/// A fetch response frame: length prefix, header, then the body's chunks.
fn encode_fetch(
    reply: &fetch::FetchReply,
    version: i16,
    correlation_id: i32,
) -> Result<Vec<Chunk>, FrameError> {
    let key = ApiKey::Fetch;
    let enc = |e: anyhow::Error| FrameError::Encode(key, version, e.to_string());
    let body = fetch::encode_reply(reply, version).map_err(enc)?;
    let mut head = BytesMut::with_capacity(16);
    head.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut head, key.response_header_version(version))
        .map_err(enc)?;
    let len = head.len() - 4 + body.iter().map(Chunk::len).sum::<usize>();
    let len = i32::try_from(len).map_err(|_| enc(anyhow::anyhow!("response over 2 GiB")))?;
    head[..4].copy_from_slice(&len.to_be_bytes());
    let mut chunks = Vec::with_capacity(body.len() + 1);
    chunks.push(Chunk::Bytes(head.freeze()));
    chunks.extend(body);
    Ok(chunks)
}

/// What a handler knows about the connection a request came on.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    pub listener: String,
    pub peer: std::net::SocketAddr,
}

/// What a handler gets besides its request.
pub struct RequestContext {
    pub broker: Arc<Broker>,
    pub conn: ConnectionInfo,
    pub version: i16,
    pub client_id: Option<StrBytes>,
}

async fn dispatch(ctx: &RequestContext, request: RequestKind) -> Option<ResponseKind> {
    Some(match request {
        RequestKind::ApiVersions(r) => api_versions::handle(ctx, r).into(),
        RequestKind::Metadata(r) => metadata::handle(ctx, r).into(),
        RequestKind::Produce(r) => return produce::handle(ctx, r).map(Into::into),
        RequestKind::ListOffsets(r) => list_offsets::handle(ctx, r).into(),
        RequestKind::CreateTopics(r) => create_topics::handle(ctx, r).into(),
        RequestKind::DeleteTopics(r) => delete_topics::handle(ctx, r).into(),
        RequestKind::CreatePartitions(r) => create_partitions::handle(ctx, r).into(),
        RequestKind::DescribeCluster(r) => describe_cluster::handle(ctx, r).into(),
        RequestKind::DescribeConfigs(r) => describe_configs::handle(ctx, r).into(),
        RequestKind::InitProducerId(r) => init_producer_id::handle(ctx, r).into(),
        RequestKind::FindCoordinator(r) => find_coordinator::handle(ctx, r).into(),
        RequestKind::JoinGroup(r) => join_group::handle(ctx, r).await.into(),
        RequestKind::SyncGroup(r) => sync_group::handle(ctx, r).await.into(),
        RequestKind::Heartbeat(r) => heartbeat::handle(ctx, r).into(),
        RequestKind::LeaveGroup(r) => leave_group::handle(ctx, r).into(),
        RequestKind::OffsetCommit(r) => offset_commit::handle(ctx, r).into(),
        RequestKind::OffsetFetch(r) => offset_fetch::handle(ctx, r).into(),
        RequestKind::ListGroups(r) => list_groups::handle(ctx, r).into(),
        RequestKind::DescribeGroups(r) => describe_groups::handle(ctx, r).into(),
        RequestKind::DeleteGroups(r) => delete_groups::handle(ctx, r).into(),
        RequestKind::OffsetDelete(r) => offset_delete::handle(ctx, r).into(),
        RequestKind::ConsumerGroupHeartbeat(r) => consumer_group_heartbeat::handle(ctx, r).into(),
        RequestKind::ConsumerGroupDescribe(r) => consumer_group_describe::handle(ctx, r).into(),
        RequestKind::AddPartitionsToTxn(r) => add_partitions_to_txn::handle(ctx, r).into(),
        RequestKind::AddOffsetsToTxn(r) => add_offsets_to_txn::handle(ctx, r).into(),
        RequestKind::EndTxn(r) => end_txn::handle(ctx, r).into(),
        RequestKind::TxnOffsetCommit(r) => txn_offset_commit::handle(ctx, r).into(),
        RequestKind::DescribeProducers(r) => describe_producers::handle(ctx, r).into(),
        RequestKind::DescribeTransactions(r) => describe_transactions::handle(ctx, r).into(),
        RequestKind::ListTransactions(r) => list_transactions::handle(ctx, r).into(),
        RequestKind::IncrementalAlterConfigs(r) => {
            incremental_alter_configs::handle_incremental(ctx, r).into()
        }
        RequestKind::AlterConfigs(r) => incremental_alter_configs::handle_alter(ctx, r).into(),
        RequestKind::DescribeTopicPartitions(r) => describe_topic_partitions::handle(ctx, r).into(),
        RequestKind::OffsetForLeaderEpoch(r) => offset_for_leader_epoch::handle(ctx, r).into(),
        RequestKind::ListPartitionReassignments(r) => {
            cluster_admin::list_partition_reassignments(ctx, r).into()
        }
        RequestKind::ElectLeaders(r) => cluster_admin::elect_leaders(ctx, r).into(),
        RequestKind::DescribeLogDirs(r) => cluster_admin::describe_log_dirs(ctx, r).into(),
        RequestKind::DescribeClientQuotas(r) => client_quotas::describe(ctx, r).into(),
        RequestKind::AlterClientQuotas(r) => client_quotas::alter(ctx, r).into(),
        RequestKind::DeleteRecords(r) => delete_records::handle(ctx, r).into(),
        other => {
            // Unreachable while SUPPORTED and this match agree; never panic on it.
            tracing::error!(
                "no handler for advertised request {:?}",
                std::mem::discriminant(&other)
            );
            return None;
        }
    })
}

/// Length prefix + response header + body.
pub fn encode_response(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    response: &ResponseKind,
) -> Result<BytesMut, FrameError> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let enc = |e: anyhow::Error| FrameError::Encode(key, version, e.to_string());
    header
        .encode(&mut buf, key.response_header_version(version))
        .map_err(enc)?;
    response.encode(&mut buf, version).map_err(enc)?;
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
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

/// Kafka's error code and message for a topic registry error.
pub fn topic_error(e: &crate::topics::TopicError) -> (i16, Option<StrBytes>) {
    use crate::topics::TopicError as T;
    use kafka_protocol::ResponseError as E;
    let code = match e {
        T::AlreadyExists(_) => E::TopicAlreadyExists,
        T::InvalidName(_) => E::InvalidTopicException,
        T::InvalidPartitions(_) => E::InvalidPartitions,
        T::InvalidReplicationFactor(_) => E::InvalidReplicationFactor,
        T::InvalidConfig(_) => E::InvalidConfig,
        T::UnknownTopic => E::UnknownTopicOrPartition,
        T::DeletionDisabled => E::TopicDeletionDisabled,
        T::Log(_) | T::Io(_) | T::Append(_) => E::KafkaStorageError,
    };
    (code.code(), Some(str_bytes(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/compatibility.md lists exactly the advertised APIs and ranges.
    #[test]
    fn compatibility_doc_lists_every_advertised_api() {
        let doc = include_str!("../../docs/compatibility.md");
        let begin = doc.find("<!-- apis:begin -->").expect("apis:begin marker");
        let end = doc.find("<!-- apis:end -->").expect("apis:end marker");
        let rows: Vec<Vec<&str>> = doc[begin..end]
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| key") && !l.starts_with("| ---"))
            .map(|l| l.split('|').map(str::trim).collect())
            .collect();
        assert_eq!(rows.len(), SUPPORTED.len(), "one row per advertised API");
        for (key, lo, hi) in SUPPORTED {
            let row = rows
                .iter()
                .find(|r| r[1] == (*key as i16).to_string())
                .unwrap_or_else(|| panic!("{key:?} missing from docs/compatibility.md"));
            assert_eq!(row[2], format!("{key:?}"));
            assert!(
                row[3].starts_with(&format!("{lo}–{hi}")),
                "{key:?}: doc says {}, advertised {lo}–{hi}",
                row[3]
            );
        }
    }
}
