//! The security metadata APIs at every version: DescribeAcls, CreateAcls, DeleteAcls,
//! DescribeUserScramCredentials, AlterUserScramCredentials.

use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::common::{AUTHORIZER, Client, allow, create_topic_unchecked, start, versions};
use fjord::security::Principal;
use fjord::security::scram::{ScramCredential, ScramMechanism};

// Kafka's codes.
const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const CLUSTER: i8 = 4;
const ANY: i8 = 1;
const MATCH: i8 = 2;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const READ: i8 = 3;
const WRITE: i8 = 4;
const ALTER: i8 = 7;
const ALLOW: i8 = 3;
const DENY: i8 = 2;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn creation(rt: i8, name: &str, pt: i8, principal: &str, op: i8, perm: i8) -> AclCreation {
    AclCreation::default()
        .with_resource_type(rt)
        .with_resource_name(s(name))
        .with_resource_pattern_type(pt)
        .with_principal(s(principal))
        .with_host(s("*"))
        .with_operation(op)
        .with_permission_type(perm)
}

fn describe_filter(name: Option<&str>, pt: i8) -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_type_filter(ANY)
        .with_resource_name_filter(name.map(s))
        .with_pattern_type_filter(pt)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(ANY)
        .with_permission_type(ANY)
}

/// (resource type, name, pattern type, principal, operation, permission) of every binding.
fn bindings(r: &DescribeAclsResponse) -> Vec<(i8, String, i8, String, i8, i8)> {
    let mut out: Vec<_> = r
        .resources
        .iter()
        .flat_map(|res| {
            res.acls.iter().map(move |a| {
                (
                    res.resource_type,
                    res.resource_name.to_string(),
                    res.pattern_type,
                    a.principal.to_string(),
                    a.operation,
                    a.permission_type,
                )
            })
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn acl_apis_every_version() {
    let b = start(&[AUTHORIZER, "super.users=User:ANONYMOUS"]).await;
    let mut c = Client::connect(b.addr).await;
    assert_eq!(versions(ApiKey::CreateAcls), 1..=3);
    for v in versions(ApiKey::CreateAcls) {
        let topic = format!("t{v}");
        let prefix = format!("p{v}-");
        let req = CreateAclsRequest::default().with_creations(vec![
            creation(TOPIC, &topic, LITERAL, "User:alice", READ, ALLOW),
            creation(TOPIC, &prefix, PREFIXED, "User:alice", WRITE, ALLOW),
            creation(TOPIC, "*", LITERAL, "User:bob", READ, DENY),
            creation(GROUP, "g", PREFIXED, "User:*", READ, ALLOW),
            creation(
                CLUSTER,
                "kafka-cluster",
                LITERAL,
                "User:alice",
                ALTER,
                ALLOW,
            ),
            // Refused: the cluster has one name; a filter-only pattern type; no principal type.
            creation(CLUSTER, "other", LITERAL, "User:alice", ALTER, ALLOW),
            creation(TOPIC, "x", MATCH, "User:alice", READ, ALLOW),
            creation(TOPIC, "x", LITERAL, "alice", READ, ALLOW),
        ]);
        let r: CreateAclsResponse = c.call(ApiKey::CreateAcls, v, &req).await;
        let codes: Vec<i16> = r.results.iter().map(|r| r.error_code).collect();
        assert_eq!(codes, [0, 0, 0, 0, 0, 42, 42, 42], "v{v}: {r:?}");

        let all: DescribeAclsResponse = c
            .call(ApiKey::DescribeAcls, v, &describe_filter(None, ANY))
            .await;
        assert_eq!(all.error_code, 0);
        assert_eq!(bindings(&all).len(), 5, "v{v}: {all:?}");
        // MATCH: what applies to the topic `p<v>-x`: the prefixed ACL and the wildcard.
        let name = format!("{prefix}x");
        let m: DescribeAclsResponse = c
            .call(
                ApiKey::DescribeAcls,
                v,
                &describe_filter(Some(&name), MATCH).with_resource_type_filter(TOPIC),
            )
            .await;
        assert_eq!(
            bindings(&m),
            vec![
                (TOPIC, "*".into(), LITERAL, "User:bob".into(), READ, DENY),
                (
                    TOPIC,
                    prefix.clone(),
                    PREFIXED,
                    "User:alice".into(),
                    WRITE,
                    ALLOW
                ),
            ],
            "v{v}"
        );
        // An UNKNOWN pattern type in a filter is refused.
        let bad: DescribeAclsResponse = c
            .call(ApiKey::DescribeAcls, v, &describe_filter(None, 0))
            .await;
        assert_eq!(bad.error_code, 42);

        let del = DeleteAclsRequest::default().with_filters(vec![
            DeleteAclsFilter::default()
                .with_resource_name_filter(None)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_resource_type_filter(ANY)
                .with_pattern_type_filter(ANY)
                .with_principal_filter(Some(s("User:alice")))
                .with_operation(ANY)
                .with_permission_type(ANY),
            DeleteAclsFilter::default()
                .with_resource_name_filter(None)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_resource_type_filter(TOPIC)
                .with_resource_name_filter(Some(s("nothing")))
                .with_pattern_type_filter(LITERAL)
                .with_operation(ANY)
                .with_permission_type(ANY),
            DeleteAclsFilter::default()
                .with_resource_name_filter(None)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_resource_type_filter(ANY)
                .with_pattern_type_filter(ANY)
                .with_operation(0)
                .with_permission_type(ANY),
        ]);
        let r: DeleteAclsResponse = c.call(ApiKey::DeleteAcls, v, &del).await;
        assert_eq!(r.filter_results[0].error_code, 0);
        assert_eq!(r.filter_results[0].matching_acls.len(), 3, "v{v}: {r:?}");
        assert!(r.filter_results[1].matching_acls.is_empty());
        assert_eq!(r.filter_results[2].error_code, 42);
        let rest = DeleteAclsRequest::default().with_filters(vec![
            DeleteAclsFilter::default()
                .with_resource_name_filter(None)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_resource_type_filter(ANY)
                .with_pattern_type_filter(ANY)
                .with_operation(ANY)
                .with_permission_type(ANY),
        ]);
        let r: DeleteAclsResponse = c.call(ApiKey::DeleteAcls, v, &rest).await;
        assert_eq!(r.filter_results[0].matching_acls.len(), 2);
        let none: DescribeAclsResponse = c
            .call(ApiKey::DescribeAcls, v, &describe_filter(None, ANY))
            .await;
        assert!(none.resources.is_empty());
    }
}

#[tokio::test]
async fn acl_apis_refuse_without_authorizer_or_permission() {
    let create = CreateAclsRequest::default().with_creations(vec![creation(
        TOPIC,
        "t",
        LITERAL,
        "User:alice",
        READ,
        ALLOW,
    )]);
    let delete = DeleteAclsRequest::default().with_filters(vec![
        DeleteAclsFilter::default()
            .with_resource_name_filter(None)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_resource_type_filter(ANY)
            .with_pattern_type_filter(ANY)
            .with_operation(ANY)
            .with_permission_type(ANY),
    ]);
    // No authorizer: SECURITY_DISABLED (54), as Kafka.
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let r: DescribeAclsResponse = c
        .call(ApiKey::DescribeAcls, 3, &describe_filter(None, ANY))
        .await;
    assert_eq!(r.error_code, 54);
    let r: CreateAclsResponse = c.call(ApiKey::CreateAcls, 3, &create).await;
    assert_eq!(r.results[0].error_code, 54);
    let r: DeleteAclsResponse = c.call(ApiKey::DeleteAcls, 3, &delete).await;
    assert_eq!(r.filter_results[0].error_code, 54);
    // An authorizer and no ACL for ANONYMOUS: CLUSTER_AUTHORIZATION_FAILED (31).
    let b = start(&[AUTHORIZER]).await;
    let mut c = Client::connect(b.addr).await;
    let r: DescribeAclsResponse = c
        .call(ApiKey::DescribeAcls, 3, &describe_filter(None, ANY))
        .await;
    assert_eq!(r.error_code, 31);
    let r: CreateAclsResponse = c.call(ApiKey::CreateAcls, 3, &create).await;
    assert_eq!(r.results[0].error_code, 31);
    let r: DeleteAclsResponse = c.call(ApiKey::DeleteAcls, 3, &delete).await;
    assert_eq!(r.filter_results[0].error_code, 31);
    let r: DescribeUserScramCredentialsResponse = c
        .call(
            ApiKey::DescribeUserScramCredentials,
            0,
            &DescribeUserScramCredentialsRequest::default(),
        )
        .await;
    assert_eq!(r.error_code, 31);
    let r: AlterUserScramCredentialsResponse = c
        .call(
            ApiKey::AlterUserScramCredentials,
            0,
            &AlterUserScramCredentialsRequest::default().with_deletions(vec![
                ScramCredentialDeletion::default()
                    .with_name(s("alice"))
                    .with_mechanism(1),
            ]),
        )
        .await;
    assert_eq!(r.results[0].error_code, 31);
    // allow.everyone.if.no.acl.found opens the cluster while no ACL names it.
    let b = start(&[AUTHORIZER, "allow.everyone.if.no.acl.found=true"]).await;
    let mut c = Client::connect(b.addr).await;
    let r: CreateAclsResponse = c.call(ApiKey::CreateAcls, 3, &create).await;
    assert_eq!(r.results[0].error_code, 0);
    assert!(b.broker.authorize(
        &Principal::user("alice"),
        "127.0.0.1".parse().unwrap(),
        fjord::security::acl::AclOperation::Describe,
        fjord::security::acl::ResourceType::Topic,
        "t"
    ));
}

#[tokio::test]
async fn scram_credential_apis_every_version() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let salt = b"0123456789abcdef".to_vec();
    let salted = ScramMechanism::Sha256.salted_password(b"alice-secret", &salt, 8192);
    let up = |name: &str, mechanism: i8, iterations: i32| {
        ScramCredentialUpsertion::default()
            .with_name(s(name))
            .with_mechanism(mechanism)
            .with_iterations(iterations)
            .with_salt(salt.clone().into())
            .with_salted_password(salted.clone().into())
    };
    for v in versions(ApiKey::AlterUserScramCredentials) {
        let req = AlterUserScramCredentialsRequest::default()
            .with_upsertions(vec![
                up("alice", 1, 8192),
                up("few", 1, 100),
                up("", 2, 4096),
                up("bad-mechanism", 0, 4096),
            ])
            .with_deletions(vec![
                ScramCredentialDeletion::default()
                    .with_name(s("nobody"))
                    .with_mechanism(2),
            ]);
        let r: AlterUserScramCredentialsResponse =
            c.call(ApiKey::AlterUserScramCredentials, v, &req).await;
        let mut got: Vec<(String, i16)> = r
            .results
            .iter()
            .map(|r| (r.user.to_string(), r.error_code))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("".into(), 93),
                ("alice".into(), 0),
                ("bad-mechanism".into(), 33),
                ("few".into(), 93),
                ("nobody".into(), 91),
            ]
        );
        let want =
            ScramCredential::from_password(ScramMechanism::Sha256, "alice-secret", &salt, 8192);
        assert_eq!(
            b.broker.scram_credential("alice", ScramMechanism::Sha256),
            Some(want)
        );

        let r: DescribeUserScramCredentialsResponse = c
            .call(
                ApiKey::DescribeUserScramCredentials,
                v,
                &DescribeUserScramCredentialsRequest::default().with_users(None),
            )
            .await;
        assert_eq!(r.results.len(), 1);
        assert_eq!(r.results[0].user.as_str(), "alice");
        assert_eq!(r.results[0].credential_infos[0].mechanism, 1);
        assert_eq!(r.results[0].credential_infos[0].iterations, 8192);
        let named = |n: &[&str]| {
            DescribeUserScramCredentialsRequest::default().with_users(Some(
                n.iter()
                    .map(|u| UserName::default().with_name(s(u)))
                    .collect(),
            ))
        };
        let r: DescribeUserScramCredentialsResponse = c
            .call(
                ApiKey::DescribeUserScramCredentials,
                v,
                &named(&["bob", "alice", "alice"]),
            )
            .await;
        let codes: Vec<(String, i16)> = r
            .results
            .iter()
            .map(|r| (r.user.to_string(), r.error_code))
            .collect();
        assert_eq!(codes, vec![("bob".into(), 91), ("alice".into(), 92)]);

        let del = AlterUserScramCredentialsRequest::default().with_deletions(vec![
            ScramCredentialDeletion::default()
                .with_name(s("alice"))
                .with_mechanism(1),
        ]);
        let r: AlterUserScramCredentialsResponse =
            c.call(ApiKey::AlterUserScramCredentials, v, &del).await;
        assert_eq!(r.results[0].error_code, 0);
        assert_eq!(
            b.broker.scram_credential("alice", ScramMechanism::Sha256),
            None
        );
    }
}

