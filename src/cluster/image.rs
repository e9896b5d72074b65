//! The metadata image: the cluster as the committed metadata log describes it (brokers, topics,
//! partition leaders and epochs, producer id blocks). Every node replays the same records into
//! its own image, in log order, so every node's image at a given log index is the same.
//!
//! **Owns:** applying a [`MetaRecord`] (deterministic, no clock, no I/O) and the queries the
//! controller and the API handlers make of the result.
//!
//! **Must never:** decide anything (placement, elections: that is the controller's work, written
//! down as records) or do I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::records::{Endpoint, MetaRecord, MetaResponse, PartitionChange, PartitionState};
use crate::security::acl::AclBinding;
use crate::security::acl::credentials::{self, ScramCredentials};

/// The topic config (and broker default of the same name) that allows unclean elections.
pub const UNCLEAN_LEADER_ELECTION: &str = "unclean.leader.election.enable";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerState {
    pub node_id: i32,
    pub incarnation: Uuid,
    /// The log index of its registration (Kafka's broker epoch).
    pub epoch: i64,
    pub endpoints: Vec<Endpoint>,
    pub rack: Option<String>,
    pub fenced: bool,
}

impl BrokerState {
    pub fn endpoint(&self, listener: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.listener == listener)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub configs: BTreeMap<String, String>,
    pub partitions: Vec<PartitionState>,
}

impl TopicImage {
    pub fn is_internal(&self) -> bool {
        self.name.starts_with("__")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub brokers: BTreeMap<i32, BrokerState>,
    pub topics: BTreeMap<String, TopicImage>,
    #[serde(skip)]
    ids: HashMap<Uuid, String>,
    /// The first producer id not yet handed out.
    pub next_producer_id: i64,
    /// Dynamic broker config layers: the cluster-wide default, and each broker's own.
    #[serde(default)]
    pub default_broker_configs: BTreeMap<String, String>,
    #[serde(default)]
    pub broker_configs: BTreeMap<i32, BTreeMap<String, String>>,
    /// The ACLs (CreateAcls, DeleteAcls).
    #[serde(default)]
    pub acls: BTreeSet<AclBinding>,
    /// SCRAM credentials by user and mechanism (AlterUserScramCredentials).
    #[serde(default)]
    pub scram_credentials: ScramCredentials,
    /// Group configs by group id (IncrementalAlterConfigs on a GROUP resource).
    #[serde(default)]
    pub group_configs: BTreeMap<String, BTreeMap<String, String>>,
}

impl Image {
    /// Rebuild the derived indexes after deserializing a snapshot.
    pub fn reindex(&mut self) {
        self.ids = self
            .topics
            .values()
            .map(|t| (t.id, t.name.clone()))
            .collect();
    }

    pub fn topic_by_id(&self, id: Uuid) -> Option<&TopicImage> {
        self.topics.get(self.ids.get(&id)?)
    }

    /// Registered brokers that are not fenced, by id.
    pub fn live_brokers(&self) -> impl Iterator<Item = &BrokerState> {
        self.brokers.values().filter(|b| !b.fenced)
    }

    pub fn is_live(&self, node_id: i32) -> bool {
        self.brokers.get(&node_id).is_some_and(|b| !b.fenced)
    }

    /// A partition by topic id and index, with its topic.
    pub fn partition(
        &self,
        topic_id: Uuid,
        partition: i32,
    ) -> Option<(&TopicImage, &PartitionState)> {
        let topic = self.topic_by_id(topic_id)?;
        let p = topic.partitions.get(usize::try_from(partition).ok()?)?;
        Some((topic, p))
    }

