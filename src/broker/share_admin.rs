//! Share-group admin in a cluster (design share-groups.md §14.1 step 6): what the group
//! coordinator asks the share coordinators for DescribeShareGroupOffsets,
//! AlterShareGroupOffsets, DeleteShareGroupOffsets and DeleteGroups of a share group. A cluster
//! node's own share manager knows only the share-partitions it leads, so the answers come
//! from where the state lives: ReadShareGroupStateSummary v1 (start offset, state epoch,
//! delivery-complete count) batched per coordinator node, InitializeShareGroupState (an Alter
//! under the next state epoch: the leader holding the old one is fenced at its next write and
//! reloads) and DeleteShareGroupState, and the partitions' high watermarks for the lag
//! (ListOffsets latest to a leader elsewhere).
//!
//! **Owns:** these calls and their retries while a coordinator moves or loads (the helpers
//! and [`DEADLINE`] of `share_state.rs`).
//!
//! **Must never:** run on a single broker (its admin APIs read and change the local share
//! manager, as before), or decide an API's answer: the handlers in `api/` do.

use std::collections::BTreeMap;
use std::time::Instant;

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, InitializeShareGroupStateRequest, InitializeShareGroupStateResponse,
    ListOffsetsRequest, ListOffsetsResponse, ReadShareGroupStateSummaryRequest,
    ReadShareGroupStateSummaryResponse, TopicName, initialize_share_group_state_request,
    read_share_group_state_summary_request,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::share_state::{BACKOFF, DEADLINE, RPC_TIMEOUT, transient};
use super::{Broker, TopicRef};
use crate::error::Code;
use crate::share::coordinator::StateSummary;
use crate::share::records::StateKey;

/// A share-partition of one group: (topic id, partition).
pub type ShareKey = (Uuid, i32);

/// ListOffsets version asked of a leader (v7: topic names, no tagged fields needed).
const LIST_OFFSETS_VERSION: i16 = 7;
/// ReadShareGroupStateSummary v1 carries the delivery-complete count (the lag needs it).
const SUMMARY_VERSION: i16 = 1;

fn state_key(group: &str, (topic_id, partition): ShareKey) -> StateKey {
    StateKey {
        group: group.to_string(),
        topic_id,
        partition,
    }
}

/// A key without state, as the coordinator answers it.
fn no_state() -> StateSummary {
    StateSummary {
        start_offset: -1,
        state_epoch: 0,
        leader_epoch: 0,
        delivery_complete_count: -1,
    }
}

