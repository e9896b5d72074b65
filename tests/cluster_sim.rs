//! A simulation of the metadata quorum: N openraft nodes (3, and 5 where it is cheap) in one
//! process, each with the real [`LogStore`] and [`StateMachine`] on its own temporary directory,
//! connected by an in-memory network with a link matrix: any link can be cut both ways or one
//! way, and (for one scenario) a request kind can be held back on a link. A cut link answers
//! `RPCError::Unreachable`. Every request and every reply goes through serde_json, as on the
//! CONTROLLER listener. Each node runs fjord's [`Elector`] as src/cluster/mod.rs does: elections
//! are its (Pre-Vote first; openraft's own timer is off), its pre-votes travel the same links,
//! and Raft's RPCs reach openraft through it. The timing is src/cluster/mod.rs's
//! `ELECTION_TIMING` (heartbeat 100 ms, election timeout 500–1000 ms drawn anew for every wait).
//!
//! Time is tokio's paused clock (`start_paused`; the `test-util` feature is a dev-dependency):
//! nothing waits in real time, and when every task is idle the clock jumps to the next timer
//! (heartbeats, election timeouts, the test's own sleeps). The log store's file IO runs on blocking
//! threads, and tokio does not advance the paused clock while one runs, so a slow disk never
//! looks like a slow peer. Bounds in the assertions ("a leader within 4 s") are simulated time;
//! the whole file takes a few seconds of wall time.
//!
//! **Deterministic:** the clock; the network (delivery is instantaneous and in order unless a
//! delay is set; a cut request direction fails at once, a cut reply direction drops the reply
//! after the target handled the request); every record, uuid and chaos schedule (fixed seeds,
//! [`Rng`]); the order of each scenario's steps; each node's election timeouts (its elector is
//! seeded from the scenario's seed, the node id and the boot).
//! **Not deterministic:** the interleaving of blocking file IO with the tasks, so which node
//! wins a timer-driven election, and when, can still vary between runs. Assertions therefore
//! state what must hold whoever wins, within bounds that hold for every draw. The split-vote
//! scenarios take the draws out: either every node gets the same timeout (min 500, max 501) or
//! the timers are off and elections are triggered explicitly at one instant.
//!
//! **Scenarios:** 1 formation and a batch of every record kind (exact image); 2 the leader
//! isolated (failover, a write on the old leader never commits and vanishes after the heal);
//! 3 a minority cut off (lags, then catches up); 4 no quorum anywhere (nothing commits for
//! 10 s; after the heal writes commit, and the write left pending has one fate everywhere);
//! 5 restart from disk (a node away past a snapshot and purge is caught up by a multi-chunk
//! snapshot; then every node restarts from its directory); 6 split votes (simultaneous
//! candidacies, tied timeouts, tied timeouts with unequal logs, two leaders of one term, a
//! leader deposed by a losing candidate of its own term; `failover_survey`, ignored by default,
//! counts terms and time over hundreds of failovers); 6b Pre-Vote (a voter cut off for 30 s,
//! then deaf to the leader alone, never raises the term nor deposes the leader; scenarios 2 and
//! 3 also check that an isolated leader is replaced within two election timeouts and follows its
//! successor once healed, and that a healed minority leaves the leader and term alone); 7
//! seeded chaos (random cuts, heals, restarts and writes, then convergence); 8 the controller
//! on top (AlterPartition shrinking and expanding an ISR through the quorum, a stale partition
//! epoch refused; the node leading a partition and the quorum dies, and the new controller
//! fences its broker and elects the next leader from the ISR; a partition reassigned from
//! [1, 2] to [2, 3], completed by the AlterPartition that brings 3 into the ISR, and a second
//! reassignment cancelled).
//!
//! Scenarios 1–7 write records straight into Raft. Scenario 8 also runs fjord's [`Controller`]
//! on every node, with the timers src/cluster/mod.rs gives it (its tick every 250 ms) and each
//! node's broker heartbeating to the active controller, which it finds as a broker does (the
//! controller that does not answer NotController); these requests go through serde_json too,
//! and a cut link cuts them. Its sessions run on the simulated clock.
//!
//! **Checked everywhere** (a [`History`] fed by an observer task per node and by
//! [`Sim::check_safety`]): each node's image at applied index i equals every other node's image
//! at i; each node's committed and applied entries (read back through its `LogReader`) equal
//! the entries every other node committed at the same index; every acknowledged `client_write`
//! is in the committed log at the log id it was acknowledged with; and each node's image equals
//! a fresh replay of the agreed log up to its applied index. At the end of each scenario the
//! history must cover every index of the agreed log.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use fjord::clock::Clock;
use fjord::cluster::ELECTION_TIMING;
use fjord::cluster::controller::{
    ApiError, Controller, ControllerReply, ControllerRequest, NewTopic, OngoingReassignment,
    Reassignment,
};
use fjord::cluster::image::Image;
use fjord::cluster::raft::election::{
    Elector, PreVoteNetwork, PreVoteRequest, PreVoteResponse, Timing,
};
use fjord::cluster::raft::state_machine::{Shared, StateMachine};
use fjord::cluster::raft::store::{LogReader, LogStore};
use fjord::cluster::raft::types::{LogId, NodeId, Raft, TypeConfig};
use fjord::cluster::records::{
    Endpoint, MetaRecord, MetaResponse, PartitionChange, PartitionState,
};
use fjord::config::ClusterConfig;
use fjord::error::KafkaError;
use openraft::error::{
    ClientWriteError, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, ClientWriteResponse, InstallSnapshotRequest,
    InstallSnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::storage::{RaftLogReader, RaftLogStorage};
use openraft::{BasicNode, Config, EntryPayload, RaftMetrics, ServerState, SnapshotPolicy};
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};
use uuid::Uuid;

type Entry = openraft::Entry<TypeConfig>;
type Metrics = RaftMetrics<NodeId, BasicNode>;
type WriteResult =
    Result<ClientWriteResponse<TypeConfig>, RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>>;

const MS: Duration = Duration::from_millis(1);

// ---------------------------------------------------------------------------------------------
// Configuration and seeded randomness

/// A simulated cluster's settings: when its voters campaign (each node runs fjord's
/// [`Elector`]) and openraft's config, which `Timing::raft_config` derives from that timing.
#[derive(Clone)]
struct Settings {
    timing: Timing,
    raft: Config,
}

impl Settings {
    fn new(timing: Timing, raft: Config) -> Settings {
        Settings {
            timing,
            raft: timing.raft_config(raft),
        }
    }
}

/// src/cluster/mod.rs's settings: its `ELECTION_TIMING` (heartbeat 100 ms, election timeout
/// 500–1000 ms), a snapshot every 1000 entries keeping 500.
fn production_config() -> Settings {
    Settings::new(
        ELECTION_TIMING,
        Config {
            cluster_name: "fjord-sim".into(),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(1000),
            max_in_snapshot_log_to_keep: 500,
            ..Default::default()
        },
    )
}

/// The same timing, with a snapshot every 8 entries keeping only 2 and sent in 256-byte chunks,
/// so a node that was away must be caught up by a (multi-chunk) snapshot.
fn snapshot_config() -> Settings {
    let production = production_config();
    Settings {
        raft: Config {
            snapshot_policy: SnapshotPolicy::LogsSinceLast(8),
            max_in_snapshot_log_to_keep: 2,
            snapshot_max_chunk_size: 256,
            ..production.raft
        },
        ..production
    }
}

/// The same timing, but every node draws the same election timeout (500 ms): nodes that last
/// heard from the leader at the same instant ask for pre-votes, and campaign, at the same
/// instant.
fn tied_config() -> Settings {
    Settings::new(
        Timing {
            max: ELECTION_TIMING.min + MS,
            ..ELECTION_TIMING
        },
        production_config().raft,
    )
}

/// splitmix64: the records' uuids and the chaos schedules.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn uuid(&mut self) -> Uuid {
        Uuid::from_u64_pair(self.next(), self.next())
    }
}

// ---------------------------------------------------------------------------------------------
// Records

fn register(rng: &mut Rng, node_id: i32) -> MetaRecord {
    MetaRecord::RegisterBroker {
        node_id,
        incarnation: rng.uuid(),
        endpoints: vec![Endpoint {
            listener: "PLAINTEXT".into(),
            host: format!("broker-{node_id}"),
            port: 9092,
        }],
        rack: Some(format!("rack-{}", node_id % 2)),
    }
}

fn part(partition: i32, replicas: &[i32]) -> PartitionState {
    PartitionState {
        partition,
        replicas: replicas.to_vec(),
        isr: replicas.to_vec(),
        leader: replicas[0],
        leader_epoch: 0,
        partition_epoch: 0,
        adding_replicas: vec![],
        removing_replicas: vec![],
    }
}

/// Partitions `first..first + count`, replicas rotated over brokers 1..=3.
fn parts(first: i32, count: i32) -> Vec<PartitionState> {
    (first..first + count)
        .map(|p| {
            let r = |k: i32| (p + k).rem_euclid(3) + 1;
            part(p, &[r(0), r(1), r(2)])
        })
        .collect()
}

fn topic(id: Uuid, name: &str, partitions: i32) -> MetaRecord {
    MetaRecord::Topic {
        name: name.into(),
        id,
        configs: BTreeMap::new(),
        partitions: parts(0, partitions),
    }
}

fn is_topic_named(entry: &Entry, wanted: &str) -> bool {
    matches!(&entry.payload, EntryPayload::Normal(MetaRecord::Topic { name, .. }) if name == wanted)
}

// ---------------------------------------------------------------------------------------------
// The network

/// Which nodes are up, which directed links are cut, and what was delivered.
#[derive(Default)]
struct Router {
    inner: Mutex<Links>,
}

