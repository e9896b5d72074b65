//! Coordinator answers wait for their records' ISR (in a cluster), as Kafka's coordinators
//! append with acks=all: a group's state, a committed offset, a transaction's state or
//! decision, a share-partition's state is acknowledged only once every in-sync replica of its
//! `__consumer_offsets` / `__transaction_state` / `__share_group_state` partition has it, so the coordinator's failover loses nothing a client
//! was told. Each request that a coordinator may write for names its partitions here
//! ([`partitions_written`]); after the handler answered, [`settle`] waits until those
//! partitions' high watermarks reach their log ends, and turns the answer's successes into
//! NOT_COORDINATOR (this node stopped leading the partition) or COORDINATOR_NOT_AVAILABLE (the
//! ISR did not have it in time), which clients retry, as Kafka maps its append errors.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::{RequestKind, ResponseKind};

use super::context::RequestContext;
use super::share_state_rpcs::{StateResponse, StateResult, refuse};
use crate::group::{OFFSETS_TOPIC, partition_for_key};
use crate::share::persist::SHARE_STATE_TOPIC;
use crate::txn::coordinator::TRANSACTION_STATE_TOPIC;

/// The internal partitions a coordinator may write to for `request`, or none.
pub fn partitions_written(ctx: &RequestContext, request: &RequestKind) -> Vec<(&'static str, i32)> {
    let b = &ctx.broker;
    if b.cluster.is_none() {
        return Vec::new();
    }
    let group = |id: &str| (OFFSETS_TOPIC, partition_for_key(id, b.offsets_partitions()));
    let txn = |id: &str| {
        (
            TRANSACTION_STATE_TOPIC,
            partition_for_key(id, b.txn_state_partitions()),
        )
    };
    // The share coordinator's requests (reads too: a read may store a leader epoch, and the
    // summary needs the NOT_COORDINATOR of a partition not loaded yet).
    let share = |group: &str, keys: Vec<(uuid::Uuid, i32)>| {
        let count = b.share_state_partitions();
        let mut v: Vec<_> = keys
            .into_iter()
            .map(|(topic_id, partition)| {
                let key = crate::share::records::StateKey {
                    group: group.to_string(),
                    topic_id,
                    partition,
                };
                (
                    SHARE_STATE_TOPIC,
                    b.share_coordinator.partition_of(&key, count),
                )
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    macro_rules! keys {
        ($r:expr) => {
            $r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, p.partition)))
                .collect()
        };
    }
    match request {
        RequestKind::JoinGroup(r) => vec![group(&r.group_id)],
        RequestKind::SyncGroup(r) => vec![group(&r.group_id)],
        RequestKind::LeaveGroup(r) => vec![group(&r.group_id)],
        RequestKind::ConsumerGroupHeartbeat(r) => vec![group(&r.group_id)],
        RequestKind::ShareGroupHeartbeat(r) => vec![group(&r.group_id)],
        RequestKind::OffsetCommit(r) => vec![group(&r.group_id)],
        RequestKind::TxnOffsetCommit(r) => vec![group(&r.group_id)],
        RequestKind::OffsetDelete(r) => vec![group(&r.group_id)],
        // Reads, for the NOT_COORDINATOR of a partition not loaded yet.
        RequestKind::Heartbeat(r) => vec![group(&r.group_id)],
        RequestKind::OffsetFetch(r) => {
            let mut v: Vec<_> = r.groups.iter().map(|g| group(&g.group_id)).collect();
            if r.groups.is_empty() {
                v.push(group(&r.group_id));
            }
            v
        }
        RequestKind::DeleteGroups(r) => r.groups_names.iter().map(|g| group(g)).collect(),
        RequestKind::InitProducerId(r) => r
            .transactional_id
            .as_ref()
            .map(|t| vec![txn(t)])
            .unwrap_or_default(),
        RequestKind::InitializeShareGroupState(r) => share(&r.group_id, keys!(r)),
        RequestKind::ReadShareGroupState(r) => share(&r.group_id, keys!(r)),
        RequestKind::WriteShareGroupState(r) => share(&r.group_id, keys!(r)),
        RequestKind::DeleteShareGroupState(r) => share(&r.group_id, keys!(r)),
        RequestKind::ReadShareGroupStateSummary(r) => share(&r.group_id, keys!(r)),
        RequestKind::AddOffsetsToTxn(r) => vec![txn(&r.transactional_id)],
        RequestKind::EndTxn(r) => vec![txn(&r.transactional_id)],
        RequestKind::AddPartitionsToTxn(r) => {
            let mut v: Vec<_> = r
                .transactions
                .iter()
                .map(|t| txn(&t.transactional_id))
                .collect();
            if r.transactions.is_empty() {
                v.push(txn(&r.v3_and_below_transactional_id));
            }
            v
        }
        _ => Vec::new(),
    }
}

