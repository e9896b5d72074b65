//! Share groups (KIP-932) membership: ShareGroupHeartbeat and ShareGroupDescribe at every
//! advertised version, their errors with Kafka's codes and messages, share groups in
//! ListGroups / DescribeGroups / DeleteGroups, the classic and consumer APIs refusing a share
//! group id, an Empty share group surviving a restart, and the share-group offsets admin APIs
//! (90–92).

use kafka_protocol::messages::alter_share_group_offsets_request as alter_req;
use kafka_protocol::messages::delete_share_group_offsets_request as delete_req;
use kafka_protocol::messages::describe_share_group_offsets_request as describe_req;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::common::{
    AUTHORIZER, Client, allow, create_topic, create_topic_unchecked, name, start, versions,
};

const INVALID_REQUEST: i16 = 42;
const UNKNOWN_MEMBER_ID: i16 = 25;
const FENCED_MEMBER_EPOCH: i16 = 110;
const GROUP_ID_NOT_FOUND: i16 = 69;
const NON_EMPTY_GROUP: i16 = 68;
const GROUP_MAX_SIZE_REACHED: i16 = 81;

fn gid(s: &str) -> GroupId {
    GroupId(StrBytes::from_string(s.to_string()))
}

fn join(group: &str, member: &str, topics: &[&str]) -> ShareGroupHeartbeatRequest {
    ShareGroupHeartbeatRequest::default()
        .with_group_id(gid(group))
        .with_member_id(StrBytes::from_string(member.to_string()))
        .with_member_epoch(0)
        .with_subscribed_topic_names(Some(topics.iter().map(|t| name(t)).collect()))
}

fn beat(group: &str, member: &str, epoch: i32) -> ShareGroupHeartbeatRequest {
    ShareGroupHeartbeatRequest::default()
        .with_group_id(gid(group))
        .with_member_id(StrBytes::from_string(member.to_string()))
        .with_member_epoch(epoch)
}

/// The assignment of a heartbeat answer, as (topic id, sorted partitions).
fn assigned(r: &ShareGroupHeartbeatResponse) -> Option<Vec<(Uuid, Vec<i32>)>> {
    r.assignment.as_ref().map(|a| {
        a.topic_partitions
            .iter()
            .map(|tp| {
                let mut ps = tp.partitions.clone();
                ps.sort();
                (tp.topic_id, ps)
            })
            .collect()
    })
}

async fn heartbeat(
    c: &mut Client,
    req: &ShareGroupHeartbeatRequest,
) -> ShareGroupHeartbeatResponse {
    c.call(ApiKey::ShareGroupHeartbeat, 1, req).await
}

async fn describe(c: &mut Client, group: &str) -> share_group_describe_response::DescribedGroup {
    let r: ShareGroupDescribeResponse = c
        .call(
            ApiKey::ShareGroupDescribe,
            1,
            &ShareGroupDescribeRequest::default()
                .with_group_ids(vec![gid(group)])
                .with_include_authorized_operations(true),
        )
        .await;
    r.groups.into_iter().next().unwrap()
}

async fn delete(c: &mut Client, group: &str) -> DeleteGroupsResponse {
    c.call(
        ApiKey::DeleteGroups,
        2,
        &DeleteGroupsRequest::default().with_groups_names(vec![gid(group)]),
    )
    .await
}

async fn list(c: &mut Client, types: &[&str]) -> Vec<list_groups_response::ListedGroup> {
    let r: ListGroupsResponse = c
        .call(
            ApiKey::ListGroups,
            5,
            &ListGroupsRequest::default().with_types_filter(
                types
                    .iter()
                    .map(|t| StrBytes::from_string(t.to_string()))
                    .collect(),
            ),
        )
        .await;
    assert_eq!(r.error_code, 0);
    r.groups
}

/// Two members join a one-partition topic's share group and both get partition 0 (a partition
/// is shared when there are more members than partitions); the first is moved to the new epoch
/// without a new assignment; ShareGroupDescribe shows both; leaving empties the group.
#[tokio::test]
async fn share_group_heartbeat_and_describe_every_version() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic_id = create_topic(&mut c, "shared", 1).await;
    for v in versions(ApiKey::ShareGroupHeartbeat) {
        let g = format!("sg-{v}");
        let ra: ShareGroupHeartbeatResponse = c
            .call(
                ApiKey::ShareGroupHeartbeat,
                v,
                &join(&g, "member-a", &["shared"]),
            )
            .await;
        assert_eq!(ra.error_code, 0, "v{v}: {:?}", ra.error_message);
        assert_eq!(ra.member_id.as_deref(), Some("member-a"));
        assert_eq!(ra.member_epoch, 1);
        assert_eq!(ra.heartbeat_interval_ms, 5000);
        assert_eq!(assigned(&ra), Some(vec![(topic_id, vec![0])]));

        let rb = heartbeat(&mut c, &join(&g, "member-b", &["shared"])).await;
        assert_eq!((rb.error_code, rb.member_epoch), (0, 2));
        assert_eq!(assigned(&rb), Some(vec![(topic_id, vec![0])]));

        // a moves to epoch 2; its assignment is unchanged, so none is sent.
        let ra = heartbeat(&mut c, &beat(&g, "member-a", 1)).await;
        assert_eq!((ra.error_code, ra.member_epoch), (0, 2));
        assert_eq!(assigned(&ra), None);

        for dv in versions(ApiKey::ShareGroupDescribe) {
            let r: ShareGroupDescribeResponse = c
                .call(
                    ApiKey::ShareGroupDescribe,
                    dv,
                    &ShareGroupDescribeRequest::default().with_group_ids(vec![gid(&g)]),
                )
                .await;
            let d = &r.groups[0];
            assert_eq!(d.error_code, 0, "{:?}", d.error_message);
            assert_eq!(d.group_state.as_str(), "Stable");
            assert_eq!((d.group_epoch, d.assignment_epoch), (2, 2));
            assert_eq!(d.assignor_name.as_str(), "simple");
            let mut members: Vec<&str> = d.members.iter().map(|m| m.member_id.as_str()).collect();
            members.sort();
            assert_eq!(members, vec!["member-a", "member-b"]);
            for m in &d.members {
                assert_eq!(m.member_epoch, 2);
                assert_eq!(m.client_id.as_str(), "protocol-test");
                assert!(m.client_host.starts_with("/127.0.0.1"));
                assert_eq!(m.subscribed_topic_names, vec![name("shared")]);
                let tps = &m.assignment.topic_partitions;
                assert_eq!(tps.len(), 1);
                assert_eq!(tps[0].topic_id, topic_id);
                assert_eq!(tps[0].topic_name, name("shared"));
                assert_eq!(tps[0].partitions, vec![0]);
            }
        }

        let r = heartbeat(&mut c, &beat(&g, "member-b", -1)).await;
        assert_eq!((r.error_code, r.member_epoch), (0, -1));
        assert_eq!(r.member_id.as_deref(), Some("member-b"));
        let r = heartbeat(&mut c, &beat(&g, "member-a", -1)).await;
        assert_eq!(r.error_code, 0);
        let d = describe(&mut c, &g).await;
        assert_eq!(d.group_state.as_str(), "Empty");
        assert_eq!(d.group_epoch, 4);
        assert!(d.members.is_empty());
        assert_ne!(d.authorized_operations, i32::MIN, "asked for");
    }
}

