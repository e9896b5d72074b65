//! Broker keys: every key fjord reads with its type, Kafka default and what
//! fjord does with it ([`BROKER_KEYS`]), the keys accepted without effect,
//! the keys that may change at runtime, and how a key map becomes a
//! validated, typed [`Config`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::value::{ConfigError, ConfigType, Origin, invalid, validate_type};

/// The typed broker configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Every key as given (after precedence), for DescribeConfigs.
    pub raw: BTreeMap<String, String>,
    /// Which layer each key of `raw` comes from.
    pub origin: BTreeMap<String, Origin>,
    /// Client (and inter-broker) listeners to bind, each with its security protocol.
    pub listeners: Vec<Listener>,
    /// What Metadata advertises, matched to `listeners` by name.
    pub advertised_listeners: Vec<Listener>,
    pub log_dir: PathBuf,
    pub node_id: i32,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub log_retention_ms: i64,
    pub log_retention_bytes: i64,
    pub log_segment_bytes: i32,
    pub log_roll_ms: i64,
    pub log_index_interval_bytes: i32,
    pub log_flush_interval_messages: i64,
    pub message_max_bytes: i32,
    pub socket_request_max_bytes: i32,
    /// `max.connections`: client connections over all listeners; at the limit the broker stops
    /// accepting until one closes (Kafka's acceptor waits for a slot the same way).
    pub max_connections: usize,
    /// `max.connections.per.ip`, and `max.connections.per.ip.overrides` (`ip:count,...`): a
    /// connection past its address's limit is closed as soon as it is accepted.
    pub max_connections_per_ip: usize,
    pub max_connections_per_ip_overrides: Vec<(std::net::IpAddr, usize)>,
    /// `fjord.log.max.open.files`: segment files held open at once; 0 = half the process's
    /// open-file limit ([`crate::log::OpenFiles`]).
    pub log_max_open_files: usize,
    /// `num.recovery.threads.per.data.dir`: threads that open the partitions at start-up.
    pub recovery_threads: usize,
    /// `fjord.http.listener`: `host:port` of the HTTP listener (`/metrics`, `/health`,
    /// `/ready`); `None` (an empty value) serves no HTTP.
    pub http_listener: Option<String>,
    /// `max.incremental.fetch.session.cache.slots`: fetch sessions (KIP-227) kept at once.
    pub fetch_session_cache_slots: usize,
    /// `min.incremental.fetch.session.eviction.ms` (internal in Kafka): how long a fetch
    /// session is safe from eviction by a newer one.
    pub fetch_session_eviction_ms: i64,
    pub cluster_id: Option<String>,
    pub group_initial_rebalance_delay_ms: i64,
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub offsets_retention_ms: i64,
    pub offsets_retention_check_interval_ms: i64,
    pub offset_metadata_max_bytes: usize,
    pub group_consumer_session_timeout_ms: i32,
    pub group_consumer_heartbeat_interval_ms: i32,
    pub group_consumer_assignors: Vec<String>,
    /// `group.consumer.{min,max}.{session.timeout,heartbeat.interval}.ms`: the bounds of the
    /// consumer group configs.
    pub group_consumer_bounds: TimeoutBounds,
    /// The `group.share.*` keys (KIP-932).
    pub share: ShareGroupBrokerConfig,
    pub share_state_topic_num_partitions: i32,
    pub share_state_topic_segment_bytes: i32,
    /// `share.coordinator.state.topic.replication.factor` and `.min.isr`: how a cluster creates
    /// `__share_group_state` (the share coordinator's topic, design §14.1).
    pub share_state_topic_replication_factor: i16,
    pub share_state_topic_min_isr: i16,
    pub transaction_max_timeout_ms: i32,
    pub log_retention_check_interval_ms: i64,
    /// The cluster keys (`process.roles`, `controller.quorum.voters`, …); `None` for the
    /// single-node broker.
    pub cluster: Option<ClusterConfig>,
}

/// The bounds a group config's session timeout and heartbeat interval must keep (Kafka's
/// `group.<type>.min/max.*` keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutBounds {
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub min_heartbeat_interval_ms: i32,
    pub max_heartbeat_interval_ms: i32,
}

/// The broker's share-group keys (Kafka 4.2 `ShareGroupConfig` and the `group.share.*` keys of
/// `GroupCoordinatorConfig`), checked against each other as Kafka checks them at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareGroupBrokerConfig {
    pub record_lock_duration_ms: i32,
    pub min_record_lock_duration_ms: i32,
    pub max_record_lock_duration_ms: i32,
    pub delivery_count_limit: i32,
    /// The bounds of a group's `share.delivery.count.limit` (KIP-1240, Kafka 4.3).
    pub min_delivery_count_limit: i32,
    pub max_delivery_count_limit: i32,
    pub partition_max_record_locks: i32,
    /// The bounds of a group's `share.partition.max.record.locks` (KIP-1240, Kafka 4.3).
    pub min_partition_max_record_locks: i32,
    pub max_partition_max_record_locks: i32,
    pub max_share_sessions: i32,
    pub session_timeout_ms: i32,
    pub heartbeat_interval_ms: i32,
    pub bounds: TimeoutBounds,
    pub max_size: i32,
}

/// What a node of a cluster needs beyond the single-node keys.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// `process.roles` includes `broker`.
    pub broker: bool,
    /// `process.roles` includes `controller`.
    pub controller: bool,
    /// `controller.quorum.voters` (or `controller.quorum.bootstrap.servers`, whose entries
    /// carry no id: those are contacted but never voted for).
    pub voters: Vec<Voter>,
    /// The listener the controller binds (the first of `controller.listener.names` found in
    /// `listeners`); `None` on a broker-only node.
    pub controller_listener: Option<Listener>,
    /// `inter.broker.listener.name`: what the other brokers use to reach this one.
    pub inter_broker_listener: String,
    pub broker_session_timeout_ms: i64,
    pub broker_heartbeat_interval_ms: i64,
    pub offsets_topic_replication_factor: i16,
    pub transaction_state_log_replication_factor: i16,
    /// Partitions of `__consumer_offsets` / `__transaction_state` in a cluster (a single
    /// broker keeps one of each).
    pub offsets_topic_num_partitions: i32,
    pub transaction_state_log_num_partitions: i32,
    pub replication: ReplicationConfig,
}

/// How followers replicate and leaders judge them (Kafka's `replica.*` keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationConfig {
    /// `replica.lag.time.max.ms`: an in-sync follower not caught up for this long leaves the ISR.
    pub lag_time_max_ms: i64,
    /// `replica.fetch.wait.max.ms`: how long a follower's fetch may wait at the leader.
    pub fetch_wait_max_ms: i64,
    /// `replica.fetch.min.bytes`.
    pub fetch_min_bytes: i64,
    /// `replica.fetch.max.bytes`: per partition.
    pub fetch_max_bytes: i64,
    /// `replica.fetch.response.max.bytes`: per fetch.
    pub fetch_response_max_bytes: i64,
    /// `replica.fetch.backoff.ms`: after a failed fetch.
    pub fetch_backoff_ms: i64,
    /// `replica.high.watermark.checkpoint.interval.ms`.
    pub high_watermark_checkpoint_interval_ms: i64,
}

impl Default for ReplicationConfig {
    /// Kafka's defaults.
    fn default() -> ReplicationConfig {
        ReplicationConfig {
            lag_time_max_ms: 30_000,
            fetch_wait_max_ms: 500,
            fetch_min_bytes: 1,
            fetch_max_bytes: 1_048_576,
            fetch_response_max_bytes: 10_485_760,
            fetch_backoff_ms: 1000,
            high_watermark_checkpoint_interval_ms: 5000,
        }
    }
}

/// One entry of `controller.quorum.voters`: `id@host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voter {
    pub id: i32,
    pub host: String,
    pub port: u16,
}

impl Config {
    /// Value of `key` as configured, or its Kafka default.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.raw
            .get(key)
            .map(String::as_str)
            .or_else(|| spec(key).and_then(|s| s.default))
    }

    /// Whether `key` was set explicitly (DescribeConfigs source STATIC_BROKER_CONFIG).
    pub fn is_set(&self, key: &str) -> bool {
        self.raw.contains_key(key)
    }

    /// The layer a key's value comes from, or None for Kafka's default.
    pub fn origin_of(&self, key: &str) -> Option<Origin> {
        self.origin.get(key).copied()
    }

    /// A key's value for one listener: `listener.name.<listener>.<key>` (listener name in lower
    /// case, as Kafka writes it), else the key itself, else Kafka's default.
    pub fn listener_value(&self, listener: &str, key: &str) -> Option<&str> {
        let prefixed = format!("listener.name.{}.{key}", listener.to_ascii_lowercase());
        self.raw
            .get(&prefixed)
            .map(String::as_str)
            .or_else(|| self.get(key))
    }

    /// A SASL mechanism's JAAS options on a listener:
    /// `listener.name.<listener>.<mechanism>.sasl.jaas.config`, else `sasl.jaas.config`.
    pub fn jaas_config(&self, listener: &str, mechanism: &str) -> Option<&str> {
        let prefixed = format!(
            "listener.name.{}.{}.sasl.jaas.config",
            listener.to_ascii_lowercase(),
            mechanism.to_ascii_lowercase()
        );
        self.raw
            .get(&prefixed)
            .map(String::as_str)
            .or_else(|| self.listener_value(listener, "sasl.jaas.config"))
    }

    /// The listener advertised for the listener a client connected to.
    pub fn advertised_for(&self, listener: &str) -> Option<&Listener> {
        self.advertised_listeners
            .iter()
            .find(|l| l.name == listener)
            .or(self.advertised_listeners.first())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::from_map(BTreeMap::new()).expect("defaults are valid")
    }
}

