//! The classic group protocol at every version of every group API: join,
//! sync, heartbeat, offsets, describe, list, leave, delete.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

use crate::common::{Client, create_topic, name, start, versions};

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
