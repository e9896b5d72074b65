//! Many small clients for `scripts/bench.sh --scale clients` (issue 13, goal 4): P producers and
//! C consumers, each with its own TCP connection, speaking the Kafka protocol directly (Produce
//! v3, acks=all, one 100-byte record per request, like a client with linger 0; Fetch v4 long
//! polls, max wait 500 ms, min bytes 1), all on one thread (a tokio current-thread runtime). No
//! client library: on a 2-core machine the Java client or librdkafka spend more CPU on 400
//! clients than the broker does, and the latency measured would be theirs.
//!
//! A record's value starts with its send time (ns on this process's monotonic clock), so the
//! end-to-end latency is the time a consumer has the response read minus that, for records sent
//! in the measured window. The topic (max(P, C) partitions) must exist: producer i writes
//! partition i mod N, consumer j fetches partitions j, j + C, ... from offset 0. A producer sends
//! on a fixed schedule, its next record once the previous one is acknowledged; how far behind the
//! schedule sends were (the client's own lag) is reported beside the latency.
//!
//! ```text
//! many-clients <host:port> <topic> <producers> <consumers> <records/s each> <warm-up s> <measured s>
//! ```
//!
//! Prints `RESULT mode=many-clients sent= received= errors= p50_ms= p99_ms= p999_ms= max_ms=
//! late_p99_ms= client_cpu_s= window_s= wall_start_ms= wall_end_ms= threads=`.

mod cpu;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::MissedTickBehavior;

const VALUE_BYTES: usize = 100;
const FETCH_MAX_WAIT_MS: i32 = 500;

struct Shared {
    epoch: Instant,
    /// [start, end) of the send times measured, ns since `epoch`; u64::MAX until the warm-up ends.
    window: (AtomicU64, AtomicU64),
    stop_producers: AtomicBool,
    stop_consumers: AtomicBool,
    sent: AtomicU64,
    received: AtomicU64,
    errors: AtomicU64,
}

impl Shared {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn in_window(&self, t: u64) -> bool {
        t >= self.window.0.load(Relaxed) && t < self.window.1.load(Relaxed)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 7 {
        eprintln!(
            "usage: many-clients <host:port> <topic> <producers> <consumers> <records/s each> <warm-up s> <measured s>"
        );
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(args));
}

async fn run(args: Vec<String>) {
    let n = |i: usize| -> u64 { args[i].parse().expect("a number") };
    let (address, topic) = (args[0].clone(), args[1].clone());
    let (producers, consumers, rate, warmup, measured) =
        (n(2) as usize, n(3) as usize, n(4), n(5), n(6));
    let partitions = producers.max(consumers);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        window: (AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)),
        stop_producers: AtomicBool::new(false),
        stop_consumers: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let ready = Arc::new(AtomicU64::new(0));
    let mut consumer_tasks = Vec::new();
    for j in 0..consumers {
        let mine: Vec<i32> = (j..partitions)
            .step_by(consumers)
            .map(|p| p as i32)
            .collect();
        let (shared, address, topic, ready) = (
            shared.clone(),
            address.clone(),
            topic.clone(),
            ready.clone(),
        );
        consumer_tasks.push(tokio::spawn(async move {
            let r = consumer(&shared, &address, &topic, &mine, &ready).await;
            count_error(&shared, "consumer", r.as_ref().err());
            r.unwrap_or_default()
        }));
    }
    while ready.load(Relaxed) < consumers as u64 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let period = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let mut producer_tasks = Vec::new();
    for i in 0..producers {
        let (shared, address, topic) = (shared.clone(), address.clone(), topic.clone());
        // Spread the producers' phases over one period.
        let phase = period.mul_f64(i as f64 / producers as f64);
        producer_tasks.push(tokio::spawn(async move {
            let r = producer(
                &shared,
                &address,
                &topic,
                (i % partitions) as i32,
                period,
                phase,
            )
            .await;
            count_error(&shared, "producer", r.as_ref().err());
            r.unwrap_or_default()
        }));
    }
    tokio::time::sleep(Duration::from_secs(warmup)).await;
    let cpu0 = process_cpu();
    let wall0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let start = shared.now();
    shared
        .window
        .1
        .store(start + measured * 1_000_000_000, Relaxed);
    shared.window.0.store(start, Relaxed);
    tokio::time::sleep(Duration::from_secs(measured)).await;
    let cpu1 = process_cpu();
    let wall1 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let threads = std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count());
    shared.stop_producers.store(true, Relaxed);
    let mut late = Vec::new();
    for t in producer_tasks {
        late.extend(t.await.unwrap_or_default());
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // the window's last records arrive
    shared.stop_consumers.store(true, Relaxed);
    let mut lat = Vec::new();
    for t in consumer_tasks {
        lat.extend(t.await.unwrap_or_default());
    }
    lat.sort_unstable();
    late.sort_unstable();
    let ms = |v: &[u64], q: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i] as f64 / 1e6
    };
    println!(
        "RESULT mode=many-clients producers={producers} consumers={consumers} sent={} received={} errors={} \
         p50_ms={:.2} p99_ms={:.2} p999_ms={:.2} max_ms={:.2} late_p99_ms={:.2} client_cpu_s={:.2} window_s={:.3} \
         wall_start_ms={} wall_end_ms={} threads={threads}",
        shared.sent.load(Relaxed),
        shared.received.load(Relaxed),
        shared.errors.load(Relaxed),
        ms(&lat, 0.5),
        ms(&lat, 0.99),
        ms(&lat, 0.999),
        ms(&lat, 1.0),
        ms(&late, 0.99),
        cpu1 - cpu0,
        (wall1 - wall0).as_secs_f64(),
        wall0.as_millis(),
        wall1.as_millis(),
    );
}

