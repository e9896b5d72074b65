//! `fjord::EmbeddedBroker` used as an application's integration tests would use it: only the
//! public embedding API, and a real Kafka client (rskafka) talking to the broker over TCP.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use fjord::{EmbedError, EmbeddedBroker};
use rskafka::chrono::{TimeZone, Utc};
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::{Record, RecordAndOffset};

async fn client(broker: &EmbeddedBroker) -> Client {
    ClientBuilder::new(vec![broker.bootstrap_servers().to_string()])
        .build()
        .await
        .unwrap()
}

/// Create `topic` with `partitions` partitions (-1: the broker's `num.partitions`).
async fn create_topic(client: &Client, topic: &str, partitions: i32) {
    client
        .controller_client()
        .unwrap()
        .create_topic(topic, partitions, 1, 5_000)
        .await
        .unwrap();
}

async fn partition(client: &Client, topic: &str, partition: i32) -> PartitionClient {
    client
        .partition_client(topic, partition, UnknownTopicHandling::Error)
        .await
        .unwrap()
}

fn record(key: &str, value: &str, ts_ms: i64) -> Record {
    Record {
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        headers: BTreeMap::from([("source".to_string(), b"embedded-test".to_vec())]),
        timestamp: Utc.timestamp_millis_opt(ts_ms).unwrap(),
    }
}

/// Every record from `offset` up to the high watermark, and the high watermark.
async fn read_from(p: &PartitionClient, offset: i64) -> (Vec<RecordAndOffset>, i64) {
    p.fetch_records(offset, 1..1_000_000, 1_000).await.unwrap()
}

fn port_of(bootstrap: &str) -> u16 {
    bootstrap.parse::<SocketAddr>().unwrap().port()
}

/// A handle can be shared between tests (a `static`), and a start can be spawned.
#[test]
fn handle_and_start_future_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    send_sync(&EmbeddedBroker::builder());
    send(&EmbeddedBroker::builder().start());
    let _: fn(EmbeddedBroker) = |b| send_sync(&b);
}

