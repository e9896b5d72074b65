//! The broker core that API handlers work against: config, identity, topics,
//! producer ids, clock. Owns `meta.properties` (node id and cluster id, as
//! Kafka's KRaft brokers keep them) so a data dir keeps its cluster id.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::FutureExt;
use uuid::Uuid;

pub mod admin;
pub mod coordinators;
pub mod fetch_sessions;
mod fetchers;
mod follow;
mod markers;
pub mod replication;
pub mod security;
pub mod security_store;
mod share_admin;
mod share_groups;
pub mod share_sessions;
pub mod share_state;
mod shares;
pub mod view;

pub use view::{BrokerEndpoint, PartitionView, TopicRef, TopicView};

use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::config::dynamic::DynamicConfigs;
use crate::config::{self, Config};
use crate::group::GroupCoordinator;
use crate::quotas::ClientQuotas;
use crate::topics::{TopicError, TopicRegistry};
use crate::txn::coordinator::{TransactionCoordinator, TxnContext};
use crate::txn::producer_id::ProducerIdManager;

pub struct Broker {
    pub config: Arc<Config>,
    pub node_id: i32,
    pub cluster_id: String,
    pub topics: TopicRegistry,
    pub producer_ids: ProducerIdManager,
    pub groups: GroupCoordinator,
    pub txns: TransactionCoordinator,
    pub quotas: ClientQuotas,
    pub dynamic: DynamicConfigs,
    /// Group configs (`--entity-type groups`) of a single broker.
    pub group_configs: crate::config::group::GroupConfigs,
    /// ACLs and SCRAM credentials (see `security.rs`).
    pub security: security_store::SecurityMetadata,
    pub clock: Arc<dyn Clock>,
    /// The cluster this broker is a node of; `None` for the single-node broker.
    pub cluster: Option<Arc<Cluster>>,
    /// One producer id block request to the controller at a time.
    producer_id_refill: tokio::sync::Mutex<()>,
    /// The replica fetchers of a cluster node, one per leader it follows partitions of.
    fetchers: fetchers::Fetchers,
    /// Incremental fetch sessions (KIP-227) of the fetchers of this broker.
    pub fetch_sessions: fetch_sessions::FetchSessionCache,
    /// Share-partitions (KIP-932) of the partitions this broker leads.
    pub shares: crate::share::ShareManager,
    /// Share sessions of the share consumers fetching here.
    pub share_sessions: share_sessions::ShareSessionCache,
    /// A cluster node's share coordinator (the `__share_group_state` partitions it leads);
    /// loads nothing on a single broker, whose state `share::LocalPersister` keeps.
    pub share_coordinator: crate::share::ShareCoordinator,
    /// Connections to the other nodes for the share-state RPCs (`share_state.rs`), by node id.
    share_peers: parking_lot::Mutex<HashMap<i32, Arc<crate::cluster::peer::Peer>>>,
    /// Traffic counters, read by the HTTP listener's `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Set once the broker serves clients (its listeners bound; in a cluster, registered).
    pub serving: std::sync::atomic::AtomicBool,
    /// The client listeners' bound addresses by listener name, set once by
    /// `server::Server::bind`: a listener configured with port 0 is advertised with the port the
    /// system picked.
    pub bound_listeners: std::sync::OnceLock<Vec<(String, std::net::SocketAddr)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("log dir {0}: {1}")]
    LogDir(String, std::io::Error),
    #[error("{0}")]
    Meta(String),
    #[error("loading topics: {0}")]
    Topics(#[from] TopicError),
    #[error("{0}")]
    Cluster(#[from] crate::cluster::ClusterError),
}

impl Broker {
    /// Open the single-node broker (the config has no cluster keys).
    pub fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Arc<Broker>, StartError> {
        let config = Arc::new(config);
        let (cluster_id, _) = prepare_dir(&config)?;
        Self::open_with(config, cluster_id, clock, None)
    }

    /// Open a broker as `Broker::open` does, and when the config names a cluster, join its
    /// metadata quorum first (binding the CONTROLLER listener) and follow its image.
    pub async fn start(
        config: Config,
        clock: Arc<dyn Clock>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Arc<Broker>, StartError> {
        let config = Arc::new(config);
        let (cluster_id, fresh) = prepare_dir(&config)?;
        let cluster = match &config.cluster {
            None => None,
            Some(_) => Some(
                Cluster::start(&config, &cluster_id, fresh, clock.clone(), shutdown.clone())
                    .await?,
            ),
        };
        let broker = Self::open_with(config, cluster_id, clock, cluster)?;
        if broker.cluster.is_some() {
            broker.join_cluster_coordinators();
            broker.follow_image(shutdown.clone());
            broker.expire_isr(shutdown.clone());
            broker.checkpoint_high_watermarks(shutdown.clone());
        }
        broker.deliver_markers(shutdown);
        Ok(broker)
    }

    fn open_with(
        config: Arc<Config>,
        cluster_id: String,
        clock: Arc<dyn Clock>,
        cluster: Option<Arc<Cluster>>,
    ) -> Result<Arc<Broker>, StartError> {
        let dir = config.log_dir.clone();
        let dir_err = |e| StartError::LogDir(dir.display().to_string(), e);
        let (dynamic, effective) = DynamicConfigs::open(config.clone(), &dir);
        let topics = TopicRegistry::open(effective, clock.now_ms())?;
        let producer_ids = if cluster.is_some() {
            ProducerIdManager::for_cluster()
        } else {
            ProducerIdManager::open(&dir).map_err(dir_err)?
        };
        // A cluster node's coordinators start empty: they load the partitions they come to
        // lead (see coordinators.rs).
        let (groups, txns) = if cluster.is_some() {
            let groups = GroupCoordinator::for_cluster(&config, clock.now_ms());
            let txns = TransactionCoordinator::new(config.transaction_max_timeout_ms);
            txns.join_cluster();
            (groups, txns)
        } else {
            let groups = GroupCoordinator::open(&config, &topics, clock.now_ms());
            let txns = TransactionCoordinator::open(
                config.transaction_max_timeout_ms,
                &TxnContext {
                    topics: &topics,
                    groups: &groups,
                    producer_ids: &producer_ids,
                    state_partitions: 1,
                    offsets_partitions: 1,
                    directory: &topics,
                },
                clock.now_ms(),
            );
            (groups, txns)
        };
        let quotas = ClientQuotas::open(&dir);
        let security = if cluster.is_some() {
            security_store::SecurityMetadata::for_cluster(&config)
        } else {
            security_store::SecurityMetadata::open(&config, &dir).map_err(StartError::Meta)?
        };
        let fetch_sessions = fetch_sessions::FetchSessionCache::new(
            config.fetch_session_cache_slots,
            config.fetch_session_eviction_ms,
        );
        let share_sessions =
            share_sessions::ShareSessionCache::new(config.share.max_share_sessions);
        // A single broker replays its share-partition state; a cluster node keeps it in memory
        // (design §8.7).
        let shares = if cluster.is_some() {
            crate::share::ShareManager::new()
        } else {
            crate::share::ShareManager::open(&crate::share::LocalPersister { topics: &topics })
        };
        let broker = Arc::new(Broker {
            fetch_sessions,
            shares,
            share_sessions,
            share_coordinator: crate::share::ShareCoordinator::new(crate::group::partition_for_key),
            share_peers: Default::default(),
            security,
            groups,
            txns,
            quotas,
            dynamic,
            group_configs: crate::config::group::GroupConfigs::open(&dir),
            node_id: config.node_id,
            config,
            cluster_id,
            topics,
            producer_ids,
            clock,
            cluster,
            producer_id_refill: tokio::sync::Mutex::new(()),
            fetchers: Default::default(),
            metrics: Default::default(),
            serving: Default::default(),
            bound_listeners: Default::default(),
        });
        if broker.cluster.is_none() {
            // State of topics deleted while the broker was down (design §8.4). Done on its
            // first poll: nothing is materialized yet (no state lock to wait for) and the
            // local persister writes synchronously; were it ever pending, the retention tick
            // would do the same later.
            if broker.forget_share_partitions().now_or_never().is_none() {
                tracing::warn!("share state of deleted topics left to the retention tick");
            }
        }
        Ok(broker)
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Wait until the broker may serve clients: at once on a single broker; in a cluster once
    /// the active controller has accepted its registration, by which time its metadata image
    /// holds everything committed up to then (a restarted node never answers from the image
    /// it had before). False if `shutdown` came first.
    pub async fn wait_ready(&self, mut shutdown: tokio::sync::watch::Receiver<bool>) -> bool {
        let Some(cluster) = self.cluster.as_ref().filter(|c| c.config.broker) else {
            return true;
        };
        let mut fenced = cluster.subscribe_fenced();
        tokio::select! {
            r = fenced.wait_for(|f| !*f) => r.is_ok(),
            _ = shutdown.wait_for(|s| *s) => false,
        }
    }

    /// What the transaction coordinator drives.
    pub fn txn_context(&self) -> TxnContext<'_> {
        TxnContext {
            topics: &self.topics,
            groups: &self.groups,
            producer_ids: &self.producer_ids,
            state_partitions: self.txn_state_partitions(),
            offsets_partitions: self.offsets_partitions(),
            directory: match self.cluster {
                None => &self.topics,
                Some(_) => self,
            },
        }
    }

    /// Timers that run while the broker serves: the group and transaction coordinators'
    /// (every 100 ms); the share-partitions' lock expiry and state flush (every 100 ms, a loop
    /// of their own: their writes are awaited, and a slow one must not hold up the groups'
    /// timers); and log retention and cleaning (every log.retention.check.interval.ms, on a
    /// blocking thread: file deletion and compaction are blocking work), followed by dropping
    /// the share-partitions of partitions no longer led here.
    pub fn start_background(self: &Arc<Self>, shutdown: tokio::sync::watch::Receiver<bool>) {
        self.every(
            Duration::from_millis(100),
            shutdown.clone(),
            |b, now| async move {
                b.groups.tick(&b.topics, now);
                b.txns.tick(&b.txn_context(), now);
            },
        );
        self.every(
            Duration::from_millis(100),
            shutdown.clone(),
            |b, now| async move {
                b.share_tick(now).await;
            },
        );
        let retention =
            Duration::from_millis(self.config.log_retention_check_interval_ms.max(1) as u64);
        self.every(retention, shutdown, |b, now| async move {
            let blocking = b.clone();
            let _ = tokio::task::spawn_blocking(move || {
                blocking.topics.retry_deletes();
                blocking.topics.enforce_retention(now);
                blocking.topics.run_cleaner(now);
            })
            .await;
            b.forget_share_partitions().await;
        });
    }

    /// Complete a group's pending first join on time (see `group::classic::join_deadline`),
    /// sooner than the 100 ms tick would: sleep until its deadline, run the group's timers, and
    /// again while the deadline moves (more members arrived).
    pub fn wake_group_join(self: &Arc<Self>, group_id: &str) {
        let broker = self.clone();
        let group_id = group_id.to_string();
        tokio::spawn(async move {
            let mut next = broker.groups.join_deadline(&group_id);
            while let Some(at) = next {
                let wait = (at - broker.now_ms()).max(0) as u64;
                tokio::time::sleep(Duration::from_millis(wait)).await;
                let now = broker.now_ms();
                broker.groups.tick_group(&broker.topics, &group_id, now);
                // Only a later deadline re-arms; a join that is due but still waits (for a
                // member told its id that never came back) is the periodic tick's.
                next = broker.groups.join_deadline(&group_id).filter(|&t| t > now);
            }
        });
    }

    /// Run `task` with the broker's clock every `period` until shutdown, each run finished
    /// before the next begins.
    fn every<F, Fut>(
        self: &Arc<Self>,
        period: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        task: F,
    ) where
        F: Fn(Arc<Broker>, i64) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let broker = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await; // the first tick is immediate
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = interval.tick() => {
                        let now = broker.now_ms();
                        task(broker.clone(), now).await;
                    }
                }
            }
        });
    }
}

