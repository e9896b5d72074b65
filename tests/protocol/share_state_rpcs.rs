//! The share coordinator's APIs (InitializeShareGroupState 83, ReadShareGroupState 84,
//! WriteShareGroupState 85, DeleteShareGroupState 86, ReadShareGroupStateSummary 87, all v0)
//! and FindCoordinator key type 2 (design share-groups.md §14.1 step 4). A single broker keeps
//! share state itself: it finds itself for key type 2 but neither advertises nor serves 83–87.
//! A cluster node serves them for the `__share_group_state` partitions it leads.

use std::time::Duration;

use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::common::*;
use fjord::security::acl::{AclOperation as Op, ResourceType as RT};

const SHARE_KEY: i8 = 2;
const INVALID_REQUEST: i16 = 42;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const NOT_COORDINATOR: i16 = 16;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const FENCED_LEADER_EPOCH: i16 = 74;
const FENCED_STATE_EPOCH: i16 = 124;

const STATE_APIS: [ApiKey; 5] = [
    ApiKey::InitializeShareGroupState,
    ApiKey::ReadShareGroupState,
    ApiKey::WriteShareGroupState,
    ApiKey::DeleteShareGroupState,
    ApiKey::ReadShareGroupStateSummary,
];

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Kafka's `group:topicId:partition`, the topic id in `Uuid.toString()` form.
fn share_key(group: &str, topic_id: Uuid, partition: i32) -> String {
    use base64::Engine;
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(topic_id.as_bytes());
    format!("{group}:{id}:{partition}")
}

async fn find_share_coordinator(c: &mut Client, version: i16, key: &str) -> (i16, i32) {
    let req = FindCoordinatorRequest::default().with_key_type(SHARE_KEY);
    let req = if version >= 4 {
        req.with_coordinator_keys(vec![s(key)])
    } else {
        req.with_key(s(key))
    };
    let resp: FindCoordinatorResponse = c.call(ApiKey::FindCoordinator, version, &req).await;
    if version >= 4 {
        let k = &resp.coordinators[0];
        (k.error_code, k.node_id.0)
    } else {
        (resp.error_code, resp.node_id.0)
    }
}

async fn advertised(c: &mut Client) -> Vec<i16> {
    let resp: ApiVersionsResponse = c
        .call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())
        .await;
    resp.api_keys.iter().map(|k| k.api_key).collect()
}

/// A single broker finds itself for key type 2 (v6+ only, ClusterAction on the cluster, as
/// Kafka's `getCoordinator`) and neither advertises nor serves 83–87.
#[tokio::test]
async fn single_broker_finds_itself_but_serves_no_state_rpcs() {
    let b = start(&[AUTHORIZER, "super.users=User:admin"]).await;
    let mut c = Client::connect(b.addr).await;
    let key = share_key("g", Uuid::from_u128(7), 0);
    assert_eq!(
        find_share_coordinator(&mut c, 6, &key).await,
        (CLUSTER_AUTHORIZATION_FAILED, -1)
    );
    let granted = b
        .broker
        .create_acls(vec![allow(RT::Cluster, "kafka-cluster", Op::ClusterAction)])
        .await;
    assert!(granted.iter().all(|r| r.is_ok()));
    assert_eq!(
        find_share_coordinator(&mut c, 6, &key).await,
        (0, b.broker.node_id)
    );
    for v in [3, 5] {
        assert_eq!(
            find_share_coordinator(&mut c, v, &key).await,
            (INVALID_REQUEST, -1),
            "v{v}"
        );
    }
    let apis = advertised(&mut c).await;
    for key in STATE_APIS {
        assert!(!apis.contains(&(key as i16)), "{key:?} advertised");
    }
    // Not served: the connection is closed, as for any version not advertised.
    let req = ReadShareGroupStateRequest::default().with_group_id(s("g"));
    let mut raw = bytes::BytesMut::new();
    use kafka_protocol::protocol::Encodable;
    RequestHeader::default()
        .with_request_api_key(ApiKey::ReadShareGroupState as i16)
        .with_request_api_version(0)
        .with_correlation_id(1)
        .encode(
            &mut raw,
            ApiKey::ReadShareGroupState.request_header_version(0),
        )
        .unwrap();
    req.encode(&mut raw, 0).unwrap();
    c.send_raw(&raw).await;
    assert_eq!(c.recv_raw().await, None);
}

