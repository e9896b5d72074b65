//! ShareFetch (key 78), v1–2 (KIP-932; design docs/design/share-groups.md §7): a share
//! consumer's fetch. Records are not fetched from an offset the client chose but acquired for
//! the member: whole batches go out with the `AcquiredRecords` ranges the member holds, locked
//! for `AcquisitionLockTimeoutMs`.
//!
//! Order (Kafka `KafkaApis.handleShareFetchRequest`, design §7.2): group and member ids
//! (INVALID_REQUEST), READ on the group (GROUP_AUTHORIZATION_FAILED), the share session
//! (`broker/share_sessions.rs`; its refusals are top-level errors), each partition (unknown
//! topic id, partition not here, READ on the topic), the piggy-backed acknowledgements
//! (`AcknowledgeErrorCode`), then acquisition over the session's partitions within
//! `MaxRecords` and `MaxBytes` (at least one batch). When nothing can be acquired the fetch
//! parks on the partitions' progress watches and the share-partitions' availability watches
//! until `MaxWaitMs` (no polling). The final epoch (-1) acknowledges, fetches nothing and ends
//! the session, releasing the member's records.
//!
//! The group and member come from the request: ShareFetch does not check that the member is
//! in the group or assigned the partitions (as Kafka, design §15 q10).
//!
//! v2 (Kafka 4.2, design §7.8): `ShareAcquireMode` 1 (record-limit, KIP-1206) acquires at most
//! `MaxRecords` records, cutting a batch; `IsRenewAck` (KIP-1222) allows acknowledge type 4,
//! RENEW, which restarts the lock of records the member holds. A renewing fetch must set
//! `MaxBytes`, `MinBytes`, `MaxRecords` and `MaxWaitMs` to 0 (else INVALID_REQUEST) and
//! fetches nothing, as Kafka's does: the client sends one to renew, and a fetch would only eat
//! into the renewed lock. RENEW without `IsRenewAck`, or in a v1 request, is INVALID_REQUEST
//! for that partition's acknowledgements.
//!
//! Differences from Kafka: `MinBytes` is met by anything acquired (records once acquired are
//! answered at once rather than held while waiting for more; clients send 1); `BatchSize` is
//! ignored (design §15 q3); `MaxRecords` goes to the session's partitions in turn, starting one
//! further on at each epoch, rather than divided over them.
//!
//! The records stay in the segment files until written to the socket: [`encode_reply`] splices
//! the batches' file ranges into the response, as `fetch.rs` does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use futures::future::select_all;
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::share_fetch_response::{
    AcquiredRecords, LeaderIdAndEpoch, PartitionData, ShareFetchableTopicResponse,
};
use kafka_protocol::messages::{ShareFetchRequest, ShareFetchResponse};
use tokio::time::Instant;
use uuid::Uuid;

use super::context::{Chunk, RequestContext, put_uvarint, slices_at, splice_records};
use crate::broker::TopicRef;
use crate::broker::share_sessions::{ShareSessionError, ShareSessionKey, ShareTopicPartition};
use crate::error::Code;
use crate::log::FileSlice;
use crate::partition::Partition;
use crate::security::acl::AclOperation;
use crate::share::{
    AcknowledgementBatch, AcquireLimits, Acquisition, SharePartitionKey, StatePersister,
};

/// A ShareFetch response whose record data stays in the segment files: `records[t][p]` are
/// the batches of topic `t`, partition `p` of the response (empty: the partition's `records`
/// field is used as is).
pub struct ShareFetchReply {
    pub response: ShareFetchResponse,
    pub records: Vec<Vec<Vec<FileSlice>>>,
}

/// One partition of the fetch: how it resolved here.
struct Wanted {
    tp: ShareTopicPartition,
    resolved: Result<Arc<Partition>, Code>,
    /// The result of its piggy-backed acknowledgements, when it had some.
    ack: Option<Code>,
    acquired: Acquisition,
    /// An acquisition error (a failed read).
    error: Code,
}

/// `ShareAcquireMode` values (KIP-1206; Kafka `ShareAcquireMode`).
pub const SHARE_ACQUIRE_MODE_BATCH_OPTIMIZED: i8 = 0;
pub const SHARE_ACQUIRE_MODE_RECORD_LIMIT: i8 = 1;

/// Whether a partition's acknowledgements use RENEW (type 4) where the request may not: below
/// v2, or without `IsRenewAck` (Kafka refuses both with INVALID_REQUEST, KIP-1222).
pub fn renew_refused(version: i16, is_renew_ack: bool, batches: &[AcknowledgementBatch]) -> bool {
    !(version >= 2 && is_renew_ack) && batches.iter().any(AcknowledgementBatch::renews)
}