use ConfigType as T;

/// One broker key fjord understands.
pub struct KeySpec {
    pub name: &'static str,
    pub kind: ConfigType,
    /// Kafka's default, or `None` where Kafka has none (null).
    pub default: Option<&'static str>,
    /// What fjord does with it; the first line of `fjord --help`'s key list.
    pub doc: &'static str,
}

const fn key(
    name: &'static str,
    kind: ConfigType,
    default: Option<&'static str>,
    doc: &'static str,
) -> KeySpec {
    KeySpec {
        name,
        kind,
        default,
        doc,
    }
}

/// Every broker key fjord reads. Defaults are Kafka's except where the doc says why not.
pub const BROKER_KEYS: &[KeySpec] = &[
    key(
        "listeners",
        T::List,
        Some("PLAINTEXT://localhost:9092"),
        "Listeners to bind. Kafka's default binds all interfaces; fjord binds localhost for local use.",
    ),
    key(
        "advertised.listeners",
        T::List,
        None,
        "Addresses handed to clients in Metadata; defaults to listeners.",
    ),
    key(
        "listener.security.protocol.map",
        T::List,
        Some(
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        ),
        "Listener name to security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL). The controller and inter-broker listeners must be PLAINTEXT.",
    ),
    key(
        "ssl.keystore.type",
        T::String,
        Some("JKS"),
        "PEM or PKCS12 (JKS is not read: convert it with keytool -importkeystore -deststoretype PKCS12). Any ssl.* key may be set for one listener as listener.name.<listener>.ssl.*.",
    ),
    key(
        "ssl.keystore.location",
        T::String,
        None,
        "The broker's key and certificate chain: a PEM file holding both, or a PKCS12 file.",
    ),
    key(
        "ssl.keystore.password",
        T::Password,
        None,
        "Password of a PKCS12 keystore.",
    ),
    key(
        "ssl.key.password",
        T::Password,
        None,
        "Password of an encrypted PEM private key.",
    ),
    key(
        "ssl.keystore.certificate.chain",
        T::Password,
        None,
        "The certificate chain in PEM, inline (with ssl.keystore.type=PEM and no location).",
    ),
    key(
        "ssl.keystore.key",
        T::Password,
        None,
        "The private key in PEM, inline (with ssl.keystore.type=PEM and no location).",
    ),
    key(
        "ssl.truststore.type",
        T::String,
        Some("JKS"),
        "PEM or PKCS12: the CAs client certificates are checked against.",
    ),
    key(
        "ssl.truststore.location",
        T::String,
        None,
        "File of trusted CA certificates for client authentication.",
    ),
    key(
        "ssl.truststore.password",
        T::Password,
        None,
        "Password of a PKCS12 truststore.",
    ),
    key(
        "ssl.truststore.certificates",
        T::Password,
        None,
        "Trusted CA certificates in PEM, inline (with ssl.truststore.type=PEM and no location).",
    ),
    key(
        "ssl.client.auth",
        T::String,
        Some("none"),
        "none, requested or required: whether TLS clients present a certificate (mutual TLS). A client certificate's subject becomes the principal.",
    ),
    key(
        "ssl.principal.mapping.rules",
        T::String,
        Some("DEFAULT"),
        "Rules mapping a client certificate's distinguished name to a principal name, as Kafka's.",
    ),
    key(
        "ssl.enabled.protocols",
        T::List,
        Some("TLSv1.2,TLSv1.3"),
        "TLS versions served.",
    ),
    key(
        "sasl.enabled.mechanisms",
        T::List,
        Some("PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"),
        "SASL mechanisms served on SASL listeners. Kafka's default is GSSAPI (Kerberos), which fjord does not serve; fjord enables every mechanism it has. Per listener: listener.name.<listener>.sasl.enabled.mechanisms.",
    ),
    key(
        "sasl.jaas.config",
        T::Password,
        None,
        "JAAS login options of a mechanism, normally set per listener and mechanism as listener.name.<listener>.<mechanism>.sasl.jaas.config (PLAIN's users: user_<name>=\"<password>\"). fjord extension: unprefixed, it applies to every SASL listener.",
    ),
    key(
        "connections.max.reauth.ms",
        T::Long,
        Some("0"),
        "KIP-368: a SASL session lasts this long and the client re-authenticates on the same connection (0: forever).",
    ),
    key(
        "sasl.server.max.receive.size",
        T::Int,
        Some("524288"),
        "Largest request a client may send before it has authenticated on a SASL listener (larger: the connection is closed).",
    ),
    key(
        "connection.failed.authentication.delay.ms",
        T::Int,
        Some("100"),
        "A connection whose authentication failed is closed after this delay.",
    ),
    key(
        "authorizer.class.name",
        T::String,
        Some(""),
        "Set to org.apache.kafka.metadata.authorizer.StandardAuthorizer (any non-empty value) to authorize requests with ACLs.",
    ),
    key(
        "super.users",
        T::String,
        None,
        "Principals allowed everything, separated by semicolons (User:admin;User:CN=ops).",
    ),
    key(
        "allow.everyone.if.no.acl.found",
        T::Boolean,
        Some("false"),
        "With an authorizer: a resource no ACL matches is open to everyone.",
    ),
    key(
        "controller.listener.names",
        T::List,
        None,
        "Listeners the controller binds (Raft and broker-to-controller traffic). The single-node broker does not bind them.",
    ),
    key(
        "process.roles",
        T::List,
        None,
        "broker, controller, or both (combined mode). Unset, or a quorum of this node alone: the single-node broker.",
    ),
    key(
        "controller.quorum.voters",
        T::List,
        None,
        "The static controller quorum: id@host:port for each voter (its CONTROLLER listener).",
    ),
    key(
        "controller.quorum.bootstrap.servers",
        T::List,
        None,
        "host:port of controllers to reach when controller.quorum.voters is not set (broker-only nodes).",
    ),
    key(
        "security.inter.broker.protocol",
        T::String,
        Some("PLAINTEXT"),
        "Security protocol between brokers when inter.broker.listener.name is unset: the listener of that name is used. PLAINTEXT or SASL_PLAINTEXT.",
    ),
    key(
        "sasl.mechanism.inter.broker.protocol",
        T::String,
        Some("PLAIN"),
        "SASL mechanism brokers log in to each other with (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512), using the username and password options of that mechanism's JAAS config on the inter-broker listener. Kafka's default is GSSAPI.",
    ),
    key(
        "inter.broker.listener.name",
        T::String,
        None,
        "The listener other brokers connect to; defaults to the first non-controller listener.",
    ),
    key(
        "broker.session.timeout.ms",
        T::Int,
        Some("9000"),
        "A broker not heard from for this long is fenced: it leaves Metadata and its partitions lose their leader.",
    ),
    key(
        "broker.heartbeat.interval.ms",
        T::Int,
        Some("2000"),
        "How often a broker heartbeats to the active controller.",
    ),
    key(
        "replica.lag.time.max.ms",
        T::Int,
        Some("30000"),
        "An in-sync follower that has not caught up with its leader for this long leaves the ISR.",
    ),
    key(
        "replica.fetch.wait.max.ms",
        T::Int,
        Some("500"),
        "How long a follower's fetch waits at the leader for new data.",
    ),
    key(
        "replica.fetch.min.bytes",
        T::Int,
        Some("1"),
        "Bytes a follower's fetch waits for.",
    ),
    key(
        "replica.fetch.max.bytes",
        T::Int,
        Some("1048576"),
        "Bytes a follower fetches per partition (at least one batch).",
    ),
    key(
        "replica.fetch.response.max.bytes",
        T::Int,
        Some("10485760"),
        "Bytes a follower fetches per request.",
    ),
    key(
        "replica.fetch.backoff.ms",
        T::Int,
        Some("1000"),
        "Wait after a follower's fetch failed.",
    ),
    key(
        "replica.high.watermark.checkpoint.interval.ms",
        T::Int,
        Some("5000"),
        "How often high watermarks are written to replication-offset-checkpoint.",
    ),
    key(
        "log.dirs",
        T::List,
        None,
        "Data directory (the first one is used). Default ./data (Kafka: /tmp/kafka-logs).",
    ),
    key(
        "log.dir",
        T::String,
        Some("./data"),
        "Used when log.dirs is unset.",
    ),
    key(
        "node.id",
        T::Int,
        Some("1"),
        "This broker's id. Kafka requires it in KRaft mode; fjord defaults to 1.",
    ),
    key(
        "broker.id",
        T::Int,
        Some("-1"),
        "Synonym of node.id when node.id is unset.",
    ),
    key(
        "num.partitions",
        T::Int,
        Some("1"),
        "Partitions of auto-created topics.",
    ),
    key(
        "default.replication.factor",
        T::Short,
        Some("1"),
        "Replicas of a topic created without a replication factor (cluster mode; a single broker keeps one).",
    ),
    key(
        "offsets.topic.replication.factor",
        T::Short,
        Some("3"),
        "Replicas of __consumer_offsets in a cluster; it is created once that many brokers are registered.",
    ),
    key(
        "offsets.topic.num.partitions",
        T::Int,
        Some("50"),
        "Partitions of __consumer_offsets in a cluster (groups spread over their leaders); a single broker keeps one.",
    ),
    key(
        "transaction.state.log.num.partitions",
        T::Int,
        Some("50"),
        "Partitions of __transaction_state in a cluster; a single broker keeps one.",
    ),
    key(
        "transaction.state.log.replication.factor",
        T::Short,
        Some("3"),
        "Replicas of __transaction_state in a cluster; it is created once that many brokers are registered.",
    ),
    key(
        "auto.create.topics.enable",
        T::Boolean,
        Some("true"),
        "Create topics on Metadata requests for unknown topics.",
    ),
    key(
        "delete.topic.enable",
        T::Boolean,
        Some("true"),
        "DeleteTopics is refused when false.",
    ),
    key(
        "log.retention.hours",
        T::Int,
        Some("168"),
        "Retention (stored; enforced in a later release).",
    ),
    key(
        "log.retention.minutes",
        T::Int,
        None,
        "Overrides log.retention.hours.",
    ),
    key(
        "log.retention.ms",
        T::Long,
        None,
        "Overrides log.retention.minutes.",
    ),
    key(
        "log.retention.bytes",
        T::Long,
        Some("-1"),
        "Default retention.bytes of topics (-1: no size limit).",
    ),
    key(
        "log.retention.check.interval.ms",
        T::Long,
        Some("300000"),
        "How often retention and the log cleaner run.",
    ),
    key(
        "log.segment.bytes",
        T::Int,
        Some("1073741824"),
        "Roll segments at this size.",
    ),
    key(
        "log.roll.hours",
        T::Int,
        Some("168"),
        "Roll segments at this age.",
    ),
    key("log.roll.ms", T::Long, None, "Overrides log.roll.hours."),
    key(
        "log.index.interval.bytes",
        T::Int,
        Some("4096"),
        "Bytes of log between offset index entries.",
    ),
    key(
        "log.cleanup.policy",
        T::List,
        Some("delete"),
        "Default cleanup.policy of topics.",
    ),
    key(
        "log.flush.interval.messages",
        T::Long,
        Some("9223372036854775807"),
        "fsync a partition after this many records (before acknowledging).",
    ),
    key(
        "log.flush.interval.ms",
        T::Long,
        None,
        "Accepted and reported; fjord flushes by message count.",
    ),
    key(
        "message.max.bytes",
        T::Int,
        Some("1048588"),
        "Largest record batch accepted.",
    ),
    key(
        "max.connections",
        T::Int,
        Some("2147483647"),
        "Client connections over all listeners; at the limit new ones wait (unaccepted) until one closes.",
    ),
    key(
        "max.connections.per.ip",
        T::Int,
        Some("2147483647"),
        "Connections from one address; one past it is closed as soon as it is accepted.",
    ),
    key(
        "max.connections.per.ip.overrides",
        T::String,
        Some(""),
        "Per-address limits, `ip:count,...` (IP literals).",
    ),
    key(
        "num.recovery.threads.per.data.dir",
        T::Int,
        Some("2"),
        "Threads that open (and after a crash recover) the partitions at start-up.",
    ),
    key(
        "fjord.log.max.open.files",
        T::Int,
        Some("0"),
        "fjord's own: segment files held open at once, the least recently used closed past it (Kafka keeps every one open). 0: half the open-file limit, which fjord raises to the hard limit at start-up.",
    ),
    key(
        "fjord.http.listener",
        T::String,
        Some("localhost:9644"),
        "fjord's own: host:port of the HTTP listener that serves the web console (/), the JSON API (/api/v1/), /metrics (Prometheus), /health and /ready (docs/observability.md). With an authorizer, the console and JSON API take HTTP Basic logins of SCRAM users. Empty: none. Port 0 picks a free port (logged). If the port is taken, fjord logs a warning and serves Kafka without it.",
    ),
    key(
        "max.incremental.fetch.session.cache.slots",
        T::Int,
        Some("1000"),
        "Incremental fetch sessions (KIP-227) kept at once. When full, a new session takes the slot of one unused for min.incremental.fetch.session.eviction.ms, or of a smaller (or consumer's, for a follower) session older than that; otherwise its fetcher goes on with full fetches.",
    ),
    key(
        "min.incremental.fetch.session.eviction.ms",
        T::Int,
        Some("120000"),
        "Kafka's internal key: how long a fetch session is safe from eviction by a newer one (unused for longer: evictable by any).",
    ),
    key(
        "socket.request.max.bytes",
        T::Int,
        Some("104857600"),
        "Largest request frame; larger frames close the connection. Also the most one compressed batch is ever inflated to (docs/architecture.md, Decompression).",
    ),
    key(
        "compression.type",
        T::String,
        Some("producer"),
        "Default compression.type of topics (only 'producer' is applied).",
    ),
    key(
        "log.message.timestamp.type",
        T::String,
        Some("CreateTime"),
        "Default message.timestamp.type of topics.",
    ),
    key(
        "min.insync.replicas",
        T::Int,
        Some("1"),
        "Default min.insync.replicas of topics: acks=all writes need this many in-sync replicas.",
    ),
    key(
        "unclean.leader.election.enable",
        T::Boolean,
        Some("false"),
        "Default unclean.leader.election.enable of topics: elect a replica outside the ISR when no in-sync one is alive (may lose acknowledged records). Set cluster-wide with kafka-configs.sh --entity-type brokers --entity-default.",
    ),
    key(
        "group.initial.rebalance.delay.ms",
        T::Int,
        Some("0"),
        "Wait before the first rebalance of an empty group. Kafka: 3000; fjord 0, as Kafka's own dev server.properties sets, so a lone local consumer starts at once (the first join still waits 50-100 ms for company, see above).",
    ),
    key(
        "group.min.session.timeout.ms",
        T::Int,
        Some("6000"),
        "Smallest session.timeout.ms a consumer may ask for (INVALID_SESSION_TIMEOUT below).",
    ),
    key(
        "group.max.session.timeout.ms",
        T::Int,
        Some("1800000"),
        "Largest session.timeout.ms a consumer may ask for.",
    ),
    key(
        "group.consumer.session.timeout.ms",
        T::Int,
        Some("45000"),
        "Session timeout of consumer-protocol (KIP-848) group members.",
    ),
    key(
        "group.consumer.heartbeat.interval.ms",
        T::Int,
        Some("5000"),
        "Heartbeat interval the coordinator gives consumer-protocol members.",
    ),
    key(
        "group.consumer.assignors",
        T::List,
        Some("uniform,range"),
        "Server-side assignors of consumer-protocol groups; the first is the default.",
    ),
    key(
        "group.consumer.min.session.timeout.ms",
        T::Int,
        Some("45000"),
        "Smallest consumer.session.timeout.ms a group config may set (Kafka's bound; fjord does not hold group.consumer.session.timeout.ms to it).",
    ),
    key(
        "group.consumer.max.session.timeout.ms",
        T::Int,
        Some("60000"),
        "Largest consumer.session.timeout.ms a group config may set.",
    ),
    key(
        "group.consumer.min.heartbeat.interval.ms",
        T::Int,
        Some("5000"),
        "Smallest consumer.heartbeat.interval.ms a group config may set (Kafka's bound; fjord does not hold group.consumer.heartbeat.interval.ms to it).",
    ),
    key(
        "group.consumer.max.heartbeat.interval.ms",
        T::Int,
        Some("15000"),
        "Largest consumer.heartbeat.interval.ms a group config may set.",
    ),
    key(
        "group.share.record.lock.duration.ms",
        T::Int,
        Some("30000"),
        "Share groups (KIP-932): how long a delivered record stays acquired by one consumer. 1000-3600000, within the min and max below; a group config (share.record.lock.duration.ms) overrides it.",
    ),
    key(
        "group.share.min.record.lock.duration.ms",
        T::Int,
        Some("15000"),
        "Smallest share.record.lock.duration.ms a group config may set. 1000-30000.",
    ),
    key(
        "group.share.max.record.lock.duration.ms",
        T::Int,
        Some("60000"),
        "Largest share.record.lock.duration.ms a group config may set. 30000-3600000.",
    ),
    key(
        "group.share.delivery.count.limit",
        T::Int,
        Some("5"),
        "Deliveries of a record to share consumers before it is archived. 2-10, within the min and max below; a group config (share.delivery.count.limit) overrides it.",
    ),
    key(
        "group.share.min.delivery.count.limit",
        T::Int,
        Some("2"),
        "Smallest share.delivery.count.limit a group config may set. 2-5.",
    ),
    key(
        "group.share.max.delivery.count.limit",
        T::Int,
        Some("10"),
        "Largest share.delivery.count.limit a group config may set. 5-25.",
    ),
    key(
        "group.share.partition.max.record.locks",
        T::Int,
        Some("2000"),
        "Records of one share-partition acquired at once. 100-10000, within the min and max below; a group config (share.partition.max.record.locks) overrides it.",
    ),
    key(
        "group.share.min.partition.max.record.locks",
        T::Int,
        Some("100"),
        "Smallest share.partition.max.record.locks a group config may set. 100-10000.",
    ),
    key(
        "group.share.max.partition.max.record.locks",
        T::Int,
        Some("4000"),
        "Largest share.partition.max.record.locks a group config may set. 100-10000.",
    ),
    key(
        "group.share.max.share.sessions",
        T::Int,
        Some("2000"),
        "Share sessions (ShareFetch) this broker keeps at once.",
    ),
    key(
        "group.share.session.timeout.ms",
        T::Int,
        Some("45000"),
        "Session timeout of share-group members; within the min and max below, above the heartbeat interval.",
    ),
    key(
        "group.share.min.session.timeout.ms",
        T::Int,
        Some("45000"),
        "Smallest share.session.timeout.ms a group config may set.",
    ),
    key(
        "group.share.max.session.timeout.ms",
        T::Int,
        Some("60000"),
        "Largest share.session.timeout.ms a group config may set.",
    ),
    key(
        "group.share.heartbeat.interval.ms",
        T::Int,
        Some("5000"),
        "Heartbeat interval the coordinator gives share-group members; within the min and max below.",
    ),
    key(
        "group.share.min.heartbeat.interval.ms",
        T::Int,
        Some("5000"),
        "Smallest share.heartbeat.interval.ms a group config may set.",
    ),
    key(
        "group.share.max.heartbeat.interval.ms",
        T::Int,
        Some("15000"),
        "Largest share.heartbeat.interval.ms a group config may set.",
    ),
    key(
        "group.share.max.size",
        T::Int,
        Some("200"),
        "Members of one share group (GROUP_MAX_SIZE_REACHED beyond). 1-1000.",
    ),
    key(
        "group.share.assignors",
        T::List,
        Some("simple"),
        "Assignors of share groups; fjord has Kafka's simple assignor only.",
    ),
    key(
        "share.coordinator.state.topic.num.partitions",
        T::Int,
        Some("50"),
        "Partitions of __share_group_state in a cluster; a single broker keeps one.",
    ),
    key(
        "share.coordinator.state.topic.replication.factor",
        T::Short,
        Some("3"),
        "Replicas of __share_group_state in a cluster; it is created once that many brokers are registered.",
    ),
    key(
        "share.coordinator.state.topic.min.isr",
        T::Short,
        Some("2"),
        "min.insync.replicas of __share_group_state (set when a cluster creates it): fewer in-sync replicas refuse the share coordinator's writes.",
    ),
    key(
        "share.coordinator.state.topic.segment.bytes",
        T::Int,
        Some("104857600"),
        "Segment size of __share_group_state.",
    ),
    key(
        "transaction.max.timeout.ms",
        T::Int,
        Some("900000"),
        "Largest transaction.timeout.ms a producer may ask for (INVALID_TRANSACTION_TIMEOUT above).",
    ),
    key(
        "offsets.retention.minutes",
        T::Int,
        Some("10080"),
        "Committed offsets of a group that stays empty this long are deleted.",
    ),
    key(
        "offsets.retention.check.interval.ms",
        T::Long,
        Some("600000"),
        "How often expired offsets are looked for.",
    ),
    key(
        "offset.metadata.max.bytes",
        T::Int,
        Some("4096"),
        "Largest metadata string of a committed offset (OFFSET_METADATA_TOO_LARGE above).",
    ),
    key(
        "cluster.id",
        T::String,
        None,
        "fjord extension: cluster id for a new data dir (else random, kept in meta.properties).",
    ),
];

