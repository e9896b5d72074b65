//! Incremental fetch sessions (KIP-227) over the wire, at every Fetch version that has them
//! (v7+): a full fetch with epoch 0 gets a session; incremental fetches add, update and forget
//! partitions and are answered only with what changed; wrong epochs, unknown ids, closing, and
//! the topic-id rules of v13+; the long poll of an incremental fetch covers its whole session;
//! and eviction follows the broker's clock.

use std::time::Duration;

use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use uuid::Uuid;

use fjord::clock::ManualClock;

use crate::common::*;

const NOT_FOUND: i16 = 70;
const INVALID_EPOCH: i16 = 71;
const TOPIC_ID_ERROR: i16 = 106;
const UNKNOWN_TOPIC_ID: i16 = 100;

/// A topic as a fetch of `version` names it: by id from v13, by name before.
#[derive(Clone)]
struct Topic {
    name: &'static str,
    id: Uuid,
}

fn fetch_topic(version: i16, t: &Topic, parts: &[(i32, i64)]) -> FetchTopic {
    let mut ft = FetchTopic::default().with_partitions(
        parts
            .iter()
            .map(|&(p, offset)| {
                FetchPartition::default()
                    .with_partition(p)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)
            })
            .collect(),
    );
    if version >= 13 {
        ft.topic_id = t.id;
    } else {
        ft.topic = name(t.name);
    }
    ft
}

fn forgotten(version: i16, t: &Topic, parts: &[i32]) -> ForgottenTopic {
    let mut f = ForgottenTopic::default().with_partitions(parts.to_vec());
    if version >= 13 {
        f.topic_id = t.id;
    } else {
        f.topic = name(t.name);
    }
    f
}

fn session_fetch(
    id: i32,
    epoch: i32,
    topics: Vec<FetchTopic>,
    forget: Vec<ForgottenTopic>,
) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_id(id)
        .with_session_epoch(epoch)
        .with_topics(topics)
        .with_forgotten_topics_data(forget)
}

/// One partition of a response: (topic name or id as text, partition, error, high watermark,
/// records as (offset, value)).
type Answer = (String, i32, i16, i64, Vec<(i64, String)>);

fn answers(version: i16, r: &FetchResponse) -> Vec<Answer> {
    r.responses
        .iter()
        .flat_map(|t| {
            let topic = if version >= 13 {
                t.topic_id.to_string()
            } else {
                t.topic.to_string()
            };
            t.partitions.iter().map(move |p| {
                let values = p.records.clone().map(values_of).unwrap_or_default();
                (
                    topic.clone(),
                    p.partition_index,
                    p.error_code,
                    p.high_watermark,
                    values,
                )
            })
        })
        .collect()
}

fn topic_text(version: i16, t: &Topic) -> String {
    if version >= 13 {
        t.id.to_string()
    } else {
        t.name.to_string()
    }
}

async fn produce(c: &mut Client, topic: &str, partition: i32, value: &str) -> i64 {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(batch(&[value], 1))),
                ]),
        ]);
    let r: ProduceResponse = c.call(ApiKey::Produce, 9, &req).await;
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0);
    p.base_offset
}