pub async fn handle(ctx: &RequestContext, req: ShareFetchRequest) -> ShareFetchReply {
    let b = &ctx.broker;
    let group = req.group_id.as_ref().map_or("", |g| g.as_str()).to_string();
    let member = req
        .member_id
        .as_ref()
        .map_or("", |m| m.as_str())
        .to_string();
    if group.is_empty() || member.is_empty() {
        return top_error(E::InvalidRequest.code());
    }
    if !ctx.authorize_group(AclOperation::Read, &group) {
        return top_error(E::GroupAuthorizationFailed.code());
    }
    // v2 fields (decoded as 0 / false below v2).
    let renewing = req.is_renew_ack;
    if renewing
        && (req.max_bytes != 0
            || req.min_bytes != 0
            || req.max_records != 0
            || req.max_wait_ms != 0)
    {
        return top_error(E::InvalidRequest.code());
    }
    if !matches!(
        req.share_acquire_mode,
        SHARE_ACQUIRE_MODE_BATCH_OPTIMIZED | SHARE_ACQUIRE_MODE_RECORD_LIMIT
    ) {
        return top_error(E::InvalidRequest.code());
    }
    let mut added: Vec<ShareTopicPartition> = Vec::new();
    let mut acks: Vec<(ShareTopicPartition, Vec<AcknowledgementBatch>)> = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            let tp = (t.topic_id, p.partition_index);
            added.push(tp);
            if !p.acknowledgement_batches.is_empty() {
                let batches = p
                    .acknowledgement_batches
                    .iter()
                    .map(|a| AcknowledgementBatch {
                        first_offset: a.first_offset,
                        last_offset: a.last_offset,
                        acknowledge_types: a.acknowledge_types.clone(),
                    })
                    .collect();
                acks.push((tp, batches));
            }
        }
    }
    let forgotten: Vec<ShareTopicPartition> = req
        .forgotten_topics_data
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |&p| (t.topic_id, p)))
        .collect();
    let key = ShareSessionKey {
        group_id: group.clone(),
        member_id: member.clone(),
    };
    let now = b.now_ms();
    let context = match b.share_sessions.fetch_context(
        &key,
        req.share_session_epoch,
        ctx.conn.conn_id,
        &added,
        &forgotten,
        !acks.is_empty(),
        now,
    ) {
        Ok(context) => context,
        Err(e) => return top_error(session_error_code(e)),
    };
    for evicted in &context.evicted {
        b.end_share_session(evicted).await;
    }
    let settings = b.share_settings(&group);
    let reset = b.share_auto_offset_reset(&group);
    let read_committed = b.share_read_committed(&group);

    let mut partitions = context.partitions.clone();
    for (tp, _) in &acks {
        if !partitions.contains(tp) {
            partitions.push(*tp);
        }
    }
    let mut wanted: Vec<Wanted> = partitions
        .into_iter()
        .map(|tp| Wanted {
            tp,
            resolved: resolve(ctx, tp),
            ack: None,
            acquired: Acquisition::default(),
            error: 0,
        })
        .collect();
    let spk = |tp: ShareTopicPartition| SharePartitionKey {
        group_id: group.clone(),
        topic_id: tp.0,
        partition: tp.1,
    };
    let persister = b.share_persister();
    for (tp, batches) in &acks {
        let Some(w) = wanted.iter_mut().find(|w| w.tp == *tp) else {
            continue;
        };
        w.ack = Some(match &w.resolved {
            Ok(_) if renew_refused(ctx.version, renewing, batches) => E::InvalidRequest.code(),
            Ok(p) => b
                .shares
                .acknowledge(
                    &spk(*tp),
                    &member,
                    batches,
                    now,
                    &settings,
                    p.leader_epoch(),
                    &*persister,
                )
                .await
                .map_or_else(|e| e.code(), |()| 0),
            Err(code) => *code,
        });
    }
    if context.closing {
        b.end_share_session(&key).await;
        return respond(ctx, false, settings.record_lock_duration_ms, wanted);
    }

    // A renewing fetch fetches nothing (its limits are 0 anyway).
    let fetching = !renewing && req.max_records > 0 && req.max_bytes > 0;
    let deadline = Instant::now() + Duration::from_millis(req.max_wait_ms.max(0) as u64);
    let errors = wanted.iter().any(|w| w.resolved.is_err());
    loop {
        if !fetching {
            break;
        }
        // Subscribe before trying, so a produce or release between the try and the wait still
        // wakes us.
        let mut progress = Vec::new();
        let mut available = Vec::new();
        for w in &mut wanted {
            if let Ok(p) = &w.resolved {
                progress.push(p.subscribe());
                match b
                    .shares
                    .subscribe(&spk(w.tp), p, reset, b.now_ms(), &*persister)
                    .await
                {
                    Ok(rx) => available.push(rx),
                    Err(e) => w.error = e.code(),
                }
            }
        }
        let got = acquire_all(
            ctx,
            &member,
            &req,
            &settings,
            reset,
            read_committed,
            &mut wanted,
            &spk,
            &*persister,
        )
        .await;
        let failed = wanted.iter().any(|w| w.error != 0);
        if got || errors || failed || progress.is_empty() || Instant::now() >= deadline {
            break;
        }
        let waits: Vec<Pin<Box<dyn Future<Output = bool> + Send + '_>>> = progress
            .iter_mut()
            .map(|rx| Box::pin(async move { rx.changed().await.is_ok() }) as Pin<Box<_>>)
            .chain(
                available
                    .iter_mut()
                    .map(|rx| Box::pin(async move { rx.changed().await.is_ok() }) as Pin<Box<_>>),
            )
            .collect();
        match tokio::time::timeout_at(deadline, select_all(waits)).await {
            Ok((true, _, _)) => {}
            // Timed out (or a watch is gone): one last try.
            _ => {
                acquire_all(
                    ctx,
                    &member,
                    &req,
                    &settings,
                    reset,
                    read_committed,
                    &mut wanted,
                    &spk,
                    &*persister,
                )
                .await;
                break;
            }
        }
    }
    let full = req.share_session_epoch == 0;
    respond(ctx, full, settings.record_lock_duration_ms, wanted)
}

