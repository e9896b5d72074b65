//! Produce (key 0), v0–v13. v0–v2 carry message formats v0/v1 (old clients):
//! their message set is CRC-checked and up-converted into one v2 batch first
//! (`log::legacy`), as Kafka 3.x did; the log keeps v2 only.
//!
//! Batches go through the partition's one write path ([`crate::partition`]):
//! validated (size, magic, CRC-32C) and appended as the producer sent them;
//! only base offset and leader epoch are rewritten, inside the log. Between
//! validation and append, a transactional batch is checked with the
//! transaction coordinator. A retried idempotent batch is acknowledged with its
//! original offsets, a gap is refused with OUT_OF_ORDER_SEQUENCE_NUMBER.

use bytes::BytesMut;
use std::sync::Arc;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::context::{RequestContext, log_error_code, str_bytes};
use crate::broker::TopicRef;
use crate::error::Code;
use crate::log::legacy::{is_legacy, up_convert};
use crate::partition::Partition;
use crate::partition::producer_state::ProducerStateError;
use crate::partition::{AppendError, AppendOrigin, AppendOutcome};
use crate::topics::Topic;
use crate::txn::coordinator::TxnProducer;

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
                    let at = if use_ids {
                        TopicRef::Id(td.topic_id)
                    } else {
                        TopicRef::Name(td.name.as_str())
                    };
                    match b.leader_partition(at, index) {
                        Ok(p) => match b.topics.get(&p.topic) {
                            Some(t) => produce_partition(ctx, txn_id.as_deref(), &t, p, pd, now),
                            None => error(missing, None),
                        },
                        Err(code) => error_code(code),
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

fn error_code(code: Code) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_error_code(code)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
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
    partition: Arc<Partition>,
    pd: PartitionProduceData,
    now: i64,
) -> PartitionProduceResponse {
    let Some(records) = pd.records.filter(|r| !r.is_empty()) else {
        return error(
            E::InvalidRecord,
            Some("produce request carries no record batch".into()),
        );
    };
    // Produce v0–v2 carries message formats v0/v1: the log keeps v2 only.
    let payload = if ctx.version <= 2 {
        if !is_legacy(&records) {
            return error(
                E::InvalidRecord,
                Some("produce v0-v2 carries message format v0 or v1".into()),
            );
        }
        let limit = ctx.broker.config.socket_request_max_bytes.max(0) as usize;
        match up_convert(&records, limit) {
            Ok(up) => up.batch,
            Err(e) => {
                tracing::debug!(topic = %topic.name, partition = pd.index, "rejected produce: {e}");
                return error(log_error_code(&e), Some(e.to_string()));
            }
        }
    } else {
        BytesMut::from(&records[..])
    };
    let validated = match partition.validate(payload, AppendOrigin::Client, now) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(topic = %topic.name, partition = pd.index, "rejected produce: {e}");
            return append_error(&e);
        }
    };
    if let Some(b) = validated.batches().iter().find(|b| b.is_transactional) {
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
        // KIP-890 verification where the transaction is coordinated (in a cluster, a leader
        // that is not its coordinator takes the batch as Kafka did before KIP-890).
        let coordinated_here = ctx.broker.check_txn_coordinator(txn_id).is_ok();
        if coordinated_here
            && let Err(code) = ctx.broker.txns.verify_produce(who, &topic.name, pd.index)
        {
            return PartitionProduceResponse::default()
                .with_error_code(code)
                .with_base_offset(-1)
                .with_log_start_offset(-1);
        }
    }
    match partition.append(validated, now) {
        Ok(AppendOutcome::Appended(r)) => PartitionProduceResponse::default()
            .with_base_offset(r.base_offset)
            .with_log_append_time_ms(r.log_append_time)
            .with_log_start_offset(r.log_start_offset),
        Ok(AppendOutcome::Duplicate {
            base_offset,
            log_start_offset,
        }) => PartitionProduceResponse::default()
            .with_base_offset(base_offset)
            .with_log_append_time_ms(-1)
            .with_log_start_offset(log_start_offset),
        Err(e) => {
            if let AppendError::Log(e) = &e {
                tracing::error!(topic = %partition.topic, partition = partition.index, "append failed: {e}");
            }
            append_error(&e)
        }
    }
}

/// Kafka's error code and message for a refused or failed write.
fn append_error(e: &AppendError) -> PartitionProduceResponse {
    let code = match e {
        AppendError::InvalidRecord(_) => E::InvalidRecord,
        AppendError::Log(l) => log_error_code(l),
        AppendError::Producer(ProducerStateError::InvalidProducerEpoch { .. }) => {
            E::InvalidProducerEpoch
        }
        AppendError::Producer(ProducerStateError::OutOfOrderSequence { .. }) => {
            E::OutOfOrderSequenceNumber
        }
    };
    error(code, Some(e.to_string()))
}
