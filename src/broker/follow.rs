//! A cluster node follows the metadata image: whenever it moves, the partitions assigned to
//! this node are opened (created empty when new), the topics the cluster no longer has are
//! dropped with their data, so are the partitions a reassignment moved off this node, and
//! topic configs follow the image; so do the coordinators (the share coordinator tombstones
//! the state of deleted topics) and the share-partitions (those of partitions led elsewhere
//! now leave memory).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::Broker;
use crate::cluster::Cluster;
use crate::cluster::records::PartitionState;
use crate::partition::Partition;

/// A topic of the image as this node holds it: name, id, configs, the partitions assigned here.
type Wanted = (
    String,
    uuid::Uuid,
    BTreeMap<String, String>,
    Vec<PartitionState>,
);

impl Broker {
    /// Watch the image for as long as the broker runs and reconcile after every change.
    pub(super) fn follow_image(self: &Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let broker = self.clone();
        let mut changes = cluster.subscribe();
        let mut fenced = cluster.subscribe_fenced();
        tokio::spawn(async move {
            loop {
                changes.mark_unchanged();
                fenced.mark_unchanged();
                let b = broker.clone();
                let _ = tokio::task::spawn_blocking(move || b.reconcile()).await;
                tokio::select! {
                    _ = shutdown.changed() => return,
                    r = changes.changed() => if r.is_err() { return },
                    r = fenced.changed() => if r.is_err() { return },
                }
            }
        });
    }

    /// Make the local topics match the image: what to host, what to drop, which configs.
    pub fn reconcile(self: &Arc<Self>) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let me = self.node_id;
        // (name, id, configs, partitions assigned here), read under the image lock only.
        let wanted: Vec<Wanted> = {
            let image = cluster.image();
            image
                .topics
                .values()
                .map(|t| {
                    let mine = t
                        .partitions
                        .iter()
                        .filter(|p| p.replicas.contains(&me))
                        .cloned()
                        .collect();
                    (t.name.clone(), t.id, t.configs.clone(), mine)
                })
                .collect()
        };
        self.follow_broker_configs();
        self.follow_security();
        let keep: BTreeSet<(&str, uuid::Uuid)> = wanted
            .iter()
            .map(|(n, id, _, _)| (n.as_str(), *id))
            .collect();
        // Dropping data needs an image known to be current: right after a start it may be
        // empty or old (a broker-only node before its first fetch, a restarted voter catching
        // up), and everything would look deleted.
        if cluster.caught_up() {
            for local in self.topics.list() {
                if keep.contains(&(local.name.as_str(), local.id)) {
                    continue;
                }
                // The image may have moved since `wanted` was read (a topic created meanwhile,
                // and already opened by a request): ask it again. Images only move forward, so
                // one without the topic now means the topic is gone.
                let exists_now = cluster
                    .image()
                    .topics
                    .get(&local.name)
                    .is_some_and(|t| t.id == local.id);
                if exists_now {
                    continue;
                }
                match self.topics.remove(&local.name) {
                    Ok(_) => {
                        tracing::info!(topic = %local.name, "deleted topic (no longer in the cluster)")
                    }
                    Err(e) => tracing::warn!(topic = %local.name, "cannot delete local topic: {e}"),
                }
            }
        }
        let now = self.now_ms();
        let hosted: BTreeSet<(uuid::Uuid, i32)> = wanted
            .iter()
            .flat_map(|(_, id, _, mine)| mine.iter().map(|s| (*id, s.partition)))
            .collect();
        let mut fetch: HashMap<i32, BTreeMap<(uuid::Uuid, i32), Arc<Partition>>> = HashMap::new();
        for (name, id, configs, mine) in wanted {
            for state in mine {
                let p = state.partition;
                match self.topics.ensure_partition(&name, id, p, &configs, now) {
                    Ok(partition) => {
                        if let Some(leader) = self.take_role(&partition, &state, now) {
                            fetch.entry(leader).or_default().insert((id, p), partition);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(topic = %name, partition = p, "cannot open partition: {e}")
                    }
                }
            }
            self.topics.follow_configs(&name, &configs);
        }
        self.assign_fetchers(fetch);
        if cluster.caught_up() {
            self.drop_moved_partitions(cluster, &hosted);
        }
        self.follow_coordinators();
        self.delete_share_state_of_deleted_topics();
        self.follow_share_leadership();
    }

    /// Delete the local partitions of topics the cluster still has that are no longer placed
    /// here (a reassignment completed or was cancelled without this node), once their
    /// fetchers stopped (`hosted`: the partitions `reconcile` gave a role). The image is asked
    /// again first, as for topics: one that moved on may place a partition here again.
    fn drop_moved_partitions(&self, cluster: &Cluster, hosted: &BTreeSet<(uuid::Uuid, i32)>) {
        let me = self.node_id;
        for local in self.topics.list() {
            for p in local.local_partitions() {
                if hosted.contains(&(local.id, p.index)) {
                    continue;
                }
                let leader_epoch = {
                    let image = cluster.image();
                    // A topic gone from the image is the topic deletion's to drop.
                    let Some(t) = image.topic_by_id(local.id).filter(|t| t.name == local.name)
                    else {
                        continue;
                    };
                    let state = usize::try_from(p.index)
                        .ok()
                        .and_then(|i| t.partitions.get(i));
                    if state.is_some_and(|s| s.replicas.contains(&me)) {
                        continue;
                    }
                    state.map_or(-1, |s| s.leader_epoch)
                };
                // It leads or follows no more: writes waiting for its ISR are answered, and a
                // fetch still out brings nothing into it.
                p.become_follower(-1, leader_epoch);
                if let Err(e) = self.topics.remove_partition(&local.name, local.id, p.index) {
                    tracing::warn!(topic = %local.name, partition = p.index, "cannot delete a partition moved away: {e}");
                }
            }
        }
    }

    /// Give `partition` the role `state` says this node has: leader, or follower of another
    /// node (returned: the leader to fetch from), or follower of no one while it has no leader.
    pub(super) fn take_role(
        &self,
        partition: &Partition,
        state: &PartitionState,
        now: i64,
    ) -> Option<i32> {
        let me = self.node_id;
        if state.leader == me {
            let others = |v: &[i32]| v.iter().copied().filter(|&r| r != me).collect::<Vec<_>>();
            if let Err(e) = partition.become_leader(
                state.leader_epoch,
                state.partition_epoch,
                &others(&state.replicas),
                &others(&state.isr),
                now,
            ) {
                tracing::error!(topic = %partition.topic, partition = partition.index, "cannot take the lead: {e}");
            }
            return None;
        }
        partition.become_follower(state.leader, state.leader_epoch);
        (state.leader >= 0).then_some(state.leader)
    }

    /// Dynamic broker configs follow the image: the cluster-wide default and this node's layer.
    fn follow_broker_configs(&self) {
        let (Some(default), Some(mine)) = (
            self.broker_config_layer(None),
            self.broker_config_layer(Some(self.node_id)),
        ) else {
            return;
        };
        if self.dynamic.layers() == (default.clone(), mine.clone()) {
            return;
        }
        match self.dynamic.set_layers(default, mine) {
            Ok(effective) => {
                self.topics.set_broker_config(effective);
                tracing::info!("dynamic broker configs changed (from the cluster)");
            }
            Err(e) => tracing::warn!("ignoring the cluster's dynamic broker configs: {e}"),
        }
    }
}