fn init_req(
    group: &str,
    topic_id: Uuid,
    partition: i32,
    state_epoch: i32,
    start: i64,
) -> InitializeShareGroupStateRequest {
    use initialize_share_group_state_request::{InitializeStateData, PartitionData};
    InitializeShareGroupStateRequest::default()
        .with_group_id(s(group))
        .with_topics(vec![
            InitializeStateData::default()
                .with_topic_id(topic_id)
                .with_partitions(vec![
                    PartitionData::default()
                        .with_partition(partition)
                        .with_state_epoch(state_epoch)
                        .with_start_offset(start),
                ]),
        ])
}

fn write_req(
    group: &str,
    topic_id: Uuid,
    partition: i32,
    (state_epoch, leader_epoch): (i32, i32),
    start: i64,
    batches: &[(i64, i64, i8, i16)],
) -> WriteShareGroupStateRequest {
    use write_share_group_state_request::{PartitionData, StateBatch, WriteStateData};
    WriteShareGroupStateRequest::default()
        .with_group_id(s(group))
        .with_topics(vec![
            WriteStateData::default()
                .with_topic_id(topic_id)
                .with_partitions(vec![
                    PartitionData::default()
                        .with_partition(partition)
                        .with_state_epoch(state_epoch)
                        .with_leader_epoch(leader_epoch)
                        .with_start_offset(start)
                        .with_state_batches(
                            batches
                                .iter()
                                .map(|&(f, l, st, n)| {
                                    StateBatch::default()
                                        .with_first_offset(f)
                                        .with_last_offset(l)
                                        .with_delivery_state(st)
                                        .with_delivery_count(n)
                                })
                                .collect(),
                        ),
                ]),
        ])
}

fn read_req(
    group: &str,
    topic_id: Uuid,
    partition: i32,
    leader_epoch: i32,
) -> ReadShareGroupStateRequest {
    use read_share_group_state_request::{PartitionData, ReadStateData};
    ReadShareGroupStateRequest::default()
        .with_group_id(s(group))
        .with_topics(vec![
            ReadStateData::default()
                .with_topic_id(topic_id)
                .with_partitions(vec![
                    PartitionData::default()
                        .with_partition(partition)
                        .with_leader_epoch(leader_epoch),
                ]),
        ])
}

fn summary_req(group: &str, topic_id: Uuid, partition: i32) -> ReadShareGroupStateSummaryRequest {
    use read_share_group_state_summary_request::{PartitionData, ReadStateSummaryData};
    ReadShareGroupStateSummaryRequest::default()
        .with_group_id(s(group))
        .with_topics(vec![
            ReadStateSummaryData::default()
                .with_topic_id(topic_id)
                .with_partitions(vec![PartitionData::default().with_partition(partition)]),
        ])
}

fn delete_req(group: &str, topic_id: Uuid, partition: i32) -> DeleteShareGroupStateRequest {
    use delete_share_group_state_request::{DeleteStateData, PartitionData};
    DeleteShareGroupStateRequest::default()
        .with_group_id(s(group))
        .with_topics(vec![
            DeleteStateData::default()
                .with_topic_id(topic_id)
                .with_partitions(vec![PartitionData::default().with_partition(partition)]),
        ])
}

async fn init(c: &mut Client, r: &InitializeShareGroupStateRequest) -> i16 {
    let resp: InitializeShareGroupStateResponse =
        c.call(ApiKey::InitializeShareGroupState, 0, r).await;
    resp.results[0].partitions[0].error_code
}

