//! ShareFetch (78) and ShareAcknowledge (79) v1-2 over raw frames (KIP-932; design
//! docs/design/share-groups.md §7): acquisition with exact ranges and delivery counts, locks
//! between members, ACCEPT / RELEASE / REJECT with redelivery, piggy-backed acknowledgements,
//! share-session errors, the release of a closed connection's records, long polls woken by a
//! produce and by a lock expiry, `share.auto.offset.reset`, ApiVersions, and v2 (design §7.8):
//! record-limit acquisition and RENEW.
//!
//! Waits are on responses (a parked fetch asks to wait far longer than the test allows), never
//! sleeps; the lock-expiry test drives the broker's clock by hand.

use std::time::Duration;

use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckBatch,
};
use kafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch, FetchPartition, FetchTopic, ForgottenTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::task::JoinHandle;
use uuid::Uuid;

use fjord::clock::ManualClock;
use fjord::share::SharePartitionKey;

use crate::common::*;

const ACCEPT: i8 = 1;
const RELEASE: i8 = 2;
const REJECT: i8 = 3;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// One batch of `values` to partition 0.
async fn produce(c: &mut Client, topic: &str, values: &[&str]) -> i64 {
    produce_to(c, topic, 0, values).await
}

async fn produce_to(c: &mut Client, topic: &str, partition: i32, values: &[&str]) -> i64 {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(batch(values, 1))),
                ]),
        ]);
    let r: ProduceResponse = c.call(ApiKey::Produce, 9, &req).await;
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0);
    p.base_offset
}

async fn set_group_config(c: &mut Client, group: &str, key: &str, value: &str) {
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(32)
            .with_resource_name(s(group))
            .with_configs(vec![
                AlterableConfig::default()
                    .with_name(s(key))
                    .with_config_operation(0)
                    .with_value(Some(s(value))),
            ]),
    ]);
    let r: IncrementalAlterConfigsResponse = c.call(ApiKey::IncrementalAlterConfigs, 1, &req).await;
    assert_eq!(r.responses[0].error_code, 0, "{:?}", r.responses[0]);
}

/// A ShareFetch of partition 0 of `topic` with `acks` (first, last, types) piggy-backed.
fn fetch_request(
    group: &str,
    member: &str,
    epoch: i32,
    topic: Uuid,
    acks: &[(i64, i64, &[i8])],
    max_wait_ms: i32,
) -> ShareFetchRequest {
    ShareFetchRequest::default()
        .with_group_id(Some(GroupId(s(group))))
        .with_member_id(Some(s(member)))
        .with_share_session_epoch(epoch)
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(52_428_800)
        .with_max_records(500)
        .with_batch_size(500)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic_id(topic)
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition_index(0)
                        .with_acknowledgement_batches(
                            acks.iter()
                                .map(|&(first, last, types)| {
                                    AcknowledgementBatch::default()
                                        .with_first_offset(first)
                                        .with_last_offset(last)
                                        .with_acknowledge_types(types.to_vec())
                                })
                                .collect(),
                        ),
                ]),
        ])
}

fn ack_request(
    group: &str,
    member: &str,
    epoch: i32,
    topic: Uuid,
    acks: &[(i64, i64, &[i8])],
) -> ShareAcknowledgeRequest {
    ShareAcknowledgeRequest::default()
        .with_group_id(Some(GroupId(s(group))))
        .with_member_id(Some(s(member)))
        .with_share_session_epoch(epoch)
        .with_topics(vec![
            AcknowledgeTopic::default()
                .with_topic_id(topic)
                .with_partitions(vec![
                    AcknowledgePartition::default()
                        .with_partition_index(0)
                        .with_acknowledgement_batches(
                            acks.iter()
                                .map(|&(first, last, types)| {
                                    AckBatch::default()
                                        .with_first_offset(first)
                                        .with_last_offset(last)
                                        .with_acknowledge_types(types.to_vec())
                                })
                                .collect(),
                        ),
                ]),
        ])
}

async fn share_fetch(c: &mut Client, req: &ShareFetchRequest) -> ShareFetchResponse {
    c.call(ApiKey::ShareFetch, 1, req).await
}