/// The checks of the handlers, for User:ANONYMOUS (the raw client): denied with Kafka's codes
/// while no ACL allows it, allowed once one does.
#[tokio::test]
async fn handlers_check_acls() {
    use fjord::security::acl::{AclOperation as Op, ResourceType as RT};
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};

    let b = start(&[AUTHORIZER]).await;
    let id = create_topic_unchecked(&b, "secret").await;
    let mut c = Client::connect(b.addr).await;
    let topic = || crate::common::name("secret");
    let produce = || {
        ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(1000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(topic())
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(crate::common::batch(&["a"], 1))),
                    ]),
            ])
    };
    let fetch = || {
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(topic())
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(0)
                            .with_partition_max_bytes(1 << 20),
                    ]),
            ])
    };
    let metadata_all = MetadataRequest::default()
        .with_topics(None)
        .with_include_topic_authorized_operations(true);
    let metadata_named = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(topic())),
        ]))
        .with_allow_auto_topic_creation(false);

    // Nothing allowed yet.
    let r: ProduceResponse = c.call(ApiKey::Produce, 9, &produce()).await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 29);
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &fetch()).await;
    assert_eq!(r.responses[0].partitions[0].error_code, 29);
    let r: ListOffsetsResponse = c
        .call(
            ApiKey::ListOffsets,
            7,
            &ListOffsetsRequest::default().with_topics(vec![
                ListOffsetsTopic::default()
                    .with_name(topic())
                    .with_partitions(vec![
                        ListOffsetsPartition::default()
                            .with_partition_index(0)
                            .with_timestamp(-1),
                    ]),
            ]),
        )
        .await;
    assert_eq!(r.topics[0].partitions[0].error_code, 29);
    let r: MetadataResponse = c.call(ApiKey::Metadata, 12, &metadata_all).await;
    assert!(r.topics.is_empty(), "{:?}", r.topics);
    let r: MetadataResponse = c.call(ApiKey::Metadata, 12, &metadata_named).await;
    assert_eq!(r.topics[0].error_code, 29);
    assert!(!r.topics[0].is_internal);
    // Named by id: the id comes back, the name does not.
    let by_id = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default()
                .with_name(None)
                .with_topic_id(id),
        ]))
        .with_allow_auto_topic_creation(false);
    let r: MetadataResponse = c.call(ApiKey::Metadata, 12, &by_id).await;
    assert_eq!(r.topics[0].error_code, 29);
    assert_eq!(r.topics[0].topic_id, id);
    assert_eq!(r.topics[0].name, None);
    let r: FindCoordinatorResponse = c
        .call(
            ApiKey::FindCoordinator,
            3,
            &FindCoordinatorRequest::default()
                .with_key(s("g"))
                .with_key_type(0),
        )
        .await;
    assert_eq!(r.error_code, 30);
    let r: FindCoordinatorResponse = c
        .call(
            ApiKey::FindCoordinator,
            3,
            &FindCoordinatorRequest::default()
                .with_key(s("tx"))
                .with_key_type(1),
        )
        .await;
    assert_eq!(r.error_code, 53);
    let r: InitProducerIdResponse = c
        .call(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(60000),
        )
        .await;
    assert_eq!(r.error_code, 31);
    let r: InitProducerIdResponse = c
        .call(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(s("tx"))))
                .with_transaction_timeout_ms(60000),
        )
        .await;
    assert_eq!(r.error_code, 53);
    let r: DescribeConfigsResponse = c
        .call(
            ApiKey::DescribeConfigs,
            4,
            &DescribeConfigsRequest::default().with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s("secret"))
                    .with_configuration_keys(None),
                DescribeConfigsResource::default()
                    .with_resource_type(4)
                    .with_resource_name(s("1"))
                    .with_configuration_keys(None),
            ]),
        )
        .await;
    assert_eq!(r.results[0].error_code, 29);
    assert_eq!(r.results[1].error_code, 31);
    let r: DescribeClusterResponse = c
        .call(
            ApiKey::DescribeCluster,
            1,
            &DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
        )
        .await;
    assert_eq!(r.cluster_authorized_operations, 0);

    // Write and Read on the topic: an idempotent producer may start (KIP-679), produce, fetch.
    let acls = b
        .broker
        .create_acls(vec![
            allow(RT::Topic, "secret", Op::Write),
            allow(RT::Topic, "secret", Op::Read),
        ])
        .await;
    assert!(acls.iter().all(|r| r.is_ok()));
    let r: InitProducerIdResponse = c
        .call(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(60000),
        )
        .await;
    assert_eq!(r.error_code, 0);
    let r: ProduceResponse = c.call(ApiKey::Produce, 9, &produce()).await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &fetch()).await;
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
    let r: MetadataResponse = c.call(ApiKey::Metadata, 12, &metadata_all).await;
    assert_eq!(r.topics.len(), 1);
    // READ, WRITE and the DESCRIBE they imply.
    assert_eq!(
        r.topics[0].topic_authorized_operations,
        (1 << 3) | (1 << 4) | (1 << 8)
    );
    // A follower's fetch needs ClusterAction on the cluster.
    let r: FetchResponse = c
        .call(ApiKey::Fetch, 12, &fetch().with_replica_id(BrokerId(2)))
        .await;
    assert_eq!(r.responses[0].partitions[0].error_code, 29);
}

