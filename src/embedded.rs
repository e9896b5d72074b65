//! A real fjord broker inside a Rust program, for integration tests: [`EmbeddedBroker`]
//! (an example at [`EmbeddedBroker::builder`]; `tests/embedded.rs` and `examples/embedded.rs`
//! use it with a Kafka client).
//!
//! The broker is the one the `fjord` binary runs, started by the same code
//! ([`crate::launch::Node`]), on its own thread with its own small tokio runtime. So it serves
//! whatever the test does on its own runtime (a current-thread `#[tokio::test]`, a blocking
//! client, no runtime at all), and [`EmbeddedBrokerBuilder::start`] can be awaited on any
//! executor.
//!
//! As a dependency of another crate, fjord builds with crates.io's kafka-protocol 0.18.0: the
//! `[patch.crates-io]` in fjord's Cargo.toml that bounds its array decoders
//! (vendor/kafka-protocol/FJORD-PATCH.md) applies only in fjord's own workspace. A malformed
//! request could then abort the process, which a test's own Kafka client never sends; the same
//! `[patch.crates-io]` entry in the application's workspace restores the bound.
//!
//! Two settings are the process's, not one broker's: `fjord.log.max.open.files` bounds the
//! segment files every broker in the process holds open together, and a broker kept in a
//! `static` is never dropped, so its temporary data dir outlives the process.
//!
//! This module owns that thread and the temporary data dir. It never touches the process's
//! environment (no `KAFKA_*` variables are read), signal handlers, open-file limit or global
//! log subscriber: the broker logs through `tracing` to the subscriber the application has (the
//! one in force where `start` is called, else the global one), and says nothing without one. A
//! scoped subscriber (`tracing::subscriber::set_default`) can miss some lines while other
//! threads log for the first time: tracing caches each call site's interest process-wide.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use futures::channel::oneshot;

use crate::clock::SystemClock;
use crate::config::{Config, ConfigError};
use crate::launch::{LaunchError, Node};

/// How long stopping the broker's runtime may wait for its blocking work (a retention pass, a
/// flush) after the broker has shut down.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(10);

/// Worker threads of the broker's runtime: enough for a test's traffic, few enough for many
/// brokers in one test binary.
const WORKER_THREADS: usize = 2;

