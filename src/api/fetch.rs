//! Fetch (key 1), v0–v18, with incremental fetch sessions (KIP-227, v7+).
//!
//! v0–v3 (old clients, message formats v0/v1) read the same way and then
//! down-convert each partition's batches into the message format the version
//! implies (v0 for Fetch v0–v1, v1 for v2–v3), in memory and bounded by the
//! partition's max bytes; control batches and aborted transactions' data are
//! not shown.
//!
//! Reads whole batches as byte ranges of the partition logs. A fetch that has
//! fewer than min_bytes parks until an append to one of its partitions wakes
//! it or max_wait_ms passes (no polling loop).
//!
//! Fetch sessions are Kafka's (`broker/fetch_sessions.rs` keeps them): session epoch -1 is a
//! sessionless full fetch (fjord's own replica fetcher sends that), epoch 0 a full fetch that
//! gets a new session id (or 0 when the cache has no room), and a later epoch an incremental
//! fetch: it reads, and parks on, every partition of its session, and answers only those with
//! something new. Session refusals are whole-response errors without partitions:
//! FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_TOPIC_ID_ERROR (a
//! session started at v13+, which names topics by id, used below v13 or the other way round).
//! A session is not bound to a connection or principal, as in Kafka: each fetch is authorized
//! for every partition it reads with its own principal.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::select_all;
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::ProducerId;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;
use tokio::time::Instant;

use super::context::{
    Chunk, RequestContext, log_error_code, put_len, put_uvarint, slices_at, splice_records,
};
use crate::broker::TopicRef;
use crate::broker::fetch_sessions::{
    FetchAnswer, FetchContext, FetchPosition, SessionError, SessionPartition, SessionRequest,
    SessionTopic,
};
use crate::error::Code;
use crate::log::legacy::down_convert;
use crate::log::{BatchHeader, FileSlice, LogError};
use crate::partition::{Isolation, Partition, Progress, ReplicaFetchError};
use crate::security::acl::AclOperation;

/// A fetch response whose record data stays in the segment files until it is
/// written to the socket: `records[t][p]` are the file ranges of topic `t`,
/// partition `p` (empty: the partition's `records` field is used as is).
pub struct FetchReply {
    pub response: FetchResponse,
    pub records: Vec<Vec<Vec<FileSlice>>>,
}

/// One partition a fetch reads: the request's (or its session's) entry and how this broker
/// serves it.
struct Wanted {
    key: SessionPartition,
    position: FetchPosition,
    /// Its leader copy here, or the error code.
    resolved: Result<Arc<Partition>, Code>,
    /// Where the fetcher's log diverged from the leader's (`(epoch, end offset)` to truncate
    /// to): no data is read for it.
    diverging: Option<(i32, i64)>,
}

/// One partition as read: its response entry and the file ranges of its records.
struct Read {
    data: PartitionData,
    slices: Vec<FileSlice>,
}