async fn share_ack(c: &mut Client, req: &ShareAcknowledgeRequest) -> ShareAcknowledgeResponse {
    c.call(ApiKey::ShareAcknowledge, 1, req).await
}

/// What partition 0 of the answer says: (acquired ranges, record offsets and values).
type Got = (Vec<(i64, i64, i16)>, Vec<(i64, String)>);

fn got(r: &ShareFetchResponse) -> Got {
    assert_eq!(r.error_code, 0, "top-level error");
    let Some(p) = r.responses.first().and_then(|t| t.partitions.first()) else {
        return (Vec::new(), Vec::new());
    };
    assert_eq!(p.error_code, 0);
    let ranges = p
        .acquired_records
        .iter()
        .map(|a| (a.first_offset, a.last_offset, a.delivery_count))
        .collect();
    let records = p.records.clone().expect("records never null at v1");
    let values = if records.is_empty() {
        Vec::new()
    } else {
        values_of(records)
    };
    (ranges, values)
}

fn values(pairs: &[(i64, &str)]) -> Vec<(i64, String)> {
    pairs.iter().map(|&(o, v)| (o, v.to_string())).collect()
}

/// A ShareFetch on its own connection, waiting up to 60 s.
fn park(b: &TestBroker, group: &str, member: &str, topic: Uuid) -> JoinHandle<ShareFetchResponse> {
    let addr = b.addr;
    let req = fetch_request(group, member, 0, topic, &[], 60_000);
    tokio::spawn(async move {
        let mut c = Client::connect(addr).await;
        share_fetch(&mut c, &req).await
    })
}

/// Until a fetch waits on `topic`-0 (a condition, polled).
async fn until_parked(b: &TestBroker, topic: &str) {
    let p = b.broker.topics.get(topic).unwrap().partition(0).unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while p.waiting_fetches() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the share fetch never parked on the partition");
}

async fn woken(fetch: JoinHandle<ShareFetchResponse>) -> ShareFetchResponse {
    tokio::time::timeout(Duration::from_secs(20), fetch)
        .await
        .expect("the parked share fetch was not woken")
        .unwrap()
}

fn spso(b: &TestBroker, group: &str, topic: Uuid) -> Option<i64> {
    b.broker.shares.start_offset(&SharePartitionKey {
        group_id: group.into(),
        topic_id: topic,
        partition: 0,
    })
}

/// Epoch 0 acquires exact ranges; another member gets nothing while they are locked;
/// ShareAcknowledge ACCEPT / RELEASE / REJECT; the released records come back with delivery
/// count 2; piggy-backed acknowledgements; acknowledging what one does not hold.
#[tokio::test]
async fn acquire_acknowledge_and_redeliver() {
    let b = start(&[]).await;
    let mut a = Client::connect(b.addr).await;
    let mut other = Client::connect(b.addr).await;
    let topic = create_topic(&mut a, "sf", 1).await;
    set_group_config(&mut a, "g", "share.auto.offset.reset", "earliest").await;
    produce(&mut a, "sf", &["a", "b", "c"]).await;
    produce(&mut a, "sf", &["d", "e"]).await;

    let r = share_fetch(&mut a, &fetch_request("g", "A", 0, topic, &[], 500)).await;
    assert_eq!(r.acquisition_lock_timeout_ms, 30_000);
    let p = &r.responses[0].partitions[0];
    assert_eq!(
        (p.current_leader.leader_id, p.current_leader.leader_epoch),
        (b.broker.node_id, 0)
    );
    assert_eq!(
        got(&r),
        (
            vec![(0, 4, 1)],
            values(&[(0, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "e")])
        )
    );

    // Locked: member B gets nothing (a full answer lists the partition, empty).
    let r = share_fetch(&mut other, &fetch_request("g", "B", 0, topic, &[], 0)).await;
    assert_eq!(got(&r), (vec![], vec![]));

    let r = share_ack(
        &mut a,
        &ack_request(
            "g",
            "A",
            1,
            topic,
            &[(0, 1, &[ACCEPT]), (2, 3, &[RELEASE]), (4, 4, &[REJECT])],
        ),
    )
    .await;
    assert_eq!(r.error_code, 0);
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    assert_eq!(p.current_leader.leader_id, b.broker.node_id);
    assert_eq!(spso(&b, "g", topic), Some(2));
    // Acknowledged already: INVALID_RECORD_STATE, per partition.
    let r = share_ack(
        &mut a,
        &ack_request("g", "A", 2, topic, &[(2, 2, &[ACCEPT])]),
    )
    .await;
    assert_eq!(r.responses[0].partitions[0].error_code, 121);

    // B's next fetch gets the released offsets again, delivery count 2 (the test's produce
    // writes one batch per record, so exactly their batches come back).
    let r = share_fetch(&mut other, &fetch_request("g", "B", 1, topic, &[], 500)).await;
    assert_eq!(got(&r), (vec![(2, 3, 2)], values(&[(2, "c"), (3, "d")])));
    // A piggy-backed ACCEPT; nothing left to acquire, so the answer carries only its result.
    let r = share_fetch(
        &mut other,
        &fetch_request("g", "B", 2, topic, &[(2, 3, &[ACCEPT])], 0),
    )
    .await;
    let p = &r.responses[0].partitions[0];
    assert_eq!((p.acknowledge_error_code, p.error_code), (0, 0));
    assert!(p.acquired_records.is_empty());
    assert_eq!(spso(&b, "g", topic), Some(5));
    // A piggy-backed acknowledgement of records never acquired by B.
    let r = share_fetch(
        &mut other,
        &fetch_request(
            "g",
            "B",
            3,
            topic,
            &[(0, 0, &[ACCEPT]), (5, 5, &[ACCEPT])],
            0,
        ),
    )
    .await;
    assert_eq!(r.responses[0].partitions[0].acknowledge_error_code, 121);
    // Malformed acknowledgements: INVALID_REQUEST for the partition.
    let r = share_ack(
        &mut other,
        &ack_request("g", "B", 4, topic, &[(3, 2, &[ACCEPT])]),
    )
    .await;
    assert_eq!(r.responses[0].partitions[0].error_code, 42);
}

