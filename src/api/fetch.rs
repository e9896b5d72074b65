//! Fetch (key 1), v4–v18.
//!
//! Reads whole batches as byte ranges of the partition logs. A fetch that has
//! fewer than min_bytes parks until an append to one of its partitions wakes
//! it or max_wait_ms passes (no polling loop). Fetch sessions (KIP-227) are
//! not kept: every response has session id 0, which clients treat as "full
//! fetch every time", as Kafka does when its session cache is full.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::select_all;
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use super::RequestContext;
use super::produce::log_error_code;
use crate::cluster::Topic;

struct WantedTopic {
    topic: Option<Arc<Topic>>,
    name: TopicName,
    id: Uuid,
    partitions: Vec<(i32, i64, i32)>, // (partition, fetch offset, partition max bytes)
}

pub async fn handle(ctx: &RequestContext, req: FetchRequest) -> FetchResponse {
    let b = &ctx.broker;
    let use_ids = ctx.version >= 13;
    let wanted: Vec<WantedTopic> = req
        .topics
        .into_iter()
        .map(|t| WantedTopic {
            topic: if use_ids {
                b.topics.get_by_id(t.topic_id)
            } else {
                b.topics.get(t.topic.as_str())
            },
            name: t.topic,
            id: t.topic_id,
            partitions: t
                .partitions
                .iter()
                .map(|p| (p.partition, p.fetch_offset, p.partition_max_bytes))
                .collect(),
        })
        .collect();
    let read_committed = req.isolation_level == 1;
    let max_bytes = if req.max_bytes <= 0 {
        i32::MAX
    } else {
        req.max_bytes
    } as usize;
    let min_bytes = req.min_bytes.max(0) as usize;
    let deadline = Instant::now() + Duration::from_millis(req.max_wait_ms.max(0) as u64);

    loop {
        // Subscribe before reading, so an append between the read and the wait still wakes us.
        let mut wakers: Vec<watch::Receiver<i64>> = Vec::new();
        for w in &wanted {
            if let Some(t) = &w.topic {
                for &(p, _, _) in &w.partitions {
                    if let Some(part) = t.partition(p) {
                        wakers.push(part.subscribe());
                    }
                }
            }
        }
        let (response, bytes, errors) = read_all(&wanted, use_ids, read_committed, max_bytes);
        if bytes >= min_bytes || errors || bytes >= max_bytes || Instant::now() >= deadline {
            return response;
        }
        if wakers.is_empty() {
            tokio::time::sleep_until(deadline).await;
            continue;
        }
        let changed = select_all(wakers.iter_mut().map(|rx| Box::pin(rx.changed())));
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            // Timed out: one last read, which may still be short of min_bytes.
            return read_all(&wanted, use_ids, read_committed, max_bytes).0;
        }
    }
}

/// One pass over every requested partition. Returns the response, the bytes
/// of record data in it, and whether any partition had an error.
fn read_all(
    wanted: &[WantedTopic],
    use_ids: bool,
    read_committed: bool,
    max_bytes: usize,
) -> (FetchResponse, usize, bool) {
    let mut total = 0usize;
    let mut any_error = false;
    let mut topics = Vec::with_capacity(wanted.len());
    for w in wanted {
        let mut parts = Vec::with_capacity(w.partitions.len());
        for &(index, offset, part_max) in &w.partitions {
            let mut pd = PartitionData::default()
                .with_partition_index(index)
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1)
                .with_records(Some(Bytes::new()));
            if read_committed {
                pd.aborted_transactions = Some(Vec::new());
            }
            let partition = w.topic.as_ref().and_then(|t| t.partition(index));
            let Some(partition) = partition else {
                let code = if use_ids && w.topic.is_none() {
                    E::UnknownTopicId
                } else {
                    E::UnknownTopicOrPartition
                };
                pd.error_code = code.code();
                any_error = true;
                parts.push(pd);
                continue;
            };
            let st = partition.state.lock();
            let (start, end) = (st.log.log_start_offset(), st.log.log_end_offset());
            pd.high_watermark = end;
            pd.last_stable_offset = end;
            pd.log_start_offset = start;
            if offset < start || offset > end {
                pd.error_code = E::OffsetOutOfRange.code();
                any_error = true;
                parts.push(pd);
                continue;
            }
            let limit = (part_max.max(0) as usize).min(max_bytes.saturating_sub(total));
            // Kafka returns the first batch of the first non-empty partition even
            // when it exceeds the limits, so a consumer always makes progress.
            let min_one = total == 0;
            if offset < end && (limit > 0 || min_one) {
                match st.log.read(offset, limit, min_one) {
                    Ok(data) => {
                        total += data.len();
                        pd.records = Some(data);
                    }
                    Err(e) => {
                        tracing::warn!(topic = %partition.topic, partition = index, offset, "fetch read failed: {e}");
                        pd.error_code = log_error_code(&e).code();
                        any_error = true;
                    }
                }
            }
            drop(st);
            parts.push(pd);
        }
        let mut t = FetchableTopicResponse::default().with_partitions(parts);
        if use_ids {
            t.topic_id = w.id;
        } else {
            t.topic = w.name.clone();
        }
        topics.push(t);
    }
    (
        FetchResponse::default().with_responses(topics),
        total,
        any_error,
    )
}
