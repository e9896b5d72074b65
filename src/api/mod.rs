//! The Kafka APIs: one module per API key, each a function from a typed
//! request (kafka-protocol) and the broker core to a typed response. This is
//! the only layer that knows protocol versions; it maps the typed errors of
//! the layers below (`LogError`, `AppendError`, `TopicError`) to Kafka's error
//! codes ([`crate::error`], which the coordinators use directly).
//!
//! This file turns a frame into a typed request, dispatches it and encodes
//! the response; [`supported`] is what fjord advertises, [`context`] what
//! every handler works with.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::broker::Broker;

mod authz;
mod context;
mod coordinator_writes;
pub mod legacy_codec;
pub mod sasl;
mod share_state_rpcs;
mod supported;

pub use context::{Chunk, ConnectionInfo, RequestContext, str_bytes};
pub use sasl::Session;
pub use supported::{CLUSTER_ONLY, SUPPORTED, accepts, accepts_in, advertised};

pub mod acls;
pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_partition_reassignments;
pub mod alter_share_group_offsets;
pub mod api_versions;
pub mod client_quotas;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_share_group_offsets;
pub mod delete_share_group_state;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_quorum;
pub mod describe_share_group_offsets;
pub mod describe_topic_partitions;
pub mod describe_transactions;
pub mod elect_leaders;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod initialize_share_group_state;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod read_share_group_state;
pub mod read_share_group_state_summary;
pub mod scram_credentials;
pub mod share_acknowledge;
pub mod share_fetch;
pub mod share_group_describe;
pub mod share_group_heartbeat;
pub mod sync_group;
pub mod txn_offset_commit;
pub mod write_share_group_state;
pub mod write_txn_markers;

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
    #[error("{0}")]
    Refused(#[from] sasl::Refused),
    #[error("SASL authentication failed")]
    AuthenticationFailed,
}

/// Handle one request frame (without its length prefix). Returns the
/// response frame (with its length prefix) as chunks, `None` when the request
/// takes no response (Produce with acks=0), or an error after which the
/// connection is closed.
pub async fn handle_frame(
    broker: &Arc<Broker>,
    session: &mut Session,
    frame: Bytes,
) -> Result<Option<Vec<Chunk>>, FrameError> {
    let started = std::time::Instant::now();
    let key = (!session.expects_raw_token())
        .then(|| frame_key(&frame).ok())
        .flatten();
    let answer = answer_frame(broker, session, frame).await;
    if let (Some((key, version, _)), Ok(_)) = (key, &answer) {
        broker
            .metrics
            .request(key as i16, version, started.elapsed());
    }
    answer
}

