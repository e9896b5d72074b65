//! `/metrics`: the Prometheus text format (0.0.4), named as the Prometheus JMX exporter's
//! usual Kafka rules name Kafka's MBeans (`kafka_server_brokertopicmetrics_bytesin_total{topic}`,
//! `kafka_server_replicamanager_partitioncount`, …) and, for consumer lag, as kafka_exporter
//! names it (`kafka_consumergroup_lag{consumergroup,topic,partition}`), so existing Kafka
//! dashboards read fjord unchanged. The mapping is listed in docs/observability.md.
//!
//! Counters come from [`crate::metrics::Metrics`]; everything else is read off the broker's
//! state at scrape time (one short lock per partition and per group table).

use std::collections::BTreeMap;
use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::broker::Broker;
use crate::metrics::{Metrics, TopicCounters};
use std::sync::Arc;
use std::sync::atomic::Ordering;

type Labels = Vec<(&'static str, String)>;

/// The whole `/metrics` page.
pub fn scrape(broker: &Arc<Broker>) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(BrokerCollector {
        broker: broker.clone(),
    }));
    let mut out = String::with_capacity(64 * 1024);
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

struct BrokerCollector {
    broker: Arc<Broker>,
}

impl fmt::Debug for BrokerCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrokerCollector")
    }
}

/// One metric family: its rows (labels, value) under one HELP/TYPE header.
fn family<L: EncodeLabelSet, V: Into<f64>>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    rows: impl IntoIterator<Item = (L, V)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, v) in rows {
        let v: f64 = v.into();
        let mut e = m.encode_family(&labels)?;
        // Whole numbers print as such ("151", not "151.0").
        let whole = v.fract() == 0.0 && v.abs() < 9e15;
        match kind {
            MetricType::Counter if whole && v >= 0.0 => {
                e.encode_counter::<NoLabelSet, _, f64>(&(v as u64), None)?
            }
            MetricType::Counter => e.encode_counter::<NoLabelSet, _, f64>(&v, None)?,
            _ if whole => e.encode_gauge(&(v as i64))?,
            _ => e.encode_gauge(&v)?,
        }
    }
    Ok(())
}

fn one<V: Into<f64>>(v: V) -> Vec<(Labels, f64)> {
    vec![(Vec::new(), v.into())]
}

/// Per-partition state read at scrape time.
struct PartitionRow {
    topic: String,
    partition: i32,
    size: u64,
    log_start: i64,
    log_end: i64,
    high_watermark: i64,
    segments: usize,
    leads: bool,
    under_replicated: bool,
    waiting: usize,
}

