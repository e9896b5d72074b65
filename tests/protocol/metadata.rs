//! Metadata at every version (auto-creation, topic ids, all topics), and the
//! errors for unknown and invalid topic names when auto-creation is off.

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;
use uuid::Uuid;

use crate::common::{Client, name, start, versions};

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
        // The listener is configured with port 0: clients are told the port it was bound to.
        assert_eq!(resp.brokers[0].host.as_str(), "127.0.0.1", "v{v}");
        assert_eq!(resp.brokers[0].port, i32::from(b.addr.port()), "v{v}");
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

/// DescribeQuorum at every version: a single broker is a quorum of one (itself leading at
/// epoch 0, no metadata log); anything but `__cluster_metadata-0` is an invalid request.
#[tokio::test]
async fn describe_quorum_every_version() {
    use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let ask = |topic: &str| {
        DescribeQuorumRequest::default().with_topics(vec![
            TopicData::default()
                .with_topic_name(name(topic))
                .with_partitions(vec![PartitionData::default().with_partition_index(0)]),
        ])
    };
    for v in versions(ApiKey::DescribeQuorum) {
        let r: DescribeQuorumResponse = c
            .call(ApiKey::DescribeQuorum, v, &ask("__cluster_metadata"))
            .await;
        assert_eq!(r.error_code, 0, "v{v}");
        let p = &r.topics[0].partitions[0];
        assert_eq!(r.topics[0].topic_name.as_str(), "__cluster_metadata");
        assert_eq!((p.leader_id.0, p.leader_epoch, p.high_watermark), (1, 0, 0));
        let voters: Vec<i32> = p.current_voters.iter().map(|r| r.replica_id.0).collect();
        assert_eq!(voters, vec![1], "v{v}");
        assert!(p.observers.is_empty());
        let r: DescribeQuorumResponse = c.call(ApiKey::DescribeQuorum, v, &ask("orders")).await;
        assert_eq!(r.error_code, 42, "INVALID_REQUEST v{v}");
    }
}
