//! How long `EmbeddedBroker::builder().start()` takes until the broker serves, in-process:
//! `cargo run --release --example startup [runs]` (default 100). Each run starts a broker on a
//! fresh temporary data dir and a free port, times start() to its return (listener bound,
//! broker ready), then shuts it down. Prints the first run apart (it pays for loading code
//! and first allocations) and the median, p90 and extremes of the others. docs/performance.md
//! has the figures.

use std::time::{Duration, Instant};

use fjord::EmbeddedBroker;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100)
        .max(2);
    let mut start = Vec::with_capacity(runs);
    let mut stop = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let broker = EmbeddedBroker::builder().start().await?;
        start.push(t.elapsed());
        // Proof that it serves: a TCP connection is accepted.
        tokio::net::TcpStream::connect(broker.bootstrap_servers()).await?;
        let t = Instant::now();
        broker.shutdown().await?;
        stop.push(t.elapsed());
    }
    let first = start[0];
    let mut rest = start[1..].to_vec();
    rest.sort();
    let pct = |v: &[Duration], p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    println!("start() until serving, {runs} runs:");
    println!("  first run  {:.2} ms", ms(first));
    println!(
        "  others     median {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms",
        ms(pct(&rest, 0.5)),
        ms(pct(&rest, 0.9)),
        ms(rest[0]),
        ms(rest[rest.len() - 1])
    );
    stop.sort();
    println!(
        "shutdown() until the port is free and the data dir removed: median {:.2} ms, p90 {:.2} ms",
        ms(pct(&stop, 0.5)),
        ms(pct(&stop, 0.9))
    );
    Ok(())
}
