//! Shared helpers: an in-process broker on an ephemeral port, a raw-socket
//! client that encodes requests and decodes responses at a given version,
//! the advertised version range of an API, record batch encoding and decoding,
//! topic creation, and ACL set-up for authorization tests.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
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
use fjord::clock::{Clock, SystemClock};
use fjord::config::Config;
use fjord::server::Server;

pub struct TestBroker {
    pub addr: SocketAddr,
    /// The broker core, for tests that must observe what the protocol does not show.
    pub broker: Arc<Broker>,
    _dir: tempfile::TempDir,
    stop: tokio::sync::watch::Sender<bool>,
}

pub async fn start(extra: &[&str]) -> TestBroker {
    start_with_clock(extra, Arc::new(SystemClock)).await
}

/// `start`, with the broker reading time from `clock` (a `ManualClock` in tests of
/// time-dependent behaviour).
pub async fn start_with_clock(extra: &[&str], clock: Arc<dyn Clock>) -> TestBroker {
    let dir = tempfile::tempdir().unwrap();
    let mut ov = vec![
        format!("log.dirs={}", dir.path().display()),
        "listeners=PLAINTEXT://127.0.0.1:0".to_string(),
    ];
    ov.extend(extra.iter().map(|s| s.to_string()));
    let (config, _) = Config::from_sources(None, Vec::new(), &ov).unwrap();
    let broker = Broker::open(config, clock).unwrap();
    let server = Server::bind(broker.clone()).await.unwrap();
    let addr = server.local_addrs()[0].1;
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(server.run(rx));
    TestBroker {
        addr,
        broker,
        _dir: dir,
        stop,
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

pub struct Client {
    stream: TcpStream,
    correlation: i32,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
            correlation: 0,
        }
    }

    pub async fn send_raw(&mut self, body: &[u8]) {
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.put_slice(body);
        self.stream.write_all(&frame).await.unwrap();
    }

    pub async fn recv_raw(&mut self) -> Option<Bytes> {
        let len = self.stream.read_i32().await.ok()?;
        let mut buf = vec![0u8; len as usize];
        self.stream.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    }

    pub async fn call<Req: Encodable, Resp: Decodable>(
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

pub fn versions(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let (_, lo, hi) = SUPPORTED.iter().find(|(k, _, _)| *k == key).unwrap();
    (*lo).max(key.valid_versions().min)..=*hi
}

pub fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

pub fn batch(values: &[&str], ts: i64) -> Bytes {
    encode_batch(values, ts, None)
}

/// One v2 batch of `values` (timestamps ts, ts+1, …); `producer` makes it a
/// transactional batch of (producer id, epoch, base sequence).
pub fn encode_batch(values: &[&str], ts: i64, producer: Option<(i64, i16, i32)>) -> Bytes {
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

pub fn values_of(mut data: Bytes) -> Vec<(i64, String)> {
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

pub async fn create_topic(c: &mut Client, topic: &str, partitions: i32) -> Uuid {
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

/// `authorizer.class.name` as Kafka's StandardAuthorizer, for tests of ACLs.
pub const AUTHORIZER: &str =
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer";

/// An ALLOW entry for the anonymous principal (what an unauthenticated test client is) on a
/// literal resource.
pub fn allow(
    resource_type: fjord::security::acl::ResourceType,
    name: &str,
    operation: fjord::security::acl::AclOperation,
) -> fjord::security::acl::AclBinding {
    use fjord::security::acl::{
        AccessControlEntry, AclBinding, AclPermissionType, PatternType, ResourcePattern,
    };
    AclBinding {
        pattern: ResourcePattern {
            resource_type,
            name: name.into(),
            pattern_type: PatternType::Literal,
        },
        entry: AccessControlEntry {
            principal: "User:ANONYMOUS".into(),
            host: "*".into(),
            operation,
            permission: AclPermissionType::Allow,
        },
    }
}

/// Creates a one-partition topic through the broker core (no CreateTopics request, so no ACL
/// is needed for it); its id.
pub async fn create_topic_unchecked(b: &TestBroker, name: &str) -> Uuid {
    use fjord::cluster::controller::NewTopic;
    let created = b
        .broker
        .create_topics(
            vec![NewTopic {
                name: name.into(),
                partitions: 1,
                replication_factor: 1,
                assignments: vec![],
                configs: Default::default(),
            }],
            false,
        )
        .await;
    created[0].as_ref().expect("topic created").id
}

/// A cluster of in-process nodes (`fjord::launch::Node`, as the binary runs one): every node a
/// broker and a controller, client listeners on ephemeral ports, internal topics replicated to
/// min(n, 3) nodes.
pub struct TestCluster {
    pub nodes: Vec<fjord::launch::Node>,
    /// Each node's client listener, by node id - 1.
    pub addrs: Vec<SocketAddr>,
    _dirs: Vec<tempfile::TempDir>,
}

/// Start `n` nodes (n >= 2) with `extra` overrides and wait until every one serves.
pub async fn start_cluster(n: usize, extra: &[&str]) -> TestCluster {
    // Controller ports must be known up front (the voters list): take free ones, holding each
    // until all are chosen so that none repeats.
    let holds: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = holds
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    drop(holds);
    let voters: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}@127.0.0.1:{p}", i + 1))
        .collect();
    let rf = n.min(3);
    let mut dirs = Vec::new();
    let mut starting = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let mut ov = vec![
            format!("node.id={}", i + 1),
            "process.roles=broker,controller".to_string(),
            format!("controller.quorum.voters={}", voters.join(",")),
            format!("listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:{port}"),
            "controller.listener.names=CONTROLLER".to_string(),
            format!("log.dirs={}", dir.path().display()),
            "cluster.id=protocol-test-cluster".to_string(),
            format!("offsets.topic.replication.factor={rf}"),
            format!("transaction.state.log.replication.factor={rf}"),
            format!("share.coordinator.state.topic.replication.factor={rf}"),
            format!("default.replication.factor={rf}"),
        ];
        ov.extend(extra.iter().map(|s| s.to_string()));
        dirs.push(dir);
        let (config, _) = Config::from_sources(None, Vec::new(), &ov).unwrap();
        starting.push(tokio::spawn(async move {
            let mut node = fjord::launch::Node::start(config, Arc::new(SystemClock))
                .await
                .unwrap();
            assert!(node.serve().await, "node stopped before serving");
            node
        }));
    }
    let mut nodes = Vec::new();
    for s in starting {
        nodes.push(s.await.unwrap());
    }
    let addrs = nodes
        .iter()
        .map(|node| {
            node.kafka_addrs()
                .iter()
                .find(|(name, _)| name == "PLAINTEXT")
                .unwrap()
                .1
        })
        .collect();
    TestCluster {
        nodes,
        addrs,
        _dirs: dirs,
    }
}