pub async fn handle(ctx: &RequestContext, req: FetchRequest) -> FetchReply {
    let b = &ctx.broker;
    let use_ids = ctx.version >= 13;
    // A follower replicating (Kafka's replica fetch): the replica id in ReplicaState from v15,
    // in the request before.
    let replica_id = if ctx.version >= 15 {
        req.replica_state.replica_id.0
    } else {
        req.replica_id.0
    };
    let follower = (replica_id >= 0).then_some(replica_id);
    let (requested, forgotten) = session_partitions(&req, use_ids);
    let session = SessionRequest {
        session_id: req.session_id,
        epoch: req.session_epoch,
        uses_topic_ids: use_ids,
        fetch_data: &requested,
        forgotten: &forgotten,
    };
    let mut context = match b.fetch_sessions.new_context(&session, b.now_ms()) {
        Ok(context) => context,
        Err(e) => return session_error(e),
    };
    let partitions = match &mut context {
        FetchContext::Incremental { partitions, .. } => std::mem::take(partitions),
        FetchContext::Full | FetchContext::Sessionless => requested,
    };

    // A follower needs ClusterAction on the cluster, a consumer Read on each topic (Kafka's
    // checks; unauthorized partitions are TOPIC_AUTHORIZATION_FAILED either way).
    let follower_allowed = follower.is_none() || ctx.authorize_cluster(AclOperation::ClusterAction);
    let authorized = |topic: &str| match follower {
        Some(_) => follower_allowed,
        None => ctx.authorize_topic(AclOperation::Read, topic),
    };
    let denied = E::TopicAuthorizationFailed.code();
    let now = b.now_ms();
    let wanted: Vec<Wanted> = partitions
        .into_iter()
        .map(|(key, position)| {
            let at = match &key.topic {
                SessionTopic::Id(id) => TopicRef::Id(*id),
                SessionTopic::Name(name) => TopicRef::Name(name),
            };
            let (resolved, diverging) = match b.leader_partition(at, key.partition) {
                _ if !use_ids && !authorized(topic_name(&key.topic)) => (Err(denied), None),
                Ok(part) if use_ids && !authorized(&part.topic) => (Err(denied), None),
                Ok(part) => check_fetch(ctx, follower, &part, &position, now)
                    .map_or_else(|code| (Err(code), None), |d| (Ok(part), d)),
                Err(code) => (Err(code), None),
            };
            Wanted {
                key,
                position,
                resolved,
                diverging,
            }
        })
        .collect();
    let isolation = if follower.is_some() {
        Isolation::LogEnd
    } else if req.isolation_level == 1 {
        Isolation::Committed
    } else {
        Isolation::HighWatermark
    };
    let max_bytes = if req.max_bytes <= 0 {
        i32::MAX
    } else {
        req.max_bytes
    } as usize;
    let min_bytes = req.min_bytes.max(0) as usize;
    let deadline = Instant::now() + Duration::from_millis(req.max_wait_ms.max(0) as u64);

    // An incremental fetch waits on its whole session, not only the partitions it listed.
    let reads = loop {
        // Subscribe before reading, so an append between the read and the wait still wakes us.
        let mut wakers: Vec<watch::Receiver<Progress>> = wanted
            .iter()
            .filter_map(|w| w.resolved.as_ref().ok().map(|p| p.subscribe()))
            .collect();
        let (reads, bytes, errors) = read_all(&wanted, isolation, max_bytes);
        if bytes >= min_bytes || errors || bytes >= max_bytes || Instant::now() >= deadline {
            break reads;
        }
        if wakers.is_empty() {
            tokio::time::sleep_until(deadline).await;
            continue;
        }
        let changed = select_all(wakers.iter_mut().map(|rx| Box::pin(rx.changed())));
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            // Timed out: one last read, which may still be short of min_bytes.
            break read_all(&wanted, isolation, max_bytes).0;
        }
    };
    respond(ctx, context, follower.is_some(), wanted, reads)
}

/// The partitions a request lists and the ones it forgets, named as its version names topics
/// (by id from v13).
fn session_partitions(
    req: &FetchRequest,
    use_ids: bool,
) -> (
    Vec<(SessionPartition, FetchPosition)>,
    Vec<SessionPartition>,
) {
    let topic_key = |name: &TopicName, id| {
        if use_ids {
            SessionTopic::Id(id)
        } else {
            SessionTopic::Name(Arc::from(name.as_str()))
        }
    };
    let mut requested = Vec::new();
    for t in &req.topics {
        let topic = topic_key(&t.topic, t.topic_id);
        for p in &t.partitions {
            let key = SessionPartition {
                topic: topic.clone(),
                partition: p.partition,
            };
            let position = FetchPosition {
                fetch_offset: p.fetch_offset,
                partition_max_bytes: p.partition_max_bytes,
                current_leader_epoch: p.current_leader_epoch,
                last_fetched_epoch: p.last_fetched_epoch,
                log_start_offset: p.log_start_offset,
            };
            requested.push((key, position));
        }
    }
    let mut forgotten = Vec::new();
    for t in &req.forgotten_topics_data {
        let topic = topic_key(&t.topic, t.topic_id);
        for &partition in &t.partitions {
            forgotten.push(SessionPartition {
                topic: topic.clone(),
                partition,
            });
        }
    }
    (requested, forgotten)
}

fn topic_name(topic: &SessionTopic) -> &str {
    match topic {
        SessionTopic::Name(name) => name,
        SessionTopic::Id(_) => "",
    }
}