/// At every version with sessions: create one, continue it, add / update / forget partitions,
/// get only what changed, then the refusals and closing.
#[tokio::test]
async fn fetch_sessions_every_version() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let fetch_versions = versions(ApiKey::Fetch);
    for v in (*fetch_versions.start()).max(7)..=*fetch_versions.end() {
        let topic_name: &'static str = Box::leak(format!("fs{v}").into_boxed_str());
        let t = Topic {
            name: topic_name,
            id: create_topic(&mut c, topic_name, 3).await,
        };
        let tt = topic_text(v, &t);
        produce(&mut c, t.name, 0, "a0").await;
        produce(&mut c, t.name, 1, "b0").await;

        // Full fetch, epoch 0: every partition answered, a session id given.
        let req = session_fetch(0, 0, vec![fetch_topic(v, &t, &[(0, 0), (1, 0)])], vec![]);
        let r: FetchResponse = c.call(ApiKey::Fetch, v, &req).await;
        assert_eq!(r.error_code, 0, "v{v}");
        let id = r.session_id;
        assert!(id > 0, "v{v}: no session created");
        assert_eq!(
            answers(v, &r),
            vec![
                (tt.clone(), 0, 0, 1, vec![(0, "a0".into())]),
                (tt.clone(), 1, 0, 1, vec![(0, "b0".into())]),
            ],
            "v{v}"
        );

        // Epoch 1, the new positions: nothing new to say.
        let req = session_fetch(id, 1, vec![fetch_topic(v, &t, &[(0, 1), (1, 1)])], vec![]);
        let r: FetchResponse = c.call(ApiKey::Fetch, v, &req).await;
        assert_eq!((r.error_code, r.session_id), (0, id), "v{v}");
        assert_eq!(answers(v, &r), vec![], "v{v}");

        // A record on partition 1, epoch 2 lists nothing: only partition 1 is answered.
        produce(&mut c, t.name, 1, "b1").await;
        let r: FetchResponse = c
            .call(ApiKey::Fetch, v, &session_fetch(id, 2, vec![], vec![]))
            .await;
        assert_eq!(
            answers(v, &r),
            vec![(tt.clone(), 1, 0, 2, vec![(1, "b1".into())])],
            "v{v}"
        );

        // Epoch 3: update partition 1's position, add partition 2, forget partition 0. The
        // added partition is answered (never answered before), the others are quiet.
        produce(&mut c, t.name, 2, "c0").await;
        let req = session_fetch(
            id,
            3,
            vec![fetch_topic(v, &t, &[(1, 2), (2, 0)])],
            vec![forgotten(v, &t, &[0])],
        );
        let r: FetchResponse = c.call(ApiKey::Fetch, v, &req).await;
        assert_eq!(
            answers(v, &r),
            vec![(tt.clone(), 2, 0, 1, vec![(0, "c0".into())])],
            "v{v}"
        );

        // A record on the forgotten partition 0 is not this session's business any more.
        produce(&mut c, t.name, 0, "a1").await;
        let req = session_fetch(id, 4, vec![fetch_topic(v, &t, &[(2, 1)])], vec![]);
        let r: FetchResponse = c.call(ApiKey::Fetch, v, &req).await;
        assert_eq!(answers(v, &r), vec![], "v{v}");

        // Refused: an epoch already used, one in the future, an unknown session id. None of
        // them moves the session on.
        for (sid, epoch, code) in [(id, 4, INVALID_EPOCH), (id, 9, INVALID_EPOCH)]
            .into_iter()
            .chain([(id ^ 0x55, 5, NOT_FOUND)])
        {
            let r: FetchResponse = c
                .call(ApiKey::Fetch, v, &session_fetch(sid, epoch, vec![], vec![]))
                .await;
            assert_eq!(
                (r.error_code, r.session_id, r.responses.len()),
                (code, 0, 0),
                "v{v}: session {sid} epoch {epoch}"
            );
        }
        let r: FetchResponse = c
            .call(ApiKey::Fetch, v, &session_fetch(id, 5, vec![], vec![]))
            .await;
        assert_eq!((r.error_code, answers(v, &r)), (0, vec![]), "v{v}");

        // Epoch -1 closes it: this fetch is sessionless (all its partitions, session id 0),
        // and the session is gone.
        let req = session_fetch(id, -1, vec![fetch_topic(v, &t, &[(0, 1)])], vec![]);
        let r: FetchResponse = c.call(ApiKey::Fetch, v, &req).await;
        assert_eq!(
            (r.error_code, r.session_id, answers(v, &r)),
            (0, 0, vec![(tt.clone(), 0, 0, 2, vec![(1, "a1".into())])]),
            "v{v}"
        );
        let r: FetchResponse = c
            .call(ApiKey::Fetch, v, &session_fetch(id, 6, vec![], vec![]))
            .await;
        assert_eq!(r.error_code, NOT_FOUND, "v{v}");
    }
    assert!(b.broker.fetch_sessions.is_empty());
}