/// One pass over the partitions, acquiring within what `MaxRecords` and `MaxBytes` leave.
/// True if anything was acquired.
#[allow(clippy::too_many_arguments)]
async fn acquire_all(
    ctx: &RequestContext,
    member: &str,
    req: &ShareFetchRequest,
    settings: &crate::share::ShareSettings,
    reset: crate::config::group::ShareAutoOffsetReset,
    read_committed: bool,
    wanted: &mut [Wanted],
    spk: &(dyn Fn(ShareTopicPartition) -> SharePartitionKey + Sync),
    persister: &dyn StatePersister,
) -> bool {
    let b = &ctx.broker;
    let mut records_left = req.max_records as i64;
    let mut bytes_left = req.max_bytes as i64;
    let mut any = false;
    // Start one partition further on each epoch, so a partition with a backlog does not take
    // every fetch's `MaxRecords` (Kafka divides them over the partitions instead).
    let start = if wanted.is_empty() {
        0
    } else {
        req.share_session_epoch.max(0) as usize % wanted.len()
    };
    let (tail, head) = wanted.split_at_mut(start);
    for w in head.iter_mut().chain(tail.iter_mut()) {
        let Ok(p) = &w.resolved else { continue };
        if records_left <= 0 || bytes_left <= 0 {
            break;
        }
        let limits = AcquireLimits {
            max_records: records_left,
            max_bytes: bytes_left.min(i32::MAX as i64) as i32,
            record_limit: req.share_acquire_mode == SHARE_ACQUIRE_MODE_RECORD_LIMIT,
            read_committed,
        };
        match b
            .shares
            .acquire(
                &spk(w.tp),
                p,
                member,
                b.now_ms(),
                limits,
                settings,
                reset,
                persister,
            )
            .await
        {
            Ok(acq) if !acq.records.is_empty() => {
                records_left -= acq
                    .records
                    .iter()
                    .map(|r| r.last_offset - r.first_offset + 1)
                    .sum::<i64>();
                bytes_left -= acq.bytes() as i64;
                any = true;
                w.acquired = acq;
            }
            Ok(_) => {}
            Err(e) => w.error = e.code(),
        }
    }
    any
}

/// The partition of this broker that `tp` names, if the principal may READ it.
fn resolve(ctx: &RequestContext, (id, index): ShareTopicPartition) -> Result<Arc<Partition>, Code> {
    let part = ctx.broker.leader_partition(TopicRef::Id(id), index)?;
    if !ctx.authorize_topic(AclOperation::Read, &part.topic) {
        return Err(E::TopicAuthorizationFailed.code());
    }
    Ok(part)
}