/// The spec of a known broker key. A key set for one listener
/// (`listener.name.<listener>.ssl.keystore.location`, and
/// `listener.name.<listener>.<mechanism>.sasl.jaas.config`) has the spec of the key it sets.
pub fn spec(key: &str) -> Option<&'static KeySpec> {
    BROKER_KEYS
        .iter()
        .find(|s| s.name == key)
        .or_else(|| listener_key(key).and_then(spec))
}

/// What a `listener.name.<listener>.` key sets: the key without the prefix (and without a
/// SASL mechanism before `sasl.jaas.config`), if it is one a listener may override.
fn listener_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("listener.name.")?;
    let (_, inner) = rest.split_once('.')?;
    let inner = match inner.split_once(".sasl.jaas.config") {
        Some((mechanism, "")) if !mechanism.contains("sasl") => "sasl.jaas.config",
        _ => inner,
    };
    let overridable = inner.starts_with("ssl.")
        || inner.starts_with("sasl.")
        || inner == "connections.max.reauth.ms";
    overridable.then_some(inner)
}

/// Whether a key holds a secret (Kafka's PASSWORD type): DescribeConfigs reports it as
/// sensitive with no value, and nothing logs it.
pub fn is_sensitive(key: &str) -> bool {
    spec(key).is_some_and(|s| s.kind == ConfigType::Password)
}