/// v13+ sessions name topics by id: a session keeps the naming it started with
/// (FETCH_SESSION_TOPIC_ID_ERROR otherwise), an unknown id stays in the session answered with
/// UNKNOWN_TOPIC_ID, a deleted topic's partitions are answered with UNKNOWN_TOPIC_ID, and a
/// topic created again under the same name (a new id) is not the session's.
#[tokio::test]
async fn sessions_with_topic_ids() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let t = Topic {
        name: "ids",
        id: create_topic(&mut c, "ids", 1).await,
    };
    let ghost = Topic {
        name: "ghost",
        id: Uuid::from_u128(0xfeed),
    };
    produce(&mut c, t.name, 0, "x0").await;

    // A v12 session (names) used at v13, and a v13 session (ids) used at v12.
    let req = session_fetch(0, 0, vec![fetch_topic(12, &t, &[(0, 1)])], vec![]);
    let named: FetchResponse = c.call(ApiKey::Fetch, 12, &req).await;
    let r: FetchResponse = c
        .call(
            ApiKey::Fetch,
            13,
            &session_fetch(named.session_id, 1, vec![], vec![]),
        )
        .await;
    assert_eq!((r.error_code, r.session_id), (TOPIC_ID_ERROR, 0));
    let req = session_fetch(
        0,
        0,
        vec![
            fetch_topic(13, &t, &[(0, 1)]),
            fetch_topic(13, &ghost, &[(0, 0)]),
        ],
        vec![],
    );
    let r: FetchResponse = c.call(ApiKey::Fetch, 13, &req).await;
    let id = r.session_id;
    assert!(id > 0);
    assert_eq!(
        answers(13, &r),
        vec![
            (t.id.to_string(), 0, 0, 1, vec![]),
            (ghost.id.to_string(), 0, UNKNOWN_TOPIC_ID, -1, vec![]),
        ]
    );
    let r: FetchResponse = c
        .call(ApiKey::Fetch, 12, &session_fetch(id, 1, vec![], vec![]))
        .await;
    assert_eq!((r.error_code, r.session_id), (TOPIC_ID_ERROR, 0));

    // The unknown id is answered each time (an error always is); the known topic only when
    // it has news.
    let r: FetchResponse = c
        .call(ApiKey::Fetch, 13, &session_fetch(id, 1, vec![], vec![]))
        .await;
    assert_eq!(
        answers(13, &r),
        vec![(ghost.id.to_string(), 0, UNKNOWN_TOPIC_ID, -1, vec![])]
    );
    // Forgotten by id: gone from the answers.
    let req = session_fetch(id, 2, vec![], vec![forgotten(13, &ghost, &[0])]);
    let r: FetchResponse = c.call(ApiKey::Fetch, 13, &req).await;
    assert_eq!(answers(13, &r), vec![]);

    // The topic is deleted and created again: the session's partition (the old id) is
    // unknown, and a record in the new topic is not the session's.
    let req = DeleteTopicsRequest::default()
        .with_topics(vec![
            DeleteTopicState::default().with_name(Some(name("ids"))),
        ])
        .with_timeout_ms(5000);
    let r: DeleteTopicsResponse = c.call(ApiKey::DeleteTopics, 6, &req).await;
    assert_eq!(r.responses[0].error_code, 0);
    let new_id = create_topic(&mut c, "ids", 1).await;
    assert_ne!(new_id, t.id);
    produce(&mut c, t.name, 0, "y0").await;
    let r: FetchResponse = c
        .call(ApiKey::Fetch, 13, &session_fetch(id, 3, vec![], vec![]))
        .await;
    assert_eq!(
        answers(13, &r),
        vec![(t.id.to_string(), 0, UNKNOWN_TOPIC_ID, -1, vec![])]
    );
}

/// An incremental fetch that lists no partitions parks on every partition of its session and
/// is woken by an append to any of them.
#[tokio::test]
async fn an_incremental_fetch_waits_on_its_whole_session() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let t = Topic {
        name: "park",
        id: create_topic(&mut c, "park", 2).await,
    };
    let req = session_fetch(0, 0, vec![fetch_topic(12, &t, &[(0, 0), (1, 0)])], vec![]);
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &req).await;
    let id = r.session_id;
    assert!(id > 0);
    let addr = b.addr;
    let parked = tokio::spawn(async move {
        let mut c = Client::connect(addr).await;
        let req = session_fetch(id, 1, vec![], vec![]).with_max_wait_ms(60_000);
        let r: FetchResponse = c.call(ApiKey::Fetch, 12, &req).await;
        r
    });
    let p1 = b.broker.topics.get("park").unwrap().partition(1).unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while p1.waiting_fetches() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the incremental fetch never parked on partition 1");
    produce(&mut c, "park", 1, "woke").await;
    let r = tokio::time::timeout(Duration::from_secs(20), parked)
        .await
        .expect("the parked incremental fetch was not woken")
        .unwrap();
    assert_eq!(
        answers(12, &r),
        vec![("park".into(), 1, 0, 1, vec![(0, "woke".into())])]
    );
}