/// A whole-response session error: no partitions, session id 0 (Kafka's SessionErrorContext).
fn session_error(e: SessionError) -> FetchReply {
    let code = match e {
        SessionError::NotFound => E::FetchSessionIdNotFound,
        SessionError::InvalidEpoch => E::InvalidFetchSessionEpoch,
        SessionError::TopicIdUsage => E::FetchSessionTopicIdError,
    };
    FetchReply {
        response: FetchResponse::default()
            .with_error_code(code.code())
            .with_session_id(0),
        records: Vec::new(),
    }
}

/// The response to what was read: every partition of a full or sessionless fetch (a full one
/// gets a session if there is room), the changed ones of an incremental fetch. Topics are
/// grouped as they come, a topic listed again after another starting a new entry, as Kafka's
/// `FetchResponse.of` keeps the partitions' order.
fn respond(
    ctx: &RequestContext,
    context: FetchContext,
    follower: bool,
    wanted: Vec<Wanted>,
    mut reads: Vec<Read>,
) -> FetchReply {
    let sessions = &ctx.broker.fetch_sessions;
    let (session_id, include) = match context {
        FetchContext::Sessionless => (0, None),
        FetchContext::Full => {
            let partitions = wanted
                .iter()
                .zip(&reads)
                .map(|(w, r)| (w.key.clone(), w.position, answer(w, r)));
            let now = ctx.broker.now_ms();
            let id = sessions.create_session(now, follower, ctx.version >= 13, partitions);
            (id, None)
        }
        FetchContext::Incremental {
            session_id, epoch, ..
        } => {
            let answers = wanted
                .iter()
                .zip(&reads)
                .map(|(w, r)| (&w.key, answer(w, r)));
            match sessions.complete_incremental(session_id, epoch, answers) {
                Ok(include) => (session_id, Some(include)),
                Err(e) => return session_error(e),
            }
        }
    };
    if ctx.version <= 3 {
        down_convert_all(ctx.version, &wanted, &mut reads);
    }
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    let mut records: Vec<Vec<Vec<FileSlice>>> = Vec::new();
    let mut last: Option<&SessionTopic> = None;
    for (i, (w, r)) in wanted.iter().zip(reads).enumerate() {
        if include.as_ref().is_some_and(|inc| !inc[i]) {
            continue;
        }
        if last != Some(&w.key.topic) {
            let mut t = FetchableTopicResponse::default();
            match &w.key.topic {
                SessionTopic::Id(id) => t.topic_id = *id,
                SessionTopic::Name(name) => {
                    t.topic = TopicName(StrBytes::from_string(name.to_string()))
                }
            }
            topics.push(t);
            records.push(Vec::new());
            last = Some(&w.key.topic);
        }
        if !follower && let Ok(part) = &w.resolved {
            // Kafka's BytesOut: what consumers get (replication is counted apart).
            let bytes = r.slices.iter().map(|f| f.len).sum::<u64>()
                + r.data.records.as_ref().map_or(0, |b| b.len() as u64);
            if bytes > 0 {
                let m = &ctx.broker.metrics;
                m.fetched(&m.topic(&part.topic), bytes);
            }
        }
        if let (Some(t), Some(rs)) = (topics.last_mut(), records.last_mut()) {
            t.partitions.push(r.data);
            rs.push(r.slices);
        }
    }
    FetchReply {
        response: FetchResponse::default()
            .with_session_id(session_id)
            .with_responses(topics),
        records,
    }
}

/// What a session remembers of a partition's answer.
fn answer(w: &Wanted, r: &Read) -> FetchAnswer {
    FetchAnswer {
        high_watermark: r.data.high_watermark,
        last_stable_offset: r.data.last_stable_offset,
        log_start_offset: r.data.log_start_offset,
        has_records: !r.slices.is_empty(),
        error: r.data.error_code != 0,
        diverging: w.diverging.is_some(),
    }
}