/// Session errors are top-level; partition errors are per partition.
#[tokio::test]
async fn share_session_errors() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic = create_topic(&mut c, "se", 1).await;

    let r = share_fetch(&mut c, &fetch_request("g", "A", 1, topic, &[], 0)).await;
    assert_eq!((r.error_code, r.responses.len()), (122, 0));
    let r = share_ack(
        &mut c,
        &ack_request("g", "A", 1, topic, &[(0, 0, &[ACCEPT])]),
    )
    .await;
    assert_eq!(r.error_code, 122);
    let r = share_ack(&mut c, &ack_request("g", "A", -1, topic, &[])).await;
    assert_eq!(r.error_code, 122);
    // ShareAcknowledge cannot open a session.
    let r = share_ack(
        &mut c,
        &ack_request("g", "A", 0, topic, &[(0, 0, &[ACCEPT])]),
    )
    .await;
    assert_eq!(r.error_code, 123);
    // Acknowledgements in an epoch-0 ShareFetch.
    let r = share_fetch(
        &mut c,
        &fetch_request("g", "A", 0, topic, &[(0, 0, &[ACCEPT])], 0),
    )
    .await;
    assert_eq!(r.error_code, 42);
    // Empty member id.
    let r = share_fetch(&mut c, &fetch_request("g", "", 0, topic, &[], 0)).await;
    assert_eq!(r.error_code, 42);

    let r = share_fetch(&mut c, &fetch_request("g", "A", 0, topic, &[], 0)).await;
    assert_eq!(r.error_code, 0);
    let r = share_fetch(&mut c, &fetch_request("g", "A", 5, topic, &[], 0)).await;
    assert_eq!(r.error_code, 123);
    let r = share_ack(&mut c, &ack_request("g", "A", 2, topic, &[])).await;
    assert_eq!(r.error_code, 123);
    let r = share_fetch(&mut c, &fetch_request("g", "A", 1, topic, &[], 0)).await;
    assert_eq!(r.error_code, 0);
    // Forget the partition, name an unknown topic id instead.
    let unknown = Uuid::from_u128(42);
    let req = fetch_request("g", "A", 2, unknown, &[], 0).with_forgotten_topics_data(vec![
        ForgottenTopic::default()
            .with_topic_id(topic)
            .with_partitions(vec![0]),
    ]);
    let r = share_fetch(&mut c, &req).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.responses.len(), 1);
    assert_eq!(r.responses[0].topic_id, unknown);
    assert_eq!(r.responses[0].partitions[0].error_code, 100);
    assert_eq!(r.responses[0].partitions[0].current_leader.leader_id, -1);
    // The final epoch closes the session; after it, SHARE_SESSION_NOT_FOUND.
    let r = share_fetch(&mut c, &fetch_request("g", "A", -1, topic, &[], 0)).await;
    assert_eq!(r.error_code, 0);
    let r = share_fetch(&mut c, &fetch_request("g", "A", 3, topic, &[], 0)).await;
    assert_eq!(r.error_code, 122);
}