impl Broker {
    /// The summaries of `keys` of `group` at their share coordinators: one
    /// ReadShareGroupStateSummary per coordinator node, keys a moving or loading coordinator
    /// answers asked again until [`DEADLINE`] (then COORDINATOR_NOT_AVAILABLE for them). A key
    /// without state answers start offset -1.
    pub async fn share_state_summaries(
        &self,
        group: &str,
        keys: &[ShareKey],
    ) -> BTreeMap<ShareKey, Result<StateSummary, Code>> {
        use read_share_group_state_summary_request::{PartitionData, ReadStateSummaryData};
        let deadline = Instant::now() + DEADLINE;
        let mut out = BTreeMap::new();
        let mut pending: Vec<ShareKey> = keys.to_vec();
        loop {
            let mut again: Vec<(ShareKey, Code)> = Vec::new();
            let mut by_node: BTreeMap<i32, Vec<ShareKey>> = BTreeMap::new();
            for &k in &pending {
                match self.share_state_node(&state_key(group, k), false).await {
                    Ok(None) => {
                        out.insert(k, Ok(no_state()));
                    }
                    Ok(Some(node)) => by_node.entry(node).or_default().push(k),
                    Err(_) => again.push((k, E::CoordinatorNotAvailable.code())),
                }
            }
            let asks = by_node.into_iter().map(|(node, keys)| async move {
                let Some(peer) = self.share_peer(node) else {
                    return (keys, Err(E::CoordinatorNotAvailable.code()));
                };
                let mut topics: BTreeMap<Uuid, Vec<PartitionData>> = BTreeMap::new();
                for &(id, partition) in &keys {
                    topics
                        .entry(id)
                        .or_default()
                        .push(PartitionData::default().with_partition(partition));
                }
                let req = ReadShareGroupStateSummaryRequest::default()
                    .with_group_id(StrBytes::from_string(group.to_string()))
                    .with_topics(
                        topics
                            .into_iter()
                            .map(|(id, partitions)| {
                                ReadStateSummaryData::default()
                                    .with_topic_id(id)
                                    .with_partitions(partitions)
                            })
                            .collect(),
                    );
                let resp: Result<ReadShareGroupStateSummaryResponse, _> = peer
                    .call(
                        ApiKey::ReadShareGroupStateSummary,
                        SUMMARY_VERSION,
                        &req,
                        RPC_TIMEOUT,
                    )
                    .await;
                (keys, resp.map_err(|_| E::RequestTimedOut.code()))
            });
            for (keys, resp) in futures::future::join_all(asks).await {
                let resp = match resp {
                    Ok(r) => r,
                    Err(code) => {
                        again.extend(keys.into_iter().map(|k| (k, code)));
                        continue;
                    }
                };
                let mut answered: BTreeMap<ShareKey, (i16, StateSummary)> = BTreeMap::new();
                for t in &resp.results {
                    for p in &t.partitions {
                        let summary = StateSummary {
                            start_offset: p.start_offset,
                            state_epoch: p.state_epoch,
                            leader_epoch: p.leader_epoch,
                            delivery_complete_count: p.delivery_complete_count,
                        };
                        answered.insert((t.topic_id, p.partition), (p.error_code, summary));
                    }
                }
                for k in keys {
                    match answered.remove(&k) {
                        Some((0, s)) => {
                            out.insert(k, Ok(s));
                        }
                        Some((code, _)) if transient(code) => again.push((k, code)),
                        Some((code, _)) => {
                            out.insert(k, Err(code));
                        }
                        None => {
                            out.insert(k, Err(E::UnknownServerError.code()));
                        }
                    }
                }
            }
            if again.is_empty() {
                return out;
            }
            if Instant::now() + BACKOFF >= deadline {
                tracing::warn!(
                    group,
                    keys = again.len(),
                    "share coordinators did not answer summaries"
                );
                for (k, code) in again {
                    out.insert(k, Err(code));
                }
                return out;
            }
            tokio::time::sleep(BACKOFF).await;
            pending = again.into_iter().map(|(k, _)| k).collect();
        }
    }

