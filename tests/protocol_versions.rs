//! Every API fjord advertises, at every advertised version, over a real
//! socket against a real (in-process) server: the request is encoded with the
//! kafka-protocol codec at that version, the response decoded at that version,
//! and its contents checked. This is the codec round-trip for each version,
//! and it exercises the handlers' version-specific fields (a field set outside
//! its version makes the codec refuse to encode).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

use fjord::api::SUPPORTED;
use fjord::broker::Broker;
use fjord::clock::SystemClock;
use fjord::config::Config;
use fjord::server::Server;

struct TestBroker {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    stop: tokio::sync::watch::Sender<bool>,
}

async fn start(extra: &[&str]) -> TestBroker {
    let dir = tempfile::tempdir().unwrap();
    let mut ov = vec![
        format!("log.dirs={}", dir.path().display()),
        "listeners=PLAINTEXT://127.0.0.1:0".to_string(),
    ];
    ov.extend(extra.iter().map(|s| s.to_string()));
    let (config, _) = Config::from_sources(None, Vec::new(), &ov).unwrap();
    let broker = Broker::open(config, Arc::new(SystemClock)).unwrap();
    let server = Server::bind(broker).await.unwrap();
    let addr = server.local_addrs()[0].1;
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(server.run(rx));
    TestBroker {
        addr,
        _dir: dir,
        stop,
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

struct Client {
    stream: TcpStream,
    correlation: i32,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
            correlation: 0,
        }
    }

    async fn send_raw(&mut self, body: &[u8]) {
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.put_slice(body);
        self.stream.write_all(&frame).await.unwrap();
    }

    async fn recv_raw(&mut self) -> Option<Bytes> {
        let len = self.stream.read_i32().await.ok()?;
        let mut buf = vec![0u8; len as usize];
        self.stream.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    }

    async fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        req: &Req,
    ) -> Resp {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("protocol-test")));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, key.request_header_version(version))
            .unwrap();
        req.encode(&mut body, version)
            .unwrap_or_else(|e| panic!("{key:?} v{version}: cannot encode request: {e}"));
        self.send_raw(&body).await;
        let mut resp = self
            .recv_raw()
            .await
            .unwrap_or_else(|| panic!("{key:?} v{version}: connection closed"));
        let rh = ResponseHeader::decode(&mut resp, key.response_header_version(version)).unwrap();
        assert_eq!(rh.correlation_id, self.correlation, "{key:?} v{version}");
        let out = Resp::decode(&mut resp, version)
            .unwrap_or_else(|e| panic!("{key:?} v{version}: cannot decode response: {e}"));
        assert_eq!(resp.remaining(), 0, "{key:?} v{version}: trailing bytes");
        out
    }
}

fn versions(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let (_, lo, hi) = SUPPORTED.iter().find(|(k, _, _)| *k == key).unwrap();
    (*lo).max(key.valid_versions().min)..=*hi
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn batch(values: &[&str], ts: i64) -> Bytes {
    encode_batch(values, ts, None)
}

/// One v2 batch of `values` (timestamps ts, ts+1, …); `producer` makes it a
/// transactional batch of (producer id, epoch, base sequence).
fn encode_batch(values: &[&str], ts: i64, producer: Option<(i64, i16, i32)>) -> Bytes {
    let (producer_id, producer_epoch, base_sequence) = producer.unwrap_or((-1, -1, -1));
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: if producer.is_some() {
                base_sequence + i as i32
            } else {
                -1
            },
            timestamp: ts + i as i64,
            key: None,
            value: Some(Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

fn values_of(mut data: Bytes) -> Vec<(i64, String)> {
    RecordBatchDecoder::decode_all(&mut data)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.records)
        // Transaction markers are for the client library, not the application.
        .filter(|r| !r.control)
        .map(|r| {
            (
                r.offset,
                String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned(),
            )
        })
        .collect()
}

async fn create_topic(c: &mut Client, topic: &str, partitions: i32) -> Uuid {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(partitions)
                .with_replication_factor(1),
        ])
        .with_timeout_ms(5000);
    let resp: CreateTopicsResponse = c.call(ApiKey::CreateTopics, 7, &req).await;
    assert_eq!(resp.topics[0].error_code, 0);
    resp.topics[0].topic_id
}

#[tokio::test]
async fn api_versions_every_version() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    for v in versions(ApiKey::ApiVersions) {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("test"))
            .with_client_software_version(StrBytes::from_static_str("1"));
        let resp: ApiVersionsResponse = c.call(ApiKey::ApiVersions, v, &req).await;
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.api_keys.len(), SUPPORTED.len());
        let produce = resp
            .api_keys
            .iter()
            .find(|k| k.api_key == ApiKey::Produce as i16)
            .unwrap();
        assert_eq!((produce.min_version, produce.max_version), (0, 13));
        if v >= 3 {
            let group = resp
                .finalized_features
                .iter()
                .find(|f| f.name.as_str() == "group.version")
                .expect("group.version finalized");
            assert_eq!(group.max_version_level, 1);
            assert!(
                !resp
                    .finalized_features
                    .iter()
                    .any(|f| f.name.as_str() == "transaction.version" && f.max_version_level >= 2),
                "transaction version 2 would switch clients to KIP-890 part 2"
            );
            assert_eq!(resp.supported_features.len(), 2);
        }
    }
}

#[tokio::test]
async fn api_versions_unknown_version_gets_kip511_v0_reply() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let mut body = BytesMut::new();
    body.put_i16(ApiKey::ApiVersions as i16);
    body.put_i16(99);
    body.put_i32(7);
    body.put_i16(-1);
    c.send_raw(&body).await;
    let mut resp = c
        .recv_raw()
        .await
        .expect("a reply, not a closed connection");
    assert_eq!(resp.get_i32(), 7);
    let r = ApiVersionsResponse::decode(&mut resp, 0).unwrap();
    assert_eq!(r.error_code, 35);
    assert!(r.api_keys.iter().any(|k| k.api_key == ApiKey::Fetch as i16));
}

#[tokio::test]
async fn metadata_every_version() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    for v in versions(ApiKey::Metadata) {
        let topic = format!("meta-v{v}");
        let req = MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(name(&topic))),
            ]))
            .with_allow_auto_topic_creation(true);
        let resp: MetadataResponse = c.call(ApiKey::Metadata, v, &req).await;
        assert_eq!(resp.brokers.len(), 1, "v{v}");
        assert_eq!(resp.brokers[0].node_id.0, 1);
        let t = &resp.topics[0];
        assert_eq!(t.error_code, 0, "v{v}");
        assert_eq!(t.name.as_ref().unwrap().as_str(), topic);
        assert_eq!(t.partitions.len(), 1);
        assert_eq!(t.partitions[0].leader_id.0, 1);
        if v >= 2 {
            assert!(resp.cluster_id.as_ref().is_some_and(|c| !c.is_empty()));
        }
        if v >= 10 {
            assert_ne!(t.topic_id, Uuid::nil());
            // and by id (v12+ requests may carry ids only)
            if v >= 12 {
                let req = MetadataRequest::default().with_topics(Some(vec![
                    MetadataRequestTopic::default().with_topic_id(t.topic_id),
                ]));
                let by_id: MetadataResponse = c.call(ApiKey::Metadata, v, &req).await;
                assert_eq!(by_id.topics[0].name.as_ref().unwrap().as_str(), topic);
            }
        }
        // All topics: v0 with an empty list, v1+ with null.
        let all = if v == 0 {
            MetadataRequest::default().with_topics(Some(vec![]))
        } else {
            MetadataRequest::default().with_topics(None)
        };
        let resp: MetadataResponse = c.call(ApiKey::Metadata, v, &all).await;
        assert_eq!(
            resp.topics.len() as i16,
            v + 1,
            "v{v}: every topic created so far"
        );
    }
}

