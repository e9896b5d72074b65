//! Produce (key 0): served v3–v13, advertised from v0 (see `api::SUPPORTED`).
//!
//! Batches are validated (size, magic, CRC-32C) and appended as the producer
//! sent them; only base offset and leader epoch are rewritten, inside the log.
//! Idempotent batches go through the partition's producer state first: a
//! retried batch is acknowledged with its original offsets, a gap is refused
//! with OUT_OF_ORDER_SEQUENCE_NUMBER.

use bytes::BytesMut;
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::{RequestContext, log_error_code, str_bytes};
use crate::cluster::{Partition, Topic};
use crate::log::{stamp_log_append_time, validate_batches};
use crate::txn::coordinator::TxnProducer;
use crate::txn::producer_state::{BatchMetadata, ProducerStateError, SequenceCheck, last_sequence};

/// The leader epoch fjord stamps on batches: a single broker never changes leader.
pub const LEADER_EPOCH: i32 = 0;

pub fn handle(ctx: &RequestContext, req: ProduceRequest) -> Option<ProduceResponse> {
    let b = &ctx.broker;
    let use_ids = ctx.version >= 13;
    let acks_ok = matches!(req.acks, -1..=1);
    let now = b.now_ms();
    let txn_id = req
        .transactional_id
        .as_ref()
        .map(|t| t.as_str().to_string());
    let mut responses = Vec::with_capacity(req.topic_data.len());
    for td in req.topic_data {
        let topic = if use_ids {
            b.topics.get_by_id(td.topic_id)
        } else {
            b.topics.get(td.name.as_str())
        };
        let missing = if use_ids {
            E::UnknownTopicId
        } else {
            E::UnknownTopicOrPartition
        };
        let partitions = td
            .partition_data
            .into_iter()
            .map(|pd| {
                let index = pd.index;
                let r = if !acks_ok {
                    error(E::InvalidRequiredAcks, None)
                } else {
                    match &topic {
                        None => error(missing, None),
                        Some(t) => produce_partition(ctx, txn_id.as_deref(), t, pd, now),
                    }
                };
                r.with_index(index)
            })
            .collect();
        let mut resp = TopicProduceResponse::default().with_partition_responses(partitions);
        if use_ids {
            resp.topic_id = td.topic_id;
        } else {
            resp.name = td.name;
        }
        responses.push(resp);
    }
    if req.acks == 0 {
        return None;
    }
    Some(ProduceResponse::default().with_responses(responses))
}

fn error(code: E, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_error_code(code.code())
        .with_base_offset(-1)
        .with_log_start_offset(-1)
        .with_error_message(message.map(str_bytes))
}

fn produce_partition(
    ctx: &RequestContext,
    transactional_id: Option<&str>,
    topic: &Topic,
    pd: PartitionProduceData,
    now: i64,
) -> PartitionProduceResponse {
    let Some(partition) = topic.partition(pd.index) else {
        return error(E::UnknownTopicOrPartition, None);
    };
    let Some(records) = pd.records.filter(|r| !r.is_empty()) else {
        return error(
            E::InvalidRecord,
            Some("produce request carries no record batch".into()),
        );
    };
    let settings = topic.settings.read().clone();
    let batches = match validate_batches(&records, settings.log.max_message_bytes) {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!(topic = %topic.name, partition = pd.index, "rejected produce: {e}");
            return error(log_error_code(&e), Some(e.to_string()));
        }
    };
    if batches.iter().any(|b| b.is_control) {
        return error(
            E::InvalidRecord,
            Some("clients may not write control batches".into()),
        );
    }
    if let Some(b) = batches.iter().find(|b| b.is_transactional) {
        let Some(txn_id) = transactional_id else {
            return error(
                E::InvalidRecord,
                Some("a transactional batch needs the request's transactional id".into()),
            );
        };
        let who = TxnProducer {
            transactional_id: txn_id,
            producer_id: b.producer_id,
            producer_epoch: b.producer_epoch,
        };
        if let Err(code) = ctx.broker.txns.verify_produce(who, &topic.name, pd.index) {
            return PartitionProduceResponse::default()
                .with_error_code(code)
                .with_base_offset(-1)
                .with_log_start_offset(-1);
        }
    }
    if batches.len() > 1 && batches.iter().any(|b| b.producer_id >= 0) {
        return error(
            E::InvalidRecord,
            Some("idempotent produce must carry exactly one batch per partition".into()),
        );
    }
    let mut payload = BytesMut::from(&records[..]);
    let mut batches = batches;
    if settings.log_append_time {
        for b in &mut batches {
            if let Err(e) = stamp_log_append_time(&mut payload, b, now) {
                return error(log_error_code(&e), Some(e.to_string()));
            }
        }
    }
    append(&partition, &mut payload, &batches, now)
}

fn append(
    partition: &Partition,
    payload: &mut [u8],
    batches: &[crate::log::BatchInfo],
    now: i64,
) -> PartitionProduceResponse {
    let mut st = partition.state.lock();
    let idempotent = batches.first().filter(|b| b.producer_id >= 0).cloned();
    if let Some(b) = &idempotent {
        let first_seq = b.base_sequence;
        let last_seq = last_sequence(b.base_sequence, b.last_offset_delta);
        match st
            .producers
            .check(b.producer_id, b.producer_epoch, first_seq, last_seq)
        {
            Ok(SequenceCheck::Append) => {}
            Ok(SequenceCheck::Duplicate { first_offset, .. }) => {
                tracing::debug!(
                    producer_id = b.producer_id,
                    first_seq,
                    "duplicate batch acknowledged with its original offset"
                );
                return PartitionProduceResponse::default()
                    .with_base_offset(first_offset)
                    .with_log_append_time_ms(-1)
                    .with_log_start_offset(st.log.log_start_offset());
            }
            Err(e @ ProducerStateError::InvalidProducerEpoch { .. }) => {
                return error(E::InvalidProducerEpoch, Some(e.to_string()));
            }
            Err(e @ ProducerStateError::OutOfOrderSequence { .. }) => {
                return error(E::OutOfOrderSequenceNumber, Some(e.to_string()));
            }
        }
    }
    match st.log.append(payload, batches, LEADER_EPOCH, now) {
        Ok(r) => {
            if let Some(b) = batches.first().filter(|b| b.is_transactional) {
                st.note_transactional_append(b.producer_id, r.base_offset);
            }
            if let Some(b) = idempotent {
                st.producers.record(
                    b.producer_id,
                    b.producer_epoch,
                    BatchMetadata {
                        first_seq: b.base_sequence,
                        last_seq: last_sequence(b.base_sequence, b.last_offset_delta),
                        first_offset: r.base_offset,
                        last_offset: r.last_offset,
                    },
                );
            }
            let leo = st.log.log_end_offset();
            drop(st);
            partition.notify_append(leo);
            PartitionProduceResponse::default()
                .with_base_offset(r.base_offset)
                .with_log_append_time_ms(r.log_append_time)
                .with_log_start_offset(r.log_start_offset)
        }
        Err(e) => {
            tracing::error!(topic = %partition.topic, partition = partition.index, "append failed: {e}");
            error(log_error_code(&e), Some(e.to_string()))
        }
    }
}