async fn write(c: &mut Client, r: &WriteShareGroupStateRequest) -> i16 {
    write_at(c, r, 0).await
}

async fn write_at(c: &mut Client, r: &WriteShareGroupStateRequest, version: i16) -> i16 {
    let resp: WriteShareGroupStateResponse = c.call(ApiKey::WriteShareGroupState, version, r).await;
    resp.results[0].partitions[0].error_code
}

async fn read(
    c: &mut Client,
    r: &ReadShareGroupStateRequest,
) -> read_share_group_state_response::PartitionResult {
    let resp: ReadShareGroupStateResponse = c.call(ApiKey::ReadShareGroupState, 0, r).await;
    resp.results[0].partitions[0].clone()
}

/// A read's state batches as (first offset, last offset, delivery state, delivery count).
fn batches_of(r: &read_share_group_state_response::PartitionResult) -> Vec<(i64, i64, i8, i16)> {
    r.state_batches
        .iter()
        .map(|b| {
            (
                b.first_offset,
                b.last_offset,
                b.delivery_state,
                b.delivery_count,
            )
        })
        .collect()
}

async fn summary(
    c: &mut Client,
    r: &ReadShareGroupStateSummaryRequest,
) -> read_share_group_state_summary_response::PartitionResult {
    summary_at(c, r, 0).await
}

/// A summary as (error code, state epoch, leader epoch, start offset).
fn summary_fields(
    sm: &read_share_group_state_summary_response::PartitionResult,
) -> (i16, i32, i32, i64) {
    (
        sm.error_code,
        sm.state_epoch,
        sm.leader_epoch,
        sm.start_offset,
    )
}

async fn summary_at(
    c: &mut Client,
    r: &ReadShareGroupStateSummaryRequest,
    version: i16,
) -> read_share_group_state_summary_response::PartitionResult {
    let resp: ReadShareGroupStateSummaryResponse =
        c.call(ApiKey::ReadShareGroupStateSummary, version, r).await;
    resp.results[0].partitions[0].clone()
}

async fn delete(c: &mut Client, r: &DeleteShareGroupStateRequest) -> i16 {
    let resp: DeleteShareGroupStateResponse = c.call(ApiKey::DeleteShareGroupState, 0, r).await;
    resp.results[0].partitions[0].error_code
}

/// FindCoordinator key type 2 until it names a node (COORDINATOR_NOT_AVAILABLE while
/// `__share_group_state` is being created and its leaders elected).
async fn share_coordinator_of(c: &mut Client, key: &str) -> i32 {
    for _ in 0..200 {
        match find_share_coordinator(c, 6, key).await {
            (0, node) => return node,
            (15, _) => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("FindCoordinator: {other:?}"),
        }
    }
    panic!("no share coordinator for {key}");
}