#[tokio::test]
async fn metadata_without_auto_create_reports_unknown_topic() {
    let b = start(&["auto.create.topics.enable=false"]).await;
    let mut c = Client::connect(b.addr).await;
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name("nope"))),
            MetadataRequestTopic::default().with_name(Some(name("bad name!"))),
        ]))
        .with_allow_auto_topic_creation(true);
    let resp: MetadataResponse = c.call(ApiKey::Metadata, 12, &req).await;
    assert_eq!(resp.topics[0].error_code, 3);
    assert_eq!(resp.topics[1].error_code, 17);
}

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
async fn admin_apis_every_version() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    for v in versions(ApiKey::CreateTopics) {
        let topic = format!("ct-v{v}");
        let req = CreateTopicsRequest::default()
            .with_topics(vec![
                CreatableTopic::default()
                    .with_name(name(&topic))
                    .with_num_partitions(2)
                    .with_replication_factor(1),
            ])
            .with_timeout_ms(5000);
        let resp: CreateTopicsResponse = c.call(ApiKey::CreateTopics, v, &req).await;
        let t = &resp.topics[0];
        assert_eq!(t.error_code, 0, "create v{v}");
        if v >= 5 {
            assert_eq!(t.num_partitions, 2);
            assert!(
                t.configs
                    .as_ref()
                    .unwrap()
                    .iter()
                    .any(|c| c.name.as_str() == "retention.ms")
            );
        }
        if v >= 7 {
            assert_ne!(t.topic_id, Uuid::nil());
        }
        let again: CreateTopicsResponse = c.call(ApiKey::CreateTopics, v, &req).await;
        assert_eq!(again.topics[0].error_code, 36, "create again v{v}");
    }
    for v in versions(ApiKey::CreatePartitions) {
        let req = CreatePartitionsRequest::default()
            .with_topics(vec![
                CreatePartitionsTopic::default()
                    .with_name(name(&format!("ct-v{}", v + 2)))
                    .with_count(4),
            ])
            .with_timeout_ms(5000);
        let resp: CreatePartitionsResponse = c.call(ApiKey::CreatePartitions, v, &req).await;
        assert_eq!(resp.results[0].error_code, 0, "create partitions v{v}");
        let shrink: CreatePartitionsResponse = c
            .call(
                ApiKey::CreatePartitions,
                v,
                &req.clone().with_topics(vec![
                    CreatePartitionsTopic::default()
                        .with_name(name(&format!("ct-v{}", v + 2)))
                        .with_count(3),
                ]),
            )
            .await;
        assert_eq!(shrink.results[0].error_code, 37, "shrink v{v}");
    }
    for v in versions(ApiKey::DescribeConfigs) {
        let req = DescribeConfigsRequest::default()
            .with_include_synonyms(true)
            .with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("ct-v2"))
                    .with_configuration_keys(None),
                DescribeConfigsResource::default()
                    .with_resource_type(4)
                    .with_resource_name(StrBytes::from_static_str("1"))
                    .with_configuration_keys(None),
                DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("missing"))
                    .with_configuration_keys(None),
            ]);
        let resp: DescribeConfigsResponse = c.call(ApiKey::DescribeConfigs, v, &req).await;
        let topic = &resp.results[0];
        assert_eq!(topic.error_code, 0);
        let retention = topic
            .configs
            .iter()
            .find(|c| c.name.as_str() == "retention.ms")
            .unwrap();
        assert_eq!(retention.value.as_ref().unwrap().as_str(), "604800000");
        assert_eq!(retention.config_source, 5, "DEFAULT_CONFIG");
        let broker = &resp.results[1];
        assert!(
            broker
                .configs
                .iter()
                .any(|c| c.name.as_str() == "log.retention.hours"
                    && c.value.as_ref().unwrap().as_str() == "168")
        );
        assert_eq!(resp.results[2].error_code, 3);
    }
    for v in versions(ApiKey::DescribeCluster) {
        let resp: DescribeClusterResponse = c
            .call(
                ApiKey::DescribeCluster,
                v,
                &DescribeClusterRequest::default().with_endpoint_type(1),
            )
            .await;
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.controller_id.0, 1);
        assert_eq!(resp.brokers.len(), 1);
        assert!(!resp.cluster_id.is_empty());
    }
    let mut ids = std::collections::HashSet::new();
    for v in versions(ApiKey::InitProducerId) {
        let req = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let resp: InitProducerIdResponse = c.call(ApiKey::InitProducerId, v, &req).await;
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.producer_epoch, 0);
        assert!(ids.insert(resp.producer_id.0), "producer ids are unique");
    }
    for v in versions(ApiKey::DeleteTopics) {
        let topic = format!("ct-v{}", v + 1);
        let req = if v >= 6 {
            DeleteTopicsRequest::default().with_topics(vec![
                DeleteTopicState::default().with_name(Some(name(&topic))),
            ])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![name(&topic)])
        };
        let resp: DeleteTopicsResponse = c.call(ApiKey::DeleteTopics, v, &req).await;
        assert_eq!(resp.responses[0].error_code, 0, "delete v{v}");
        let again: DeleteTopicsResponse = c.call(ApiKey::DeleteTopics, v, &req).await;
        assert_eq!(again.responses[0].error_code, 3, "delete again v{v}");
    }
}

#[tokio::test]
async fn bad_frames_close_only_their_connection() {
    let b = start(&["socket.request.max.bytes=1000"]).await;
    let mut good = Client::connect(b.addr).await;
    let ping = ApiVersionsRequest::default();
    let _: ApiVersionsResponse = good.call(ApiKey::ApiVersions, 3, &ping).await;

    // Oversized frame.
    let mut s = TcpStream::connect(b.addr).await.unwrap();
    s.write_all(&100_000i32.to_be_bytes()).await.unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut buf).await.unwrap_or(0), 0, "closed");

    // Unknown API key.
    let mut bad = Client::connect(b.addr).await;
    bad.send_raw(&[0x27, 0x0f, 0, 0, 0, 0, 0, 1, 0xff, 0xff])
        .await;
    assert!(bad.recv_raw().await.is_none());

    // Garbage that claims to be a Produce v9 request.
    let mut bad = Client::connect(b.addr).await;
    bad.send_raw(&[0, 0, 0, 9, 0, 0, 0, 1, 0xff, 0x7f, 1, 2, 3])
        .await;
    assert!(bad.recv_raw().await.is_none());

    // Produce v2 (advertised for librdkafka's sake, refused).
    let mut bad = Client::connect(b.addr).await;
    bad.send_raw(&[0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff, 0, 1])
        .await;
    assert!(bad.recv_raw().await.is_none());

    // The first connection is unaffected.
    let _: ApiVersionsResponse = good.call(ApiKey::ApiVersions, 3, &ping).await;
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