impl Collector for BrokerCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let b = &self.broker;
        let m: &Metrics = &b.metrics;
        let topics = b.topics.list();

        // Traffic per topic (only topics that still exist), then the broker's totals.
        let known: Vec<(String, Arc<TopicCounters>)> = m
            .topics()
            .into_iter()
            .filter(|(name, _)| {
                let exists = b.topics.get(name).is_some();
                if !exists {
                    m.forget_topic(name);
                }
                exists
            })
            .collect();
        let traffic = |field: fn(&TopicCounters) -> u64| {
            let mut rows: Vec<(Labels, f64)> = known
                .iter()
                .map(|(n, c)| (vec![("topic", n.clone())], field(c) as f64))
                .collect();
            rows.push((Vec::new(), field(m.all_topics()) as f64));
            rows
        };
        for (name, help, field) in [
            (
                "kafka_server_brokertopicmetrics_bytesin",
                "Bytes of records appended by clients (per topic, and without a topic label for the broker).",
                (|c: &TopicCounters| c.bytes_in.load(Ordering::Relaxed))
                    as fn(&TopicCounters) -> u64,
            ),
            (
                "kafka_server_brokertopicmetrics_bytesout",
                "Bytes of records sent to consumers (replication not included).",
                |c: &TopicCounters| c.bytes_out.load(Ordering::Relaxed),
            ),
            (
                "kafka_server_brokertopicmetrics_messagesin",
                "Records appended by clients.",
                |c: &TopicCounters| c.messages_in.load(Ordering::Relaxed),
            ),
        ] {
            family(&mut enc, name, help, MetricType::Counter, traffic(field))?;
        }

        // Requests per API key and version, and their time.
        let apis = m.apis();
        let request_name = |key: i16| {
            kafka_protocol::messages::ApiKey::try_from(key)
                .map(|k| format!("{k:?}"))
                .unwrap_or_else(|_| key.to_string())
        };
        family(
            &mut enc,
            "kafka_network_requestmetrics_requests",
            "Requests answered, per API (request) and version.",
            MetricType::Counter,
            apis.iter().flat_map(|(key, api)| {
                let name = request_name(*key);
                api.by_version().into_iter().map(move |(v, n)| {
                    (
                        vec![("request", name.clone()), ("version", v.to_string())],
                        n as f64,
                    )
                })
            }),
        )?;
        {
            let mut h = enc.encode_descriptor(
                "fjord_request_duration_seconds",
                "Time from a request's whole frame read to its response ready to write, per API (Kafka's TotalTimeMs without the send).",
                None,
                MetricType::Histogram,
            )?;
            for (key, api) in &apis {
                let t = api.times();
                let buckets: Vec<(f64, u64)> =
                    t.buckets.iter().map(|&(ms, n)| (ms / 1000.0, n)).collect();
                let labels: Labels = vec![("request", request_name(*key))];
                h.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                    t.sum_ms / 1000.0,
                    t.count,
                    &buckets,
                    None,
                )?;
            }
        }

        // Connections per listener.
        let conns = m.connections();
        family(
            &mut enc,
            "kafka_server_socketservermetrics_connection_count",
            "Open client connections, per listener.",
            MetricType::Gauge,
            conns
                .iter()
                .map(|(l, open, _)| (vec![("listener", l.clone())], *open as f64)),
        )?;
        family(
            &mut enc,
            "kafka_server_socketservermetrics_connection_creation",
            "Client connections accepted, per listener.",
            MetricType::Counter,
            conns
                .iter()
                .map(|(l, _, n)| (vec![("listener", l.clone())], *n as f64)),
        )?;

        // Partitions held here.
        let image = b.cluster.as_ref().map(|c| c.image().clone());
        let mut rows = Vec::new();
        for t in &topics {
            for p in t.local_partitions() {
                let (o, size, segments) = p.log_stats();
                let (leads, under_replicated) = match &image {
                    None => (true, false),
                    Some(img) => img
                        .topics
                        .get(&t.name)
                        .and_then(|ti| ti.partitions.get(p.index as usize))
                        .map_or((false, false), |ps| {
                            let leads = ps.leader == b.node_id;
                            (leads, leads && ps.isr.len() < ps.replicas.len())
                        }),
                };
                rows.push(PartitionRow {
                    topic: t.name.clone(),
                    partition: p.index,
                    size,
                    log_start: o.log_start_offset,
                    log_end: o.log_end_offset,
                    high_watermark: o.high_watermark,
                    segments,
                    leads,
                    under_replicated,
                    waiting: p.waiting_fetches(),
                });
            }
        }
        let count = |f: fn(&PartitionRow) -> bool| rows.iter().filter(|r| f(r)).count() as f64;
        family(
            &mut enc,
            "kafka_server_replicamanager_partitioncount",
            "Partitions held by this broker.",
            MetricType::Gauge,
            one(rows.len() as f64),
        )?;
        family(
            &mut enc,
            "kafka_server_replicamanager_leadercount",
            "Partitions this broker leads.",
            MetricType::Gauge,
            one(count(|r| r.leads)),
        )?;
        family(
            &mut enc,
            "kafka_server_replicamanager_underreplicatedpartitions",
            "Partitions led here whose in-sync replicas are fewer than their replicas.",
            MetricType::Gauge,
            one(count(|r| r.under_replicated)),
        )?;
        family(
            &mut enc,
            "kafka_server_delayedoperationpurgatory_purgatorysize",
            "Requests waiting on a partition here: fetches long-polling for data and acks=all produces waiting for their replicas.",
            MetricType::Gauge,
            vec![(
                vec![("delayedOperation", "Fetch".to_string())],
                rows.iter().map(|r| r.waiting).sum::<usize>() as f64,
            )],
        )?;
        // Each partition's labels made once, for all its series.
        let partition_labels: Vec<Labels> = rows
            .iter()
            .map(|r| {
                vec![
                    ("topic", r.topic.clone()),
                    ("partition", r.partition.to_string()),
                ]
            })
            .collect();
        let per_partition = |f: fn(&PartitionRow) -> f64| {
            partition_labels
                .iter()
                .zip(&rows)
                .map(move |(l, r)| (l.as_slice(), f(r)))
        };
        for (name, help, f) in [
            (
                "kafka_log_log_size",
                "Bytes of the partition's log on disk.",
                (|r: &PartitionRow| r.size as f64) as fn(&PartitionRow) -> f64,
            ),
            (
                "kafka_log_log_logstartoffset",
                "The partition's log start offset.",
                |r: &PartitionRow| r.log_start as f64,
            ),
            (
                "kafka_log_log_logendoffset",
                "The partition's log end offset.",
                |r: &PartitionRow| r.log_end as f64,
            ),
            (
                "kafka_log_log_numlogsegments",
                "Segments of the partition's log.",
                |r: &PartitionRow| r.segments as f64,
            ),
            (
                "kafka_cluster_partition_highwatermark",
                "The partition's high watermark.",
                |r: &PartitionRow| r.high_watermark as f64,
            ),
        ] {
            family(&mut enc, name, help, MetricType::Gauge, per_partition(f))?;
        }

        // Groups coordinated here, their members, and each committed partition's lag.
        let groups = b.groups.list_groups();
        let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
        for g in &groups {
            *by_state.entry(g.state).or_default() += 1;
        }
        family(
            &mut enc,
            "kafka_coordinator_group_groupmetadatamanager_numgroups",
            "Groups this broker coordinates.",
            MetricType::Gauge,
            one(groups.len() as f64),
        )?;
        family(
            &mut enc,
            "fjord_groups",
            "Groups this broker coordinates, per state.",
            MetricType::Gauge,
            by_state
                .iter()
                .map(|(s, n)| (vec![("state", s.to_string())], *n as f64)),
        )?;
        family(
            &mut enc,
            "kafka_consumergroup_members",
            "Members of each group.",
            MetricType::Gauge,
            groups.iter().map(|g| {
                (
                    vec![("consumergroup", g.group_id.clone())],
                    g.members as f64,
                )
            }),
        )?;
        let end: BTreeMap<(&str, i32), i64> = rows
            .iter()
            .map(|r| ((r.topic.as_str(), r.partition), r.high_watermark))
            .collect();
        let mut committed = Vec::new();
        for g in &groups {
            for (topic, partition, o) in b.groups.fetch_offsets(&g.group_id, None) {
                if let Some(o) = o {
                    committed.push((g.group_id.clone(), topic, partition, o.offset));
                }
            }
        }
        committed.sort();
        let committed_labels: Vec<Labels> = committed
            .iter()
            .map(|(g, t, p, _)| {
                vec![
                    ("consumergroup", g.clone()),
                    ("topic", t.clone()),
                    ("partition", p.to_string()),
                ]
            })
            .collect();
        family(
            &mut enc,
            "kafka_consumergroup_current_offset",
            "The group's committed offset of each partition.",
            MetricType::Gauge,
            committed_labels
                .iter()
                .zip(&committed)
                .map(|(l, (_, _, _, o))| (l.as_slice(), *o as f64)),
        )?;
        family(
            &mut enc,
            "kafka_consumergroup_lag",
            "Records of each partition the group has not committed yet: the high watermark minus the committed offset (partitions held by this broker).",
            MetricType::Gauge,
            committed_labels
                .iter()
                .zip(&committed)
                .filter_map(|(l, (_, t, p, o))| {
                    let hw = end.get(&(t.as_str(), *p))?;
                    Some((l.as_slice(), (hw - o).max(0) as f64))
                }),
        )?;

        process(&mut enc, m)
    }
}