fn count_error(shared: &Shared, who: &str, e: Option<&std::io::Error>) {
    if let Some(e) = e {
        shared.errors.fetch_add(1, Relaxed);
        eprintln!("{who}: {e}");
    }
}

/// User + system CPU seconds of this process, all threads (0 if unreadable).
fn process_cpu() -> f64 {
    cpu::cpu_times("/proc/self/stat").map_or(0.0, |(user, system)| user + system)
}

/// Sends one record per `period` until stopped; returns how late (ns) each send in the window was.
async fn producer(
    shared: &Shared,
    address: &str,
    topic: &str,
    partition: i32,
    period: Duration,
    phase: Duration,
) -> std::io::Result<Vec<u64>> {
    let mut conn = Conn::connect(address, "many-clients-producer").await?;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + phase, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut value = [0u8; VALUE_BYTES];
    let mut late = Vec::new();
    while !shared.stop_producers.load(Relaxed) {
        let due = ticks.tick().await;
        let sent = shared.now();
        value[..8].copy_from_slice(&sent.to_be_bytes());
        let body = produce_v3(topic, partition, &record_batch(&value));
        let response = conn.request(0, 3, &body).await?;
        if shared.in_window(sent) {
            shared.sent.fetch_add(1, Relaxed);
            late.push(
                tokio::time::Instant::now()
                    .saturating_duration_since(due)
                    .as_nanos() as u64,
            );
        }
        if produce_error(&response) != Some(0) {
            shared.errors.fetch_add(1, Relaxed);
        }
    }
    Ok(late)
}

/// Long-polls its partitions until stopped; returns the end-to-end latencies (ns) of the records
/// sent in the window.
async fn consumer(
    shared: &Shared,
    address: &str,
    topic: &str,
    partitions: &[i32],
    ready: &AtomicU64,
) -> std::io::Result<Vec<u64>> {
    let mut conn = Conn::connect(address, "many-clients-consumer").await?;
    let mut offsets: Vec<i64> = vec![0; partitions.len()];
    let mut mine = Vec::new();
    ready.fetch_add(1, Relaxed);
    while !shared.stop_consumers.load(Relaxed) {
        let response = conn
            .request(1, 4, &fetch_v4(topic, partitions, &offsets))
            .await?;
        let now = shared.now();
        for fetched in fetch_records(&response) {
            let Some(i) = partitions.iter().position(|&p| p == fetched.partition) else {
                continue;
            };
            if let Some(next) = fetched.next_offset {
                offsets[i] = offsets[i].max(next);
            }
            for sent in fetched.sent {
                if shared.in_window(sent) {
                    shared.received.fetch_add(1, Relaxed);
                    mine.push(now.saturating_sub(sent));
                }
            }
        }
    }
    Ok(mine)
}