/// A group's whole life at every version of every group API: find the
/// coordinator, join (with the MEMBER_ID_REQUIRED handshake from v4), sync,
/// heartbeat, commit, fetch offsets, describe, list, delete offsets (refused
/// while subscribed), leave, delete offsets, delete the group.
#[tokio::test]
async fn group_apis_every_version() {
    use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use kafka_protocol::messages::leave_group_request::MemberIdentity;
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::offset_delete_request::{
        OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
    };
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    };
    use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;

    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "gt", 1).await;
    let mut subscription = BytesMut::new();
    subscription.put_i16(0);
    ConsumerProtocolSubscription::default()
        .with_topics(vec![StrBytes::from_static_str("gt")])
        .encode(&mut subscription, 0)
        .unwrap();
    let subscription = subscription.freeze();
    let v_of = |key: ApiKey, i: i16| {
        let r = versions(key);
        i.clamp(*r.start(), *r.end())
    };
    for i in 0..=9i16 {
        let group = format!("g-{i}");
        let gid = GroupId(StrBytes::from_string(group.clone()));

        let v = v_of(ApiKey::FindCoordinator, i);
        let mut req = FindCoordinatorRequest::default().with_key_type(0);
        if v >= 4 {
            req.coordinator_keys = vec![StrBytes::from_string(group.clone())];
        } else {
            req.key = StrBytes::from_string(group.clone());
        }
        let r: FindCoordinatorResponse = c.call(ApiKey::FindCoordinator, v, &req).await;
        let (code, node, port) = if v >= 4 {
            let co = &r.coordinators[0];
            (co.error_code, co.node_id.0, co.port)
        } else {
            (r.error_code, r.node_id.0, r.port)
        };
        assert_eq!((code, node), (0, 1), "find coordinator v{v}");
        assert!(port >= 0);

        let v = v_of(ApiKey::JoinGroup, i);
        let join = |member: &str| {
            JoinGroupRequest::default()
                .with_group_id(gid.clone())
                .with_session_timeout_ms(10_000)
                .with_rebalance_timeout_ms(10_000)
                .with_member_id(StrBytes::from_string(member.to_string()))
                .with_protocol_type(StrBytes::from_static_str("consumer"))
                .with_protocols(vec![
                    JoinGroupRequestProtocol::default()
                        .with_name(StrBytes::from_static_str("range"))
                        .with_metadata(subscription.clone()),
                ])
        };
        let mut r: JoinGroupResponse = c.call(ApiKey::JoinGroup, v, &join("")).await;
        if v >= 4 {
            assert_eq!(r.error_code, 79, "MEMBER_ID_REQUIRED at join v{v}");
            let id = r.member_id.as_str().to_string();
            r = c.call(ApiKey::JoinGroup, v, &join(&id)).await;
        }
        assert_eq!(r.error_code, 0, "join v{v}");
        assert_eq!(r.generation_id, 1);
        assert_eq!(r.leader, r.member_id);
        assert_eq!(r.members.len(), 1);
        assert_eq!(r.members[0].metadata, subscription);
        let member = r.member_id.clone();

        let v = v_of(ApiKey::SyncGroup, i);
        let mut req = SyncGroupRequest::default()
            .with_group_id(gid.clone())
            .with_generation_id(1)
            .with_member_id(member.clone())
            .with_assignments(vec![
                SyncGroupRequestAssignment::default()
                    .with_member_id(member.clone())
                    .with_assignment(Bytes::from_static(b"the-assignment")),
            ]);
        if v >= 5 {
            req.protocol_type = Some(StrBytes::from_static_str("consumer"));
            req.protocol_name = Some(StrBytes::from_static_str("range"));
        }
        let r: SyncGroupResponse = c.call(ApiKey::SyncGroup, v, &req).await;
        assert_eq!(r.error_code, 0, "sync v{v}");
        assert_eq!(r.assignment.as_ref(), b"the-assignment");

        let v = v_of(ApiKey::Heartbeat, i);
        let hb = HeartbeatRequest::default()
            .with_group_id(gid.clone())
            .with_generation_id(1)
            .with_member_id(member.clone());
        let r: HeartbeatResponse = c.call(ApiKey::Heartbeat, v, &hb).await;
        assert_eq!(r.error_code, 0, "heartbeat v{v}");
        let stale: HeartbeatResponse = c
            .call(ApiKey::Heartbeat, v, &hb.clone().with_generation_id(0))
            .await;
        assert_eq!(stale.error_code, 22, "ILLEGAL_GENERATION at heartbeat v{v}");

        let v = v_of(ApiKey::OffsetCommit, i);
        let req = OffsetCommitRequest::default()
            .with_group_id(gid.clone())
            .with_generation_id_or_member_epoch(1)
            .with_member_id(member.clone())
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(name("gt"))
                    .with_partitions(vec![
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(100 + i as i64)
                            .with_committed_metadata(Some(StrBytes::from_static_str("meta"))),
                    ]),
            ]);
        let r: OffsetCommitResponse = c.call(ApiKey::OffsetCommit, v, &req).await;
        assert_eq!(r.topics[0].partitions[0].error_code, 0, "commit v{v}");

        let fetch_offset = |v: i16, partitions: Option<Vec<i32>>| {
            if v >= 8 {
                OffsetFetchRequest::default().with_groups(vec![
                    OffsetFetchRequestGroup::default()
                        .with_group_id(gid.clone())
                        .with_topics(partitions.map(|ps| {
                            vec![
                                OffsetFetchRequestTopics::default()
                                    .with_name(name("gt"))
                                    .with_partition_indexes(ps),
                            ]
                        })),
                ])
            } else {
                OffsetFetchRequest::default()
                    .with_group_id(gid.clone())
                    .with_topics(partitions.map(|ps| {
                        vec![
                            OffsetFetchRequestTopic::default()
                                .with_name(name("gt"))
                                .with_partition_indexes(ps),
                        ]
                    }))
            }
        };
        let committed = |r: &OffsetFetchResponse, v: i16| -> (i64, String) {
            if v >= 8 {
                let p = &r.groups[0].topics[0].partitions[0];
                (p.committed_offset, p.metadata.as_ref().unwrap().to_string())
            } else {
                let p = &r.topics[0].partitions[0];
                (p.committed_offset, p.metadata.as_ref().unwrap().to_string())
            }
        };
        let v = v_of(ApiKey::OffsetFetch, i);
        let r: OffsetFetchResponse = c
            .call(ApiKey::OffsetFetch, v, &fetch_offset(v, Some(vec![0])))
            .await;
        assert_eq!(
            committed(&r, v),
            (100 + i as i64, "meta".into()),
            "offset fetch v{v}"
        );
        if v >= 2 {
            // null topics: everything the group committed
            let r: OffsetFetchResponse =
                c.call(ApiKey::OffsetFetch, v, &fetch_offset(v, None)).await;
            assert_eq!(committed(&r, v).0, 100 + i as i64, "offset fetch all v{v}");
        }

        let v = v_of(ApiKey::DescribeGroups, i);
        let r: DescribeGroupsResponse = c
            .call(
                ApiKey::DescribeGroups,
                v,
                &DescribeGroupsRequest::default().with_groups(vec![gid.clone()]),
            )
            .await;
        let d = &r.groups[0];
        assert_eq!(
            (d.error_code, d.group_state.as_str()),
            (0, "Stable"),
            "describe v{v}"
        );
        assert_eq!(d.protocol_type.as_str(), "consumer");
        assert_eq!(d.protocol_data.as_str(), "range");
        assert_eq!(d.members.len(), 1);
        assert_eq!(d.members[0].member_assignment.as_ref(), b"the-assignment");
        assert_eq!(d.members[0].client_id.as_str(), "protocol-test");

        let v = v_of(ApiKey::ListGroups, i);
        let mut req = ListGroupsRequest::default();
        if v >= 4 {
            req.states_filter = vec![StrBytes::from_static_str("Stable")];
        }
        if v >= 5 {
            req.types_filter = vec![StrBytes::from_static_str("classic")];
        }
        let r: ListGroupsResponse = c.call(ApiKey::ListGroups, v, &req).await;
        let listed = r
            .groups
            .iter()
            .find(|g| g.group_id == gid)
            .unwrap_or_else(|| panic!("list groups v{v} lacks {group}"));
        assert_eq!(listed.protocol_type.as_str(), "consumer");
        if v >= 4 {
            assert_eq!(listed.group_state.as_str(), "Stable");
        }
        if v >= 5 {
            assert_eq!(listed.group_type.as_str(), "classic");
            let r: ListGroupsResponse = c
                .call(
                    ApiKey::ListGroups,
                    v,
                    &ListGroupsRequest::default()
                        .with_types_filter(vec![StrBytes::from_static_str("consumer")]),
                )
                .await;
            assert!(r.groups.is_empty(), "no KIP-848 groups");
        }

        let delete_offsets = OffsetDeleteRequest::default()
            .with_group_id(gid.clone())
            .with_topics(vec![
                OffsetDeleteRequestTopic::default()
                    .with_name(name("gt"))
                    .with_partitions(vec![
                        OffsetDeleteRequestPartition::default().with_partition_index(0),
                    ]),
            ]);
        let r: OffsetDeleteResponse = c.call(ApiKey::OffsetDelete, 0, &delete_offsets).await;
        assert_eq!(r.error_code, 0);
        assert_eq!(
            r.topics[0].partitions[0].error_code, 86,
            "GROUP_SUBSCRIBED_TO_TOPIC while a member subscribes"
        );

        let v = v_of(ApiKey::LeaveGroup, i);
        let req = if v >= 3 {
            LeaveGroupRequest::default()
                .with_group_id(gid.clone())
                .with_members(vec![
                    MemberIdentity::default().with_member_id(member.clone()),
                ])
        } else {
            LeaveGroupRequest::default()
                .with_group_id(gid.clone())
                .with_member_id(member.clone())
        };
        let r: LeaveGroupResponse = c.call(ApiKey::LeaveGroup, v, &req).await;
        assert_eq!(r.error_code, 0, "leave v{v}");
        if v >= 3 {
            assert_eq!(r.members[0].error_code, 0);
        }

        let r: OffsetDeleteResponse = c.call(ApiKey::OffsetDelete, 0, &delete_offsets).await;
        assert_eq!(
            r.topics[0].partitions[0].error_code, 0,
            "offset delete once empty"
        );
        let v = v_of(ApiKey::OffsetFetch, i);
        let r: OffsetFetchResponse = c
            .call(ApiKey::OffsetFetch, v, &fetch_offset(v, Some(vec![0])))
            .await;
        assert_eq!(committed(&r, v).0, -1, "deleted offset v{v}");

        let v = v_of(ApiKey::DeleteGroups, i);
        let req = DeleteGroupsRequest::default().with_groups_names(vec![gid.clone()]);
        let r: DeleteGroupsResponse = c.call(ApiKey::DeleteGroups, v, &req).await;
        assert_eq!(r.results[0].error_code, 0, "delete group v{v}");
        let r: DeleteGroupsResponse = c.call(ApiKey::DeleteGroups, v, &req).await;
        assert_eq!(r.results[0].error_code, 69, "GROUP_ID_NOT_FOUND v{v}");

        let v = v_of(ApiKey::DescribeGroups, i);
        let r: DescribeGroupsResponse = c
            .call(
                ApiKey::DescribeGroups,
                v,
                &DescribeGroupsRequest::default().with_groups(vec![gid.clone()]),
            )
            .await;
        let want = if v >= 6 { 69 } else { 0 };
        assert_eq!(r.groups[0].error_code, want, "describe deleted v{v}");
        assert_eq!(r.groups[0].group_state.as_str(), "Dead");
    }
}