/// The process's CPU, memory and descriptors, under the names every Prometheus client uses.
fn process(enc: &mut DescriptorEncoder, m: &Metrics) -> fmt::Result {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok());
    let hz = rustix::param::clock_ticks_per_second() as f64;
    if let (Some(u), Some(s)) = (ticks(14), ticks(15)) {
        family(
            enc,
            "process_cpu_seconds",
            "User and system CPU time of the broker process.",
            MetricType::Counter,
            one((u + s) / hz),
        )?;
    }
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    if let Some(pages) = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse::<f64>().ok())
    {
        family(
            enc,
            "process_resident_memory_bytes",
            "Resident memory of the broker process.",
            MetricType::Gauge,
            one(pages * rustix::param::page_size() as f64),
        )?;
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        family(
            enc,
            "process_open_fds",
            "Open file descriptors.",
            MetricType::Gauge,
            one(dir.count() as f64),
        )?;
    }
    if let Some(max) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        family(
            enc,
            "process_max_fds",
            "The open-file limit.",
            MetricType::Gauge,
            one(max as f64),
        )?;
    }
    family(
        enc,
        "process_start_time_seconds",
        "When the broker started, in seconds since the Unix epoch.",
        MetricType::Gauge,
        one(m.started_unix_seconds()),
    )
}
