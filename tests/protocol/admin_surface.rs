//! The wider admin surface at every version: config alteration, topic
//! partition description, OffsetForLeaderEpoch, reassignments, client quotas
//! (leader election and log dirs: replica_admin.rs).

use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::common::{Client, batch, create_topic, name, start, versions};

/// The admin surface at every version: topic configs altered incrementally and
/// wholesale (and shown by DescribeConfigs), DescribeTopicPartitions with
/// pagination, OffsetForLeaderEpoch, ListPartitionReassignments, client
/// quotas.
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