#[derive(Default)]
struct Links {
    /// The running nodes' electors: Raft's RPCs reach openraft through them, as on the
    /// CONTROLLER listener.
    up: BTreeMap<NodeId, Arc<Elector>>,
    /// (from, to): messages from `from` to `to` are lost.
    cut: BTreeSet<(NodeId, NodeId)>,
    /// RPCs handed to the target, by (target, kind).
    delivered: BTreeMap<(NodeId, &'static str), u64>,
    /// Pre-votes each candidate asked for (delivered or not), by candidate.
    pre_votes_asked: BTreeMap<NodeId, u64>,
    /// (from, to, kind): requests held back this long (simulated) before delivery.
    delays: BTreeMap<(NodeId, NodeId, &'static str), Duration>,
    /// The controllers of running nodes (scenario 8).
    controllers: BTreeMap<NodeId, Arc<Controller>>,
}

impl Router {
    fn delay(&self, from: NodeId, to: NodeId, kind: &'static str) -> Option<Duration> {
        self.inner.lock().delays.get(&(from, to, kind)).copied()
    }

    /// The target's elector if a request from `from` reaches it.
    fn route(&self, from: NodeId, to: NodeId, kind: &'static str) -> Option<Arc<Elector>> {
        let mut links = self.inner.lock();
        if links.cut.contains(&(from, to)) {
            return None;
        }
        let elector = links.up.get(&to).cloned()?;
        *links.delivered.entry((to, kind)).or_default() += 1;
        Some(elector)
    }

    fn link_up(&self, from: NodeId, to: NodeId) -> bool {
        !self.inner.lock().cut.contains(&(from, to))
    }

    fn delivered(&self, to: NodeId, kind: &'static str) -> u64 {
        self.inner
            .lock()
            .delivered
            .get(&(to, kind))
            .copied()
            .unwrap_or(0)
    }

    /// A request from node `from`'s broker to the active controller, found as a broker finds
    /// it: each controller it reaches in turn, until one does not answer NotController. None:
    /// no controller answered (none reachable, or none leads).
    async fn ask_controller(
        &self,
        from: NodeId,
        req: &ControllerRequest,
    ) -> Option<ControllerReply> {
        let reachable: Vec<(NodeId, Arc<Controller>)> = {
            let links = self.inner.lock();
            links
                .controllers
                .iter()
                .filter(|(to, _)| !links.cut.contains(&(from, **to)))
                .map(|(to, c)| (*to, c.clone()))
                .collect()
        };
        for (to, controller) in reachable {
            let reply = wire(&controller.handle(wire(req)).await);
            if self.link_up(to, from) && !matches!(reply, ControllerReply::NotController { .. }) {
                return Some(reply);
            }
        }
        None
    }
}

/// openraft's view of the network from one node.
struct Net {
    from: NodeId,
    router: Arc<Router>,
}

impl RaftNetworkFactory<TypeConfig> for Net {
    type Network = Client;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Client {
        Client {
            from: self.from,
            to: target,
            router: self.router.clone(),
        }
    }
}

struct Client {
    from: NodeId,
    to: NodeId,
    router: Arc<Router>,
}

type RpcErr<E> = RPCError<NodeId, BasicNode, RaftError<NodeId, E>>;

/// Through the wire format and back.
fn wire<T: Serialize + DeserializeOwned>(v: &T) -> T {
    let bytes = serde_json::to_vec(v).expect("an RPC serializes");
    serde_json::from_slice(&bytes).expect("an RPC deserializes")
}

impl Client {
    fn unreachable<E: std::error::Error>(&self, why: &str) -> RpcErr<E> {
        let e = io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("{} -> {}: {why}", self.from, self.to),
        );
        RPCError::Unreachable(Unreachable::new(&e))
    }

    /// Deliver `req` to the target's `Elector` (serde round trip both ways), unless the link is
    /// cut or the target is down; a reply on a cut return link is lost after the target
    /// handled the request. `ttl` bounds the call as the real network's client timeout does.
    async fn call<Req, Resp, E, Fut>(
        &self,
        kind: &'static str,
        req: Req,
        ttl: Duration,
        handle: impl FnOnce(Arc<Elector>, Req) -> Fut,
    ) -> Result<Resp, RpcErr<E>>
    where
        Req: Serialize + DeserializeOwned,
        Result<Resp, RaftError<NodeId, E>>: Serialize + DeserializeOwned,
        E: std::error::Error,
        Fut: Future<Output = Result<Resp, RaftError<NodeId, E>>>,
    {
        if let Some(delay) = self.router.delay(self.from, self.to, kind) {
            sleep(delay).await;
        }
        let Some(elector) = self.router.route(self.from, self.to, kind) else {
            return Err(self.unreachable("link cut or node down"));
        };
        let reply = match tokio::time::timeout(ttl, handle(elector, wire(&req))).await {
            Ok(reply) => wire(&reply),
            Err(_) => {
                let e = io::Error::new(io::ErrorKind::TimedOut, format!("{kind} timed out"));
                return Err(RPCError::Network(NetworkError::new(&e)));
            }
        };
        if !self.router.link_up(self.to, self.from) {
            return Err(self.unreachable("reply lost: return link cut"));
        }
        reply.map_err(|e| RPCError::RemoteError(RemoteError::new(self.to, e)))
    }
}

impl RaftNetwork<TypeConfig> for Client {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcErr<openraft::error::Infallible>> {
        let from = self.from;
        self.call("append", rpc, option.hard_ttl(), |e, r| async move {
            e.append_entries(from, r).await
        })
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcErr<openraft::error::Infallible>> {
        self.call("vote", rpc, option.hard_ttl(), |e, r| async move {
            e.vote(r).await
        })
        .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcErr<InstallSnapshotError>> {
        // As src/cluster/raft/network.rs: a chunk may take longer than a heartbeat.
        let ttl = option.hard_ttl().max(Duration::from_secs(5));
        let from = self.from;
        self.call("snapshot", rpc, ttl, |e, r| async move {
            e.install_snapshot(from, r).await
        })
        .await
    }
}

/// The elector's pre-votes from one node, over the same links: a cut request direction fails at
/// once, a cut reply direction loses the answer.
struct PreVotes {
    from: NodeId,
    router: Arc<Router>,
}

impl PreVoteNetwork for PreVotes {
    async fn pre_vote(
        &self,
        to: NodeId,
        req: PreVoteRequest,
        _timeout: Duration,
    ) -> io::Result<PreVoteResponse> {
        *self
            .router
            .inner
            .lock()
            .pre_votes_asked
            .entry(self.from)
            .or_default() += 1;
        if let Some(delay) = self.router.delay(self.from, to, "prevote") {
            sleep(delay).await;
        }
        let refused = |why: &str| {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{} -> {to}: {why}", self.from),
            )
        };
        let Some(elector) = self.router.route(self.from, to, "prevote") else {
            return Err(refused("link cut or node down"));
        };
        let reply = wire(&elector.pre_vote(&wire(&req)));
        if !self.router.link_up(to, self.from) {
            return Err(refused("reply lost: return link cut"));
        }
        Ok(reply)
    }
}

// ---------------------------------------------------------------------------------------------
// The safety checker

/// What every node agreed on so far; the first node to report an index sets it, every later
/// report must match.
#[derive(Default)]
struct History {
    /// Committed (or applied) entries by index: (JSON of the whole entry, the entry, first node).
    entries: BTreeMap<u64, (String, Entry, NodeId)>,
    /// The image after applying up to an index: (image, first node).
    images: BTreeMap<u64, (Image, NodeId)>,
    /// Acknowledged writes: index → (log id, JSON of the record).
    acked: BTreeMap<u64, (LogId, String)>,
    violations: Vec<String>,
}

impl History {
    fn entry(&mut self, node: NodeId, entry: &Entry) {
        let json = serde_json::to_string(entry).expect("an entry serializes");
        let index = entry.log_id.index;
        if let Some((log_id, _)) = self.acked.get(&index)
            && *log_id != entry.log_id
        {
            self.violations.push(format!(
                "node {node} committed {} at index {index}, but {log_id} was acknowledged there",
                entry.log_id
            ));
        }
        match self.entries.get(&index) {
            Some((seen, _, first)) if *seen != json => self.violations.push(format!(
                "index {index}: node {node} committed {json}, node {first} committed {seen}"
            )),
            Some(_) => {}
            None => {
                self.entries.insert(index, (json, entry.clone(), node));
            }
        }
    }

    fn image(&mut self, node: NodeId, index: u64, image: Image) {
        match self.images.get(&index) {
            Some((seen, first)) if *seen != image => self.violations.push(format!(
                "applied index {index}: node {node} has image {image:?}, node {first} had {seen:?}"
            )),
            Some(_) => {}
            None => {
                self.images.insert(index, (image, node));
            }
        }
    }