/// Six partitions over three members: two each, none shared.
#[tokio::test]
async fn share_group_members_split_partitions_when_there_are_enough() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic_id = create_topic(&mut c, "six", 6).await;
    for m in ["a", "b", "c"] {
        let r = heartbeat(&mut c, &join("split", m, &["six"])).await;
        assert_eq!(r.error_code, 0);
    }
    let mut all = Vec::new();
    // Each heartbeats with the epoch it was given on joining (1, 2, 3) and moves to 3.
    for (m, epoch) in [("a", 1), ("b", 2), ("c", 3)] {
        let r = heartbeat(&mut c, &beat("split", m, epoch)).await;
        assert_eq!((r.error_code, r.member_epoch), (0, 3), "{m}");
        let d = describe(&mut c, "split").await;
        let me = d
            .members
            .iter()
            .find(|x| x.member_id.as_str() == m)
            .unwrap();
        let tps = &me.assignment.topic_partitions;
        assert_eq!(tps[0].topic_id, topic_id);
        assert_eq!(tps[0].partitions.len(), 2, "{m}");
        all.extend(tps[0].partitions.clone());
    }
    all.sort();
    assert_eq!(all, vec![0, 1, 2, 3, 4, 5]);
}

/// Kafka's codes and messages for bad heartbeats.
#[tokio::test]
async fn share_group_heartbeat_errors() {
    let b = start(&["group.share.max.size=2"]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "et", 2).await;
    let check = |r: &ShareGroupHeartbeatResponse, code: i16, message: &str| {
        assert_eq!(r.error_code, code, "{:?}", r.error_message);
        assert_eq!(r.error_message.as_deref(), Some(message));
    };

    let r = heartbeat(&mut c, &join("eg", "", &["et"])).await;
    check(&r, INVALID_REQUEST, "MemberId can't be empty.");
    let r = heartbeat(&mut c, &join("", "m", &["et"])).await;
    check(&r, INVALID_REQUEST, "GroupId can't be empty.");
    let r = heartbeat(
        &mut c,
        &join("eg", "m", &["et"]).with_rack_id(Some(StrBytes::from_static_str(""))),
    )
    .await;
    check(&r, INVALID_REQUEST, "RackId can't be empty.");
    let r = heartbeat(&mut c, &beat("eg", "m", 0)).await;
    check(
        &r,
        INVALID_REQUEST,
        "SubscribedTopicNames must be set in first request.",
    );
    let r = heartbeat(&mut c, &join("eg", "m", &[])).await;
    check(
        &r,
        INVALID_REQUEST,
        "SubscribedTopicNames must be set in first request.",
    );
    let r = heartbeat(&mut c, &beat("eg", "m", -2)).await;
    check(&r, INVALID_REQUEST, "MemberEpoch is invalid.");
    let r = heartbeat(&mut c, &beat("eg", "m", 1)).await;
    check(&r, GROUP_ID_NOT_FOUND, "Group eg not found.");
    let r = heartbeat(&mut c, &beat("eg", "m", -1)).await;
    check(&r, GROUP_ID_NOT_FOUND, "Group eg not found.");

    assert_eq!(
        heartbeat(&mut c, &join("eg", "a", &["et"]))
            .await
            .error_code,
        0
    );
    let r = heartbeat(&mut c, &beat("eg", "zz", 1)).await;
    check(
        &r,
        UNKNOWN_MEMBER_ID,
        "Member zz is not a member of group eg.",
    );
    let r = heartbeat(&mut c, &beat("eg", "zz", -1)).await;
    check(
        &r,
        UNKNOWN_MEMBER_ID,
        "Member zz is not a member of group eg.",
    );
    let r = heartbeat(&mut c, &beat("eg", "a", 5)).await;
    check(
        &r,
        FENCED_MEMBER_EPOCH,
        "The share group member has a greater member epoch (5) than the one known by the group coordinator (1). The member must abandon all its partitions and rejoin.",
    );
    // b joins (epoch 2); c does not fit: the group is full at two.
    assert_eq!(
        heartbeat(&mut c, &join("eg", "b", &["et"]))
            .await
            .error_code,
        0
    );
    let r = heartbeat(&mut c, &join("eg", "c", &["et"])).await;
    check(
        &r,
        GROUP_MAX_SIZE_REACHED,
        "The share group has reached its maximum capacity of 2 members.",
    );
    // The previous epoch is accepted; an older one is fenced.
    assert_eq!(heartbeat(&mut c, &beat("eg", "a", 1)).await.member_epoch, 2);
    assert_eq!(heartbeat(&mut c, &beat("eg", "a", 1)).await.member_epoch, 2);
    assert_eq!(heartbeat(&mut c, &beat("eg", "b", -1)).await.error_code, 0);
    assert_eq!(heartbeat(&mut c, &beat("eg", "a", 2)).await.member_epoch, 3);
    let r = heartbeat(&mut c, &beat("eg", "a", 1)).await;
    check(
        &r,
        FENCED_MEMBER_EPOCH,
        "The share group member has a smaller member epoch (1) than the one known by the group coordinator (3). The member must abandon all its partitions and rejoin.",
    );
    // A fenced member rejoins with epoch 0 and its id.
    let r = heartbeat(&mut c, &join("eg", "a", &["et"])).await;
    assert_eq!((r.error_code, r.member_epoch), (0, 3));
    assert!(r.assignment.is_some());

    // A topic that does not exist yet: no error, nothing assigned.
    let r = heartbeat(&mut c, &join("later", "m", &["not-yet"])).await;
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    assert_eq!(assigned(&r), Some(vec![]));
}

