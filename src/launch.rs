//! Starting and stopping one fjord node: the sequence the `fjord` binary runs between reading
//! its configuration and its shutdown signal, shared with [`crate::EmbeddedBroker`] so a broker
//! started inside a test is started exactly as the binary starts it.
//!
//! Owns the order of start-up (lock the log dir, open the broker or join its cluster, bind the
//! Kafka listeners, bind the HTTP listener, register a cluster node) and of a clean shutdown.
//! It never reads the environment, signals or command line, never installs a log subscriber
//! and never exits the process: those belong to whoever runs it.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::broker::{Broker, StartError};
use crate::clock::Clock;
use crate::config::Config;
use crate::server::Server;

/// Why a node did not start. Each message says everything, cause included, and none has a
/// `source()`: the binary prints an error's whole chain on one line, which would repeat it.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot create log dir {}: {error}", dir.display())]
    CreateLogDir { dir: PathBuf, error: std::io::Error },
    #[error("cannot open {}: {error}", path.display())]
    OpenLock {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Two brokers writing one data directory would corrupt it.
    #[error(
        "failed to acquire lock on file .lock in {}: another fjord (or Kafka) process is using this directory ({error})",
        dir.display()
    )]
    Locked { dir: PathBuf, error: std::io::Error },
    #[error("cannot start: {0}")]
    Broker(StartError),
    /// A listener's security settings are wrong, or its address cannot be bound.
    #[error("{0}")]
    Listen(std::io::Error),
}

/// A started node: its broker, its bound listeners, and the tasks that serve them.
pub struct Node {
    pub broker: Arc<Broker>,
    /// Until [`Node::serve`] runs it.
    server: Option<Server>,
    kafka_addrs: Vec<(String, SocketAddr)>,
    http_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    serving: Option<JoinHandle<()>>,
    http: Option<JoinHandle<()>>,
    /// Held until the node is dropped: the OS drops the lock of a killed process too.
    _dir_lock: File,
}

impl Node {
    /// Lock the log dir, open the broker (a cluster node joins its metadata quorum first), bind
    /// the Kafka listeners and the HTTP listener (`fjord.http.listener`, which starts serving at
    /// once so `/ready` can say the broker is not ready yet), and start a cluster node's
    /// registration. Clients may connect from here on (the kernel queues them) but are served
    /// only from [`Node::serve`].
    pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<Node, LaunchError> {
        let dir_lock = lock_log_dir(&config.log_dir)?;
        let (stop, rx) = watch::channel(false);
        let broker = Broker::start(config, clock, rx.clone())
            .await
            .map_err(LaunchError::Broker)?;
        let server = Server::bind(broker.clone())
            .await
            .map_err(LaunchError::Listen)?;
        let kafka_addrs = server.local_addrs();
        let (http, http_addr) = match crate::http::bind(&broker).await {
            Some(listener) => {
                let addr = listener.local_addr().ok();
                let task = tokio::spawn(crate::http::serve(listener, broker.clone(), rx.clone()));
                (Some(task), addr)
            }
            None => (None, None),
        };
        if let Some(cluster) = broker.cluster.as_ref().filter(|c| c.config.broker) {
            let endpoints = kafka_addrs
                .iter()
                .filter_map(|(name, addr)| {
                    let adv = broker.config.advertised_for(name)?;
                    let port = if adv.port == 0 { addr.port() } else { adv.port };
                    Some(crate::cluster::records::Endpoint {
                        listener: name.clone(),
                        host: adv.host.clone(),
                        port,
                    })
                })
                .collect();
            cluster.start_broker_lifecycle(endpoints, rx);
            tracing::info!(
                voters = cluster.config.voters.len(),
                "cluster node: controller listener {}",
                cluster
                    .config
                    .controller_listener
                    .as_ref()
                    .map(|l| l.to_string())
                    .unwrap_or_default()
            );
        }
        Ok(Node {
            broker,
            server: Some(server),
            kafka_addrs,
            http_addr,
            stop,
            serving: None,
            http,
            _dir_lock: dir_lock,
        })
    }

    /// The Kafka listeners' bound addresses by listener name (port 0 resolved).
    pub fn kafka_addrs(&self) -> &[(String, SocketAddr)] {
        &self.kafka_addrs
    }

    /// The HTTP listener's bound address, if it has one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// Wait until the broker may serve clients (at once on a single broker; in a cluster once
    /// the active controller has accepted it), then serve them. False if the node was stopped
    /// first. Cancel-safe: dropped before it returns, it has changed nothing.
    pub async fn serve(&mut self) -> bool {
        if self.serving.is_some() {
            return true;
        }
        if self
            .broker
            .cluster
            .as_ref()
            .is_some_and(|c| c.config.broker)
        {
            tracing::info!(
                "waiting for the active controller to accept this broker before serving clients"
            );
        }
        if !self.broker.wait_ready(self.stop.subscribe()).await {
            return false;
        }
        let Some(server) = self.server.take() else {
            return false;
        };
        self.serving = Some(tokio::spawn(server.run(self.stop.subscribe())));
        self.broker.serving.store(true, Ordering::Release);
        true
    }

