//! Replica administration for the API handlers, one way alone or in a cluster: leader elections
//! on request (ElectLeaders), which the active controller decides in a cluster and a single
//! broker never needs (it leads every partition, as their only and preferred replica), and the
//! replicas this broker keeps in its log dir with their sizes and the volume's space
//! (DescribeLogDirs).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use kafka_protocol::ResponseError as E;
use uuid::Uuid;

use super::Broker;
use super::view::unexpected;
use crate::cluster::controller::{ApiError, ControllerReply, ControllerRequest, Election};

/// One topic's ElectLeaders results: its name and (partition, outcome) per partition.
pub type TopicElections = (String, Vec<(i32, Result<(), ApiError>)>);

/// This broker's log dir as DescribeLogDirs describes it.
pub struct LogDirUsage {
    /// Absolute, as Kafka's `Path.toAbsolutePath` gives it (symlinks kept).
    pub path: PathBuf,
    /// The volume's size and the bytes this process may still use; None when unknown.
    pub total_bytes: Option<u64>,
    pub usable_bytes: Option<u64>,
}

impl Broker {
    /// ElectLeaders as Kafka's controller answers it. Partitions named: one result each, in the
    /// request's order; a topic or partition the cluster does not know is
    /// UNKNOWN_TOPIC_OR_PARTITION. `topics` None: every partition is tried, and every topic is
    /// listed with the results of the partitions whose election was needed (the ones already
    /// led as asked are left out). Err: the request failed as a whole (an unknown election
    /// type, no controller answer within `timeout`).
    pub async fn elect_leaders(
        &self,
        election_type: i8,
        topics: Option<Vec<(String, Vec<i32>)>>,
        timeout: Duration,
    ) -> Result<Vec<TopicElections>, ApiError> {
        if Election::from_type(election_type).is_none() {
            return Err(ApiError::new(
                E::InvalidRequest,
                format!("Unknown election type {election_type}"),
            ));
        }
        let Some(cluster) = &self.cluster else {
            // Every partition has a leader, its preferred replica: no election is ever needed.
            return Ok(match topics {
                None => self
                    .topic_views()
                    .into_iter()
                    .map(|t| (t.name, vec![]))
                    .collect(),
                Some(topics) => topics
                    .into_iter()
                    .map(|(name, parts)| {
                        let count = self.topic_shape(&name).map(|(_, n)| n);
                        let results = parts
                            .into_iter()
                            .map(|p| match count {
                                None => (p, Err(no_topic(&name))),
                                Some(n) if p < 0 || p >= n => (p, Err(no_partition(&name, p))),
                                Some(_) => (p, Err(not_needed())),
                            })
                            .collect();
                        (name, results)
                    })
                    .collect(),
            });
        };
        // Names resolve against this node's image; what it does not know is answered here, the
        // rest by the controller (slots: where each of its answers goes).
        let mut out: Vec<TopicElections> = Vec::new();
        let mut asked: Vec<(Uuid, i32)> = Vec::new();
        let mut slots: Vec<(usize, usize)> = Vec::new();
        if let Some(topics) = &topics {
            let image = cluster.image();
            for (name, parts) in topics {
                let topic = image.topics.get(name);
                let mut results = Vec::with_capacity(parts.len());
                for &p in parts {
                    let result = match topic {
                        None => Err(no_topic(name)),
                        Some(t) if usize::try_from(p).map_or(true, |i| i >= t.partitions.len()) => {
                            Err(no_partition(name, p))
                        }
                        Some(t) => {
                            asked.push((t.id, p));
                            slots.push((out.len(), results.len()));
                            Ok(())
                        }
                    };
                    results.push((p, result));
                }
                out.push((name.clone(), results));
            }
            if asked.is_empty() {
                return Ok(out);
            }
        }
        let req = ControllerRequest::ElectLeaders {
            election_type,
            partitions: topics.is_some().then_some(asked),
        };
        let results = match cluster.request(req, timeout).await? {
            ControllerReply::LeadersElected(r) => r,
            ControllerReply::Error(e) => return Err(e),
            other => return Err(unexpected(other)),
        };
        if topics.is_some() {
            if results.len() != slots.len() {
                return Err(ApiError::new(
                    E::UnknownServerError,
                    format!(
                        "the controller answered {} of {} elections",
                        results.len(),
                        slots.len()
                    ),
                ));
            }
            for ((t, i), (_, _, result)) in slots.into_iter().zip(results) {
                out[t].1[i].1 = result;
            }
            return Ok(out);
        }
        // Every topic, by name, each with the results the controller gave for it (a topic
        // deleted since it answered is left out).
        let image = cluster.image();
        let mut all: Vec<TopicElections> = Vec::with_capacity(image.topics.len());
        let mut index: HashMap<Uuid, usize> = HashMap::with_capacity(image.topics.len());
        for t in image.topics.values() {
            index.insert(t.id, all.len());
            all.push((t.name.clone(), vec![]));
        }
        for (id, p, result) in results {
            if let Some(&i) = index.get(&id) {
                all[i].1.push((p, result));
            }
        }
        Ok(all)
    }

    /// The replicas kept in this broker's log dir that `wanted` (topic, partition) selects, by
    /// topic, each partition with its size on disk: every partition on a single broker, the
    /// ones assigned here in a cluster (led or followed). Topics with none selected are left out.
    pub fn hosted_replicas(
        &self,
        wanted: impl Fn(&str, i32) -> bool,
    ) -> Vec<(String, Vec<(i32, u64)>)> {
        self.topics
            .list()
            .iter()
            .map(|t| {
                let parts = t
                    .local_partitions()
                    .iter()
                    .filter(|p| wanted(&t.name, p.index))
                    .map(|p| (p.index, p.size_bytes()))
                    .collect::<Vec<_>>();
                (t.name.clone(), parts)
            })
            .filter(|(_, parts)| !parts.is_empty())
            .collect()
    }

    /// The log dir's absolute path and its volume's total and usable bytes (statvfs: blocks and
    /// blocks available to unprivileged users, as Java's `FileStore` reports them).
    pub fn log_dir_usage(&self) -> LogDirUsage {
        let dir = &self.config.log_dir;
        let path = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        let (total_bytes, usable_bytes) = match rustix::fs::statvfs(&path) {
            Ok(v) => (
                v.f_blocks.checked_mul(v.f_frsize),
                v.f_bavail.checked_mul(v.f_frsize),
            ),
            Err(e) => {
                tracing::warn!(dir = %path.display(), "cannot read the log dir's volume size: {e}");
                (None, None)
            }
        };
        LogDirUsage {
            path,
            total_bytes,
            usable_bytes,
        }
    }
}

fn no_topic(name: &str) -> ApiError {
    ApiError::new(
        E::UnknownTopicOrPartition,
        format!("No such topic as {name}"),
    )
}

fn no_partition(name: &str, partition: i32) -> ApiError {
    ApiError::new(
        E::UnknownTopicOrPartition,
        format!("No such partition as {name}-{partition}"),
    )
}

fn not_needed() -> ApiError {
    ApiError::new(
        E::ElectionNotNeeded,
        "Leader election not needed for topic partition.",
    )
}