/// A classic group's id is not a share group's, and the classic and consumer APIs keep off a
/// share group.
#[tokio::test]
async fn share_and_other_groups_keep_apart() {
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "kt", 1).await;

    // A standalone classic group (committed offsets, no members).
    let commit = |group: &str| {
        OffsetCommitRequest::default()
            .with_group_id(gid(group))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(name("kt"))
                    .with_partitions(vec![
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(3),
                    ]),
            ])
    };
    let r: OffsetCommitResponse = c.call(ApiKey::OffsetCommit, 9, &commit("classic")).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let r = heartbeat(&mut c, &join("classic", "m", &["kt"])).await;
    assert_eq!(r.error_code, GROUP_ID_NOT_FOUND);
    assert_eq!(
        r.error_message.as_deref(),
        Some("Group classic is not a share group.")
    );
    let d = describe(&mut c, "classic").await;
    assert_eq!(d.error_code, GROUP_ID_NOT_FOUND);
    assert_eq!(
        d.error_message.as_deref(),
        Some("Group classic is not a share group.")
    );
    let d = describe(&mut c, "nobody").await;
    assert_eq!(d.error_code, GROUP_ID_NOT_FOUND);
    assert_eq!(d.error_message.as_deref(), Some("Group nobody not found."));

    // A share group refuses the others' APIs.
    assert_eq!(
        heartbeat(&mut c, &join("sg", "m", &["kt"]))
            .await
            .error_code,
        0
    );
    let r: OffsetCommitResponse = c.call(ApiKey::OffsetCommit, 9, &commit("sg")).await;
    assert_eq!(r.topics[0].partitions[0].error_code, GROUP_ID_NOT_FOUND);
    let r: ConsumerGroupHeartbeatResponse = c
        .call(
            ApiKey::ConsumerGroupHeartbeat,
            1,
            &ConsumerGroupHeartbeatRequest::default()
                .with_group_id(gid("sg"))
                .with_member_id(StrBytes::from_static_str("x"))
                .with_member_epoch(0)
                .with_rebalance_timeout_ms(30_000)
                .with_subscribed_topic_names(Some(vec![name("kt")]))
                .with_topic_partitions(Some(vec![])),
        )
        .await;
    assert_eq!(r.error_code, GROUP_ID_NOT_FOUND);
    assert_eq!(
        r.error_message.as_deref(),
        Some("Group sg is not a consumer group.")
    );
    let r: JoinGroupResponse = c
        .call(
            ApiKey::JoinGroup,
            9,
            &JoinGroupRequest::default()
                .with_group_id(gid("sg"))
                .with_session_timeout_ms(10_000)
                .with_rebalance_timeout_ms(10_000)
                .with_member_id(StrBytes::from_static_str(""))
                .with_protocol_type(StrBytes::from_static_str("consumer")),
        )
        .await;
    assert_eq!(r.error_code, GROUP_ID_NOT_FOUND);
    // The share group is still there, untouched.
    let d = describe(&mut c, "sg").await;
    assert_eq!((d.error_code, d.members.len()), (0, 1));
}

/// ListGroups (type filter `share`), DescribeGroups (not a classic group) and DeleteGroups
/// (NON_EMPTY_GROUP while a member is in, then deleted) on a share group.
#[tokio::test]
async fn share_groups_in_list_describe_and_delete_groups() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "lt", 1).await;
    assert_eq!(
        heartbeat(&mut c, &join("sg", "m", &["lt"]))
            .await
            .error_code,
        0
    );
    // And a classic group beside it.
    let _: JoinGroupResponse = c
        .call(
            ApiKey::JoinGroup,
            9,
            &JoinGroupRequest::default()
                .with_group_id(gid("cg"))
                .with_session_timeout_ms(10_000)
                .with_rebalance_timeout_ms(10_000)
                .with_member_id(StrBytes::from_static_str(""))
                .with_protocol_type(StrBytes::from_static_str("consumer")),
        )
        .await;

    let shares = list(&mut c, &["share"]).await;
    assert_eq!(shares.len(), 1);
    let l = &shares[0];
    assert_eq!(l.group_id, gid("sg"));
    assert_eq!(l.protocol_type.as_str(), "share");
    assert_eq!(l.group_state.as_str(), "Stable");
    assert_eq!(l.group_type.as_str(), "share");
    let all = list(&mut c, &[]).await;
    assert!(all.iter().any(|g| g.group_id == gid("sg")));
    assert!(
        list(&mut c, &["SHARE"]).await.len() == 1,
        "case-insensitive"
    );
    assert!(
        !list(&mut c, &["classic", "consumer"])
            .await
            .iter()
            .any(|g| g.group_id == gid("sg"))
    );

    for v in versions(ApiKey::DescribeGroups) {
        let r: DescribeGroupsResponse = c
            .call(
                ApiKey::DescribeGroups,
                v,
                &DescribeGroupsRequest::default().with_groups(vec![gid("sg")]),
            )
            .await;
        let d = &r.groups[0];
        assert_eq!(d.group_state.as_str(), "Dead", "v{v}");
        if v >= 6 {
            assert_eq!(d.error_code, GROUP_ID_NOT_FOUND);
            assert_eq!(
                d.error_message.as_deref(),
                Some("Group sg is not a classic group.")
            );
        } else {
            assert_eq!(d.error_code, 0, "v{v}");
        }
    }

    let r = delete(&mut c, "sg").await;
    assert_eq!(r.results[0].error_code, NON_EMPTY_GROUP);
    assert_eq!(heartbeat(&mut c, &beat("sg", "m", -1)).await.error_code, 0);
    let r = delete(&mut c, "sg").await;
    assert_eq!(r.results[0].error_code, 0);
    assert!(list(&mut c, &["share"]).await.is_empty());
    let d = describe(&mut c, "sg").await;
    assert_eq!(d.error_code, GROUP_ID_NOT_FOUND);
    // The id is free again: a new share group starts at epoch 1.
    let r = heartbeat(&mut c, &join("sg", "m", &["lt"])).await;
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
}

