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

use futures::future::join_all;
use std::time::Duration;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::context::{RequestContext, log_error_code, str_bytes};
use crate::broker::TopicRef;
use crate::broker::replication::{IsrWaitError, wait_for_isr};
use crate::error::Code;
use crate::log::legacy::{is_legacy, up_convert};
use crate::partition::Partition;
use crate::partition::producer_state::ProducerStateError;
use crate::partition::{AppendError, AppendOrigin, AppendOutcome};
use crate::security::acl::AclOperation;
use crate::topics::Topic;
use crate::txn::coordinator::TxnProducer;

pub async fn handle(ctx: &RequestContext, req: ProduceRequest) -> Option<ProduceResponse> {
    let b = &ctx.broker;
    let use_ids = ctx.version >= 13;
    let acks_ok = matches!(req.acks, -1..=1);
    let now = b.now_ms();
    let txn_id = req
        .transactional_id
        .as_ref()
        .map(|t| t.as_str().to_string());
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(req.timeout_ms.max(0) as u64);
    // Kafka's checks: Write on the transactional id (else every partition fails with
    // TRANSACTIONAL_ID_AUTHORIZATION_FAILED), Write on each topic.
    let txn_denied = txn_id
        .as_deref()
        .is_some_and(|id| !ctx.authorize_transactional_id(AclOperation::Write, id));
    let mut responses = Vec::with_capacity(req.topic_data.len());
    // acks=all writes that wait for their ISR: (topic, partition response) positions.
    let mut waits = Vec::new();
    for (ti, td) in req.topic_data.into_iter().enumerate() {
        let missing = if use_ids {
            E::UnknownTopicId
        } else {
            E::UnknownTopicOrPartition
        };
        let mut partitions = Vec::with_capacity(td.partition_data.len());
        for (pi, pd) in td.partition_data.into_iter().enumerate() {
            let index = pd.index;
            // Kafka's order: the transactional id, then the topic, then the append (acks).
            let r = if txn_denied {
                error(E::TransactionalIdAuthorizationFailed, None)
            } else if !use_ids && !ctx.authorize_topic(AclOperation::Write, td.name.as_str()) {
                error(E::TopicAuthorizationFailed, None)
            } else if !acks_ok {
                error(E::InvalidRequiredAcks, None)
            } else {
                let at = if use_ids {
                    TopicRef::Id(td.topic_id)
                } else {
                    TopicRef::Name(td.name.as_str())
                };
                match b.leader_partition(at, index) {
                    Ok(p) if use_ids && !ctx.authorize_topic(AclOperation::Write, &p.topic) => {
                        error(E::TopicAuthorizationFailed, None)
                    }
                    Ok(p) => match b.topics.get(&p.topic) {
                        Some(t) => {
                            let min_isr = t.settings.read().min_insync_replicas;
                            let acks_all = (req.acks == -1).then_some(min_isr);
                            let (r, wait) = produce_partition(
                                ctx,
                                txn_id.as_deref(),
                                &t,
                                &p,
                                pd,
                                acks_all,
                                now,
                            );
                            if let Some(wait) = wait {
                                waits.push((ti, pi, p, wait, min_isr));
                            }
                            r
                        }
                        None => error(missing, None),
                    },
                    Err(code) => error_code(code),
                }
            };
            partitions.push(r.with_index(index));
        }
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
    let settled = join_all(
        waits
            .iter()
            .map(|(_, _, p, wait, min_isr)| wait_replicated(p, *wait, *min_isr, deadline)),
    )
    .await;
    for ((ti, pi, ..), outcome) in waits.iter().zip(settled) {
        if let Err(code) = outcome {
            let r = &mut responses[*ti].partition_responses[*pi];
            *r = error(code, None).with_index(r.index);
        }
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

/// What an acks=all write waits for: its leader epoch and the high watermark that covers it.
#[derive(Clone, Copy, Debug)]
struct Wait {
    leader_epoch: i32,
    required_offset: i64,
}

/// Wait until the ISR has the write, then check the ISR still has `min.insync.replicas`
/// members (else NOT_ENOUGH_REPLICAS_AFTER_APPEND, as Kafka).
async fn wait_replicated(
    p: &Partition,
    wait: Wait,
    min_isr: usize,
    deadline: tokio::time::Instant,
) -> Result<(), E> {
    match wait_for_isr(p, wait.leader_epoch, wait.required_offset, deadline).await {
        Ok(isr) if isr < min_isr => Err(E::NotEnoughReplicasAfterAppend),
        Ok(_) => Ok(()),
        Err(IsrWaitError::NotLeader) => Err(E::NotLeaderOrFollower),
        Err(IsrWaitError::TimedOut) => Err(E::RequestTimedOut),
    }
}

/// Validate and append one partition's batches. `acks_all`: the write's `min.insync.replicas`
/// when the producer waits for the ISR; the append is then refused with NOT_ENOUGH_REPLICAS
/// when the ISR is smaller, and the answer comes with what to wait for.
fn produce_partition(
    ctx: &RequestContext,
    transactional_id: Option<&str>,
    topic: &Topic,
    partition: &Partition,
    pd: PartitionProduceData,
    acks_all: Option<usize>,
    now: i64,
) -> (PartitionProduceResponse, Option<Wait>) {
    let Some(records) = pd.records.filter(|r| !r.is_empty()) else {
        return (
            error(
                E::InvalidRecord,
                Some("produce request carries no record batch".into()),
            ),
            None,
        );
    };
    if let Some(min_isr) = acks_all {
        let isr = partition.in_sync_replicas().unwrap_or(0);
        if isr < min_isr {
            return (
                error(
                    E::NotEnoughReplicas,
                    Some(format!(
                        "The size of the current ISR {isr} is insufficient to satisfy the min.isr requirement of {min_isr}"
                    )),
                ),
                None,
            );
        }
    }
    // Produce v0–v2 carries message formats v0/v1: the log keeps v2 only.
    let payload = if ctx.version <= 2 {
        if !is_legacy(&records) {
            return (
                error(
                    E::InvalidRecord,
                    Some("produce v0-v2 carries message format v0 or v1".into()),
                ),
                None,
            );
        }
        let limit = ctx.broker.config.socket_request_max_bytes.max(0) as usize;
        match up_convert(&records, limit) {
            Ok(up) => up.batch.freeze(),
            Err(e) => {
                tracing::debug!(topic = %topic.name, partition = pd.index, "rejected produce: {e}");
                return (error(log_error_code(&e), Some(e.to_string())), None);
            }
        }
    } else {
        records
    };
    let validated = match partition.validate(payload, AppendOrigin::Client, now) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(topic = %topic.name, partition = pd.index, "rejected produce: {e}");
            return (append_error(&e), None);
        }
    };
    if let Some(b) = validated.batches().iter().find(|b| b.is_transactional) {
        let Some(txn_id) = transactional_id else {
            return (
                error(
                    E::InvalidRecord,
                    Some("a transactional batch needs the request's transactional id".into()),
                ),
                None,
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
            return (
                PartitionProduceResponse::default()
                    .with_error_code(code)
                    .with_base_offset(-1)
                    .with_log_start_offset(-1),
                None,
            );
        }
    }
    let leader_epoch = partition.leader_epoch();
    let wait = |required_offset| {
        acks_all.map(|_| Wait {
            leader_epoch,
            required_offset,
        })
    };
    let bytes = validated.bytes() as u64;
    let records: u64 = validated
        .batches()
        .iter()
        .map(|b| b.records_count.max(0) as u64)
        .sum();
    match partition.append(validated, now) {
        Ok(AppendOutcome::Appended(r)) => {
            let m = &ctx.broker.metrics;
            m.produced(&m.topic(&partition.topic), bytes, records);
            (
                PartitionProduceResponse::default()
                    .with_base_offset(r.base_offset)
                    .with_log_append_time_ms(r.log_append_time)
                    .with_log_start_offset(r.log_start_offset),
                wait(r.last_offset + 1),
            )
        }
        Ok(AppendOutcome::Duplicate {
            base_offset,
            log_start_offset,
        }) => (
            PartitionProduceResponse::default()
                .with_base_offset(base_offset)
                .with_log_append_time_ms(-1)
                .with_log_start_offset(log_start_offset),
            wait(base_offset + 1),
        ),
        Err(e) => {
            if let AppendError::Log(e) = &e {
                tracing::error!(topic = %partition.topic, partition = partition.index, "append failed: {e}");
            }
            (append_error(&e), None)
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
