//! The cluster: several fjord nodes sharing one metadata log, replicated by a Raft quorum of
//! the controller voters (openraft), as Kafka's KRaft mode does. See docs/architecture.md.
//!
//! - [`records`]: what the metadata log holds; [`image`]: what replaying it gives every node.
//! - [`controller`]: the quorum leader's decisions (placement, fencing, elections).
//! - [`raft`]: openraft's storage, state machine and network, and when voters campaign
//!   (Pre-Vote); [`rpc`]: the CONTROLLER listener's frames.
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
use openraft::storage::RaftLogStorage;
use parking_lot::RwLockReadGuard;
use tokio::sync::watch;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::{ClusterConfig, Config};
use controller::{ApiError, Controller, ControllerReply, ControllerRequest};
use image::Image;
use raft::election::{Elector, Timing};
use raft::network::Network;
use raft::state_machine::{Shared, StateMachine};
use raft::store::LogStore;
use raft::types::{NodeId, Raft, TypeConfig};
use records::Endpoint;
use rpc::{Client, Reply, Request};

/// The metadata quorum's timing: heartbeats every 100 ms; a voter that hears from no leader
/// for an election timeout drawn from 500 ms up to 1000 ms (anew for every wait) asks for
/// pre-votes, and campaigns with a majority of them (see [`raft::election`]). A new controller
/// about 0.5–1 s after the old one's last heartbeat.
pub const ELECTION_TIMING: Timing = Timing {
    heartbeat: Duration::from_millis(100),
    min: Duration::from_millis(500),
    max: Duration::from_millis(1000),
};

/// Form a new metadata quorum of `members` from this voter (a no-op where it is formed).
async fn form_quorum(
    raft: &Raft,
    members: BTreeMap<NodeId, BasicNode>,
) -> Result<(), ClusterError> {
    let voters = members.len();
    match raft.initialize(members).await {
        Ok(()) => {
            tracing::info!(
                voters,
                "metadata quorum formed from controller.quorum.voters"
            );
            Ok(())
        }
        Err(openraft::error::RaftError::APIError(
            openraft::error::InitializeError::NotAllowed(_),
        )) => Ok(()),
        Err(e) => Err(ClusterError::Raft(e.to_string())),
    }
}

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
    role: Role,
    shared: Arc<Shared>,
    peers: Arc<BTreeMap<NodeId, Arc<Client>>>,
    /// This process's registration: new at every start (Kafka's incarnation id).
    incarnation: Uuid,
    /// When the active controller last accepted this broker's registration or heartbeat.
    contact: parking_lot::Mutex<Option<tokio::time::Instant>>,
    /// True while this broker must not serve partitions: not registered yet, or no contact
    /// with the controller for a whole session (it is fenced, or about to be).
    fenced: watch::Sender<bool>,
    /// Set once the image is known to hold everything committed when this process started
    /// (the controller accepted this node, and the image caught up with its log index).
    caught_up: std::sync::atomic::AtomicBool,
}

/// A voter runs Raft and may be the active controller; a broker-only node (an observer)
/// follows the metadata log by fetching it from the active controller, as Kafka's brokers do.
enum Role {
    Voter {
        raft: Raft,
        controller: Arc<Controller>,
        elector: Arc<Elector>,
    },
    Observer {
        /// The active controller as the last fetch found it.
        leader: parking_lot::Mutex<Option<i32>>,
    },
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
        let cc = config
            .cluster
            .clone()
            .ok_or_else(|| ClusterError::Raft("the configuration names no cluster".to_string()))?;
        let node_id = config.node_id;
        let peers = Arc::new(voter_clients(&cc, cluster_id, node_id));
        if !cc.controller {
            let cluster = Arc::new(Cluster {
                node_id,
                cluster_id: cluster_id.to_string(),
                config: cc,
                role: Role::Observer {
                    leader: parking_lot::Mutex::new(None),
                },
                shared: Shared::observer(),
                peers,
                incarnation: Uuid::new_v4(),
                contact: parking_lot::Mutex::new(None),
                fenced: watch::channel(true).0,
                caught_up: std::sync::atomic::AtomicBool::new(false),
            });
            cluster.follow_metadata_log(shutdown);
            return Ok(cluster);
        }
        let dir = config.log_dir.join(METADATA_DIR);
        let storage = |e| ClusterError::Storage(dir.display().to_string(), e);
        std::fs::create_dir_all(&dir).map_err(storage)?;
        let mut log_store = LogStore::<TypeConfig>::open(&dir).map_err(storage)?;
        let log_reader = log_store.get_log_reader().await;
        let state_machine = StateMachine::open(&dir).map_err(storage)?;
        let shared = state_machine.shared();