/// Whether fjord knows `key`: one it reads, or one of Kafka's it accepts and ignores
/// (`IGNORED_KEYS`). Other keys get the "unknown config key" warning.
pub fn is_known(key: &str) -> bool {
    spec(key).is_some() || IGNORED_KEYS.contains(&key)
}

/// Keys of a Kafka server.properties that mean nothing to a single fjord broker.
/// They are accepted without a warning so that stock files and compose blocks carry over.
pub(super) const IGNORED_KEYS: &[&str] = &[
    "num.network.threads",
    "num.io.threads",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "transaction.state.log.min.isr",
    // Share-group knobs with no meaning in fjord's design (one persister, no coordinator
    // threads or snapshots of their own; share groups are always on).
    "share.coordinator.snapshot.update.records.per.snapshot",
    "share.coordinator.state.topic.prune.interval.ms",
    "share.coordinator.cold.partition.snapshot.interval.ms",
    "share.coordinator.threads",
    "share.coordinator.write.timeout.ms",
    "share.coordinator.load.buffer.size",
    "share.coordinator.state.topic.compression.codec",
    "share.coordinator.append.linger.ms",
    "share.fetch.purgatory.purge.interval.requests",
    "group.share.enable",
    "group.share.persister.class.name",
    "metadata.log.dir",
    "zookeeper.connect",
    "confluent.support.metrics.enable",
    // Kafka 3.x's format and protocol pins; the log always keeps message format v2.
    "log.message.format.version",
    "inter.broker.protocol.version",
];

/// The server-side assignors of consumer-protocol groups (KIP-848): the names
/// `group.consumer.assignors` may list. The group coordinator implements them.
pub const CONSUMER_GROUP_ASSIGNORS: &[&str] = &["uniform", "range"];

/// Broker keys that can change at runtime (IncrementalAlterConfigs on a
/// broker resource), as in Kafka: the topic defaults and limits of the log.
pub const DYNAMIC_BROKER_KEYS: &[&str] = &[
    // Only the primary names: Kafka refuses log.retention.hours/minutes and
    // log.roll.hours as dynamic configs.
    "log.retention.ms",
    "log.retention.bytes",
    "log.segment.bytes",
    "log.roll.ms",
    "log.index.interval.bytes",
    "log.cleanup.policy",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.message.timestamp.type",
    "message.max.bytes",
    "compression.type",
    "min.insync.replicas",
    "unclean.leader.election.enable",
];

/// A listener: name (PLAINTEXT, CONTROLLER, …), host, port, and the security protocol
/// `listener.security.protocol.map` gives its name (PLAINTEXT where it names none: advertised
/// listeners, controller listeners).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub protocol: SecurityProtocol,
}

/// Kafka's four security protocols (`security.protocol` of the clients).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn parse(s: &str) -> Option<SecurityProtocol> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => SecurityProtocol::Plaintext,
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            _ => return None,
        })
    }

    /// The connection is wrapped in TLS.
    pub fn tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Clients authenticate with SASL before any other request.
    pub fn sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.name, self.host, self.port)
    }
}

impl Config {
    /// Typed view of a key map (after precedence). Validates every known key.
    pub fn from_map(raw: BTreeMap<String, String>) -> Result<Config, ConfigError> {
        for s in BROKER_KEYS {
            if let Some(v) = raw.get(s.name) {
                validate_type(s.name, s.kind, v)?;
            }
        }
        let get = |k: &str| {
            raw.get(k)
                .map(String::as_str)
                .or(spec(k).and_then(|s| s.default))
        };
        let int = |k: &str| -> Option<i64> { get(k).map(|v| v.trim().parse().unwrap_or_default()) };

        let all_listeners = parse_listeners("listeners", get("listeners").unwrap_or_default())?;
        let controller_names: Vec<String> = get("controller.listener.names")
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty())
            .collect();
        let protocol_map = parse_protocol_map(get("listener.security.protocol.map").unwrap_or(""))?;
        let mut listeners = Vec::new();
        let mut controller_listeners = Vec::new();
        for mut l in all_listeners {
            let proto = protocol_map
                .get(&l.name)
                .cloned()
                .unwrap_or_else(|| l.name.clone());
            l.protocol = SecurityProtocol::parse(&proto).ok_or_else(|| {
                invalid(
                    "listener.security.protocol.map",
                    &format!("{}:{proto}", l.name),
                    format!(
                        "listener {} has no security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL); map its name in listener.security.protocol.map",
                        l.name
                    ),
                )
            })?;
            if controller_names.contains(&l.name) {
                if l.protocol != SecurityProtocol::Plaintext {
                    return Err(invalid(
                        "listener.security.protocol.map",
                        &format!("{}:{proto}", l.name),
                        "the controller listener must be PLAINTEXT (fjord's controller channel is not secured yet)",
                    ));
                }
                controller_listeners.push(l);
                continue;
            }
            listeners.push(l);
        }
        // A controller-only node (process.roles=controller) serves no clients.
        let controller_only = raw
            .get("process.roles")
            .is_some_and(|r| r.split(',').map(str::trim).all(|r| r == "controller"));
        if listeners.is_empty() && !controller_only {
            return Err(invalid(
                "listeners",
                get("listeners").unwrap_or(""),
                "no listener left to serve clients",
            ));
        }
        let advertised_listeners = match raw.get("advertised.listeners") {
            Some(v) => parse_listeners("advertised.listeners", v)?
                .into_iter()
                .map(|mut l| {
                    let proto = protocol_map.get(&l.name).unwrap_or(&l.name);
                    l.protocol = SecurityProtocol::parse(proto).unwrap_or(l.protocol);
                    l
                })
                .collect(),
            None => listeners
                .iter()
                .map(|l| Listener {
                    host: if l.host.is_empty() || l.host == "0.0.0.0" || l.host == "::" {
                        "localhost".to_string()
                    } else {
                        l.host.clone()
                    },
                    ..l.clone()
                })
                .collect(),
        };