/// Why an embedded broker did not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// A configured value is invalid (the message names the key).
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A key neither fjord nor Kafka's broker knows (a typo, most likely). The binary only
    /// warns; a test had better fail.
    #[error("unknown config key '{0}'")]
    UnknownKey(String),
    #[error("cannot create the data dir {}: {error}", path.display())]
    CreateDataDir {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot remove the data dir {}: {error}", path.display())]
    RemoveDataDir {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The broker's thread or its runtime could not be started.
    #[error("cannot start the broker's thread: {0}")]
    Thread(std::io::Error),
    /// The broker itself did not start: its log dir, a listener, its cluster.
    #[error("{0}")]
    Start(#[from] LaunchError),
    /// The broker's thread ended without saying how (it panicked; its log says why).
    #[error("the embedded broker's thread ended unexpectedly")]
    Aborted,
}

/// Settings of an [`EmbeddedBroker`] to start: made by [`EmbeddedBroker::builder`].
///
/// Unless configured otherwise, the broker
/// - listens on a free port of 127.0.0.1 (`listeners=PLAINTEXT://127.0.0.1:0`),
/// - keeps its data in a new temporary directory, removed when it stops,
/// - has no HTTP listener (a fixed port would collide between tests run in parallel),
/// - has every other key at the default the binary has (`fjord --help` lists them).
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until start()"]
pub struct EmbeddedBrokerBuilder {
    /// (key, value) in the order given; a later one wins.
    configs: Vec<(String, String)>,
    http: bool,
}

impl EmbeddedBrokerBuilder {
    /// Set a broker config key, under Kafka's name, as `fjord --override key=value` would:
    /// `.config("num.partitions", 3)`, `.config("auto.create.topics.enable", false)`. A later
    /// value for the same key wins. `listeners`, `log.dirs` and `fjord.http.listener` replace
    /// the defaults above (a `log.dirs` given here is kept after the broker stops). An unknown
    /// key makes [`start`](Self::start) fail with [`EmbedError::UnknownKey`].
    pub fn config(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.configs.push((key.into(), value.to_string()));
        self
    }

    /// Keep the data in `dir` (created if missing) instead of a temporary directory; it is
    /// left in place after the broker stops, so a second broker can start on it as a restart.
    /// The same as `.config("log.dirs", dir)`.
    pub fn data_dir(self, dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref().display().to_string();
        self.config("log.dirs", dir)
    }

    /// Serve the HTTP listener (web console, JSON API, `/metrics`, `/health`, `/ready`) on a
    /// free port of 127.0.0.1: see [`EmbeddedBroker::http_url`]. Off by default.
    pub fn http(mut self, enabled: bool) -> Self {
        self.http = enabled;
        self
    }

    /// Start the broker and return once it serves clients: on a single broker, as soon as its
    /// listener is bound (a few milliseconds). A broker configured as a node of a cluster
    /// returns once the cluster's controller has accepted it; put a timeout around that if
    /// the cluster may not come up. Dropping the future before it completes stops the broker.
    ///
    /// Runs on any executor: the broker has its own thread and runtime.
    pub async fn start(self) -> Result<EmbeddedBroker, EmbedError> {
        let (ready, pending) = self.launch()?;
        finish_start(ready.await, pending)
    }

    /// [`start`](Self::start) for code without an async runtime: blocks the calling thread
    /// until the broker serves.
    pub fn start_blocking(self) -> Result<EmbeddedBroker, EmbedError> {
        let (ready, pending) = self.launch()?;
        finish_start(futures::executor::block_on(ready), pending)
    }

    /// Build the config and start the broker's thread. Returns what the thread will answer
    /// once the broker serves, and the handle's parts.
    fn launch(self) -> Result<(oneshot::Receiver<Result<Ready, EmbedError>>, Pending), EmbedError> {
        let own_dir = !self
            .configs
            .iter()
            .any(|(k, _)| k == "log.dirs" || k == "log.dir");
        let temp_dir = if own_dir {
            Some(TempDataDir::create()?)
        } else {
            None
        };
        let mut overrides = vec![
            "listeners=PLAINTEXT://127.0.0.1:0".to_string(),
            format!(
                "fjord.http.listener={}",
                if self.http { "127.0.0.1:0" } else { "" }
            ),
        ];
        if let Some(t) = &temp_dir {
            overrides.push(format!("log.dirs={}", t.path.display()));
        }
        for (k, v) in &self.configs {
            if !crate::config::is_known(k) {
                return Err(EmbedError::UnknownKey(k.clone()));
            }
            overrides.push(format!("{k}={v}"));
        }
        // Never the process's KAFKA_* variables: a test's broker is what its code says.
        let (config, _) = Config::from_sources(None, Vec::<(String, String)>::new(), &overrides)?;
        let data_dir = config.log_dir.clone();
        crate::launch::cap_open_files(&config, crate::launch::open_file_limit());

        // The caller's subscriber, if it has one, also hears the broker's threads (a scoped
        // default, e.g. a test's, is not seen on other threads otherwise).
        let dispatch = tracing::dispatcher::get_default(|d| {
            (!d.is::<tracing::subscriber::NoSubscriber>()).then(|| d.clone())
        });
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let (stopped_tx, stopped_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("fjord-embedded".to_string())
            .spawn(move || run(config, temp_dir, dispatch, ready_tx, stop_rx, stopped_tx))
            .map_err(EmbedError::Thread)?;
        Ok((
            ready_rx,
            Pending {
                data_dir,
                stop: stop_tx,
                stopped: stopped_rx,
                thread,
            },
        ))
    }
}

/// What the broker's thread tells the caller once the broker serves.
struct Ready {
    kafka_addrs: Vec<(String, SocketAddr)>,
    http_addr: Option<SocketAddr>,
}

/// The handle's parts while the broker starts.
struct Pending {
    data_dir: PathBuf,
    stop: oneshot::Sender<()>,
    stopped: oneshot::Receiver<Result<(), EmbedError>>,
    thread: JoinHandle<()>,
}

fn finish_start(
    ready: Result<Result<Ready, EmbedError>, oneshot::Canceled>,
    pending: Pending,
) -> Result<EmbeddedBroker, EmbedError> {
    let failed = match ready {
        Ok(Ok(ready)) => return Ok(EmbeddedBroker::new(ready, pending)),
        Ok(Err(e)) => e,
        Err(oneshot::Canceled) => EmbedError::Aborted,
    };
    // The thread is ending by itself; once it has, a temporary data dir is gone.
    let _ = pending.thread.join();
    Err(failed)
}

impl EmbeddedBroker {
    fn new(ready: Ready, pending: Pending) -> EmbeddedBroker {
        let bootstrap_servers = ready
            .kafka_addrs
            .first()
            .map(|(_, addr)| reachable(*addr).to_string())
            .unwrap_or_default();
        EmbeddedBroker {
            bootstrap_servers,
            kafka_addrs: ready.kafka_addrs,
            http_url: ready.http_addr.map(|a| format!("http://{}", reachable(a))),
            data_dir: pending.data_dir,
            stop: Some(pending.stop),
            stopped: Some(pending.stopped),
            thread: Some(pending.thread),
        }
    }
}

/// A listener bound to every address is reached on the loopback address.
fn reachable(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// A fjord broker running inside this process, serving the real Kafka protocol on a local
/// port: start one with [`EmbeddedBroker::builder`] (see [the module](crate::embedded) for an
/// example), point any Kafka client at [`bootstrap_servers`](Self::bootstrap_servers), and
/// stop it with [`shutdown`](Self::shutdown).
///
/// Dropping the handle stops the broker the same way and waits for it, blocking the dropping
/// thread (a few milliseconds; at most five seconds while a client's request is in progress)
/// so the port is free and a temporary data dir is gone when the drop returns. Each broker is
/// independent: any number can run at once in one process, each on its own port and data dir.
#[derive(Debug)]
pub struct EmbeddedBroker {
    bootstrap_servers: String,
    kafka_addrs: Vec<(String, SocketAddr)>,
    http_url: Option<String>,
    data_dir: PathBuf,
    /// Dropped (or sent) to stop the broker.
    stop: Option<oneshot::Sender<()>>,
    /// The broker's thread's last word: how the shutdown went.
    stopped: Option<oneshot::Receiver<Result<(), EmbedError>>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Settings for a broker to start; `EmbeddedBroker::builder().start().await` starts one
    /// with the defaults listed at [`EmbeddedBrokerBuilder`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), fjord::EmbedError> {
    /// let broker = fjord::EmbeddedBroker::builder()
    ///     .config("num.partitions", 3)
    ///     .start()
    ///     .await?;
    /// // Give this to any Kafka client as bootstrap.servers.
    /// let bootstrap: &str = broker.bootstrap_servers();
    /// assert!(bootstrap.starts_with("127.0.0.1:"));
    /// assert!(broker.data_dir().join("meta.properties").exists());
    /// assert_eq!(broker.http_url(), None);
    /// let dir = broker.data_dir().to_path_buf();
    /// broker.shutdown().await?;
    /// assert!(!dir.exists());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Without an async runtime:
    ///
    /// ```
    /// let broker = fjord::EmbeddedBroker::builder()
    ///     .http(true)
    ///     .start_blocking()
    ///     .unwrap();
    /// assert!(broker.http_url().unwrap().starts_with("http://127.0.0.1:"));
    /// drop(broker); // stops it, and waits until it has
    /// ```
    pub fn builder() -> EmbeddedBrokerBuilder {
        EmbeddedBrokerBuilder::default()
    }

    /// `host:port` of the broker's first listener, e.g. `127.0.0.1:40135`: the
    /// `bootstrap.servers` to give a Kafka client.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// The bound address of the listener named `name` (`PLAINTEXT` unless `listeners` was
    /// configured).
    pub fn listener_addr(&self, name: &str) -> Option<SocketAddr> {
        self.kafka_addrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }

    /// `http://host:port` of the HTTP listener (console at `/`, JSON API at `/api/v1/`,
    /// `/metrics`, `/health`, `/ready`), if it was enabled with
    /// [`EmbeddedBrokerBuilder::http`] or `fjord.http.listener`.
    pub fn http_url(&self) -> Option<&str> {
        self.http_url.as_deref()
    }

    /// Where the broker keeps its data (`log.dirs`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stop the broker cleanly, as the binary does on SIGTERM: stop accepting, answer the
    /// requests in progress, flush every partition; then remove the data dir if it is a
    /// temporary one. When this returns the port is free.
    pub async fn shutdown(mut self) -> Result<(), EmbedError> {
        self.stop.take();
        let result = match self.stopped.take() {
            Some(stopped) => stopped.await.unwrap_or(Err(EmbedError::Aborted)),
            None => Ok(()),
        };
        // Its last act was to answer: this returns at once.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        result
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The broker's thread: its runtime runs the node from start to clean shutdown, then the
/// temporary data dir, if any, is removed.
fn run(
    config: Config,
    temp_dir: Option<TempDataDir>,
    dispatch: Option<tracing::Dispatch>,
    ready: oneshot::Sender<Result<Ready, EmbedError>>,
    stop: oneshot::Receiver<()>,
    stopped: oneshot::Sender<Result<(), EmbedError>>,
) {
    let _log = dispatch.as_ref().map(tracing::dispatcher::set_default);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime
        .worker_threads(WORKER_THREADS)
        .thread_name("fjord-embedded-worker")
        .enable_all();
    if let Some(d) = dispatch {
        runtime.on_thread_start(move || {
            // The runtime's threads live as long as it: the guard that would restore the
            // thread's previous default is never needed.
            std::mem::forget(tracing::dispatcher::set_default(&d));
        });
    }
    let runtime = match runtime.build() {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(EmbedError::Thread(e)));
            return;
        }
    };
    runtime.block_on(async move {
        let mut node = match Node::start(config, Arc::new(SystemClock)).await {
            Ok(node) => node,
            Err(e) => {
                let _ = ready.send(Err(e.into()));
                return;
            }
        };
        let mut stop = stop;
        let serving = tokio::select! {
            r = node.serve() => r,
            _ = &mut stop => false,
        };
        if !serving {
            node.shut_down().await;
            return;
        }
        let answer = Ready {
            kafka_addrs: node.kafka_addrs().to_vec(),
            http_addr: node.http_addr(),
        };
        // Err: the caller gave up waiting, so nobody will stop the broker but us.
        if ready.send(Ok(answer)).is_ok() {
            // A stop sent or the handle dropped: either way, stop.
            let _ = stop.await;
        }
        node.shut_down().await;
    });
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    let result = temp_dir.map_or(Ok(()), TempDataDir::remove);
    let _ = stopped.send(result);
}

/// A data dir made for one broker, removed with everything in it once the broker has stopped
/// (or when dropped, should the broker never have started).
struct TempDataDir {
    path: PathBuf,
    removed: bool,
}

impl TempDataDir {
    fn create() -> Result<TempDataDir, EmbedError> {
        let path =
            std::env::temp_dir().join(format!("fjord-embedded-{}", uuid::Uuid::new_v4().simple()));
        // create_dir, not create_dir_all: a name that exists is someone else's.
        std::fs::create_dir(&path).map_err(|error| EmbedError::CreateDataDir {
            path: path.clone(),
            error,
        })?;
        Ok(TempDataDir {
            path,
            removed: false,
        })
    }

    fn remove(mut self) -> Result<(), EmbedError> {
        self.removed = true;
        std::fs::remove_dir_all(&self.path).map_err(|error| EmbedError::RemoveDataDir {
            path: self.path.clone(),
            error,
        })
    }
}

impl Drop for TempDataDir {
    fn drop(&mut self) {
        if !self.removed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