/// Group configs (resource type 32) need DESCRIBE_CONFIGS / ALTER_CONFIGS on the group, as in
/// Kafka; the legacy AlterConfigs replaces a group's whole set.
#[tokio::test]
async fn group_configs_check_acls_on_the_group() {
    use fjord::security::acl::{
        AccessControlEntry, AclBinding, AclOperation as Op, AclPermissionType, PatternType,
        ResourcePattern, ResourceType as RT,
    };
    use kafka_protocol::messages::alter_configs_request::{
        AlterConfigsResource as LegacyResource, AlterableConfig as LegacyConfig,
    };
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };

    let b = start(&[AUTHORIZER]).await;
    let allow = |name: &str, op: Op| AclBinding {
        pattern: ResourcePattern {
            resource_type: RT::Group,
            name: name.into(),
            pattern_type: PatternType::Literal,
        },
        entry: AccessControlEntry {
            principal: "User:ANONYMOUS".into(),
            host: "*".into(),
            operation: op,
            permission: AclPermissionType::Allow,
        },
    };
    let mut c = Client::connect(b.addr).await;
    let describe = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(32)
            .with_resource_name(s("g"))
            .with_configuration_keys(Some(vec![s("share.auto.offset.reset")])),
    ]);
    let set = |value: &str| {
        IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(32)
                .with_resource_name(s("g"))
                .with_configs(vec![
                    AlterableConfig::default()
                        .with_name(s("share.auto.offset.reset"))
                        .with_config_operation(0)
                        .with_value(Some(s(value))),
                ]),
        ])
    };
    let value = |r: &DescribeConfigsResponse| {
        let e = &r.results[0].configs[0];
        (
            e.name.to_string(),
            e.value.as_ref().map(|v| v.to_string()),
            e.config_source,
        )
    };

    let r: DescribeConfigsResponse = c.call(ApiKey::DescribeConfigs, 4, &describe).await;
    assert_eq!(r.results[0].error_code, 30);
    assert!(r.results[0].configs.is_empty());
    let r: IncrementalAlterConfigsResponse = c
        .call(ApiKey::IncrementalAlterConfigs, 1, &set("earliest"))
        .await;
    assert_eq!(r.responses[0].error_code, 30);

    let acls = b
        .broker
        .create_acls(vec![allow("g", Op::DescribeConfigs)])
        .await;
    assert!(acls.iter().all(|r| r.is_ok()));
    let r: DescribeConfigsResponse = c.call(ApiKey::DescribeConfigs, 4, &describe).await;
    assert_eq!(r.results[0].error_code, 0);
    assert_eq!(
        value(&r),
        ("share.auto.offset.reset".into(), Some("latest".into()), 5)
    );
    let r: IncrementalAlterConfigsResponse = c
        .call(ApiKey::IncrementalAlterConfigs, 1, &set("earliest"))
        .await;
    assert_eq!(
        r.responses[0].error_code, 30,
        "DescribeConfigs does not imply AlterConfigs"
    );

    let acls = b
        .broker
        .create_acls(vec![allow("g", Op::AlterConfigs)])
        .await;
    assert!(acls.iter().all(|r| r.is_ok()));
    for v in versions(ApiKey::IncrementalAlterConfigs) {
        let r: IncrementalAlterConfigsResponse = c
            .call(ApiKey::IncrementalAlterConfigs, v, &set("earliest"))
            .await;
        assert_eq!(r.responses[0].error_code, 0, "v{v}");
        let r: IncrementalAlterConfigsResponse = c
            .call(ApiKey::IncrementalAlterConfigs, v, &set("sideways"))
            .await;
        assert_eq!(r.responses[0].error_code, 40, "v{v}");
    }
    for v in versions(ApiKey::DescribeConfigs) {
        let r: DescribeConfigsResponse = c.call(ApiKey::DescribeConfigs, v, &describe).await;
        assert_eq!(
            value(&r),
            ("share.auto.offset.reset".into(), Some("earliest".into()), 8),
            "v{v}"
        );
    }
    // The legacy AlterConfigs replaces the set: the key left out goes back to its default.
    let legacy = |pairs: &[(&str, &str)]| {
        AlterConfigsRequest::default().with_resources(vec![
            LegacyResource::default()
                .with_resource_type(32)
                .with_resource_name(s("g"))
                .with_configs(
                    pairs
                        .iter()
                        .map(|(k, v)| {
                            LegacyConfig::default()
                                .with_name(s(k))
                                .with_value(Some(s(v)))
                        })
                        .collect(),
                ),
        ])
    };
    let r: AlterConfigsResponse = c
        .call(
            ApiKey::AlterConfigs,
            2,
            &legacy(&[("share.isolation.level", "read_committed")]),
        )
        .await;
    assert_eq!(r.responses[0].error_code, 0);
    let r: DescribeConfigsResponse = c.call(ApiKey::DescribeConfigs, 4, &describe).await;
    assert_eq!(
        value(&r),
        ("share.auto.offset.reset".into(), Some("latest".into()), 5)
    );
    let r: AlterConfigsResponse = c
        .call(ApiKey::AlterConfigs, 2, &legacy(&[("no.such.key", "1")]))
        .await;
    assert_eq!(r.responses[0].error_code, 40);
    assert_eq!(
        r.responses[0].error_message.as_deref(),
        Some("Unknown group config name: no.such.key")
    );
    // A group with an empty name: authorization comes first, as in Kafka's KafkaApis.
    let r: DescribeConfigsResponse = c
        .call(
            ApiKey::DescribeConfigs,
            4,
            &DescribeConfigsRequest::default().with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(32)
                    .with_resource_name(s(""))
                    .with_configuration_keys(None),
            ]),
        )
        .await;
    assert_eq!(r.results[0].error_code, 30);
}