    /// Whether a partition of `topic` that lost every in-sync replica may be led by a replica
    /// that was not in sync (`unclean.leader.election.enable`): the topic's override, else the
    /// cluster-wide dynamic broker default, else false (Kafka's default).
    pub fn unclean_election_enabled(&self, topic: &TopicImage) -> bool {
        topic
            .configs
            .get(UNCLEAN_LEADER_ELECTION)
            .or_else(|| self.default_broker_configs.get(UNCLEAN_LEADER_ELECTION))
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// Apply one committed record at log index `index`.
    pub fn apply(&mut self, index: u64, record: &MetaRecord) -> MetaResponse {
        let rejected = |why: String| MetaResponse::Rejected(why);
        match record {
            MetaRecord::RegisterBroker {
                node_id,
                incarnation,
                endpoints,
                rack,
            } => {
                self.brokers.insert(
                    *node_id,
                    BrokerState {
                        node_id: *node_id,
                        incarnation: *incarnation,
                        epoch: index as i64,
                        endpoints: endpoints.clone(),
                        rack: rack.clone(),
                        fenced: false,
                    },
                );
            }
            MetaRecord::BrokerFenced {
                node_id,
                fenced,
                changes,
            } => {
                let Some(b) = self.brokers.get_mut(node_id) else {
                    return rejected(format!("broker {node_id} is not registered"));
                };
                b.fenced = *fenced;
                self.apply_changes(changes);
            }
            MetaRecord::Topic {
                name,
                id,
                configs,
                partitions,
            } => {
                if self.topics.contains_key(name) {
                    return rejected(format!("Topic '{name}' already exists."));
                }
                if self.ids.contains_key(id) {
                    return rejected(format!("topic id {id} is taken"));
                }
                self.ids.insert(*id, name.clone());
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        name: name.clone(),
                        id: *id,
                        configs: configs.clone(),
                        partitions: partitions.clone(),
                    },
                );
            }
            MetaRecord::AddPartitions {
                topic_id,
                partitions,
            } => {
                let Some(name) = self.ids.get(topic_id) else {
                    return rejected(format!("topic id {topic_id} does not exist"));
                };
                let topic = self.topics.get_mut(name).expect("indexed");
                let next = topic.partitions.len() as i32;
                if partitions.first().map(|p| p.partition) != Some(next) {
                    return rejected(format!(
                        "topic {} has {next} partitions; the new ones must start there",
                        topic.name
                    ));
                }
                topic.partitions.extend(partitions.iter().cloned());
            }
            MetaRecord::RemoveTopic { id } => {
                let Some(name) = self.ids.remove(id) else {
                    return rejected(format!("topic id {id} does not exist"));
                };
                self.topics.remove(&name);
            }
            MetaRecord::TopicConfigs { id, configs } => {
                let Some(name) = self.ids.get(id) else {
                    return rejected(format!("topic id {id} does not exist"));
                };
                self.topics.get_mut(name).expect("indexed").configs = configs.clone();
            }
            MetaRecord::PartitionChanges(changes) => self.apply_changes(changes),
            MetaRecord::BrokerConfigs { node_id, configs } => match node_id {
                None => self.default_broker_configs = configs.clone(),
                Some(id) if configs.is_empty() => {
                    self.broker_configs.remove(id);
                }
                Some(id) => {
                    self.broker_configs.insert(*id, configs.clone());
                }
            },
            MetaRecord::ProducerIds { first, size, .. } => {
                self.next_producer_id = self.next_producer_id.max(first + size);
            }
            MetaRecord::Acls { created, deleted } => {
                for b in deleted {
                    self.acls.remove(b);
                }
                self.acls.extend(created.iter().cloned());
            }
            MetaRecord::ScramCredentials(changes) => {
                credentials::apply(&mut self.scram_credentials, changes);
            }
            MetaRecord::GroupConfigs { group, configs } if configs.is_empty() => {
                self.group_configs.remove(group);
            }
            MetaRecord::GroupConfigs { group, configs } => {
                self.group_configs.insert(group.clone(), configs.clone());
            }
        }
        MetaResponse::Applied
    }