/// A session whose partitions fill the fetch's max_bytes goes round them: a partition that
/// returned records moves to the back, so the next fetch starts with the others.
#[tokio::test]
async fn incremental_fetches_take_turns_when_max_bytes_is_short() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let t = Topic {
        name: "turns",
        id: create_topic(&mut c, "turns", 3).await,
    };
    for p in 0..3 {
        for i in 0..2 {
            produce(&mut c, t.name, p, &format!("p{p}-{i}")).await;
        }
    }
    // max_bytes 1: each fetch returns one batch (the first of the first partition with data).
    let mut req = session_fetch(
        0,
        0,
        vec![fetch_topic(12, &t, &[(0, 0), (1, 0), (2, 0)])],
        vec![],
    )
    .with_max_bytes(1);
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &req).await;
    let id = r.session_id;
    let mut got: Vec<(i32, i64)> = Vec::new();
    let mut offsets = [0i64; 3];
    let mut take = |r: &FetchResponse, got: &mut Vec<(i32, i64)>| {
        for (_, p, err, _, values) in answers(12, r) {
            assert_eq!(err, 0);
            for (offset, _) in values {
                got.push((p, offset));
                offsets[p as usize] = offset + 1;
            }
        }
        offsets
    };
    let mut now = take(&r, &mut got);
    for epoch in 1..=5 {
        let changed: Vec<(i32, i64)> = (0..3).map(|p| (p, now[p as usize])).collect();
        req =
            session_fetch(id, epoch, vec![fetch_topic(12, &t, &changed)], vec![]).with_max_bytes(1);
        let r: FetchResponse = c.call(ApiKey::Fetch, 12, &req).await;
        now = take(&r, &mut got);
    }
    // The full fetch keeps the request's order (Kafka's too), so partition 0 also leads the
    // first incremental fetch; from then on the partitions take turns.
    assert_eq!(
        got,
        vec![(0, 0), (0, 1), (1, 0), (2, 0), (1, 1), (2, 1)],
        "one batch a fetch, each partition in turn"
    );
}

/// Slots are short: a full fetch finds no room while the other session is in use and young
/// (session id 0), takes its slot once it has been unused for the eviction time on the broker's
/// clock, and the evicted fetcher is told FETCH_SESSION_ID_NOT_FOUND.
#[tokio::test]
async fn a_stale_session_is_evicted_on_the_brokers_clock() {
    let clock = ManualClock::new(1_700_000_000_000);
    let b = start_with_clock(
        &[
            "max.incremental.fetch.session.cache.slots=1",
            "min.incremental.fetch.session.eviction.ms=60000",
        ],
        clock.clone(),
    )
    .await;
    let mut c = Client::connect(b.addr).await;
    let t = Topic {
        name: "evict",
        id: create_topic(&mut c, "evict", 4).await,
    };
    let full = |parts: &[(i32, i64)]| session_fetch(0, 0, vec![fetch_topic(12, &t, parts)], vec![]);
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &full(&[(0, 0)])).await;
    let first = r.session_id;
    assert!(first > 0);
    // The second (bigger) fetcher finds no room: the first session is young and in use.
    clock.advance(30_000);
    let bigger = full(&[(1, 0), (2, 0), (3, 0)]);
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &bigger).await;
    assert_eq!(
        (r.error_code, r.session_id, answers(12, &r).len()),
        (0, 0, 3)
    );
    let r: FetchResponse = c
        .call(ApiKey::Fetch, 12, &session_fetch(first, 1, vec![], vec![]))
        .await;
    assert_eq!(r.error_code, 0);
    // Unused for just the eviction time: still there.
    clock.advance(60_000);
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &bigger).await;
    assert_eq!(r.session_id, 0);
    // One more millisecond: stale, evicted for the new session.
    clock.advance(1);
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &bigger).await;
    let second = r.session_id;
    assert!(second > 0);
    let r: FetchResponse = c
        .call(ApiKey::Fetch, 12, &session_fetch(first, 2, vec![], vec![]))
        .await;
    assert_eq!((r.error_code, r.session_id), (NOT_FOUND, 0));
    // The evicted fetcher starts over with a full fetch: the smaller session cannot take the
    // slot back, so it is served without one.
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &full(&[(0, 0)])).await;
    assert_eq!((r.error_code, r.session_id), (0, 0));
    assert_eq!(b.broker.fetch_sessions.len(), 1);
}
