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