    /// A change for a topic deleted meanwhile is skipped: the topic is gone on every node.
    fn apply_changes(&mut self, changes: &[PartitionChange]) {
        for c in changes {
            let Some(name) = self.ids.get(&c.topic_id) else {
                continue;
            };
            let topic = self.topics.get_mut(name).expect("indexed");
            if let Some(p) = topic.partitions.get_mut(c.state.partition as usize) {
                *p = c.state.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(p: i32, replicas: &[i32]) -> PartitionState {
        PartitionState {
            partition: p,
            replicas: replicas.to_vec(),
            isr: vec![replicas[0]],
            leader: replicas[0],
            leader_epoch: 0,
            partition_epoch: 0,
            adding_replicas: vec![],
            removing_replicas: vec![],
        }
    }

    fn register(id: i32) -> MetaRecord {
        MetaRecord::RegisterBroker {
            node_id: id,
            incarnation: Uuid::new_v4(),
            endpoints: vec![Endpoint {
                listener: "PLAINTEXT".into(),
                host: "localhost".into(),
                port: 9092 + id as u16,
            }],
            rack: None,
        }
    }

    #[test]
    fn group_configs_are_replaced_whole_and_kept_in_snapshots() {
        let mut img = Image::default();
        let set = |pairs: &[(&str, &str)]| MetaRecord::GroupConfigs {
            group: "g".into(),
            configs: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        img.apply(1, &set(&[("share.auto.offset.reset", "earliest")]));
        img.apply(2, &set(&[("share.isolation.level", "read_committed")]));
        let want: BTreeMap<String, String> =
            [("share.isolation.level".into(), "read_committed".into())].into();
        assert_eq!(img.group_configs.get("g"), Some(&want));
        let snapshot: Image = serde_json::from_slice(&serde_json::to_vec(&img).unwrap()).unwrap();
        assert_eq!(snapshot.group_configs, img.group_configs);
        img.apply(3, &set(&[]));
        assert!(img.group_configs.is_empty());
    }

    #[test]
    fn partitions_written_before_reassignments_still_load() {
        let old = r#"{"partition":0,"replicas":[1,2],"isr":[1],"leader":1,"leader_epoch":2,"partition_epoch":3}"#;
        let p: PartitionState = serde_json::from_str(old).unwrap();
        assert_eq!(p.replicas, vec![1, 2]);
        assert!(p.adding_replicas.is_empty() && p.removing_replicas.is_empty());
        assert!(!p.reassigning());
        // Without a reassignment the record is written as before.
        assert_eq!(serde_json::to_string(&p).unwrap(), old);
        let moving = PartitionState {
            replicas: vec![2, 3, 1],
            adding_replicas: vec![3],
            removing_replicas: vec![1],
            ..p
        };
        let back: PartitionState =
            serde_json::from_str(&serde_json::to_string(&moving).unwrap()).unwrap();
        assert_eq!(back, moving);
        assert!(back.reassigning());
    }

    #[test]
    fn replay_builds_brokers_and_topics() {
        let mut img = Image::default();
        assert_eq!(img.apply(1, &register(1)), MetaResponse::Applied);
        img.apply(2, &register(2));
        assert_eq!(img.brokers[&2].epoch, 2);
        let id = Uuid::new_v4();
        let topic = MetaRecord::Topic {
            name: "t".into(),
            id,
            configs: BTreeMap::new(),
            partitions: vec![part(0, &[1]), part(1, &[2])],
        };
        assert_eq!(img.apply(3, &topic), MetaResponse::Applied);
        // The same name again is rejected on replay, identically on every node.
        assert!(matches!(img.apply(4, &topic), MetaResponse::Rejected(_)));
        img.apply(
            5,
            &MetaRecord::AddPartitions {
                topic_id: id,
                partitions: vec![part(2, &[1])],
            },
        );
        assert_eq!(img.topic_by_id(id).unwrap().partitions.len(), 3);
        // Adding at the wrong index is refused.
        assert!(matches!(
            img.apply(
                6,
                &MetaRecord::AddPartitions {
                    topic_id: id,
                    partitions: vec![part(5, &[1])],
                }
            ),
            MetaResponse::Rejected(_)
        ));
        let mut moved = part(1, &[2]);
        moved.leader = -1;
        moved.leader_epoch = 1;
        img.apply(
            7,
            &MetaRecord::BrokerFenced {
                node_id: 2,
                fenced: true,
                changes: vec![PartitionChange {
                    topic_id: id,
                    state: moved.clone(),
                }],
            },
        );
        assert!(!img.is_live(2));
        assert_eq!(img.live_brokers().count(), 1);
        assert_eq!(img.topics["t"].partitions[1], moved);

        // A snapshot round trip gives the same image, indexes included.
        let json = serde_json::to_vec(&img).unwrap();
        let mut back: Image = serde_json::from_slice(&json).unwrap();
        back.reindex();
        assert_eq!(back.topic_by_id(id).unwrap().name, "t");
        assert_eq!(back, img);

        img.apply(8, &MetaRecord::RemoveTopic { id });
        assert!(img.topics.is_empty() && img.topic_by_id(id).is_none());
        // A change for the deleted topic is skipped.
        assert_eq!(
            img.apply(
                9,
                &MetaRecord::PartitionChanges(vec![PartitionChange {
                    topic_id: id,
                    state: moved
                }])
            ),
            MetaResponse::Applied
        );
    }

    #[test]
    fn acls_and_scram_credentials_apply_and_survive_a_snapshot() {
        use crate::security::acl::credentials::{CredentialChange, StoredCredential};
        use crate::security::acl::{
            AccessControlEntry, AclOperation, AclPermissionType, PatternType, ResourcePattern,
            ResourceType,
        };
        let acl = AclBinding {
            pattern: ResourcePattern {
                resource_type: ResourceType::Topic,
                name: "t".into(),
                pattern_type: PatternType::Literal,
            },
            entry: AccessControlEntry {
                principal: "User:alice".into(),
                host: "*".into(),
                operation: AclOperation::Read,
                permission: AclPermissionType::Allow,
            },
        };
        let cred = StoredCredential {
            salt: vec![1],
            stored_key: vec![2],
            server_key: vec![3],
            iterations: 4096,
        };
        let mut img = Image::default();
        let created = MetaRecord::Acls {
            created: vec![acl.clone()],
            deleted: vec![],
        };
        assert_eq!(img.apply(1, &created), MetaResponse::Applied);
        let set = MetaRecord::ScramCredentials(vec![CredentialChange::Set {
            user: "alice".into(),
            mechanism: "SCRAM-SHA-256".into(),
            credential: cred.clone(),
        }]);
        img.apply(2, &set);
        assert!(img.acls.contains(&acl));
        assert_eq!(img.scram_credentials["alice"]["SCRAM-SHA-256"], cred);
        let json = serde_json::to_vec(&img).unwrap();
        let back: Image = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, img);
        // An image written before ACLs existed still loads.
        let old: Image =
            serde_json::from_str(r#"{"brokers":{},"topics":{},"next_producer_id":0}"#).unwrap();
        assert!(old.acls.is_empty() && old.scram_credentials.is_empty());
        img.apply(
            3,
            &MetaRecord::Acls {
                created: vec![],
                deleted: vec![acl],
            },
        );
        img.apply(
            4,
            &MetaRecord::ScramCredentials(vec![CredentialChange::Remove {
                user: "alice".into(),
                mechanism: "SCRAM-SHA-256".into(),
            }]),
        );
        assert!(img.acls.is_empty() && img.scram_credentials.is_empty());
    }
}
