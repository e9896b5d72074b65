//! Produce, Fetch and ListOffsets at every version; produce errors and their
//! Kafka codes; long polls woken by an append; LogAppendTime stamping; fetch
//! size limits.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;

use crate::common::{Client, batch, create_topic, name, start, values_of, versions};

#[tokio::test]
async fn produce_fetch_list_offsets_every_version() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let id = create_topic(&mut c, "pfl", 1).await;
    let mut expected = Vec::new();
    let mut next = 0i64;
    for v in versions(ApiKey::Produce) {
        let vals = [format!("p{v}-a"), format!("p{v}-b")];
        let refs: Vec<&str> = vals.iter().map(String::as_str).collect();
        let mut td = TopicProduceData::default().with_partition_data(vec![
            PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(&refs, 1_000 * v as i64))),
        ]);
        if v >= 13 {
            td.topic_id = id;
        } else {
            td.name = name("pfl");
        }
        let req = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![td]);
        let resp: ProduceResponse = c.call(ApiKey::Produce, v, &req).await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(p.error_code, 0, "produce v{v}");
        assert_eq!(p.base_offset, next, "produce v{v}");
        for (i, s) in vals.iter().enumerate() {
            expected.push((next + i as i64, s.clone()));
        }
        next += 2;
    }
    for v in versions(ApiKey::Fetch) {
        let mut ft = FetchTopic::default().with_partitions(vec![
            FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20),
        ]);
        if v >= 13 {
            ft.topic_id = id;
        } else {
            ft.topic = name("pfl");
        }
        let req = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(100)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_topics(vec![ft]);
        let resp: FetchResponse = c.call(ApiKey::Fetch, v, &req).await;
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, 0, "fetch v{v}");
        assert_eq!(p.high_watermark, next, "fetch v{v}");
        assert_eq!(
            values_of(p.records.clone().unwrap()),
            expected,
            "fetch v{v}"
        );
    }
    for v in versions(ApiKey::ListOffsets) {
        let mut parts = vec![
            ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1),
            ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-2),
            // By timestamp: produce v5 wrote timestamps 5000 and 5001 at offsets 4 and 5.
            ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(5001),
        ];
        if v >= 7 {
            parts.push(
                ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-3),
            );
        }
        // One partition per request below v? is allowed to repeat only in newer versions; send one at a time.
        for (i, part) in parts.into_iter().enumerate() {
            let req = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![
                    ListOffsetsTopic::default()
                        .with_name(name("pfl"))
                        .with_partitions(vec![part]),
                ]);
            let resp: ListOffsetsResponse = c.call(ApiKey::ListOffsets, v, &req).await;
            let p = &resp.topics[0].partitions[0];
            assert_eq!(p.error_code, 0, "list offsets v{v} #{i}");
            let want = [next, 0, 5, next - 1][i];
            assert_eq!(p.offset, want, "list offsets v{v} #{i}");
            if i == 2 {
                assert_eq!(p.timestamp, 5001);
            }
        }
    }
}

#[tokio::test]
async fn produce_errors_map_to_kafka_codes() {
    let b = start(&["auto.create.topics.enable=false", "message.max.bytes=200"]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "errs", 1).await;
    let produce = |topic: &str, records: Bytes| {
        ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(1000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(name(topic))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(records)),
                    ]),
            ])
    };
    let code = |r: &ProduceResponse| r.responses[0].partition_responses[0].error_code;

    let r: ProduceResponse = c
        .call(ApiKey::Produce, 9, &produce("missing", batch(&["x"], 1)))
        .await;
    assert_eq!(code(&r), 3, "UNKNOWN_TOPIC_OR_PARTITION");

    let mut corrupt = BytesMut::from(&batch(&["x"], 1)[..]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let r: ProduceResponse = c
        .call(ApiKey::Produce, 9, &produce("errs", corrupt.freeze()))
        .await;
    assert_eq!(code(&r), 2, "CORRUPT_MESSAGE");

    let big = "y".repeat(500);
    let r: ProduceResponse = c
        .call(ApiKey::Produce, 9, &produce("errs", batch(&[&big], 1)))
        .await;
    assert_eq!(code(&r), 10, "MESSAGE_TOO_LARGE");

    // Nothing was stored by the failures; a good batch lands at offset 0.
    let r: ProduceResponse = c
        .call(ApiKey::Produce, 9, &produce("errs", batch(&["ok"], 1)))
        .await;
    assert_eq!(code(&r), 0);
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 0);

    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(name("errs"))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(5)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &req).await;
    assert_eq!(
        r.responses[0].partitions[0].error_code, 1,
        "OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(r.responses[0].partitions[0].high_watermark, 1);
}