/// KIP-848 at every version: two members join a 4-partition topic's group,
/// the second gets partitions only once the first has released them, both
/// appear in ConsumerGroupDescribe, and leaving works.
#[tokio::test]
async fn consumer_group_apis_every_version() {
    use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions as Owned;

    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic_id = create_topic(&mut c, "kt", 4).await;
    let owned_of = |r: &ConsumerGroupHeartbeatResponse| -> Vec<i32> {
        let mut ps: Vec<i32> = r
            .assignment
            .as_ref()
            .map(|a| {
                a.topic_partitions
                    .iter()
                    .flat_map(|tp| tp.partitions.clone())
                    .collect()
            })
            .unwrap_or_default();
        ps.sort();
        ps
    };
    for v in versions(ApiKey::ConsumerGroupHeartbeat) {
        let gid = GroupId(StrBytes::from_string(format!("kg-{v}")));
        let hb = |member: &str, epoch: i32, owned: Option<Vec<i32>>, join: bool| {
            let mut r =
                ConsumerGroupHeartbeatRequest::default()
                    .with_group_id(gid.clone())
                    .with_member_id(StrBytes::from_string(member.to_string()))
                    .with_member_epoch(epoch)
                    .with_rebalance_timeout_ms(if join { 30_000 } else { -1 })
                    .with_topic_partitions(owned.map(|ps| {
                        vec![Owned::default().with_topic_id(topic_id).with_partitions(ps)]
                    }));
            if join {
                r.subscribed_topic_names = Some(vec![name("kt")]);
            }
            r
        };
        let (a_id, b_id) = if v == 0 {
            (String::new(), String::new()) // v0: the coordinator names members
        } else {
            ("member-a".to_string(), "member-b".to_string())
        };
        let ra: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&a_id, 0, Some(vec![]), true),
            )
            .await;
        assert_eq!(ra.error_code, 0, "v{v}: {:?}", ra.error_message);
        assert_eq!(ra.member_epoch, 1);
        assert!(ra.heartbeat_interval_ms > 0);
        assert_eq!(owned_of(&ra), vec![0, 1, 2, 3]);
        let a = ra.member_id.clone().unwrap().to_string();
        assert!(!a.is_empty());

        let rb: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&b_id, 0, Some(vec![]), true),
            )
            .await;
        assert_eq!((rb.error_code, rb.member_epoch), (0, 2));
        assert_eq!(owned_of(&rb), Vec::<i32>::new(), "nothing released yet");
        let bm = rb.member_id.clone().unwrap().to_string();

        // a is asked to revoke two partitions, keeps epoch 1 until it confirms.
        let ra: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&a, 1, Some(vec![0, 1, 2, 3]), false),
            )
            .await;
        assert_eq!(ra.member_epoch, 1);
        let kept = owned_of(&ra);
        assert_eq!(kept.len(), 2);
        let ra: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&a, 1, Some(kept.clone()), false),
            )
            .await;
        assert_eq!(ra.member_epoch, 2);
        let rb: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&bm, 2, Some(vec![]), false),
            )
            .await;
        let got = owned_of(&rb);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|p| !kept.contains(p)));

        // A stale epoch is fenced.
        let stale: ConsumerGroupHeartbeatResponse = c
            .call(ApiKey::ConsumerGroupHeartbeat, v, &hb(&bm, 9, None, false))
            .await;
        assert_eq!(stale.error_code, 110, "FENCED_MEMBER_EPOCH");

        let dv = v.min(*versions(ApiKey::ConsumerGroupDescribe).end());
        let d: ConsumerGroupDescribeResponse = c
            .call(
                ApiKey::ConsumerGroupDescribe,
                dv,
                &ConsumerGroupDescribeRequest::default().with_group_ids(vec![gid.clone()]),
            )
            .await;
        let g = &d.groups[0];
        assert_eq!(g.error_code, 0);
        assert_eq!(
            (g.group_state.as_str(), g.group_epoch, g.assignment_epoch),
            ("Stable", 2, 2)
        );
        assert_eq!(g.assignor_name.as_str(), "uniform");
        assert_eq!(g.members.len(), 2);
        for m in &g.members {
            let n: usize = m
                .assignment
                .topic_partitions
                .iter()
                .map(|t| t.partitions.len())
                .sum();
            assert_eq!(n, 2);
            assert_eq!(m.assignment.topic_partitions[0].topic_name.as_str(), "kt");
        }

        // Leaving: epoch -1 echoed, the other member gets everything next.
        let left: ConsumerGroupHeartbeatResponse = c
            .call(ApiKey::ConsumerGroupHeartbeat, v, &hb(&bm, -1, None, false))
            .await;
        assert_eq!((left.error_code, left.member_epoch), (0, -1));
        let ra: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&a, 2, Some(kept.clone()), false),
            )
            .await;
        assert_eq!(ra.member_epoch, 3);
        assert_eq!(owned_of(&ra), vec![0, 1, 2, 3]);

        // Classic APIs keep off a consumer-protocol group.
        let d: ConsumerGroupDescribeResponse = c
            .call(
                ApiKey::ConsumerGroupDescribe,
                dv,
                &ConsumerGroupDescribeRequest::default()
                    .with_group_ids(vec![GroupId(StrBytes::from_static_str("never"))]),
            )
            .await;
        assert_eq!(d.groups[0].error_code, 69);
    }
}

fn txn_batch(values: &[&str], producer_id: i64, epoch: i16, base_sequence: i32) -> Bytes {
    encode_batch(values, 1, Some((producer_id, epoch, base_sequence)))
}