/// A consumer's connection closes while it holds records: they come back at once (delivery
/// count decremented, so the next member sees 1), waking another member's parked fetch.
#[tokio::test]
async fn closing_the_connection_releases_acquired_records() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic = create_topic(&mut c, "cc", 1).await;
    set_group_config(&mut c, "g", "share.auto.offset.reset", "earliest").await;
    produce(&mut c, "cc", &["x", "y"]).await;

    let mut a = Client::connect(b.addr).await;
    let r = share_fetch(&mut a, &fetch_request("g", "A", 0, topic, &[], 500)).await;
    assert_eq!(got(&r).0, vec![(0, 1, 1)]);

    let parked = park(&b, "g", "B", topic);
    until_parked(&b, "cc").await;
    drop(a);
    let r = woken(parked).await;
    assert_eq!(got(&r), (vec![(0, 1, 1)], values(&[(0, "x"), (1, "y")])));
}

/// A parked ShareFetch is answered when records are produced.
#[tokio::test]
async fn long_poll_returns_when_records_are_produced() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic = create_topic(&mut c, "lp", 1).await;
    // Default `latest`: the share-partition starts at the end (0 here).
    let parked = park(&b, "g", "A", topic);
    until_parked(&b, "lp").await;
    produce(&mut c, "lp", &["late"]).await;
    let r = woken(parked).await;
    assert_eq!(got(&r), (vec![(0, 0, 1)], values(&[(0, "late")])));
}

/// A lock expires on the broker's tick: a parked fetch of another member is woken and gets the
/// records with delivery count 2, and not before the lock duration (the clock is driven by
/// hand; the lock duration is the broker override's 1 s).
#[tokio::test]
async fn lock_expiry_redelivers_to_another_member() {
    let clock = ManualClock::new(1_000_000);
    let b = start_with_clock(
        &[
            "group.share.min.record.lock.duration.ms=1000",
            "group.share.record.lock.duration.ms=1000",
        ],
        clock.clone(),
    )
    .await;
    let mut c = Client::connect(b.addr).await;
    let topic = create_topic(&mut c, "le", 1).await;
    set_group_config(&mut c, "g", "share.auto.offset.reset", "earliest").await;
    produce(&mut c, "le", &["p", "q", "r"]).await;

    let mut a = Client::connect(b.addr).await;
    let r = share_fetch(&mut a, &fetch_request("g", "A", 0, topic, &[], 500)).await;
    assert_eq!(r.acquisition_lock_timeout_ms, 1000);
    assert_eq!(got(&r).0, vec![(0, 2, 1)]);

    clock.advance(999);
    let mut other = Client::connect(b.addr).await;
    let r = share_fetch(&mut other, &fetch_request("g", "B", 0, topic, &[], 0)).await;
    assert_eq!(got(&r), (vec![], vec![]), "still locked at 999 ms");

    let parked = park(&b, "g", "B2", topic);
    until_parked(&b, "le").await;
    clock.advance(1);
    let r = woken(parked).await;
    assert_eq!(
        got(&r),
        (vec![(0, 2, 2)], values(&[(0, "p"), (1, "q"), (2, "r")]))
    );
    // A's late acknowledgement fails: the records are B2's now.
    let r = share_ack(
        &mut a,
        &ack_request("g", "A", 1, topic, &[(0, 2, &[ACCEPT])]),
    )
    .await;
    assert_eq!(r.responses[0].partitions[0].error_code, 121);
}

