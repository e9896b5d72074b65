//! Long polls: a Fetch that parks for data is woken by every kind of write to its partition —
//! a client's Produce, the transaction coordinator's COMMIT marker, the group coordinator's
//! record in `__consumer_offsets` — because all of them go through the partition's one append
//! path. Each write is made only once the fetch is known to be waiting on the partition; the
//! fetch asks to wait 60 s, so an answer within the test's bound means the write woke it.

use std::time::Duration;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use tokio::task::JoinHandle;

use crate::common::*;

/// A Fetch (v12, read_uncommitted) of `topic`-0 from `offset`, waiting up to 60 s for a byte.
fn park_fetch(b: &TestBroker, topic: &str, offset: i64) -> JoinHandle<FetchResponse> {
    let addr = b.addr;
    let topic = topic.to_string();
    tokio::spawn(async move {
        let mut c = Client::connect(addr).await;
        let req = FetchRequest::default()
            .with_max_wait_ms(60_000)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(name(&topic))
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(0)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(1 << 20),
                    ]),
            ]);
        c.call(ApiKey::Fetch, 12, &req).await
    })
}

/// Wait until a fetch is waiting on `topic`-0 (a condition, polled).
async fn until_parked(b: &TestBroker, topic: &str) {
    let p = b.broker.topics.get(topic).unwrap().partition(0).unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while p.waiting_fetches() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the fetch never reached the partition");
}

/// The fetch's answer, which must come long before its own 60 s wait ends.
async fn woken(fetch: JoinHandle<FetchResponse>) -> (i64, Bytes) {
    let r = tokio::time::timeout(Duration::from_secs(20), fetch)
        .await
        .expect("the parked fetch was not woken by the write")
        .unwrap();
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    (p.high_watermark, p.records.clone().unwrap())
}

fn produce_request(topic: &str, records: Bytes, txn: Option<&str>) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_transactional_id(txn.map(|t| TransactionalId(StrBytes::from_string(t.into()))))
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ])
}

fn offset_commit(group: &str, topic: &str, offset: i64) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.into())))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(offset),
                ]),
        ])
}

#[tokio::test]
async fn every_kind_of_write_wakes_a_parked_fetch() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "lp", 1).await;

    // 1. A client's produce.
    let fetch = park_fetch(&b, "lp", 0);
    until_parked(&b, "lp").await;
    let r: ProduceResponse = c
        .call(
            ApiKey::Produce,
            9,
            &produce_request("lp", batch(&["wake"], 1), None),
        )
        .await;
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 0);
    let (hw, records) = woken(fetch).await;
    assert_eq!(hw, 1);
    assert_eq!(values_of(records), vec![(0, "wake".to_string())]);

    // 2. The transaction coordinator's COMMIT marker.
    let txn = TransactionalId(StrBytes::from_static_str("wake-txn"));
    let init: InitProducerIdResponse = c
        .call(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(txn.clone()))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        )
        .await;
    assert_eq!(init.error_code, 0);
    let (pid, epoch) = (init.producer_id.0, init.producer_epoch);
    let add: AddPartitionsToTxnResponse = c
        .call(
            ApiKey::AddPartitionsToTxn,
            3,
            &AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(txn.clone())
                .with_v3_and_below_producer_id(ProducerId(pid))
                .with_v3_and_below_producer_epoch(epoch)
                .with_v3_and_below_topics(vec![
                    AddPartitionsToTxnTopic::default()
                        .with_name(name("lp"))
                        .with_partitions(vec![0]),
                ]),
        )
        .await;
    assert_eq!(
        add.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let data = encode_batch(&["in-txn"], 2, Some((pid, epoch, 0)));
    let r: ProduceResponse = c
        .call(
            ApiKey::Produce,
            9,
            &produce_request("lp", data, Some("wake-txn")),
        )
        .await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 1);
    let fetch = park_fetch(&b, "lp", 2);
    until_parked(&b, "lp").await;
    let end: EndTxnResponse = c
        .call(
            ApiKey::EndTxn,
            3,
            &EndTxnRequest::default()
                .with_transactional_id(txn)
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_committed(true),
        )
        .await;
    assert_eq!(end.error_code, 0);
    let (hw, mut records) = woken(fetch).await;
    assert_eq!(hw, 3, "data at 1, marker at 2");
    let batches = RecordBatchDecoder::decode_all(&mut records).unwrap();
    let marker = &batches[0].records[0];
    assert!(marker.control && marker.transactional);
    assert_eq!((marker.offset, marker.producer_id), (2, pid));
    // Control key: version 0, type 1 (COMMIT).
    assert_eq!(marker.key.as_deref(), Some(&[0u8, 0, 0, 1][..]));

    // 3. The group coordinator's record in __consumer_offsets.
    let r: OffsetCommitResponse = c
        .call(
            ApiKey::OffsetCommit,
            8,
            &offset_commit("wake-group", "lp", 1),
        )
        .await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let offsets_end = b
        .broker
        .topics
        .get("__consumer_offsets")
        .unwrap()
        .partition(0)
        .unwrap()
        .offsets()
        .log_end_offset;
    let fetch = park_fetch(&b, "__consumer_offsets", offsets_end);
    until_parked(&b, "__consumer_offsets").await;
    let r: OffsetCommitResponse = c
        .call(
            ApiKey::OffsetCommit,
            8,
            &offset_commit("wake-group", "lp", 3),
        )
        .await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let (hw, mut records) = woken(fetch).await;
    assert_eq!(hw, offsets_end + 1);
    let batches = RecordBatchDecoder::decode_all(&mut records).unwrap();
    let rec = &batches[0].records[0];
    assert_eq!(rec.offset, offsets_end);
    // Kafka's offset-commit key: version 1, group, topic, partition.
    let mut key = rec.key.clone().unwrap();
    assert_eq!(key.get_i16(), 1);
    let string = |k: &mut Bytes| {
        let n = k.get_i16() as usize;
        String::from_utf8(k.split_to(n).to_vec()).unwrap()
    };
    assert_eq!(string(&mut key), "wake-group");
    assert_eq!(string(&mut key), "lp");
    assert_eq!(key.get_i32(), 0);
    // The value starts with its version, then the committed offset.
    let mut value = rec.value.clone().unwrap();
    let _version = value.get_i16();
    assert_eq!(value.get_i64(), 3);
}
