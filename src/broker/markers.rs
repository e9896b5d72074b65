//! Delivering the markers a transaction coordinator could not write at once: on partitions
//! other brokers of a cluster lead (sent with WriteTxnMarkers to each partition's current
//! leader, on its inter-broker listener), or whose local write failed (written again here).
//! The coordinator is told which were written; a leader that is down or changed is tried again
//! on the next round, and a partition whose topic was deleted needs none.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
use kafka_protocol::protocol::StrBytes;

use super::Broker;
use crate::cluster::peer::Peer;
use crate::txn::coordinator::PendingMarkers;

/// A marker written on a partition led here: the partition's name and index, the partition,
/// its leader epoch and the offset after the marker.
type LocalMarker = ((String, i32), Arc<crate::partition::Partition>, i32, i64);

/// How often pending markers are retried.
const ROUND: Duration = Duration::from_millis(50);
const TIMEOUT: Duration = Duration::from_secs(5);

impl Broker {
    pub(super) fn deliver_markers(
        self: &Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let broker = self.clone();
        tokio::spawn(async move {
            let mut peers: HashMap<i32, Arc<Peer>> = HashMap::new();
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(ROUND) => {}
                }
                broker.deliver_round(&mut peers).await;
            }
        });
    }

    /// The leader of each pending partition: `Some(-1)` while it has none, `None` when the
    /// partition no longer exists (its topic was deleted: no marker is needed there).
    fn leaders_of(&self, partitions: &[(String, i32)]) -> Vec<Option<i32>> {
        partitions
            .iter()
            .map(|(t, p)| self.partition_leader(t, *p))
            .collect()
    }

    /// A connection to broker `id`'s inter-broker listener (new when its address changed).
    pub(super) fn peer(&self, id: i32, peers: &mut HashMap<i32, Arc<Peer>>) -> Option<Arc<Peer>> {
        let cluster = self.cluster.as_ref()?;
        let addr = {
            let image = cluster.image();
            let b = image.brokers.get(&id)?;
            let e = b
                .endpoint(&cluster.config.inter_broker_listener)
                .or(b.endpoints.first())?;
            format!("{}:{}", e.host, e.port)
        };
        if let Some(p) = peers.get(&id)
            && p.addr() == addr
        {
            return Some(p.clone());
        }
        // Checked at start-up (Server::bind), so an error here is not expected.
        let login = crate::security::sasl::inter_broker_login(&self.config).unwrap_or_else(|e| {
            tracing::warn!("inter-broker SASL: {e}");
            None
        });
        let p = Arc::new(Peer::new(addr, self.node_id, login));
        peers.insert(id, p.clone());
        Some(p)
    }

    /// One round over every transaction with pending markers: markers of deleted partitions
    /// are settled, local ones written, and the requests to other leaders sent all at once, so
    /// one slow or unreachable leader delays no other's markers.
    async fn deliver_round(&self, peers: &mut HashMap<i32, Arc<Peer>>) {
        let mut sends = Vec::new();
        let mut local = Vec::new();
        for pending in self.txns.pending_markers() {
            let leaders = self.leaders_of(&pending.partitions);
            let mut by_leader: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
            let mut gone = Vec::new();
            for (tp, leader) in pending.partitions.iter().zip(leaders) {
                match leader {
                    None => gone.push(tp.clone()),
                    Some(l) if l >= 0 => by_leader.entry(l).or_default().push(tp.clone()),
                    Some(_) => {} // no leader now: the next round tries again
                }
            }
            self.settle(&pending, &gone);
            for (leader, partitions) in by_leader {
                if leader == self.node_id {
                    // Leadership moved here meanwhile, or a local write failed: write them.
                    for w in self.write_local_markers(&pending, &partitions) {
                        local.push((pending.clone(), w));
                    }
                } else if let Some(peer) = self.peer(leader, peers) {
                    sends.push((pending.clone(), peer, partitions));
                }
            }
        }
        let results = futures::future::join_all(
            sends
                .iter()
                .map(|(pending, peer, partitions)| self.send_markers(peer, pending, partitions)),
        )
        .await;
        for ((pending, _, _), written) in sends.iter().zip(results) {
            self.settle(pending, &written);
        }
        // A marker written here counts once its ISR has it, as at the other leaders.
        let replicated = futures::future::join_all(
            local
                .iter()
                .map(|(_, w)| super::replication::replicated(&w.1, w.2, w.3)),
        )
        .await;
        for ((pending, w), r) in local.iter().zip(replicated) {
            if r.is_ok() {
                self.settle(pending, std::slice::from_ref(&w.0));
            }
        }
    }

    /// Tell the coordinator these markers are written (or need not be).
    fn settle(&self, pending: &PendingMarkers, written: &[(String, i32)]) {
        if written.is_empty() {
            return;
        }
        self.txns.markers_written(
            &self.txn_context(),
            &pending.transactional_id,
            pending.producer_id,
            pending.producer_epoch,
            written,
            self.now_ms(),
        );
    }

    /// Write markers on partitions led here: for each written, the partition, its leader epoch
    /// and the offset after the marker.
    fn write_local_markers(
        &self,
        pending: &PendingMarkers,
        partitions: &[(String, i32)],
    ) -> Vec<LocalMarker> {
        let marker = if pending.commit {
            crate::log::Marker::Commit
        } else {
            crate::log::Marker::Abort
        };
        partitions
            .iter()
            .filter_map(|(t, p)| {
                let part = self.leader_partition(super::TopicRef::Name(t), *p).ok()?;
                let epoch = part.leader_epoch();
                let offset = part
                    .write_marker(
                        pending.producer_id,
                        pending.producer_epoch,
                        marker,
                        0,
                        self.now_ms(),
                    )
                    .ok()?;
                if t == crate::group::OFFSETS_TOPIC {
                    self.groups
                        .complete_transaction(pending.producer_id, pending.commit);
                }
                Some(((t.clone(), *p), part, epoch, offset + 1))
            })
            .collect()
    }

    /// WriteTxnMarkers to one leader; the partitions it wrote.
    async fn send_markers(
        &self,
        peer: &Peer,
        pending: &PendingMarkers,
        partitions: &[(String, i32)],
    ) -> Vec<(String, i32)> {
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (t, p) in partitions {
            topics.entry(t).or_default().push(*p);
        }
        let marker = WritableTxnMarker::default()
            .with_producer_id(ProducerId(pending.producer_id))
            .with_producer_epoch(pending.producer_epoch)
            .with_transaction_result(pending.commit)
            .with_coordinator_epoch(0)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        WritableTxnMarkerTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_string())))
                            .with_partition_indexes(ps)
                    })
                    .collect(),
            );
        let req = WriteTxnMarkersRequest::default().with_markers(vec![marker]);
        match peer.write_txn_markers(&req, TIMEOUT).await {
            Ok(resp) => resp
                .markers
                .iter()
                .flat_map(|m| {
                    m.topics.iter().flat_map(|t| {
                        t.partitions
                            .iter()
                            .filter(|p| p.error_code == 0)
                            .map(|p| (t.name.as_str().to_string(), p.partition_index))
                    })
                })
                .collect(),
            Err(e) => {
                tracing::debug!(peer = peer.addr(), "WriteTxnMarkers failed: {e}");
                Vec::new()
            }
        }
    }
}