/// `share.auto.offset.reset`: latest (the default) starts at the end, earliest at the log
/// start; set per group with IncrementalAlterConfigs on the GROUP resource.
#[tokio::test]
async fn auto_offset_reset_earliest_and_latest() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic = create_topic(&mut c, "ar", 1).await;
    produce(&mut c, "ar", &["old1", "old2"]).await;
    set_group_config(&mut c, "early", "share.auto.offset.reset", "earliest").await;

    let r = share_fetch(&mut c, &fetch_request("late", "A", 0, topic, &[], 0)).await;
    assert_eq!(got(&r), (vec![], vec![]));
    assert_eq!(spso(&b, "late", topic), Some(2));
    produce(&mut c, "ar", &["new"]).await;
    let r = share_fetch(&mut c, &fetch_request("late", "A", 1, topic, &[], 500)).await;
    assert_eq!(got(&r), (vec![(2, 2, 1)], values(&[(2, "new")])));

    let r = share_fetch(&mut c, &fetch_request("early", "A", 0, topic, &[], 500)).await;
    assert_eq!(got(&r).0, vec![(0, 2, 1)]);
}

/// ApiVersions advertises ShareFetch and ShareAcknowledge at v1-2 and finalizes share.version 1.
#[tokio::test]
async fn api_versions_show_share_apis_and_feature() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let r: ApiVersionsResponse = c
        .call(
            ApiKey::ApiVersions,
            3,
            &ApiVersionsRequest::default()
                .with_client_software_name(s("t"))
                .with_client_software_version(s("1")),
        )
        .await;
    for key in [ApiKey::ShareFetch, ApiKey::ShareAcknowledge] {
        let k = r
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .unwrap_or_else(|| panic!("{key:?} advertised"));
        assert_eq!((k.min_version, k.max_version), (1, 2));
    }
    let f = r
        .finalized_features
        .iter()
        .find(|f| f.name.as_str() == "share.version")
        .expect("share.version finalized");
    assert_eq!((f.min_version_level, f.max_version_level), (1, 1));
    let f = r
        .supported_features
        .iter()
        .find(|f| f.name.as_str() == "share.version")
        .expect("share.version supported");
    assert_eq!((f.min_version, f.max_version), (0, 1));
}

/// READ on the group (top level) and READ on the topic (per partition), as KIP-932 lists them.
#[tokio::test]
async fn share_fetch_and_acknowledge_check_acls() {
    use fjord::security::acl::{AclOperation as Op, ResourceType as RT};
    let b = start(&[AUTHORIZER]).await;
    let created = b
        .broker
        .create_acls(vec![allow(RT::Cluster, "kafka-cluster", Op::Create)])
        .await;
    assert!(created.iter().all(|r| r.is_ok()));
    let mut c = Client::connect(b.addr).await;
    let topic = create_topic(&mut c, "acl", 1).await;

    let r = share_fetch(&mut c, &fetch_request("g", "A", 0, topic, &[], 0)).await;
    assert_eq!((r.error_code, r.responses.len()), (30, 0));
    let r = share_ack(&mut c, &ack_request("g", "A", 1, topic, &[])).await;
    assert_eq!(r.error_code, 30);

    let created = b
        .broker
        .create_acls(vec![allow(RT::Group, "g", Op::Read)])
        .await;
    assert!(created.iter().all(|r| r.is_ok()));
    let r = share_fetch(&mut c, &fetch_request("g", "A", 0, topic, &[], 0)).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.responses[0].partitions[0].error_code, 29);
    let r = share_ack(
        &mut c,
        &ack_request("g", "A", 1, topic, &[(0, 0, &[ACCEPT])]),
    )
    .await;
    assert_eq!(r.responses[0].partitions[0].error_code, 29);

    let created = b
        .broker
        .create_acls(vec![allow(RT::Topic, "acl", Op::Read)])
        .await;
    assert!(created.iter().all(|r| r.is_ok()));
    // An incremental answer leaves out a partition with nothing to say; a full one lists it.
    let r = share_fetch(&mut c, &fetch_request("g", "A", 2, topic, &[], 0)).await;
    assert_eq!((r.error_code, r.responses.len()), (0, 0));
    let r = share_fetch(&mut c, &fetch_request("g", "A", 0, topic, &[], 0)).await;
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
}