/// A committed and an aborted transaction at every version of the transaction
/// APIs: InitProducerId with a transactional id, AddPartitionsToTxn (v0–3 and
/// the batched v4+), AddOffsetsToTxn, TxnOffsetCommit, EndTxn; read_committed
/// fetches stop at the last stable offset and list aborted transactions;
/// require_stable offset fetches see UNSTABLE_OFFSET_COMMIT; a new incarnation
/// fences the old epoch.
#[tokio::test]
async fn txn_apis_every_version() {
    use kafka_protocol::messages::add_partitions_to_txn_request::{
        AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
    };
    use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };

    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "xt", 1).await;
    let v_of = |key: ApiKey, i: i16| {
        let r = versions(key);
        i.clamp(*r.start(), *r.end())
    };
    let mut next_offset = 0i64;
    for i in 0..=5i16 {
        let txn = TransactionalId(StrBytes::from_string(format!("txn-{i}")));
        let group = GroupId(StrBytes::from_string(format!("xg-{i}")));
        let init = || {
            InitProducerIdRequest::default()
                .with_transactional_id(Some(txn.clone()))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
        };
        let v = v_of(ApiKey::InitProducerId, i);
        let r: InitProducerIdResponse = c.call(ApiKey::InitProducerId, v, &init()).await;
        assert_eq!((r.error_code, r.producer_epoch), (0, 0), "init v{v}");
        let (pid, epoch) = (r.producer_id.0, r.producer_epoch);

        let add_partitions = |v: i16, pid: i64, epoch: i16| {
            let topics = vec![
                AddPartitionsToTxnTopic::default()
                    .with_name(name("xt"))
                    .with_partitions(vec![0]),
            ];
            if v <= 3 {
                AddPartitionsToTxnRequest::default()
                    .with_v3_and_below_transactional_id(txn.clone())
                    .with_v3_and_below_producer_id(ProducerId(pid))
                    .with_v3_and_below_producer_epoch(epoch)
                    .with_v3_and_below_topics(topics)
            } else {
                AddPartitionsToTxnRequest::default().with_transactions(vec![
                    AddPartitionsToTxnTransaction::default()
                        .with_transactional_id(txn.clone())
                        .with_producer_id(ProducerId(pid))
                        .with_producer_epoch(epoch)
                        .with_topics(topics),
                ])
            }
        };
        let partition_code = |r: &AddPartitionsToTxnResponse, v: i16| {
            if v <= 3 {
                r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
            } else {
                r.results_by_transaction[0].topic_results[0].results_by_partition[0]
                    .partition_error_code
            }
        };
        let produce = |records: Bytes| {
            ProduceRequest::default()
                .with_transactional_id(Some(txn.clone()))
                .with_acks(-1)
                .with_timeout_ms(1000)
                .with_topic_data(vec![
                    TopicProduceData::default()
                        .with_name(name("xt"))
                        .with_partition_data(vec![
                            PartitionProduceData::default()
                                .with_index(0)
                                .with_records(Some(records)),
                        ]),
                ])
        };
        let fetch_committed = |offset: i64| {
            FetchRequest::default()
                .with_max_wait_ms(0)
                .with_max_bytes(1 << 20)
                .with_isolation_level(1)
                .with_topics(vec![
                    FetchTopic::default()
                        .with_topic(name("xt"))
                        .with_partitions(vec![
                            FetchPartition::default()
                                .with_partition(0)
                                .with_fetch_offset(offset)
                                .with_partition_max_bytes(1 << 20),
                        ]),
                ])
        };

        // A transactional batch before its partition was added is refused (KIP-890).
        let r: ProduceResponse = c
            .call(
                ApiKey::Produce,
                11,
                &produce(txn_batch(&["early"], pid, epoch, 0)),
            )
            .await;
        assert_eq!(
            r.responses[0].partition_responses[0].error_code, 48,
            "INVALID_TXN_STATE"
        );

        let v = v_of(ApiKey::AddPartitionsToTxn, i);
        let r: AddPartitionsToTxnResponse = c
            .call(
                ApiKey::AddPartitionsToTxn,
                v,
                &add_partitions(v, pid, epoch),
            )
            .await;
        assert_eq!(partition_code(&r, v), 0, "add partitions v{v}");
        let first = next_offset;
        let r: ProduceResponse = c
            .call(
                ApiKey::Produce,
                11,
                &produce(txn_batch(&["c1", "c2"], pid, epoch, 0)),
            )
            .await;
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
        assert_eq!(r.responses[0].partition_responses[0].base_offset, first);

        let v = v_of(ApiKey::AddOffsetsToTxn, i);
        let r: AddOffsetsToTxnResponse = c
            .call(
                ApiKey::AddOffsetsToTxn,
                v,
                &AddOffsetsToTxnRequest::default()
                    .with_transactional_id(txn.clone())
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch)
                    .with_group_id(group.clone()),
            )
            .await;
        assert_eq!(r.error_code, 0, "add offsets v{v}");
        let v = v_of(ApiKey::TxnOffsetCommit, i);
        let r: TxnOffsetCommitResponse = c
            .call(
                ApiKey::TxnOffsetCommit,
                v,
                &TxnOffsetCommitRequest::default()
                    .with_transactional_id(txn.clone())
                    .with_group_id(group.clone())
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch)
                    .with_generation_id(-1)
                    .with_topics(vec![
                        TxnOffsetCommitRequestTopic::default()
                            .with_name(name("xt"))
                            .with_partitions(vec![
                                TxnOffsetCommitRequestPartition::default()
                                    .with_partition_index(0)
                                    .with_committed_offset(77),
                            ]),
                    ]),
            )
            .await;
        assert_eq!(
            r.topics[0].partitions[0].error_code, 0,
            "txn offset commit v{v}"
        );

        // Open transaction: read_committed sees nothing past it, offsets are unstable.
        let r: FetchResponse = c.call(ApiKey::Fetch, 12, &fetch_committed(first)).await;
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.last_stable_offset, first);
        assert_eq!(p.records.as_ref().map_or(0, |r| r.len()), 0);
        let fetch_offsets = OffsetFetchRequest::default()
            .with_group_id(group.clone())
            .with_require_stable(true)
            .with_topics(Some(vec![
                OffsetFetchRequestTopic::default()
                    .with_name(name("xt"))
                    .with_partition_indexes(vec![0]),
            ]));
        let r: OffsetFetchResponse = c.call(ApiKey::OffsetFetch, 7, &fetch_offsets).await;
        assert_eq!(
            r.topics[0].partitions[0].error_code, 88,
            "UNSTABLE_OFFSET_COMMIT"
        );

        let v = v_of(ApiKey::EndTxn, i);
        let end = |commit: bool, epoch: i16| {
            EndTxnRequest::default()
                .with_transactional_id(txn.clone())
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_committed(commit)
        };
        let r: EndTxnResponse = c.call(ApiKey::EndTxn, v, &end(true, epoch)).await;
        assert_eq!(r.error_code, 0, "end txn v{v}");
        let retry: EndTxnResponse = c.call(ApiKey::EndTxn, v, &end(true, epoch)).await;
        assert_eq!(retry.error_code, 0, "a retried commit is a no-op");
        next_offset = first + 3; // two records and the COMMIT marker

        let r: FetchResponse = c.call(ApiKey::Fetch, 12, &fetch_committed(first)).await;
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.last_stable_offset, next_offset);
        assert_eq!(
            values_of(p.records.clone().unwrap()),
            vec![(first, "c1".into()), (first + 1, "c2".into())]
        );
        let r: OffsetFetchResponse = c.call(ApiKey::OffsetFetch, 7, &fetch_offsets).await;
        let committed = &r.topics[0].partitions[0];
        assert_eq!((committed.error_code, committed.committed_offset), (0, 77));

        // An aborted transaction is listed for read_committed consumers.
        let v = v_of(ApiKey::AddPartitionsToTxn, i);
        let _: AddPartitionsToTxnResponse = c
            .call(
                ApiKey::AddPartitionsToTxn,
                v,
                &add_partitions(v, pid, epoch),
            )
            .await;
        let aborted_first = next_offset;
        let r: ProduceResponse = c
            .call(
                ApiKey::Produce,
                11,
                &produce(txn_batch(&["a1"], pid, epoch, 2)),
            )
            .await;
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
        let v = v_of(ApiKey::EndTxn, i);
        let r: EndTxnResponse = c.call(ApiKey::EndTxn, v, &end(false, epoch)).await;
        assert_eq!(r.error_code, 0, "abort v{v}");
        next_offset += 2;
        let r: FetchResponse = c
            .call(ApiKey::Fetch, 12, &fetch_committed(aborted_first))
            .await;
        let aborted = r.responses[0].partitions[0]
            .aborted_transactions
            .clone()
            .unwrap();
        assert_eq!(aborted.len(), 1);
        assert_eq!(
            (aborted[0].producer_id.0, aborted[0].first_offset),
            (pid, aborted_first)
        );

        // A new incarnation bumps the epoch and fences the old one.
        let v = v_of(ApiKey::InitProducerId, i);
        let r: InitProducerIdResponse = c.call(ApiKey::InitProducerId, v, &init()).await;
        assert_eq!((r.producer_id.0, r.producer_epoch), (pid, epoch + 1));
        let v = v_of(ApiKey::AddPartitionsToTxn, i);
        let r: AddPartitionsToTxnResponse = c
            .call(
                ApiKey::AddPartitionsToTxn,
                v,
                &add_partitions(v, pid, epoch),
            )
            .await;
        assert_eq!(partition_code(&r, v), 90, "PRODUCER_FENCED v{v}");
    }
}