/// v0–v3: each partition's batches down-converted into the records field.
fn down_convert_all(version: i16, wanted: &[Wanted], reads: &mut [Read]) {
    let magic = if version <= 1 { 0 } else { 1 };
    for (w, r) in wanted.iter().zip(reads.iter_mut()) {
        let taken = std::mem::take(&mut r.slices);
        if taken.is_empty() {
            continue;
        }
        // Data was read, so the partition resolved.
        let Ok(partition) = &w.resolved else {
            continue;
        };
        let offset = w.position.fetch_offset;
        let max_bytes = w.position.partition_max_bytes.max(0) as usize;
        match down_convert_partition(partition, &taken, magic, offset, max_bytes) {
            Ok(messages) => r.data.records = Some(Bytes::from(messages)),
            Err(e) => {
                let index = w.key.partition;
                tracing::warn!(partition = index, offset, "down-conversion failed: {e}");
                r.data.error_code = log_error_code(&e).code();
                r.data.records = Some(Bytes::new());
            }
        }
    }
}

/// A partition's fetched batches as an old client's message set.
fn down_convert_partition(
    partition: &Partition,
    slices: &[FileSlice],
    magic: i8,
    offset: i64,
    max_bytes: usize,
) -> Result<Vec<u8>, LogError> {
    let mut data = Vec::with_capacity(slices.iter().map(|s| s.len as usize).sum());
    for s in slices {
        data.extend_from_slice(&s.read()?);
    }
    // Old clients know nothing of transactions: aborted data is left out for them.
    let hw = partition.offsets().high_watermark;
    let aborted = partition.aborted_transactions(offset, hw);
    let skip = |h: &BatchHeader| {
        h.is_transactional()
            && aborted.iter().any(|a| {
                a.producer_id == h.producer_id
                    && a.first_offset <= h.base_offset
                    && h.base_offset <= a.last_offset
            })
    };
    let inflate_limit = partition.inflate_limit();
    Ok(down_convert(&data, magic, offset, max_bytes, inflate_limit, &skip)?.messages)
}

/// Before reading a partition for a fetch (Kafka's `Partition.fetchRecords` checks): the
/// fetcher's leader epoch against this leader's (FENCED_LEADER_EPOCH when older,
/// UNKNOWN_LEADER_EPOCH when newer); its last fetched epoch against this log's epochs, giving
/// the diverging epoch to truncate to (KIP-320, KIP-595); and for a follower, what its fetch
/// tells the leader (its log end; the ISR it may join, asked of the controller here).
fn check_fetch(
    ctx: &RequestContext,
    follower: Option<i32>,
    partition: &Arc<Partition>,
    p: &FetchPosition,
    now: i64,
) -> Result<Option<(i32, i64)>, Code> {
    let epoch = partition.leader_epoch();
    if p.current_leader_epoch >= 0 && p.current_leader_epoch < epoch {
        return Err(E::FencedLeaderEpoch.code());
    }
    if p.current_leader_epoch > epoch {
        return Err(E::UnknownLeaderEpoch.code());
    }
    if p.last_fetched_epoch >= 0 {
        let (end_epoch, end_offset) = partition.end_offset_for_epoch(p.last_fetched_epoch);
        if end_offset < p.fetch_offset || end_epoch < p.last_fetched_epoch {
            return Ok(Some((end_epoch, end_offset)));
        }
    }
    if let Some(replica) = follower {
        let seen = partition
            .record_follower_fetch(replica, p.current_leader_epoch, p.fetch_offset, now)
            .map_err(|e| match e {
                ReplicaFetchError::NotLeaderOrFollower => E::NotLeaderOrFollower.code(),
                ReplicaFetchError::FencedLeaderEpoch => E::FencedLeaderEpoch.code(),
                ReplicaFetchError::UnknownLeaderEpoch => E::UnknownLeaderEpoch.code(),
            })?;
        if let Some(change) = seen.expand_isr {
            ctx.broker.alter_isr(partition.clone(), change);
        }
    }
    Ok(None)
}

