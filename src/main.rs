//! The `fjord` binary: configuration from `--config`, `KAFKA_*` environment
//! variables and `--override`, then serve until Ctrl-C / SIGTERM.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use fjord::broker::Broker;
use fjord::clock::SystemClock;
use fjord::config::{BROKER_KEYS, Config};
use fjord::server::Server;

fn key_help() -> String {
    let mut s =
        String::from("Configuration keys (Kafka's names; file < KAFKA_* env < --override):\n");
    for k in BROKER_KEYS {
        s.push_str(&format!(
            "  {:<34} default {:<28} {}\n",
            k.name,
            k.default.unwrap_or("(none)"),
            k.doc
        ));
    }
    s.push_str(
        "\nEnvironment: KAFKA_LOG_DIRS=/x sets log.dirs ('_' → '.', '__' → '_', '___' → '-').\n",
    );
    s
}

/// A Kafka broker in one small binary, for the Kafka clients and tools you already use.
#[derive(Parser, Debug)]
#[command(name = "fjord", version, after_long_help = key_help(), after_help = "Run with --help for every configuration key.", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A Kafka server.properties file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Set a config key, e.g. --override num.partitions=3 (repeatable).
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Kafka's scripts take the properties file as a bare argument; so does fjord.
    #[arg(value_name = "FILE")]
    positional_config: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Start a local cluster of fjord processes (combined broker+controller nodes) and print
    /// its bootstrap servers; Ctrl-C stops them all. Each node is its own process, so one can
    /// be killed alone (its pid is in DIR/nodeN.pid).
    DevCluster {
        /// How many nodes (each a voter of the metadata quorum).
        #[arg(long, default_value_t = 3)]
        nodes: u16,
        /// Where the nodes keep their data (DIR/nodeN) and logs (DIR/nodeN.log).
        #[arg(long, default_value = "./dev-cluster")]
        dir: PathBuf,
        /// Client port of node 1; node N listens on base-port + N - 1, its controller on
        /// base-port + 1000 + N - 1.
        #[arg(long, default_value_t = 9092)]
        base_port: u16,
        /// More config for every node, as for fjord itself.
        #[arg(long = "override", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
}