/// An Empty share group is still listed after a restart, at its epoch (ShareGroupMetadata in
/// `__consumer_offsets`); its members are gone and rejoin; a deleted one stays deleted.
#[tokio::test]
async fn an_empty_share_group_survives_a_restart() {
    use fjord::embedded::EmbeddedBroker;
    async fn start(dir: &std::path::Path) -> (EmbeddedBroker, Client) {
        let b = EmbeddedBroker::builder()
            .data_dir(dir)
            .start()
            .await
            .unwrap();
        let addr: std::net::SocketAddr = b.bootstrap_servers().parse().unwrap();
        let c = Client::connect(addr).await;
        (b, c)
    }
    let dir = tempfile::tempdir().unwrap();
    let (b, mut c) = start(dir.path()).await;
    create_topic(&mut c, "rt", 1).await;
    assert_eq!(
        heartbeat(&mut c, &join("kept", "m", &["rt"]))
            .await
            .error_code,
        0
    );
    assert_eq!(
        heartbeat(&mut c, &beat("kept", "m", -1)).await.error_code,
        0
    );
    assert_eq!(
        heartbeat(&mut c, &join("gone", "m", &["rt"]))
            .await
            .error_code,
        0
    );
    assert_eq!(
        heartbeat(&mut c, &beat("gone", "m", -1)).await.error_code,
        0
    );
    let r = delete(&mut c, "gone").await;
    assert_eq!(r.results[0].error_code, 0);
    // A member still in at shutdown is not persisted; its group comes back Empty.
    assert_eq!(
        heartbeat(&mut c, &join("busy", "m", &["rt"]))
            .await
            .error_code,
        0
    );
    drop(c);
    b.shutdown().await.unwrap();

    let (_b, mut c) = start(dir.path()).await;
    let shares = list(&mut c, &["share"]).await;
    let mut ids: Vec<(&str, &str)> = shares
        .iter()
        .map(|g| (g.group_id.as_str(), g.group_state.as_str()))
        .collect();
    ids.sort();
    assert_eq!(ids, vec![("busy", "Empty"), ("kept", "Empty")]);
    let d = describe(&mut c, "kept").await;
    assert_eq!(d.error_code, 0);
    assert_eq!((d.group_state.as_str(), d.group_epoch), ("Empty", 2));
    // The member is gone: it is told so, and rejoins at the next epoch.
    let r = heartbeat(&mut c, &beat("busy", "m", 1)).await;
    assert_eq!(r.error_code, UNKNOWN_MEMBER_ID);
    let r = heartbeat(&mut c, &join("kept", "m", &["rt"])).await;
    assert_eq!((r.error_code, r.member_epoch), (0, 3));
    assert_eq!(
        describe(&mut c, "gone").await.error_code,
        GROUP_ID_NOT_FOUND
    );
}

/// The group configs `share.heartbeat.interval.ms` and `share.session.timeout.ms` (set with
/// IncrementalAlterConfigs, resource type GROUP) are what members are told and how long a
/// silent member stays: the tick removes it and bumps the epoch.
#[tokio::test]
async fn group_configs_set_the_interval_and_the_session_timeout() {
    use fjord::clock::ManualClock;
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    let clock = ManualClock::new(1_700_000_000_000);
    let b = crate::common::start_with_clock(
        &[
            "group.share.min.session.timeout.ms=1000",
            "group.share.min.heartbeat.interval.ms=500",
        ],
        clock.clone(),
    )
    .await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "ct", 1).await;
    let set = |key: &str, value: &str| {
        AlterableConfig::default()
            .with_name(StrBytes::from_string(key.to_string()))
            .with_config_operation(0)
            .with_value(Some(StrBytes::from_string(value.to_string())))
    };
    let r: IncrementalAlterConfigsResponse = c
        .call(
            ApiKey::IncrementalAlterConfigs,
            1,
            &IncrementalAlterConfigsRequest::default().with_resources(vec![
                AlterConfigsResource::default()
                    .with_resource_type(32)
                    .with_resource_name(StrBytes::from_static_str("cfg"))
                    .with_configs(vec![
                        set("share.heartbeat.interval.ms", "1000"),
                        set("share.session.timeout.ms", "3000"),
                    ]),
            ]),
        )
        .await;
    assert_eq!(
        r.responses[0].error_code, 0,
        "{:?}",
        r.responses[0].error_message
    );

    let r = heartbeat(&mut c, &join("cfg", "a", &["ct"])).await;
    assert_eq!((r.error_code, r.heartbeat_interval_ms), (0, 1000));
    let r = heartbeat(&mut c, &join("cfg", "b", &["ct"])).await;
    assert_eq!(r.member_epoch, 2);
    // Another group keeps the broker's defaults.
    let r = heartbeat(&mut c, &join("plain", "a", &["ct"])).await;
    assert_eq!(r.heartbeat_interval_ms, 5000);

    clock.advance(2_000);
    assert_eq!(
        heartbeat(&mut c, &beat("cfg", "a", 1)).await.member_epoch,
        2
    );
    clock.advance(1_000);
    b.broker.groups.tick(&b.broker.topics, b.broker.now_ms());
    // b was silent for 3 s: gone, the epoch moved; a stays.
    let d = describe(&mut c, "cfg").await;
    assert_eq!(d.group_epoch, 3);
    let members: Vec<&str> = d.members.iter().map(|m| m.member_id.as_str()).collect();
    assert_eq!(members, vec!["a"]);
    let r = heartbeat(&mut c, &beat("cfg", "b", 2)).await;
    assert_eq!(r.error_code, UNKNOWN_MEMBER_ID);
    // The plain group's member has 45 s.
    assert_eq!(describe(&mut c, "plain").await.members.len(), 1);
}