/// Create the log dir and read or write its `meta.properties`: the cluster id, and whether the
/// dir is new.
fn prepare_dir(config: &Config) -> Result<(String, bool), StartError> {
    let dir = &config.log_dir;
    fs::create_dir_all(dir).map_err(|e| StartError::LogDir(dir.display().to_string(), e))?;
    let fresh = !dir.join("meta.properties").exists();
    Ok((load_or_create_meta(dir, config)?, fresh))
}

/// The cluster id of a cluster whose config does not set `cluster.id`: derived from the voter
/// list, so every node computes the same one without a format step.
fn derived_cluster_id(config: &Config) -> Option<String> {
    let cc = config.cluster.as_ref()?;
    let voters: Vec<String> = cc
        .voters
        .iter()
        .map(|v| format!("{}@{}:{}", v.id, v.host, v.port))
        .collect();
    let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, voters.join(",").as_bytes());
    Some(URL_SAFE_NO_PAD.encode(id.as_bytes()))
}

/// Read `meta.properties`, or write a new one. A data dir that belongs to
/// another node id or cluster id refuses to start, as Kafka does.
fn load_or_create_meta(dir: &Path, config: &Config) -> Result<String, StartError> {
    let path = dir.join("meta.properties");
    let wanted = config
        .cluster_id
        .clone()
        .or_else(|| derived_cluster_id(config));
    if let Ok(text) = fs::read_to_string(&path) {
        let props = config::parse_properties(&text);
        let cluster = props
            .get("cluster.id")
            .cloned()
            .ok_or_else(|| StartError::Meta(format!("{} has no cluster.id", path.display())))?;
        if let Some(node) = props.get("node.id")
            && node.parse::<i32>().ok() != Some(config.node_id)
        {
            return Err(StartError::Meta(format!(
                "{} belongs to node.id {node}, but this broker is node.id {}",
                path.display(),
                config.node_id
            )));
        }
        if let Some(want) = &wanted
            && want != &cluster
        {
            let why = if config.cluster_id.is_some() {
                "cluster.id is"
            } else {
                "this node's controller.quorum.voters make it cluster"
            };
            return Err(StartError::Meta(format!(
                "{} belongs to cluster {cluster}, but {why} {want} (cluster.id)",
                path.display()
            )));
        }
        return Ok(cluster);
    }
    let cluster = wanted.unwrap_or_else(|| URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes()));
    let directory_id = URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes());
    // Written whole or not at all (a full disk on the first start must not leave a
    // meta.properties without its cluster.id, which no later start would accept).
    let text = format!(
        "#\n#fjord\nversion=1\nnode.id={}\ncluster.id={cluster}\ndirectory.id={directory_id}\n",
        config.node_id
    );
    crate::log::checkpoint::replace_file(&path, text.as_bytes())
        .map_err(|e| StartError::LogDir(path.display().to_string(), e))?;
    Ok(cluster)
}