#[tokio::test]
async fn long_poll_is_woken_by_an_append() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "lp", 1).await;
    let addr = b.addr;
    let waiter = tokio::spawn(async move {
        let mut c = Client::connect(addr).await;
        let req = FetchRequest::default()
            .with_max_wait_ms(30_000)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(name("lp"))
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(0)
                            .with_fetch_offset(0)
                            .with_partition_max_bytes(1 << 20),
                    ]),
            ]);
        let r: FetchResponse = c.call(ApiKey::Fetch, 12, &req).await;
        values_of(r.responses[0].partitions[0].records.clone().unwrap())
    });
    // Make sure the fetch is parked before producing (it cannot finish on its own
    // for 30 s, so if the join below returns the append woke it).
    tokio::task::yield_now().await;
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name("lp"))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch(&["wake"], 1))),
                ]),
        ]);
    let _: ProduceResponse = c.call(ApiKey::Produce, 9, &req).await;
    let got = tokio::time::timeout(std::time::Duration::from_secs(20), waiter)
        .await
        .expect("long poll was not woken")
        .unwrap();
    assert_eq!(got, vec![(0, "wake".to_string())]);
}

#[tokio::test]
async fn log_append_time_topics_are_stamped_by_the_broker() {
    use kafka_protocol::messages::create_topics_request::CreatableTopicConfig;
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let req = CreateTopicsRequest::default().with_topics(vec![
        CreatableTopic::default()
            .with_name(name("lat"))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(vec![
                CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("message.timestamp.type"))
                    .with_value(Some(StrBytes::from_static_str("LogAppendTime"))),
            ]),
    ]);
    let r: CreateTopicsResponse = c.call(ApiKey::CreateTopics, 7, &req).await;
    assert_eq!(r.topics[0].error_code, 0);
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name("lat"))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch(&["a", "b"], 42))),
                ]),
        ]);
    let r: ProduceResponse = c.call(ApiKey::Produce, 9, &req).await;
    let stamped = r.responses[0].partition_responses[0].log_append_time_ms;
    assert!(
        stamped > 1_600_000_000_000,
        "log_append_time_ms = {stamped}"
    );
    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(name("lat"))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &req).await;
    let data = r.responses[0].partitions[0].records.clone().unwrap();
    // The CRC was recomputed, so the client-side decoder accepts the batches.
    let sets = RecordBatchDecoder::decode_all(&mut data.clone()).unwrap();
    assert_eq!(sets.iter().map(|s| s.records.len()).sum::<usize>(), 2);
    // Clients read a LogAppendTime batch's timestamp from its header: attributes
    // bit 3 set and maxTimestamp = the append time.
    let mut pos = 0;
    let mut batches = 0;
    while pos < data.len() {
        let len = i32::from_be_bytes(data[pos + 8..pos + 12].try_into().unwrap()) as usize;
        let attrs = i16::from_be_bytes(data[pos + 21..pos + 23].try_into().unwrap());
        let max_ts = i64::from_be_bytes(data[pos + 35..pos + 43].try_into().unwrap());
        assert_eq!(attrs & 0x08, 0x08, "timestamp type bit");
        assert_eq!(max_ts, stamped);
        pos += 12 + len;
        batches += 1;
    }
    assert!(batches >= 1);
}

/// Kafka's limits: whole batches only; partition_max_bytes per partition;
/// max_bytes across the response; the first batch of the first non-empty
/// partition is returned even when it alone exceeds the limits.
#[tokio::test]
async fn fetch_honours_max_bytes_and_partition_max_bytes() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "mb", 2).await;
    let big = "z".repeat(1000);
    let one = batch(&[&big], 1).len() as i32; // every batch below has this size
    for p in 0..2 {
        for _ in 0..3 {
            let req = ProduceRequest::default()
                .with_acks(1)
                .with_timeout_ms(1000)
                .with_topic_data(vec![
                    TopicProduceData::default()
                        .with_name(name("mb"))
                        .with_partition_data(vec![
                            PartitionProduceData::default()
                                .with_index(p)
                                .with_records(Some(batch(&[&big], 1))),
                        ]),
                ]);
            let r: ProduceResponse = c.call(ApiKey::Produce, 9, &req).await;
            assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
        }
    }
    let fetch = |max_bytes: i32, part_max: i32| {
        FetchRequest::default()
            .with_max_wait_ms(0)
            .with_max_bytes(max_bytes)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(name("mb"))
                    .with_partitions(
                        (0..2)
                            .map(|p| {
                                FetchPartition::default()
                                    .with_partition(p)
                                    .with_partition_max_bytes(part_max)
                            })
                            .collect(),
                    ),
            ])
    };
    let sizes = |r: &FetchResponse| -> Vec<usize> {
        r.responses[0]
            .partitions
            .iter()
            .map(|p| p.records.as_ref().map_or(0, |d| d.len()))
            .collect()
    };
    let one = one as usize;
    // 1.5 batches per partition: one whole batch from each.
    let r: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch(1 << 20, (one * 3 / 2) as i32))
        .await;
    assert_eq!(sizes(&r), vec![one, one]);
    // 2.5 batches in all: two from partition 0, none fit from partition 1.
    let r: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch((one * 5 / 2) as i32, 1 << 20))
        .await;
    assert_eq!(sizes(&r), vec![2 * one, 0]);
    // Limits below one batch: the first partition still yields one batch, the second nothing.
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &fetch(10, 10)).await;
    assert_eq!(sizes(&r), vec![one, 0]);
    // Everything fits.
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &fetch(1 << 20, 1 << 20)).await;
    assert_eq!(sizes(&r), vec![3 * one, 3 * one]);
}