/// READ on the group and DESCRIBE on the subscribed topics for ShareGroupHeartbeat; DESCRIBE on
/// the group for ShareGroupDescribe (KIP-932's ACL table).
#[tokio::test]
async fn share_group_apis_check_acls() {
    use fjord::security::acl::{AclOperation as Op, ResourceType as RT};
    let b = start(&[AUTHORIZER]).await;
    create_topic_unchecked(&b, "secret").await;
    let mut c = Client::connect(b.addr).await;

    let r = heartbeat(&mut c, &join("ag", "m", &["secret"])).await;
    assert_eq!(r.error_code, 30, "GROUP_AUTHORIZATION_FAILED");
    assert_eq!(describe(&mut c, "ag").await.error_code, 30);

    let acls = b
        .broker
        .create_acls(vec![allow(RT::Group, "ag", Op::Read)])
        .await;
    assert!(acls.iter().all(|r| r.is_ok()));
    let r = heartbeat(&mut c, &join("ag", "m", &["secret"])).await;
    assert_eq!(r.error_code, 29, "TOPIC_AUTHORIZATION_FAILED");
    assert_eq!(
        r.error_message.as_deref(),
        Some("The client is not authorized to access topics: [secret]")
    );

    let acls = b
        .broker
        .create_acls(vec![allow(RT::Topic, "secret", Op::Describe)])
        .await;
    assert!(acls.iter().all(|r| r.is_ok()));
    let r = heartbeat(&mut c, &join("ag", "m", &["secret"])).await;
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    // READ implies DESCRIBE on the group.
    let d = describe(&mut c, "ag").await;
    assert_eq!((d.error_code, d.members.len()), (0, 1));

    // A group naming a topic the client may not Describe is not described.
    let mut deny = allow(RT::Topic, "secret", Op::Describe);
    deny.entry.permission = fjord::security::acl::AclPermissionType::Deny;
    assert!(
        b.broker
            .create_acls(vec![deny])
            .await
            .iter()
            .all(|r| r.is_ok())
    );
    let d = describe(&mut c, "ag").await;
    assert_eq!(d.error_code, 29);
    assert_eq!(
        d.error_message.as_deref(),
        Some("The described group uses topics that the client is not authorized to describe.")
    );
    assert!(d.members.is_empty());
}

async fn offsets(
    c: &mut Client,
    group: &str,
    topics: Option<&[(&str, &[i32])]>,
) -> describe_share_group_offsets_response::DescribeShareGroupOffsetsResponseGroup {
    let topics = topics.map(|ts| {
        ts.iter()
            .map(|(n, ps)| {
                describe_req::DescribeShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(name(n))
                    .with_partitions(ps.to_vec())
            })
            .collect()
    });
    let r: DescribeShareGroupOffsetsResponse = c
        .call(
            ApiKey::DescribeShareGroupOffsets,
            0,
            &DescribeShareGroupOffsetsRequest::default().with_groups(vec![
                describe_req::DescribeShareGroupOffsetsRequestGroup::default()
                    .with_group_id(gid(group))
                    .with_topics(topics),
            ]),
        )
        .await;
    r.groups.into_iter().next().unwrap()
}
async fn alter(
    c: &mut Client,
    group: &str,
    topic: &str,
    at: &[(i32, i64)],
) -> AlterShareGroupOffsetsResponse {
    let req = AlterShareGroupOffsetsRequest::default()
        .with_group_id(gid(group))
        .with_topics(vec![
            alter_req::AlterShareGroupOffsetsRequestTopic::default()
                .with_topic_name(name(topic))
                .with_partitions(
                    at.iter()
                        .map(|&(p, o)| {
                            alter_req::AlterShareGroupOffsetsRequestPartition::default()
                                .with_partition_index(p)
                                .with_start_offset(o)
                        })
                        .collect(),
                ),
        ]);
    c.call(ApiKey::AlterShareGroupOffsets, 0, &req).await
}
async fn delete_offsets(
    c: &mut Client,
    group: &str,
    topics: &[&str],
) -> DeleteShareGroupOffsetsResponse {
    let req = DeleteShareGroupOffsetsRequest::default()
        .with_group_id(gid(group))
        .with_topics(
            topics
                .iter()
                .map(|t| {
                    delete_req::DeleteShareGroupOffsetsRequestTopic::default()
                        .with_topic_name(name(t))
                })
                .collect(),
        );
    c.call(ApiKey::DeleteShareGroupOffsets, 0, &req).await
}

/// DescribeShareGroupOffsets / AlterShareGroupOffsets / DeleteShareGroupOffsets v0 (design §9):
/// an absent group is created by Alter; named and all-partitions describes; NON_EMPTY_GROUP
/// while a member is in; unknown groups and topics; Delete forgets the start offset.
#[tokio::test]
async fn share_group_offsets_admin_apis() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let t = create_topic(&mut c, "so", 2).await;

    let starts =
        |g: &describe_share_group_offsets_response::DescribeShareGroupOffsetsResponseGroup| {
            g.topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(move |p| {
                        (
                            t.topic_name.as_str().to_string(),
                            p.partition_index,
                            p.start_offset,
                            p.error_code,
                        )
                    })
                })
                .collect::<Vec<_>>()
        };

    assert_eq!(
        offsets(&mut c, "nope", None).await.error_code,
        GROUP_ID_NOT_FOUND
    );
    assert_eq!(
        delete_offsets(&mut c, "nope", &["so"]).await.error_code,
        GROUP_ID_NOT_FOUND
    );

    // Alter creates the group (Empty) and sets partition 1's start.
    let r = alter(&mut c, "sgo", "so", &[(1, 5)]).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.responses[0].topic_id, t);
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
    assert_eq!(describe(&mut c, "sgo").await.group_state.as_str(), "Empty");
    let all = offsets(&mut c, "sgo", None).await;
    assert_eq!(all.error_code, 0);
    assert_eq!(all.topics[0].topic_id, t);
    assert_eq!(starts(&all), vec![("so".to_string(), 1, 5, 0)]);
    let named = offsets(&mut c, "sgo", Some(&[("so", &[0, 1, 7]), ("nope", &[0])])).await;
    assert_eq!(
        starts(&named),
        vec![
            ("so".to_string(), 0, -1, 0),
            ("so".to_string(), 1, 5, 0),
            ("so".to_string(), 7, -1, 3),
            ("nope".to_string(), 0, -1, 3),
        ]
    );
    let r = alter(&mut c, "sgo", "nope", &[(0, 1)]).await;
    assert_eq!(
        (r.error_code, r.responses[0].partitions[0].error_code),
        (0, 3)
    );

    // With a member: refused as a whole.
    assert_eq!(
        heartbeat(&mut c, &join("sgo", "m", &["so"]))
            .await
            .error_code,
        0
    );
    let r = alter(&mut c, "sgo", "so", &[(1, 0)]).await;
    assert_eq!((r.error_code, r.responses.len()), (NON_EMPTY_GROUP, 0));
    assert_eq!(
        delete_offsets(&mut c, "sgo", &["so"]).await.error_code,
        NON_EMPTY_GROUP
    );
    assert_eq!(
        starts(&offsets(&mut c, "sgo", None).await),
        vec![("so".to_string(), 1, 5, 0)]
    );
    assert_eq!(heartbeat(&mut c, &beat("sgo", "m", -1)).await.error_code, 0);

    let r = delete_offsets(&mut c, "sgo", &["so", "nope"]).await;
    assert_eq!(r.error_code, 0);
    let codes: Vec<(Uuid, i16)> = r
        .responses
        .iter()
        .map(|t| (t.topic_id, t.error_code))
        .collect();
    assert_eq!(codes, vec![(t, 0), (Uuid::nil(), 3)]);
    assert!(offsets(&mut c, "sgo", None).await.topics.is_empty());

    // An empty group id is INVALID_GROUP_ID, as everywhere in Kafka's group coordinator.
    assert_eq!(alter(&mut c, "", "so", &[(0, 0)]).await.error_code, 24);
    assert_eq!(delete_offsets(&mut c, "", &["so"]).await.error_code, 24);
    assert_eq!(offsets(&mut c, "", None).await.error_code, 24);
}