        let log_dir = raw
            .get("log.dirs")
            .and_then(|v| v.split(',').map(str::trim).find(|s| !s.is_empty()))
            .or(get("log.dir"))
            .unwrap_or("./data");

        let node_id = match raw.get("node.id") {
            Some(_) => int("node.id").unwrap_or(1),
            None => match int("broker.id") {
                Some(b) if b >= 0 => b,
                _ => 1,
            },
        };
        if node_id < 0 || node_id > i32::MAX as i64 {
            return Err(invalid("node.id", &node_id.to_string(), "must be >= 0"));
        }

        let cluster = parse_cluster(
            &raw,
            node_id as i32,
            &controller_names,
            controller_listeners,
            &listeners,
        )?;
        let retention_ms = if let Some(ms) = raw.get("log.retention.ms") {
            ms.trim().parse().unwrap_or(-1)
        } else if let Some(m) = int("log.retention.minutes") {
            m.saturating_mul(60_000)
        } else {
            int("log.retention.hours")
                .unwrap_or(168)
                .saturating_mul(3_600_000)
        };
        let roll_ms = match raw.get("log.roll.ms") {
            Some(v) => v.trim().parse().unwrap_or(604_800_000),
            None => int("log.roll.hours")
                .unwrap_or(168)
                .saturating_mul(3_600_000),
        };

        let positive = |k: &str, min: i64| -> Result<i64, ConfigError> {
            let v = int(k).unwrap_or_default();
            if v < min {
                return Err(invalid(k, &v.to_string(), format!("must be >= {min}")));
            }
            Ok(v)
        };
        let num_partitions = positive("num.partitions", 1)? as i32;
        let rf = positive("default.replication.factor", 1)? as i16;
        let segment_bytes = positive("log.segment.bytes", 14)? as i32;
        let index_interval = positive("log.index.interval.bytes", 0)? as i32;
        let flush_messages = positive("log.flush.interval.messages", 1)?;
        let message_max = positive("message.max.bytes", 0)? as i32;
        let request_max = positive("socket.request.max.bytes", 1)? as i32;
        let max_connections = positive("max.connections", 0)? as usize;
        let max_connections_per_ip = positive("max.connections.per.ip", 0)? as usize;
        let log_max_open_files = positive("fjord.log.max.open.files", 0)? as usize;
        let recovery_threads = positive("num.recovery.threads.per.data.dir", 1)? as usize;
        let http_listener = {
            let k = "fjord.http.listener";
            let v = get(k).unwrap_or("localhost:9644").trim();
            if v.is_empty() {
                None
            } else {
                match v.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
                    Some((h, Ok(_))) if !h.is_empty() => Some(v.to_string()),
                    _ => return Err(invalid(k, v, "must be host:port, or empty for none")),
                }
            }
        };
        let fetch_session_cache_slots =
            positive("max.incremental.fetch.session.cache.slots", 0)? as usize;
        let fetch_session_eviction_ms = positive("min.incremental.fetch.session.eviction.ms", 0)?;
        let per_ip_overrides = {
            let k = "max.connections.per.ip.overrides";
            let v = get(k).unwrap_or("");
            let mut out = Vec::new();
            for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let parsed = entry.rsplit_once(':').and_then(|(ip, n)| {
                    let ip = ip.trim().trim_start_matches('[').trim_end_matches(']');
                    Some((ip.parse().ok()?, n.trim().parse::<usize>().ok()?))
                });
                match parsed {
                    Some(o) => out.push(o),
                    None => {
                        return Err(invalid(k, v, format!("'{entry}' is not ip:count")));
                    }
                }
            }
            out
        };
        if roll_ms < 1 {
            return Err(invalid("log.roll.ms", &roll_ms.to_string(), "must be >= 1"));
        }

        Ok(Config {
            listeners,
            advertised_listeners,
            log_dir: PathBuf::from(log_dir),
            node_id: node_id as i32,
            num_partitions,
            default_replication_factor: rf,
            auto_create_topics_enable: get("auto.create.topics.enable") == Some("true"),
            delete_topic_enable: get("delete.topic.enable") == Some("true"),
            log_retention_ms: retention_ms,
            log_retention_bytes: int("log.retention.bytes").unwrap_or(-1),
            log_segment_bytes: segment_bytes,
            log_roll_ms: roll_ms,
            log_index_interval_bytes: index_interval,
            log_flush_interval_messages: flush_messages,
            message_max_bytes: message_max,
            socket_request_max_bytes: request_max,
            max_connections,
            max_connections_per_ip,
            max_connections_per_ip_overrides: per_ip_overrides,
            log_max_open_files,
            recovery_threads,
            http_listener,
            fetch_session_cache_slots,
            fetch_session_eviction_ms,
            cluster_id: raw.get("cluster.id").cloned(),
            origin: raw.keys().map(|k| (k.clone(), Origin::Static)).collect(),
            group_initial_rebalance_delay_ms: positive("group.initial.rebalance.delay.ms", 0)?,
            group_min_session_timeout_ms: positive("group.min.session.timeout.ms", 0)? as i32,
            group_max_session_timeout_ms: positive("group.max.session.timeout.ms", 0)? as i32,
            offsets_retention_ms: positive("offsets.retention.minutes", 1)?.saturating_mul(60_000),
            offsets_retention_check_interval_ms: positive(
                "offsets.retention.check.interval.ms",
                1,
            )?,
            offset_metadata_max_bytes: positive("offset.metadata.max.bytes", 0)? as usize,
            group_consumer_session_timeout_ms: positive("group.consumer.session.timeout.ms", 1)?
                as i32,
            group_consumer_heartbeat_interval_ms: positive(
                "group.consumer.heartbeat.interval.ms",
                1,
            )? as i32,
            transaction_max_timeout_ms: positive("transaction.max.timeout.ms", 1)? as i32,
            log_retention_check_interval_ms: positive("log.retention.check.interval.ms", 1)?,
            cluster,
            group_consumer_assignors: {
                let list: Vec<String> = get("group.consumer.assignors")
                    .unwrap_or("uniform,range")
                    .split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect();
                if list.is_empty()
                    || list
                        .iter()
                        .any(|a| !CONSUMER_GROUP_ASSIGNORS.contains(&a.as_str()))
                {
                    return Err(invalid(
                        "group.consumer.assignors",
                        get("group.consumer.assignors").unwrap_or(""),
                        "fjord's assignors are uniform and range",
                    ));
                }
                list
            },
            group_consumer_bounds: TimeoutBounds {
                min_session_timeout_ms: positive("group.consumer.min.session.timeout.ms", 1)?
                    .min(i32::MAX as i64) as i32,
                max_session_timeout_ms: positive("group.consumer.max.session.timeout.ms", 1)?
                    .min(i32::MAX as i64) as i32,
                min_heartbeat_interval_ms: positive("group.consumer.min.heartbeat.interval.ms", 1)?
                    .min(i32::MAX as i64) as i32,
                max_heartbeat_interval_ms: positive("group.consumer.max.heartbeat.interval.ms", 1)?
                    .min(i32::MAX as i64) as i32,
            },
            share: {
                let assignors = get("group.share.assignors").unwrap_or("simple");
                if assignors
                    .split(',')
                    .map(str::trim)
                    .any(|a| !a.is_empty() && a != "simple")
                {
                    return Err(invalid(
                        "group.share.assignors",
                        assignors,
                        "fjord's share-group assignor is simple",
                    ));
                }
                share_group_keys(&int)?
            },
            share_state_topic_num_partitions: positive(
                "share.coordinator.state.topic.num.partitions",
                1,
            )?
            .min(i32::MAX as i64) as i32,
            share_state_topic_segment_bytes: positive(
                "share.coordinator.state.topic.segment.bytes",
                1,
            )?
            .min(i32::MAX as i64) as i32,
            share_state_topic_replication_factor: positive(
                "share.coordinator.state.topic.replication.factor",
                1,
            )?
            .min(i16::MAX as i64) as i16,
            share_state_topic_min_isr: positive("share.coordinator.state.topic.min.isr", 1)?
                .min(i16::MAX as i64) as i16,
            raw,
        })
    }
}