    /// The high watermark of each of `keys` (what ListOffsets latest answers): the local
    /// partition's when it is led here, else its leader's answer to ListOffsets (one request
    /// per leader). -1 when unknown (no leader, no answer, an error).
    pub async fn share_high_watermarks(
        &self,
        keys: &[(ShareKey, String)],
    ) -> BTreeMap<ShareKey, i64> {
        let mut out = BTreeMap::new();
        let mut by_leader: BTreeMap<i32, Vec<(ShareKey, String)>> = BTreeMap::new();
        for ((id, index), name) in keys {
            let k = (*id, *index);
            if let Ok(p) = self.leader_partition(TopicRef::Id(*id), *index) {
                out.insert(k, p.offsets().high_watermark);
                continue;
            }
            out.insert(k, -1);
            if let Some(leader) = self.partition_leader(name, *index).filter(|&l| l >= 0)
                && leader != self.node_id
            {
                by_leader.entry(leader).or_default().push((k, name.clone()));
            }
        }
        let asks = by_leader.into_iter().map(|(leader, keys)| async move {
            let peer = self.share_peer(leader)?;
            let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
            for ((_, index), name) in &keys {
                topics.entry(name.as_str()).or_default().push(
                    ListOffsetsPartition::default()
                        .with_partition_index(*index)
                        .with_current_leader_epoch(-1)
                        .with_timestamp(-1),
                );
            }
            let req = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_isolation_level(0)
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(name, partitions)| {
                            ListOffsetsTopic::default()
                                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                                .with_partitions(partitions)
                        })
                        .collect(),
                );
            let resp: ListOffsetsResponse = peer
                .call(ApiKey::ListOffsets, LIST_OFFSETS_VERSION, &req, RPC_TIMEOUT)
                .await
                .ok()?;
            let found: Vec<(ShareKey, i64)> = keys
                .iter()
                .filter_map(|((id, index), name)| {
                    let p = resp
                        .topics
                        .iter()
                        .filter(|t| t.name.as_str() == name)
                        .flat_map(|t| &t.partitions)
                        .find(|p| p.partition_index == *index)?;
                    (p.error_code == 0).then_some(((*id, *index), p.offset))
                })
                .collect();
            Some(found)
        });
        for found in futures::future::join_all(asks).await.into_iter().flatten() {
            out.extend(found);
        }
        out
    }

    /// AlterShareGroupOffsets in a cluster: the share-partition's state at its coordinator is
    /// initialized again at `start_offset` under the next state epoch (its summary gives the
    /// current one), so the leader's copy is fenced at its next write.
    pub async fn initialize_share_start_offset(
        &self,
        group: &str,
        key: ShareKey,
        start_offset: i64,
    ) -> Result<(), Code> {
        use initialize_share_group_state_request::{InitializeStateData, PartitionData};
        let current = self
            .share_state_summaries(group, &[key])
            .await
            .remove(&key)
            .unwrap_or(Err(E::UnknownServerError.code()))?;
        let req = InitializeShareGroupStateRequest::default()
            .with_group_id(StrBytes::from_string(group.to_string()))
            .with_topics(vec![
                InitializeStateData::default()
                    .with_topic_id(key.0)
                    .with_partitions(vec![
                        PartitionData::default()
                            .with_partition(key.1)
                            .with_state_epoch(current.state_epoch.saturating_add(1))
                            .with_start_offset(start_offset.max(0)),
                    ]),
            ]);
        let skey = state_key(group, key);
        let deadline = Instant::now() + DEADLINE;
        loop {
            let code = match self.share_state_node(&skey, true).await {
                Ok(Some(node)) => match self.share_peer(node) {
                    Some(peer) => {
                        let resp: Result<InitializeShareGroupStateResponse, _> = peer
                            .call(ApiKey::InitializeShareGroupState, 0, &req, RPC_TIMEOUT)
                            .await;
                        match resp {
                            Ok(r) => r
                                .results
                                .first()
                                .and_then(|t| t.partitions.first())
                                .map_or(E::UnknownServerError.code(), |p| p.error_code),
                            Err(_) => E::RequestTimedOut.code(),
                        }
                    }
                    None => E::CoordinatorNotAvailable.code(),
                },
                Ok(None) | Err(_) => E::CoordinatorNotAvailable.code(),
            };
            if code == 0 {
                return Ok(());
            }
            if !transient(code) || Instant::now() + BACKOFF >= deadline {
                tracing::warn!(group, "share start offset not initialized: error {code}");
                return Err(code);
            }
            tokio::time::sleep(BACKOFF).await;
        }
    }

    /// DeleteShareGroupOffsets / DeleteGroups in a cluster: every share-partition of `group`
    /// (of topic `topic` with `Some`) that has state at its coordinator is deleted there, after
    /// the share-partitions led here leave memory (with their tombstones). The first failure's
    /// code when one cannot be.
    pub async fn delete_cluster_share_state(
        &self,
        group: &str,
        topic: Option<Uuid>,
    ) -> Result<(), Code> {
        self.shares
            .delete_state(group, topic, &*self.share_persister(), self.now_ms())
            .await
            .map_err(|e| {
                tracing::warn!(group, "share state not deleted: {e}");
                E::CoordinatorNotAvailable.code()
            })?;
        let keys: Vec<ShareKey> = self
            .topic_views()
            .iter()
            .filter(|v| !v.internal && topic.is_none_or(|t| t == v.id))
            .flat_map(|v| (0..v.partitions.len() as i32).map(move |i| (v.id, i)))
            .collect();
        let mut with_state = Vec::new();
        for (k, summary) in self.share_state_summaries(group, &keys).await {
            match summary {
                Ok(s) if s.start_offset < 0 => {}
                Ok(_) => with_state.push(k),
                Err(code) => return Err(code),
            }
        }
        let deletes = with_state
            .iter()
            .map(|&k| async move { self.delete_share_state_of(&state_key(group, k)).await });
        for r in futures::future::join_all(deletes).await {
            if let Err(e) = r {
                tracing::warn!(group, "share state not deleted: {e}");
                return Err(E::CoordinatorNotAvailable.code());
            }
        }
        Ok(())
    }
}