/// kafka-transactions.sh's APIs at every version: an open transaction is
/// listed (with state, producer id, duration and pattern filters), described
/// with its partitions, and its producer shows the open transaction's first
/// offset in DescribeProducers.
#[tokio::test]
async fn txn_admin_apis_every_version() {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use kafka_protocol::messages::describe_producers_request::TopicRequest;

    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "at", 2).await;
    let txn = TransactionalId(StrBytes::from_static_str("admin-txn"));
    let r: InitProducerIdResponse = c
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
    let pid = r.producer_id.0;
    let r: AddPartitionsToTxnResponse = c
        .call(
            ApiKey::AddPartitionsToTxn,
            3,
            &AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(txn.clone())
                .with_v3_and_below_producer_id(ProducerId(pid))
                .with_v3_and_below_producer_epoch(0)
                .with_v3_and_below_topics(vec![
                    AddPartitionsToTxnTopic::default()
                        .with_name(name("at"))
                        .with_partitions(vec![1]),
                ]),
        )
        .await;
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let r: ProduceResponse = c
        .call(
            ApiKey::Produce,
            11,
            &ProduceRequest::default()
                .with_transactional_id(Some(txn.clone()))
                .with_acks(-1)
                .with_timeout_ms(1000)
                .with_topic_data(vec![
                    TopicProduceData::default()
                        .with_name(name("at"))
                        .with_partition_data(vec![
                            PartitionProduceData::default()
                                .with_index(1)
                                .with_records(Some(txn_batch(&["x", "y"], pid, 0, 0))),
                        ]),
                ]),
        )
        .await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);

    for v in versions(ApiKey::ListTransactions) {
        let mut req = ListTransactionsRequest::default()
            .with_state_filters(vec![StrBytes::from_static_str("Ongoing")]);
        req.duration_filter = -1;
        if v >= 2 {
            req.transactional_id_pattern = Some(StrBytes::from_static_str("admin-.*"));
        }
        let r: ListTransactionsResponse = c.call(ApiKey::ListTransactions, v, &req).await;
        assert_eq!(r.error_code, 0);
        assert_eq!(r.transaction_states.len(), 1, "list v{v}");
        let t = &r.transaction_states[0];
        assert_eq!(
            (t.transactional_id.as_str(), t.producer_id.0),
            ("admin-txn", pid)
        );
        assert_eq!(t.transaction_state.as_str(), "Ongoing");
        let none: ListTransactionsResponse = c
            .call(
                ApiKey::ListTransactions,
                v,
                &ListTransactionsRequest::default()
                    .with_state_filters(vec![
                        StrBytes::from_static_str("CompleteCommit"),
                        StrBytes::from_static_str("Bogus"),
                    ])
                    .with_duration_filter(-1),
            )
            .await;
        assert!(none.transaction_states.is_empty());
        assert_eq!(none.unknown_state_filters.len(), 1);
    }
    for v in versions(ApiKey::DescribeTransactions) {
        let r: DescribeTransactionsResponse = c
            .call(
                ApiKey::DescribeTransactions,
                v,
                &DescribeTransactionsRequest::default().with_transactional_ids(vec![
                    txn.clone(),
                    TransactionalId(StrBytes::from_static_str("nope")),
                ]),
            )
            .await;
        let t = &r.transaction_states[0];
        assert_eq!(t.error_code, 0);
        assert_eq!(t.transaction_state.as_str(), "Ongoing");
        assert_eq!(
            (t.producer_id.0, t.producer_epoch, t.transaction_timeout_ms),
            (pid, 0, 60_000)
        );
        assert_eq!(t.topics.len(), 1);
        assert_eq!(
            (t.topics[0].topic.as_str(), t.topics[0].partitions.clone()),
            ("at", vec![1])
        );
        assert!(t.transaction_start_time_ms > 0);
        assert_eq!(
            r.transaction_states[1].error_code, 105,
            "TRANSACTIONAL_ID_NOT_FOUND"
        );
    }
    for v in versions(ApiKey::DescribeProducers) {
        let r: DescribeProducersResponse = c
            .call(
                ApiKey::DescribeProducers,
                v,
                &DescribeProducersRequest::default().with_topics(vec![
                    TopicRequest::default()
                        .with_name(name("at"))
                        .with_partition_indexes(vec![0, 1]),
                ]),
            )
            .await;
        let parts = &r.topics[0].partitions;
        assert!(parts[0].active_producers.is_empty());
        let p = &parts[1].active_producers[0];
        assert_eq!(
            (p.producer_id.0, p.producer_epoch, p.last_sequence),
            (pid, 0, 1)
        );
        assert_eq!(p.current_txn_start_offset, 0);
    }
}