/// The share-group offsets APIs' ACLs (design §9): DESCRIBE on the group and topics to
/// describe, READ on the group and topics to alter, DELETE on the group and READ on the topics
/// to delete.
#[tokio::test]
async fn share_group_offsets_apis_check_acls() {
    use fjord::security::acl::{AclOperation as Op, ResourceType as RT};
    let b = start(&[AUTHORIZER]).await;
    create_topic_unchecked(&b, "secret").await;
    let mut c = Client::connect(b.addr).await;

    assert_eq!(offsets(&mut c, "ag", None).await.error_code, 30);
    assert_eq!(
        alter(&mut c, "ag", "secret", &[(0, 0)]).await.error_code,
        30
    );
    assert_eq!(
        delete_offsets(&mut c, "ag", &["secret"]).await.error_code,
        30
    );

    let granted = b
        .broker
        .create_acls(vec![allow(RT::Group, "ag", Op::Read)])
        .await;
    assert!(granted.iter().all(|r| r.is_ok()));
    let r = alter(&mut c, "ag", "secret", &[(0, 0)]).await;
    assert_eq!(
        (r.error_code, r.responses[0].partitions[0].error_code),
        (0, 29)
    );
    let named = offsets(&mut c, "ag", Some(&[("secret", &[0])])).await;
    assert_eq!(
        (named.error_code, named.topics[0].partitions[0].error_code),
        (0, 29)
    );
    assert_eq!(
        delete_offsets(&mut c, "ag", &["secret"]).await.error_code,
        30
    );

    let granted = b
        .broker
        .create_acls(vec![allow(RT::Topic, "secret", Op::Read)])
        .await;
    assert!(granted.iter().all(|r| r.is_ok()));
    let r = alter(&mut c, "ag", "secret", &[(0, 0)]).await;
    assert_eq!(
        (r.error_code, r.responses[0].partitions[0].error_code),
        (0, 0)
    );
    // READ implies DESCRIBE, on the group and on the topic.
    let all = offsets(&mut c, "ag", None).await;
    assert_eq!((all.error_code, all.topics.len()), (0, 1));

    let granted = b
        .broker
        .create_acls(vec![allow(RT::Group, "ag", Op::Delete)])
        .await;
    assert!(granted.iter().all(|r| r.is_ok()));
    let r = delete_offsets(&mut c, "ag", &["secret"]).await;
    assert_eq!((r.error_code, r.responses[0].error_code), (0, 0));
}