    fn ack(&mut self, log_id: LogId, record: &MetaRecord) {
        let json = serde_json::to_string(record).expect("a record serializes");
        if let Some((json_seen, entry, node)) = self.entries.get(&log_id.index) {
            let same = entry.log_id == log_id
                && matches!(&entry.payload, EntryPayload::Normal(r) if r == record);
            if !same {
                self.violations.push(format!(
                    "write {json} acknowledged at {log_id}, but node {node} committed {json_seen} there"
                ));
            }
        }
        self.acked.insert(log_id.index, (log_id, json));
    }
}

/// Follows one node's state machine: at every change, its image and the entries it applied.
async fn observe(
    node: NodeId,
    shared: Arc<Shared>,
    log: LogReader<TypeConfig>,
    history: Arc<Mutex<History>>,
) {
    let mut rx = shared.subscribe();
    let mut next = 0;
    loop {
        // The state machine bumps the watch right after a batch, with no await in between, and
        // this runtime has one thread: the image read here is the image at `index`.
        let index = *rx.borrow_and_update();
        let image = shared.image.read().clone();
        let entries = log
            .clone()
            .try_get_log_entries(next..=index)
            .await
            .expect("the log reader never fails");
        {
            let mut h = history.lock();
            h.image(node, index, image);
            for e in &entries {
                h.entry(node, e);
            }
        }
        // The watch starts at 0 before anything is applied: move on only past what was read.
        if let Some(last) = entries.last() {
            next = last.log_id.index + 1;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The simulated cluster

struct SimNode {
    dir: TempDir,
    raft: Option<Raft>,
    /// Of the node's latest run (kept when it stops, to inspect what it had).
    shared: Option<Arc<Shared>>,
    log: Option<LogReader<TypeConfig>>,
    observer: Option<JoinHandle<()>>,
    /// The controller's tick and the broker's heartbeats (scenario 8).
    timers: Option<JoinHandle<()>>,
    elector: Option<Arc<Elector>>,
    /// The elector's timer (`Elector::run`).
    elections: Option<JoinHandle<()>>,
}

struct Sim {
    name: String,
    timing: Timing,
    config: Arc<Config>,
    /// The scenario's seed, and how many times a node booted: each elector's seed.
    seed: u64,
    boots: u64,
    router: Arc<Router>,
    nodes: BTreeMap<NodeId, SimNode>,
    history: Arc<Mutex<History>>,
    rng: Rng,
}

impl Sim {
    /// `n` nodes (ids 1..=n), started but not initialized.
    async fn new(name: &str, n: u64, settings: Settings, seed: u64) -> Sim {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let mut sim = Sim {
            name: name.into(),
            timing: settings.timing,
            config: Arc::new(settings.raft.validate().expect("valid Raft config")),
            seed,
            boots: 0,
            router: Arc::default(),
            nodes: BTreeMap::new(),
            history: Arc::default(),
            rng: Rng(seed),
        };
        for id in 1..=n {
            let dir = tempfile::tempdir().expect("tempdir");
            sim.nodes.insert(
                id,
                SimNode {
                    dir,
                    raft: None,
                    shared: None,
                    log: None,
                    observer: None,
                    timers: None,
                    elector: None,
                    elections: None,
                },
            );
            sim.boot(id).await;
        }
        sim
    }

    fn ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    fn up(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.raft.is_some())
            .map(|(&id, _)| id)
            .collect()
    }

    /// Open the node's log and state machine from its directory and start Raft on them, with
    /// its elector (seeded from the scenario's seed, the node and the boot).
    async fn boot(&mut self, id: NodeId) {
        self.boots += 1;
        let seed = self.seed ^ (id << 32) ^ (self.boots << 48);
        let node = self.nodes.get_mut(&id).expect("known node");
        assert!(node.raft.is_none(), "node {id} is already running");
        let dir = node.dir.path();
        let mut store = LogStore::<TypeConfig>::open(dir).expect("open the log store");
        let sm = StateMachine::open(dir).expect("open the state machine");
        let log = store.get_log_reader().await;
        let shared = sm.shared();
        let net = Net {
            from: id,
            router: self.router.clone(),
        };
        let raft = Raft::new(id, self.config.clone(), net, store, sm)
            .await
            .expect("Raft starts");
        let elector = Elector::new(id, raft.clone(), self.timing, seed);
        self.router.inner.lock().up.insert(id, elector.clone());
        let pre_votes = PreVotes {
            from: id,
            router: self.router.clone(),
        };
        node.elections = Some(tokio::spawn(elector.clone().run(pre_votes)));
        node.elector = Some(elector);
        node.observer = Some(tokio::spawn(observe(
            id,
            shared.clone(),
            log.clone(),
            self.history.clone(),
        )));
        node.raft = Some(raft);
        node.shared = Some(shared);
        node.log = Some(log);
    }

    /// Shut the node down (its directory stays).
    async fn stop(&mut self, id: NodeId) {
        {
            let mut links = self.router.inner.lock();
            links.up.remove(&id);
            links.controllers.remove(&id);
        }
        let node = self.nodes.get_mut(&id).expect("known node");
        if let Some(t) = node.timers.take() {
            t.abort();
        }
        if let Some(e) = node.elections.take() {
            e.abort();
        }
        node.elector = None;
        let raft = node.raft.take().expect("node is running");
        raft.shutdown().await.expect("clean shutdown");
        if let Some(o) = node.observer.take() {
            o.abort();
        }
    }

    /// Form the quorum as fjord does: `initialize` on every node with the same voter set.
    async fn initialize_all(&self) {
        let members: BTreeMap<NodeId, BasicNode> = self
            .ids()
            .into_iter()
            .map(|id| (id, BasicNode::new(format!("sim-{id}"))))
            .collect();
        for id in self.ids() {
            match self.raft(id).initialize(members.clone()).await {
                Ok(())
                | Err(RaftError::APIError(openraft::error::InitializeError::NotAllowed(_))) => {}
                Err(e) => panic!("initialize on node {id}: {e}"),
            }
        }
    }

    /// Run fjord's controller on every running node, each broker heartbeating as the
    /// incarnation the image registered.
    fn start_controllers(&mut self) {
        for id in self.up() {
            let incarnation = self.image(id).brokers[&(id as i32)].incarnation;
            self.start_controller(id, incarnation);
        }
    }

    /// Run fjord's controller on a running node, with its timers: the controller's tick every
    /// 250 ms (as src/cluster/mod.rs) and the node's broker heartbeating as `incarnation` every
    /// `broker.heartbeat.interval.ms`.
    fn start_controller(&mut self, id: NodeId, incarnation: Uuid) {
        let node = self.nodes.get_mut(&id).expect("known node");
        let raft = node.raft.clone().expect("node is running");
        let shared = node.shared.clone().expect("node is running");
        let log = node.log.clone().expect("node is running");
        let config = controller_config();
        let heartbeat = Duration::from_millis(config.broker_heartbeat_interval_ms as u64);
        let controller = Arc::new(Controller::new(
            id as i32,
            raft,
            shared,
            config,
            Arc::new(SimClock(Instant::now())),
            log,
        ));
        self.router
            .inner
            .lock()
            .controllers
            .insert(id, controller.clone());
        let router = self.router.clone();
        node.timers = Some(tokio::spawn(async move {
            let ticks = async {
                let mut tick = tokio::time::interval(250 * MS);
                loop {
                    tick.tick().await;
                    controller.tick().await;
                }
            };
            let heartbeats = async {
                let mut beat = tokio::time::interval(heartbeat);
                let req = ControllerRequest::Heartbeat {
                    node_id: id as i32,
                    incarnation,
                };
                loop {
                    beat.tick().await;
                    router.ask_controller(id, &req).await;
                }
            };
            tokio::join!(ticks, heartbeats);
        }));
    }

    /// Topic `t` created through the controller; its id.
    async fn create_topic(&self, from: NodeId, t: NewTopic) -> Uuid {
        let name = t.name.clone();
        let req = ControllerRequest::CreateTopics {
            topics: vec![t],
            validate_only: false,
        };
        match self.ask(from, req).await {
            ControllerReply::Created(mut r) if r.len() == 1 => match r.remove(0) {
                Ok(created) => created.id,
                Err(e) => panic!("[{}] creating {name}: {e:?}", self.name),
            },
            other => panic!("[{}] creating {name}: {other:?}", self.name),
        }
    }

    /// A request from node `from`'s broker that some controller must answer within 5 s.
    async fn ask(&self, from: NodeId, req: ControllerRequest) -> ControllerReply {
        let start = Instant::now();
        loop {
            if let Some(reply) = self.router.ask_controller(from, &req).await {
                return reply;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "[{}] no controller answered {req:?} from node {from}\n{}",
                self.name,
                self.dump()
            );
            sleep(100 * MS).await;
        }
    }

    fn raft(&self, id: NodeId) -> &Raft {
        self.nodes[&id].raft.as_ref().expect("node is running")
    }

    fn elector(&self, id: NodeId) -> &Elector {
        self.nodes[&id].elector.as_ref().expect("node is running")
    }

    fn metrics(&self, id: NodeId) -> Metrics {
        self.raft(id).metrics().borrow().clone()
    }

    fn image(&self, id: NodeId) -> Image {
        self.nodes[&id]
            .shared
            .as_ref()
            .expect("node ran")
            .image
            .read()
            .clone()
    }

    fn applied(&self, id: NodeId) -> u64 {
        self.nodes[&id]
            .shared
            .as_ref()
            .expect("node ran")
            .applied_index()
    }

    async fn committed(&self, id: NodeId) -> Option<LogId> {
        self.raft(id)
            .with_raft_state(|st| st.committed)
            .await
            .expect("node is running")
    }

    /// Every entry in the node's log (of its latest run, running or not).
    async fn log_entries(&self, id: NodeId) -> Vec<Entry> {
        self.nodes[&id]
            .log
            .clone()
            .expect("node ran")
            .try_get_log_entries(..)
            .await
            .expect("the log reader never fails")
    }

    // --- the link matrix

    fn cut_one_way(&self, from: NodeId, to: NodeId) {
        self.router.inner.lock().cut.insert((from, to));
    }

    fn cut(&self, a: NodeId, b: NodeId) {
        self.cut_one_way(a, b);
        self.cut_one_way(b, a);
    }

    fn isolate(&self, id: NodeId) {
        for other in self.ids() {
            if other != id {
                self.cut(id, other);
            }
        }
    }

    /// Cut every link between nodes of different groups.
    fn partition(&self, groups: &[&[NodeId]]) {
        for (i, a) in groups.iter().enumerate() {
            for b in &groups[i + 1..] {
                for &x in a.iter() {
                    for &y in b.iter() {
                        self.cut(x, y);
                    }
                }
            }
        }
    }

    fn heal(&self) {
        self.router.inner.lock().cut.clear();
    }

    fn delay(&self, from: NodeId, to: NodeId, kind: &'static str, by: Duration) {
        self.router.inner.lock().delays.insert((from, to, kind), by);
    }

    /// Turn the election timer (the elector's) of every running node on or off
    /// (`trigger().elect()` works either way).
    fn elections(&self, enabled: bool) {
        for id in self.up() {
            self.elector(id).set_enabled(enabled);
        }
    }

    // --- waiting (simulated time)

    /// Poll `cond` every 10 ms of simulated time; panic with the cluster's state after `limit`.
    async fn until(
        &self,
        limit: Duration,
        what: &str,
        mut cond: impl FnMut(&Sim) -> bool,
    ) -> Duration {
        let start = Instant::now();
        loop {
            if cond(self) {
                return start.elapsed();
            }
            if start.elapsed() > limit {
                panic!(
                    "[{}] not within {limit:?} of simulated time: {what}\n{}",
                    self.name,
                    self.dump()
                );
            }
            sleep(10 * MS).await;
        }
    }

    /// The one leader of `group` if exactly one member is Leader and every member follows it
    /// in its term.
    fn stable_leader(&self, group: &[NodeId]) -> Option<NodeId> {
        let ms: Vec<Metrics> = group.iter().map(|&id| self.metrics(id)).collect();
        let leaders: Vec<&Metrics> = ms
            .iter()
            .filter(|m| m.state == ServerState::Leader)
            .collect();
        let [leader] = leaders[..] else {
            return None;
        };
        ms.iter()
            .all(|m| {
                m.current_leader == Some(leader.id)
                    && m.current_term == leader.current_term
                    && m.vote.is_committed()
            })
            .then_some(leader.id)
    }

    async fn await_leader(&self, group: &[NodeId], limit: Duration) -> (NodeId, Duration) {
        let took = self
            .until(limit, &format!("one leader among {group:?}"), |s| {
                s.stable_leader(group).is_some()
            })
            .await;
        (self.stable_leader(group).expect("just seen"), took)
    }

    /// Every member of `group` has applied the same index as the others and the same last log
    /// id, and their images are equal.
    async fn await_converged(&self, group: &[NodeId], limit: Duration) -> Duration {
        self.until(limit, &format!("{group:?} converged"), |s| {
            s.converged(group)
        })
        .await
    }

    fn converged(&self, group: &[NodeId]) -> bool {
        let first = self.metrics(group[0]);
        let img = self.image(group[0]);
        group.iter().all(|&id| {
            let m = self.metrics(id);
            m.last_applied == first.last_applied
                && m.last_log_index == first.last_log_index
                && m.last_applied.map(|l| l.index) == m.last_log_index
                && self.applied(id) == self.applied(group[0])
                && self.image(id) == img
        })
    }

    // --- writes

    /// `client_write` on node `id`, giving up after `limit` (simulated). An acknowledged write
    /// goes into the history.
    async fn write(
        &self,
        id: NodeId,
        record: MetaRecord,
        limit: Duration,
    ) -> Result<ClientWriteResponse<TypeConfig>, String> {
        let res = tokio::time::timeout(limit, self.raft(id).client_write(record.clone())).await;
        match res {
            Ok(Ok(resp)) => {
                self.history.lock().ack(resp.log_id, &record);
                Ok(resp)
            }
            Ok(Err(e)) => Err(format!("error: {e}")),
            Err(_) => Err(format!("no answer within {limit:?}")),
        }
    }

    /// A write that must commit through `leader` within a second.
    async fn write_ok(
        &self,
        leader: NodeId,
        record: MetaRecord,
    ) -> ClientWriteResponse<TypeConfig> {
        match self
            .write(leader, record.clone(), Duration::from_secs(1))
            .await
        {
            Ok(resp) => resp,
            Err(e) => panic!(
                "[{}] write {record:?} through node {leader}: {e}\n{}",
                self.name,
                self.dump()
            ),
        }
    }

    /// `client_write` on node `id` in a task of its own, for a write that may never commit.
    fn write_pending(&self, id: NodeId, record: MetaRecord) -> JoinHandle<WriteResult> {
        let raft = self.raft(id).clone();
        tokio::spawn(async move { raft.client_write(record).await })
    }

    // --- checks

    /// The agreed log replayed into a fresh image up to `upto`; None if the history misses an
    /// entry below it.
    fn replay(&self, upto: u64) -> Option<Image> {
        let h = self.history.lock();
        let mut image = Image::default();
        for index in 0..=upto {
            let (_, entry, _) = h.entries.get(&index)?;
            if let EntryPayload::Normal(record) = &entry.payload {
                image.apply(index, record);
            }
        }
        Some(image)
    }

    /// The safety invariants at this instant (see the module docs), on every running node.
    async fn check_safety(&self) {
        for id in self.up() {
            let m = self.metrics(id);
            assert!(
                m.running_state.is_ok(),
                "[{}] node {id} failed: {:?}",
                self.name,
                m.running_state
            );
            let committed = self.committed(id).await;
            let applied = m.last_applied;
            assert!(
                applied <= committed,
                "[{}] node {id} applied {applied:?} beyond committed {committed:?}",
                self.name
            );
            if let Some(c) = committed {
                let entries = self.nodes[&id]
                    .log
                    .clone()
                    .expect("running")
                    .try_get_log_entries(..=c.index)
                    .await
                    .expect("the log reader never fails");
                if let Some(last) = entries.last() {
                    assert_eq!(
                        last.log_id, c,
                        "[{}] node {id}: committed {c} but its log has {} there",
                        self.name, last.log_id
                    );
                }
                let mut h = self.history.lock();
                for e in &entries {
                    h.entry(id, e);
                }
            }
            let index = self.applied(id);
            let image = self.image(id);
            self.history.lock().image(id, index, image.clone());
            if let Some(replayed) = self.replay(index) {
                assert_eq!(
                    image, replayed,
                    "[{}] node {id}: image at {index} differs from a replay of the agreed log",
                    self.name
                );
            }
        }
        let h = self.history.lock();
        assert!(
            h.violations.is_empty(),
            "[{}] safety violations:\n{}",
            self.name,
            h.violations.join("\n")
        );
        // Every acknowledged write is in the agreed log at the id it was acknowledged with.
        for (index, (log_id, json)) in &h.acked {
            if let Some((_, entry, _)) = h.entries.get(index) {
                assert_eq!(entry.log_id, *log_id, "[{}] acked write {json}", self.name);
            }
        }
    }

    /// The agreed log's normal entries are exactly the acknowledged writes (no write that
    /// failed or was never answered took effect).
    fn assert_log_is_acked_writes(&self) {
        let h = self.history.lock();
        let normal: BTreeMap<u64, LogId> = h
            .entries
            .iter()
            .filter(|(_, (_, e, _))| matches!(e.payload, EntryPayload::Normal(_)))
            .map(|(&i, (_, e, _))| (i, e.log_id))
            .collect();
        let acked: BTreeMap<u64, LogId> = h.acked.iter().map(|(&i, (l, _))| (i, *l)).collect();
        assert_eq!(
            normal, acked,
            "[{}] the committed records are the acknowledged writes",
            self.name
        );
    }

    /// Every node's image equals the replay of the agreed log up to its applied index, which is
    /// `index` on all of them.
    async fn assert_images(&self, group: &[NodeId], index: u64) {
        self.check_safety().await;
        let expected = self
            .replay(index)
            .unwrap_or_else(|| panic!("[{}] the history misses entries below {index}", self.name));
        for &id in group {
            assert_eq!(
                self.applied(id),
                index,
                "[{}] node {id} applied index",
                self.name
            );
            assert_eq!(self.image(id), expected, "[{}] node {id} image", self.name);
        }
    }

    fn dump(&self) -> String {
        let mut out = String::new();
        for (id, node) in &self.nodes {
            match &node.raft {
                None => out.push_str(&format!("  node {id}: down\n")),
                Some(r) => {
                    let m = r.metrics().borrow().clone();
                    out.push_str(&format!(
                        "  node {id}: {:?} term {} vote {} leader {:?} last_log {:?} applied {:?} snapshot {:?} purged {:?}\n",
                        m.state,
                        m.current_term,
                        m.vote,
                        m.current_leader,
                        m.last_log_index,
                        m.last_applied,
                        m.snapshot,
                        m.purged
                    ));
                }
            }
        }
        out.push_str(&format!(
            "  cut links: {:?}\n",
            self.router.inner.lock().cut
        ));
        out
    }

    async fn finish(mut self) {
        self.check_safety().await;
        // The checker saw the whole agreed log and an image at many indexes, on every node.
        let top = self
            .up()
            .iter()
            .map(|&id| self.applied(id))
            .max()
            .unwrap_or(0);
        {
            let h = self.history.lock();
            let seen: Vec<u64> = h.entries.keys().copied().collect();
            assert_eq!(
                seen,
                (0..=top).collect::<Vec<_>>(),
                "[{}] entries checked",
                self.name
            );
            let reporters: BTreeSet<NodeId> = h.images.values().map(|(_, n)| *n).collect();
            assert!(
                h.images.len() as u64 > top / 2,
                "[{}] images checked",
                self.name
            );
            assert!(!reporters.is_empty());
        }
        for id in self.up() {
            self.stop(id).await;
        }
    }

    /// Form the cluster and register brokers 1..=3 through its leader.
    async fn form(&mut self) -> NodeId {
        self.initialize_all().await;
        let all = self.ids();
        let (leader, took) = self.await_leader(&all, Duration::from_secs(5)).await;
        assert!(took <= Duration::from_secs(5));
        for b in 1..=3 {
            let r = register(&mut self.rng, b);
            self.write_ok(leader, r).await;
        }
        self.await_converged(&all, Duration::from_secs(2)).await;
        leader
    }

    /// A new topic through `leader`, named `name`, with a seeded id.
    async fn add_topic(
        &mut self,
        leader: NodeId,
        name: &str,
        partitions: i32,
    ) -> ClientWriteResponse<TypeConfig> {
        let id = self.rng.uuid();
        self.write_ok(leader, topic(id, name, partitions)).await
    }
}

fn others(all: &[NodeId], but: &[NodeId]) -> Vec<NodeId> {
    all.iter().copied().filter(|id| !but.contains(id)).collect()
}

// ---------------------------------------------------------------------------------------------
// The controller on top (scenario 8)

/// Simulated milliseconds since the controller started: its broker sessions.
struct SimClock(Instant);

impl Clock for SimClock {
    fn now_ms(&self) -> i64 {
        self.0.elapsed().as_millis() as i64
    }
}

/// Kafka's defaults for sessions and heartbeats (9 s, 2 s).
fn controller_config() -> ClusterConfig {
    ClusterConfig {
        broker: true,
        controller: true,
        voters: vec![],
        controller_listener: None,
        inter_broker_listener: "PLAINTEXT".into(),
        broker_session_timeout_ms: 9000,
        broker_heartbeat_interval_ms: 2000,
        offsets_topic_replication_factor: 3,
        transaction_state_log_replication_factor: 3,
        offsets_topic_num_partitions: 50,
        transaction_state_log_num_partitions: 50,
        replication: Default::default(),
    }
}

fn altered(reply: ControllerReply) -> PartitionState {
    match reply {
        ControllerReply::PartitionAltered(state) => state,
        other => panic!("AlterPartition refused: {other:?}"),
    }
}

fn refused(reply: ControllerReply) -> ApiError {
    match reply {
        ControllerReply::Error(e) => e,
        other => panic!("AlterPartition not refused: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Formation

async fn formation(n: u64) {
    let mut sim = Sim::new(&format!("formation-{n}"), n, production_config(), 1).await;
    let all = sim.ids();
    sim.initialize_all().await;
    let (leader, took) = sim.await_leader(&all, Duration::from_secs(5)).await;
    let leaders = all
        .iter()
        .filter(|&&id| sim.metrics(id).state == ServerState::Leader)
        .count();
    assert_eq!(leaders, 1, "exactly one leader");
    eprintln!("[formation-{n}] leader {leader} after {took:?}");

    let rng = &mut sim.rng;
    let orders = rng.uuid();
    let doomed = rng.uuid();
    let ghost_topic = rng.uuid();
    let mut moved = parts(0, 1).remove(0);
    moved.leader = moved.replicas[1];
    moved.leader_epoch = 1;
    moved.partition_epoch = 1;
    let configs: BTreeMap<String, String> =
        [("cleanup.policy", "compact"), ("retention.ms", "1000")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let batch = vec![
        (register(rng, 1), true),
        (register(rng, 2), true),
        (register(rng, 3), true),
        (topic(orders, "orders", 3), true),
        (topic(doomed, "doomed", 1), true),
        (
            MetaRecord::AddPartitions {
                topic_id: orders,
                partitions: parts(3, 2),
            },
            true,
        ),
        (
            MetaRecord::TopicConfigs {
                id: orders,
                configs: configs.clone(),
            },
            true,
        ),
        (MetaRecord::RemoveTopic { id: doomed }, true),
        (
            MetaRecord::PartitionChanges(vec![PartitionChange {
                topic_id: orders,
                state: moved.clone(),
            }]),
            true,
        ),
        (
            MetaRecord::ProducerIds {
                node_id: 1,
                first: 0,
                size: 1000,
            },
            true,
        ),
        (
            MetaRecord::ProducerIds {
                node_id: 2,
                first: 1000,
                size: 1000,
            },
            true,
        ),
        (
            MetaRecord::Acls {
                created: vec![fjord::security::acl::AclBinding {
                    pattern: fjord::security::acl::ResourcePattern {
                        resource_type: fjord::security::acl::ResourceType::Topic,
                        name: "orders".into(),
                        pattern_type: fjord::security::acl::PatternType::Prefixed,
                    },
                    entry: fjord::security::acl::AccessControlEntry {
                        principal: "User:alice".into(),
                        host: "*".into(),
                        operation: fjord::security::acl::AclOperation::Read,
                        permission: fjord::security::acl::AclPermissionType::Allow,
                    },
                }],
                deleted: vec![],
            },
            true,
        ),
        (
            MetaRecord::ScramCredentials(vec![
                fjord::security::acl::credentials::CredentialChange::Set {
                    user: "alice".into(),
                    mechanism: "SCRAM-SHA-256".into(),
                    credential: fjord::security::acl::credentials::StoredCredential {
                        salt: vec![1, 2],
                        stored_key: vec![3],
                        server_key: vec![4],
                        iterations: 4096,
                    },
                },
            ]),
            true,
        ),
        // Refused deterministically, on every node alike.
        (topic(ghost_topic, "orders", 1), false),
        (
            MetaRecord::AddPartitions {
                topic_id: orders,
                partitions: parts(9, 1),
            },
            false,
        ),
        (MetaRecord::RemoveTopic { id: doomed }, false),
    ];
    let mut epochs = Vec::new();
    let mut last = 0;
    for (record, applies) in batch {
        let resp = sim.write_ok(leader, record.clone()).await;
        assert_eq!(
            matches!(resp.data, MetaResponse::Applied),
            applies,
            "{record:?} → {:?}",
            resp.data
        );
        if matches!(record, MetaRecord::RegisterBroker { .. }) {
            epochs.push(resp.log_id.index as i64);
        }
        assert!(resp.log_id.index > last);
        last = resp.log_id.index;
    }
    sim.await_converged(&all, Duration::from_secs(2)).await;
    let applied = sim.applied(leader);
    // Index 0: the membership; then each elected leader's blank entry and the 16 records.
    assert_eq!(applied, last);
    assert!(last >= 17);
    sim.assert_images(&all, applied).await;
    sim.assert_log_is_acked_writes();

    let img = sim.image(leader);
    assert_eq!(img.brokers.len(), 3);
    for (b, epoch) in (1..=3).zip(&epochs) {
        let broker = &img.brokers[&b];
        assert_eq!(broker.epoch, *epoch);
        assert!(!broker.fenced);
        assert_eq!(
            broker.endpoint("PLAINTEXT").unwrap().host,
            format!("broker-{b}")
        );
    }
    assert_eq!(img.topics.keys().collect::<Vec<_>>(), ["orders"]);
    let t = &img.topics["orders"];
    assert_eq!(t.id, orders);
    assert_eq!(t.configs, configs);
    assert_eq!(t.partitions.len(), 5);
    assert_eq!(t.partitions[0], moved);
    assert_eq!(t.partitions[1..], parts(1, 4)[..]);
    assert!(img.topic_by_id(doomed).is_none());
    assert_eq!(img.topic_by_id(orders).unwrap().name, "orders");
    assert_eq!(img.next_producer_id, 2000);
    assert_eq!(img.acls.len(), 1);
    assert_eq!(
        img.scram_credentials["alice"]["SCRAM-SHA-256"].iterations,
        4096
    );
    for &id in &all {
        assert_eq!(sim.image(id), img, "node {id}");
    }
    sim.finish().await;
}

#[tokio::test(start_paused = true)]
async fn formation_3() {
    formation(3).await;
}

#[tokio::test(start_paused = true)]
async fn formation_5() {
    formation(5).await;
}

// ---------------------------------------------------------------------------------------------
// 2. The leader isolated

async fn leader_isolated(n: u64) {
    let name = format!("leader-isolated-{n}");
    let mut sim = Sim::new(&name, n, production_config(), 2).await;
    let all = sim.ids();
    let old = sim.form().await;
    sim.add_topic(old, "before", 2).await;
    sim.await_converged(&all, Duration::from_secs(2)).await;

    sim.isolate(old);
    let rest = others(&all, &[old]);
    // The first follower whose election timeout (< 1000 ms) passes after the old leader's last
    // heartbeat asks for pre-votes; the others grant them (they have not heard from it for 500
    // ms either), and one round of votes elects it. Two election timeouts at most, in case two
    // candidates tie.
    let bound = 2 * ELECTION_TIMING.max + ELECTION_TIMING.heartbeat;
    let (new, took) = sim.await_leader(&rest, bound).await;
    assert_ne!(new, old);
    let new_term = sim.metrics(new).current_term;
    eprintln!(
        "[{name}] node {new} leads term {new_term} after {took:?} (old leader {old} isolated)"
    );
    for i in 0..3 {
        sim.add_topic(new, &format!("after-{i}"), 1).await;
    }
    sim.await_converged(&rest, Duration::from_secs(2)).await;

    // A write on the isolated old leader: appended to its own log, never committed.
    let old_applied = sim.applied(old);
    let old_image = sim.image(old);
    let old_last_log = sim.metrics(old).last_log_index;
    let ghost_id = sim.rng.uuid();
    let ghost = sim.write_pending(old, topic(ghost_id, "ghost", 1));
    sleep(Duration::from_secs(5)).await;
    assert!(
        !ghost.is_finished(),
        "the isolated leader answered the ghost write"
    );
    let m = sim.metrics(old);
    eprintln!(
        "[{name}] isolated old leader after 5 s: {:?} term {}, millis_since_quorum_ack {:?}",
        m.state, m.current_term, m.millis_since_quorum_ack
    );
    // openraft 0.9 has no check-quorum: the old leader stays Leader; the metric shows it.
    assert!(m.millis_since_quorum_ack.is_some_and(|ms| ms >= 5000));
    assert_eq!(
        m.last_log_index,
        old_last_log.map(|i| i + 1),
        "ghost appended locally"
    );
    assert_eq!(sim.applied(old), old_applied);
    assert_eq!(sim.image(old), old_image);
    assert!(sim.committed(old).await.map(|c| c.index) <= old_last_log);
    // What fjord's controller asks before serving a request: refused at once, not hung.
    let check = tokio::time::timeout(Duration::from_secs(1), sim.raft(old).ensure_linearizable())
        .await
        .expect("ensure_linearizable answers on an isolated leader");
    eprintln!("[{name}] ensure_linearizable on the isolated old leader: {check:?}");
    assert!(check.is_err());
    sim.check_safety().await;

    sim.heal();
    // The old leader sees the higher term and follows its successor; it never campaigned (it
    // led all along), and the others hear their leader: nobody campaigns.
    let (leader, took) = sim.await_leader(&all, Duration::from_secs(6)).await;
    eprintln!("[{name}] healed: node {leader} leads all after {took:?}");
    assert_eq!(
        (leader, sim.metrics(leader).current_term),
        (new, new_term),
        "the successor keeps leading, in its term"
    );
    assert_eq!(sim.metrics(old).state, ServerState::Follower);
    let answer = tokio::time::timeout(Duration::from_secs(5), ghost)
        .await
        .expect("the ghost write is answered once the old leader steps down")
        .expect("task");
    let err = answer.expect_err("the ghost write must not succeed");
    eprintln!("[{name}] the ghost write got: {err}");
    sim.add_topic(leader, "healed", 1).await;
    sim.await_converged(&all, Duration::from_secs(3)).await;
    let index = sim.applied(leader);
    sim.assert_images(&all, index).await;
    sim.check_safety().await;
    sim.assert_log_is_acked_writes();
    for &id in &all {
        assert!(!sim.image(id).topics.contains_key("ghost"));
        let ghosts = sim
            .log_entries(id)
            .await
            .iter()
            .filter(|e| is_topic_named(e, "ghost"))
            .count();
        assert_eq!(ghosts, 0, "node {id} still has the ghost entry in its log");
    }
    sim.finish().await;
}

#[tokio::test(start_paused = true)]
async fn leader_isolated_3() {
    leader_isolated(3).await;
}

#[tokio::test(start_paused = true)]
async fn leader_isolated_5() {
    leader_isolated(5).await;
}

// ---------------------------------------------------------------------------------------------
// 3. A minority cut off

async fn minority_partition(n: u64) {
    let name = format!("minority-{n}");
    let mut sim = Sim::new(&name, n, production_config(), 3).await;
    let all = sim.ids();
    let leader = sim.form().await;
    sim.add_topic(leader, "before", 3).await;
    sim.await_converged(&all, Duration::from_secs(2)).await;

    let cut: Vec<NodeId> = others(&all, &[leader])
        .into_iter()
        .take((n as usize - 1) / 2)
        .collect();
    let majority = others(&all, &cut);
    let before_index = sim.applied(leader);
    let before_image = sim.image(leader);
    for &c in &cut {
        sim.isolate(c);
    }
    for i in 0..20 {
        sim.add_topic(leader, &format!("t{i}"), 1 + i % 3).await;
    }
    sim.await_converged(&majority, Duration::from_secs(2)).await;
    // Let the cut nodes time out and campaign in vain for a while.
    sleep(Duration::from_secs(5)).await;
    assert_eq!(
        sim.stable_leader(&majority),
        Some(leader),
        "the majority kept its leader"
    );
    let after_index = sim.applied(leader);
    assert_eq!(after_index, before_index + 20);
    for &c in &cut {
        assert_eq!(sim.applied(c), before_index, "node {c} lags");
        assert_eq!(sim.image(c), before_image, "node {c} lags");
        assert_ne!(sim.image(c), sim.image(leader));
        assert_ne!(sim.metrics(c).state, ServerState::Leader);
    }
    let cut_terms: Vec<u64> = cut.iter().map(|&c| sim.metrics(c).current_term).collect();
    let term = sim.metrics(leader).current_term;
    // They asked for pre-votes in vain: nobody granted them, so nobody campaigned.
    assert_eq!(
        cut_terms,
        vec![term; cut.len()],
        "a cut node raised its term"
    );
    sim.check_safety().await;

    sim.heal();
    // The cut nodes come back in the leader's term, and the others refuse their pre-votes (they
    // hear the leader): the leader is never deposed, and some node always leads.
    let healed = Instant::now();
    let mut leaderless = Duration::ZERO;
    let mut converged = None;
    while healed.elapsed() < Duration::from_secs(4) || converged.is_none() {
        assert!(
            healed.elapsed() < Duration::from_secs(8),
            "[{name}] no convergence\n{}",
            sim.dump()
        );
        if !all
            .iter()
            .any(|&id| sim.metrics(id).state == ServerState::Leader)
        {
            leaderless += 10 * MS;
        }
        let m = sim.metrics(leader);
        assert_eq!(
            (m.state, m.current_term),
            (ServerState::Leader, term),
            "[{name}] the leader was deposed after the heal\n{}",
            sim.dump()
        );
        if converged.is_none() && sim.converged(&all) && sim.stable_leader(&all).is_some() {
            converged = Some(healed.elapsed());
        }
        sleep(10 * MS).await;
    }
    let (now, _) = sim.await_leader(&all, Duration::from_secs(6)).await;
    eprintln!(
        "[{name}] healed: converged {:?} after the heal, no leader for {leaderless:?} of the first 4 s; leader {leader} (term {term}) → {now} (term {}); the cut nodes had reached terms {cut_terms:?}",
        converged.unwrap(),
        sim.metrics(now).current_term
    );
    assert_eq!((now, leaderless), (leader, Duration::ZERO));
    sim.add_topic(now, "healed", 1).await;
    sim.await_converged(&all, Duration::from_secs(3)).await;
    let index = sim.applied(now);
    sim.assert_images(&all, index).await;
    sim.check_safety().await;
    sim.assert_log_is_acked_writes();
    sim.finish().await;
}

#[tokio::test(start_paused = true)]
async fn minority_partition_3() {
    minority_partition(3).await;
}

#[tokio::test(start_paused = true)]
async fn minority_partition_5() {
    minority_partition(5).await;
}

// ---------------------------------------------------------------------------------------------
// 4. No quorum anywhere

/// Nobody can win a pre-vote without a quorum, so no node raises its term while cut off.
/// `old_leader_returns`: after the heal only the old leader's election timer runs (it never
/// stopped leading), so it keeps leading in its term and commits the write it took during the
/// partition; otherwise the followers may take over first (they have not heard from it for 10
/// s, so they grant each other's pre-votes), and that write's fate is whatever it is, but the
/// same on every node.
async fn no_quorum(n: u64, old_leader_returns: bool) {
    let name = format!("no-quorum-{n}");
    let mut sim = Sim::new(&name, n, production_config(), 4).await;
    let all = sim.ids();
    let leader = sim.form().await;
    sim.add_topic(leader, "before", 1).await;
    sim.await_converged(&all, Duration::from_secs(2)).await;

    // 3 nodes: each alone. 5 nodes: {leader, a}, {b, c}, {d}.
    let groups: Vec<Vec<NodeId>> = if n == 3 {
        all.iter().map(|&id| vec![id]).collect()
    } else {
        let o = others(&all, &[leader]);
        vec![vec![leader, o[0]], vec![o[1], o[2]], vec![o[3]]]
    };
    let group_refs: Vec<&[NodeId]> = groups.iter().map(|g| &g[..]).collect();
    sim.partition(&group_refs);

    let mut before = BTreeMap::new();
    for &id in &all {
        before.insert(
            id,
            (sim.committed(id).await, sim.applied(id), sim.image(id)),
        );
    }
    let limbo_id = sim.rng.uuid();
    let limbo_record = topic(limbo_id, "limbo", 1);
    let limbo = sim.write_pending(leader, limbo_record.clone());
    let start = Instant::now();
    let mut tried = BTreeSet::new();
    while start.elapsed() < Duration::from_secs(10) {
        // A node other than the old leader that thinks it leads is offered a write: it must
        // not commit (and no such node should exist).
        for &id in &all {
            if sim.metrics(id).state == ServerState::Leader && id != leader && tried.insert(id) {
                let r = topic(sim.rng.uuid(), &format!("stray-{id}"), 1);
                let res = sim.write(id, r, Duration::from_secs(2)).await;
                assert!(res.is_err(), "node {id} committed a write without a quorum");
            }
        }
        for &id in &all {
            let (committed, applied, image) = &before[&id];
            assert_eq!(sim.committed(id).await, *committed, "node {id} committed");
            assert_eq!(sim.applied(id), *applied, "node {id} applied");
            assert_eq!(&sim.image(id), image, "node {id} image");
        }
        sleep(100 * MS).await;
    }
    assert!(
        tried.is_empty(),
        "a second leader without a quorum: {tried:?}"
    );
    assert!(
        !limbo.is_finished(),
        "the write without quorum was answered"
    );
    for id in others(&all, &[leader]) {
        let r = topic(sim.rng.uuid(), "refused", 1);
        let res = sim.write(id, r, Duration::from_secs(1)).await;
        assert!(res.is_err(), "node {id} committed a write without a quorum");
    }
    sim.check_safety().await;
    eprintln!(
        "[{name}] 10 s without quorum: nothing committed\n{}",
        sim.dump()
    );

    if old_leader_returns {
        for id in others(&all, &[leader]) {
            sim.elector(id).set_enabled(false);
        }
    }
    let term = sim.metrics(leader).current_term;
    for &id in &all {
        assert_eq!(sim.metrics(id).current_term, term, "node {id} campaigned");
    }
    sim.heal();
    // Every node still names the old leader in its term: a leader is known only once the logs
    // agree again, when its pending entry is committed by it or dropped by a new leader (the
    // race between its heartbeats, after openraft's replication backoff, and the followers'
    // pre-votes).
    let took = sim.await_converged(&all, Duration::from_secs(8)).await;
    let (now, _) = sim.await_leader(&all, Duration::from_secs(1)).await;
    eprintln!(
        "[{name}] healed: logs agree after {took:?}; node {now} leads in term {} (was node {leader} in term {term})",
        sim.metrics(now).current_term
    );
    sim.elections(true);
    if old_leader_returns {
        assert_eq!((now, sim.metrics(now).current_term), (leader, term));
    }
    sim.add_topic(now, "healed", 2).await;
    sim.await_converged(&all, Duration::from_secs(3)).await;
    // The write left pending on the old leader has an outcome now, and it is the same on
    // every node.
    let outcome = tokio::time::timeout(Duration::from_secs(5), limbo)
        .await
        .expect("the pending write is answered after the heal")
        .expect("task");
    let present: Vec<bool> = all
        .iter()
        .map(|&id| sim.image(id).topics.contains_key("limbo"))
        .collect();
    assert!(
        present.iter().all(|&x| x == present[0]),
        "limbo on some nodes only"
    );
    eprintln!(
        "[{name}] the write taken without quorum: client got {}; committed: {}",
        match &outcome {
            Ok(r) => format!("Ok at {}", r.log_id),
            Err(e) => format!("Err({e})"),
        },
        present[0]
    );
    if let Ok(resp) = &outcome {
        assert!(present[0], "acknowledged but absent");
        sim.history.lock().ack(resp.log_id, &limbo_record);
    }
    if old_leader_returns {
        // Its entry commits in its term, and the client that waited all along is told so.
        assert!(
            present[0],
            "the old leader, still leading, commits its pending entry"
        );
        assert!(outcome.is_ok(), "committed, so acknowledged");
    }
    for id in sim.ids() {
        let img = sim.image(id);
        assert!(
            !img.topics
                .keys()
                .any(|t| t.starts_with("stray") || t == "refused")
        );
    }
    let index = sim.applied(now);
    sim.assert_images(&all, index).await;
    sim.finish().await;
}

#[tokio::test(start_paused = true)]
async fn no_quorum_3() {
    no_quorum(3, false).await;
}

#[tokio::test(start_paused = true)]
async fn no_quorum_5() {
    no_quorum(5, false).await;
}

#[tokio::test(start_paused = true)]
async fn no_quorum_old_leader_returns() {
    no_quorum(3, true).await;
}

// ---------------------------------------------------------------------------------------------
// 5. Restart from disk

#[tokio::test(start_paused = true)]
async fn restart_from_disk() {
    let name = "restart";
    let mut sim = Sim::new(name, 3, snapshot_config(), 5).await;
    let all = sim.ids();
    let leader = sim.form().await;
    sim.add_topic(leader, "early", 2).await;
    sim.await_converged(&all, Duration::from_secs(2)).await;

    // One follower away while the others write enough to snapshot and purge past its log.
    let away = others(&all, &[leader])[0];
    let away_last = sim.metrics(away).last_log_index.expect("has a log");
    sim.stop(away).await;
    let rest = others(&all, &[away]);
    for i in 0..40 {
        sim.add_topic(leader, &format!("while-away-{i}"), 4).await;
    }
    sim.await_converged(&rest, Duration::from_secs(2)).await;
    sim.until(
        Duration::from_secs(5),
        "the leader purged past the stopped node's log",
        |s| {
            s.metrics(leader)
                .purged
                .is_some_and(|p| p.index > away_last + 1)
        },
    )
    .await;
    let snapshot_len = serde_json::to_vec(&sim.image(leader)).unwrap().len();
    assert!(snapshot_len > 4 * 256, "the snapshot takes several chunks");
    let snapshots_before = sim.router.delivered(away, "snapshot");

    sim.boot(away).await;
    let took = sim.await_converged(&all, Duration::from_secs(5)).await;
    let chunks = sim.router.delivered(away, "snapshot") - snapshots_before;
    let m = sim.metrics(away);
    eprintln!(
        "[{name}] node {away} restarted (log ended at {away_last}; leader purged to {:?}): caught up in {took:?} with {chunks} snapshot chunks; its snapshot {:?}",
        sim.metrics(leader).purged,
        m.snapshot
    );
    assert!(chunks >= 2, "caught up by a multi-chunk snapshot");
    assert!(m.snapshot.is_some_and(|s| s.index > away_last));
    let index = sim.applied(leader);
    sim.assert_images(&all, index).await;
    sim.check_safety().await;

    // Everyone down, everyone back from their directories.
    let image = sim.image(leader);
    for &id in &all {
        sim.stop(id).await;
    }
    for &id in &all {
        sim.boot(id).await;
    }
    // Each node rebuilds its image from its snapshot and its committed log, before any
    // leader exists.
    for &id in &all {
        assert_eq!(
            sim.applied(id),
            index,
            "node {id} re-applied its committed log"
        );
        assert_eq!(sim.image(id), image, "node {id} image after restart");
    }
    let (again, took) = sim.await_leader(&all, Duration::from_secs(5)).await;
    eprintln!("[{name}] all restarted: node {again} leads after {took:?}");
    for i in 0..12 {
        sim.add_topic(again, &format!("after-restart-{i}"), 1).await;
    }
    sim.await_converged(&all, Duration::from_secs(3)).await;
    let index = sim.applied(again);
    sim.assert_images(&all, index).await;
    sim.check_safety().await;
    sim.assert_log_is_acked_writes();
    sim.finish().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Split votes

/// How a failover round starts its elections.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Campaign {
    /// The electors' timers (pre-votes, then an election).
    Timers,
    /// Timers off until the survivors' lease has expired, then every survivor triggers an
    /// election at the same instant; timers back on right after.
    AllAtOnce,
}

/// One failover: (old leader, new leader, terms it took, simulated time).
type Failover = (NodeId, NodeId, u64, Duration);

/// `rounds` failovers: isolate the leader, wait for a leader among the others (within
/// `limit`), write through it, heal, converge. Safety is checked after every round.
async fn failovers(
    sim: &mut Sim,
    rounds: usize,
    campaign: Campaign,
    limit: Duration,
) -> Vec<Failover> {
    let all = sim.ids();
    let mut leader = sim.stable_leader(&all).expect("a leader to start from");
    let mut out = Vec::new();
    for round in 0..rounds {
        if campaign == Campaign::AllAtOnce {
            sim.elections(false);
        }
        sim.isolate(leader);
        let rest = others(&all, &[leader]);
        let start = Instant::now();
        let terms: BTreeSet<u64> = rest
            .iter()
            .map(|&id| sim.metrics(id).current_term)
            .collect();
        assert_eq!(terms.len(), 1, "round {round}: the survivors share a term");
        let term = *terms.first().unwrap();
        if campaign == Campaign::AllAtOnce {
            // Past openraft's lease (its `election_timeout_max`, 400 ms): the survivors grant
            // votes again.
            sleep(Duration::from_millis(1100)).await;
            for &id in &rest {
                sim.raft(id).trigger().elect().await.expect("running");
            }
            sim.elections(true);
        }
        let took = sim.await_leader(&rest, limit).await.1;
        let new = sim.stable_leader(&rest).expect("just seen");
        let used = sim.metrics(new).current_term - term;
        let took = match campaign {
            Campaign::Timers => took,
            Campaign::AllAtOnce => start.elapsed() - Duration::from_millis(1100),
        };
        out.push((leader, new, used, took));
        sim.add_topic(new, &format!("round-{round}"), 1).await;
        sim.heal();
        sim.await_converged(&all, Duration::from_secs(6)).await;
        leader = sim.await_leader(&all, Duration::from_secs(6)).await.0;
        sim.check_safety().await;
    }
    out
}

/// With election timers off, the leader is isolated and, once the survivors' leader lease
/// has expired, every survivor starts an election at the same instant.
async fn simultaneous_elections(n: u64, rounds: usize, limit: Duration) -> Vec<Failover> {
    let name = format!("simultaneous-elections-{n}");
    let mut sim = Sim::new(&name, n, production_config(), 6).await;
    let all = sim.ids();
    sim.form().await;
    let log = failovers(&mut sim, rounds, Campaign::AllAtOnce, limit).await;
    eprintln!("[{name}] (old leader, new leader, terms, time) per round: {log:?}");
    let index = sim.applied(log.last().unwrap().1);
    sim.assert_images(&all, index).await;
    sim.assert_log_is_acked_writes();
    sim.finish().await;
    log
}

/// Three nodes: the two survivors campaign in the same term; the higher id's request is
/// granted by the lower one (a vote is (term, node id)), and the lower one cannot win without
/// the higher one's vote. So every round elects the higher survivor, in that one term.
#[tokio::test(start_paused = true)]
async fn simultaneous_elections_3() {
    let log = simultaneous_elections(3, 10, Duration::from_secs(1)).await;
    for (old, new, terms, took) in log {
        let higher = (1..=3).filter(|&id| id != old).max().unwrap();
        assert_eq!((new, terms), (higher, 1), "{took:?}");
    }
}

/// Five nodes: four candidates in one term. The term's winner can be deposed at once by a
/// higher-id candidate of the same term that lost (see `same_term_candidate_deposes_leader`);
/// the timers elect another leader then. Bound: lease + 2 election timeouts and change.
#[tokio::test(start_paused = true)]
async fn simultaneous_elections_5() {
    simultaneous_elections(5, 6, Duration::from_secs(6)).await;
}

/// Two leaders of the same term, at once (openraft 0.9 without `single-term-leader`: a vote is
/// (term, node id), and a voter that granted (t, a) grants (t, b) too when b > a). Five nodes;
/// the old leader isolated, candidates a < b that cannot reach each other, two voters that see
/// both. a's requests reach the voters first, b's 5 ms later, and a's appends (its blank
/// leader entry) only after 20 ms: both win term t, and for 20 ms both are Leader. Only b can
/// commit; a write through a fails and leaves no trace.
#[tokio::test(start_paused = true)]
async fn two_leaders_one_term() {
    let name = "two-leaders-one-term";
    let mut sim = Sim::new(name, 5, production_config(), 9).await;
    let all = sim.ids();
    let old = sim.form().await;
    let rest = others(&all, &[old]);
    let (a, b, voters) = (rest[0], rest[3], [rest[1], rest[2]]);
    sim.elections(false);
    sim.isolate(old);
    sim.cut(a, b);
    for v in voters {
        sim.delay(b, v, "vote", 5 * MS);
        sim.delay(a, v, "append", 20 * MS);
    }
    sleep(Duration::from_millis(1100)).await;
    let term = sim.metrics(a).current_term;
    assert_eq!(sim.metrics(b).current_term, term);
    sim.raft(a).trigger().elect().await.unwrap();
    sim.raft(b).trigger().elect().await.unwrap();
    sleep(10 * MS).await;
    let (ma, mb) = (sim.metrics(a), sim.metrics(b));
    eprintln!(
        "[{name}] 10 ms after both campaigns: node {a} {:?} vote {}, node {b} {:?} vote {}",
        ma.state, ma.vote, mb.state, mb.vote
    );
    assert_eq!(ma.state, ServerState::Leader);
    assert_eq!(mb.state, ServerState::Leader);
    assert_eq!(ma.current_term, term + 1);
    assert_eq!(mb.current_term, term + 1);
    let r = topic(sim.rng.uuid(), "from-a", 1);
    let res = sim.write(a, r, Duration::from_secs(1)).await;
    eprintln!("[{name}] write through node {a}: {res:?}");
    assert!(res.is_err(), "the lesser leader of the term committed");
    assert_ne!(sim.metrics(a).state, ServerState::Leader, "a stepped down");
    let (leader, _) = sim
        .await_leader(&[b, voters[0], voters[1]], Duration::from_secs(1))
        .await;
    assert_eq!(leader, b);
    sim.add_topic(b, "from-b", 1).await;
    sim.router.inner.lock().delays.clear();
    sim.heal();
    sim.elections(true);
    let (leader, _) = sim.await_leader(&all, Duration::from_secs(6)).await;
    sim.add_topic(leader, "healed", 1).await;
    sim.await_converged(&all, Duration::from_secs(3)).await;
    let index = sim.applied(leader);
    sim.assert_images(&all, index).await;
    sim.assert_log_is_acked_writes();
    for &id in &all {
        assert!(!sim.image(id).topics.contains_key("from-a"));
        let n = sim
            .log_entries(id)
            .await
            .iter()
            .filter(|e| is_topic_named(e, "from-a"))
            .count();
        assert_eq!(n, 0, "node {id} kept node {a}'s write in its log");
    }
    sim.finish().await;
}

/// `clusters` fresh clusters of `n` nodes with identical election timeouts; in each the leader
/// is isolated once. The survivors heard its last heartbeat at the same instant and draw the
/// same timeout, so they all ask for pre-votes, grant each other's and campaign at the same
/// instant (a tied round that elected nobody would tie again).
async fn tied_failover(n: u64, clusters: u64, limit: Duration) -> Vec<Failover> {
    let log = fresh_failovers("tied-failover", n, tied_config, clusters, limit).await;
    eprintln!("[tied-failover-{n}] (old leader, new leader, terms, time): {log:?}");
    log
}

/// One failover in each of `clusters` fresh clusters (fresh election timeout draws).
async fn fresh_failovers(
    name: &str,
    n: u64,
    config: fn() -> Settings,
    clusters: u64,
    limit: Duration,
) -> Vec<Failover> {
    let mut log = Vec::new();
    for c in 0..clusters {
        let name = format!("{name}-{n}-{c}");
        let mut sim = Sim::new(&name, n, config(), 70 + c).await;
        let all = sim.ids();
        sim.form().await;
        let f = failovers(&mut sim, 1, Campaign::Timers, limit).await;
        let index = sim.applied(f[0].1);
        sim.assert_images(&all, index).await;
        sim.assert_log_is_acked_writes();
        sim.finish().await;
        log.extend(f);
    }
    log
}

/// Three nodes tie and still elect the higher survivor in one term (the lower one grants it its
/// vote), one election timeout (500 ms) after the old leader's last heartbeat.
#[tokio::test(start_paused = true)]
async fn tied_failover_3() {
    for (old, new, terms, took) in tied_failover(3, 6, Duration::from_secs(2)).await {
        let higher = (1..=3).filter(|&id| id != old).max().unwrap();
        assert_eq!((new, terms), (higher, 1), "{took:?}");
        assert!(took <= Duration::from_millis(610), "{took:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn tied_failover_5() {
    tied_failover(5, 4, Duration::from_secs(6)).await;
}

/// Not run by default (`cargo test --test cluster_sim -- --ignored --nocapture`): many
/// failovers per setting, and how many terms and how much simulated time each took.
#[tokio::test(start_paused = true)]
#[ignore]
async fn failover_survey() {
    type Setting = (&'static str, u64, fn() -> Settings, Campaign, u64);
    let settings: [Setting; 6] = [
        (
            "production timers",
            3,
            production_config,
            Campaign::Timers,
            300,
        ),
        (
            "production timers",
            5,
            production_config,
            Campaign::Timers,
            300,
        ),
        ("tied timers", 3, tied_config, Campaign::Timers, 300),
        ("tied timers", 5, tied_config, Campaign::Timers, 300),
        (
            "all at once",
            3,
            production_config,
            Campaign::AllAtOnce,
            1000,
        ),
        (
            "all at once",
            5,
            production_config,
            Campaign::AllAtOnce,
            1000,
        ),
    ];
    for (what, n, config, campaign, count) in settings {
        let limit = Duration::from_secs(30);
        let log = match campaign {
            // Timer-driven: each failover in a fresh cluster (fresh timeout draws).
            Campaign::Timers => fresh_failovers(what, n, config, count, limit).await,
            Campaign::AllAtOnce => {
                let mut sim = Sim::new(what, n, config(), 100).await;
                sim.form().await;
                let log = failovers(&mut sim, count as usize, campaign, limit).await;
                sim.finish().await;
                log
            }
        };
        let mut terms: BTreeMap<u64, usize> = BTreeMap::new();
        for (_, _, t, _) in &log {
            *terms.entry(*t).or_default() += 1;
        }
        let mut times: Vec<Duration> = log.iter().map(|f| f.3).collect();
        times.sort();
        eprintln!(
            "[survey] {what}, {n} nodes: {} failovers; terms used → count {terms:?}; time min {:?} median {:?} p99 {:?} max {:?}",
            log.len(),
            times[0],
            times[times.len() / 2],
            times[times.len() * 99 / 100],
            times[times.len() - 1]
        );
    }
}

/// A leader deposed at once by a candidate of its own term that lost (openraft 0.9, advanced
/// leader ids): five nodes, the old leader isolated, election timers off. Candidates a < b
/// campaign at the same instant; a's requests reach the two voters first (b's arrive 5 ms
/// later; a's request to b 2 ms later), so a wins term t with {a, v1, v2}. Its first AppendEntries reaches b, still a
/// candidate with vote (t, b) > (t, a): b answers "higher vote", and a steps down. b cannot
/// win either (the voters hold a's lease, and a's blank entry makes their logs longer). The
/// term has no leader; only a later timer-driven election ends it.
#[tokio::test(start_paused = true)]
async fn same_term_candidate_deposes_leader() {
    let name = "same-term-deposition";
    let mut sim = Sim::new(name, 5, production_config(), 10).await;
    let all = sim.ids();
    let old = sim.form().await;
    let rest = others(&all, &[old]);
    let (a, b, voters) = (rest[0], rest[3], [rest[1], rest[2]]);
    sim.elections(false);
    sim.isolate(old);
    for to in [voters[0], voters[1], a] {
        sim.delay(b, to, "vote", 5 * MS);
    }
    // b's refusal of a's request (with its greater vote) would make a give up at once; let the
    // voters' grants arrive first.
    sim.delay(a, b, "vote", 2 * MS);
    sleep(Duration::from_millis(1100)).await;
    let term = sim.metrics(a).current_term;
    sim.raft(a).trigger().elect().await.unwrap();
    sim.raft(b).trigger().elect().await.unwrap();
    sleep(500 * MS).await;
    eprintln!(
        "[{name}] 500 ms after a = {a} and b = {b} campaigned:\n{}",
        sim.dump()
    );
    // The voters committed to a as the leader of term + 1: only an AppendEntries from an
    // elected leader commits a vote.
    for v in voters {
        let vote = sim.metrics(v).vote;
        assert_eq!((vote.leader_id.term, vote.leader_id.node_id), (term + 1, a));
        assert!(vote.is_committed(), "node {v}: {vote}");
    }
    // a stepped down to b's (uncommitted) vote; b is still a candidate; nobody leads.
    let ma = sim.metrics(a);
    assert_eq!(ma.state, ServerState::Follower);
    assert_eq!((ma.vote.leader_id.node_id, ma.vote.committed), (b, false));
    assert_eq!(sim.metrics(b).state, ServerState::Candidate);
    for &id in &rest {
        assert_ne!(sim.metrics(id).state, ServerState::Leader, "node {id}");
    }
    sim.router.inner.lock().delays.clear();
    sim.elections(true);
    let (leader, took) = sim.await_leader(&rest, Duration::from_secs(4)).await;
    eprintln!(
        "[{name}] timers on: node {leader} leads term {} after {took:?}",
        sim.metrics(leader).current_term
    );
    sim.add_topic(leader, "after", 1).await;
    sim.heal();
    sim.await_converged(&all, Duration::from_secs(6)).await;
    let index = sim.applied(leader);
    sim.assert_images(&all, index).await;
    sim.assert_log_is_acked_writes();
    sim.finish().await;
}

/// Tied timeouts, and the lower-id survivor has the longer log (the leader's entries reached
/// only it). Without Pre-Vote the higher-id survivor's candidacy could not win (its log is
/// shorter) but its vote would be the greater one of their term, so that term would elect
/// nobody. With it, the lower-id survivor refuses that pre-vote (its log is longer): only the
/// lower-id survivor campaigns, and it wins the next term.
#[tokio::test(start_paused = true)]
async fn tied_failover_unequal_logs() {
    let name = "tied-unequal-logs";
    let mut sim = Sim::new(name, 3, tied_config(), 8).await;
    let all = sim.ids();
    let leader = sim.form().await;
    let rest = others(&all, &[leader]);
    let (low, high) = (rest[0], rest[1]);
    // Entries reach `low` only (leader + low is a quorum: they commit).
    sim.cut_one_way(leader, high);
    for i in 0..3 {
        sim.add_topic(leader, &format!("low-only-{i}"), 1).await;
    }
    assert!(sim.metrics(low).last_log_index > sim.metrics(high).last_log_index);
    sim.isolate(leader);
    let term = sim
        .metrics(low)
        .current_term
        .max(sim.metrics(high).current_term);
    let (new, took) = sim.await_leader(&rest, Duration::from_secs(8)).await;
    let new_term = sim.metrics(new).current_term;
    eprintln!(
        "[{name}] node {new} (low {low}, high {high}) leads in term {new_term} (was {term}) after {took:?}"
    );
    assert_eq!(new, low, "only the longer log can win");
    assert_eq!(
        new_term,
        term + 1,
        "one term: the shorter log never campaigned"
    );
    sim.add_topic(new, "after", 1).await;
    sim.await_converged(&rest, Duration::from_secs(2)).await;
    sim.heal();
    sim.await_converged(&all, Duration::from_secs(6)).await;
    let index = sim.applied(new);
    sim.assert_images(&all, index).await;
    sim.check_safety().await;
    sim.assert_log_is_acked_writes();
    sim.finish().await;
}

// ---------------------------------------------------------------------------------------------
// 6b. Pre-Vote

/// A follower cut off from every other node for 30 s, then healed, then deaf to the leader alone
/// for 10 s (the leader's requests to it are lost; its own reach everyone). Nothing is written
/// meanwhile, so its log stays as up to date as anyone's: only the leader's liveness stands in
/// its way. It asks for pre-votes all along, but the leader refuses them (it leads) and so do
/// the other followers (they hear the leader), so it never campaigns: no node's term moves, no
/// vote request is sent, and the leader leads throughout. (Without Pre-Vote it campaigned alone
/// at ever higher terms, and deposed the leader when healed.)
async fn healed_voter_keeps_the_leader(n: u64) {
    let name = format!("healed-voter-{n}");
    let mut sim = Sim::new(&name, n, production_config(), 12).await;
    let all = sim.ids();
    let leader = sim.form().await;
    let term = sim.metrics(leader).current_term;
    let rest = others(&all, &[leader]);
    let away = rest[0];
    let votes = |sim: &Sim| -> u64 { all.iter().map(|&id| sim.router.delivered(id, "vote")).sum() };
    let votes_before = votes(&sim);
    let asked = |sim: &Sim| -> u64 {
        let links = sim.router.inner.lock();
        links.pre_votes_asked.get(&away).copied().unwrap_or(0)
    };
    // The leader leads in its term, and everybody else follows in that term.
    let check = |sim: &Sim, what: &str| {
        for &id in &all {
            let m = sim.metrics(id);
            let state = if id == leader {
                ServerState::Leader
            } else {
                ServerState::Follower
            };
            assert_eq!(
                (m.state, m.current_term),
                (state, term),
                "[{name}] {what}: node {id}\n{}",
                sim.dump()
            );
        }
    };

    // Cut off for 30 s.
    sim.isolate(away);
    let asked_before = asked(&sim);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        check(&sim, "cut off");
        sleep(50 * MS).await;
    }
    let rounds = (asked(&sim) - asked_before) / (n - 1);
    eprintln!(
        "[{name}] node {away} cut off for 30 s: {rounds} rounds of pre-votes, term still {term}, leader {leader}"
    );
    // A round per election timeout (< 1 s).
    assert!(rounds >= 29, "[{name}] {rounds} rounds of pre-votes");

    // Healed: it hears the leader again (after openraft's replication backoff).
    sim.heal();
    let healed = Instant::now();
    while healed.elapsed() < Duration::from_secs(3) {
        check(&sim, "healed");
        sleep(10 * MS).await;
    }
    sim.add_topic(leader, "healed", 1).await;
    sim.await_converged(&all, Duration::from_secs(1)).await;

    // Deaf to the leader alone for 10 s: its pre-votes reach every voter and are refused.
    sim.cut_one_way(leader, away);
    let asked_before = asked(&sim);
    let refusers_before: Vec<u64> = rest[1..]
        .iter()
        .map(|&id| sim.router.delivered(id, "prevote"))
        .collect();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        check(&sim, "deaf to the leader");
        sleep(50 * MS).await;
    }
    let rounds = (asked(&sim) - asked_before) / (n - 1);
    eprintln!("[{name}] node {away} deaf to the leader for 10 s: {rounds} rounds of pre-votes");
    assert!(rounds >= 9, "[{name}] {rounds} rounds of pre-votes");
    for (&id, before) in rest[1..].iter().zip(refusers_before) {
        assert!(
            sim.router.delivered(id, "prevote") >= before + rounds,
            "node {id} was asked"
        );
    }
    sim.heal();
    sim.add_topic(leader, "healed-again", 1).await;
    sim.await_converged(&all, Duration::from_secs(1)).await;
    check(&sim, "healed again");
    assert_eq!(
        votes(&sim),
        votes_before,
        "[{name}] a vote request was sent"
    );
    let index = sim.applied(leader);
    sim.assert_images(&all, index).await;
    sim.assert_log_is_acked_writes();
    sim.finish().await;
}

#[tokio::test(start_paused = true)]
async fn healed_voter_keeps_the_leader_3() {
    healed_voter_keeps_the_leader(3).await;
}

#[tokio::test(start_paused = true)]
async fn healed_voter_keeps_the_leader_5() {
    healed_voter_keeps_the_leader(5).await;
}

// ---------------------------------------------------------------------------------------------
// 7. Seeded chaos: random cuts, heals, restarts and writes; then everything must converge.

async fn chaos(seed: u64, n: u64, steps: usize) {
    let name = format!("chaos-{seed}-{n}");
    let mut sim = Sim::new(&name, n, snapshot_config(), seed).await;
    let all = sim.ids();
    sim.form().await;
    let mut acked = 0;
    let mut failed = 0;
    let mut restarts = 0;
    for step in 0..steps {
        match sim.rng.below(10) {
            0 | 1 => {
                let a = 1 + sim.rng.below(n);
                let b = 1 + sim.rng.below(n);
                if a != b {
                    if sim.rng.below(2) == 0 {
                        sim.cut(a, b);
                    } else {
                        sim.cut_one_way(a, b);
                    }
                }
            }
            2 => {
                let id = 1 + sim.rng.below(n);
                sim.isolate(id);
            }
            3 | 4 => sim.heal(),
            5 => {
                let id = 1 + sim.rng.below(n);
                let down = sim.up().len() < all.len();
                if sim.nodes[&id].raft.is_some() && !down {
                    sim.stop(id).await;
                } else if sim.nodes[&id].raft.is_none() {
                    sim.boot(id).await;
                    restarts += 1;
                }
            }
            _ => {
                let up = sim.up();
                let id = up[sim.rng.below(up.len() as u64) as usize];
                let t = topic(sim.rng.uuid(), &format!("s{step}"), 1 + (step % 3) as i32);
                match sim.write(id, t, Duration::from_millis(700)).await {
                    Ok(_) => acked += 1,
                    Err(_) => failed += 1,
                }
            }
        }
        let pause = sim.rng.below(1500);
        sleep(Duration::from_millis(pause)).await;
        if step % 10 == 9 {
            sim.check_safety().await;
        }
    }
    sim.heal();
    for id in all.clone() {
        if sim.nodes[&id].raft.is_none() {
            sim.boot(id).await;
        }
    }
    let (leader, took) = sim.await_leader(&all, Duration::from_secs(10)).await;
    sim.add_topic(leader, "final", 1).await;
    sim.await_converged(&all, Duration::from_secs(10)).await;
    eprintln!(
        "[{name}] {steps} steps: {acked} writes acknowledged, {failed} not, {restarts} restarts; leader {leader} {took:?} after the heal"
    );
    let index = sim.applied(leader);
    let img = sim.image(leader);
    for &id in &all {
        assert_eq!(sim.image(id), img, "node {id}");
        assert_eq!(sim.applied(id), index);
    }
    if let Some(replayed) = sim.replay(index) {
        assert_eq!(img, replayed);
    }
    {
        // Every acknowledged write took effect.
        let h = sim.history.lock();
        for (_, json) in h.acked.values() {
            let record: MetaRecord = serde_json::from_str(json).unwrap();
            if let MetaRecord::Topic { name, .. } = record {
                assert!(
                    img.topics.contains_key(&name),
                    "acknowledged topic {name} missing"
                );
            }
        }
    }
    sim.check_safety().await;
    sim.finish().await;
}

#[tokio::test(start_paused = true)]
async fn chaos_3() {
    for seed in [11, 12, 13] {
        chaos(seed, 3, 60).await;
    }
}

#[tokio::test(start_paused = true)]
async fn chaos_5() {
    chaos(21, 5, 60).await;
}

// ---------------------------------------------------------------------------------------------
// 8. The controller on top

/// An AlterPartition from the leader of `state`, acting on `state` (its epochs), with the
/// broker epoch `img` registered.
fn alter(
    img: &Image,
    topic_id: Uuid,
    state: &PartitionState,
    new_isr: &[i32],
) -> ControllerRequest {
    ControllerRequest::AlterPartition {
        node_id: state.leader,
        broker_epoch: img.brokers[&state.leader].epoch,
        topic_id,
        partition: state.partition,
        leader_epoch: state.leader_epoch,
        partition_epoch: state.partition_epoch,
        new_isr: new_isr.to_vec(),
    }
}

fn partitions_of(img: &Image, topic_id: Uuid) -> Vec<PartitionState> {
    img.topic_by_id(topic_id)
        .expect("the topic exists")
        .partitions
        .clone()
}

/// A partition's leader shrinks its ISR and expands it again through the controller, and
/// every node's image follows; a retry is answered with the committed state, and a change on
/// a state older than that is refused.
#[tokio::test(start_paused = true)]
async fn alter_partition() {
    let mut sim = Sim::new("alter-partition", 3, production_config(), 8).await;
    let all = sim.ids();
    let leader = sim.form().await;
    sim.start_controllers();
    let topic = NewTopic {
        name: "t".into(),
        partitions: 1,
        replication_factor: 3,
        assignments: vec![],
        configs: BTreeMap::new(),
    };
    let id = sim.create_topic(1, topic).await;
    sim.await_converged(&all, Duration::from_secs(2)).await;
    let img = sim.image(leader);
    let p = partitions_of(&img, id).remove(0);
    assert_eq!(
        p.isr, p.replicas,
        "a new partition has every live replica in sync"
    );
    assert_eq!(
        (p.leader, p.leader_epoch, p.partition_epoch),
        (p.replicas[0], 0, 0)
    );
    let owner = p.leader as NodeId;

    // The last follower fell behind.
    let shrunk = &p.replicas[..2];
    let s1 = altered(sim.ask(owner, alter(&img, id, &p, shrunk)).await);
    assert_eq!(s1.isr, shrunk);
    assert_eq!(
        (s1.leader, s1.leader_epoch, s1.partition_epoch),
        (p.leader, 0, 1)
    );
    sim.await_converged(&all, Duration::from_secs(2)).await;
    for &n in &all {
        assert_eq!(partitions_of(&sim.image(n), id)[0], s1, "node {n}");
    }

    // The leader missed the answer and asks again: the committed state, nothing written.
    let applied = sim.applied(leader);
    assert_eq!(
        altered(sim.ask(owner, alter(&img, id, &p, shrunk)).await),
        s1
    );
    // Another change on the state before the shrink is stale.
    let e = refused(sim.ask(owner, alter(&img, id, &p, &p.replicas[..1])).await);
    assert_eq!(e.code, KafkaError::InvalidUpdateVersion.code(), "{e:?}");
    assert_eq!(sim.applied(leader), applied);

    // The follower caught up.
    let s2 = altered(sim.ask(owner, alter(&img, id, &s1, &p.replicas)).await);
    assert_eq!(s2.isr, p.replicas);
    assert_eq!(
        (s2.leader, s2.leader_epoch, s2.partition_epoch),
        (p.leader, 0, 2)
    );
    sim.await_converged(&all, Duration::from_secs(2)).await;
    for &n in &all {
        assert_eq!(partitions_of(&sim.image(n), id)[0], s2, "node {n}");
    }
    sim.finish().await;
}

/// The node leading both the quorum and a partition (ISR of 3) dies. A new controller takes
/// over, gives every broker a whole session, then fences the dead one: its partition moves to
/// the next in-sync replica at the next leader epoch, and the ISRs it was in drop it. Back as
/// a new incarnation, it is live but out of sync until the leader adds it again.
#[tokio::test(start_paused = true)]
async fn partition_leader_dies() {
    let name = "partition-leader-dies";
    let mut sim = Sim::new(name, 3, production_config(), 9).await;
    let all = sim.ids();
    let dead = sim.form().await;
    sim.start_controllers();
    let rest = others(&all, &[dead]);
    let (d, a, b) = (dead as i32, rest[0] as i32, rest[1] as i32);
    let topic = NewTopic {
        name: "t".into(),
        partitions: -1,
        replication_factor: -1,
        assignments: vec![vec![d, a, b], vec![a, b, d]],
        configs: BTreeMap::new(),
    };
    let id = sim.create_topic(rest[0], topic).await;
    sim.await_converged(&all, Duration::from_secs(2)).await;
    let before = partitions_of(&sim.image(dead), id);
    assert_eq!(
        (before[0].leader, before[0].isr.clone()),
        (d, vec![d, a, b])
    );
    assert_eq!(
        (before[1].leader, before[1].isr.clone()),
        (a, vec![a, b, d])
    );

    sim.stop(dead).await;
    let stopped = Instant::now();
    let (ctl, _) = sim.await_leader(&rest, Duration::from_secs(4)).await;
    sim.until(Duration::from_secs(20), "the dead broker fenced", |s| {
        rest.iter().all(|&n| s.image(n).brokers[&d].fenced)
    })
    .await;
    let took = stopped.elapsed();
    eprintln!("[{name}] node {ctl} controls; broker {d} fenced {took:?} after it died");
    assert!(
        took >= Duration::from_secs(9),
        "a whole session first: {took:?}"
    );
    sim.await_converged(&rest, Duration::from_secs(2)).await;
    let img = sim.image(ctl);
    let after = partitions_of(&img, id);
    let expected = PartitionState {
        leader: a,
        isr: vec![a, b],
        leader_epoch: 1,
        partition_epoch: 1,
        ..before[0].clone()
    };
    assert_eq!(after[0], expected, "the next in-sync replica leads");
    let expected = PartitionState {
        isr: vec![a, b],
        partition_epoch: 1,
        ..before[1].clone()
    };
    assert_eq!(after[1], expected, "the dead broker left the ISR");

    // The new leader works at the new leader epoch; the old epoch is fenced.
    let old_epoch = PartitionState {
        leader: a,
        ..before[0].clone()
    };
    let e = refused(sim.ask(rest[0], alter(&img, id, &old_epoch, &[a])).await);
    assert_eq!(e.code, KafkaError::FencedLeaderEpoch.code(), "{e:?}");
    // A fenced broker cannot join the ISR.
    let e = refused(
        sim.ask(rest[0], alter(&img, id, &after[0], &[a, b, d]))
            .await,
    );
    assert_eq!(e.code, KafkaError::IneligibleReplica.code(), "{e:?}");

    // Back as a new incarnation: live, neither leading nor in sync.
    sim.boot(dead).await;
    let incarnation = sim.rng.uuid();
    let register = ControllerRequest::Register {
        node_id: d,
        incarnation,
        endpoints: vec![],
        rack: None,
    };
    let reply = sim.ask(dead, register).await;
    assert!(
        matches!(reply, ControllerReply::Registered { .. }),
        "{reply:?}"
    );
    sim.start_controller(dead, incarnation);
    sim.await_converged(&all, Duration::from_secs(4)).await;
    let img = sim.image(dead);
    assert!(!img.brokers[&d].fenced);
    assert_eq!(partitions_of(&img, id), after);
    // Caught up, it is added again by the leader.
    let s = altered(
        sim.ask(rest[0], alter(&img, id, &after[0], &[a, b, d]))
            .await,
    );
    assert_eq!((s.leader, s.isr.clone()), (a, vec![a, b, d]));
    assert_eq!((s.leader_epoch, s.partition_epoch), (1, 2));
    sim.await_converged(&all, Duration::from_secs(2)).await;
    for &n in &all {
        assert_eq!(partitions_of(&sim.image(n), id)[0], s, "node {n}");
    }
    sim.finish().await;
}

fn reassign(topic: &str, target: Option<&[i32]>) -> ControllerRequest {
    ControllerRequest::AlterReassignments {
        reassignments: vec![Reassignment {
            topic: topic.into(),
            partition: 0,
            target: target.map(<[i32]>::to_vec),
        }],
        allow_replication_factor_change: false,
    }
}

fn done(reply: ControllerReply) {
    match reply {
        ControllerReply::Done(r) if r.len() == 1 && r[0].is_ok() => {}
        other => panic!("reassignment refused: {other:?}"),
    }
}

async fn reassignments(sim: &Sim, from: NodeId) -> Vec<OngoingReassignment> {
    match sim
        .ask(
            from,
            ControllerRequest::ListReassignments { partitions: None },
        )
        .await
    {
        ControllerReply::Reassignments(list) => list,
        other => panic!("ListReassignments: {other:?}"),
    }
}

/// A partition moves from [1, 2] to [2, 3] through the quorum (KIP-455): 3 is adding until
/// the leader's AlterPartition brings it into the ISR, which completes the move in the same
/// record (replicas [2, 3], leader 1 gone, 2 leading at the next leader epoch); a second move
/// cancelled before its new replica caught up goes back to the replicas it started from.
/// Every node's image follows, and ListReassignments shows a move only while it is on.
#[tokio::test(start_paused = true)]
async fn partition_reassignment() {
    let mut sim = Sim::new("partition-reassignment", 3, production_config(), 10).await;
    let all = sim.ids();
    sim.form().await;
    sim.start_controllers();
    let topic = NewTopic {
        name: "t".into(),
        partitions: -1,
        replication_factor: -1,
        assignments: vec![vec![1, 2]],
        configs: BTreeMap::new(),
    };
    let id = sim.create_topic(3, topic).await;
    sim.await_converged(&all, Duration::from_secs(2)).await;
    let before = partitions_of(&sim.image(1), id).remove(0);
    assert_eq!((before.leader, before.isr.clone()), (1, vec![1, 2]));

    done(sim.ask(3, reassign("t", Some(&[2, 3]))).await);
    sim.await_converged(&all, Duration::from_secs(2)).await;
    let moving = PartitionState {
        replicas: vec![2, 3, 1],
        adding_replicas: vec![3],
        removing_replicas: vec![1],
        partition_epoch: 1,
        ..before.clone()
    };
    for &n in &all {
        assert_eq!(partitions_of(&sim.image(n), id)[0], moving, "node {n}");
    }
    let listed = OngoingReassignment {
        topic: "t".into(),
        partition: 0,
        replicas: vec![2, 3, 1],
        adding: vec![3],
        removing: vec![1],
    };
    assert_eq!(reassignments(&sim, 2).await, vec![listed]);
    // Nothing completes it on a tick while 3 is out of sync.
    sleep(Duration::from_secs(2)).await;
    assert_eq!(partitions_of(&sim.image(2), id)[0], moving);

    // 3 caught up: the leader adds it to the ISR, and that completes the move.
    let img = sim.image(1);
    let done_state = altered(sim.ask(1, alter(&img, id, &moving, &[1, 2, 3])).await);
    let moved = PartitionState {
        replicas: vec![2, 3],
        isr: vec![2, 3],
        leader: 2,
        leader_epoch: 1,
        partition_epoch: 2,
        adding_replicas: vec![],
        removing_replicas: vec![],
        ..before.clone()
    };
    assert_eq!(done_state, moved);
    sim.await_converged(&all, Duration::from_secs(2)).await;
    for &n in &all {
        assert_eq!(partitions_of(&sim.image(n), id)[0], moved, "node {n}");
    }
    assert!(reassignments(&sim, 1).await.is_empty());

    // [2, 3] -> [2, 1], cancelled while 1 is not in sync: back to [2, 3].
    done(sim.ask(2, reassign("t", Some(&[2, 1]))).await);
    sim.await_converged(&all, Duration::from_secs(2)).await;
    let p = partitions_of(&sim.image(3), id).remove(0);
    assert_eq!(
        (p.replicas, p.adding_replicas, p.removing_replicas, p.isr),
        (vec![2, 1, 3], vec![1], vec![3], vec![2, 3])
    );
    assert_eq!(reassignments(&sim, 3).await.len(), 1);
    done(sim.ask(1, reassign("t", None)).await);
    sim.await_converged(&all, Duration::from_secs(2)).await;
    let cancelled = PartitionState {
        partition_epoch: 4,
        ..moved
    };
    for &n in &all {
        assert_eq!(partitions_of(&sim.image(n), id)[0], cancelled, "node {n}");
    }
    assert!(reassignments(&sim, 2).await.is_empty());
    // Nothing is left to cancel.
    match sim.ask(2, reassign("t", None)).await {
        ControllerReply::Done(r) => assert_eq!(
            r[0].as_ref().unwrap_err().code,
            KafkaError::NoReassignmentInProgress.code()
        ),
        other => panic!("{other:?}"),
    }
    sim.finish().await;
}

// ---------------------------------------------------------------------------------------------
// The checker itself

/// The history reports what it must: a different entry, image or acknowledged id at an index.
#[test]
fn history_reports_divergence() {
    let entry = |term: u64, index: u64, name: &str| Entry {
        log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(term, 1), index),
        payload: EntryPayload::Normal(topic(Uuid::nil(), name, 1)),
    };
    let mut h = History::default();
    h.entry(1, &entry(1, 3, "a"));
    h.entry(2, &entry(1, 3, "a"));
    assert!(h.violations.is_empty());
    h.entry(3, &entry(2, 3, "a"));
    h.entry(3, &entry(1, 3, "b"));
    assert_eq!(h.violations.len(), 2, "{:?}", h.violations);

    let mut img = Image::default();
    h.image(1, 3, img.clone());
    h.image(2, 3, img.clone());
    assert_eq!(h.violations.len(), 2);
    img.apply(4, &topic(Uuid::nil(), "a", 1));
    h.image(3, 3, img);
    assert_eq!(h.violations.len(), 3);

    h.ack(entry(1, 3, "a").log_id, &topic(Uuid::nil(), "a", 1));
    assert_eq!(h.violations.len(), 3);
    h.ack(entry(1, 3, "b").log_id, &topic(Uuid::nil(), "b", 1));
    assert_eq!(h.violations.len(), 4);
    h.entry(4, &entry(7, 5, "c"));
    h.ack(entry(8, 5, "c").log_id, &topic(Uuid::nil(), "c", 1));
    assert_eq!(h.violations.len(), 5, "{:?}", h.violations);
}