/// The `group.share.*` keys with Kafka's ranges and cross-checks (`ShareGroupConfig` and
/// `GroupCoordinatorConfig` refuse to start otherwise, with these messages).
fn share_group_keys(
    int: &dyn Fn(&str) -> Option<i64>,
) -> Result<ShareGroupBrokerConfig, ConfigError> {
    let ranged = |k: &str, min: i64, max: i64| -> Result<i32, ConfigError> {
        let v = int(k).unwrap_or_default();
        if v < min || v > max {
            return Err(invalid(
                k,
                &v.to_string(),
                format!("Value must be in the range [{min}, {max}]"),
            ));
        }
        Ok(v as i32)
    };
    let at_least = |k: &str| ranged(k, 1, i32::MAX as i64);
    let c = ShareGroupBrokerConfig {
        record_lock_duration_ms: ranged("group.share.record.lock.duration.ms", 1000, 3_600_000)?,
        min_record_lock_duration_ms: ranged(
            "group.share.min.record.lock.duration.ms",
            1000,
            30_000,
        )?,
        max_record_lock_duration_ms: ranged(
            "group.share.max.record.lock.duration.ms",
            30_000,
            3_600_000,
        )?,
        delivery_count_limit: ranged("group.share.delivery.count.limit", 2, 10)?,
        min_delivery_count_limit: ranged("group.share.min.delivery.count.limit", 2, 5)?,
        max_delivery_count_limit: ranged("group.share.max.delivery.count.limit", 5, 25)?,
        partition_max_record_locks: ranged("group.share.partition.max.record.locks", 100, 10_000)?,
        min_partition_max_record_locks: ranged(
            "group.share.min.partition.max.record.locks",
            100,
            10_000,
        )?,
        max_partition_max_record_locks: ranged(
            "group.share.max.partition.max.record.locks",
            100,
            10_000,
        )?,
        max_share_sessions: at_least("group.share.max.share.sessions")?,
        session_timeout_ms: at_least("group.share.session.timeout.ms")?,
        heartbeat_interval_ms: at_least("group.share.heartbeat.interval.ms")?,
        bounds: TimeoutBounds {
            min_session_timeout_ms: at_least("group.share.min.session.timeout.ms")?,
            max_session_timeout_ms: at_least("group.share.max.session.timeout.ms")?,
            min_heartbeat_interval_ms: at_least("group.share.min.heartbeat.interval.ms")?,
            max_heartbeat_interval_ms: at_least("group.share.max.heartbeat.interval.ms")?,
        },
        max_size: ranged("group.share.max.size", 1, 1000)?,
    };
    let require = |ok: bool, key: &str, value: i32, reason: &str| {
        if ok {
            Ok(())
        } else {
            Err(invalid(key, &value.to_string(), reason))
        }
    };
    let b = c.bounds;
    require(
        c.max_delivery_count_limit >= c.delivery_count_limit,
        "group.share.max.delivery.count.limit",
        c.max_delivery_count_limit,
        "must be greater than or equal to group.share.delivery.count.limit",
    )?;
    require(
        c.delivery_count_limit >= c.min_delivery_count_limit,
        "group.share.delivery.count.limit",
        c.delivery_count_limit,
        "must be greater than or equal to group.share.min.delivery.count.limit",
    )?;
    require(
        c.max_partition_max_record_locks >= c.partition_max_record_locks,
        "group.share.max.partition.max.record.locks",
        c.max_partition_max_record_locks,
        "must be greater than or equal to group.share.partition.max.record.locks",
    )?;
    require(
        c.partition_max_record_locks >= c.min_partition_max_record_locks,
        "group.share.partition.max.record.locks",
        c.partition_max_record_locks,
        "must be greater than or equal to group.share.min.partition.max.record.locks",
    )?;
    require(
        c.record_lock_duration_ms >= c.min_record_lock_duration_ms,
        "group.share.record.lock.duration.ms",
        c.record_lock_duration_ms,
        "must be greater than or equal to group.share.min.record.lock.duration.ms",
    )?;
    require(
        c.record_lock_duration_ms <= c.max_record_lock_duration_ms,
        "group.share.record.lock.duration.ms",
        c.record_lock_duration_ms,
        "must be less than or equal to group.share.max.record.lock.duration.ms",
    )?;
    require(
        b.max_session_timeout_ms >= b.min_session_timeout_ms,
        "group.share.max.session.timeout.ms",
        b.max_session_timeout_ms,
        "must be greater than or equal to group.share.min.session.timeout.ms",
    )?;
    require(
        c.session_timeout_ms >= b.min_session_timeout_ms,
        "group.share.session.timeout.ms",
        c.session_timeout_ms,
        "must be greater than or equal to group.share.min.session.timeout.ms",
    )?;
    require(
        c.session_timeout_ms <= b.max_session_timeout_ms,
        "group.share.session.timeout.ms",
        c.session_timeout_ms,
        "must be less than or equal to group.share.max.session.timeout.ms",
    )?;
    require(
        b.max_heartbeat_interval_ms >= b.min_heartbeat_interval_ms,
        "group.share.max.heartbeat.interval.ms",
        b.max_heartbeat_interval_ms,
        "must be greater than or equal to group.share.min.heartbeat.interval.ms",
    )?;
    require(
        c.heartbeat_interval_ms >= b.min_heartbeat_interval_ms,
        "group.share.heartbeat.interval.ms",
        c.heartbeat_interval_ms,
        "must be greater than or equal to group.share.min.heartbeat.interval.ms",
    )?;
    require(
        c.heartbeat_interval_ms <= b.max_heartbeat_interval_ms,
        "group.share.heartbeat.interval.ms",
        c.heartbeat_interval_ms,
        "must be less than or equal to group.share.max.heartbeat.interval.ms",
    )?;
    require(
        c.heartbeat_interval_ms < c.session_timeout_ms,
        "group.share.heartbeat.interval.ms",
        c.heartbeat_interval_ms,
        "must be less than group.share.session.timeout.ms",
    )?;
    Ok(c)
}

/// The cluster keys, checked against each other as Kafka checks them at start-up. `None` when
/// `process.roles` is unset, or when it is `broker,controller` with this node the only voter:
/// a quorum of one is the single-node broker, with no extra port or files.
fn parse_cluster(
    raw: &BTreeMap<String, String>,
    node_id: i32,
    controller_names: &[String],
    controller_listeners: Vec<Listener>,
    listeners: &[Listener],
) -> Result<Option<ClusterConfig>, ConfigError> {
    let Some(roles_value) = raw.get("process.roles") else {
        return Ok(None);
    };
    let (mut broker, mut controller) = (false, false);
    for role in roles_value
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        match role {
            "broker" => broker = true,
            "controller" => controller = true,
            _ => {
                return Err(invalid(
                    "process.roles",
                    roles_value,
                    format!("unknown role '{role}': the roles are broker and controller"),
                ));
            }
        }
    }
    if !broker && !controller {
        return Err(invalid("process.roles", roles_value, "no role given"));
    }
    if !raw.contains_key("node.id") {
        return Err(invalid(
            "node.id",
            "",
            "must be set when process.roles is set",
        ));
    }
    let voters = match raw.get("controller.quorum.voters") {
        Some(v) => parse_voters(v)?,
        None => Vec::new(),
    };
    if voters.is_empty() {
        let bootstrap: Vec<&str> = raw
            .get("controller.quorum.bootstrap.servers")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        // Kafka 4's own server.properties: a combined node whose quorum is itself
        // (`kafka-storage.sh format --standalone`). That is the single-node broker.
        if broker && controller && bootstrap.len() == 1 {
            return Ok(None);
        }
        let why = if bootstrap.is_empty() {
            "must list the controller quorum as id@host:port,… when process.roles is set"
        } else {
            "a dynamic quorum (controller.quorum.bootstrap.servers) of several controllers is not supported; list the voters as id@host:port"
        };
        return Err(invalid("controller.quorum.voters", "", why));
    }
    let voters_value = raw
        .get("controller.quorum.voters")
        .map(String::as_str)
        .unwrap_or("");
    let is_voter = voters.iter().any(|v| v.id == node_id);
    if controller && !is_voter {
        return Err(invalid(
            "controller.quorum.voters",
            voters_value,
            format!("node.id {node_id} has the controller role but is not one of the voters"),
        ));
    }
    if !controller && is_voter {
        return Err(invalid(
            "controller.quorum.voters",
            voters_value,
            format!("node.id {node_id} is a voter but process.roles does not include controller"),
        ));
    }
    if broker && controller && voters.len() == 1 {
        return Ok(None);
    }
    let controller_listener = if controller {
        if controller_names.is_empty() {
            return Err(invalid(
                "controller.listener.names",
                "",
                "must name the controller's listener (for example CONTROLLER) when process.roles includes controller",
            ));
        }
        let found = controller_listeners.into_iter().next().ok_or_else(|| {
            invalid(
                "listeners",
                raw.get("listeners").map(String::as_str).unwrap_or(""),
                format!(
                    "no listener named {} (controller.listener.names) for the controller to bind",
                    controller_names.join(",")
                ),
            )
        })?;
        let me = voters.iter().find(|v| v.id == node_id).expect("checked");
        if found.port != 0 && found.port != me.port {
            return Err(invalid(
                "controller.quorum.voters",
                voters_value,
                format!(
                    "node.id {node_id}'s entry has port {} but its {} listener binds {}",
                    me.port, found.name, found.port
                ),
            ));
        }
        Some(found)
    } else {
        None
    };
    let inter_broker_listener = match raw.get("inter.broker.listener.name") {
        Some(name) => {
            let name = name.trim().to_ascii_uppercase();
            if broker && !listeners.iter().any(|l| l.name == name) {
                return Err(invalid(
                    "inter.broker.listener.name",
                    &name,
                    "names no broker listener in listeners",
                ));
            }
            name
        }
        // Kafka's default is the listener named by security.inter.broker.protocol (PLAINTEXT);
        // where none has that name, fjord takes the first plaintext one.
        None => {
            let wanted = raw
                .get("security.inter.broker.protocol")
                .map(|p| p.trim().to_ascii_uppercase())
                .unwrap_or_else(|| "PLAINTEXT".into());
            listeners
                .iter()
                .find(|l| l.name == wanted)
                .or_else(|| listeners.iter().find(|l| l.protocol.name() == wanted))
                .or_else(|| {
                    listeners
                        .iter()
                        .find(|l| l.protocol == SecurityProtocol::Plaintext)
                })
                .or(listeners.first())
                .map(|l| l.name.clone())
                .unwrap_or_default()
        }
    };
    if broker
        && listeners
            .iter()
            .any(|l| l.name == inter_broker_listener && l.protocol.tls())
    {
        return Err(invalid(
            "inter.broker.listener.name",
            &inter_broker_listener,
            "the inter-broker listener must be PLAINTEXT or SASL_PLAINTEXT (brokers do not connect to each other over TLS yet)",
        ));
    }
    let int = |k: &str, default: i64| -> Result<i64, ConfigError> {
        let v = raw
            .get(k)
            .map(|v| v.trim().parse().unwrap_or(default))
            .unwrap_or(default);
        if v < 1 {
            return Err(invalid(k, &v.to_string(), "must be >= 1"));
        }
        Ok(v)
    };
    Ok(Some(ClusterConfig {
        broker,
        controller,
        voters,
        controller_listener,
        inter_broker_listener,
        broker_session_timeout_ms: int("broker.session.timeout.ms", 9000)?,
        broker_heartbeat_interval_ms: int("broker.heartbeat.interval.ms", 2000)?,
        offsets_topic_replication_factor: int("offsets.topic.replication.factor", 3)?
            .min(i16::MAX as i64) as i16,
        transaction_state_log_replication_factor: int(
            "transaction.state.log.replication.factor",
            3,
        )?
        .min(i16::MAX as i64) as i16,
        offsets_topic_num_partitions: int("offsets.topic.num.partitions", 50)?.min(10_000) as i32,
        transaction_state_log_num_partitions: int("transaction.state.log.num.partitions", 50)?
            .min(10_000) as i32,
        replication: ReplicationConfig {
            lag_time_max_ms: int("replica.lag.time.max.ms", 30_000)?,
            fetch_wait_max_ms: int("replica.fetch.wait.max.ms", 500)?,
            fetch_min_bytes: int("replica.fetch.min.bytes", 1)?,
            fetch_max_bytes: int("replica.fetch.max.bytes", 1_048_576)?,
            fetch_response_max_bytes: int("replica.fetch.response.max.bytes", 10_485_760)?,
            fetch_backoff_ms: int("replica.fetch.backoff.ms", 1000)?,
            high_watermark_checkpoint_interval_ms: int(
                "replica.high.watermark.checkpoint.interval.ms",
                5000,
            )?,
        },
    }))
}

