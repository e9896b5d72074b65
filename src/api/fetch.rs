//! Fetch (key 1), v0–v18.
//!
//! v0–v3 (old clients, message formats v0/v1) read the same way and then
//! down-convert each partition's batches into the message format the version
//! implies (v0 for Fetch v0–v1, v1 for v2–v3), in memory and bounded by the
//! partition's max bytes; control batches and aborted transactions' data are
//! not shown.
//!
//! Reads whole batches as byte ranges of the partition logs. A fetch that has
//! fewer than min_bytes parks until an append to one of its partitions wakes
//! it or max_wait_ms passes (no polling loop). Fetch sessions (KIP-227) are
//! not kept: every response has session id 0, which clients treat as "full
//! fetch every time", as Kafka does when its session cache is full.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::select_all;
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::ProducerId;
use kafka_protocol::messages::fetch_request::FetchPartition;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use super::context::{Chunk, RequestContext, log_error_code};
use crate::broker::TopicRef;
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

struct WantedTopic {
    /// Each wanted partition as this broker serves it: its leader copy, or the error code.
    resolved: Vec<Result<Arc<Partition>, Code>>,
    /// Where the fetcher's log diverged from the leader's (`(epoch, end offset)` to truncate
    /// to): no data is read for it.
    diverging: Vec<Option<(i32, i64)>>,
    name: TopicName,
    id: Uuid,
    partitions: Vec<(i32, i64, i32)>, // (partition, fetch offset, partition max bytes)
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
    // A follower needs ClusterAction on the cluster, a consumer Read on each topic (Kafka's
    // checks; unauthorized partitions are TOPIC_AUTHORIZATION_FAILED either way).
    let follower_allowed = follower.is_none() || ctx.authorize_cluster(AclOperation::ClusterAction);
    let authorized = |topic: &str| match follower {
        Some(_) => follower_allowed,
        None => ctx.authorize_topic(AclOperation::Read, topic),
    };
    let denied = E::TopicAuthorizationFailed.code();
    let now = b.now_ms();
    let wanted: Vec<WantedTopic> = req
        .topics
        .into_iter()
        .map(|t| {
            let mut resolved = Vec::with_capacity(t.partitions.len());
            let mut diverging = Vec::with_capacity(t.partitions.len());
            for p in &t.partitions {
                let at = if use_ids {
                    TopicRef::Id(t.topic_id)
                } else {
                    TopicRef::Name(t.topic.as_str())
                };
                let (r, d) = match b.leader_partition(at, p.partition) {
                    _ if !use_ids && !authorized(t.topic.as_str()) => (Err(denied), None),
                    Ok(part) if use_ids && !authorized(&part.topic) => (Err(denied), None),
                    Ok(part) => check_fetch(ctx, follower, &part, p, now)
                        .map_or_else(|code| (Err(code), None), |d| (Ok(part), d)),
                    Err(code) => (Err(code), None),
                };
                resolved.push(r);
                diverging.push(d);
            }
            WantedTopic {
                resolved,
                diverging,
                name: t.topic,
                id: t.topic_id,
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| (p.partition, p.fetch_offset, p.partition_max_bytes))
                    .collect(),
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

    loop {
        // Subscribe before reading, so an append between the read and the wait still wakes us.
        let mut wakers: Vec<watch::Receiver<Progress>> = Vec::new();
        for w in &wanted {
            for part in w.resolved.iter().flatten() {
                wakers.push(part.subscribe());
            }
        }
        let (reply, bytes, errors) = read_all(&wanted, use_ids, isolation, max_bytes);
        if bytes >= min_bytes || errors || bytes >= max_bytes || Instant::now() >= deadline {
            return finish(ctx.version, &wanted, reply);
        }
        if wakers.is_empty() {
            tokio::time::sleep_until(deadline).await;
            continue;
        }
        let changed = select_all(wakers.iter_mut().map(|rx| Box::pin(rx.changed())));
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            // Timed out: one last read, which may still be short of min_bytes.
            let reply = read_all(&wanted, use_ids, isolation, max_bytes).0;
            return finish(ctx.version, &wanted, reply);
        }
    }
}

/// The reply as the request's version needs it: v4+ as read, v0–v3 down-converted.
fn finish(version: i16, wanted: &[WantedTopic], mut reply: FetchReply) -> FetchReply {
    if version > 3 {
        return reply;
    }
    let magic = if version <= 1 { 0 } else { 1 };
    for ((w, t), slices) in wanted
        .iter()
        .zip(reply.response.responses.iter_mut())
        .zip(reply.records.iter_mut())
    {
        for (((&(index, offset, part_max), pd), slices), resolved) in w
            .partitions
            .iter()
            .zip(t.partitions.iter_mut())
            .zip(slices.iter_mut())
            .zip(&w.resolved)
        {
            let taken = std::mem::take(slices);
            if taken.is_empty() {
                continue;
            }
            // Data was read, so the partition resolved.
            let Ok(partition) = resolved else {
                continue;
            };
            let max_bytes = part_max.max(0) as usize;
            match down_convert_partition(partition, &taken, magic, offset, max_bytes) {
                Ok(messages) => pd.records = Some(Bytes::from(messages)),
                Err(e) => {
                    tracing::warn!(partition = index, offset, "down-conversion failed: {e}");
                    pd.error_code = log_error_code(&e).code();
                    pd.records = Some(Bytes::new());
                }
            }
        }
    }
    reply
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

/// One pass over every requested partition. Returns the response, the bytes
/// of record data in it, and whether any partition had an error.
/// Before reading a partition for a fetch (Kafka's `Partition.fetchRecords` checks): the
/// fetcher's leader epoch against this leader's (FENCED_LEADER_EPOCH when older,
/// UNKNOWN_LEADER_EPOCH when newer); its last fetched epoch against this log's epochs, giving
/// the diverging epoch to truncate to (KIP-320, KIP-595); and for a follower, what its fetch
/// tells the leader (its log end; the ISR it may join, asked of the controller here).
fn check_fetch(
    ctx: &RequestContext,
    follower: Option<i32>,
    partition: &Arc<Partition>,
    p: &FetchPartition,
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

fn read_all(
    wanted: &[WantedTopic],
    use_ids: bool,
    isolation: Isolation,
    max_bytes: usize,
) -> (FetchReply, usize, bool) {
    let read_committed = isolation == Isolation::Committed;
    let mut total = 0usize;
    let mut any_error = false;
    let mut topics = Vec::with_capacity(wanted.len());
    let mut records = Vec::with_capacity(wanted.len());
    for w in wanted {
        let mut parts = Vec::with_capacity(w.partitions.len());
        let mut part_records = Vec::with_capacity(w.partitions.len());
        for (i, &(index, offset, part_max)) in w.partitions.iter().enumerate() {
            let mut pd = PartitionData::default()
                .with_partition_index(index)
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1)
                .with_records(Some(Bytes::new()));
            if read_committed {
                pd.aborted_transactions = Some(Vec::new());
            }
            let partition = match &w.resolved[i] {
                Ok(p) => Ok(p.clone()),
                Err(code) => Err(*code),
            };
            let Ok(partition) = partition else {
                pd.error_code = partition.err().unwrap_or_default();
                any_error = true;
                parts.push(pd);
                part_records.push(Vec::new());
                continue;
            };
            if let Some((epoch, end_offset)) = w.diverging[i] {
                let o = partition.offsets();
                pd.high_watermark = o.high_watermark;
                pd.last_stable_offset = o.last_stable_offset;
                pd.log_start_offset = o.log_start_offset;
                pd.diverging_epoch = EpochEndOffset::default()
                    .with_epoch(epoch)
                    .with_end_offset(end_offset);
                parts.push(pd);
                part_records.push(Vec::new());
                continue;
            }
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
            parts.push(pd);
            part_records.push(slices);
        }
        let mut t = FetchableTopicResponse::default().with_partitions(parts);
        if use_ids {
            t.topic_id = w.id;
        } else {
            t.topic = w.name.clone();
        }
        topics.push(t);
        records.push(part_records);
    }
    let reply = FetchReply {
        response: FetchResponse::default().with_responses(topics),
        records,
    };
    (reply, total, any_error)
}

fn put_uvarint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

fn put_len(buf: &mut BytesMut, n: usize, flexible: bool) {
    if flexible {
        put_uvarint(buf, n as u32 + 1);
    } else {
        buf.put_i32(n as i32);
    }
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
            let slices = reply
                .records
                .get(ti)
                .and_then(|ps| ps.get(pi))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
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
            let total: u64 = slices.iter().map(|s| s.len).sum();
            anyhow::ensure!(total < i32::MAX as u64, "fetch data too large");
            put_len(&mut buf, total as usize, flexible);
            chunks.push(Chunk::Bytes(buf.split().freeze()));
            chunks.extend(slices.iter().cloned().map(Chunk::File));
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
    use kafka_protocol::messages::fetch_response::AbortedTransaction;
    use kafka_protocol::messages::{ProducerId, TopicName};
    use kafka_protocol::protocol::{Encodable, StrBytes};
    use std::io::Write;

    fn materialize(chunks: &[Chunk]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            match c {
                Chunk::Bytes(b) => out.extend_from_slice(b),
                Chunk::File(f) => out.extend_from_slice(&f.read().unwrap()),
            }
        }
        out
    }

    /// The spliced encoding equals the codec's encoding with the data in memory,
    /// at every Fetch version, for partitions with data from one or two file
    /// ranges, without data, with errors, with aborted-transaction lists.
    #[test]
    fn encode_reply_matches_the_codec_at_every_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let content: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&content)
            .unwrap();
        let file = Arc::new(std::fs::File::open(&path).unwrap());
        let slice = |position: u64, len: u64| FileSlice {
            file: file.clone(),
            position,
            len,
            verified: None,
        };
        // Lengths that cross the 1-byte/2-byte varint boundary (127/128) and a large one.
        let shapes: Vec<Vec<FileSlice>> = vec![
            vec![slice(0, 10)],
            vec![slice(100, 126)],
            vec![slice(100, 127)],
            vec![slice(3, 200), slice(1000, 3000)],
            vec![],
        ];
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
                    let data: Vec<u8> = shape
                        .iter()
                        .flat_map(|s| {
                            content[s.position as usize..(s.position + s.len) as usize].to_vec()
                        })
                        .collect();
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
