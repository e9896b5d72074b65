//! The cluster: several fjord nodes sharing one metadata log, replicated by a Raft quorum of
//! the controller voters (openraft), as Kafka's KRaft mode does. See docs/architecture.md.
//!
//! - [`records`]: what the metadata log holds; [`image`]: what replaying it gives every node.
//! - [`controller`]: the quorum leader's decisions (placement, fencing, elections).
//! - [`raft`]: openraft's storage, state machine and network; [`rpc`]: the CONTROLLER
//!   listener's frames.
//! - [`Cluster`] (here): start-up, and what the broker side uses: the image, the active
//!   controller's id, requests routed to the active controller, and the broker's registration
//!   and heartbeats.
//!
//! **Must never:** touch partitions or topics' data (the broker follows the image itself), or
//! speak the Kafka protocol.

pub mod controller;
pub mod image;
pub mod peer;
pub mod raft;
pub mod records;
pub mod rpc;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use parking_lot::RwLockReadGuard;
use tokio::sync::watch;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::{ClusterConfig, Config};
use controller::{ApiError, Controller, ControllerReply, ControllerRequest};
use image::Image;
use raft::network::Network;
use raft::state_machine::{Shared, StateMachine};
use raft::store::LogStore;
use raft::types::{NodeId, Raft, TypeConfig};
use records::Endpoint;
use rpc::{Client, Reply, Request};

/// Kafka's directory for the metadata log.
pub const METADATA_DIR: &str = "__cluster_metadata-0";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("metadata log in {0}: {1}")]
    Storage(String, std::io::Error),
    #[error("cannot bind the controller listener {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("metadata quorum: {0}")]
    Raft(String),
}

pub struct Cluster {
    pub node_id: i32,
    pub cluster_id: String,
    pub config: ClusterConfig,
    raft: Raft,
    shared: Arc<Shared>,
    controller: Arc<Controller>,
    peers: Arc<BTreeMap<NodeId, Arc<Client>>>,
    /// This process's registration: new at every start (Kafka's incarnation id).
    incarnation: Uuid,
}

impl Cluster {
    /// Open the metadata log under `log.dirs`, bind the CONTROLLER listener and start the
    /// Raft node. `fresh` says the data dir was just created: only then may this node form
    /// the quorum (a voter whose metadata log was lost must not start a new one).
    pub async fn start(
        config: &Config,
        cluster_id: &str,
        fresh: bool,
        clock: Arc<dyn Clock>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let cc = config.cluster.clone().expect("cluster mode");
        let node_id = config.node_id;
        let dir = config.log_dir.join(METADATA_DIR);
        let storage = |e| ClusterError::Storage(dir.display().to_string(), e);
        std::fs::create_dir_all(&dir).map_err(storage)?;
        let log_store = LogStore::<TypeConfig>::open(&dir).map_err(storage)?;
        let state_machine = StateMachine::open(&dir).map_err(storage)?;
        let shared = state_machine.shared();

        let peers: BTreeMap<NodeId, Arc<Client>> = cc
            .voters
            .iter()
            .map(|v| {
                let addr = format!("{}:{}", v.host, v.port);
                (
                    v.id as NodeId,
                    Arc::new(Client::new(addr, cluster_id.to_string(), node_id)),
                )
            })
            .collect();
        let peers = Arc::new(peers);

        let raft_config = openraft::Config {
            cluster_name: format!("fjord-{cluster_id}"),
            heartbeat_interval: 100,
            election_timeout_min: 500,
            election_timeout_max: 1000,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(1000),
            max_in_snapshot_log_to_keep: 500,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let raft = Raft::new(
            node_id as NodeId,
            Arc::new(raft_config),
            Network::new(peers.clone()),
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| ClusterError::Raft(e.to_string()))?;

        let controller = Arc::new(Controller::new(
            node_id,
            raft.clone(),
            shared.clone(),
            cc.clone(),
            clock,
        ));
        let listener = cc.controller_listener.clone().expect("a voter has one");
        let bind = format!("{}:{}", listener.host, listener.port);
        let tcp = tokio::net::TcpListener::bind(&bind)
            .await
            .map_err(|e| ClusterError::Bind(bind.clone(), e))?;
        tokio::spawn(rpc::serve(
            tcp,
            cluster_id.to_string(),
            {
                let raft = raft.clone();
                let controller = controller.clone();
                move |_from, request| {
                    let raft = raft.clone();
                    let controller = controller.clone();
                    async move { serve_one(&raft, &controller, request).await }
                }
            },
            shutdown.clone(),
        ));

        let formed = raft
            .is_initialized()
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        if !formed {
            if fresh {
                let members: BTreeMap<NodeId, BasicNode> = cc
                    .voters
                    .iter()
                    .map(|v| {
                        (
                            v.id as NodeId,
                            BasicNode::new(format!("{}:{}", v.host, v.port)),
                        )
                    })
                    .collect();
                match raft.initialize(members).await {
                    Ok(()) => tracing::info!(
                        voters = cc.voters.len(),
                        "metadata quorum formed from controller.quorum.voters"
                    ),
                    Err(openraft::error::RaftError::APIError(
                        openraft::error::InitializeError::NotAllowed(_),
                    )) => {}
                    Err(e) => return Err(ClusterError::Raft(e.to_string())),
                }
            } else {
                tracing::warn!(
                    dir = %dir.display(),
                    "this node's metadata log is empty but its data dir is not new: waiting for the quorum to send it the log rather than forming a new one"
                );
            }
        }

        let cluster = Arc::new(Cluster {
            node_id,
            cluster_id: cluster_id.to_string(),
            config: cc,
            raft,
            shared,
            controller,
            peers,
            incarnation: Uuid::new_v4(),
        });
        cluster.start_timers(shutdown);
        Ok(cluster)
    }

    /// The metadata image as of the last applied record. Hold the guard briefly: replay waits.
    pub fn image(&self) -> RwLockReadGuard<'_, Image> {
        self.shared.image.read()
    }