/// `controller.quorum.voters`: `id@host:port,…`, each id once.
fn parse_voters(value: &str) -> Result<Vec<Voter>, ConfigError> {
    let key = "controller.quorum.voters";
    let mut out: Vec<Voter> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = || invalid(key, item, "expected id@host:port");
        let (id, addr) = item.split_once('@').ok_or_else(bad)?;
        let id: i32 = id.trim().parse().map_err(|_| bad())?;
        if id < 0 {
            return Err(invalid(key, item, "a voter id must be >= 0"));
        }
        let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if out.iter().any(|v| v.id == id) {
            return Err(invalid(key, value, format!("node id {id} appears twice")));
        }
        out.push(Voter {
            id,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
        });
    }
    Ok(out)
}

fn parse_listeners(key: &str, value: &str) -> Result<Vec<Listener>, ConfigError> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, addr) = item
            .split_once("://")
            .ok_or_else(|| invalid(key, item, "expected NAME://host:port"))?;
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| invalid(key, item, "expected NAME://host:port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| invalid(key, item, "port is not a number 0-65535"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        out.push(Listener {
            name: name.to_ascii_uppercase(),
            host: host.to_string(),
            port,
            protocol: SecurityProtocol::Plaintext,
        });
    }
    if out.is_empty() {
        return Err(invalid(key, value, "no listener given"));
    }
    Ok(out)
}