#[tokio::test]
async fn produce_and_consume_exact_records_and_offsets() {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    assert!(broker.bootstrap_servers().starts_with("127.0.0.1:"));
    let c = client(&broker).await;
    create_topic(&c, "orders", 1).await;
    let p = partition(&c, "orders", 0).await;

    let first = vec![
        record("k1", "first", 1_700_000_000_000),
        record("k2", "second", 1_700_000_000_001),
        record("k3", "third", 1_700_000_000_002),
    ];
    let offsets = p
        .produce(first.clone(), Compression::NoCompression)
        .await
        .unwrap();
    assert_eq!(offsets, vec![0, 1, 2]);
    let second = vec![
        record("k4", "fourth", 1_700_000_000_003),
        record("k5", "fifth", 1_700_000_000_004),
    ];
    let offsets = p
        .produce(second.clone(), Compression::NoCompression)
        .await
        .unwrap();
    assert_eq!(offsets, vec![3, 4]);

    let (records, high_watermark) = read_from(&p, 0).await;
    assert_eq!(high_watermark, 5);
    let expected: Vec<RecordAndOffset> = first
        .into_iter()
        .chain(second)
        .enumerate()
        .map(|(i, record)| RecordAndOffset {
            record,
            offset: i as i64,
        })
        .collect();
    assert_eq!(records, expected);

    let (tail, _) = read_from(&p, 3).await;
    assert_eq!(tail, expected[3..].to_vec());
    assert_eq!(p.get_offset(OffsetAt::Earliest).await.unwrap(), 0);
    assert_eq!(p.get_offset(OffsetAt::Latest).await.unwrap(), 5);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_brokers_at_once_on_different_ports_keep_apart() {
    let (a, b) = tokio::join!(
        EmbeddedBroker::builder().start(),
        EmbeddedBroker::builder().start()
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(
        port_of(a.bootstrap_servers()),
        port_of(b.bootstrap_servers())
    );
    assert_ne!(a.data_dir(), b.data_dir());

    let (ca, cb) = (client(&a).await, client(&b).await);
    create_topic(&ca, "only-on-a", 1).await;
    create_topic(&cb, "only-on-b", 1).await;
    let pa = partition(&ca, "only-on-a", 0).await;
    let pb = partition(&cb, "only-on-b", 0).await;
    let ra = record("a", "written to a", 1_700_000_000_000);
    let rb = record("b", "written to b", 1_700_000_000_000);
    assert_eq!(
        pa.produce(vec![ra.clone()], Compression::NoCompression)
            .await
            .unwrap(),
        vec![0]
    );
    assert_eq!(
        pb.produce(vec![rb.clone()], Compression::NoCompression)
            .await
            .unwrap(),
        vec![0]
    );
    assert_eq!(
        read_from(&pa, 0).await,
        (
            vec![RecordAndOffset {
                record: ra,
                offset: 0
            }],
            1
        )
    );
    assert_eq!(
        read_from(&pb, 0).await,
        (
            vec![RecordAndOffset {
                record: rb,
                offset: 0
            }],
            1
        )
    );
    let names = |topics: Vec<rskafka::topic::Topic>| -> Vec<String> {
        topics.into_iter().map(|t| t.name).collect()
    };
    assert_eq!(names(ca.list_topics().await.unwrap()), vec!["only-on-a"]);
    assert_eq!(names(cb.list_topics().await.unwrap()), vec!["only-on-b"]);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// Nothing listens on `port` of 127.0.0.1 any more: a connection is refused and the port can
/// be bound again.
fn assert_port_free(port: u16) {
    let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    drop(TcpListener::bind(("127.0.0.1", port)).unwrap());
}

#[tokio::test]
async fn shutdown_removes_the_temporary_data_dir_and_frees_the_port() {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let dir = broker.data_dir().to_path_buf();
    let port = port_of(broker.bootstrap_servers());
    assert!(dir.join("meta.properties").is_file());
    let c = client(&broker).await;
    create_topic(&c, "t", 1).await;
    assert!(dir.join("t-0").is_dir());

    broker.shutdown().await.unwrap();
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert_port_free(port);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_broker_too() {
    let broker = EmbeddedBroker::builder().start().await.unwrap();
    let dir = broker.data_dir().to_path_buf();
    let port = port_of(broker.bootstrap_servers());
    let c = client(&broker).await;
    create_topic(&c, "t", 1).await;
    drop(broker);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert_port_free(port);
}

#[tokio::test]
async fn a_configured_key_takes_effect() {
    let broker = EmbeddedBroker::builder()
        .config("num.partitions", 3)
        .start()
        .await
        .unwrap();
    let c = client(&broker).await;
    // -1: the broker's default (KIP-464), which num.partitions sets.
    create_topic(&c, "three", -1).await;
    let topics = c.list_topics().await.unwrap();
    assert_eq!(topics.len(), 1);
    assert_eq!(topics[0].name, "three");
    assert_eq!(
        topics[0].partitions.iter().copied().collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    broker.shutdown().await.unwrap();

    // And one the broker reads at the listener: no auto-creation of a topic a client asks for.
    let broker = EmbeddedBroker::builder()
        .config("auto.create.topics.enable", false)
        .start()
        .await
        .unwrap();
    let c = client(&broker).await;
    let err = c
        .partition_client("never-created", 0, UnknownTopicHandling::Error)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("UnknownTopicOrPartition"), "{err}");
    assert!(c.list_topics().await.unwrap().is_empty());
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_given_data_dir_is_kept_and_a_restart_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let broker = EmbeddedBroker::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    assert_eq!(broker.data_dir(), dir.path());
    let c = client(&broker).await;
    create_topic(&c, "kept", 1).await;
    let r = record("k", "survives a restart", 1_700_000_000_000);
    let p = partition(&c, "kept", 0).await;
    p.produce(vec![r.clone()], Compression::NoCompression)
        .await
        .unwrap();
    broker.shutdown().await.unwrap();
    assert!(dir.path().join("kept-0").is_dir());

    // A second broker on the same dir while the first runs is refused (the dir's lock).
    let again = EmbeddedBroker::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let err = EmbeddedBroker::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "failed to acquire lock on file .lock in {}",
            dir.path().display()
        )),
        "{err}"
    );
    let c = client(&again).await;
    let p = partition(&c, "kept", 0).await;
    assert_eq!(
        read_from(&p, 0).await,
        (
            vec![RecordAndOffset {
                record: r,
                offset: 0
            }],
            1
        )
    );
    again.shutdown().await.unwrap();
    assert!(dir.path().join("kept-0").is_dir());
}

#[tokio::test]
async fn bad_configuration_is_an_error_not_a_panic() {
    let err = EmbeddedBroker::builder()
        .config("num.partitons", 3)
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, EmbedError::UnknownKey(ref k) if k == "num.partitons"));
    assert_eq!(err.to_string(), "unknown config key 'num.partitons'");

    let err = EmbeddedBroker::builder()
        .config("num.partitions", "many")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, EmbedError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("num.partitions"), "{err}");

    // A port another socket holds.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = EmbeddedBroker::builder()
        .config("listeners", format!("PLAINTEXT://127.0.0.1:{port}"))
        .start()
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "cannot bind listener PLAINTEXT://127.0.0.1:{port}: "
        )),
        "{err}"
    );
}

#[tokio::test]
async fn http_is_off_unless_asked_for() {
    let quiet = EmbeddedBroker::builder().start().await.unwrap();
    assert_eq!(quiet.http_url(), None);
    quiet.shutdown().await.unwrap();

    let broker = EmbeddedBroker::builder().http(true).start().await.unwrap();
    let url = broker.http_url().unwrap().to_string();
    let addr = url.strip_prefix("http://").unwrap();
    assert!(addr.starts_with("127.0.0.1:"), "{url}");
    let body = tokio::task::spawn_blocking({
        let addr = addr.to_string();
        move || http_get(&addr, "/ready")
    })
    .await
    .unwrap();
    assert!(body.starts_with("HTTP/1.1 200 OK\r\n"), "{body}");
    assert!(body.ends_with("\r\n\r\nready\n"), "{body}");
    broker.shutdown().await.unwrap();
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Without any async runtime: a plain `#[test]`.
#[test]
fn start_blocking_needs_no_runtime() {
    let broker = EmbeddedBroker::builder().start_blocking().unwrap();
    let port = port_of(broker.bootstrap_servers());
    TcpStream::connect(broker.bootstrap_servers()).unwrap();
    let dir = broker.data_dir().to_path_buf();
    drop(broker);
    assert!(!dir.exists());
    assert_port_free(port);
}