/// Three in-process nodes: FindCoordinator key type 2 names the same node from every node
/// (the leader of the key's `__share_group_state` partition, which the first lookup creates);
/// the coordinator serves initialize → write → read → summary → delete with exact values and
/// Kafka's fencing codes; the other nodes answer NOT_COORDINATOR.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_share_coordinator_round_trip_and_fencing() {
    let cluster = start_cluster(3, &["share.coordinator.state.topic.num.partitions=5"]).await;
    let mut clients = Vec::new();
    for addr in &cluster.addrs {
        clients.push(Client::connect(*addr).await);
    }
    let apis = advertised(&mut clients[0]).await;
    for key in STATE_APIS {
        assert!(apis.contains(&(key as i16)), "{key:?} not advertised");
    }
    // A user topic with two partitions whose state is kept.
    let topic_id = {
        let req = CreateTopicsRequest::default()
            .with_topics(vec![
                create_topics_request::CreatableTopic::default()
                    .with_name(name("queue"))
                    .with_num_partitions(2)
                    .with_replication_factor(3),
            ])
            .with_timeout_ms(5000);
        let resp: CreateTopicsResponse = clients[0].call(ApiKey::CreateTopics, 7, &req).await;
        assert_eq!(resp.topics[0].error_code, 0);
        resp.topics[0].topic_id
    };
    let key = share_key("readers", topic_id, 1);
    let mut found = Vec::new();
    for c in clients.iter_mut() {
        found.push(share_coordinator_of(c, &key).await);
    }
    assert!(found.iter().all(|&n| n == found[0]), "{found:?}");
    let at = (found[0] - 1) as usize;
    let other = (at + 1) % 3;
    let state_partition =
        cluster.nodes[at]
            .broker
            .share_state_partition(&fjord::share::records::StateKey {
                group: "readers".into(),
                topic_id,
                partition: 1,
            });
    assert_eq!(
        cluster.nodes[at].broker.share_state_partitions(),
        5,
        "share.coordinator.state.topic.num.partitions"
    );

    // The topic's metadata reaches every node's image before the coordinator's checks.
    let (g, t) = ("readers", topic_id);
    let mut code = UNKNOWN_TOPIC_OR_PARTITION;
    for _ in 0..100 {
        code = init(&mut clients[at], &init_req(g, t, 1, 0, 100)).await;
        if code != UNKNOWN_TOPIC_OR_PARTITION && code != 14 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(code, 0, "initialize");

    // Another node does not coordinate the key.
    assert_eq!(
        init(&mut clients[other], &init_req(g, t, 1, 0, 100)).await,
        NOT_COORDINATOR
    );
    assert_eq!(
        read(&mut clients[other], &read_req(g, t, 1, 0))
            .await
            .error_code,
        NOT_COORDINATOR
    );

    assert!(
        cluster.nodes[at]
            .broker
            .share_coordinator
            .owned_partitions()
            .contains(&state_partition)
    );
    let c = &mut clients[at];
    let batches = [(100, 104, 2, 1), (105, 109, 0, 2)];
    assert_eq!(
        write(c, &write_req(g, t, 1, (0, 3), 100, &batches)).await,
        0
    );
    let r = read(c, &read_req(g, t, 1, 3)).await;
    assert_eq!((r.error_code, r.state_epoch, r.start_offset), (0, 0, 100));
    let got = batches_of(&r);
    assert_eq!(got, batches);

    // A new leader's read (epoch 4) stores its epoch: the old leader (3) is fenced.
    assert_eq!(read(c, &read_req(g, t, 1, 4)).await.error_code, 0);
    assert_eq!(
        write(c, &write_req(g, t, 1, (0, 3), 100, &batches)).await,
        FENCED_LEADER_EPOCH
    );
    assert_eq!(
        read(c, &read_req(g, t, 1, 3)).await.error_code,
        FENCED_LEADER_EPOCH
    );
    // AlterShareGroupOffsets' new state epoch fences the leader's writes of the old one.
    assert_eq!(init(c, &init_req(g, t, 1, 1, 50)).await, 0);
    assert_eq!(
        write(c, &write_req(g, t, 1, (0, 4), 50, &[])).await,
        FENCED_STATE_EPOCH
    );
    assert_eq!(
        init(c, &init_req(g, t, 1, 0, 50)).await,
        FENCED_STATE_EPOCH,
        "a stale initialize"
    );
    let sm = summary(c, &summary_req(g, t, 1)).await;
    assert_eq!(summary_fields(&sm), (0, 1, 4, 50));
    let r = read(c, &read_req(g, t, 1, 4)).await;
    assert_eq!((r.error_code, r.state_epoch, r.start_offset), (0, 1, 50));
    assert!(r.state_batches.is_empty());

    // v1 (KIP-1226) carries the delivery-complete count both ways; v0's summary has none.
    let mut w = write_req(g, t, 1, (1, 4), 50, &[(50, 52, 2, 1), (53, 53, 0, 1)]);
    w.topics[0].partitions[0].delivery_complete_count = 3;
    assert_eq!(write_at(c, &w, 1).await, 0);
    let sm = summary_at(c, &summary_req(g, t, 1), 1).await;
    assert_eq!(
        (sm.error_code, sm.start_offset, sm.delivery_complete_count),
        (0, 50, 3)
    );
    assert_eq!(
        summary(c, &summary_req(g, t, 1))
            .await
            .delivery_complete_count,
        -1
    );

    // An unknown topic-partition.
    assert_eq!(
        init(c, &init_req(g, t, 7, 0, 0)).await,
        match find_share_coordinator(c, 6, &share_key(g, t, 7)).await {
            (0, n) if n == found[0] => UNKNOWN_TOPIC_OR_PARTITION,
            _ => NOT_COORDINATOR,
        }
    );

    // Delete: then the key is uninitialized again.
    assert_eq!(delete(c, &delete_req(g, t, 1)).await, 0);
    let r = read(c, &read_req(g, t, 1, 4)).await;
    assert_eq!((r.error_code, r.start_offset), (INVALID_REQUEST, -1));
    assert_eq!(
        r.error_message.as_deref(),
        Some("Read operation on uninitialized share partition not allowed.")
    );
    let sm = summary(c, &summary_req(g, t, 1)).await;
    assert_eq!(summary_fields(&sm), (0, 0, 0, -1));
    assert_eq!(delete(c, &delete_req(g, t, 1)).await, 0, "deleted already");
    drop(cluster);
}