/// The admin surface at every version: topic configs altered incrementally and
/// wholesale (and shown by DescribeConfigs), DescribeTopicPartitions with
/// pagination, OffsetForLeaderEpoch, ListPartitionReassignments, ElectLeaders,
/// DescribeLogDirs, client quotas.
#[tokio::test]
async fn admin_surface_every_version() {
    use kafka_protocol::messages::alter_client_quotas_request::{
        EntityData as AlterEntity, EntryData as AlterEntry, OpData,
    };
    use kafka_protocol::messages::alter_configs_request::{
        AlterConfigsResource as WholeResource, AlterableConfig as WholeConfig,
    };
    use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
    use kafka_protocol::messages::describe_topic_partitions_request::TopicRequest;
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    use kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };

    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "cfg", 3).await;
    create_topic(&mut c, "cfg2", 1).await;
    let r: ProduceResponse = c
        .call(
            ApiKey::Produce,
            9,
            &ProduceRequest::default()
                .with_acks(1)
                .with_timeout_ms(1000)
                .with_topic_data(vec![
                    TopicProduceData::default()
                        .with_name(name("cfg"))
                        .with_partition_data(vec![
                            PartitionProduceData::default()
                                .with_index(0)
                                .with_records(Some(batch(&["a", "b", "c"], 1))),
                        ]),
                ]),
        )
        .await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);

    async fn describe(c: &mut Client) -> Vec<(String, String, i8)> {
        use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
        let req = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("cfg"))
                .with_configuration_keys(Some(vec![
                    StrBytes::from_static_str("retention.ms"),
                    StrBytes::from_static_str("cleanup.policy"),
                    StrBytes::from_static_str("segment.ms"),
                ])),
        ]);
        let r: DescribeConfigsResponse = c.call(ApiKey::DescribeConfigs, 4, &req).await;
        r.results[0]
            .configs
            .iter()
            .map(|e| {
                (
                    e.name.to_string(),
                    e.value.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                    e.config_source,
                )
            })
            .collect()
    }
    for v in versions(ApiKey::IncrementalAlterConfigs) {
        let alter = |ops: Vec<(&str, i8, Option<&str>)>, resource_type: i8, name_: &str| {
            IncrementalAlterConfigsRequest::default().with_resources(vec![
                AlterConfigsResource::default()
                    .with_resource_type(resource_type)
                    .with_resource_name(StrBytes::from_string(name_.to_string()))
                    .with_configs(
                        ops.into_iter()
                            .map(|(k, op, val)| {
                                AlterableConfig::default()
                                    .with_name(StrBytes::from_string(k.to_string()))
                                    .with_config_operation(op)
                                    .with_value(val.map(|s| StrBytes::from_string(s.to_string())))
                            })
                            .collect(),
                    ),
            ])
        };
        let r: IncrementalAlterConfigsResponse = c
            .call(
                ApiKey::IncrementalAlterConfigs,
                v,
                &alter(
                    vec![
                        ("retention.ms", 0, Some("1000")),
                        ("cleanup.policy", 2, Some("compact")),
                    ],
                    2,
                    "cfg",
                ),
            )
            .await;
        assert_eq!(r.responses[0].error_code, 0, "incremental alter v{v}");
        let got = describe(&mut c).await;
        assert!(
            got.contains(&("retention.ms".into(), "1000".into(), 1)),
            "{got:?}"
        );
        assert!(got.contains(&("cleanup.policy".into(), "delete,compact".into(), 1)));
        let r: IncrementalAlterConfigsResponse = c
            .call(
                ApiKey::IncrementalAlterConfigs,
                v,
                &alter(
                    vec![
                        ("retention.ms", 1, None),
                        ("cleanup.policy", 3, Some("compact")),
                    ],
                    2,
                    "cfg",
                ),
            )
            .await;
        assert_eq!(r.responses[0].error_code, 0);
        let got = describe(&mut c).await;
        assert!(
            got.contains(&("retention.ms".into(), "604800000".into(), 5)),
            "{got:?}"
        );
        assert!(got.contains(&("cleanup.policy".into(), "delete".into(), 1)));
        for (ops, kind, topic, code) in [
            (vec![("retention.ms", 0, Some("soon"))], 2, "cfg", 40),
            (vec![("retention.ms", 0, Some("1"))], 2, "missing", 3),
            (vec![("num.partitions", 0, Some("3"))], 4, "1", 42),
            (vec![("log.retention.ms", 0, Some("1"))], 4, "7", 42),
            (vec![("log.retention.ms", 0, Some("never"))], 4, "", 40),
        ] {
            let r: IncrementalAlterConfigsResponse = c
                .call(ApiKey::IncrementalAlterConfigs, v, &alter(ops, kind, topic))
                .await;
            assert_eq!(r.responses[0].error_code, code, "v{v} {topic}");
        }
    }
    // Dynamic broker configs: a cluster-wide default, then this broker's own.
    for (layer, source) in [("", 3i8), ("1", 2i8)] {
        let r: IncrementalAlterConfigsResponse = c
            .call(
                ApiKey::IncrementalAlterConfigs,
                1,
                &IncrementalAlterConfigsRequest::default().with_resources(vec![
                    AlterConfigsResource::default()
                        .with_resource_type(4)
                        .with_resource_name(StrBytes::from_static_str(layer))
                        .with_configs(vec![
                            AlterableConfig::default()
                                .with_name(StrBytes::from_static_str("log.retention.ms"))
                                .with_config_operation(0)
                                .with_value(Some(StrBytes::from_string(format!(
                                    "{}",
                                    1000 + source as i32
                                )))),
                        ]),
                ]),
            )
            .await;
        assert_eq!(
            r.responses[0].error_code, 0,
            "dynamic broker config at {layer:?}"
        );
        let got = describe(&mut c).await;
        let want = (
            "retention.ms".to_string(),
            format!("{}", 1000 + source as i32),
            source,
        );
        assert!(got.contains(&want), "{got:?}");
    }
    let r: DescribeConfigsResponse = c
        .call(
            ApiKey::DescribeConfigs,
            4,
            &DescribeConfigsRequest::default()
                .with_include_synonyms(true)
                .with_resources(vec![
                    kafka_protocol::messages::describe_configs_request::DescribeConfigsResource::default()
                        .with_resource_type(4)
                        .with_resource_name(StrBytes::from_static_str("1"))
                        .with_configuration_keys(Some(vec![
                            StrBytes::from_static_str("log.retention.ms"),
                            StrBytes::from_static_str("num.partitions"),
                        ])),
                ]),
        )
        .await;
    let entries = &r.results[0].configs;
    let retention = entries
        .iter()
        .find(|e| e.name.as_str() == "log.retention.ms")
        .unwrap();
    assert_eq!(
        (
            retention.value.as_ref().unwrap().as_str(),
            retention.config_source,
            retention.read_only
        ),
        ("1002", 2, false)
    );
    let partitions = entries
        .iter()
        .find(|e| e.name.as_str() == "num.partitions")
        .unwrap();
    assert!(partitions.read_only);
    for v in versions(ApiKey::AlterConfigs) {
        let req = AlterConfigsRequest::default().with_resources(vec![
            WholeResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("cfg"))
                .with_configs(vec![
                    WholeConfig::default()
                        .with_name(StrBytes::from_static_str("segment.ms"))
                        .with_value(Some(StrBytes::from_static_str("5000"))),
                ]),
        ]);
        let r: AlterConfigsResponse = c.call(ApiKey::AlterConfigs, v, &req).await;
        assert_eq!(r.responses[0].error_code, 0, "alter configs v{v}");
        let got = describe(&mut c).await;
        assert!(got.contains(&("segment.ms".into(), "5000".into(), 1)));
        assert!(
            got.contains(&("cleanup.policy".into(), "delete".into(), 5)),
            "replaced: {got:?}"
        );
    }
    for v in versions(ApiKey::DescribeTopicPartitions) {
        let req = DescribeTopicPartitionsRequest::default()
            .with_response_partition_limit(2)
            .with_topics(vec![
                TopicRequest::default().with_name(name("cfg")),
                TopicRequest::default().with_name(name("cfg2")),
            ]);
        let r: DescribeTopicPartitionsResponse =
            c.call(ApiKey::DescribeTopicPartitions, v, &req).await;
        assert_eq!(r.topics.len(), 1);
        assert_eq!(r.topics[0].partitions.len(), 2);
        assert_eq!(r.topics[0].partitions[0].leader_id.0, 1);
        let cursor = r.next_cursor.clone().expect("more to come");
        assert_eq!(
            (cursor.topic_name.as_str(), cursor.partition_index),
            ("cfg", 2)
        );
        let r: DescribeTopicPartitionsResponse = c
            .call(
                ApiKey::DescribeTopicPartitions,
                v,
                &req.clone().with_cursor(Some(
                    kafka_protocol::messages::describe_topic_partitions_request::Cursor::default()
                        .with_topic_name(name("cfg"))
                        .with_partition_index(2),
                )),
            )
            .await;
        let got: Vec<(String, usize)> = r
            .topics
            .iter()
            .map(|t| (t.name.as_ref().unwrap().to_string(), t.partitions.len()))
            .collect();
        assert_eq!(got, vec![("cfg".to_string(), 1), ("cfg2".to_string(), 1)]);
        assert!(r.next_cursor.is_none());
    }
    for v in versions(ApiKey::OffsetForLeaderEpoch) {
        let r: OffsetForLeaderEpochResponse = c
            .call(
                ApiKey::OffsetForLeaderEpoch,
                v,
                &OffsetForLeaderEpochRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_topics(vec![
                        OffsetForLeaderTopic::default()
                            .with_topic(name("cfg"))
                            .with_partitions(vec![
                                OffsetForLeaderPartition::default()
                                    .with_partition(0)
                                    .with_current_leader_epoch(0)
                                    .with_leader_epoch(0),
                                OffsetForLeaderPartition::default()
                                    .with_partition(0)
                                    .with_current_leader_epoch(5)
                                    .with_leader_epoch(0),
                            ]),
                    ]),
            )
            .await;
        let ps = &r.topics[0].partitions;
        assert_eq!(
            (ps[0].error_code, ps[0].leader_epoch, ps[0].end_offset),
            (0, 0, 3),
            "v{v}"
        );
        assert_eq!(ps[1].error_code, 75, "UNKNOWN_LEADER_EPOCH");
    }
    let r: ListPartitionReassignmentsResponse = c
        .call(
            ApiKey::ListPartitionReassignments,
            0,
            &ListPartitionReassignmentsRequest::default().with_timeout_ms(1000),
        )
        .await;
    assert_eq!((r.error_code, r.topics.len()), (0, 0));
    for v in versions(ApiKey::ElectLeaders) {
        let r: ElectLeadersResponse = c
            .call(
                ApiKey::ElectLeaders,
                v,
                &ElectLeadersRequest::default().with_topic_partitions(Some(vec![
                    kafka_protocol::messages::elect_leaders_request::TopicPartitions::default()
                        .with_topic(name("cfg"))
                        .with_partitions(vec![0, 9]),
                ])),
            )
            .await;
        let ps = &r.replica_election_results[0].partition_result;
        assert_eq!((ps[0].error_code, ps[1].error_code), (84, 3), "elect v{v}");
    }
    for v in versions(ApiKey::DescribeLogDirs) {
        let r: DescribeLogDirsResponse = c
            .call(
                ApiKey::DescribeLogDirs,
                v,
                &DescribeLogDirsRequest::default().with_topics(None),
            )
            .await;
        let dir = &r.results[0];
        assert_eq!(dir.error_code, 0);
        let t = dir
            .topics
            .iter()
            .find(|t| t.name.as_str() == "cfg")
            .unwrap();
        assert_eq!(t.partitions.len(), 3);
        let p0 = t
            .partitions
            .iter()
            .find(|p| p.partition_index == 0)
            .unwrap();
        assert!(p0.partition_size > 0, "v{v}");
    }
    for v in versions(ApiKey::AlterClientQuotas) {
        let entity = vec![
            AlterEntity::default()
                .with_entity_type(StrBytes::from_static_str("client-id"))
                .with_entity_name(Some(StrBytes::from_string(format!("app-{v}")))),
        ];
        let r: AlterClientQuotasResponse = c
            .call(
                ApiKey::AlterClientQuotas,
                v,
                &AlterClientQuotasRequest::default().with_entries(vec![
                    AlterEntry::default()
                        .with_entity(entity.clone())
                        .with_ops(vec![
                            OpData::default()
                                .with_key(StrBytes::from_static_str("producer_byte_rate"))
                                .with_value(1024.0),
                        ]),
                ]),
            )
            .await;
        assert_eq!(r.entries[0].error_code, 0);
        let dv = v.min(*versions(ApiKey::DescribeClientQuotas).end());
        let r: DescribeClientQuotasResponse = c
            .call(
                ApiKey::DescribeClientQuotas,
                dv,
                &DescribeClientQuotasRequest::default().with_components(vec![
                    ComponentData::default()
                        .with_entity_type(StrBytes::from_static_str("client-id"))
                        .with_match_type(0)
                        .with_match(Some(StrBytes::from_string(format!("app-{v}")))),
                ]),
            )
            .await;
        let entries = r.entries.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].values[0].value, 1024.0);
    }
}