/// Wait until every partition in `written` has its log end in its ISR; on failure, the
/// answer's successes become the failure's code. A NOT_COORDINATOR from a node that leads the
/// partition but has not loaded it yet (right after the internal topic was created, or after a
/// failover, while it replays) becomes COORDINATOR_LOAD_IN_PROGRESS, as Kafka answers then.
pub async fn settle(
    ctx: &RequestContext,
    written: &[(&'static str, i32)],
    mut response: ResponseKind,
) -> ResponseKind {
    let b = &ctx.broker;
    let fenced = b.cluster.as_ref().is_some_and(|c| c.is_fenced());
    for &(topic, partition) in written {
        // As the coordinators decide what they load: led here, and this node not fenced.
        let leads = !fenced && b.partition_leader(topic, partition) == Some(b.node_id);
        if leads {
            replace(
                &mut response,
                E::NotCoordinator.code(),
                E::CoordinatorLoadInProgress.code(),
            );
        }
        if let Err(code) = b.replicate_internal(topic, partition).await {
            replace(&mut response, 0, code);
            break;
        }
    }
    response
}

/// Every `from` code in `response` becomes `to`.
fn replace(response: &mut ResponseKind, from: i16, to: i16) {
    let set = |c: &mut i16| {
        if *c == from {
            *c = to;
        }
    };
    match response {
        ResponseKind::JoinGroup(r) => set(&mut r.error_code),
        ResponseKind::SyncGroup(r) => {
            set(&mut r.error_code);
            if r.error_code != 0 {
                r.assignment = Default::default();
            }
        }
        ResponseKind::LeaveGroup(r) => set(&mut r.error_code),
        ResponseKind::ConsumerGroupHeartbeat(r) => set(&mut r.error_code),
        ResponseKind::ShareGroupHeartbeat(r) => {
            set(&mut r.error_code);
            if r.error_code != 0 {
                r.member_id = None;
                r.member_epoch = 0;
                r.heartbeat_interval_ms = 0;
                r.assignment = None;
            }
        }
        ResponseKind::OffsetCommit(r) => r
            .topics
            .iter_mut()
            .flat_map(|t| t.partitions.iter_mut())
            .for_each(|p| set(&mut p.error_code)),
        ResponseKind::TxnOffsetCommit(r) => r
            .topics
            .iter_mut()
            .flat_map(|t| t.partitions.iter_mut())
            .for_each(|p| set(&mut p.error_code)),
        ResponseKind::OffsetDelete(r) => set(&mut r.error_code),
        ResponseKind::Heartbeat(r) => set(&mut r.error_code),
        ResponseKind::OffsetFetch(r) => {
            set(&mut r.error_code);
            r.groups.iter_mut().for_each(|g| set(&mut g.error_code));
        }
        ResponseKind::DeleteGroups(r) => r.results.iter_mut().for_each(|g| set(&mut g.error_code)),
        ResponseKind::InitProducerId(r) => {
            set(&mut r.error_code);
            if r.error_code != 0 {
                r.producer_id = kafka_protocol::messages::ProducerId(-1);
                r.producer_epoch = -1;
            }
        }
        ResponseKind::InitializeShareGroupState(r) => retext(r, &set),
        ResponseKind::ReadShareGroupState(r) => retext(r, &set),
        ResponseKind::WriteShareGroupState(r) => retext(r, &set),
        ResponseKind::DeleteShareGroupState(r) => retext(r, &set),
        ResponseKind::ReadShareGroupStateSummary(r) => retext(r, &set),
        ResponseKind::AddOffsetsToTxn(r) => set(&mut r.error_code),
        ResponseKind::EndTxn(r) => set(&mut r.error_code),
        ResponseKind::AddPartitionsToTxn(r) => {
            let topics = r.results_by_topic_v3_and_below.iter_mut().chain(
                r.results_by_transaction
                    .iter_mut()
                    .flat_map(|t| t.topic_results.iter_mut()),
            );
            topics
                .flat_map(|t| t.results_by_partition.iter_mut())
                .for_each(|p| set(&mut p.partition_error_code));
        }
        _ => {}
    }
}

/// `set` on the partitions of a share coordinator's answer, whose codes travel with their
/// text: a replaced code gets the new code's text, and the partition no state (as a refusal).
fn retext(response: &mut impl StateResponse, set: &impl Fn(&mut i16)) {
    for p in response.results_mut() {
        let (code, _) = p.error_mut();
        let before = *code;
        set(code);
        if *code != before {
            let to = *code;
            refuse(p, to, crate::share::coordinator::kafka_message(to));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{
        ReadShareGroupStateResponse, ReadShareGroupStateSummaryResponse,
        WriteShareGroupStateResponse, read_share_group_state_response as read,
        read_share_group_state_summary_response as summary,
        write_share_group_state_response as write,
    };
    use kafka_protocol::protocol::StrBytes;

    /// A share-state answer's partition error: its code and Kafka's text for it.
    fn error(e: E) -> (i16, Option<StrBytes>) {
        let text = crate::share::coordinator::kafka_message(e.code());
        (e.code(), text.map(StrBytes::from_static_str))
    }

    /// A read's partitions 0 (a state) and 1 (`refused`).
    fn read_answer(refused: E) -> ResponseKind {
        let (code, text) = error(refused);
        ReadShareGroupStateResponse::default()
            .with_results(vec![read::ReadStateResult::default().with_partitions(
                vec![
                read::PartitionResult::default()
                    .with_state_epoch(3)
                    .with_start_offset(10)
                    .with_state_batches(vec![read::StateBatch::default().with_last_offset(4)]),
                read::PartitionResult::default()
                    .with_partition(1)
                    .with_error_code(code)
                    .with_error_message(text)
                    .with_start_offset(-1),
            ],
            )])
            .into()
    }

    /// NOT_COORDINATOR at a node that leads but has not loaded becomes
    /// COORDINATOR_LOAD_IN_PROGRESS with its text; a success stays as it is.
    #[test]
    fn settle_retexts_a_share_read_not_coordinator() {
        let mut r = read_answer(E::NotCoordinator);
        replace(
            &mut r,
            E::NotCoordinator.code(),
            E::CoordinatorLoadInProgress.code(),
        );
        assert_eq!(r, read_answer(E::CoordinatorLoadInProgress));
    }

    /// A share read's success whose record missed its ISR answers the failure's code and text
    /// and no state; an error already there stays.
    #[test]
    fn settle_turns_a_share_read_success_into_an_error_without_state() {
        let mut r = read_answer(E::NotCoordinator);
        replace(&mut r, 0, E::CoordinatorNotAvailable.code());
        let (code, text) = error(E::CoordinatorNotAvailable);
        let ResponseKind::ReadShareGroupState(mut want) = read_answer(E::NotCoordinator) else {
            unreachable!()
        };
        want.results[0].partitions[0] = read::PartitionResult::default()
            .with_error_code(code)
            .with_error_message(text)
            .with_start_offset(-1);
        assert_eq!(r, want.into());
    }

    /// A summary's success turned into an error loses its epochs and start offset; its
    /// delivery-complete count stays. A write's gets the error's code and text.
    #[test]
    fn settle_turns_share_summary_and_write_successes_into_errors() {
        let answer = |p| {
            ReadShareGroupStateSummaryResponse::default()
                .with_results(vec![
                    summary::ReadStateSummaryResult::default().with_partitions(vec![p]),
                ])
                .into()
        };
        let mut r: ResponseKind = answer(
            summary::PartitionResult::default()
                .with_partition(2)
                .with_state_epoch(3)
                .with_leader_epoch(5)
                .with_start_offset(10)
                .with_delivery_complete_count(7),
        );
        replace(&mut r, 0, E::CoordinatorNotAvailable.code());
        let (code, text) = error(E::CoordinatorNotAvailable);
        let want = summary::PartitionResult::default()
            .with_partition(2)
            .with_error_code(code)
            .with_error_message(text)
            .with_start_offset(-1)
            .with_delivery_complete_count(7);
        assert_eq!(r, answer(want));

        let answer = |p| {
            WriteShareGroupStateResponse::default()
                .with_results(vec![
                    write::WriteStateResult::default().with_partitions(vec![p]),
                ])
                .into()
        };
        let mut r: ResponseKind = answer(write::PartitionResult::default().with_partition(4));
        replace(&mut r, 0, E::NotCoordinator.code());
        let (code, text) = error(E::NotCoordinator);
        let want = write::PartitionResult::default()
            .with_partition(4)
            .with_error_code(code)
            .with_error_message(text);
        assert_eq!(r, answer(want));
    }
}