/// The leader of a partition as the response names it (this broker), or unknown.
pub fn current_leader(ctx: &RequestContext, resolved: &Result<Arc<Partition>, Code>) -> (i32, i32) {
    match resolved {
        Ok(p) => (ctx.broker.node_id, p.leader_epoch()),
        Err(_) => (-1, -1),
    }
}

/// Session refusals as Kafka's codes.
pub fn session_error_code(e: ShareSessionError) -> Code {
    match e {
        ShareSessionError::NotFound => E::ShareSessionNotFound,
        ShareSessionError::InvalidEpoch => E::InvalidShareSessionEpoch,
        ShareSessionError::LimitReached => E::ShareSessionLimitReached,
        ShareSessionError::InvalidRequest => E::InvalidRequest,
    }
    .code()
}

fn top_error(code: Code) -> ShareFetchReply {
    ShareFetchReply {
        response: ShareFetchResponse::default().with_error_code(code),
        records: Vec::new(),
    }
}

/// The answer: every partition on a full fetch (epoch 0), else the ones with something to say
/// (records, an error, an acknowledgement result); topics grouped as they come.
fn respond(ctx: &RequestContext, full: bool, lock_ms: i64, wanted: Vec<Wanted>) -> ShareFetchReply {
    let mut topics: Vec<ShareFetchableTopicResponse> = Vec::new();
    let mut records: Vec<Vec<Vec<FileSlice>>> = Vec::new();
    let mut last: Option<Uuid> = None;
    for w in wanted {
        let error = match &w.resolved {
            Ok(_) => w.error,
            Err(code) => *code,
        };
        let has_records = !w.acquired.records.is_empty();
        if !(full || has_records || error != 0 || w.ack.is_some()) {
            continue;
        }
        if last != Some(w.tp.0) {
            topics.push(ShareFetchableTopicResponse::default().with_topic_id(w.tp.0));
            records.push(Vec::new());
            last = Some(w.tp.0);
        }
        let (leader_id, leader_epoch) = current_leader(ctx, &w.resolved);
        if has_records && let Ok(p) = &w.resolved {
            let m = &ctx.broker.metrics;
            m.fetched(&m.topic(&p.topic), w.acquired.bytes());
        }
        let data = PartitionData::default()
            .with_partition_index(w.tp.1)
            .with_error_code(error)
            .with_acknowledge_error_code(w.ack.unwrap_or(0))
            .with_current_leader(
                LeaderIdAndEpoch::default()
                    .with_leader_id(leader_id)
                    .with_leader_epoch(leader_epoch),
            )
            .with_records(if w.acquired.batches.is_empty() {
                // Never null at v1; with file data, the placeholder `encode_reply` fills.
                Some(bytes::Bytes::new())
            } else {
                None
            })
            .with_acquired_records(
                w.acquired
                    .records
                    .iter()
                    .map(|r| {
                        AcquiredRecords::default()
                            .with_first_offset(r.first_offset)
                            .with_last_offset(r.last_offset)
                            .with_delivery_count(r.delivery_count)
                    })
                    .collect(),
            );
        if let (Some(t), Some(rs)) = (topics.last_mut(), records.last_mut()) {
            t.partitions.push(data);
            rs.push(w.acquired.batches);
        }
    }
    ShareFetchReply {
        response: ShareFetchResponse::default()
            .with_acquisition_lock_timeout_ms(lock_ms.clamp(0, i32::MAX as i64) as i32)
            .with_responses(topics),
        records,
    }
}

fn put_compact_string(buf: &mut BytesMut, s: &Option<kafka_protocol::protocol::StrBytes>) {
    match s {
        None => put_uvarint(buf, 0),
        Some(s) => {
            put_uvarint(buf, s.len() as u32 + 1);
            buf.put_slice(s.as_bytes());
        }
    }
}

fn put_compact_array<T: kafka_protocol::protocol::Encodable>(
    buf: &mut BytesMut,
    items: &[T],
    version: i16,
) -> anyhow::Result<()> {
    put_uvarint(buf, items.len() as u32 + 1);
    for item in items {
        item.encode(buf, version)?;
    }
    Ok(())
}