/// One connection: requests and their responses in turn.
struct Conn {
    stream: TcpStream,
    client_id: &'static str,
    correlation: i32,
}

impl Conn {
    async fn connect(address: &str, client_id: &'static str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            client_id,
            correlation: 0,
        })
    }

    /// Sends a request (header v1) and returns the response body after its correlation id.
    async fn request(
        &mut self,
        api_key: i16,
        version: i16,
        body: &[u8],
    ) -> std::io::Result<Vec<u8>> {
        self.correlation += 1;
        let mut frame = Vec::with_capacity(14 + self.client_id.len() + body.len());
        let size = 10 + self.client_id.len() + body.len();
        frame.extend_from_slice(&(size as i32).to_be_bytes());
        frame.extend_from_slice(&api_key.to_be_bytes());
        frame.extend_from_slice(&version.to_be_bytes());
        frame.extend_from_slice(&self.correlation.to_be_bytes());
        put_string(&mut frame, self.client_id);
        frame.extend_from_slice(body);
        let exchange = async {
            self.stream.write_all(&frame).await?;
            let size = self.stream.read_i32().await?;
            let mut response = vec![0u8; size.max(4) as usize];
            self.stream.read_exact(&mut response).await?;
            Ok::<_, std::io::Error>(response)
        };
        let mut response = tokio::time::timeout(Duration::from_secs(30), exchange)
            .await
            .map_err(|_| std::io::Error::other("no response in 30 s"))??;
        if response[..4] != self.correlation.to_be_bytes() {
            return Err(std::io::Error::other("correlation id mismatch"));
        }
        response.drain(..4);
        Ok(response)
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// A v2 record batch of one record (no key, no headers) with `value`.
fn record_batch(value: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(value.len() + 8);
    record.push(0); // attributes
    put_varint(&mut record, 0); // timestamp delta
    put_varint(&mut record, 0); // offset delta
    put_varint(&mut record, -1); // key: null
    put_varint(&mut record, value.len() as i64);
    record.extend_from_slice(value);
    put_varint(&mut record, 0); // headers
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let mut batch = Vec::with_capacity(61 + record.len() + 2);
    batch.extend_from_slice(&0i64.to_be_bytes()); // base offset
    batch.extend_from_slice(&0i32.to_be_bytes()); // batch length, below
    batch.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    batch.push(2); // magic
    batch.extend_from_slice(&0u32.to_be_bytes()); // crc, below
    batch.extend_from_slice(&0i16.to_be_bytes()); // attributes: no compression, CreateTime
    batch.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    batch.extend_from_slice(&now_ms.to_be_bytes()); // base timestamp
    batch.extend_from_slice(&now_ms.to_be_bytes()); // max timestamp
    batch.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    batch.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    batch.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    batch.extend_from_slice(&1i32.to_be_bytes()); // records
    put_varint(&mut batch, record.len() as i64);
    batch.extend_from_slice(&record);
    let length = (batch.len() - 12) as i32;
    batch[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch
}

fn produce_v3(topic: &str, partition: i32, batch: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(40 + topic.len() + batch.len());
    b.extend_from_slice(&(-1i16).to_be_bytes()); // transactional id: null
    b.extend_from_slice(&(-1i16).to_be_bytes()); // acks: all
    b.extend_from_slice(&30_000i32.to_be_bytes()); // timeout
    b.extend_from_slice(&1i32.to_be_bytes());
    put_string(&mut b, topic);
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(&partition.to_be_bytes());
    b.extend_from_slice(&(batch.len() as i32).to_be_bytes());
    b.extend_from_slice(batch);
    b
}

fn fetch_v4(topic: &str, partitions: &[i32], offsets: &[i64]) -> Vec<u8> {
    let mut b = Vec::with_capacity(32 + topic.len() + 16 * partitions.len());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // replica id
    b.extend_from_slice(&FETCH_MAX_WAIT_MS.to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes()); // min bytes
    b.extend_from_slice(&(1i32 << 20).to_be_bytes()); // max bytes
    b.push(0); // isolation level: read uncommitted
    b.extend_from_slice(&1i32.to_be_bytes());
    put_string(&mut b, topic);
    b.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
    for (p, o) in partitions.iter().zip(offsets) {
        b.extend_from_slice(&p.to_be_bytes());
        b.extend_from_slice(&o.to_be_bytes());
        b.extend_from_slice(&(1i32 << 20).to_be_bytes());
    }
    b
}

/// A cursor over a response body; None once it runs past the end.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<()> {
        let n = self.i16()?;
        self.take(n.max(0) as usize).map(|_| ())
    }
    fn varint(&mut self) -> Option<i64> {
        let mut z = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.take(1)?.first()?;
            z |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        None
    }
}