/// DescribeShareGroupOffsets v1 reports Kafka's lag (KIP-1226): high watermark − SPSO −
/// delivery-complete count, from the live share-partition and, after a restart, from the
/// persisted state; -1 without state; v0 has no such field. Alter resets the count to 0.
#[tokio::test]
async fn describe_offsets_v1_reports_lag() {
    use fjord::embedded::EmbeddedBroker;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::share_acknowledge_request::{
        AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch,
    };
    use kafka_protocol::messages::share_fetch_request::{FetchPartition, FetchTopic};
    const ACCEPT: i8 = 1;
    const RELEASE: i8 = 2;

    async fn start(dir: &std::path::Path) -> (EmbeddedBroker, Client) {
        let b = EmbeddedBroker::builder()
            .data_dir(dir)
            .start()
            .await
            .unwrap();
        let addr: std::net::SocketAddr = b.bootstrap_servers().parse().unwrap();
        (b, Client::connect(addr).await)
    }
    /// (partition, start offset, lag) of every partition answered, at `version`.
    async fn lags(
        c: &mut Client,
        version: i16,
        topics: Option<&[(&str, &[i32])]>,
    ) -> Vec<(i32, i64, i64)> {
        let topics = topics.map(|ts| {
            ts.iter()
                .map(|(n, ps)| {
                    describe_req::DescribeShareGroupOffsetsRequestTopic::default()
                        .with_topic_name(name(n))
                        .with_partitions(ps.to_vec())
                })
                .collect()
        });
        let req = DescribeShareGroupOffsetsRequest::default().with_groups(vec![
            describe_req::DescribeShareGroupOffsetsRequestGroup::default()
                .with_group_id(gid("lag"))
                .with_topics(topics),
        ]);
        let r: DescribeShareGroupOffsetsResponse = c
            .call(ApiKey::DescribeShareGroupOffsets, version, &req)
            .await;
        let g = &r.groups[0];
        assert_eq!(g.error_code, 0);
        g.topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .map(|p| {
                assert_eq!(p.error_code, 0);
                (p.partition_index, p.start_offset, p.lag)
            })
            .collect()
    }
    async fn ack(c: &mut Client, topic: Uuid, epoch: i32, acks: &[(i64, i64, i8)]) {
        let req = ShareAcknowledgeRequest::default()
            .with_group_id(Some(gid("lag")))
            .with_member_id(Some(StrBytes::from_static_str("A")))
            .with_share_session_epoch(epoch)
            .with_topics(vec![
                AcknowledgeTopic::default()
                    .with_topic_id(topic)
                    .with_partitions(vec![
                        AcknowledgePartition::default()
                            .with_partition_index(0)
                            .with_acknowledgement_batches(
                                acks.iter()
                                    .map(|&(first, last, t)| {
                                        AcknowledgementBatch::default()
                                            .with_first_offset(first)
                                            .with_last_offset(last)
                                            .with_acknowledge_types(vec![t])
                                    })
                                    .collect(),
                            ),
                    ]),
            ]);
        let r: ShareAcknowledgeResponse = c.call(ApiKey::ShareAcknowledge, 1, &req).await;
        assert_eq!(r.error_code, 0);
        assert_eq!(r.responses[0].partitions[0].error_code, 0);
    }

    let dir = tempfile::tempdir().unwrap();
    let (b, mut c) = start(dir.path()).await;
    let topic = create_topic(&mut c, "lt", 2).await;
    // The group exists (Empty) before anything is consumed.
    assert_eq!(
        heartbeat(&mut c, &join("lag", "m", &["lt"]))
            .await
            .error_code,
        0
    );
    assert_eq!(heartbeat(&mut c, &beat("lag", "m", -1)).await.error_code, 0);
    assert_eq!(lags(&mut c, 1, None).await, vec![]);
    assert_eq!(
        lags(&mut c, 1, Some(&[("lt", &[0, 1])])).await,
        vec![(0, -1, -1), (1, -1, -1)],
        "no state: start offset and lag unknown"
    );

    // 100 records on partition 0; member A acquires them all, accepts 0–29, releases 30–39.
    let values: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name("lt"))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(crate::common::batch(&values, 1))),
                ]),
        ]);
    let r: ProduceResponse = c.call(ApiKey::Produce, 9, &req).await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    let reset = IncrementalAlterConfigsRequest::default().with_resources(vec![
        incremental_alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(32)
            .with_resource_name(StrBytes::from_static_str("lag"))
            .with_configs(vec![
                incremental_alter_configs_request::AlterableConfig::default()
                    .with_name(StrBytes::from_static_str("share.auto.offset.reset"))
                    .with_config_operation(0)
                    .with_value(Some(StrBytes::from_static_str("earliest"))),
            ]),
    ]);
    let r: IncrementalAlterConfigsResponse =
        c.call(ApiKey::IncrementalAlterConfigs, 1, &reset).await;
    assert_eq!(r.responses[0].error_code, 0);
    let fetch = ShareFetchRequest::default()
        .with_group_id(Some(gid("lag")))
        .with_member_id(Some(StrBytes::from_static_str("A")))
        .with_share_session_epoch(0)
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(52_428_800)
        .with_max_records(500)
        .with_batch_size(500)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic_id(topic)
                .with_partitions(vec![FetchPartition::default().with_partition_index(0)]),
        ]);
    let r: ShareFetchResponse = c.call(ApiKey::ShareFetch, 1, &fetch).await;
    let acquired: Vec<(i64, i64)> = r.responses[0].partitions[0]
        .acquired_records
        .iter()
        .map(|a| (a.first_offset, a.last_offset))
        .collect();
    assert_eq!(acquired, vec![(0, 99)]);
    ack(&mut c, topic, 1, &[(0, 29, ACCEPT), (30, 39, RELEASE)]).await;

    // SPSO 30, nothing complete above it: 100 − 30 − 0.
    assert_eq!(lags(&mut c, 1, None).await, vec![(0, 30, 70)]);
    assert_eq!(
        lags(&mut c, 1, Some(&[("lt", &[0, 1])])).await,
        vec![(0, 30, 70), (1, -1, -1)]
    );
    // v0 has no Lag on the wire: the decoder's default, -1.
    assert_eq!(lags(&mut c, 0, None).await, vec![(0, 30, -1)]);

    // Accepting 50–54 leaves the SPSO at 30 (30–39 are available again) and completes 5
    // offsets above it: 100 − 30 − 5.
    ack(&mut c, topic, 2, &[(50, 54, ACCEPT)]).await;
    assert_eq!(lags(&mut c, 1, None).await, vec![(0, 30, 65)]);

    // After a restart the share-partition is only persisted state until its next use: the
    // count comes from the record.
    drop(c);
    b.shutdown().await.unwrap();
    let (_b, mut c) = start(dir.path()).await;
    assert_eq!(lags(&mut c, 1, None).await, vec![(0, 30, 65)]);
    assert_eq!(
        lags(&mut c, 1, Some(&[("lt", &[0])])).await,
        vec![(0, 30, 65)]
    );

    // AlterShareGroupOffsets to 50: an empty window, the count 0 (KAFKA-20034): 100 − 50.
    let r = alter(&mut c, "lag", "lt", &[(0, 50)]).await;
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
    assert_eq!(lags(&mut c, 1, None).await, vec![(0, 50, 50)]);
    // Kafka does not clamp: a start offset past the high watermark gives a negative lag.
    let r = alter(&mut c, "lag", "lt", &[(0, 120)]).await;
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
    assert_eq!(lags(&mut c, 1, None).await, vec![(0, 120, -20)]);
}