/// `MaxRecords` is shared by the session's partitions: each epoch starts one partition further
/// on, so a backlog on one partition does not starve the other.
#[tokio::test]
async fn max_records_goes_to_the_partitions_in_turn() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic = create_topic(&mut c, "mr", 2).await;
    set_group_config(&mut c, "g", "share.auto.offset.reset", "earliest").await;
    for p in 0..2 {
        for v in ["a", "b"] {
            produce_to(&mut c, "mr", p, &[v]).await;
        }
    }
    let both = |epoch| {
        let mut req = fetch_request("g", "A", epoch, topic, &[], 0).with_max_records(1);
        if epoch == 0 {
            req.topics[0]
                .partitions
                .push(FetchPartition::default().with_partition_index(1));
        }
        req
    };
    let mut seen = Vec::new();
    for epoch in 0..4 {
        let r = share_fetch(&mut c, &both(epoch)).await;
        for t in &r.responses {
            for p in &t.partitions {
                for a in &p.acquired_records {
                    seen.push((p.partition_index, a.first_offset, a.last_offset));
                }
            }
        }
    }
    assert_eq!(seen, vec![(0, 0, 0), (1, 0, 0), (0, 1, 1), (1, 1, 1)]);
}

/// KAFKA-19950: a member re-creates its session on a new connection; the old connection's
/// close must not end the new session nor release its records. (Member C's session on the old
/// connection shows when the close has been processed.)
#[tokio::test]
async fn a_stale_connection_close_leaves_the_moved_session_alone() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic = create_topic(&mut c, "mv", 1).await;
    set_group_config(&mut c, "g", "share.auto.offset.reset", "earliest").await;
    produce(&mut c, "mv", &["m"]).await;

    let mut old = Client::connect(b.addr).await;
    let r = share_fetch(&mut old, &fetch_request("g", "A", 0, topic, &[], 500)).await;
    assert_eq!(got(&r).0, vec![(0, 0, 1)]);
    let r = share_fetch(&mut old, &fetch_request("g", "C", 0, topic, &[], 0)).await;
    assert_eq!(r.error_code, 0);
    let mut new = Client::connect(b.addr).await;
    let r = share_fetch(&mut new, &fetch_request("g", "A", 0, topic, &[], 0)).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(b.broker.share_sessions.len(), 2);

    drop(old);
    tokio::time::timeout(Duration::from_secs(10), async {
        while b.broker.share_sessions.len() > 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the old connection's close was never processed");
    // A's records stay A's; its session goes on at epoch 1 on the new connection.
    let r = share_fetch(&mut c, &fetch_request("g", "B", 0, topic, &[], 0)).await;
    assert_eq!(got(&r), (vec![], vec![]));
    let r = share_ack(
        &mut new,
        &ack_request("g", "A", 1, topic, &[(0, 0, &[ACCEPT])]),
    )
    .await;
    assert_eq!(
        (r.error_code, r.responses[0].partitions[0].error_code),
        (0, 0)
    );
}

/// A parked ShareFetch is answered when another member RELEASEs records.
#[tokio::test]
async fn long_poll_returns_when_records_are_released() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic = create_topic(&mut c, "rl", 1).await;
    set_group_config(&mut c, "g", "share.auto.offset.reset", "earliest").await;
    produce(&mut c, "rl", &["r"]).await;
    let r = share_fetch(&mut c, &fetch_request("g", "A", 0, topic, &[], 500)).await;
    assert_eq!(got(&r).0, vec![(0, 0, 1)]);

    let parked = park(&b, "g", "B", topic);
    until_parked(&b, "rl").await;
    let r = share_ack(
        &mut c,
        &ack_request("g", "A", 1, topic, &[(0, 0, &[RELEASE])]),
    )
    .await;
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
    let r = woken(parked).await;
    assert_eq!(got(&r), (vec![(0, 0, 2)], values(&[(0, "r")])));
}

const RENEW: i8 = 4;
const INVALID_REQUEST: i16 = 42;
const INVALID_RECORD_STATE: i16 = 121;

/// `values` as ONE batch: `common::batch` writes a batch per record (the codec's encoder
/// starts a new batch where `offset - sequence` changes, and sequences are -1 without a
/// producer id), so the sequences here count up with the offsets. No producer id: the broker
/// does not look at the base sequence of a non-idempotent batch.
async fn produce_one_batch(c: &mut Client, topic: &str, values: &[&str]) {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32,
            timestamp: 1 + i as i64,
            key: None,
            value: Some(bytes::Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(buf.freeze())),
                ]),
        ]);
    let r: ProduceResponse = c.call(ApiKey::Produce, 9, &req).await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
}