/// DeleteRecords at every version: the low watermark moves, fetches below it
/// are OFFSET_OUT_OF_RANGE, ListOffsets earliest follows, -1 means the high
/// watermark, past the end is OFFSET_OUT_OF_RANGE.
#[tokio::test]
async fn delete_records_every_version() {
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    for v in versions(ApiKey::DeleteRecords) {
        let topic = format!("dr-{v}");
        create_topic(&mut c, &topic, 1).await;
        for i in 0..4 {
            let r: ProduceResponse = c
                .call(
                    ApiKey::Produce,
                    9,
                    &ProduceRequest::default()
                        .with_acks(1)
                        .with_timeout_ms(1000)
                        .with_topic_data(vec![
                            TopicProduceData::default()
                                .with_name(name(&topic))
                                .with_partition_data(vec![
                                    PartitionProduceData::default()
                                        .with_index(0)
                                        .with_records(Some(batch(&["a", "b"], i))),
                                ]),
                        ]),
                )
                .await;
            assert_eq!(r.responses[0].partition_responses[0].base_offset, i * 2);
        }
        let delete = |offset: i64| {
            DeleteRecordsRequest::default()
                .with_timeout_ms(1000)
                .with_topics(vec![
                    DeleteRecordsTopic::default()
                        .with_name(name(&topic))
                        .with_partitions(vec![
                            DeleteRecordsPartition::default()
                                .with_partition_index(0)
                                .with_offset(offset),
                        ]),
                ])
        };
        let r: DeleteRecordsResponse = c.call(ApiKey::DeleteRecords, v, &delete(3)).await;
        let p = &r.topics[0].partitions[0];
        assert_eq!(
            (p.error_code, p.low_watermark),
            (0, 3),
            "delete records v{v}"
        );
        let r: ListOffsetsResponse = c
            .call(
                ApiKey::ListOffsets,
                5,
                &ListOffsetsRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_topics(vec![
                        ListOffsetsTopic::default()
                            .with_name(name(&topic))
                            .with_partitions(vec![
                                ListOffsetsPartition::default()
                                    .with_partition_index(0)
                                    .with_timestamp(-2),
                            ]),
                    ]),
            )
            .await;
        assert_eq!(r.topics[0].partitions[0].offset, 3);
        let r: FetchResponse = c
            .call(
                ApiKey::Fetch,
                12,
                &FetchRequest::default()
                    .with_max_wait_ms(0)
                    .with_max_bytes(1 << 20)
                    .with_topics(vec![
                        FetchTopic::default()
                            .with_topic(name(&topic))
                            .with_partitions(vec![
                                FetchPartition::default()
                                    .with_partition(0)
                                    .with_fetch_offset(1)
                                    .with_partition_max_bytes(1 << 20),
                            ]),
                    ]),
            )
            .await;
        let p = &r.responses[0].partitions[0];
        assert_eq!(
            (p.error_code, p.log_start_offset),
            (1, 3),
            "below the log start"
        );
        let r: DeleteRecordsResponse = c.call(ApiKey::DeleteRecords, v, &delete(99)).await;
        assert_eq!(r.topics[0].partitions[0].error_code, 1, "past the end");
        let r: DeleteRecordsResponse = c.call(ApiKey::DeleteRecords, v, &delete(-1)).await;
        assert_eq!(
            r.topics[0].partitions[0].low_watermark, 8,
            "-1: the high watermark"
        );
    }
}

/// A request whose array claims 2^31 elements (and one claiming 2^32-2 in the
/// flexible encoding) but carries a few bytes: without bounding the count by
/// the bytes remaining, the decoder's up-front allocation aborts the whole
/// broker. The connection is closed; the broker and other connections go on.
#[tokio::test]
async fn oversized_array_counts_close_only_that_connection() {
    let b = start(&[]).await;
    let mut good = Client::connect(b.addr).await;
    let ping = ApiVersionsRequest::default();
    // Metadata v1: topics array (INT32 count) = i32::MAX.
    let mut bad = Client::connect(b.addr).await;
    let mut body = BytesMut::new();
    body.put_i16(ApiKey::Metadata as i16);
    body.put_i16(1);
    body.put_i32(1);
    body.put_i16(1);
    body.put_u8(b'x');
    body.put_i32(i32::MAX);
    bad.send_raw(&body).await;
    assert!(bad.recv_raw().await.is_none(), "closed");
    // Metadata v12 (flexible): topics compact array count as an unsigned varint of 2^32-1.
    let mut bad = Client::connect(b.addr).await;
    let mut body = BytesMut::new();
    body.put_i16(ApiKey::Metadata as i16);
    body.put_i16(12);
    body.put_i32(2);
    body.put_i16(1);
    body.put_u8(b'x');
    body.put_u8(0); // header tagged fields
    body.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    bad.send_raw(&body).await;
    assert!(bad.recv_raw().await.is_none(), "closed");
    // Produce v9 with a topic array of i32::MAX - 1 entries.
    let mut bad = Client::connect(b.addr).await;
    let mut body = BytesMut::new();
    body.put_i16(ApiKey::Produce as i16);
    body.put_i16(8);
    body.put_i32(3);
    body.put_i16(-1);
    body.put_i16(-1); // transactional id null
    body.put_i16(1); // acks
    body.put_i32(1000); // timeout
    body.put_i32(i32::MAX - 1);
    bad.send_raw(&body).await;
    assert!(bad.recv_raw().await.is_none(), "closed");
    // Still serving.
    let r: ApiVersionsResponse = good.call(ApiKey::ApiVersions, 3, &ping).await;
    assert_eq!(r.error_code, 0);
    let mut fresh = Client::connect(b.addr).await;
    let r: ApiVersionsResponse = fresh.call(ApiKey::ApiVersions, 3, &ping).await;
    assert_eq!(r.error_code, 0);
}