fn parse_protocol_map(value: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut m = BTreeMap::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, proto) = item.split_once(':').ok_or_else(|| {
            invalid(
                "listener.security.protocol.map",
                item,
                "expected NAME:PROTOCOL",
            )
        })?;
        m.insert(
            name.trim().to_ascii_uppercase(),
            proto.trim().to_ascii_uppercase(),
        );
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::build;

    fn refused(ov: &[&str]) -> String {
        let ov: Vec<String> = ov.iter().map(|s| s.to_string()).collect();
        Config::from_sources(None, Vec::new(), &ov)
            .map(|_| ())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn share_group_keys_have_kafkas_defaults_and_checks() {
        let c = build(None, &[], &[]);
        assert_eq!(
            c.share,
            ShareGroupBrokerConfig {
                record_lock_duration_ms: 30_000,
                min_record_lock_duration_ms: 15_000,
                max_record_lock_duration_ms: 60_000,
                delivery_count_limit: 5,
                min_delivery_count_limit: 2,
                max_delivery_count_limit: 10,
                partition_max_record_locks: 2000,
                min_partition_max_record_locks: 100,
                max_partition_max_record_locks: 4000,
                max_share_sessions: 2000,
                session_timeout_ms: 45_000,
                heartbeat_interval_ms: 5000,
                bounds: TimeoutBounds {
                    min_session_timeout_ms: 45_000,
                    max_session_timeout_ms: 60_000,
                    min_heartbeat_interval_ms: 5000,
                    max_heartbeat_interval_ms: 15_000,
                },
                max_size: 200,
            }
        );
        assert_eq!(
            c.group_consumer_bounds,
            TimeoutBounds {
                min_session_timeout_ms: 45_000,
                max_session_timeout_ms: 60_000,
                min_heartbeat_interval_ms: 5000,
                max_heartbeat_interval_ms: 15_000,
            }
        );
        assert_eq!(c.share_state_topic_num_partitions, 50);
        assert_eq!(c.share_state_topic_segment_bytes, 104_857_600);
        assert_eq!(c.share_state_topic_replication_factor, 3);
        assert_eq!(c.share_state_topic_min_isr, 2);
        let c = build(
            None,
            &[],
            &[
                "group.share.min.record.lock.duration.ms=1000",
                "group.share.record.lock.duration.ms=2000",
                "group.share.min.session.timeout.ms=1000",
                "group.share.session.timeout.ms=3000",
                "group.share.min.heartbeat.interval.ms=500",
                "group.share.heartbeat.interval.ms=500",
                "share.coordinator.threads=4",
            ],
        );
        assert_eq!(c.share.record_lock_duration_ms, 2000);
        assert_eq!(c.share.session_timeout_ms, 3000);
        assert_eq!(c.share.heartbeat_interval_ms, 500);
        assert!(is_known("share.coordinator.threads"));
        assert_eq!(
            refused(&["group.share.delivery.count.limit=11"]),
            "invalid value '11' for group.share.delivery.count.limit: Value must be in the range [2, 10]"
        );
        assert_eq!(
            refused(&["group.share.partition.max.record.locks=5000"]),
            "invalid value '4000' for group.share.max.partition.max.record.locks: must be greater than or equal to group.share.partition.max.record.locks"
        );
        assert_eq!(
            refused(&[
                "group.share.min.delivery.count.limit=5",
                "group.share.delivery.count.limit=4"
            ]),
            "invalid value '4' for group.share.delivery.count.limit: must be greater than or equal to group.share.min.delivery.count.limit"
        );
        let c = build(
            None,
            &[],
            &[
                "group.share.max.partition.max.record.locks=10000",
                "group.share.partition.max.record.locks=10000",
            ],
        );
        assert_eq!(c.share.partition_max_record_locks, 10_000);
        assert_eq!(
            refused(&["group.share.record.lock.duration.ms=10000"]),
            "invalid value '10000' for group.share.record.lock.duration.ms: must be greater than or equal to group.share.min.record.lock.duration.ms"
        );
        assert_eq!(
            refused(&["group.share.max.record.lock.duration.ms=20000"]),
            "invalid value '20000' for group.share.max.record.lock.duration.ms: Value must be in the range [30000, 3600000]"
        );
        assert_eq!(
            refused(&["group.share.session.timeout.ms=70000"]),
            "invalid value '70000' for group.share.session.timeout.ms: must be less than or equal to group.share.max.session.timeout.ms"
        );
        assert_eq!(
            refused(&[
                "group.share.min.session.timeout.ms=1000",
                "group.share.session.timeout.ms=5000",
            ]),
            "invalid value '5000' for group.share.heartbeat.interval.ms: must be less than group.share.session.timeout.ms"
        );
        assert_eq!(
            refused(&["group.share.max.size=0"]),
            "invalid value '0' for group.share.max.size: Value must be in the range [1, 1000]"
        );
        assert_eq!(
            refused(&["group.share.assignors=uniform"]),
            "invalid value 'uniform' for group.share.assignors: fjord's share-group assignor is simple"
        );
    }

    #[test]
    fn listeners_carry_their_security_protocols() {
        let c = build(
            None,
            &[],
            &[
                "listeners=PLAINTEXT://localhost:9092,SSL://localhost:9093,SASL_SSL://:9094,CLIENTS://localhost:9095",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CLIENTS:SASL_PLAINTEXT",
            ],
        );
        let protos: Vec<_> = c.listeners.iter().map(|l| l.protocol).collect();
        use SecurityProtocol as P;
        assert_eq!(protos, [P::Plaintext, P::Ssl, P::SaslSsl, P::SaslPlaintext]);
        assert_eq!(
            c.advertised_for("CLIENTS").unwrap().protocol,
            P::SaslPlaintext
        );
        assert_eq!(c.advertised_for("SASL_SSL").unwrap().host, "localhost");

        let err = Config::from_sources(None, Vec::new(), &["listeners=FOO://localhost:1".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("listener FOO has no security protocol"),
            "{err}"
        );
    }

    #[test]
    fn listener_prefixed_keys_are_known_and_override() {
        let (c, warnings) = Config::from_sources(
            None,
            Vec::new(),
            &[
                "ssl.client.auth=requested".into(),
                "listener.name.internal.ssl.client.auth=required".into(),
                "listener.name.sasl_ssl.plain.sasl.jaas.config=a".into(),
                "listener.name.sasl_ssl.sasl.jaas.config=b".into(),
                "listener.name.x.log.retention.ms=1".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            warnings,
            ["unknown config key 'listener.name.x.log.retention.ms' ignored"]
        );
        assert_eq!(
            c.listener_value("INTERNAL", "ssl.client.auth"),
            Some("required")
        );
        assert_eq!(
            c.listener_value("OTHER", "ssl.client.auth"),
            Some("requested")
        );
        assert_eq!(c.listener_value("OTHER", "ssl.keystore.type"), Some("JKS"));
        assert_eq!(c.jaas_config("SASL_SSL", "PLAIN"), Some("a"));
        assert_eq!(c.jaas_config("SASL_SSL", "SCRAM-SHA-256"), Some("b"));
        assert_eq!(c.jaas_config("OTHER", "PLAIN"), None);
        assert!(is_sensitive("ssl.keystore.password"));
        assert!(is_sensitive(
            "listener.name.sasl_ssl.plain.sasl.jaas.config"
        ));
        assert!(!is_sensitive("ssl.keystore.location"));
    }

    #[test]
    fn connection_limit_overrides_are_ip_count_pairs() {
        let parse = |v: &str| {
            Config::from_sources(
                None,
                Vec::new(),
                &[format!("max.connections.per.ip.overrides={v}")],
            )
            .map(|(c, _)| c.max_connections_per_ip_overrides)
        };
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(
            parse("127.0.0.1:3, [::1]:5").unwrap(),
            vec![(ip("127.0.0.1"), 3), (ip("::1"), 5)]
        );
        assert_eq!(parse("").unwrap(), vec![]);
        let err = parse("localhost:3").unwrap_err().to_string();
        assert!(err.contains("max.connections.per.ip.overrides"), "{err}");
        assert!(parse("127.0.0.1").is_err());
    }

    #[test]
    fn defaults_are_kafkas() {
        let c = Config::default();
        assert_eq!(c.listeners[0].to_string(), "PLAINTEXT://localhost:9092");
        assert_eq!(c.num_partitions, 1);
        assert!(c.auto_create_topics_enable);
        assert_eq!(c.message_max_bytes, 1_048_588);
        assert_eq!(c.socket_request_max_bytes, 104_857_600);
        assert_eq!(c.max_connections, 2_147_483_647);
        assert_eq!(c.max_connections_per_ip, 2_147_483_647);
        assert!(c.max_connections_per_ip_overrides.is_empty());
        assert_eq!(c.log_segment_bytes, 1_073_741_824);
        assert_eq!(c.log_retention_ms, 168 * 3_600_000);
        assert_eq!(c.log_dir, PathBuf::from("./data"));
        assert_eq!(c.node_id, 1);
    }

    #[test]
    fn retention_synonyms() {
        assert_eq!(
            build(None, &[], &["log.retention.minutes=2"]).log_retention_ms,
            120_000
        );
        assert_eq!(
            build(
                None,
                &[],
                &["log.retention.minutes=2", "log.retention.ms=5"]
            )
            .log_retention_ms,
            5
        );
    }

    fn cluster(extra: &[&str]) -> Result<Config, ConfigError> {
        let mut ov: Vec<String> = vec![
            "process.roles=broker,controller".into(),
            "node.id=2".into(),
            "controller.quorum.voters=1@localhost:9093,2@localhost:9095,3@localhost:9097".into(),
            "listeners=PLAINTEXT://localhost:9094,CONTROLLER://localhost:9095".into(),
            "controller.listener.names=CONTROLLER".into(),
        ];
        for e in extra {
            let key = e.split('=').next().unwrap();
            ov.retain(|o| !o.starts_with(&format!("{key}=")));
            if !e.ends_with('=') {
                ov.push(e.to_string());
            }
        }
        Config::from_sources(None, Vec::new(), &ov).map(|(c, _)| c)
    }

    fn cluster_err(extra: &[&str]) -> String {
        cluster(extra).unwrap_err().to_string()
    }

    #[test]
    fn cluster_keys_as_kafka_checks_them() {
        let c = cluster(&[]).unwrap();
        let cc = c.cluster.expect("cluster mode");
        assert!(cc.broker && cc.controller);
        assert_eq!(cc.voters.len(), 3);
        assert_eq!(
            cc.voters[2],
            Voter {
                id: 3,
                host: "localhost".into(),
                port: 9097
            }
        );
        assert_eq!(cc.controller_listener.unwrap().port, 9095);
        assert_eq!(cc.inter_broker_listener, "PLAINTEXT");
        assert_eq!(cc.broker_session_timeout_ms, 9000);
        assert_eq!(
            c.listeners.len(),
            1,
            "the controller listener is not a client listener"
        );

        // A quorum of this node alone is the single-node broker.
        let single = cluster(&["controller.quorum.voters=2@localhost:9095"]).unwrap();
        assert!(single.cluster.is_none());
        // No process.roles: the single-node broker, whatever else is set.
        assert!(cluster(&["process.roles="]).unwrap().cluster.is_none());

        let e = cluster_err(&["node.id=4"]);
        assert!(
            e.contains("controller.quorum.voters") && e.contains("node.id 4"),
            "{e}"
        );
        let e = cluster_err(&["controller.quorum.voters=1@a:1,2@localhost:9095,1@c:3"]);
        assert!(e.contains("node id 1 appears twice"), "{e}");
        let e = cluster_err(&["listeners=PLAINTEXT://localhost:9094"]);
        assert!(e.contains("listeners") && e.contains("CONTROLLER"), "{e}");
        let e = cluster_err(&["controller.listener.names="]);
        assert!(e.contains("controller.listener.names"), "{e}");
        let e = cluster_err(&["process.roles=broker,zookeeper"]);
        assert!(e.contains("process.roles"), "{e}");
        let e = cluster_err(&["process.roles=broker"]);
        assert!(e.contains("does not include controller"), "{e}");
        // A broker-only node is not a voter and needs no controller listener.
        let b = cluster(&[
            "process.roles=broker",
            "node.id=7",
            "listeners=PLAINTEXT://localhost:9094",
            "controller.listener.names=",
        ])
        .unwrap()
        .cluster
        .unwrap();
        assert!(b.broker && !b.controller && b.controller_listener.is_none());
        // A controller-only node serves no clients.
        let c = cluster(&[
            "process.roles=controller",
            "listeners=CONTROLLER://localhost:9095",
        ])
        .unwrap();
        assert!(c.listeners.is_empty() && c.cluster.unwrap().controller_listener.is_some());
        let e = cluster_err(&[
            "controller.quorum.voters=",
            "controller.quorum.bootstrap.servers=a:1,b:2",
        ]);
        assert!(e.contains("controller.quorum.voters"), "{e}");
        // Kafka 4's default server.properties (a standalone dynamic quorum): the single broker.
        let standalone = cluster(&[
            "controller.quorum.voters=",
            "node.id=1",
            "controller.quorum.bootstrap.servers=localhost:9093",
            "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
        ])
        .unwrap();
        assert!(standalone.cluster.is_none());
        let e = cluster_err(&["inter.broker.listener.name=INTERNAL"]);
        assert!(e.contains("inter.broker.listener.name"), "{e}");
        let e = cluster_err(&["listeners=PLAINTEXT://localhost:9094,CONTROLLER://localhost:9999"]);
        assert!(e.contains("port 9095"), "{e}");
    }

    #[test]
    fn controller_listener_is_not_bound() {
        let c = build(
            None,
            &[],
            &[
                "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
                "controller.listener.names=CONTROLLER",
            ],
        );
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].port, 9092);
        assert_eq!(c.advertised_listeners[0].host, "localhost");
    }

    #[test]
    fn invalid_values_stop_startup() {
        let bad = |o: &str| Config::from_sources(None, Vec::new(), &[o.to_string()]).is_err();
        assert!(bad("num.partitions=zero"));
        assert!(bad("num.partitions=0"));
        assert!(bad("auto.create.topics.enable=maybe"));
        assert!(bad("listeners=localhost:9092"));
        assert!(bad("listeners=FOO://:9093"));
        assert!(bad("noequals"));
    }
}