/// One pass over every wanted partition, in order. Returns what each read, the bytes of
/// record data in all, and whether any partition had an error.
fn read_all(wanted: &[Wanted], isolation: Isolation, max_bytes: usize) -> (Vec<Read>, usize, bool) {
    let read_committed = isolation == Isolation::Committed;
    let mut total = 0usize;
    let mut any_error = false;
    let mut reads = Vec::with_capacity(wanted.len());
    for w in wanted {
        let index = w.key.partition;
        let offset = w.position.fetch_offset;
        let mut pd = PartitionData::default()
            .with_partition_index(index)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1)
            .with_records(Some(Bytes::new()));
        if read_committed {
            pd.aborted_transactions = Some(Vec::new());
        }
        let partition = match &w.resolved {
            Ok(p) => p,
            Err(code) => {
                pd.error_code = *code;
                any_error = true;
                reads.push(Read {
                    data: pd,
                    slices: Vec::new(),
                });
                continue;
            }
        };
        if let Some((epoch, end_offset)) = w.diverging {
            let o = partition.offsets();
            pd.high_watermark = o.high_watermark;
            pd.last_stable_offset = o.last_stable_offset;
            pd.log_start_offset = o.log_start_offset;
            pd.diverging_epoch = EpochEndOffset::default()
                .with_epoch(epoch)
                .with_end_offset(end_offset);
            reads.push(Read {
                data: pd,
                slices: Vec::new(),
            });
            continue;
        }
        let part_max = w.position.partition_max_bytes;
        let limit = (part_max.max(0) as usize).min(max_bytes.saturating_sub(total));
        // Kafka returns the first batch of the first non-empty partition even
        // when it exceeds the limits, so a consumer always makes progress.
        let min_one = total == 0;
        let read = partition.read(offset, limit, min_one, isolation);
        pd.high_watermark = read.offsets.high_watermark;
        pd.last_stable_offset = read.offsets.last_stable_offset;
        pd.log_start_offset = read.offsets.log_start_offset;
        let mut slices = Vec::new();
        match read.slices {
            Ok(found) => {
                total += found.iter().map(|s| s.len as usize).sum::<usize>();
                if !found.is_empty() {
                    pd.records = None; // placeholder: the data follows from the files
                    if read_committed {
                        // read_committed readers are told which producers' batches in
                        // the range belong to aborted transactions.
                        pd.aborted_transactions = Some(
                            read.aborted
                                .into_iter()
                                .map(|a| {
                                    AbortedTransaction::default()
                                        .with_producer_id(ProducerId(a.producer_id))
                                        .with_first_offset(a.first_offset)
                                })
                                .collect(),
                        );
                    }
                }
                slices = found;
            }
            Err(e) => {
                if !matches!(e, LogError::OffsetOutOfRange { .. }) {
                    tracing::warn!(topic = %partition.topic, partition = index, offset, "fetch read failed: {e}");
                }
                pd.error_code = log_error_code(&e).code();
                any_error = true;
            }
        }
        reads.push(Read { data: pd, slices });
    }
    (reads, total, any_error)
}