    /// Tells when the image moved (the value is the last applied log index).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.subscribe()
    }

    /// The active controller as this node knows it.
    pub fn controller_id(&self) -> Option<i32> {
        self.raft
            .metrics()
            .borrow()
            .current_leader
            .map(|l| l as i32)
    }

    /// The quorum's state, for DescribeQuorum and health: (leader, term, last log index,
    /// each voter's replicated index as the leader knows it).
    pub fn quorum_metrics(&self) -> openraft::RaftMetrics<NodeId, BasicNode> {
        self.raft.metrics().borrow().clone()
    }

    /// Send `req` to the active controller, following NotController hints and retrying while
    /// no controller answers, for at most `timeout`.
    pub async fn request(
        &self,
        req: ControllerRequest,
        timeout: Duration,
    ) -> Result<ControllerReply, ApiError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut target = self.controller_id();
        let mut backoff = Duration::from_millis(20);
        loop {
            let reply = match target {
                Some(id) if id == self.node_id => Some(self.controller.handle(req.clone()).await),
                Some(id) => match self.peers.get(&(id as NodeId)) {
                    Some(client) => {
                        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                        match client.call(Request::Controller(req.clone()), left).await {
                            Ok(Reply::Controller(r, index)) => {
                                if !matches!(r, ControllerReply::NotController { .. })
                                    && !self.wait_applied(index, Duration::from_secs(5)).await
                                {
                                    tracing::warn!(
                                        index,
                                        "the metadata image is slow to catch up with the controller"
                                    );
                                }
                                Some(r)
                            }
                            Ok(other) => {
                                tracing::debug!(to = id, "controller request refused: {other:?}");
                                None
                            }
                            Err(e) => {
                                tracing::debug!(to = id, "controller unreachable: {e}");
                                None
                            }
                        }
                    }
                    None => None,
                },
                None => None,
            };
            match reply {
                Some(ControllerReply::NotController { leader }) => {
                    target = leader
                        .filter(|&l| Some(l) != target)
                        .or(self.controller_id());
                }
                Some(r) => return Ok(r),
                None => target = self.controller_id(),
            }
            if tokio::time::Instant::now() + backoff > deadline {
                return Err(ApiError::new(
                    kafka_protocol::ResponseError::RequestTimedOut,
                    "no active controller answered in time",
                ));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(250));
        }
    }

    /// Register this broker with the active controller and heartbeat it for as long as the
    /// process runs; register again whenever the controller no longer knows this incarnation.
    pub fn start_broker_lifecycle(
        self: &Arc<Self>,
        endpoints: Vec<Endpoint>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let cluster = self.clone();
        tokio::spawn(async move {
            let interval =
                Duration::from_millis(cluster.config.broker_heartbeat_interval_ms as u64);
            let mut registered = false;
            let mut warned = false;
            loop {
                let req = if registered {
                    ControllerRequest::Heartbeat {
                        node_id: cluster.node_id,
                        incarnation: cluster.incarnation,
                    }
                } else {
                    ControllerRequest::Register {
                        node_id: cluster.node_id,
                        incarnation: cluster.incarnation,
                        endpoints: endpoints.clone(),
                        rack: None,
                    }
                };
                let wait = match cluster
                    .request(req, interval.max(Duration::from_secs(1)))
                    .await
                {
                    Ok(ControllerReply::Registered { broker_epoch }) => {
                        tracing::info!(broker_epoch, "registered with the active controller");
                        registered = true;
                        warned = false;
                        interval
                    }
                    Ok(ControllerReply::Heartbeat { known: false, .. }) => {
                        registered = false;
                        Duration::ZERO
                    }
                    Ok(_) => {
                        warned = false;
                        interval
                    }
                    Err(e) => {
                        if !warned {
                            tracing::warn!(
                                "cannot reach the controller quorum ({}); retrying",
                                e.message
                            );
                            warned = true;
                        }
                        Duration::from_millis(200)
                    }
                };
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        });
    }

    fn start_timers(self: &Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let controller = self.controller.clone();
        let raft = self.raft.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.changed() => {
                        let _ = raft.shutdown().await;
                        return;
                    }
                    _ = tick.tick() => controller.tick().await,
                }
            }
        });
    }

    /// Wait until the image has applied at least `index` (or `timeout` passes).
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> bool {
        let mut rx = self.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|&i| i >= index))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    pub fn metadata_dir(log_dir: &Path) -> std::path::PathBuf {
        log_dir.join(METADATA_DIR)
    }
}

async fn serve_one(raft: &Raft, controller: &Controller, request: Request) -> Reply {
    match request {
        Request::Append(r) => Reply::Append(raft.append_entries(r).await),
        Request::Vote(r) => Reply::Vote(raft.vote(r).await),
        Request::Snapshot(r) => Reply::Snapshot(raft.install_snapshot(r).await),
        Request::Controller(r) => {
            let reply = controller.handle(r).await;
            Reply::Controller(reply, controller.applied_index())
        }
    }
}
