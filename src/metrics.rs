//! Counters the request path bumps as it goes (bytes and messages per topic, requests and their
//! time per API key, connections per listener), read by the HTTP listener's `/metrics` together
//! with what it reads off the broker's state at scrape time (see `http::metrics`). Each bump is
//! a relaxed atomic add on a counter found by one map lookup; nothing here takes a lock that a
//! scrape holds for long.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashmap::DashMap;

/// A topic's traffic (Kafka's `BrokerTopicMetrics`; the broker-wide figures are a topic set of
/// their own).
#[derive(Debug, Default)]
pub struct TopicCounters {
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub messages_in: AtomicU64,
}

/// Upper bounds (ms) of the request-time histogram's buckets; the last bucket is +Inf.
pub const REQUEST_MS_BUCKETS: [f64; 14] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

/// Requests of one API key: a count per version, and the time from the whole frame read to the
/// response ready to write, as a histogram.
#[derive(Debug, Default)]
pub struct ApiCounters {
    by_version: DashMap<i16, AtomicU64>,
    /// Cumulative-free counts: `buckets[i]` counts the requests of bucket `i` only.
    buckets: [AtomicU64; REQUEST_MS_BUCKETS.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

/// A snapshot of one API key's histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTimes {
    pub count: u64,
    pub sum_ms: f64,
    /// (upper bound in ms, requests above the bound before it and at or under this one), the
    /// last bound being `f64::INFINITY`: per bucket, not cumulative (the text encoder adds
    /// them up).
    pub buckets: Vec<(f64, u64)>,
}

impl ApiCounters {
    fn record(&self, version: i16, took: Duration) {
        match self.by_version.get(&version) {
            Some(c) => {
                c.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.by_version
                    .entry(version)
                    .or_default()
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        let ms = took.as_secs_f64() * 1000.0;
        let i = REQUEST_MS_BUCKETS
            .iter()
            .position(|&b| ms <= b)
            .unwrap_or(REQUEST_MS_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests per version, by version.
    pub fn by_version(&self) -> Vec<(i16, u64)> {
        let mut v: Vec<_> = self
            .by_version
            .iter()
            .map(|e| (*e.key(), e.value().load(Ordering::Relaxed)))
            .collect();
        v.sort_unstable();
        v
    }

    pub fn times(&self) -> RequestTimes {
        let mut total = 0;
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.iter().enumerate() {
            let n = b.load(Ordering::Relaxed);
            total += n;
            let bound = REQUEST_MS_BUCKETS.get(i).copied().unwrap_or(f64::INFINITY);
            buckets.push((bound, n));
        }
        RequestTimes {
            // The buckets' total, so count and +Inf agree even while requests are recorded.
            count: total,
            sum_ms: self.sum_us.load(Ordering::Relaxed) as f64 / 1000.0,
            buckets,
        }
    }
}

/// The broker's counters.
#[derive(Debug)]
pub struct Metrics {
    started: SystemTime,
    all_topics: TopicCounters,
    topics: DashMap<String, Arc<TopicCounters>>,
    apis: DashMap<i16, Arc<ApiCounters>>,
    connections: DashMap<String, AtomicI64>,
    accepted: DashMap<String, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            started: SystemTime::now(),
            all_topics: Default::default(),
            topics: Default::default(),
            apis: Default::default(),
            connections: Default::default(),
            accepted: Default::default(),
        }
    }
}

impl Metrics {
    /// When the counters started (the broker's start), in seconds since the Unix epoch.
    pub fn started_unix_seconds(&self) -> f64 {
        self.started
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }

    /// The counters of `topic` (made at its first use).
    pub fn topic(&self, topic: &str) -> Arc<TopicCounters> {
        if let Some(t) = self.topics.get(topic) {
            return t.clone();
        }
        self.topics.entry(topic.to_string()).or_default().clone()
    }

    /// The broker-wide counters (every topic's traffic added up).
    pub fn all_topics(&self) -> &TopicCounters {
        &self.all_topics
    }

    /// A topic was deleted: its series go away.
    pub fn forget_topic(&self, topic: &str) {
        self.topics.remove(topic);
    }

    /// Every topic with counters, by name.
    pub fn topics(&self) -> Vec<(String, Arc<TopicCounters>)> {
        let mut v: Vec<_> = self
            .topics
            .iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// `records` records of `bytes` bytes appended to `topic` by a client.
    pub fn produced(&self, topic: &TopicCounters, bytes: u64, records: u64) {
        for t in [topic, &self.all_topics] {
            t.bytes_in.fetch_add(bytes, Ordering::Relaxed);
            t.messages_in.fetch_add(records, Ordering::Relaxed);
        }
    }

    /// `bytes` of records sent to a client from `topic`.
    pub fn fetched(&self, topic: &TopicCounters, bytes: u64) {
        for t in [topic, &self.all_topics] {
            t.bytes_out.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// One request of `api_key` at `version` was answered in `took`.
    pub fn request(&self, api_key: i16, version: i16, took: Duration) {
        let api = match self.apis.get(&api_key) {
            Some(a) => a.clone(),
            None => self.apis.entry(api_key).or_default().clone(),
        };
        api.record(version, took);
    }

    /// Every API key seen, by key.
    pub fn apis(&self) -> Vec<(i16, Arc<ApiCounters>)> {
        let mut v: Vec<_> = self
            .apis
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect();
        v.sort_unstable_by_key(|a| a.0);
        v
    }

    /// A connection on `listener` opened: counted until the guard drops.
    pub fn connection(self: &Arc<Self>, listener: &str) -> ConnectionGuard {
        self.connections
            .entry(listener.to_string())
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
        self.accepted
            .entry(listener.to_string())
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
        ConnectionGuard {
            metrics: self.clone(),
            listener: listener.to_string(),
        }
    }

    /// (listener, open connections, connections accepted so far), by listener.
    pub fn connections(&self) -> Vec<(String, i64, u64)> {
        let mut v: Vec<_> = self
            .connections
            .iter()
            .map(|e| {
                let accepted = self
                    .accepted
                    .get(e.key())
                    .map_or(0, |a| a.load(Ordering::Relaxed));
                (e.key().clone(), e.value().load(Ordering::Relaxed), accepted)
            })
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// An open connection, counted in [`Metrics::connections`] while it lives.
#[derive(Debug)]
pub struct ConnectionGuard {
    metrics: Arc<Metrics>,
    listener: String,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(c) = self.metrics.connections.get(&self.listener) {
            c.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_traffic_adds_up_per_topic_and_for_the_broker() {
        let m = Metrics::default();
        let a = m.topic("a");
        m.produced(&a, 100, 3);
        m.produced(&m.topic("b"), 50, 1);
        m.fetched(&a, 70);
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        assert_eq!((load(&a.bytes_in), load(&a.messages_in)), (100, 3));
        assert_eq!(load(&a.bytes_out), 70);
        let all = m.all_topics();
        assert_eq!((load(&all.bytes_in), load(&all.messages_in)), (150, 4));
        assert_eq!(load(&all.bytes_out), 70);
        assert!(Arc::ptr_eq(&a, &m.topic("a")));
        m.forget_topic("a");
        let names: Vec<_> = m.topics().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["b"]);
    }

    #[test]
    fn request_times_are_cumulative_buckets() {
        let m = Metrics::default();
        m.request(0, 9, Duration::from_micros(300));
        m.request(0, 9, Duration::from_millis(3));
        m.request(0, 11, Duration::from_secs(20));
        m.request(1, 16, Duration::from_millis(1));
        let apis = m.apis();
        assert_eq!(apis.iter().map(|a| a.0).collect::<Vec<_>>(), [0, 1]);
        let produce = &apis[0].1;
        assert_eq!(produce.by_version(), [(9, 2), (11, 1)]);
        let t = produce.times();
        assert_eq!(t.count, 3);
        assert!((t.sum_ms - 20_003.3).abs() < 1e-6, "{}", t.sum_ms);
        let at = |bound: f64| t.buckets.iter().find(|b| b.0 == bound).unwrap().1;
        assert_eq!(
            (at(0.5), at(2.5), at(5.0), at(10000.0), at(f64::INFINITY)),
            (1, 0, 1, 0, 1)
        );
        assert_eq!(t.buckets.iter().map(|b| b.1).sum::<u64>(), 3);
        // A request of exactly a bound's time lands in that bound's bucket.
        assert_eq!(apis[1].1.times().buckets[1], (1.0, 1));
    }

    #[test]
    fn connections_are_counted_while_open() {
        let m = Arc::new(Metrics::default());
        let a = m.connection("PLAINTEXT");
        let b = m.connection("PLAINTEXT");
        let c = m.connection("SSL");
        drop(b);
        assert_eq!(
            m.connections(),
            [("PLAINTEXT".to_string(), 1, 2), ("SSL".to_string(), 1, 1)]
        );
        drop((a, c));
        assert_eq!(m.connections()[0].1, 0);
    }
}