async fn answer_frame(
    broker: &Arc<Broker>,
    session: &mut Session,
    mut frame: Bytes,
) -> Result<Option<Vec<Chunk>>, FrameError> {
    if session.expects_raw_token() {
        return match sasl::raw_token(broker, session, &frame) {
            Some(answer) => Ok(Some(vec![Chunk::Bytes(answer)])),
            None => Err(FrameError::AuthenticationFailed),
        };
    }
    let (key, version, correlation_id) = frame_key(&frame)?;
    session.admits(key, broker.clock.now_ms())?;

    let cluster = broker.cluster.is_some();
    if !accepts_in(key, version, cluster) {
        if key == ApiKey::ApiVersions {
            // KIP-511: answer an unknown ApiVersions version in v0 format with
            // UNSUPPORTED_VERSION and our ranges, so the client can retry lower.
            let resp = api_versions::unsupported_version_response(cluster);
            return encode_response(key, 0, correlation_id, &ResponseKind::ApiVersions(resp))
                .map(|b| Some(vec![Chunk::Bytes(b.freeze())]));
        }
        return Err(FrameError::UnsupportedVersion(key, version));
    }

    let bytes = frame.len();
    let (header, request) = decode_request(key, version, &mut frame)?;
    let legacy = legacy_codec::carries(key, version);
    if frame.has_remaining() {
        tracing::debug!(
            ?key,
            version,
            extra = frame.remaining(),
            "trailing bytes after request"
        );
    }
    tracing::trace!(?key, version, bytes, client = ?header.client_id, peer = %session.info.peer, "request");
    let request = match request {
        RequestKind::SaslHandshake(r) => {
            let response = sasl::handshake(broker, session, version, r);
            return encode_response(key, version, header.correlation_id, &response.into())
                .map(|b| Some(vec![Chunk::Bytes(b.freeze())]));
        }
        RequestKind::SaslAuthenticate(r) => {
            let response = sasl::authenticate(broker, session, version, r);
            return encode_response(key, version, header.correlation_id, &response.into())
                .map(|b| Some(vec![Chunk::Bytes(b.freeze())]));
        }
        other => other,
    };
    let ctx = RequestContext {
        broker: broker.clone(),
        conn: session.info.clone(),
        version,
        client_id: header.client_id.clone(),
    };
    if let RequestKind::Fetch(req) = request {
        let reply = fetch::handle(&ctx, req).await;
        if legacy {
            // Down-converted: the records are in the response itself.
            let response = ResponseKind::Fetch(reply.response);
            return encode_response(key, version, header.correlation_id, &response)
                .map(|b| Some(vec![Chunk::Bytes(b.freeze())]));
        }
        return encode_fetch(&reply, version, header.correlation_id).map(Some);
    }
    if let RequestKind::ShareFetch(req) = request {
        let reply = share_fetch::handle(&ctx, req).await;
        return encode_share_fetch(&reply, version, header.correlation_id).map(Some);
    }
    let Some(response) = dispatch(&ctx, request).await else {
        return Ok(None);
    };
    encode_response(key, version, header.correlation_id, &response)
        .map(|b| Some(vec![Chunk::Bytes(b.freeze())]))
}

