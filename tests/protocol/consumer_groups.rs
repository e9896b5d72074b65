//! The KIP-848 consumer group protocol at every version: ConsumerGroupHeartbeat
//! and ConsumerGroupDescribe.

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::common::{Client, create_topic, name, start, versions};

/// KIP-848 at every version: two members join a 4-partition topic's group,
/// the second gets partitions only once the first has released them, both
/// appear in ConsumerGroupDescribe, and leaving works.
#[tokio::test]
async fn consumer_group_apis_every_version() {
    use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions as Owned;

    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let topic_id = create_topic(&mut c, "kt", 4).await;
    let owned_of = |r: &ConsumerGroupHeartbeatResponse| -> Vec<i32> {
        let mut ps: Vec<i32> = r
            .assignment
            .as_ref()
            .map(|a| {
                a.topic_partitions
                    .iter()
                    .flat_map(|tp| tp.partitions.clone())
                    .collect()
            })
            .unwrap_or_default();
        ps.sort();
        ps
    };
    for v in versions(ApiKey::ConsumerGroupHeartbeat) {
        let gid = GroupId(StrBytes::from_string(format!("kg-{v}")));
        let hb = |member: &str, epoch: i32, owned: Option<Vec<i32>>, join: bool| {
            let mut r =
                ConsumerGroupHeartbeatRequest::default()
                    .with_group_id(gid.clone())
                    .with_member_id(StrBytes::from_string(member.to_string()))
                    .with_member_epoch(epoch)
                    .with_rebalance_timeout_ms(if join { 30_000 } else { -1 })
                    .with_topic_partitions(owned.map(|ps| {
                        vec![Owned::default().with_topic_id(topic_id).with_partitions(ps)]
                    }));
            if join {
                r.subscribed_topic_names = Some(vec![name("kt")]);
            }
            r
        };
        let (a_id, b_id) = if v == 0 {
            (String::new(), String::new()) // v0: the coordinator names members
        } else {
            ("member-a".to_string(), "member-b".to_string())
        };
        let ra: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&a_id, 0, Some(vec![]), true),
            )
            .await;
        assert_eq!(ra.error_code, 0, "v{v}: {:?}", ra.error_message);
        assert_eq!(ra.member_epoch, 1);
        assert!(ra.heartbeat_interval_ms > 0);
        assert_eq!(owned_of(&ra), vec![0, 1, 2, 3]);
        let a = ra.member_id.clone().unwrap().to_string();
        assert!(!a.is_empty());

        let rb: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&b_id, 0, Some(vec![]), true),
            )
            .await;
        assert_eq!((rb.error_code, rb.member_epoch), (0, 2));
        assert_eq!(owned_of(&rb), Vec::<i32>::new(), "nothing released yet");
        let bm = rb.member_id.clone().unwrap().to_string();

        // a is asked to revoke two partitions, keeps epoch 1 until it confirms.
        let ra: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&a, 1, Some(vec![0, 1, 2, 3]), false),
            )
            .await;
        assert_eq!(ra.member_epoch, 1);
        let kept = owned_of(&ra);
        assert_eq!(kept.len(), 2);
        let ra: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&a, 1, Some(kept.clone()), false),
            )
            .await;
        assert_eq!(ra.member_epoch, 2);
        let rb: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&bm, 2, Some(vec![]), false),
            )
            .await;
        let got = owned_of(&rb);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|p| !kept.contains(p)));

        // A stale epoch is fenced.
        let stale: ConsumerGroupHeartbeatResponse = c
            .call(ApiKey::ConsumerGroupHeartbeat, v, &hb(&bm, 9, None, false))
            .await;
        assert_eq!(stale.error_code, 110, "FENCED_MEMBER_EPOCH");

        let dv = v.min(*versions(ApiKey::ConsumerGroupDescribe).end());
        let d: ConsumerGroupDescribeResponse = c
            .call(
                ApiKey::ConsumerGroupDescribe,
                dv,
                &ConsumerGroupDescribeRequest::default().with_group_ids(vec![gid.clone()]),
            )
            .await;
        let g = &d.groups[0];
        assert_eq!(g.error_code, 0);
        assert_eq!(
            (g.group_state.as_str(), g.group_epoch, g.assignment_epoch),
            ("Stable", 2, 2)
        );
        assert_eq!(g.assignor_name.as_str(), "uniform");
        assert_eq!(g.members.len(), 2);
        for m in &g.members {
            let n: usize = m
                .assignment
                .topic_partitions
                .iter()
                .map(|t| t.partitions.len())
                .sum();
            assert_eq!(n, 2);
            assert_eq!(m.assignment.topic_partitions[0].topic_name.as_str(), "kt");
        }

        // Leaving: epoch -1 echoed, the other member gets everything next.
        let left: ConsumerGroupHeartbeatResponse = c
            .call(ApiKey::ConsumerGroupHeartbeat, v, &hb(&bm, -1, None, false))
            .await;
        assert_eq!((left.error_code, left.member_epoch), (0, -1));
        let ra: ConsumerGroupHeartbeatResponse = c
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                v,
                &hb(&a, 2, Some(kept.clone()), false),
            )
            .await;
        assert_eq!(ra.member_epoch, 3);
        assert_eq!(owned_of(&ra), vec![0, 1, 2, 3]);

        // Classic APIs keep off a consumer-protocol group.
        let d: ConsumerGroupDescribeResponse = c
            .call(
                ApiKey::ConsumerGroupDescribe,
                dv,
                &ConsumerGroupDescribeRequest::default()
                    .with_group_ids(vec![GroupId(StrBytes::from_static_str("never"))]),
            )
            .await;
        assert_eq!(d.groups[0].error_code, 69);
    }
}
