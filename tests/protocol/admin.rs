//! Topic administration at every version: CreateTopics, CreatePartitions,
//! DescribeConfigs, DescribeCluster, InitProducerId (non-transactional),
//! DeleteTopics.

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::common::{Client, name, start, versions};

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