/// A v2 ShareFetch: `fetch_request` with `ShareAcquireMode` and `MaxRecords`.
fn fetch_v2(
    group: &str,
    member: &str,
    epoch: i32,
    topic: Uuid,
    mode: i8,
    max: i32,
) -> ShareFetchRequest {
    fetch_request(group, member, epoch, topic, &[], 0)
        .with_max_records(max)
        .with_batch_size(max)
        .with_share_acquire_mode(mode)
}

/// The renewing ShareFetch a 4.3 client sends: the acknowledgements, `IsRenewAck`, and every
/// limit 0.
fn renew_fetch(
    group: &str,
    member: &str,
    epoch: i32,
    topic: Uuid,
    acks: &[(i64, i64, &[i8])],
) -> ShareFetchRequest {
    fetch_request(group, member, epoch, topic, acks, 0)
        .with_min_bytes(0)
        .with_max_bytes(0)
        .with_max_records(0)
        .with_batch_size(0)
        .with_is_renew_ack(true)
}

/// ShareFetch v2 `ShareAcquireMode` 1 (KIP-1206): at most `MaxRecords` records, cutting a
/// batch, the rest for the next fetch; the whole batch still goes out (the client hands out
/// only acquired offsets). v1 and mode 0 overshoot to the batch end; an unknown mode is
/// INVALID_REQUEST.
#[tokio::test]
async fn v2_record_limit_acquires_at_most_max_records() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic = create_topic(&mut c, "rl", 1).await;
    set_group_config(&mut c, "g", "share.auto.offset.reset", "earliest").await;
    let ten = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    produce_one_batch(&mut c, "rl", &ten).await;
    let all: Vec<(i64, &str)> = ten
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64, *v))
        .collect();

    let mut a = Client::connect(b.addr).await;
    let r: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 2, &fetch_v2("g", "A", 0, topic, 1, 3))
        .await;
    assert_eq!(got(&r), (vec![(0, 2, 1)], values(&all)));
    let r: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 2, &fetch_v2("g", "A", 1, topic, 1, 3))
        .await;
    assert_eq!(got(&r).0, vec![(3, 5, 1)]);
    let mut other = Client::connect(b.addr).await;
    let r: ShareFetchResponse = other
        .call(ApiKey::ShareFetch, 2, &fetch_v2("g", "B", 0, topic, 1, 1))
        .await;
    assert_eq!(got(&r).0, vec![(6, 6, 1)]);
    // Batch-optimized (v2 mode 0, or v1) takes the rest of the batch.
    let r: ShareFetchResponse = other
        .call(ApiKey::ShareFetch, 2, &fetch_v2("g", "B", 1, topic, 0, 1))
        .await;
    assert_eq!(got(&r).0, vec![(7, 9, 1)]);
    let r: ShareFetchResponse = other
        .call(ApiKey::ShareFetch, 2, &fetch_v2("g", "C", 0, topic, 2, 1))
        .await;
    assert_eq!((r.error_code, r.responses.len()), (INVALID_REQUEST, 0));
}

