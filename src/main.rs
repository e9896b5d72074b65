//! The `fjord` binary: configuration from `--config`, `KAFKA_*` environment
//! variables and `--override`, then serve until Ctrl-C / SIGTERM.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use fjord::clock::SystemClock;
use fjord::config::{BROKER_KEYS, Config};
use fjord::launch::Node;

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

/// What `fjord --version` says: which clients fjord serves. Its protocol is Kafka 4.1's: the
/// highest versions it advertises (`api::SUPPORTED`) are those of the kafka-protocol codec,
/// generated from Kafka 4.1.0's message schemas (a unit test holds the two to this text);
/// docs/compatibility.md lists the 4.x clients tested (Java 4.3.0) and the old ones.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (compatible with Kafka 4.x clients and older ones; the Kafka 4.1 protocol: Produce v13, Fetch v18)"
);

/// A Kafka broker in one small binary, for the Kafka clients and tools you already use.
#[derive(Parser, Debug)]
#[command(name = "fjord", version = VERSION, after_long_help = key_help(), after_help = "Run with --help for every configuration key.", args_conflicts_with_subcommands = true)]
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
    /// Print a shell completion script to stdout, e.g. `fjord completions bash >
    /// ~/.local/share/bash-completion/completions/fjord`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print fjord's manual page (roff) to stdout, e.g. `fjord man > fjord.1 && man ./fjord.1`.
    Man,
}

/// `fjord man`: clap_mangen's title, name, synopsis, description and options; then each
/// subcommand with its options, the configuration keys and the environment, written here so
/// the page is one page (clap_mangen would refer to a page per subcommand) and its key list a
/// list (the help text's columns would be filled into one paragraph).
fn man_page() -> anyhow::Result<String> {
    use roff::{Roff, bold, italic, roman};
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    // Every render starts with the same preamble (quote definitions); the page needs it once.
    let preamble = Roff::new().render();
    for section in [
        clap_mangen::Man::render_name_section,
        clap_mangen::Man::render_synopsis_section,
        clap_mangen::Man::render_description_section,
        clap_mangen::Man::render_options_section,
    ] {
        let mut text = Vec::new();
        section(&man, &mut text)?;
        page.extend_from_slice(text.strip_prefix(preamble.as_bytes()).unwrap_or(&text));
    }
    let mut r = Roff::new();
    r.control("SH", ["SUBCOMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut sub = sub.clone();
        let usage = sub.render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ");
        r.control("TP", []);
        r.text([bold(format!("fjord {usage}"))]);
        let about = sub.get_long_about().or(sub.get_about());
        r.text([roman(about.map(|a| a.to_string()).unwrap_or_default())]);
        let args: Vec<&clap::Arg> = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && a.get_id() != "help")
            .collect();
        if args.is_empty() {
            continue;
        }
        r.control("RS", []);
        for arg in args {
            let value = arg
                .get_value_names()
                .map(|v| v.iter().map(|n| format!("<{n}>")).collect::<Vec<_>>())
                .unwrap_or_default()
                .join(" ");
            r.control("TP", []);
            match arg.get_long() {
                Some(long) => r.text([bold(format!("--{long}")), roman(" "), italic(value)]),
                None => r.text([italic(value)]),
            };
            let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() {
                help.push_str(&format!(" [default: {}]", defaults.join(", ")));
            }
            let possible: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect();
            if !possible.is_empty() {
                help.push_str(&format!(" [possible values: {}]", possible.join(", ")));
            }
            r.text([roman(help)]);
        }
        r.control("RE", []);
    }
    r.control("SH", ["CONFIGURATION"]);
    r.text([roman(
        "Kafka's own keys, from the properties file, then KAFKA_* environment variables, then --override (later wins). Their defaults:",
    )]);
    for k in BROKER_KEYS {
        r.control("TP", []);
        r.text([
            bold(k.name),
            roman(" (default "),
            italic(k.default.unwrap_or("none")),
            roman(")"),
        ]);
        r.text([roman(k.doc)]);
    }
    r.control("SH", ["ENVIRONMENT"]);
    for (name, doc) in [
        (
            "KAFKA_*",
            "A configuration key, named as Apache Kafka's docker image names it: KAFKA_LOG_DIRS=/x sets log.dirs ('_' is '.', '__' is '_', '___' is '-').",
        ),
        (
            "FJORD_LOG",
            "Which log lines to write to stderr, in tracing's env-filter syntax (default info,openraft=warn).",
        ),
        (
            "NO_COLOR",
            "Set to anything non-empty: log lines without colour.",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(name)]);
        r.text([roman(doc)]);
    }
    r.control("SH", ["VERSION"]);
    r.text([roman(format!("fjord {VERSION}"))]);
    let mut text = String::from_utf8(page)?;
    let rest = r.render();
    text.push_str(rest.strip_prefix(&preamble).unwrap_or(&rest));
    Ok(text)
}

/// Write `bytes` to stdout: a closed pipe (`fjord man | head`) is an error, not a panic.
fn print_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
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
    match &cli.command {
        Some(Command::DevCluster {
            nodes,
            dir,
            base_port,
            overrides,
        }) => return dev_cluster(*nodes, dir, *base_port, overrides),
        Some(Command::Completions { shell }) => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "fjord", &mut script);
            return print_bytes(&script);
        }
        Some(Command::Man) => return print_bytes(man_page()?.as_bytes()),
        None => {}
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
    let nofile = fjord::launch::raise_open_file_limit();
    fjord::launch::cap_open_files(&config, nofile);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut node = Node::start(config, Arc::new(SystemClock)).await?;
        let broker = node.broker.clone();
        tracing::info!(
            node_id = broker.node_id,
            cluster_id = %broker.cluster_id,
            log_dir = %broker.config.log_dir.display(),
            "fjord started in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        let ready = tokio::select! {
            r = node.serve() => r,
            _ = shutdown_signal() => false,
        };
        if !ready {
            tracing::info!("stopped before serving");
            node.shut_down().await;
            return anyhow::Ok(());
        }
        shutdown_signal().await;
        tracing::info!("shutting down (a second SIGTERM or Ctrl-C stops at once)");
        tokio::spawn(async {
            shutdown_signal().await;
            tracing::warn!("second signal: stopping at once, without a clean shutdown");
            std::process::exit(1);
        });
        node.shut_down().await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_the_protocol_fjord_advertises() {
        use kafka_protocol::messages::ApiKey;
        let advertised = |key| fjord::api::advertised(key).unwrap().1;
        for (key, name) in [(ApiKey::Produce, "Produce"), (ApiKey::Fetch, "Fetch")] {
            // The codec's highest version is Kafka 4.1.0's (kafka-protocol 0.18 is generated
            // from its schemas); fjord advertises it, and the version text says which.
            assert_eq!(advertised(key), key.valid_versions().max, "{name}");
            assert!(
                VERSION.contains(&format!("{name} v{}", advertised(key))),
                "{VERSION}"
            );
        }
        assert!(VERSION.contains("the Kafka 4.1 protocol"));
    }

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