/// Encode a [`FetchReply`] body at `version` as chunks: encoded bytes with the
/// file ranges in between, byte-for-byte what kafka-protocol would encode with
/// the data in memory (a unit test holds it to that at every version).
///
/// The envelope (response and topic levels) is written here; each partition is
/// encoded by the codec with null records, whose trailing null marker (and, in
/// flexible versions, the empty tagged-field section after it) is replaced by the
/// real length and the file ranges.
pub fn encode_reply(reply: &FetchReply, version: i16) -> anyhow::Result<Vec<Chunk>> {
    use kafka_protocol::protocol::Encodable;
    let flexible = version >= 12;
    let r = &reply.response;
    anyhow::ensure!(
        r.node_endpoints.is_empty() && r.unknown_tagged_fields.is_empty(),
        "fetch envelope with tagged fields"
    );
    let mut chunks = Vec::new();
    let mut buf = BytesMut::with_capacity(1024);
    buf.put_i32(r.throttle_time_ms);
    if version >= 7 {
        buf.put_i16(r.error_code);
        buf.put_i32(r.session_id);
    }
    put_len(&mut buf, r.responses.len(), flexible);
    for (ti, t) in r.responses.iter().enumerate() {
        anyhow::ensure!(t.unknown_tagged_fields.is_empty(), "topic tagged fields");
        if version <= 12 {
            let name = t.topic.as_bytes();
            if flexible {
                put_uvarint(&mut buf, name.len() as u32 + 1);
            } else {
                buf.put_i16(name.len() as i16);
            }
            buf.put_slice(name);
        } else {
            buf.put_slice(t.topic_id.as_bytes());
        }
        put_len(&mut buf, t.partitions.len(), flexible);
        for (pi, p) in t.partitions.iter().enumerate() {
            let slices = slices_at(&reply.records, ti, pi);
            if slices.is_empty() {
                p.encode(&mut buf, version)?;
                continue;
            }
            anyhow::ensure!(
                p.records.is_none(),
                "partition with both records and file data"
            );
            let start = buf.len();
            p.encode(&mut buf, version)?;
            let tail: &[u8] = if flexible { &[0, 0] } else { &[0xff; 4] };
            anyhow::ensure!(
                buf.len() >= start + tail.len() && buf.ends_with(tail),
                "unexpected partition encoding tail"
            );
            buf.truncate(buf.len() - tail.len());
            splice_records(&mut buf, &mut chunks, slices, flexible)?;
            if flexible {
                buf.put_u8(0); // the partition's (empty) tagged fields
            }
        }
        if flexible {
            buf.put_u8(0);
        }
    }
    if flexible {
        buf.put_u8(0);
    }
    chunks.push(Chunk::Bytes(buf.freeze()));
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::context::test_chunks::{TestSegment, materialize};
    use kafka_protocol::messages::fetch_response::AbortedTransaction;
    use kafka_protocol::messages::{ProducerId, TopicName};
    use kafka_protocol::protocol::{Encodable, StrBytes};
    use uuid::Uuid;

    /// The spliced encoding equals the codec's encoding with the data in memory,
    /// at every Fetch version, for partitions with data from one or two file
    /// ranges, without data, with errors, with aborted-transaction lists.
    #[test]
    fn encode_reply_matches_the_codec_at_every_version() {
        let seg = TestSegment::new();
        let shapes = seg.shapes();
        for version in 4..=18i16 {
            let mut response = FetchResponse::default()
                .with_throttle_time_ms(3)
                .with_session_id(0);
            let mut records = Vec::new();
            let mut expected = FetchResponse::default()
                .with_throttle_time_ms(3)
                .with_session_id(0);
            for t in 0..2 {
                let mut parts = Vec::new();
                let mut exp_parts = Vec::new();
                let mut slices = Vec::new();
                for (i, shape) in shapes.iter().enumerate() {
                    let mut pd = PartitionData::default()
                        .with_partition_index(i as i32)
                        .with_high_watermark(1000 + i as i64)
                        .with_last_stable_offset(1000)
                        .with_log_start_offset(5);
                    if i % 2 == 1 {
                        pd.aborted_transactions = Some(vec![
                            AbortedTransaction::default()
                                .with_producer_id(ProducerId(9))
                                .with_first_offset(17),
                        ]);
                    } else if i == 4 {
                        pd.error_code = 1;
                    }
                    let data: Vec<u8> = shape.iter().flat_map(|s| seg.bytes(s)).collect();
                    let mut exp = pd.clone();
                    if shape.is_empty() {
                        pd.records = Some(Bytes::new());
                        exp.records = Some(Bytes::new());
                    } else {
                        pd.records = None;
                        exp.records = Some(Bytes::from(data));
                    }
                    parts.push(pd);
                    exp_parts.push(exp);
                    slices.push(shape.clone());
                }
                let name = TopicName(StrBytes::from_string(format!("topic-{t}")));
                let id = Uuid::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788 + t);
                let mk = |parts| {
                    let mut topic = FetchableTopicResponse::default().with_partitions(parts);
                    if version >= 13 {
                        topic.topic_id = id;
                    } else {
                        topic.topic = name.clone();
                    }
                    topic
                };
                response.responses.push(mk(parts));
                expected.responses.push(mk(exp_parts));
                records.push(slices);
            }
            let reply = FetchReply { response, records };
            let chunks = encode_reply(&reply, version).unwrap();
            let mut want = BytesMut::new();
            expected.encode(&mut want, version).unwrap();
            assert_eq!(materialize(&chunks), want.to_vec(), "fetch v{version}");
        }
    }
}