/// RENEW (KIP-1222): ShareAcknowledge v2 and a renewing ShareFetch v2 restart the lock of the
/// member's records (delivery count kept), the ShareAcknowledge answer carries
/// `AcquisitionLockTimeoutMs`; nobody else gets the records meanwhile. RENEW below v2 or
/// without `IsRenewAck` is INVALID_REQUEST for the partition, a renewing fetch with non-zero
/// limits is INVALID_REQUEST, and renewing records one does not hold is INVALID_RECORD_STATE.
#[tokio::test]
async fn v2_renew_restarts_the_lock() {
    let clock = ManualClock::new(1_000_000);
    let b = start_with_clock(
        &[
            "group.share.min.record.lock.duration.ms=1000",
            "group.share.record.lock.duration.ms=1000",
        ],
        clock.clone(),
    )
    .await;
    let mut c = Client::connect(b.addr).await;
    let topic = create_topic(&mut c, "rn", 1).await;
    set_group_config(&mut c, "g", "share.auto.offset.reset", "earliest").await;
    produce(&mut c, "rn", &["x", "y", "z"]).await;

    let mut a = Client::connect(b.addr).await;
    let r: ShareFetchResponse = a
        .call(ApiKey::ShareFetch, 2, &fetch_v2("g", "A", 0, topic, 0, 500))
        .await;
    assert_eq!(got(&r).0, vec![(0, 2, 1)]);

    // Refused renewals change nothing (the two acknowledgements still use session epochs 1
    // and 2; the refused fetch, a top-level error, uses none).
    let renew = ack_request("g", "A", 1, topic, &[(0, 2, &[RENEW])]);
    let r: ShareAcknowledgeResponse = a.call(ApiKey::ShareAcknowledge, 1, &renew).await;
    assert_eq!(
        r.responses[0].partitions[0].error_code, INVALID_REQUEST,
        "v1"
    );
    let r: ShareAcknowledgeResponse = a
        .call(
            ApiKey::ShareAcknowledge,
            2,
            &ack_request("g", "A", 2, topic, &[(0, 2, &[RENEW])]),
        )
        .await;
    assert_eq!(
        r.responses[0].partitions[0].error_code, INVALID_REQUEST,
        "no IsRenewAck"
    );
    let r: ShareFetchResponse = a
        .call(
            ApiKey::ShareFetch,
            2,
            &renew_fetch("g", "A", 3, topic, &[(0, 2, &[RENEW])]).with_max_records(500),
        )
        .await;
    assert_eq!((r.error_code, r.responses.len()), (INVALID_REQUEST, 0));

    // At 800 ms A renews with a ShareAcknowledge: locked until 1 800.
    clock.advance(800);
    let r: ShareAcknowledgeResponse = a
        .call(
            ApiKey::ShareAcknowledge,
            2,
            &ack_request("g", "A", 3, topic, &[(0, 2, &[RENEW])]).with_is_renew_ack(true),
        )
        .await;
    assert_eq!((r.error_code, r.acquisition_lock_timeout_ms), (0, 1000));
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
    clock.advance(400);
    let mut other = Client::connect(b.addr).await;
    let r: ShareFetchResponse = other
        .call(ApiKey::ShareFetch, 2, &fetch_v2("g", "B", 0, topic, 0, 500))
        .await;
    assert_eq!(got(&r), (vec![], vec![]), "still A's at 1 200 ms");
    // B cannot renew them.
    let r: ShareAcknowledgeResponse = other
        .call(
            ApiKey::ShareAcknowledge,
            2,
            &ack_request("g", "B", 1, topic, &[(0, 2, &[RENEW])]).with_is_renew_ack(true),
        )
        .await;
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        INVALID_RECORD_STATE
    );

    // At 1 200 ms A renews with a ShareFetch, which fetches nothing: locked until 2 200.
    let r: ShareFetchResponse = a
        .call(
            ApiKey::ShareFetch,
            2,
            &renew_fetch("g", "A", 4, topic, &[(0, 2, &[RENEW])]),
        )
        .await;
    assert_eq!(r.error_code, 0);
    let p = &r.responses[0].partitions[0];
    assert_eq!((p.acknowledge_error_code, p.error_code), (0, 0));
    assert!(p.acquired_records.is_empty());
    clock.advance(999);
    let r: ShareFetchResponse = other
        .call(ApiKey::ShareFetch, 2, &fetch_v2("g", "B", 2, topic, 0, 500))
        .await;
    assert_eq!(got(&r), (vec![], vec![]), "still A's at 2 199 ms");

    // Accepted once, by A; nothing left for B.
    let r: ShareAcknowledgeResponse = a
        .call(
            ApiKey::ShareAcknowledge,
            2,
            &ack_request("g", "A", 5, topic, &[(0, 2, &[ACCEPT])]),
        )
        .await;
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
    assert_eq!(spso(&b, "g", topic), Some(3));
    clock.advance(5_000);
    let r: ShareFetchResponse = other
        .call(ApiKey::ShareFetch, 2, &fetch_v2("g", "B", 3, topic, 0, 500))
        .await;
    assert_eq!(got(&r), (vec![], vec![]));
}