/// ClusterAction on the cluster, as Kafka's `KafkaApis` asks of the share-state APIs: a client
/// denied it gets CLUSTER_AUTHORIZATION_FAILED for every partition, and for key type 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_share_state_rpcs_need_cluster_action() {
    let cluster = start_cluster(
        3,
        &[
            AUTHORIZER,
            "allow.everyone.if.no.acl.found=true",
            "share.coordinator.state.topic.num.partitions=1",
        ],
    )
    .await;
    let t = Uuid::from_u128(9);
    let key = share_key("g", t, 0);
    // Every node's image names the same coordinator before it is asked.
    let mut nodes = Vec::new();
    for addr in &cluster.addrs {
        nodes.push(share_coordinator_of(&mut Client::connect(*addr).await, &key).await);
    }
    assert!(nodes.iter().all(|&n| n == nodes[0]), "{nodes:?}");
    let mut c = Client::connect(cluster.addrs[(nodes[0] - 1) as usize]).await;
    // Allowed while no ACL names the cluster: the request reaches the coordinator (which
    // does not know the topic) once it has loaded the partition.
    let mut code = 14;
    for _ in 0..100 {
        code = init(&mut c, &init_req("g", t, 0, 0, 0)).await;
        if code != 14 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(code, UNKNOWN_TOPIC_OR_PARTITION);
    let mut deny = allow(RT::Cluster, "kafka-cluster", Op::ClusterAction);
    deny.entry.permission = fjord::security::acl::AclPermissionType::Deny;
    let created = cluster.nodes[0].broker.create_acls(vec![deny]).await;
    assert!(created.iter().all(|r| r.is_ok()), "{created:?}");
    for _ in 0..100 {
        code = init(&mut c, &init_req("g", t, 0, 0, 0)).await;
        if code == CLUSTER_AUTHORIZATION_FAILED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(code, CLUSTER_AUTHORIZATION_FAILED, "initialize");
    assert_eq!(
        write(&mut c, &write_req("g", t, 0, (0, 0), 0, &[])).await,
        CLUSTER_AUTHORIZATION_FAILED
    );
    let r = read(&mut c, &read_req("g", t, 0, 0)).await;
    assert_eq!(
        (r.error_code, r.error_message.as_deref()),
        (
            CLUSTER_AUTHORIZATION_FAILED,
            Some("Cluster authorization failed.")
        )
    );
    assert_eq!(
        summary(&mut c, &summary_req("g", t, 0)).await.error_code,
        CLUSTER_AUTHORIZATION_FAILED
    );
    assert_eq!(
        delete(&mut c, &delete_req("g", t, 0)).await,
        CLUSTER_AUTHORIZATION_FAILED
    );
    assert_eq!(
        find_share_coordinator(&mut c, 6, &key).await,
        (CLUSTER_AUTHORIZATION_FAILED, -1)
    );
}

/// The latest record of `key` in `node`'s replica of its `__share_group_state` partition:
/// `None` without one, `Some(None)` for a tombstone.
fn last_record(
    node: &fjord::launch::Node,
    partition: i32,
    key: &fjord::share::records::StateKey,
) -> Option<Option<bytes::Bytes>> {
    let mut last = None;
    node.broker.topics.replay_internal_partition(
        fjord::share::persist::SHARE_STATE_TOPIC,
        partition,
        &mut |r| {
            if r.key
                .as_ref()
                .and_then(fjord::share::records::decode_key)
                .as_ref()
                == Some(key)
            {
                last = Some(r.value.clone());
            }
        },
    );
    last
}

/// Design §14.1 step 7 (f): three in-process nodes; state initialized and written for a
/// group's partition of topic `doomed` and of topic `kept`; `doomed` deleted with
/// DeleteTopics. Its key's coordinator tombstones the state by itself (no leader holds it:
/// the state was written with raw RPCs), every replica of the state partition gets the
/// tombstone, and the key reads as uninitialized (INVALID_REQUEST, not the
/// UNKNOWN_TOPIC_OR_PARTITION a key with state of an unknown topic answers); `kept`'s state
/// is as written. A topic re-created under the name has a new id and no state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_share_coordinator_tombstones_a_deleted_topics_state() {
    let cluster = start_cluster(3, &["share.coordinator.state.topic.num.partitions=5"]).await;
    let mut clients = Vec::new();
    for addr in &cluster.addrs {
        clients.push(Client::connect(*addr).await);
    }
    let create = |topic: &str| {
        CreateTopicsRequest::default()
            .with_topics(vec![
                create_topics_request::CreatableTopic::default()
                    .with_name(name(topic))
                    .with_num_partitions(1)
                    .with_replication_factor(3),
            ])
            .with_timeout_ms(5000)
    };
    let mut ids = Vec::new();
    for topic in ["doomed", "kept"] {
        let resp: CreateTopicsResponse = clients[0]
            .call(ApiKey::CreateTopics, 7, &create(topic))
            .await;
        assert_eq!(resp.topics[0].error_code, 0);
        ids.push(resp.topics[0].topic_id);
    }
    let (doomed, kept) = (ids[0], ids[1]);
    let g = "readers";
    let state_key = |topic_id| fjord::share::records::StateKey {
        group: g.into(),
        topic_id,
        partition: 0,
    };
    // Each key's coordinator (index into `clients`), initialized and written.
    let batches = [(10, 14, 2, 1), (15, 19, 0, 2)];
    let mut at = Vec::new();
    for t in [doomed, kept] {
        let node = share_coordinator_of(&mut clients[0], &share_key(g, t, 0)).await;
        let i = (node - 1) as usize;
        // Until the coordinator's image has the topic and names it the state partition's
        // leader (FindCoordinator answered from node 1's image), and it loaded the partition.
        let mut code = UNKNOWN_TOPIC_OR_PARTITION;
        for _ in 0..100 {
            code = init(&mut clients[i], &init_req(g, t, 0, 0, 10)).await;
            if ![UNKNOWN_TOPIC_OR_PARTITION, NOT_COORDINATOR, 14].contains(&code) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(code, 0, "initialize");
        assert_eq!(
            write(&mut clients[i], &write_req(g, t, 0, (0, 2), 10, &batches)).await,
            0
        );
        at.push(i);
    }
    let state_partition = cluster.nodes[at[0]]
        .broker
        .share_state_partition(&state_key(doomed));
    let written = last_record(&cluster.nodes[at[0]], state_partition, &state_key(doomed));
    assert!(matches!(written, Some(Some(_))), "{written:?}");

    let resp: DeleteTopicsResponse = clients[0]
        .call(
            ApiKey::DeleteTopics,
            6,
            &DeleteTopicsRequest::default()
                .with_topics(vec![
                    delete_topics_request::DeleteTopicState::default()
                        .with_name(Some(name("doomed"))),
                ])
                .with_timeout_ms(5000),
        )
        .await;
    assert_eq!(resp.responses[0].error_code, 0);

    // The coordinator's image loses the topic, then it tombstones the key.
    let c = &mut clients[at[0]];
    let mut r = read(c, &read_req(g, doomed, 0, -1)).await;
    for _ in 0..200 {
        if r.error_code == INVALID_REQUEST {
            break;
        }
        assert!(
            [0, UNKNOWN_TOPIC_OR_PARTITION].contains(&r.error_code),
            "{r:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        r = read(c, &read_req(g, doomed, 0, -1)).await;
    }
    assert_eq!((r.error_code, r.start_offset), (INVALID_REQUEST, -1));
    assert_eq!(
        r.error_message.as_deref(),
        Some("Read operation on uninitialized share partition not allowed.")
    );
    assert!(r.state_batches.is_empty());
    assert_eq!(
        cluster.nodes[at[0]]
            .broker
            .share_coordinator
            .get(&state_key(doomed)),
        None
    );
    // The summary asks the image first, which has no such topic any more.
    assert_eq!(
        summary(c, &summary_req(g, doomed, 0)).await.error_code,
        UNKNOWN_TOPIC_OR_PARTITION
    );
    // Every replica of the state partition has the tombstone as the key's last record.
    for (i, node) in cluster.nodes.iter().enumerate() {
        let mut last = last_record(node, state_partition, &state_key(doomed));
        for _ in 0..200 {
            if last == Some(None) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            last = last_record(node, state_partition, &state_key(doomed));
        }
        assert_eq!(last, Some(None), "node {}", i + 1);
    }

    // The live topic's state is untouched.
    let c = &mut clients[at[1]];
    let r = read(c, &read_req(g, kept, 0, -1)).await;
    assert_eq!((r.error_code, r.state_epoch, r.start_offset), (0, 0, 10));
    let got = batches_of(&r);
    assert_eq!(got, batches);
    let sm = summary(c, &summary_req(g, kept, 0)).await;
    assert_eq!(summary_fields(&sm), (0, 0, 2, 10));

    // Re-created under the same name: a new id, a key without state.
    let mut recreated = Uuid::nil();
    for _ in 0..100 {
        let resp: CreateTopicsResponse = clients[0]
            .call(ApiKey::CreateTopics, 7, &create("doomed"))
            .await;
        if resp.topics[0].error_code == 0 {
            recreated = resp.topics[0].topic_id;
            break;
        }
        // TOPIC_ALREADY_EXISTS while the deletion completes.
        assert_eq!(resp.topics[0].error_code, 36);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(recreated, Uuid::nil());
    assert_ne!(recreated, doomed);
    let node = share_coordinator_of(&mut clients[0], &share_key(g, recreated, 0)).await;
    let c = &mut clients[(node - 1) as usize];
    let mut sm = summary(c, &summary_req(g, recreated, 0)).await;
    for _ in 0..100 {
        if ![UNKNOWN_TOPIC_OR_PARTITION, NOT_COORDINATOR, 14].contains(&sm.error_code) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        sm = summary(c, &summary_req(g, recreated, 0)).await;
    }
    assert_eq!(summary_fields(&sm), (0, 0, 0, -1));
    assert_eq!(
        read(c, &read_req(g, recreated, 0, -1)).await.error_code,
        INVALID_REQUEST
    );
    drop(cluster);
}