/// API key, version and correlation id: the first 8 bytes of every request frame (without its
/// length prefix), read before anything else is decided about the frame.
pub fn frame_key(frame: &[u8]) -> Result<(ApiKey, i16, i32), FrameError> {
    if frame.len() < 8 {
        return Err(FrameError::Short(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let key = ApiKey::try_from(raw_key).map_err(|_| FrameError::UnknownApiKey(raw_key))?;
    Ok((key, version, correlation_id))
}

/// Decode the request header and the typed request body of a frame whose API and version
/// [`accepts`] takes (fjord's legacy codec for the versions kafka-protocol dropped), leaving any
/// trailing bytes in `frame`. Pure: touches no broker state. [`handle_frame`] decodes with it,
/// and so does the request-decoder fuzz target (fuzz/, docs/fuzzing.md).
pub fn decode_request(
    key: ApiKey,
    version: i16,
    frame: &mut Bytes,
) -> Result<(RequestHeader, RequestKind), FrameError> {
    let decode_error = |e: anyhow::Error| FrameError::Decode(key, version, e.to_string());
    let header =
        RequestHeader::decode(frame, key.request_header_version(version)).map_err(decode_error)?;
    let request = if legacy_codec::carries(key, version) {
        legacy_codec::decode_request(key, version, frame)
    } else {
        RequestKind::decode(key, frame, version)
    }
    .map_err(decode_error)?;
    Ok((header, request))
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
    frame_chunks(key, version, correlation_id, body)
}

/// A ShareFetch response frame, spliced as a fetch's.
fn encode_share_fetch(
    reply: &share_fetch::ShareFetchReply,
    version: i16,
    correlation_id: i32,
) -> Result<Vec<Chunk>, FrameError> {
    let key = ApiKey::ShareFetch;
    let enc = |e: anyhow::Error| FrameError::Encode(key, version, e.to_string());
    let body = share_fetch::encode_reply(reply, version).map_err(enc)?;
    frame_chunks(key, version, correlation_id, body)
}

/// Length prefix and response header before a body's chunks.
fn frame_chunks(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: Vec<Chunk>,
) -> Result<Vec<Chunk>, FrameError> {
    let enc = |e: anyhow::Error| FrameError::Encode(key, version, e.to_string());
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

/// Answer a typed request as if it came over a connection (the HTTP JSON API's way in): the
/// same handlers, authorization, validation and errors; a coordinator's answer waits for its
/// records' ISR. `None` for a request that takes no response or that has its own path
/// (Fetch: [`fetch::handle`]; ShareFetch: [`share_fetch::handle`]; SASL).
pub async fn call(ctx: &RequestContext, request: RequestKind) -> Option<ResponseKind> {
    if matches!(
        request,
        RequestKind::Fetch(_)
            | RequestKind::ShareFetch(_)
            | RequestKind::SaslHandshake(_)
            | RequestKind::SaslAuthenticate(_)
    ) {
        return None;
    }
    dispatch(ctx, request).await
}

/// Answer a request; a coordinator's answer waits for its records' ISR
/// ([`coordinator_writes`]).
async fn dispatch(ctx: &RequestContext, request: RequestKind) -> Option<ResponseKind> {
    let written = coordinator_writes::partitions_written(ctx, &request);
    let response = answer(ctx, request).await?;
    if written.is_empty() {
        return Some(response);
    }
    Some(coordinator_writes::settle(ctx, &written, response).await)
}

async fn answer(ctx: &RequestContext, request: RequestKind) -> Option<ResponseKind> {
    Some(match request {
        RequestKind::ApiVersions(r) => api_versions::handle(ctx, r).into(),
        RequestKind::Metadata(r) => metadata::handle(ctx, r).await.into(),
        RequestKind::Produce(r) => return produce::handle(ctx, r).await.map(Into::into),
        RequestKind::ListOffsets(r) => list_offsets::handle(ctx, r).into(),
        RequestKind::CreateTopics(r) => create_topics::handle(ctx, r).await.into(),
        RequestKind::DeleteTopics(r) => delete_topics::handle(ctx, r).await.into(),
        RequestKind::CreatePartitions(r) => create_partitions::handle(ctx, r).await.into(),
        RequestKind::DescribeCluster(r) => describe_cluster::handle(ctx, r).into(),
        RequestKind::DescribeQuorum(r) => describe_quorum::handle(ctx, r).await.into(),
        RequestKind::DescribeConfigs(r) => describe_configs::handle(ctx, r).into(),
        RequestKind::InitProducerId(r) => init_producer_id::handle(ctx, r).await.into(),
        RequestKind::FindCoordinator(r) => find_coordinator::handle(ctx, r).await.into(),
        RequestKind::JoinGroup(r) => join_group::handle(ctx, r).await.into(),
        RequestKind::SyncGroup(r) => sync_group::handle(ctx, r).await.into(),
        RequestKind::Heartbeat(r) => heartbeat::handle(ctx, r).into(),
        RequestKind::LeaveGroup(r) => leave_group::handle(ctx, r).into(),
        RequestKind::OffsetCommit(r) => offset_commit::handle(ctx, r).into(),
        RequestKind::OffsetFetch(r) => offset_fetch::handle(ctx, r).into(),
        RequestKind::ListGroups(r) => list_groups::handle(ctx, r).into(),
        RequestKind::DescribeGroups(r) => describe_groups::handle(ctx, r).into(),
        RequestKind::DeleteGroups(r) => delete_groups::handle(ctx, r).await.into(),
        RequestKind::OffsetDelete(r) => offset_delete::handle(ctx, r).into(),
        RequestKind::ConsumerGroupHeartbeat(r) => consumer_group_heartbeat::handle(ctx, r).into(),
        RequestKind::ConsumerGroupDescribe(r) => consumer_group_describe::handle(ctx, r).into(),
        RequestKind::ShareGroupHeartbeat(r) => share_group_heartbeat::handle(ctx, r).into(),
        RequestKind::ShareGroupDescribe(r) => share_group_describe::handle(ctx, r).into(),
        RequestKind::DescribeShareGroupOffsets(r) => {
            describe_share_group_offsets::handle(ctx, r).await.into()
        }
        RequestKind::AlterShareGroupOffsets(r) => {
            alter_share_group_offsets::handle(ctx, r).await.into()
        }
        RequestKind::DeleteShareGroupOffsets(r) => {
            delete_share_group_offsets::handle(ctx, r).await.into()
        }
        RequestKind::AddPartitionsToTxn(r) => add_partitions_to_txn::handle(ctx, r).into(),
        RequestKind::AddOffsetsToTxn(r) => add_offsets_to_txn::handle(ctx, r).into(),
        RequestKind::EndTxn(r) => end_txn::handle(ctx, r).into(),
        RequestKind::TxnOffsetCommit(r) => txn_offset_commit::handle(ctx, r).into(),
        RequestKind::DescribeProducers(r) => describe_producers::handle(ctx, r).into(),
        RequestKind::DescribeTransactions(r) => describe_transactions::handle(ctx, r).into(),
        RequestKind::ListTransactions(r) => list_transactions::handle(ctx, r).into(),
        RequestKind::IncrementalAlterConfigs(r) => {
            incremental_alter_configs::handle_incremental(ctx, r)
                .await
                .into()
        }
        RequestKind::AlterConfigs(r) => {
            incremental_alter_configs::handle_alter(ctx, r).await.into()
        }
        RequestKind::DescribeTopicPartitions(r) => describe_topic_partitions::handle(ctx, r).into(),
        RequestKind::OffsetForLeaderEpoch(r) => offset_for_leader_epoch::handle(ctx, r).into(),
        RequestKind::AlterPartitionReassignments(r) => {
            alter_partition_reassignments::handle(ctx, r).await.into()
        }
        RequestKind::ListPartitionReassignments(r) => {
            list_partition_reassignments::handle(ctx, r).await.into()
        }
        RequestKind::ElectLeaders(r) => elect_leaders::handle(ctx, r).await.into(),
        RequestKind::DescribeLogDirs(r) => describe_log_dirs::handle(ctx, r).into(),
        RequestKind::DescribeClientQuotas(r) => client_quotas::describe(ctx, r).into(),
        RequestKind::AlterClientQuotas(r) => client_quotas::alter(ctx, r).into(),
        RequestKind::DeleteRecords(r) => delete_records::handle(ctx, r).into(),
        RequestKind::WriteTxnMarkers(r) => write_txn_markers::handle(ctx, r).await.into(),
        RequestKind::DescribeAcls(r) => acls::describe(ctx, r).into(),
        RequestKind::CreateAcls(r) => acls::create(ctx, r).await.into(),
        RequestKind::DeleteAcls(r) => acls::delete(ctx, r).await.into(),
        RequestKind::DescribeUserScramCredentials(r) => scram_credentials::describe(ctx, r).into(),
        RequestKind::AlterUserScramCredentials(r) => scram_credentials::alter(ctx, r).await.into(),
        RequestKind::ShareAcknowledge(r) => share_acknowledge::handle(ctx, r).await.into(),
        // Share coordinator (cluster nodes only, `supported::CLUSTER_ONLY`).
        RequestKind::InitializeShareGroupState(r) => {
            initialize_share_group_state::handle(ctx, r).into()
        }
        RequestKind::ReadShareGroupState(r) => read_share_group_state::handle(ctx, r).into(),
        RequestKind::WriteShareGroupState(r) => write_share_group_state::handle(ctx, r).into(),
        RequestKind::DeleteShareGroupState(r) => delete_share_group_state::handle(ctx, r).into(),
        RequestKind::ReadShareGroupStateSummary(r) => {
            read_share_group_state_summary::handle(ctx, r).into()
        }
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
    if legacy_codec::carries(key, version) {
        legacy_codec::encode_response(key, version, response, &mut buf).map_err(enc)?;
    } else {
        response.encode(&mut buf, version).map_err(enc)?;
    }
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}