/// `fjord dev-cluster`: the processes and the string to give clients.
fn dev_cluster(
    nodes: u16,
    dir: &std::path::Path,
    base_port: u16,
    extra: &[String],
) -> anyhow::Result<()> {
    if nodes == 0 || nodes > 9 {
        anyhow::bail!("--nodes must be 1 to 9");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // One cluster id for the directory, kept across restarts of the dev cluster.
    let id_file = dir.join("cluster.id");
    let cluster_id = match std::fs::read_to_string(&id_file) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            let id = uuid::Uuid::new_v4().simple().to_string()[..22].to_string();
            std::fs::write(&id_file, &id)?;
            id
        }
    };
    let port = |n: u16, offset: u16| -> anyhow::Result<u16> {
        base_port
            .checked_add(offset + n - 1)
            .context("--base-port too high for that many nodes")
    };
    let mut voters = Vec::new();
    for n in 1..=nodes {
        voters.push(format!("{n}@localhost:{}", port(n, 1000)?));
    }
    let exe = std::env::current_exe().context("cannot find the fjord binary")?;
    let mut children = Vec::new();
    for n in 1..=nodes {
        let data = dir.join(format!("node{n}"));
        let log = std::fs::File::create(dir.join(format!("node{n}.log")))?;
        let mut cmd = std::process::Command::new(&exe);
        for o in [
            format!("node.id={n}"),
            "process.roles=broker,controller".to_string(),
            format!("controller.quorum.voters={}", voters.join(",")),
            format!(
                "listeners=PLAINTEXT://localhost:{},CONTROLLER://localhost:{}",
                port(n, 0)?,
                port(n, 1000)?
            ),
            "controller.listener.names=CONTROLLER".to_string(),
            format!("log.dirs={}", data.display()),
            format!("cluster.id={cluster_id}"),
            format!("default.replication.factor={}", nodes.min(3)),
            format!("offsets.topic.replication.factor={}", nodes.min(3)),
            format!("transaction.state.log.replication.factor={}", nodes.min(3)),
            // Node n's /metrics and /ready on 9644 + n - 1.
            format!("fjord.http.listener=localhost:{}", 9643 + n),
        ]
        .iter()
        .chain(extra)
        {
            cmd.arg("--override").arg(o);
        }
        let child = cmd
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start node {n}"))?;
        std::fs::write(dir.join(format!("node{n}.pid")), child.id().to_string())?;
        children.push(child);
    }
    let bootstrap: Vec<String> = (1..=nodes)
        .map(|n| port(n, 0).map(|p| format!("localhost:{p}")))
        .collect::<anyhow::Result<_>>()?;
    println!("bootstrap.servers={}", bootstrap.join(","));
    eprintln!(
        "fjord dev-cluster: {nodes} nodes, cluster id {cluster_id}, data and logs in {}; Ctrl-C stops them",
        dir.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(shutdown_signal());
    // Each node shuts down cleanly on SIGTERM (a terminal's Ctrl-C reaches them already).
    for c in &children {
        if let Some(pid) = rustix::process::Pid::from_raw(c.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
    for c in &mut children {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while c.try_wait()?.is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if c.try_wait()?.is_none() {
            let _ = c.kill();
        }
        let _ = c.wait();
    }
    Ok(())
}

/// Colour log lines only for a person at a terminal: never when stderr is a file, a pipe or a
/// supervisor's capture, and never when `NO_COLOR` is set to anything non-empty (no-color.org).
fn log_colour(stderr_is_terminal: bool, no_color: Option<OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The whole cause chain on one line, without a backtrace: these are
            // configuration and start-up errors meant for the operator.
            eprintln!("fjord: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FJORD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(log_colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .init();
    let cli = Cli::parse();
    if let Some(Command::DevCluster {
        nodes,
        dir,
        base_port,
        overrides,
    }) = &cli.command
    {
        return dev_cluster(*nodes, dir, *base_port, overrides);
    }
    let file = cli.config.or(cli.positional_config);
    let text = match &file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read config file {}", p.display()))?,
        ),
        None => None,
    };
    let (config, warnings) =
        Config::from_sources(text.as_deref(), std::env::vars(), &cli.overrides)
            .context("invalid configuration")?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    // Held until the process exits: the OS drops the lock of a killed process too.
    let _dir_lock = lock_log_dir(&config.log_dir)?;
    let nofile = raise_open_file_limit();
    let open_files = match config.log_max_open_files {
        0 => (nofile.unwrap_or(u64::MAX) / 2).clamp(64, 1 << 20) as usize,
        n => n,
    };
    fjord::log::OpenFiles::shared().set_cap(open_files);
    tracing::info!("segment files held open: at most {open_files} (fjord.log.max.open.files)");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let broker = Broker::start(config, Arc::new(SystemClock), rx.clone())
            .await
            .context("cannot start")?;
        let server = Server::bind(broker.clone()).await?;
        // Up before the broker serves, so /ready can say it is not ready yet.
        let http = fjord::http::bind(&broker)
            .await
            .map(|listener| tokio::spawn(fjord::http::serve(listener, broker.clone(), rx.clone())));
        if let Some(cluster) = broker.cluster.as_ref().filter(|c| c.config.broker) {
            let endpoints = server
                .local_addrs()
                .into_iter()
                .filter_map(|(name, addr)| {
                    let adv = broker.config.advertised_for(&name)?;
                    let port = if adv.port == 0 { addr.port() } else { adv.port };
                    Some(fjord::cluster::records::Endpoint {
                        listener: name,
                        host: adv.host.clone(),
                        port,
                    })
                })
                .collect();
            cluster.start_broker_lifecycle(endpoints, rx.clone());
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
        tracing::info!(
            node_id = broker.node_id,
            cluster_id = %broker.cluster_id,
            log_dir = %broker.config.log_dir.display(),
            "fjord started in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        if broker.cluster.as_ref().is_some_and(|c| c.config.broker) {
            tracing::info!(
                "waiting for the active controller to accept this broker before serving clients"
            );
        }
        let ready = tokio::select! {
            r = broker.wait_ready(rx.clone()) => r,
            _ = shutdown_signal() => false,
        };
        if !ready {
            tracing::info!("stopped before serving");
            let _ = tx.send(true);
            return anyhow::Ok(());
        }
        let serving = tokio::spawn(server.run(rx));
        broker
            .serving
            .store(true, std::sync::atomic::Ordering::Release);
        shutdown_signal().await;
        tracing::info!("shutting down (a second SIGTERM or Ctrl-C stops at once)");
        tokio::spawn(async {
            shutdown_signal().await;
            tracing::warn!("second signal: stopping at once, without a clean shutdown");
            std::process::exit(1);
        });
        let _ = tx.send(true);
        let _ = serving.await;
        if let Some(http) = http {
            let _ = http.await;
        }
        broker.topics.shut_down();
        tracing::info!("stopped");
        anyhow::Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Raise the soft limit on open files to the hard limit, as a server that holds segment files
/// (up to `fjord.log.max.open.files`) and one per connection should (Kafka's start scripts
/// leave this to the operator), and say what it is. Returns the limit now in force (None: unlimited).
fn raise_open_file_limit() -> Option<u64> {
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
/// directory would corrupt it, so the second refuses to start. An OS file lock (flock) is
/// released when its process ends, however it ends, so a stale `.lock` file never blocks a
/// restart.
fn lock_log_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create log dir {}", dir.display()))?;
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |e| {
            anyhow::anyhow!(
                "failed to acquire lock on file .lock in {}: another fjord (or Kafka) process is using this directory ({e})",
                dir.display()
            )
        },
    )?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_colour_only_on_a_terminal_without_no_color() {
        assert!(log_colour(true, None));
        assert!(!log_colour(false, None), "file or pipe");
        assert!(!log_colour(true, Some("1".into())));
        assert!(!log_colour(false, Some("1".into())));
        assert!(
            log_colour(true, Some("".into())),
            "an empty NO_COLOR is unset"
        );
    }
}