        let raft_config = ELECTION_TIMING
            .raft_config(openraft::Config {
                cluster_name: format!("fjord-{cluster_id}"),
                snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(1000),
                max_in_snapshot_log_to_keep: 500,
                ..Default::default()
            })
            .validate()
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let raft = Raft::new(
            node_id as NodeId,
            Arc::new(raft_config),
            // Raft's own connections: a slow controller request never delays a heartbeat.
            Network::new(Arc::new(voter_clients(&cc, cluster_id, node_id))),
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let elector = Elector::new(
            node_id as NodeId,
            raft.clone(),
            ELECTION_TIMING,
            Uuid::new_v4().as_u64_pair().0,
        );

        let controller = Arc::new(Controller::new(
            node_id,
            raft.clone(),
            shared.clone(),
            cc.clone(),
            clock,
            log_reader,
        ));
        let listener = cc.controller_listener.clone().ok_or_else(|| {
            ClusterError::Raft("a controller needs a controller listener".to_string())
        })?;
        // An empty host binds every interface, as Kafka's `CONTROLLER://:9093` does.
        let host = if listener.host.is_empty() {
            "0.0.0.0"
        } else {
            listener.host.as_str()
        };
        let bind = format!("{host}:{}", listener.port);
        let tcp = tokio::net::TcpListener::bind(&bind)
            .await
            .map_err(|e| ClusterError::Bind(bind.clone(), e))?;
        tokio::spawn(rpc::serve(
            tcp,
            cluster_id.to_string(),
            {
                let elector = elector.clone();
                let controller = controller.clone();
                move |from, request| {
                    let elector = elector.clone();
                    let controller = controller.clone();
                    async move { serve_one(&elector, &controller, from, request).await }
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
                // Forming the quorum starts an election at once. When every voter of a new
                // cluster did that together, their votes split and the next try waited out a
                // whole election timeout (0.6-1.6 s in one start of five); so the lowest id
                // forms it, and the others only if it has not reached them by then.
                let lowest = cc.voters.iter().map(|v| v.id).min();
                if lowest == Some(node_id) {
                    form_quorum(&raft, members).await?;
                } else {
                    let raft = raft.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(2 * ELECTION_TIMING.max).await;
                        if !raft.is_initialized().await.unwrap_or(true)
                            && let Err(e) = form_quorum(&raft, members).await
                        {
                            tracing::warn!("cannot form the metadata quorum: {e}");
                        }
                    });
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
            role: Role::Voter {
                raft,
                controller,
                elector,
            },
            shared,
            peers,
            incarnation: Uuid::new_v4(),
            contact: parking_lot::Mutex::new(None),
            fenced: watch::channel(true).0,
            caught_up: std::sync::atomic::AtomicBool::new(false),
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
        match &self.role {
            Role::Voter { raft, .. } => raft.metrics().borrow().current_leader.map(|l| l as i32),
            Role::Observer { leader } => *leader.lock(),
        }
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
        // With no controller known (a broker-only node starting), ask the voters in turn.
        let mut next_voter = self.peers.keys().cycle();
        loop {
            if target.is_none() && matches!(self.role, Role::Observer { .. }) {
                target = next_voter.next().map(|&id| id as i32);
            }
            let reply = match target {
                Some(id) if id == self.node_id && self.local_controller().is_some() => {
                    let controller = self.local_controller().expect("checked");
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    let reply = tokio::time::timeout(left, controller.handle(req.clone()))
                        .await
                        .ok();
                    // The local image is the leader's: current once it answers.
                    if matches!(reply, Some(ControllerReply::Registered { .. })) {
                        self.caught_up
                            .store(true, std::sync::atomic::Ordering::Release);
                    }
                    reply
                }
                Some(id) => match self.peers.get(&(id as NodeId)) {
                    Some(client) => {
                        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                        match client.call(Request::Controller(req.clone()), left).await {
                            Ok(Reply::Controller(r, index)) => {
                                if matches!(r, ControllerReply::NotController { .. }) {
                                    Some(r)
                                } else if self.wait_applied(index, Duration::from_secs(5)).await {
                                    if matches!(r, ControllerReply::Registered { .. }) {
                                        self.caught_up
                                            .store(true, std::sync::atomic::Ordering::Release);
                                    }
                                    Some(r)
                                } else {
                                    tracing::warn!(
                                        index,
                                        "the metadata image is slow to catch up with the controller"
                                    );
                                    Some(r)
                                }
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
                        cluster.heard_from_controller();
                        interval
                    }
                    Ok(ControllerReply::Heartbeat { known: false, .. }) => {
                        registered = false;
                        Duration::ZERO
                    }
                    Ok(ControllerReply::Heartbeat { .. }) => {
                        warned = false;
                        cluster.heard_from_controller();
                        interval
                    }
                    Ok(_) => interval,
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
                cluster.check_session();
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        });
    }

    /// Whether the image is known to be current (see `caught_up`).
    pub fn caught_up(&self) -> bool {
        self.caught_up.load(std::sync::atomic::Ordering::Acquire)
    }

    fn heard_from_controller(&self) {
        *self.contact.lock() = Some(tokio::time::Instant::now());
        self.fenced.send_if_modified(|f| {
            let was = *f;
            *f = false;
            if was {
                tracing::info!("serving: the active controller has this broker registered");
            }
            was
        });
    }

    /// A broker that has not reached the controller for a whole session stops serving
    /// partitions: the controller has fenced it (or will) and moved their leadership, so what
    /// it would serve could be stale.
    fn check_session(&self) {
        let session = Duration::from_millis(self.config.broker_session_timeout_ms as u64);
        let lost = match *self.contact.lock() {
            None => true,
            Some(at) => at.elapsed() > session,
        };
        if lost {
            self.fenced.send_if_modified(|f| {
                let was = *f;
                *f = true;
                if !was {
                    tracing::warn!(
                        "no contact with the active controller for {} ms (broker.session.timeout.ms): not serving partitions until it is reached again",
                        session.as_millis()
                    );
                }
                !was
            });
        }
    }

    /// Whether this broker must not serve partitions now (see `fenced`), or the image says the
    /// controller fenced it.
    pub fn is_fenced(&self) -> bool {
        *self.fenced.borrow() || !self.image().is_live(self.node_id)
    }

    /// Tells when `is_fenced` may have changed.
    pub fn subscribe_fenced(&self) -> watch::Receiver<bool> {
        self.fenced.subscribe()
    }

    fn local_controller(&self) -> Option<&Arc<Controller>> {
        match &self.role {
            Role::Voter { controller, .. } => Some(controller),
            Role::Observer { .. } => None,
        }
    }

    /// A broker-only node: fetch the metadata log from the active controller for as long as
    /// the process runs (each fetch waits a moment for news, so this is a long poll). Its own
    /// connections, so that a waiting fetch never delays registration or admin requests.
    fn follow_metadata_log(self: &Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let cluster = self.clone();
        let clients = voter_clients(&self.config, &self.cluster_id, self.node_id);
        tokio::spawn(async move {
            let voters: Vec<NodeId> = clients.keys().copied().collect();
            let mut turn = 0usize;
            let mut after = 0u64;
            let mut warned = false;
            loop {
                let known = cluster.controller_id().map(|l| l as NodeId);
                let target = known.unwrap_or_else(|| {
                    turn += 1;
                    voters[turn % voters.len()]
                });
                // A leader that is not a voter cannot be: forget it and ask the voters.
                let client = clients.get(&target).or_else(|| {
                    cluster.set_observed_leader(None);
                    clients.get(&voters[turn % voters.len()])
                });
                let Some(client) = client else {
                    return; // no voters at all: the config is checked, so never
                };
                let ask = client.call(
                    Request::Controller(ControllerRequest::FetchMetadata { after }),
                    Duration::from_secs(5),
                );
                let reply = tokio::select! {
                    _ = shutdown.changed() => return,
                    r = ask => r,
                };
                match reply {
                    Ok(Reply::Controller(
                        ControllerReply::Metadata {
                            records,
                            last,
                            image,
                        },
                        _,
                    )) => {
                        cluster.set_observed_leader(Some(target as i32));
                        if let Some(image) = image {
                            cluster.shared.install_image(last, image);
                        } else {
                            cluster.shared.apply_fetched(&records, last);
                        }
                        after = last;
                        warned = false;
                        continue;
                    }
                    Ok(Reply::Controller(ControllerReply::NotController { leader }, _)) => {
                        cluster.set_observed_leader(leader);
                        if leader.is_some() {
                            continue;
                        }
                    }
                    Ok(other) => tracing::debug!("unexpected metadata fetch reply {other:?}"),
                    Err(e) => {
                        cluster.set_observed_leader(None);
                        if !warned {
                            tracing::warn!(
                                controller = target,
                                "cannot fetch the metadata log ({e}); retrying"
                            );
                            warned = true;
                        }
                    }
                }
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        });
    }

    /// A broker-only node learned which voter is the active controller (or that it does not
    /// know).
    fn set_observed_leader(&self, id: Option<i32>) {
        if let Role::Observer { leader } = &self.role {
            *leader.lock() = id;
        }
    }

    /// The controller's tick every 250 ms, and the elections (on connections of their own, so
    /// that a pre-vote never waits behind a snapshot chunk or a controller request).
    fn start_timers(self: &Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Role::Voter {
            raft,
            controller,
            elector,
        } = &self.role
        else {
            return;
        };
        let controller = controller.clone();
        let raft = raft.clone();
        let network = Network::new(Arc::new(voter_clients(
            &self.config,
            &self.cluster_id,
            self.node_id,
        )));
        let elections = tokio::spawn(elector.clone().run(network));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.changed() => {
                        elections.abort();
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

/// One client per voter, by node id, for its CONTROLLER listener.
fn voter_clients(cc: &ClusterConfig, cluster_id: &str, from: i32) -> BTreeMap<NodeId, Arc<Client>> {
    cc.voters
        .iter()
        .map(|v| {
            let addr = format!("{}:{}", v.host, v.port);
            (
                v.id as NodeId,
                Arc::new(Client::new(addr, cluster_id.to_string(), from)),
            )
        })
        .collect()
}

/// One request on the CONTROLLER listener from node `from`: Raft's RPCs go to openraft through
/// the elector (which notes contact with the leader), pre-votes to the elector.
async fn serve_one(
    elector: &Elector,
    controller: &Controller,
    from: i32,
    request: Request,
) -> Reply {
    let from = from as NodeId;
    match request {
        Request::Append(r) => Reply::Append(elector.append_entries(from, r).await),
        Request::Vote(r) => Reply::Vote(elector.vote(r).await),
        Request::Snapshot(r) => Reply::Snapshot(elector.install_snapshot(from, r).await),
        Request::PreVote(r) => Reply::PreVote(elector.pre_vote(&r)),
        Request::Controller(r) => {
            let reply = controller.handle(r).await;
            Reply::Controller(reply, controller.applied_index())
        }
    }
}