/// In a cluster the share-group offsets admin APIs reach the share coordinators (design
/// §14.1 step 6): Alter initializes state for partitions whichever node leads them, Describe
/// (named and all partitions) reads it back with the leaders' high watermarks (0: nothing
/// produced, so the lag is exactly minus the start offset), a second Alter moves it, Delete
/// of the topic and DeleteGroups remove it at the coordinators (a group re-created by Alter
/// sees none of it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn share_group_offsets_admin_apis_in_a_cluster() {
    use std::time::Duration;
    let cluster =
        crate::common::start_cluster(3, &["share.coordinator.state.topic.num.partitions=5"]).await;
    let mut first = Client::connect(cluster.addrs[0]).await;
    let topic_id = create_topic(&mut first, "q", 3).await;
    let group = "cluster-admins";
    // The group's coordinator answers the admin APIs.
    let mut home = None;
    for _ in 0..200 {
        let req = FindCoordinatorRequest::default()
            .with_key_type(0)
            .with_key(StrBytes::from_static_str("cluster-admins"));
        let resp: FindCoordinatorResponse = first.call(ApiKey::FindCoordinator, 3, &req).await;
        if resp.error_code == 0 {
            home = Some(resp.node_id.0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let home = home.expect("a group coordinator");
    let mut c = Client::connect(cluster.addrs[(home - 1) as usize]).await;

    let alter = |parts: &[(i32, i64)]| {
        AlterShareGroupOffsetsRequest::default()
            .with_group_id(gid(group))
            .with_topics(vec![
                alter_req::AlterShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(name("q"))
                    .with_partitions(
                        parts
                            .iter()
                            .map(|&(i, o)| {
                                alter_req::AlterShareGroupOffsetsRequestPartition::default()
                                    .with_partition_index(i)
                                    .with_start_offset(o)
                            })
                            .collect(),
                    ),
            ])
    };
    let codes = |r: &AlterShareGroupOffsetsResponse| -> Vec<i16> {
        assert_eq!(r.error_code, 0, "{r:?}");
        r.responses[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect()
    };
    let describe = |topics: Option<Vec<i32>>| {
        DescribeShareGroupOffsetsRequest::default().with_groups(vec![
            describe_req::DescribeShareGroupOffsetsRequestGroup::default()
                .with_group_id(gid(group))
                .with_topics(topics.map(|ps| {
                    vec![
                        describe_req::DescribeShareGroupOffsetsRequestTopic::default()
                            .with_topic_name(name("q"))
                            .with_partitions(ps),
                    ]
                })),
        ])
    };
    // (partition, start offset, lag, error) per partition of topic q, in answer order.
    let offsets = |r: &DescribeShareGroupOffsetsResponse| -> Vec<(i32, i64, i64, i16)> {
        let g = &r.groups[0];
        assert_eq!(g.error_code, 0, "{r:?}");
        g.topics
            .iter()
            .inspect(|t| assert_eq!((t.topic_name.as_str(), t.topic_id), ("q", topic_id)))
            .flat_map(|t| &t.partitions)
            .map(|p| (p.partition_index, p.start_offset, p.lag, p.error_code))
            .collect()
    };

    // The first Alter creates the group and, through the controller, `__share_group_state`
    // (asked again until the group's coordinator has loaded and its image knows the topic).
    let mut got = Vec::new();
    for _ in 0..100 {
        let r: AlterShareGroupOffsetsResponse = c
            .call(ApiKey::AlterShareGroupOffsets, 0, &alter(&[(0, 5), (1, 7)]))
            .await;
        // NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS while the group's partition loads.
        if ![16, 14].contains(&r.error_code) {
            got = codes(&r);
            if got != vec![3, 3] {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(got, vec![0, 0]);
    let r: DescribeShareGroupOffsetsResponse = c
        .call(ApiKey::DescribeShareGroupOffsets, 1, &describe(None))
        .await;
    assert_eq!(offsets(&r), vec![(0, 5, -5, 0), (1, 7, -7, 0)]);
    let r: DescribeShareGroupOffsetsResponse = c
        .call(
            ApiKey::DescribeShareGroupOffsets,
            1,
            &describe(Some(vec![1, 2, 3])),
        )
        .await;
    assert_eq!(
        offsets(&r),
        vec![(1, 7, -7, 0), (2, -1, -1, 0), (3, -1, -1, 3)]
    );

    // A second Alter: the next state epoch at the coordinator.
    let r: AlterShareGroupOffsetsResponse = c
        .call(ApiKey::AlterShareGroupOffsets, 0, &alter(&[(0, 9)]))
        .await;
    assert_eq!(codes(&r), vec![0]);
    let r: DescribeShareGroupOffsetsResponse = c
        .call(ApiKey::DescribeShareGroupOffsets, 1, &describe(None))
        .await;
    assert_eq!(offsets(&r), vec![(0, 9, -9, 0), (1, 7, -7, 0)]);

    // DeleteShareGroupOffsets of the topic: no state left.
    let req = DeleteShareGroupOffsetsRequest::default()
        .with_group_id(gid(group))
        .with_topics(vec![
            delete_req::DeleteShareGroupOffsetsRequestTopic::default().with_topic_name(name("q")),
        ]);
    let r: DeleteShareGroupOffsetsResponse = c.call(ApiKey::DeleteShareGroupOffsets, 0, &req).await;
    assert_eq!((r.error_code, r.responses[0].error_code), (0, 0), "{r:?}");
    let r: DescribeShareGroupOffsetsResponse = c
        .call(ApiKey::DescribeShareGroupOffsets, 1, &describe(None))
        .await;
    assert_eq!(offsets(&r), vec![]);

    // DeleteGroups deletes the state at the coordinators before the group.
    let r: AlterShareGroupOffsetsResponse = c
        .call(ApiKey::AlterShareGroupOffsets, 0, &alter(&[(1, 3)]))
        .await;
    assert_eq!(codes(&r), vec![0]);
    let req = DeleteGroupsRequest::default().with_groups_names(vec![gid(group)]);
    let r: DeleteGroupsResponse = c.call(ApiKey::DeleteGroups, 2, &req).await;
    assert_eq!(r.results[0].error_code, 0);
    let r: DescribeShareGroupOffsetsResponse = c
        .call(ApiKey::DescribeShareGroupOffsets, 1, &describe(None))
        .await;
    assert_eq!(r.groups[0].error_code, GROUP_ID_NOT_FOUND);
    let r: AlterShareGroupOffsetsResponse = c
        .call(ApiKey::AlterShareGroupOffsets, 0, &alter(&[(2, 4)]))
        .await;
    assert_eq!(codes(&r), vec![0]);
    let r: DescribeShareGroupOffsetsResponse = c
        .call(ApiKey::DescribeShareGroupOffsets, 1, &describe(None))
        .await;
    assert_eq!(offsets(&r), vec![(2, 4, -4, 0)]);
}
