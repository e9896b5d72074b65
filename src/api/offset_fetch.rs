//! OffsetFetch (key 9), v1–v9: one group (v1–v7; null topics = all from v2)
//! or several groups per request (v8+). A partition without a committed offset
//! answers offset -1.

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use kafka_protocol::ResponseError as E;

use super::context::{RequestContext, str_bytes};
use crate::group::CommittedOffset;
use crate::security::acl::AclOperation;

type Fetched = Vec<(String, i32, Option<CommittedOffset>)>;
type TopicOffsets = (String, Vec<(i32, Option<CommittedOffset>)>);
/// A topic's offsets, or the partitions asked of a topic the client may not Describe.
type Checked = (
    String,
    Result<Vec<(i32, Option<CommittedOffset>)>, Vec<i32>>,
);

/// Kafka's topic check: with all topics asked, the ones the client may not Describe are left
/// out; named ones come back with TOPIC_AUTHORIZATION_FAILED (`Err`).
fn authorized(ctx: &RequestContext, all: bool, topics: Vec<TopicOffsets>) -> Vec<Checked> {
    topics
        .into_iter()
        .filter_map(|(name, parts)| {
            if ctx.authorize_topic(AclOperation::Describe, &name) {
                Some((name, Ok(parts)))
            } else if all {
                None
            } else {
                let ids = parts.into_iter().map(|(p, _)| p).collect();
                Some((name, Err(ids)))
            }
        })
        .collect()
}

/// Group the flat (topic, partition, offset) list by topic, keeping request order.
fn by_topic(rows: Fetched) -> Vec<TopicOffsets> {
    let mut out: Vec<TopicOffsets> = Vec::new();
    for (t, p, o) in rows {
        match out.iter_mut().find(|(name, _)| *name == t) {
            Some((_, v)) => v.push((p, o)),
            None => out.push((t, vec![(p, o)])),
        }
    }
    out
}

fn values(o: Option<CommittedOffset>) -> (i64, i32, String) {
    match o {
        Some(o) => (o.offset, o.leader_epoch, o.metadata),
        None => (-1, -1, String::new()),
    }
}

/// KIP-447 require_stable: a partition with offsets of an open transaction
/// answers UNSTABLE_OFFSET_COMMIT (the client retries until the transaction ends).
fn stability(
    ctx: &RequestContext,
    require_stable: bool,
    group: &str,
    topic: &str,
    partition: i32,
) -> i16 {
    if require_stable
        && ctx
            .broker
            .groups
            .has_pending_offsets(group, topic, partition)
    {
        kafka_protocol::ResponseError::UnstableOffsetCommit.code()
    } else {
        0
    }
}

pub fn handle(ctx: &RequestContext, req: OffsetFetchRequest) -> OffsetFetchResponse {
    let groups = &ctx.broker.groups;
    let require_stable = ctx.version >= 7 && req.require_stable;
    if ctx.version >= 8 {
        let results = req
            .groups
            .iter()
            .map(|g| {
                let wanted = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.as_str().to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                if !ctx.authorize_group(AclOperation::Describe, g.group_id.as_str()) {
                    return OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_error_code(E::GroupAuthorizationFailed.code());
                }
                if let Err(code) = ctx.broker.check_group_coordinator(g.group_id.as_str()) {
                    return OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_error_code(code);
                }
                let all = wanted.is_none();
                let fetched = by_topic(groups.fetch_offsets(g.group_id.as_str(), wanted));
                let topics = authorized(ctx, all, fetched)
                    .into_iter()
                    .map(|(name, parts)| {
                        let parts = match parts {
                            Ok(parts) => parts,
                            Err(ids) => {
                                return OffsetFetchResponseTopics::default()
                                    .with_name(TopicName(str_bytes(name)))
                                    .with_partitions(
                                        ids.into_iter()
                                            .map(|p| {
                                                OffsetFetchResponsePartitions::default()
                                                    .with_partition_index(p)
                                                    .with_committed_offset(-1)
                                                    .with_committed_leader_epoch(-1)
                                                    .with_metadata(Some(str_bytes("")))
                                                    .with_error_code(
                                                        E::TopicAuthorizationFailed.code(),
                                                    )
                                            })
                                            .collect(),
                                    );
                            }
                        };
                        OffsetFetchResponseTopics::default()
                            .with_name(TopicName(str_bytes(name.clone())))
                            .with_partitions(
                                parts
                                    .into_iter()
                                    .map(|(p, o)| {
                                        let (offset, epoch, meta) = values(o);
                                        OffsetFetchResponsePartitions::default()
                                            .with_partition_index(p)
                                            .with_committed_offset(offset)
                                            .with_committed_leader_epoch(epoch)
                                            .with_metadata(Some(str_bytes(meta)))
                                            .with_error_code(stability(
                                                ctx,
                                                require_stable,
                                                g.group_id.as_str(),
                                                &name,
                                                p,
                                            ))
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id.clone())
                    .with_topics(topics)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(results);
    }
    let wanted: Option<Vec<(String, Vec<i32>)>> = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.as_str().to_string(), t.partition_indexes.clone()))
            .collect()
    });
    if !ctx.authorize_group(AclOperation::Describe, req.group_id.as_str()) {
        // v2+ says so at the top; v0–v1 in each partition asked.
        let code = E::GroupAuthorizationFailed.code();
        let topics = wanted
            .unwrap_or_default()
            .into_iter()
            .map(|(name, parts)| {
                OffsetFetchResponseTopic::default()
                    .with_name(TopicName(str_bytes(name)))
                    .with_partitions(
                        parts
                            .into_iter()
                            .map(|p| {
                                OffsetFetchResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(-1)
                                    .with_metadata(Some(str_bytes("")))
                                    .with_error_code(code)
                            })
                            .collect(),
                    )
            })
            .collect();
        let resp = OffsetFetchResponse::default().with_topics(topics);
        return if ctx.version >= 2 {
            resp.with_error_code(code)
        } else {
            resp
        };
    }
    if let Err(code) = ctx.broker.check_group_coordinator(req.group_id.as_str()) {
        // v2+ says so at the top; v0-v1 have only the partitions' codes (none asked: none).
        return OffsetFetchResponse::default().with_error_code(code);
    }
    let all = wanted.is_none();
    let fetched = by_topic(groups.fetch_offsets(req.group_id.as_str(), wanted));
    let topics = authorized(ctx, all, fetched)
        .into_iter()
        .map(|(name, parts)| {
            let parts = match parts {
                Ok(parts) => parts,
                Err(ids) => {
                    return OffsetFetchResponseTopic::default()
                        .with_name(TopicName(str_bytes(name)))
                        .with_partitions(
                            ids.into_iter()
                                .map(|p| {
                                    OffsetFetchResponsePartition::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(-1)
                                        .with_metadata(Some(str_bytes("")))
                                        .with_error_code(E::TopicAuthorizationFailed.code())
                                })
                                .collect(),
                        );
                }
            };
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(str_bytes(name.clone())))
                .with_partitions(
                    parts
                        .into_iter()
                        .map(|(p, o)| {
                            let (offset, epoch, meta) = values(o);
                            let mut r = OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(offset)
                                .with_metadata(Some(str_bytes(meta)))
                                .with_error_code(stability(
                                    ctx,
                                    require_stable,
                                    req.group_id.as_str(),
                                    &name,
                                    p,
                                ));
                            if ctx.version >= 5 {
                                r.committed_leader_epoch = epoch;
                            }
                            r
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}