/// Encode a [`ShareFetchReply`] body (v1–2: v2 changed only the request) as chunks: encoded bytes with the
/// batches' file ranges in between, byte for byte what kafka-protocol encodes with the data in
/// memory (a unit test holds it to that). A partition with file data has `records: None` as a
/// placeholder; its fields around the records are written here, the rest by the codec.
pub fn encode_reply(reply: &ShareFetchReply, version: i16) -> anyhow::Result<Vec<Chunk>> {
    use kafka_protocol::protocol::Encodable;
    anyhow::ensure!((1..=2).contains(&version), "ShareFetch v{version}");
    let r = &reply.response;
    anyhow::ensure!(
        r.unknown_tagged_fields.is_empty(),
        "share fetch envelope with tagged fields"
    );
    let mut chunks = Vec::new();
    let mut buf = BytesMut::with_capacity(1024);
    buf.put_i32(r.throttle_time_ms);
    buf.put_i16(r.error_code);
    put_compact_string(&mut buf, &r.error_message);
    buf.put_i32(r.acquisition_lock_timeout_ms);
    put_uvarint(&mut buf, r.responses.len() as u32 + 1);
    for (ti, t) in r.responses.iter().enumerate() {
        anyhow::ensure!(t.unknown_tagged_fields.is_empty(), "topic tagged fields");
        buf.put_slice(t.topic_id.as_bytes());
        put_uvarint(&mut buf, t.partitions.len() as u32 + 1);
        for (pi, p) in t.partitions.iter().enumerate() {
            let slices = slices_at(&reply.records, ti, pi);
            if slices.is_empty() {
                p.encode(&mut buf, version)?;
                continue;
            }
            anyhow::ensure!(
                p.records.is_none() && p.unknown_tagged_fields.is_empty(),
                "partition with both records and file data"
            );
            buf.put_i32(p.partition_index);
            buf.put_i16(p.error_code);
            put_compact_string(&mut buf, &p.error_message);
            buf.put_i16(p.acknowledge_error_code);
            put_compact_string(&mut buf, &p.acknowledge_error_message);
            p.current_leader.encode(&mut buf, version)?;
            splice_records(&mut buf, &mut chunks, slices, true)?;
            put_compact_array(&mut buf, &p.acquired_records, version)?;
            buf.put_u8(0); // the partition's (empty) tagged fields
        }
        buf.put_u8(0);
    }
    put_compact_array(&mut buf, &r.node_endpoints, version)?;
    buf.put_u8(0);
    chunks.push(Chunk::Bytes(buf.freeze()));
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::context::test_chunks::{TestSegment, materialize};
    use bytes::Bytes;
    use kafka_protocol::protocol::Encodable;

    /// The spliced encoding equals the codec's with the data in memory: partitions with one or
    /// two file ranges (lengths around the varint boundary), without data, with errors and
    /// acknowledgement results.
    #[test]
    fn encode_reply_matches_the_codec() {
        let seg = TestSegment::new();
        let shapes = seg.shapes();
        let mut response = ShareFetchResponse::default()
            .with_throttle_time_ms(3)
            .with_acquisition_lock_timeout_ms(30_000);
        let mut expected = response.clone();
        let mut records = Vec::new();
        for t in 0..2u128 {
            let mut parts = Vec::new();
            let mut exp_parts = Vec::new();
            let mut slices = Vec::new();
            for (i, shape) in shapes.iter().enumerate() {
                let mut pd = PartitionData::default()
                    .with_partition_index(i as i32)
                    .with_acknowledge_error_code(if i == 1 { 121 } else { 0 })
                    .with_current_leader(
                        LeaderIdAndEpoch::default()
                            .with_leader_id(1)
                            .with_leader_epoch(i as i32),
                    )
                    .with_acquired_records(
                        (0..i as i64)
                            .map(|k| {
                                AcquiredRecords::default()
                                    .with_first_offset(k * 10)
                                    .with_last_offset(k * 10 + 4)
                                    .with_delivery_count(k as i16 + 1)
                            })
                            .collect(),
                    );
                if i == 4 {
                    pd.error_code = 3;
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
            let id = Uuid::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788 + t);
            response.responses.push(
                ShareFetchableTopicResponse::default()
                    .with_topic_id(id)
                    .with_partitions(parts),
            );
            expected.responses.push(
                ShareFetchableTopicResponse::default()
                    .with_topic_id(id)
                    .with_partitions(exp_parts),
            );
            records.push(slices);
        }
        let reply = ShareFetchReply { response, records };
        for version in 1..=2 {
            let chunks = encode_reply(&reply, version).unwrap();
            let mut want = BytesMut::new();
            expected.encode(&mut want, version).unwrap();
            assert_eq!(materialize(&chunks), want.to_vec(), "v{version}");
        }
    }
}
