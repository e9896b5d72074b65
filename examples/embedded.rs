//! A fjord broker inside a Rust program, and a Kafka client (rskafka) talking to it:
//! `cargo run --example embedded`.

use std::collections::BTreeMap;

use fjord::EmbeddedBroker;
use rskafka::chrono::Utc;
use rskafka::client::ClientBuilder;
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = EmbeddedBroker::builder()
        .config("num.partitions", 3)
        .start()
        .await?;
    println!(
        "broker serving on {} (data in {})",
        broker.bootstrap_servers(),
        broker.data_dir().display()
    );

    let client = ClientBuilder::new(vec![broker.bootstrap_servers().to_string()])
        .build()
        .await?;
    // -1 partitions: the broker's num.partitions.
    client
        .controller_client()?
        .create_topic("greetings", -1, 1, 5_000)
        .await?;
    for topic in client.list_topics().await? {
        println!("topic {} has partitions {:?}", topic.name, topic.partitions);
    }
    let partition = client
        .partition_client("greetings", 0, UnknownTopicHandling::Error)
        .await?;
    let record = Record {
        key: None,
        value: Some(b"hello from an embedded broker".to_vec()),
        headers: BTreeMap::new(),
        timestamp: Utc::now(),
    };
    let offsets = partition
        .produce(vec![record], Compression::NoCompression)
        .await?;
    println!("produced at offset {}", offsets[0]);
    let (records, high_watermark) = partition.fetch_records(0, 1..1_000_000, 1_000).await?;
    for r in records {
        let value = r.record.value.unwrap_or_default();
        println!("offset {}: {}", r.offset, String::from_utf8_lossy(&value));
    }
    println!("high watermark {high_watermark}");

    let dir = broker.data_dir().to_path_buf();
    broker.shutdown().await?;
    println!("stopped; {} removed: {}", dir.display(), !dir.exists());
    Ok(())
}