/// The first partition's error code of a Produce v3 response.
fn produce_error(body: &[u8]) -> Option<i16> {
    let mut c = Cursor { b: body, at: 0 };
    c.i32()?; // topics
    c.string()?;
    c.i32()?; // partitions
    c.i32()?; // index
    c.i16()
}

/// A partition's part of a Fetch response: the offset after its last whole batch (None if no
/// whole batch came) and the send times of the records in them.
struct Fetched {
    partition: i32,
    next_offset: Option<i64>,
    sent: Vec<u64>,
}

/// The partitions of a Fetch v4 response.
fn fetch_records(body: &[u8]) -> Vec<Fetched> {
    let mut out = Vec::new();
    let mut c = Cursor { b: body, at: 0 };
    let _ = (|| -> Option<()> {
        c.i32()?; // throttle time
        for _ in 0..c.i32()? {
            c.string()?;
            for _ in 0..c.i32()? {
                let partition = c.i32()?;
                let _error = c.i16()?;
                c.i64()?; // high watermark
                c.i64()?; // last stable offset
                let aborted = c.i32()?;
                c.take(16 * aborted.max(0) as usize)?;
                let size = c.i32()?;
                let records = c.take(size.max(0) as usize)?;
                let (next_offset, sent) = batches(records);
                out.push(Fetched {
                    partition,
                    next_offset,
                    sent,
                });
            }
        }
        Some(())
    })();
    out
}

/// The offset after the last whole batch, and the send time of every record, of uncompressed v2
/// batches (a partial batch at the end is left for the next fetch).
fn batches(mut data: &[u8]) -> (Option<i64>, Vec<u64>) {
    let (mut next, mut sent) = (None, Vec::new());
    while data.len() >= 61 {
        let base = i64::from_be_bytes(data[..8].try_into().unwrap());
        let length = i32::from_be_bytes(data[8..12].try_into().unwrap()).max(0) as usize;
        let Some(batch) = data.get(..12 + length) else {
            break;
        };
        let last_delta = i32::from_be_bytes(batch[23..27].try_into().unwrap()) as i64;
        let count = i32::from_be_bytes(batch[57..61].try_into().unwrap()).max(0);
        let mut c = Cursor { b: batch, at: 61 };
        for _ in 0..count {
            let record = (|| -> Option<u64> {
                let len = c.varint()? as usize;
                let end = c.at + len;
                c.take(1)?; // attributes
                c.varint()?; // timestamp delta
                c.varint()?; // offset delta
                let key = c.varint()?;
                c.take(key.max(0) as usize)?;
                c.varint()?; // value length
                let t = u64::from_be_bytes(c.take(8)?.try_into().ok()?);
                c.at = end;
                Some(t)
            })();
            match record {
                Some(t) => sent.push(t),
                None => break,
            }
        }
        next = Some(base + last_delta + 1);
        data = &data[12 + length..];
    }
    (next, sent)
}