    /// Stop cleanly: stop accepting, let every connection finish the request it is in (at most
    /// [`crate::server::SHUTDOWN_DRAIN`]), stop the HTTP listener and, if the node served,
    /// flush every partition and mark the log dir cleanly shut down.
    pub async fn shut_down(mut self) {
        let _ = self.stop.send(true);
        let served = self.serving.take();
        let was_serving = served.is_some();
        if let Some(serving) = served {
            let _ = serving.await;
        }
        if let Some(http) = self.http.take() {
            let _ = http.await;
        }
        if was_serving {
            // Expiries and releases since the last tick, before the logs close.
            self.broker.flush_share_state(self.broker.now_ms()).await;
            self.broker.topics.shut_down();
        }
    }
}

/// Bound the segment files the process holds open (`fjord.log.max.open.files`; 0: half of
/// `open_file_limit`, the process's limit on open files, `None` for none) and say so. The
/// cache is the process's, shared by every broker in it. Returns the cap.
pub fn cap_open_files(config: &Config, open_file_limit: Option<u64>) -> usize {
    let cap = match config.log_max_open_files {
        0 => (open_file_limit.unwrap_or(u64::MAX) / 2).clamp(64, 1 << 20) as usize,
        n => n,
    };
    crate::log::OpenFiles::shared().set_cap(cap);
    tracing::info!("segment files held open: at most {cap} (fjord.log.max.open.files)");
    cap
}

/// The process's soft limit on open files, `None` if unlimited.
pub fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Raise the soft limit on open files to the hard limit, as a server that holds segment files
/// (up to `fjord.log.max.open.files`) and one per connection should (Kafka's start scripts
/// leave this to the operator), and say what it is. Returns the limit now in force (None:
/// unlimited). The binary does this; an application embedding a broker keeps its own limit.
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    let (Some(soft), hard) = (lim.current, lim.maximum) else {
        tracing::info!("open files: no limit");
        return None;
    };
    let target = hard.unwrap_or(u64::MAX);
    if target > soft {
        let mut raised = lim;
        raised.current = hard;
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                let shown = hard.map_or("unlimited".to_string(), |h| h.to_string());
                tracing::info!("open files: limit raised from {soft} to {shown}");
                return hard;
            }
            Err(e) => tracing::warn!("open files: cannot raise the limit of {soft}: {e}"),
        }
    }
    tracing::info!("open files: limit {soft}");
    Some(soft)
}

/// Take the exclusive lock on `<log dir>/.lock`, as Kafka does: two brokers writing one data
/// directory would corrupt it, so the second refuses to start (two in one process too: the
/// lock belongs to the open file, not the process). An OS file lock (flock) is released when
/// its process ends, however it ends, so a stale `.lock` file never blocks a restart.
fn lock_log_dir(dir: &Path) -> Result<File, LaunchError> {
    std::fs::create_dir_all(dir).map_err(|error| LaunchError::CreateLogDir {
        dir: dir.to_path_buf(),
        error,
    })?;
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| LaunchError::OpenLock {
            path: path.clone(),
            error,
        })?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |e| LaunchError::Locked {
            dir: dir.to_path_buf(),
            error: e.into(),
        },
    )?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> Config {
        let ov = [
            format!("log.dirs={}", dir.display()),
            "listeners=PLAINTEXT://127.0.0.1:0".to_string(),
            "fjord.http.listener=".to_string(),
        ];
        Config::from_sources(None, Vec::new(), &ov).unwrap().0
    }

    #[tokio::test]
    async fn a_second_node_on_the_same_log_dir_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let mut first = Node::start(config(dir.path()), clock.clone())
            .await
            .unwrap();
        assert!(first.serve().await);
        let err = Node::start(config(dir.path()), clock.clone())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, LaunchError::Locked { .. }), "{err}");
        assert!(
            err.to_string().starts_with(&format!(
                "failed to acquire lock on file .lock in {}: another fjord (or Kafka) process",
                dir.path().display()
            )),
            "{err}"
        );
        first.shut_down().await;
        // A clean shutdown marks the log dir, and frees it for the next node.
        assert!(dir.path().join(".kafka_cleanshutdown").exists());
        let second = Node::start(config(dir.path()), clock).await.unwrap();
        second.shut_down().await;
    }
}
